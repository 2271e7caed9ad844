//! [`MqttFleet`]: one rumqttc connection per simulated charger, each with its own client id,
//! its event loop on its own task, and every incoming event funnelled into one shared,
//! batched [`Inbox`] (a push is a mutex-guarded `Vec::push`; the driver swaps the whole batch
//! out at once, and only the push that finds the batch empty wakes it).
//!
//! A connection does nothing until [`MqttFleet::connect`] permits it (the charger's own
//! jittered back-off decides when), so a broker restart does not turn into a tight reconnect
//! loop. rumqttc's event loop never runs on the task that publishes (issue #1025: publishing
//! from the polling task deadlocks when the request channel is full).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use rumqttc::{AsyncClient, ClientError, Event, EventLoop, Outgoing, Packet, QoS, Request};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{MqttError, MqttSettings};

/// Something that happened on a connection.
#[derive(Debug)]
pub enum TransportEvent {
    /// CONNACK received.
    Connected {
        /// The connection (charger index).
        conn: usize,
        /// Whether the broker kept the session.
        session_present: bool,
    },
    /// A connection attempt failed.
    ConnectFailed {
        /// The connection.
        conn: usize,
        /// Why.
        error: String,
    },
    /// The connection dropped (or was closed on request).
    Disconnected {
        /// The connection.
        conn: usize,
        /// Why, if it was not asked for.
        error: Option<String>,
    },
    /// A message arrived.
    Publish {
        /// The connection.
        conn: usize,
        /// The publish (topic and payload).
        publish: rumqttc::Publish,
    },
}

/// Counters kept by the connection tasks.
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    connects: AtomicU64,
    connect_failures: AtomicU64,
    disconnects: AtomicU64,
}

/// What the connections counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Publishes received from the broker.
    pub received: u64,
    /// Successful connects (CONNACK).
    pub connects: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// Dropped connections.
    pub disconnects: u64,
}

/// The queued events and whether a thread is blocked waiting for them.
#[derive(Debug, Default)]
struct Queue {
    events: Vec<TransportEvent>,
    /// A thread waits in [`Inbox::wait_blocking`]: the push that fills the empty batch
    /// must signal the condition variable (otherwise nobody is woken and no system call
    /// is made).
    blocked: bool,
}

/// The shared, batched queue of transport events. An async consumer waits with
/// [`Inbox::wait`]; a plain thread (the simulation's pacing loop) with
/// [`Inbox::wait_blocking`], which sleeps in the kernel with its own timeout, so that an
/// idle wait does not need a tokio worker to fire a timer and then wake the thread (two
/// context switches per wait).
#[derive(Debug, Default)]
pub struct Inbox {
    queue: Mutex<Queue>,
    cond: Condvar,
    notify: Notify,
    counters: Counters,
}

impl Inbox {
    /// Queues an event; wakes the consumer if the batch was empty.
    pub fn push(&self, event: TransportEvent) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = q.events.is_empty();
        q.events.push(event);
        let wake_blocked = was_empty && q.blocked;
        drop(q);
        if was_empty {
            self.notify.notify_one();
        }
        if wake_blocked {
            self.cond.notify_one();
        }
    }

    /// Moves every queued event into `into` (which should be empty; its buffer is reused).
    pub fn drain(&self, into: &mut Vec<TransportEvent>) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut q.events, into);
    }

    /// Waits until an event may be queued.
    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    /// Blocks the calling thread until an event is queued or `timeout` has passed; returns
    /// at once when events are already queued. Never call it on a tokio worker.
    pub fn wait_blocking(&self, timeout: std::time::Duration) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if !q.events.is_empty() {
            return;
        }
        q.blocked = true;
        let (mut q, _) = self
            .cond
            .wait_timeout_while(q, timeout, |q| q.events.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        q.blocked = false;
    }
}

struct Conn {
    client: AsyncClient,
    permit: Arc<Notify>,
    /// Cuts of this connection: each send drops the link and holds it down until the
    /// instant sent (a network partition seen from the charger).
    cut: tokio::sync::watch::Sender<Option<tokio::time::Instant>>,
    task: JoinHandle<()>,
}

/// Why a publish was not handed to rumqttc.
#[derive(Debug)]
pub struct PublishRefused {
    /// The payload, to retry later.
    pub payload: Vec<u8>,
    /// What rumqttc said.
    pub error: String,
}

/// The connections of a fleet. See the module documentation.
pub struct MqttFleet {
    conns: Vec<Conn>,
    inbox: Arc<Inbox>,
}

impl std::fmt::Debug for MqttFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttFleet")
            .field("connections", &self.conns.len())
            .finish()
    }
}

impl MqttFleet {
    /// Creates one (idle) connection per client id. Must run inside a tokio runtime.
    pub fn start(settings: &MqttSettings, client_ids: &[String]) -> Result<Self, MqttError> {
        let inbox = Arc::new(Inbox::default());
        let mut conns = Vec::with_capacity(client_ids.len());
        for (conn, id) in client_ids.iter().enumerate() {
            let (options, network) = settings.client_options(id)?;
            let (client, mut eventloop) =
                AsyncClient::new(options, settings.request_capacity.max(1));
            eventloop.set_network_options(network);
            let permit = Arc::new(Notify::new());
            let (cut, cuts) = tokio::sync::watch::channel(None);
            let task = tokio::spawn(run_connection(
                conn,
                eventloop,
                Gates {
                    permit: permit.clone(),
                    cuts,
                },
                inbox.clone(),
            ));
            conns.push(Conn {
                client,
                permit,
                cut,
                task,
            });
        }
        Ok(MqttFleet { conns, inbox })
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Lets connection `conn` connect (once).
    pub fn connect(&self, conn: usize) {
        if let Some(c) = self.conns.get(conn) {
            c.permit.notify_one();
        }
    }

    /// Closes connection `conn` (DISCONNECT); a `Disconnected` event follows.
    pub fn disconnect(&self, conn: usize) {
        if let Some(c) = self.conns.get(conn) {
            // A full request channel means the connection is busy; the close then happens
            // through the keep-alive failure instead, which the charger also handles.
            let _ = c.client.try_disconnect();
        }
    }

    /// Cuts connection `conn` at once (the socket is dropped without DISCONNECT, as when the
    /// network fails) and refuses its reconnection attempts for `hold` (each fails with a
    /// `ConnectFailed`); afterwards it may reconnect. False when there is no such connection.
    pub fn cut(&self, conn: usize, hold: std::time::Duration) -> bool {
        let Some(c) = self.conns.get(conn) else {
            return false;
        };
        let until = tokio::time::Instant::now() + hold;
        c.cut.send_replace(Some(until));
        true
    }

    /// Subscribes connection `conn` to `filters`.
    pub fn subscribe(
        &self,
        conn: usize,
        filters: Vec<rumqttc::SubscribeFilter>,
    ) -> Result<(), String> {
        let c = self
            .conns
            .get(conn)
            .ok_or_else(|| format!("no connection {conn}"))?;
        c.client
            .try_subscribe_many(filters)
            .map_err(|e| e.to_string())
    }

    /// Hands a publish to connection `conn` without waiting.
    pub fn publish(
        &self,
        conn: usize,
        topic: String,
        qos: QoS,
        payload: Vec<u8>,
    ) -> Result<(), PublishRefused> {
        let Some(c) = self.conns.get(conn) else {
            return Err(PublishRefused {
                payload,
                error: format!("no connection {conn}"),
            });
        };
        c.client
            .try_publish(topic, qos, false, payload)
            .map_err(|e| match e {
                ClientError::TryRequest(Request::Publish(p))
                | ClientError::Request(Request::Publish(p)) => PublishRefused {
                    payload: p.payload.to_vec(),
                    error: "request channel full or closed".to_owned(),
                },
                other => PublishRefused {
                    payload: Vec::new(),
                    error: other.to_string(),
                },
            })
    }

    /// The shared inbox (for a waiter on another thread).
    pub fn inbox(&self) -> Arc<Inbox> {
        Arc::clone(&self.inbox)
    }

    /// Moves the queued events into `into`.
    pub fn drain(&self, into: &mut Vec<TransportEvent>) {
        self.inbox.drain(into);
    }

    /// Waits for the next batch of events.
    pub async fn wait(&self) {
        self.inbox.wait().await;
    }

    /// The connections' counters.
    pub fn stats(&self) -> TransportStats {
        let c = &self.inbox.counters;
        TransportStats {
            received: c.received.load(Ordering::Relaxed),
            connects: c.connects.load(Ordering::Relaxed),
            connect_failures: c.connect_failures.load(Ordering::Relaxed),
            disconnects: c.disconnects.load(Ordering::Relaxed),
        }
    }

    /// Stops every connection task (no DISCONNECT is sent).
    pub fn shutdown(&self) {
        for c in &self.conns {
            c.task.abort();
        }
    }
}

impl Drop for MqttFleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What a connection task waits on: its permits to connect and its cuts.
struct Gates {
    permit: Arc<Notify>,
    cuts: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
}

/// One connection's task: wait for a permit, connect, forward events until the link drops
/// or is cut. While a cut holds the link down, attempts fail without touching the network.
async fn run_connection(
    conn: usize,
    mut eventloop: EventLoop,
    mut gates: Gates,
    inbox: Arc<Inbox>,
) {
    let counters = &inbox.counters;
    loop {
        gates.permit.notified().await;
        let held = *gates.cuts.borrow_and_update();
        if held.is_some_and(|until| tokio::time::Instant::now() < until) {
            counters.connect_failures.fetch_add(1, Ordering::Relaxed);
            inbox.push(TransportEvent::ConnectFailed {
                conn,
                error: "network partitioned (fault injection)".to_owned(),
            });
            continue;
        }
        let mut connected = false;
        loop {
            let polled = tokio::select! {
                polled = eventloop.poll() => polled,
                changed = gates.cuts.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // The link dies under the client: drop the socket, no DISCONNECT.
                    eventloop.clean();
                    let event = if connected {
                        counters.disconnects.fetch_add(1, Ordering::Relaxed);
                        TransportEvent::Disconnected {
                            conn,
                            error: Some("network cut (fault injection)".to_owned()),
                        }
                    } else {
                        counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                        TransportEvent::ConnectFailed {
                            conn,
                            error: "network cut (fault injection)".to_owned(),
                        }
                    };
                    inbox.push(event);
                    break;
                }
            };
            match polled {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    connected = true;
                    counters.connects.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::Connected {
                        conn,
                        session_present: ack.session_present,
                    });
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::Publish { conn, publish });
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    eventloop.clean();
                    counters.disconnects.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::Disconnected { conn, error: None });
                    break;
                }
                Ok(_) => {}
                Err(e) if connected => {
                    counters.disconnects.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::Disconnected {
                        conn,
                        error: Some(e.to_string()),
                    });
                    break;
                }
                Err(e) => {
                    counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::ConnectFailed {
                        conn,
                        error: e.to_string(),
                    });
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn event(conn: usize) -> TransportEvent {
        TransportEvent::Connected {
            conn,
            session_present: false,
        }
    }

    #[test]
    fn a_blocked_waiter_wakes_on_the_first_push_and_times_out_when_idle() {
        let inbox = Arc::new(Inbox::default());
        // Idle: the wait ends by its timeout, with nothing queued.
        inbox.wait_blocking(Duration::from_millis(5));
        let mut batch = Vec::new();
        inbox.drain(&mut batch);
        assert!(batch.is_empty());
        // A push from another thread ends a long wait early.
        let pusher = {
            let inbox = Arc::clone(&inbox);
            #[expect(clippy::disallowed_methods, reason = "the test delays a real push")]
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                inbox.push(event(7));
            })
        };
        #[expect(clippy::disallowed_methods, reason = "the test times a real wait")]
        let started = std::time::Instant::now();
        inbox.wait_blocking(Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(30));
        pusher.join().unwrap();
        inbox.drain(&mut batch);
        assert!(matches!(
            batch[..],
            [TransportEvent::Connected { conn: 7, .. }]
        ));
        // Queued events make the wait return at once, and nothing is left marked blocked.
        inbox.push(event(8));
        inbox.wait_blocking(Duration::from_secs(60));
        assert!(!inbox.queue.lock().unwrap().blocked);
    }
}
