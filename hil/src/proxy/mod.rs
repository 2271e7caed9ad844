//! A TCP fault proxy on loopback: network faults between the simulated chargers and the
//! broker or platform, without root.
//!
//! The development machines have no `netem` and no toxiproxy (reliability.md §2), so
//! latency, jitter, bandwidth limits, stalls, dead links, resets and cuts are injected here,
//! in user space. Point a client at [`ProxyHandle::local_addr`] instead of the upstream;
//! every accepted connection becomes a link relayed to the upstream in both directions.
//!
//! # Faults
//! Faults are data ([`LinkFaults`], one [`PathFaults`] per [`Direction`]) stored at one of
//! three levels — all links, a tag, one link ([`Target`]) — and changed at run time through
//! the [`ProxyHandle`]. The most specific setting in force wins as a whole. Latency is
//! **one-way**: [`LinkFaults::latency`] with 20 ms adds 40 ms to a round trip. Reset and cut
//! are one-shot actions on the live links. [`FaultPlan`] plays timed actions.
//!
//! Delays follow tokio's 1 ms timer: a chunk leaves within about ±1 ms of its due time
//! (measured median added round trip: 40.7 ms for 20 ms each way, 50.5 ms for 50 ms one way).
//! A half-open link keeps both sockets, and whatever either side sent (including its close),
//! until the fault is cleared, the link is cut or reset, or the proxy shuts down.
//!
//! # Tagging links with a charger id
//! Chargers connect with their own sockets (an MQTT client owns its connection), so the
//! proxy learns which charger a link belongs to in one of three ways:
//! - **By the client's local port.** The proxy's peer address is the client's local address.
//!   A [`Tagger`] in [`ProxyConfig::tagger`] is called with it on accept; a charger that
//!   bound its socket to a known port (or recorded the port it got) can be looked up there.
//! - **By the MQTT client identifier.** With [`ProxyConfig::sniff_mqtt_client_id`], the first
//!   bytes from the client are read as an MQTT CONNECT (3.1, 3.1.1 or 5.0) and the link is
//!   tagged with its client identifier. The bytes are held only until the identifier is
//!   complete and are relayed unchanged; anything that is not a CONNECT is relayed untagged.
//! - **By hand**, with [`ProxyHandle::tag_link`].
//!
//! A tag setting applies from the moment the link is tagged, including `refuse_new`.
//!
//! # Resources
//! `TCP_NODELAY` on both legs. Each direction holds at most
//! [`ProxyConfig::queue_limit_bytes`] of delayed or held data; past that the proxy stops
//! reading and TCP flow control pushes back on the sender. No task polls: every wait is on
//! a socket, a timer or a setting change. [`ProxyHandle::shutdown`] (or dropping the last
//! handle) stops accepting and closes every link.

mod faults;
mod link;
mod plan;
mod registry;
mod shaping;
mod sniff;

pub use faults::{Direction, LinkFaults, LinkId, PathFaults, Target};
pub use plan::{FaultAction, FaultPlan, FaultStep};
pub use registry::{LinkInfo, LinkState, ProxyStats};
pub use sniff::{Sniff, SniffError, sniff_client_id};

use faults::Rule;
use link::LinkSetup;
use registry::{Kill, Registry};
use shaping::DelayLine;
use sim_core::rng::{Domain, stream};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Looks up the tag (charger id) of a new connection from the client's address as the
/// proxy sees it; its port is the client's local port. Called on the accept task: keep it
/// quick (a map lookup).
pub type Tagger = Arc<dyn Fn(SocketAddr) -> Option<String> + Send + Sync>;

/// How the proxy runs.
#[derive(Clone)]
pub struct ProxyConfig {
    /// Root seed of the jitter streams; link `n`'s direction `d` draws from
    /// `sim_core::rng::stream(seed, Domain::NetworkLink, 2n + d)`.
    pub seed: u64,
    /// Tag links with the client identifier of an MQTT CONNECT sent first.
    pub sniff_mqtt_client_id: bool,
    /// Tags new links from the client's address.
    pub tagger: Option<Tagger>,
    /// Most bytes held per link direction before the proxy stops reading (at least 24.1 KiB).
    pub queue_limit_bytes: usize,
    /// How long to try to reach the upstream before resetting the client.
    pub connect_timeout: Duration,
    /// After a cut sends FIN, how long to read and discard what the peers still send before
    /// closing (closing with unread bytes would turn the FIN into a RST).
    pub cut_drain: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            sniff_mqtt_client_id: false,
            tagger: None,
            queue_limit_bytes: 256 * 1024,
            connect_timeout: Duration::from_secs(5),
            cut_drain: Duration::from_millis(500),
        }
    }
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("seed", &self.seed)
            .field("sniff_mqtt_client_id", &self.sniff_mqtt_client_id)
            .field("tagger", &self.tagger.as_ref().map(|_| "Fn(SocketAddr)"))
            .field("queue_limit_bytes", &self.queue_limit_bytes)
            .field("connect_timeout", &self.connect_timeout)
            .field("cut_drain", &self.cut_drain)
            .finish()
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The fault proxy.
#[derive(Debug)]
pub struct FaultProxy;

impl FaultProxy {
    /// Listens on `listen` (use `127.0.0.1:0` for a free port) and relays every accepted
    /// connection to `upstream`. Must be called inside a tokio runtime with time and I/O.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        config: ProxyConfig,
    ) -> Result<ProxyHandle, ProxyError> {
        let bind_err = |source| ProxyError::Bind {
            addr: listen,
            source,
        };
        let listener = TcpListener::bind(listen).await.map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let registry = Arc::new(Registry::new());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            upstream,
            config,
            Arc::clone(&registry),
            shutdown_rx,
        ));
        Ok(ProxyHandle {
            registry,
            local_addr,
            upstream,
            life: Arc::new(Life {
                shutdown,
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

/// Stops the proxy when the last handle goes away.
#[derive(Debug)]
struct Life {
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Life {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Controls a running proxy. Clones share the proxy; it stops when the last clone is
/// dropped or on [`ProxyHandle::shutdown`].
#[derive(Clone)]
pub struct ProxyHandle {
    registry: Arc<Registry>,
    local_addr: SocketAddr,
    upstream: SocketAddr,
    life: Arc<Life>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHandle")
            .field("local_addr", &self.local_addr)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl ProxyHandle {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address links are relayed to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Stores `faults` at `target`'s level, replacing what was there, and applies it at once
    /// to the live links it governs (and to future ones, for `All` and `Tag`). A stall is
    /// counted from now.
    pub fn set_faults(&self, target: Target, faults: LinkFaults) {
        self.registry
            .set_rule(&target, Rule::new(faults, Instant::now()));
    }

    /// Removes the setting stored at `target`'s level; links fall back to the next level.
    pub fn clear(&self, target: Target) {
        self.registry.clear_rule(&target);
    }

    /// Removes every setting at every level: all links heal.
    pub fn clear_all(&self) {
        self.registry.clear_all_rules();
    }

    /// Closes the targeted live links on both sides with RST (`SO_LINGER` 0); returns how
    /// many links were hit.
    pub fn reset(&self, target: Target) -> usize {
        self.registry.kill(&target, Kill::Reset)
    }

    /// Closes the targeted live links on both sides with FIN; returns how many were hit.
    pub fn cut(&self, target: Target) -> usize {
        self.registry.kill(&target, Kill::Cut)
    }

    /// Applies one [`FaultAction`].
    pub fn apply(&self, target: &Target, action: &FaultAction) {
        match action {
            FaultAction::Set(faults) => self.set_faults(target.clone(), faults.clone()),
            FaultAction::Clear => self.clear(target.clone()),
            FaultAction::ClearAll => self.clear_all(),
            FaultAction::Reset => {
                self.reset(target.clone());
            }
            FaultAction::Cut => {
                self.cut(target.clone());
            }
        }
    }

    /// Tags a live link by hand; returns false if it is gone.
    pub fn tag_link(&self, id: LinkId, tag: impl Into<String>) -> bool {
        self.registry.tag(id, tag.into())
    }

    /// Snapshots of the live links, by id.
    pub fn links(&self) -> Vec<LinkInfo> {
        self.registry.links()
    }

    /// Counters since start.
    pub fn stats(&self) -> ProxyStats {
        self.registry.stats()
    }

    /// Waits up to `within` for a live link tagged `tag` and returns it.
    pub async fn wait_for_tag(&self, tag: &str, within: Duration) -> Option<LinkInfo> {
        let mut changes = self.registry.subscribe();
        let find = || {
            self.links()
                .into_iter()
                .find(|l| l.tag.as_deref() == Some(tag))
        };
        tokio::time::timeout(within, async {
            loop {
                if let Some(link) = find() {
                    return Some(link);
                }
                if changes.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// Stops accepting, closes every link and waits until all proxy tasks have ended.
    pub async fn shutdown(&self) {
        self.life.shutdown.send_replace(true);
        let task = self
            .life
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Accepts connections and runs one task per link until shutdown.
async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    config: ProxyConfig,
    registry: Arc<Registry>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut links = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    links.spawn(link::run(stream, setup(&config, &registry, upstream, peer)));
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "fault proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = links.join_next(), if !links.is_empty() => {}
        }
    }
    drop(listener);
    links.shutdown().await;
    registry.drop_all_links();
}

/// Resolves when shutdown is asked for (or every handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // `wait_for` fails only when the sender is gone, which also means stop.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Registers a new link and prepares what its task needs.
fn setup(
    config: &ProxyConfig,
    registry: &Arc<Registry>,
    upstream: SocketAddr,
    peer: SocketAddr,
) -> LinkSetup {
    let tag = config.tagger.as_ref().and_then(|tagger| tagger(peer));
    let reg = registry.register(peer, tag, Instant::now());
    let line = |d: Direction| {
        let id = reg.id.0.wrapping_mul(2).wrapping_add(d.index() as u64);
        DelayLine::new(stream(config.seed, Domain::NetworkLink, id))
    };
    LinkSetup {
        registry: Arc::clone(registry),
        id: reg.id,
        upstream,
        control: reg.control,
        counters: reg.counters,
        delay_lines: [line(Direction::Up), line(Direction::Down)],
        sniff: config.sniff_mqtt_client_id,
        queue_limit: config.queue_limit_bytes,
        connect_timeout: config.connect_timeout,
        cut_drain: config.cut_drain,
    }
}
