//! A client's session (MQTT 3.1.1 §4.1): its subscriptions, its outgoing queue and in-flight
//! window, and the QoS 2 packet ids it has sent us. The state is plain data behind one mutex;
//! it does no I/O, so the queueing policy is unit-tested here without sockets.
//!
//! A session outlives its connection when the client connected with clean session false:
//! subscriptions stay in the tree, QoS 1/2 deliveries keep queueing (up to the queue bound)
//! and the in-flight ones are re-sent when the client comes back.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::v4::{PubRel, Publish};
use rumqttc::mqttbytes::{QoS, has_wildcards};
use tokio::sync::Notify;

use super::stats::{Counters, bump, raise};

/// A message as received from its publisher, shared by every subscriber it goes to.
#[derive(Debug)]
pub(crate) struct Message {
    /// Topic name.
    pub(crate) topic: String,
    /// Payload, shared with the receive buffer it was cut from.
    pub(crate) payload: Bytes,
    /// QoS it was published with, 0–2.
    pub(crate) qos: u8,
}

/// What a session can do to the connection task serving it.
#[derive(Debug)]
pub(crate) struct ConnSignals {
    /// The connection's id, unique within one broker run.
    pub(crate) id: u64,
    /// Wakes the task: messages were queued for it, a subscriber it waits for has room, or
    /// it was taken over.
    pub(crate) wake: Notify,
    kicked: AtomicBool,
}

impl ConnSignals {
    /// Signals for connection `id`.
    pub(crate) fn new(id: u64) -> Self {
        ConnSignals {
            id,
            wake: Notify::new(),
            kicked: AtomicBool::new(false),
        }
    }

    /// Tells the task to close: another connection took its client id.
    pub(crate) fn kick(&self) {
        self.kicked.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether another connection took the client id.
    pub(crate) fn kicked(&self) -> bool {
        self.kicked.load(Ordering::Acquire)
    }
}

/// Queue and window sizes; a session with a wildcard subscription (the backend) gets the
/// larger pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Queue bound of a session without wildcard subscriptions.
    pub(crate) queue: usize,
    /// Queue bound of a session with one.
    pub(crate) wildcard_queue: usize,
    /// In-flight window of a session without wildcard subscriptions.
    pub(crate) inflight: usize,
    /// In-flight window of a session with one.
    pub(crate) wildcard_inflight: usize,
}

/// How a delivery may treat a full queue.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Admission<'a> {
    /// Return [`Offer::Full`] and wake this connection when there is room again.
    Wait(&'a Arc<ConnSignals>),
    /// Queue past the bound: the publisher's connection is closing and this delivery was
    /// already promised to other subscribers of the same message.
    Force,
}

/// The outcome of offering a delivery to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued.
    Queued,
    /// Not queued, for good (counted).
    Dropped,
    /// The queue is full and the subscriber online: the publisher waits (QoS 1/2 only).
    Full,
}

/// Where an outgoing QoS 1/2 message is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published,
    /// PUBREL sent; waiting for PUBCOMP.
    Released,
}

/// One outgoing message between PUBLISH and its final acknowledgement.
#[derive(Debug)]
struct Inflight {
    /// Send order, so re-sends after a reconnect keep the original order (§4.6).
    seq: u64,
    msg: Arc<Message>,
    qos: u8,
    stage: Stage,
}

/// The mutable part of a session.
#[derive(Debug, Default)]
pub(crate) struct SessionState {
    /// The connection serving the session; `None` while the client is offline.
    pub(crate) conn: Option<Arc<ConnSignals>>,
    /// The session was discarded (clean session ended or was replaced): deliveries to it
    /// are dropped without counting, nothing is queued.
    pub(crate) closed: bool,
    /// Subscriptions: filter → granted QoS.
    subscriptions: BTreeMap<String, u8>,
    /// How many of them have a wildcard.
    wildcards: usize,
    /// Deliveries waiting for the in-flight window: (message, delivered QoS).
    queue: VecDeque<(Arc<Message>, u8)>,
    inflight: BTreeMap<u16, Inflight>,
    next_pkid: u16,
    next_seq: u64,
    /// QoS 2 packet ids received from the client and not yet released by PUBREL.
    incoming_qos2: BTreeSet<u16>,
    /// Publishers waiting for room in `queue`.
    room_waiters: Vec<Arc<ConnSignals>>,
}

/// A client's session.
#[derive(Debug)]
pub(crate) struct Session {
    /// Unique within a broker run; the key of its entries in the subscription tree.
    pub(crate) id: u64,
    /// The MQTT client id.
    pub(crate) client_id: String,
    /// Connected with clean session true: discarded when the connection ends.
    pub(crate) clean: bool,
    state: Mutex<SessionState>,
}

impl Session {
    /// A new session owned by `conn`.
    pub(crate) fn new(id: u64, client_id: String, clean: bool, conn: Arc<ConnSignals>) -> Self {
        let state = SessionState {
            conn: Some(conn),
            next_pkid: 1,
            ..SessionState::default()
        };
        Session {
            id,
            client_id,
            clean,
            state: Mutex::new(state),
        }
    }

    /// Locks the state. A panic elsewhere while holding the lock leaves the data consistent
    /// enough to go on (every update is a single field or collection operation).
    pub(crate) fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers message `msg` at delivered QoS `qos` (see the module policy in `embedded`).
    pub(crate) fn offer(
        &self,
        msg: &Arc<Message>,
        qos: u8,
        admission: Admission<'_>,
        limits: &Limits,
        counters: &Counters,
    ) -> Offer {
        let mut s = self.lock();
        if s.closed {
            return Offer::Dropped;
        }
        let online = s.conn.is_some();
        if !online && qos == 0 {
            bump(&counters.dropped_offline);
            return Offer::Dropped;
        }
        if s.queue.len() >= s.queue_limit(limits) {
            match admission {
                _ if qos == 0 => {
                    bump(&counters.dropped_qos0);
                    return Offer::Dropped;
                }
                _ if !online => {
                    bump(&counters.dropped_offline);
                    return Offer::Dropped;
                }
                Admission::Wait(waiter) => {
                    if !s.room_waiters.iter().any(|w| Arc::ptr_eq(w, waiter)) {
                        s.room_waiters.push(Arc::clone(waiter));
                    }
                    bump(&counters.backpressure_waits);
                    return Offer::Full;
                }
                Admission::Force => {}
            }
        }
        s.queue.push_back((Arc::clone(msg), qos));
        raise(&counters.queue_high_water, s.queue.len());
        if let Some(conn) = &s.conn {
            conn.wake.notify_one();
        }
        Offer::Queued
    }
}

/// What [`SessionState::fill`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Moved what the window and the buffer allowed.
    Filled,
    /// The session is no longer served by this connection.
    NotOwner,
}

impl SessionState {
    /// Whether connection `conn` serves this session.
    pub(crate) fn owned_by(&self, conn: &ConnSignals) -> bool {
        self.conn.as_ref().is_some_and(|c| c.id == conn.id)
    }

    fn has_wildcards(&self) -> bool {
        self.wildcards > 0
    }

    /// Records subscription `filter` at `qos`; `true` if it is new (not a re-subscribe).
    pub(crate) fn add_subscription(&mut self, filter: &str, qos: u8) -> bool {
        let new = self.subscriptions.insert(filter.to_owned(), qos).is_none();
        if new && has_wildcards(filter) {
            self.wildcards += 1;
        }
        new
    }

    /// Forgets subscription `filter`; `true` if there was one.
    pub(crate) fn remove_subscription(&mut self, filter: &str) -> bool {
        let removed = self.subscriptions.remove(filter).is_some();
        if removed && has_wildcards(filter) {
            self.wildcards = self.wildcards.saturating_sub(1);
        }
        removed
    }

    /// Takes every subscription filter (the session is being discarded).
    pub(crate) fn take_subscriptions(&mut self) -> Vec<String> {
        self.wildcards = 0;
        std::mem::take(&mut self.subscriptions)
            .into_keys()
            .collect()
    }

    fn queue_limit(&self, limits: &Limits) -> usize {
        if self.has_wildcards() {
            limits.wildcard_queue
        } else {
            limits.queue
        }
    }

    fn window(&self, limits: &Limits) -> usize {
        if self.has_wildcards() {
            limits.wildcard_inflight
        } else {
            limits.inflight
        }
    }

    /// Moves queued deliveries into `out` as PUBLISH packets while the in-flight window and
    /// `out_limit` bytes allow, then wakes the waiting publishers if the queue has drained
    /// to three quarters of its bound.
    pub(crate) fn fill(
        &mut self,
        conn: &ConnSignals,
        out: &mut BytesMut,
        out_limit: usize,
        limits: &Limits,
        counters: &Counters,
    ) -> Fill {
        if !self.owned_by(conn) {
            return Fill::NotOwner;
        }
        let window = self.window(limits);
        while out.len() < out_limit {
            let Some((_, qos)) = self.queue.front() else {
                break;
            };
            if *qos > 0 && self.inflight.len() >= window {
                break;
            }
            let Some((msg, qos)) = self.queue.pop_front() else {
                break;
            };
            let pkid = if qos == 0 { 0 } else { self.track(&msg, qos) };
            write_publish(out, &msg, qos, pkid, false);
            if let Some(c) = counters.messages_out.get(usize::from(qos)) {
                bump(c);
            }
        }
        raise(&counters.inflight_high_water, self.inflight.len());
        let limit = self.queue_limit(limits);
        if self.queue.len() <= limit - limit / 4 {
            self.wake_room_waiters();
        }
        Fill::Filled
    }

    /// Wakes every publisher waiting for room here (the queue drained, or the session went
    /// offline or away, which changes what a full queue means).
    pub(crate) fn wake_room_waiters(&mut self) {
        for w in self.room_waiters.drain(..) {
            w.wake.notify_one();
        }
    }

    /// Allocates a packet id for `msg` and records it in flight.
    fn track(&mut self, msg: &Arc<Message>, qos: u8) -> u16 {
        let mut pkid = self.next_pkid.max(1);
        while self.inflight.contains_key(&pkid) {
            pkid = pkid.checked_add(1).unwrap_or(1);
        }
        self.next_pkid = pkid.checked_add(1).unwrap_or(1);
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Inflight {
            seq,
            msg: Arc::clone(msg),
            qos,
            stage: Stage::Published,
        };
        self.inflight.insert(pkid, entry);
        pkid
    }

    /// Re-sends, in their original order, the PUBLISH (with DUP) and PUBREL packets of a
    /// session the client resumed (§4.4).
    pub(crate) fn resend(&mut self, out: &mut BytesMut, counters: &Counters) {
        let mut order: Vec<(&u16, &Inflight)> = self.inflight.iter().collect();
        order.sort_by_key(|(_, e)| e.seq);
        for (&pkid, e) in order {
            match e.stage {
                Stage::Published => write_publish(out, &e.msg, e.qos, pkid, true),
                Stage::Released => write_pubrel(out, pkid),
            }
            bump(&counters.resent);
        }
    }

    /// PUBACK from the client: the QoS 1 delivery is complete.
    pub(crate) fn puback(&mut self, pkid: u16) {
        if self
            .inflight
            .get(&pkid)
            .is_some_and(|e| e.qos == 1 && e.stage == Stage::Published)
        {
            self.inflight.remove(&pkid);
        }
    }

    /// PUBREC from the client; `true` when a PUBREL must answer it (also for a repeated
    /// PUBREC of a message already released).
    pub(crate) fn pubrec(&mut self, pkid: u16) -> bool {
        match self.inflight.get_mut(&pkid) {
            Some(e) if e.qos == 2 => {
                e.stage = Stage::Released;
                true
            }
            _ => false,
        }
    }

    /// PUBCOMP from the client: the QoS 2 delivery is complete.
    pub(crate) fn pubcomp(&mut self, pkid: u16) {
        if self
            .inflight
            .get(&pkid)
            .is_some_and(|e| e.stage == Stage::Released)
        {
            self.inflight.remove(&pkid);
        }
    }

    /// Whether QoS 2 packet id `pkid` from the client was already routed and awaits PUBREL
    /// (a re-sent PUBLISH must then not be delivered again, §4.3.3).
    pub(crate) fn incoming_seen(&self, pkid: u16) -> bool {
        self.incoming_qos2.contains(&pkid)
    }

    /// Records QoS 2 packet id `pkid` from the client as routed.
    pub(crate) fn incoming_routed(&mut self, pkid: u16) {
        self.incoming_qos2.insert(pkid);
    }

    /// PUBREL from the client: forgets `pkid`.
    pub(crate) fn incoming_released(&mut self, pkid: u16) {
        self.incoming_qos2.remove(&pkid);
    }

    /// Deliveries waiting for the window.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Deliveries in flight.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.inflight.len()
    }
}

/// Encodes a PUBLISH with rumqttc's MQTT 3.1.1 codec.
pub(crate) fn write_publish(out: &mut BytesMut, msg: &Message, qos: u8, pkid: u16, dup: bool) {
    let publish = Publish {
        dup,
        qos: to_qos(qos),
        retain: false,
        topic: msg.topic.clone(),
        pkid,
        payload: msg.payload.clone(),
    };
    // Only a QoS 1/2 PUBLISH without packet id or a payload over 256 MiB fails to encode;
    // ids are allocated above and payloads were limited on the way in.
    if let Err(e) = publish.write(out) {
        tracing::error!(error = %e, topic = %msg.topic, "cannot encode PUBLISH");
    }
}

/// Encodes a PUBREL.
pub(crate) fn write_pubrel(out: &mut BytesMut, pkid: u16) {
    // A two-byte packet id always encodes.
    let _ = PubRel::new(pkid).write(out);
}

/// rumqttc's QoS from 0–2 (anything larger is clamped to 2).
pub(crate) fn to_qos(qos: u8) -> QoS {
    match qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::Packet;
    use tokio::time::Instant;

    const LIMITS: Limits = Limits {
        queue: 4,
        wildcard_queue: 8,
        inflight: 2,
        wildcard_inflight: 3,
    };

    fn msg(topic: &str, qos: u8) -> Arc<Message> {
        Arc::new(Message {
            topic: topic.to_owned(),
            payload: Bytes::from_static(b"x"),
            qos,
        })
    }

    fn decode_all(out: &mut BytesMut) -> Vec<Packet> {
        let mut packets = Vec::new();
        while !out.is_empty() {
            packets.push(Packet::read(out, 1 << 20).unwrap());
        }
        packets
    }

    fn session() -> (Session, Arc<ConnSignals>) {
        let conn = Arc::new(ConnSignals::new(7));
        (Session::new(1, "c".into(), false, Arc::clone(&conn)), conn)
    }

    #[test]
    fn window_limits_the_flow_and_acks_reopen_it() {
        let (s, conn) = session();
        let c = Counters::new(Instant::now());
        for _ in 0..3 {
            assert_eq!(
                s.offer(&msg("t", 1), 1, Admission::Force, &LIMITS, &c),
                Offer::Queued
            );
        }
        let mut out = BytesMut::new();
        let mut st = s.lock();
        assert_eq!(st.fill(&conn, &mut out, 1 << 20, &LIMITS, &c), Fill::Filled);
        let sent = decode_all(&mut out);
        assert_eq!(sent.len(), 2, "window of 2");
        assert_eq!((st.queued(), st.in_flight()), (1, 2));
        let Packet::Publish(first) = &sent[0] else {
            panic!("{sent:?}")
        };
        st.puback(first.pkid);
        st.fill(&conn, &mut out, 1 << 20, &LIMITS, &c);
        assert_eq!(decode_all(&mut out).len(), 1);
        assert_eq!((st.queued(), st.in_flight()), (0, 2));
        assert_eq!(c.snapshot(Instant::now()).messages_out, [0, 3, 0]);
    }

    #[test]
    fn full_queue_drops_qos0_and_holds_back_qos1_publishers() {
        let (s, conn) = session();
        let c = Counters::new(Instant::now());
        let publisher = Arc::new(ConnSignals::new(9));
        for _ in 0..4 {
            s.offer(&msg("t", 1), 1, Admission::Wait(&publisher), &LIMITS, &c);
        }
        assert_eq!(
            s.offer(&msg("t", 0), 0, Admission::Wait(&publisher), &LIMITS, &c),
            Offer::Dropped
        );
        assert_eq!(
            s.offer(&msg("t", 1), 1, Admission::Wait(&publisher), &LIMITS, &c),
            Offer::Full
        );
        let stats = c.snapshot(Instant::now());
        assert_eq!(
            (
                stats.dropped_qos0,
                stats.backpressure_waits,
                stats.queue_high_water
            ),
            (1, 1, 4)
        );
        // Draining to the low-water mark (3 of 4) wakes the publisher with a stored permit.
        let mut out = BytesMut::new();
        s.lock().fill(&conn, &mut out, 1 << 20, &LIMITS, &c);
        let woken = tokio_test_permit(&publisher);
        assert!(woken, "the waiting publisher is woken");
    }

    /// Whether `conn.wake` holds a permit, without a runtime.
    fn tokio_test_permit(conn: &ConnSignals) -> bool {
        let notified = conn.wake.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable()
    }

    #[test]
    fn offline_sessions_queue_qos1_only_and_drop_when_full() {
        let (s, _) = session();
        let c = Counters::new(Instant::now());
        s.lock().conn = None;
        assert_eq!(
            s.offer(&msg("t", 0), 0, Admission::Force, &LIMITS, &c),
            Offer::Dropped
        );
        for _ in 0..4 {
            assert_eq!(
                s.offer(&msg("t", 2), 2, Admission::Force, &LIMITS, &c),
                Offer::Queued
            );
        }
        assert_eq!(
            s.offer(&msg("t", 2), 2, Admission::Force, &LIMITS, &c),
            Offer::Dropped
        );
        assert_eq!(c.snapshot(Instant::now()).dropped_offline, 2);
    }

    #[test]
    fn resumed_sessions_resend_in_order_with_dup_and_pubrel() {
        let (s, conn) = session();
        let c = Counters::new(Instant::now());
        s.offer(&msg("a", 2), 2, Admission::Force, &LIMITS, &c);
        s.offer(&msg("b", 1), 1, Admission::Force, &LIMITS, &c);
        let mut out = BytesMut::new();
        let mut st = s.lock();
        st.fill(&conn, &mut out, 1 << 20, &LIMITS, &c);
        let sent = decode_all(&mut out);
        let Packet::Publish(a) = &sent[0] else {
            panic!("{sent:?}")
        };
        assert!(st.pubrec(a.pkid));
        st.resend(&mut out, &c);
        let again = decode_all(&mut out);
        assert!(
            matches!(&again[0], Packet::PubRel(r) if r.pkid == a.pkid),
            "{again:?}"
        );
        assert!(
            matches!(&again[1], Packet::Publish(p) if p.dup && p.topic == "b"),
            "{again:?}"
        );
        st.pubcomp(a.pkid);
        assert_eq!(st.in_flight(), 1);
    }

    #[test]
    fn packet_ids_skip_those_in_flight() {
        let (s, conn) = session();
        let c = Counters::new(Instant::now());
        let mut st = s.lock();
        st.next_pkid = u16::MAX;
        let m = msg("t", 1);
        let first = st.track(&m, 1);
        let second = st.track(&m, 1);
        assert_eq!((first, second), (u16::MAX, 1));
        st.next_pkid = u16::MAX;
        assert_eq!(
            st.track(&m, 1),
            2,
            "ids in flight are skipped across the wrap"
        );
        assert_eq!(
            st.fill(
                &Arc::new(ConnSignals::new(99)),
                &mut BytesMut::new(),
                10,
                &LIMITS,
                &c
            ),
            Fill::NotOwner
        );
        let _ = conn;
    }
}
