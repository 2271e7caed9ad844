//! The state every connection shares: the session table keyed by client id and the
//! subscription tree. Connections route their own publishes through it; there is no central
//! router task, so a message goes from the publisher's task straight into each subscriber's
//! queue.
//!
//! Lock order (no path takes them the other way): session table → one session's state →
//! subscription tree. Routing reads the tree, releases it, then locks one subscriber at a
//! time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rumqttc::mqttbytes::Protocol;
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode};

use super::BrokerConfig;
use super::session::{ConnSignals, Limits, Session};
use super::stats::{Counters, bump};
use super::topic::{Entry, SubscriptionTree};

/// A subscriber found for a message.
pub(crate) type Target = Entry<Arc<Session>>;

/// The outcome of a CONNECT.
#[derive(Debug)]
pub(crate) enum Attach {
    /// Accepted; `present` when an existing session was resumed.
    Accepted {
        /// The session the connection now serves.
        session: Arc<Session>,
        /// CONNACK's session-present flag.
        present: bool,
    },
    /// Refused with this CONNACK code.
    Refused(ConnectReturnCode),
}

/// Everything a broker run shares between its connections.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The configuration the broker started with.
    pub(crate) config: BrokerConfig,
    /// Queue and window sizes, from `config`.
    pub(crate) limits: Limits,
    /// Counters.
    pub(crate) counters: Counters,
    sessions: Mutex<BTreeMap<String, Arc<Session>>>,
    tree: RwLock<SubscriptionTree<Arc<Session>>>,
    next_session: AtomicU64,
    next_conn: AtomicU64,
}

impl Shared {
    /// Empty state for a run with `config`.
    pub(crate) fn new(config: BrokerConfig, counters: Counters) -> Self {
        let limits = Limits {
            queue: config.queue_capacity.max(1),
            wildcard_queue: config.wildcard_queue_capacity.max(1),
            inflight: config.inflight.max(1),
            wildcard_inflight: config.wildcard_inflight.max(1),
        };
        Shared {
            config,
            limits,
            counters,
            sessions: Mutex::new(BTreeMap::new()),
            tree: RwLock::new(SubscriptionTree::default()),
            next_session: AtomicU64::new(1),
            next_conn: AtomicU64::new(1),
        }
    }

    /// A fresh connection id.
    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Binds connection `conn` to the session of `connect`'s client id (§3.1.2.4, §3.1.4):
    /// a connection already serving that id is told to close; the session is resumed when
    /// both the old and the new connection asked for clean session false, and replaced
    /// otherwise.
    pub(crate) fn attach(&self, connect: &Connect, conn: &Arc<ConnSignals>) -> Attach {
        if connect.protocol != Protocol::V4 {
            return Attach::Refused(ConnectReturnCode::RefusedProtocolVersion);
        }
        let client_id = if connect.client_id.is_empty() {
            if !connect.clean_session {
                return Attach::Refused(ConnectReturnCode::BadClientId);
            }
            // §3.1.3.1: the server assigns an id to an empty one with clean session.
            format!("chargestorm-auto-{}", conn.id)
        } else {
            connect.client_id.clone()
        };
        let mut table = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let old = table.get(&client_id).cloned();
        if let Some(old) = &old {
            let mut st = old.lock();
            if let Some(previous) = st.conn.take() {
                previous.kick();
                bump(&self.counters.takeovers);
            }
            if !connect.clean_session && !old.clean && !st.closed {
                st.conn = Some(Arc::clone(conn));
                st.wake_room_waiters();
                return Attach::Accepted {
                    session: Arc::clone(old),
                    present: true,
                };
            }
        }
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(Session::new(
            id,
            client_id.clone(),
            connect.clean_session,
            Arc::clone(conn),
        ));
        table.insert(client_id, Arc::clone(&session));
        drop(table);
        match old {
            Some(old) => self.discard(&old),
            None => bump(&self.counters.sessions),
        }
        Attach::Accepted {
            session,
            present: false,
        }
    }

    /// Marks `session` closed and removes its subscriptions (its table entry has already
    /// been replaced or removed).
    fn discard(&self, session: &Session) {
        let filters = {
            let mut st = session.lock();
            st.closed = true;
            st.wake_room_waiters();
            st.take_subscriptions()
        };
        let mut tree = self.tree.write().unwrap_or_else(PoisonError::into_inner);
        for f in &filters {
            tree.remove(f, session.id);
        }
        self.counters
            .subscriptions
            .store(tree.len() as u64, Ordering::Relaxed);
    }

    /// Connection `conn` stopped serving `session`: a clean session is discarded, a
    /// non-clean one stays with its subscriptions and queue until the client comes back.
    /// Nothing happens if another connection already took the session over.
    pub(crate) fn detach(&self, session: &Arc<Session>, conn: &ConnSignals) {
        let mut table = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        {
            let mut st = session.lock();
            if !st.owned_by(conn) {
                return;
            }
            st.conn = None;
            st.wake_room_waiters();
        }
        if !session.clean {
            return;
        }
        if table
            .get(&session.client_id)
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            table.remove(&session.client_id);
            self.counters.sessions.fetch_sub(1, Ordering::Relaxed);
        }
        drop(table);
        self.discard(session);
    }

    /// Adds `session`'s subscription to `filter` (validated) at `qos`; `false` if the
    /// session was discarded meanwhile.
    pub(crate) fn subscribe(&self, session: &Arc<Session>, filter: &str, qos: u8) -> bool {
        let mut st = session.lock();
        if st.closed {
            return false;
        }
        st.add_subscription(filter, qos);
        let mut tree = self.tree.write().unwrap_or_else(PoisonError::into_inner);
        let entry = Entry {
            id: session.id,
            qos,
            value: Arc::clone(session),
        };
        tree.insert(filter, entry);
        self.counters
            .subscriptions
            .store(tree.len() as u64, Ordering::Relaxed);
        true
    }

    /// Removes `session`'s subscription to `filter`, if any.
    pub(crate) fn unsubscribe(&self, session: &Arc<Session>, filter: &str) {
        let mut st = session.lock();
        if !st.remove_subscription(filter) {
            return;
        }
        let mut tree = self.tree.write().unwrap_or_else(PoisonError::into_inner);
        tree.remove(filter, session.id);
        self.counters
            .subscriptions
            .store(tree.len() as u64, Ordering::Relaxed);
    }

    /// The sessions subscribed to `topic`, one entry per session with the highest QoS of
    /// its matching subscriptions (§3.3.5 lets the server deliver overlapping matches once).
    pub(crate) fn targets(&self, topic: &str, out: &mut Vec<Target>) {
        out.clear();
        self.tree
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .matches(topic, out);
        if out.len() > 1 {
            out.sort_unstable_by_key(|e| e.id);
            out.dedup_by(|later, kept| {
                if later.id == kept.id {
                    kept.qos = kept.qos.max(later.qos);
                    true
                } else {
                    false
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn shared() -> Shared {
        Shared::new(BrokerConfig::default(), Counters::new(Instant::now()))
    }

    fn connect(id: &str, clean: bool) -> Connect {
        let mut c = Connect::new(id);
        c.clean_session = clean;
        c
    }

    fn accepted(a: Attach) -> (Arc<Session>, bool) {
        match a {
            Attach::Accepted { session, present } => (session, present),
            Attach::Refused(code) => panic!("refused {code:?}"),
        }
    }

    #[test]
    fn takeover_kicks_the_old_connection_and_resumes_non_clean_sessions() {
        let sh = shared();
        let c1 = Arc::new(ConnSignals::new(1));
        let (s1, present) = accepted(sh.attach(&connect("cs", false), &c1));
        assert!(!present);
        assert!(sh.subscribe(&s1, "/D/R/cs", 2));
        let c2 = Arc::new(ConnSignals::new(2));
        let (s2, present) = accepted(sh.attach(&connect("cs", false), &c2));
        assert!(present && Arc::ptr_eq(&s1, &s2) && c1.kicked());
        // The kicked connection's detach leaves the session alone.
        sh.detach(&s1, &c1);
        let mut t = Vec::new();
        sh.targets("/D/R/cs", &mut t);
        assert_eq!(t.len(), 1);
        // A clean takeover replaces the session and its subscriptions.
        let c3 = Arc::new(ConnSignals::new(3));
        let (s3, present) = accepted(sh.attach(&connect("cs", true), &c3));
        assert!(!present && !Arc::ptr_eq(&s2, &s3) && c2.kicked());
        sh.targets("/D/R/cs", &mut t);
        assert!(t.is_empty());
        sh.detach(&s3, &c3);
        let stats = sh.counters.snapshot(Instant::now());
        assert_eq!(
            (stats.sessions, stats.takeovers, stats.subscriptions),
            (0, 2, 0)
        );
    }

    #[test]
    fn refuses_mqtt5_and_empty_ids_without_clean_session() {
        let sh = shared();
        let conn = Arc::new(ConnSignals::new(1));
        let mut v5 = connect("x", true);
        v5.protocol = Protocol::V5;
        assert!(matches!(
            sh.attach(&v5, &conn),
            Attach::Refused(ConnectReturnCode::RefusedProtocolVersion)
        ));
        assert!(matches!(
            sh.attach(&connect("", false), &conn),
            Attach::Refused(ConnectReturnCode::BadClientId)
        ));
        let (s, _) = accepted(sh.attach(&connect("", true), &conn));
        assert_eq!(s.client_id, "chargestorm-auto-1");
    }

    #[test]
    fn overlapping_subscriptions_deliver_once_at_the_highest_qos() {
        let sh = shared();
        let conn = Arc::new(ConnSignals::new(1));
        let (s, _) = accepted(sh.attach(&connect("b", true), &conn));
        sh.subscribe(&s, "/U/R/+", 1);
        sh.subscribe(&s, "/U/#", 2);
        sh.subscribe(&s, "/U/R/CS1", 0);
        let mut t = Vec::new();
        sh.targets("/U/R/CS1", &mut t);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].qos, 2);
        sh.unsubscribe(&s, "/U/#");
        sh.targets("/U/R/CS1", &mut t);
        assert_eq!(t[0].qos, 1);
    }
}
