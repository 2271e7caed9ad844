//! [`Broker`]: chargestorm's own in-process MQTT 3.1.1 broker, the default broker of a run.
//!
//! Why not rumqttd: rumqttd 0.20 never sets `TCP_NODELAY` on accepted sockets, so every QoS 2
//! exchange on loopback stalled on delayed ACKs (~44 ms per request/response against
//! ~1.3 ms through Mosquitto with the same clients), it accepted ~500 connections/s, and its
//! in-process links only carry QoS 0. This broker is small because it serves one protocol on
//! loopback: packets are encoded and decoded by rumqttc's MQTT 3.1.1 codec
//! (`rumqttc::mqttbytes::v4`); sessions, routing and the QoS flows are ours, on tokio.
//!
//! # What it does
//! - TCP on `127.0.0.1` (a free port by default), `TCP_NODELAY` on every accepted socket, a
//!   listen backlog of 4,096 (the kernel caps it at `net.core.somaxconn`), no accept delay.
//! - CONNECT/CONNACK with clean session true and false; a second CONNECT with the same client
//!   id closes the first connection (§3.1.4). Keep-alive is enforced at 1.5 × the client's
//!   value. PINGREQ, DISCONNECT, will messages (published when a connection ends without
//!   DISCONNECT). MQTT 5 CONNECTs are refused with return code 1.
//! - SUBSCRIBE/UNSUBSCRIBE with `+` and `#` in a per-level subscription tree; delivered QoS is
//!   min(published QoS, granted QoS); a session with several matching subscriptions gets one
//!   copy at the highest QoS.
//! - PUBLISH at QoS 0, 1 and 2 both ways with the full flows; one task per connection, each
//!   wake-up writes everything ready in one `write`.
//!
//! # Queueing policy
//! Every session has a bounded queue of deliveries waiting for its in-flight window
//! ([`BrokerConfig::queue_capacity`] / [`BrokerConfig::inflight`]; a session with a wildcard
//! subscription, i.e. the backend, gets the `wildcard_*` pair):
//! - a QoS 0 delivery to a full queue is dropped and counted ([`BrokerStats::dropped_qos0`]);
//! - a QoS 1/2 delivery to a full queue of an online subscriber holds the publisher back:
//!   its PUBACK/PUBREC is withheld, so its own in-flight window fills and it stops
//!   publishing, and its later QoS 1/2 messages wait behind that one (per-publisher order is
//!   kept). It is woken when the queue has drained to three quarters of its bound. The held
//!   publisher keeps reading acknowledgements and pings, so two clients publishing to each
//!   other cannot deadlock ([`BrokerStats::backpressure_waits`]). Only after
//!   [`BrokerConfig::max_pending_publishes`] held messages (a client ignoring its window)
//!   does the broker stop reading the publisher's socket;
//! - an offline non-clean session queues QoS 1/2 up to its bound and drops beyond it; QoS 0
//!   is not queued for offline sessions (Mosquitto's default); both counted
//!   ([`BrokerStats::dropped_offline`]): a client that may never return must not stall the
//!   others.
//!
//! QoS 0 messages are routed at once, so they may overtake a held-back QoS 1/2 message of
//! the same publisher.
//!
//! # Not supported, on purpose
//! - Retained messages: the retain flag is accepted and ignored (the protocol does not use
//!   them).
//! - Persistence: [`Broker::stop`] and [`Broker::restart`] lose every session, subscription
//!   and queued message, which is what the broker-restart tests want.
//! - Authentication: credentials are accepted and not checked; TLS is not offered.

mod connection;
mod router;
mod session;
mod stats;
mod topic;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

pub use stats::BrokerStats;

use router::Shared;
use stats::{Counters, bump};

/// Settings of a [`Broker`].
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where to listen; port 0 picks a free port (default `127.0.0.1:0`).
    pub addr: SocketAddr,
    /// Listen backlog (default 4,096). Mosquitto's 100 turns a connection storm into
    /// SYN retries of a second or more.
    pub backlog: u32,
    /// Connections served at once; more are closed at accept (default 19,000: the process
    /// file limit here is 20,000, and an in-process broker shares it with its clients).
    pub max_connections: usize,
    /// Time from accept to a complete CONNECT (default 10 s).
    pub connect_timeout: Duration,
    /// Largest packet accepted, in bytes (default 1 MiB; the protocol sends up to 256 KiB).
    pub max_packet_size: usize,
    /// In-flight QoS 1/2 window towards a client (default 20, Mosquitto's
    /// `max_inflight_messages`, which chargers are tuned for).
    pub inflight: usize,
    /// In-flight window towards a client with a wildcard subscription (default 200): the
    /// backend receives every charger's uplink on one connection.
    pub wildcard_inflight: usize,
    /// Deliveries queued for a client beyond its window (default 1,000).
    pub queue_capacity: usize,
    /// Deliveries queued for a client with a wildcard subscription (default 100,000, ten
    /// seconds of 10,000 msg/s).
    pub wildcard_queue_capacity: usize,
    /// QoS 1/2 publishes of one client held back by full subscribers before its socket is
    /// no longer read (default 1,000; a client respecting its window never gets there).
    pub max_pending_publishes: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            backlog: 4_096,
            max_connections: 19_000,
            connect_timeout: Duration::from_secs(10),
            max_packet_size: 1024 * 1024,
            inflight: 20,
            wildcard_inflight: 200,
            queue_capacity: 1_000,
            wildcard_queue_capacity: 100_000,
            max_pending_publishes: 1_000,
        }
    }
}

/// Errors of the embedded broker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// [`Broker::start`] was called outside a tokio runtime.
    #[error(
        "the embedded broker needs a tokio runtime (call it inside one, or use Broker::start_on)"
    )]
    NoRuntime,
    /// The listening socket could not be set up.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running broker (one incarnation of it: [`Broker::restart`] starts a new one on the same
/// port with empty state).
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    handle: Handle,
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl Broker {
    /// Starts a broker on the current tokio runtime.
    pub fn start(config: BrokerConfig) -> Result<Broker, BrokerError> {
        let handle = Handle::try_current().map_err(|_| BrokerError::NoRuntime)?;
        Broker::start_on(&handle, config)
    }

    /// Starts a broker whose tasks run on `handle`'s runtime; it accepts connections as soon
    /// as this returns.
    pub fn start_on(handle: &Handle, config: BrokerConfig) -> Result<Broker, BrokerError> {
        let listener = listen(handle, config.addr, config.backlog)?;
        let addr = listener
            .local_addr()
            .map_err(|source| BrokerError::Listen {
                addr: config.addr,
                source,
            })?;
        let (shared, shutdown, task) = spawn(handle, &config, listener);
        Ok(Broker {
            config,
            handle: handle.clone(),
            addr,
            shared,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL, `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> super::BrokerUrl {
        super::BrokerUrl {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            tls: false,
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Counters of the current incarnation (after [`Broker::stop`], of the last one).
    pub fn stats(&self) -> BrokerStats {
        self.shared.counters.snapshot(Instant::now())
    }

    /// Whether it accepts connections.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops accepting, closes every connection and forgets every session; returns when the
    /// port is free. Clients see their connection drop, as with a broker killed by SIGKILL.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops it (if running) and starts a fresh incarnation on the same port: no session,
    /// subscription or queued message survives, and the counters start from zero.
    pub async fn restart(&mut self) -> Result<(), BrokerError> {
        self.stop().await;
        // The old listener is closed once `stop` returns; connections the broker closed sit in
        // TIME_WAIT, which SO_REUSEADDR lets the new listener ignore. Retry briefly in case
        // the kernel is slow to release the port.
        let mut attempt = 0;
        let listener = loop {
            match listen(&self.handle, self.addr, self.config.backlog) {
                Ok(l) => break l,
                Err(e) if attempt >= 50 => return Err(e),
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let (shared, shutdown, task) = spawn(&self.handle, &self.config, listener);
        self.shared = shared;
        self.shutdown = Some(shutdown);
        self.task = Some(task);
        Ok(())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // The accept loop sees the channel close and shuts every connection down.
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
    }
}

/// Fresh state and the accept loop of one incarnation.
fn spawn(
    handle: &Handle,
    config: &BrokerConfig,
    listener: TcpListener,
) -> (Arc<Shared>, watch::Sender<bool>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let shared = Arc::new(Shared::new(config.clone(), Counters::new(Instant::now())));
    let task = handle.spawn(accept_loop(Arc::clone(&shared), listener, rx));
    (shared, tx, task)
}

/// A listening socket on `addr` with SO_REUSEADDR and `backlog`.
fn listen(handle: &Handle, addr: SocketAddr, backlog: u32) -> Result<TcpListener, BrokerError> {
    let _guard = handle.enter();
    let err = |source| BrokerError::Listen { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(backlog).map_err(err)
}

/// Accepts connections until shutdown, one task each; on shutdown closes the listener, then
/// every connection.
async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if tasks.len() >= shared.config.max_connections {
                        bump(&shared.counters.connects_refused);
                        continue;
                    }
                    // Without it every QoS 2 exchange waits for a delayed ACK (~40 ms).
                    let _ = stream.set_nodelay(true);
                    tasks.spawn(connection::serve(Arc::clone(&shared), stream));
                }
                Err(e) => {
                    // Out of file descriptors, typically: back off instead of spinning.
                    tracing::warn!(error = %e, "embedded broker: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    bump(&shared.counters.connection_panics);
                    tracing::error!(error = %e, "embedded broker: a connection task panicked");
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    tasks.shutdown().await;
}
