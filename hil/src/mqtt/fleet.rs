//! [`MqttFleet`]: the connections of a simulated charger fleet, one MQTT client id each,
//! every incoming event funnelled into one shared, batched [`Inbox`] (a push is a
//! mutex-guarded `Vec::push` or `Vec::append`; the driver swaps the whole batch out at once,
//! and only the push that finds the batch empty wakes it).
//!
//! Two engines sit behind the same API, chosen by [`MqttSettings::transport`]:
//! - [`MqttTransport::Native`] (the default for `mqtt://`): every connection on one `mio`
//!   I/O thread, commands batched per pump, one write per dirty connection per batch, small
//!   buffers (see [`super::native`]);
//! - [`MqttTransport::Rumqttc`]: one rumqttc event loop per connection on its own tokio task.
//!   TLS (`mqtts://`) always uses it.
//!
//! A connection does nothing until [`MqttFleet::connect`] permits it (the charger's own
//! jittered back-off decides when), so a broker restart does not turn into a tight reconnect
//! loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use rumqttc::QoS;
use tokio::sync::Notify;

use super::native::{BatchHold, NativeFleet};
use super::rumqttc_fleet::RumqttcFleet;
use super::{MqttError, MqttSettings, MqttTransport};

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

impl TransportEvent {
    /// The connection (charger index) the event belongs to.
    pub fn conn(&self) -> usize {
        match self {
            TransportEvent::Connected { conn, .. }
            | TransportEvent::ConnectFailed { conn, .. }
            | TransportEvent::Disconnected { conn, .. }
            | TransportEvent::Publish { conn, .. } => *conn,
        }
    }
}

/// Counters kept by the connection tasks.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) received: AtomicU64,
    pub(super) connects: AtomicU64,
    pub(super) connect_failures: AtomicU64,
    pub(super) disconnects: AtomicU64,
    pub(super) abandoned: AtomicU64,
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
    /// Publishes and subscriptions handed to the connections that never reached the wire:
    /// still queued when the fleet shut down (its graceful drain timed out, or their
    /// connection was not up). A publish counted as sent by the world and never received
    /// downstream is one of these, or lost beyond the simulator.
    pub abandoned: u64,
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
        self.release_and_wake(q, was_empty);
    }

    /// Releases the queue after a push; if it was empty, wakes the consumer (its task, and
    /// its thread if one is blocked in [`Inbox::wait_blocking`]).
    fn release_and_wake(&self, q: std::sync::MutexGuard<'_, Queue>, was_empty: bool) {
        let wake_blocked = was_empty && q.blocked;
        drop(q);
        if was_empty {
            self.notify.notify_one();
        }
        if wake_blocked {
            self.cond.notify_one();
        }
    }

    /// Queues a whole batch of events (emptying `events`, whose buffer stays with the
    /// caller); wakes the consumer if the queue was empty. One lock per batch.
    pub fn push_batch(&self, events: &mut Vec<TransportEvent>) {
        if events.is_empty() {
            return;
        }
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = q.events.is_empty();
        if was_empty && q.events.capacity() < events.len() {
            std::mem::swap(&mut q.events, events);
        } else {
            q.events.append(events);
        }
        self.release_and_wake(q, was_empty);
    }

    /// The counters the engines keep.
    pub(super) fn counters(&self) -> &Counters {
        &self.counters
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

/// Why a publish was not handed to the connection.
#[derive(Debug)]
pub struct PublishRefused {
    /// The payload, to retry later (empty when a retry cannot help).
    pub payload: Vec<u8>,
    /// Why.
    pub error: String,
}

/// The engine behind a fleet.
enum Engine {
    Native(NativeFleet),
    Rumqttc(RumqttcFleet),
}

/// The connections of a fleet. See the module documentation.
pub struct MqttFleet {
    engine: Engine,
    len: usize,
    inbox: Arc<Inbox>,
}

impl std::fmt::Debug for MqttFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttFleet")
            .field("connections", &self.len)
            .field("native", &matches!(self.engine, Engine::Native(_)))
            .finish()
    }
}

impl MqttFleet {
    /// Creates one (idle) connection per client id. The rumqttc engine (and so any
    /// `mqtts://` broker) must start inside a tokio runtime; the native one needs none.
    pub fn start(settings: &MqttSettings, client_ids: &[String]) -> Result<Self, MqttError> {
        let inbox = Arc::new(Inbox::default());
        let engine = if settings.engine() == MqttTransport::Native {
            Engine::Native(NativeFleet::start(settings, client_ids, inbox.clone())?)
        } else {
            Engine::Rumqttc(RumqttcFleet::start(settings, client_ids, inbox.clone())?)
        };
        Ok(MqttFleet {
            engine,
            len: client_ids.len(),
            inbox,
        })
    }

    /// The engine in use.
    pub fn transport(&self) -> MqttTransport {
        match self.engine {
            Engine::Native(_) => MqttTransport::Native,
            Engine::Rumqttc(_) => MqttTransport::Rumqttc,
        }
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lets connection `conn` connect (once).
    pub fn connect(&self, conn: usize) {
        match &self.engine {
            Engine::Native(e) => e.connect(conn),
            Engine::Rumqttc(e) => e.connect(conn),
        }
    }

    /// Closes connection `conn` (DISCONNECT); a `Disconnected` event follows.
    pub fn disconnect(&self, conn: usize) {
        match &self.engine {
            Engine::Native(e) => e.disconnect(conn),
            Engine::Rumqttc(e) => e.disconnect(conn),
        }
    }

    /// Cuts connection `conn` at once (the socket is dropped without DISCONNECT, as when the
    /// network fails) and refuses its reconnection attempts for `hold` (each fails with a
    /// `ConnectFailed`); afterwards it may reconnect. False when there is no such connection.
    pub fn cut(&self, conn: usize, hold: std::time::Duration) -> bool {
        match &self.engine {
            Engine::Native(e) => e.cut(conn, hold),
            Engine::Rumqttc(e) => e.cut(conn, hold),
        }
    }

    /// Subscribes connection `conn` to `filters`.
    pub fn subscribe(
        &self,
        conn: usize,
        filters: Vec<rumqttc::SubscribeFilter>,
    ) -> Result<(), String> {
        match &self.engine {
            Engine::Native(e) => e.subscribe(conn, filters),
            Engine::Rumqttc(e) => e.subscribe(conn, filters),
        }
    }

    /// Hands a publish to connection `conn` without waiting. A refusal with a payload means
    /// "full, retry later"; one without means the publish can never be sent.
    pub fn publish(
        &self,
        conn: usize,
        topic: String,
        qos: QoS,
        payload: Vec<u8>,
    ) -> Result<(), PublishRefused> {
        match &self.engine {
            Engine::Native(e) => e.publish(conn, topic, qos, payload),
            Engine::Rumqttc(e) => e.publish(conn, topic, qos, payload),
        }
    }

    /// Holds the native engine's wake-ups until the returned guard drops, so that every
    /// command of one pump reaches the I/O thread in one batch with one wake-up (the rumqttc
    /// engine ignores it). Commands issued meanwhile are queued, never lost.
    pub fn batch(&self) -> Batch {
        Batch {
            _hold: match &self.engine {
                Engine::Native(e) => Some(e.begin_batch()),
                Engine::Rumqttc(_) => None,
            },
        }
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
            abandoned: c.abandoned.load(Ordering::Relaxed),
        }
    }

    /// Stops every connection (no DISCONNECT is sent). The native engine first drains what
    /// it was handed (writes every queued request its window allows, for up to
    /// [`super::native::CLOSE_GRACE`]), so that publishes the world counted as sent are not
    /// lost in the simulator's own buffers; what it could not write is counted in
    /// [`TransportStats::abandoned`].
    pub fn shutdown(&self) {
        match &self.engine {
            Engine::Native(e) => e.shutdown(),
            Engine::Rumqttc(e) => e.shutdown(),
        }
    }
}

/// A scope of [`MqttFleet::batch`]: its drop hands the batch to the I/O thread.
#[derive(Debug)]
#[must_use = "the batch is handed over when the guard drops"]
pub struct Batch {
    _hold: Option<BatchHold>,
}

impl Drop for MqttFleet {
    fn drop(&mut self) {
        self.shutdown();
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
