//! The native MQTT engine: every connection of a fleet on one I/O thread, built for batches.
//!
//! The world thread's calls ([`NativeFleet::publish`], `subscribe`, `connect`, ...) append a
//! command to one shared batch (a mutex-guarded `Vec::push`); only the call that finds the
//! batch empty wakes the I/O thread (a [`mio::Waker`], one `eventfd` write), so a pump of a
//! thousand publishes costs one wake-up. The I/O thread ([`io`]) takes the whole batch,
//! encodes each command into its connection's write buffer with rumqttc's codec
//! (`rumqttc::mqttbytes::v4`), and writes every dirty connection once; reads are drained
//! per readiness event, packets decoded and the resulting events handed to the [`Inbox`] in
//! one push per batch.
//!
//! MQTT 3.1.1 as the rumqttc engine speaks it: CONNECT with the settings' client id,
//! keep-alive, clean session and credentials; CONNACK return codes (a refusal is a
//! `ConnectFailed`); SUBSCRIBE; QoS 0/1/2 both ways with the in-flight window of
//! [`MqttSettings::inflight_window`]; a PINGREQ every keep-alive, and a link whose previous
//! PINGREQ is still unanswered is dead (rumqttc's rule); DISCONNECT. A connection connects
//! only when [`NativeFleet::connect`] permits it. Buffers start empty and are given back
//! when drained, so an idle connection holds a few hundred bytes besides its socket.
//!
//! Plain TCP only: `mqtts://` runs on the rumqttc engine ([`MqttSettings::engine`]).

mod io;
mod session;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Publish, SubscribeFilter};

use super::fleet::{Inbox, PublishRefused};
use super::{MqttError, MqttSettings};

/// The longest a shutdown waits for the I/O thread to write what it was handed (QoS 2
/// publishes beyond the in-flight window wait for the broker's acknowledgements): long
/// enough for a broker that is behind by a second, short enough not to hold up the end of
/// a run whose broker is gone.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// The waker's token; connections use their index.
const WAKER: mio::Token = mio::Token(usize::MAX);

/// A command from the world thread to the I/O thread.
#[derive(Debug)]
enum Command {
    Connect(usize),
    Disconnect(usize),
    Cut(usize, Duration),
    Subscribe(usize, Vec<SubscribeFilter>),
    Publish(usize, Publish),
}

/// What the world thread and the I/O thread share.
#[derive(Debug)]
struct Shared {
    commands: Mutex<Vec<Command>>,
    waker: mio::Waker,
    inbox: Arc<Inbox>,
    /// Requests (publishes, subscriptions) per connection handed over and not yet on the
    /// wire: the bound that makes a publish "full, retry later", as rumqttc's request
    /// channel does.
    queued: Vec<AtomicU32>,
    /// The fleet is shutting down: the I/O thread writes what it holds, then stops (see
    /// [`CLOSE_GRACE`]).
    closing: AtomicBool,
    /// Open [`NativeFleet::begin_batch`] scopes: while any is open, commands do not wake
    /// the I/O thread; the scope's end does, once.
    held: AtomicUsize,
    /// A wake-up was held back by an open scope.
    wake_pending: AtomicBool,
}

impl Shared {
    /// Appends a command; wakes the I/O thread when the batch was empty (or leaves that to
    /// the end of the open batch scope).
    fn send(&self, command: Command) {
        let mut batch = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = batch.is_empty();
        batch.push(command);
        drop(batch);
        if was_empty {
            if self.held.load(Ordering::Acquire) > 0 {
                self.wake_pending.store(true, Ordering::Release);
            } else {
                self.wake();
            }
        }
    }

    fn wake(&self) {
        // A failed wake leaves the I/O thread on its tick, which still serves the batch.
        if let Err(e) = self.waker.wake() {
            tracing::warn!("MQTT I/O thread wake failed: {e}");
        }
    }
}

/// An open batch scope; its drop closes it, and the last scope to close wakes the I/O
/// thread if a command came meanwhile.
#[derive(Debug)]
pub(super) struct BatchHold(Arc<Shared>);

impl Drop for BatchHold {
    fn drop(&mut self) {
        let shared = &self.0;
        let before = shared
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if before == Ok(1) && shared.wake_pending.swap(false, Ordering::AcqRel) {
            shared.wake();
        }
    }
}

/// The settings the I/O thread needs, resolved once.
#[derive(Debug, Clone)]
struct Config {
    addr: SocketAddr,
    client_ids: Vec<String>,
    keep_alive: Duration,
    clean_session: bool,
    credentials: Option<(String, String)>,
    window: usize,
    max_packet: usize,
    connect_timeout: Duration,
}

/// The native engine's handle (world side). See the module documentation.
#[derive(Debug)]
pub(super) struct NativeFleet {
    shared: Arc<Shared>,
    request_capacity: u32,
    max_packet: usize,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl NativeFleet {
    /// Resolves the broker address, creates one idle connection per client id and starts
    /// the I/O thread. Needs no tokio runtime.
    pub(super) fn start(
        settings: &MqttSettings,
        client_ids: &[String],
        inbox: Arc<Inbox>,
    ) -> Result<Self, MqttError> {
        let url = &settings.url;
        let addr = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|e| MqttError::Broker(format!("cannot resolve {}: {e}", url.host)))?
            .next()
            .ok_or_else(|| MqttError::Broker(format!("{} has no address", url.host)))?;
        let poll = mio::Poll::new().map_err(|e| MqttError::Broker(format!("mio poll: {e}")))?;
        let waker = mio::Waker::new(poll.registry(), WAKER)
            .map_err(|e| MqttError::Broker(format!("mio waker: {e}")))?;
        let shared = Arc::new(Shared {
            commands: Mutex::new(Vec::new()),
            waker,
            inbox,
            queued: client_ids.iter().map(|_| AtomicU32::new(0)).collect(),
            closing: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            wake_pending: AtomicBool::new(false),
        });
        let config = Config {
            addr,
            client_ids: client_ids.to_vec(),
            keep_alive: settings.keep_alive.max(Duration::from_secs(1)),
            clean_session: settings.clean_session,
            credentials: settings.credentials.clone(),
            window: usize::from(settings.inflight_window()),
            max_packet: settings.max_packet_size,
            connect_timeout: settings.connect_timeout.max(Duration::from_secs(1)),
        };
        let engine = io::Engine::new(poll, config, Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("mqtt-io".to_owned())
            .spawn(move || engine.run())
            .map_err(|e| MqttError::Broker(format!("cannot start the MQTT I/O thread: {e}")))?;
        Ok(NativeFleet {
            shared,
            request_capacity: u32::try_from(settings.request_capacity.max(1)).unwrap_or(u32::MAX),
            max_packet: settings.max_packet_size,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Opens a batch scope: the commands until the returned hold drops reach the I/O
    /// thread with one wake-up.
    pub(super) fn begin_batch(&self) -> BatchHold {
        self.shared.held.fetch_add(1, Ordering::AcqRel);
        BatchHold(Arc::clone(&self.shared))
    }

    fn exists(&self, conn: usize) -> bool {
        conn < self.shared.queued.len()
    }

    /// Lets connection `conn` connect (once).
    pub(super) fn connect(&self, conn: usize) {
        if self.exists(conn) {
            self.shared.send(Command::Connect(conn));
        }
    }

    /// Closes connection `conn` with a DISCONNECT.
    pub(super) fn disconnect(&self, conn: usize) {
        if self.exists(conn) {
            self.shared.send(Command::Disconnect(conn));
        }
    }

    /// Cuts connection `conn` and holds it down for `hold`.
    pub(super) fn cut(&self, conn: usize, hold: Duration) -> bool {
        if !self.exists(conn) {
            return false;
        }
        self.shared.send(Command::Cut(conn, hold));
        true
    }

    /// Takes one request slot of `conn`, if it has one free.
    fn take_slot(&self, conn: usize) -> Result<(), String> {
        let Some(queued) = self.shared.queued.get(conn) else {
            return Err(format!("no connection {conn}"));
        };
        let cap = self.request_capacity;
        queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .map(|_| ())
            .map_err(|_| "request queue full".to_owned())
    }

    /// Subscribes connection `conn` to `filters`.
    pub(super) fn subscribe(
        &self,
        conn: usize,
        filters: Vec<SubscribeFilter>,
    ) -> Result<(), String> {
        if filters.is_empty() {
            // A SUBSCRIBE without filters is a protocol violation (MQTT-3.8.3-3).
            return Err("empty subscription".to_owned());
        }
        self.take_slot(conn)?;
        self.shared.send(Command::Subscribe(conn, filters));
        Ok(())
    }

    /// Queues a publish on connection `conn`.
    pub(super) fn publish(
        &self,
        conn: usize,
        topic: String,
        qos: QoS,
        payload: Vec<u8>,
    ) -> Result<(), PublishRefused> {
        // Fixed header (5) + topic length (2) + packet id (2) at most, besides the two.
        if topic.len() + payload.len() + 9 > self.max_packet {
            return Err(PublishRefused {
                payload: Vec::new(),
                error: format!(
                    "publish of {} bytes exceeds the maximum packet size {}",
                    payload.len(),
                    self.max_packet
                ),
            });
        }
        if let Err(error) = self.take_slot(conn) {
            let payload = if self.exists(conn) {
                payload
            } else {
                Vec::new()
            };
            return Err(PublishRefused { payload, error });
        }
        let publish = Publish::new(topic, qos, payload);
        self.shared.send(Command::Publish(conn, publish));
        Ok(())
    }

    /// Stops the I/O thread (no DISCONNECT is sent) and waits for it. The thread first
    /// writes every request it was handed that its connection can still send (at most
    /// [`CLOSE_GRACE`]); the rest is counted as abandoned.
    pub(super) fn shutdown(&self) {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = thread
            && t.join().is_err()
        {
            tracing::error!("the MQTT I/O thread panicked");
        }
    }
}
