//! `--metrics-listen ADDR`: a Prometheus endpoint serving `GET /metrics`.
//!
//! The run loop owns the world and is synchronous; it takes a [`MetricsSnapshot`] every
//! few seconds and [`MetricsEndpoint::publish`]es it. The endpoint runs on its own thread
//! with a single-threaded tokio runtime and renders the newest snapshot on each scrape,
//! so a scrape costs the simulation nothing but the snapshot it already published.
//!
//! Families (text format 0.0.4; see [`exposition`]): `chargestorm_run_info`,
//! `chargestorm_messages_total{protocol,type}`, `chargestorm_errors_total{kind}`,
//! `chargestorm_sessions_total{outcome}`, `chargestorm_transactions_total{state}`,
//! `chargestorm_transactions_lost_total{reason}`, `chargestorm_transactions_open`,
//! `chargestorm_late_sends_total`, `chargestorm_dropped_sends_total`,
//! `chargestorm_energy_kwh_total`, `chargestorm_connectors{state}`,
//! `chargestorm_simulated_seconds`, and the histograms
//! `chargestorm_scheduler_lag_seconds`, `chargestorm_latency_seconds{type}` and
//! `chargestorm_service_time_seconds{type}`.

pub mod exposition;
pub mod snapshot;

pub use snapshot::{
    BucketHistogram, LAG_BUCKETS_S, LATENCY_BUCKETS_S, MetricsSnapshot, RunLabels,
    snapshot_from_metrics,
};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsHttpError {
    /// The listen address could not be bound (in use, not local, no permission).
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The endpoint's thread or runtime could not be started.
    #[error("cannot start the metrics endpoint: {0}")]
    Start(std::io::Error),
}

/// The router: `GET /metrics` renders the newest snapshot; `GET /` says where to look.
pub fn router(snapshots: watch::Receiver<Arc<MetricsSnapshot>>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .with_state(snapshots)
}

async fn metrics(State(snapshots): State<watch::Receiver<Arc<MetricsSnapshot>>>) -> Response {
    // Clone the Arc out so rendering does not hold the watch lock against `publish`.
    let snapshot = Arc::clone(&snapshots.borrow());
    let body = exposition::render(&snapshot);
    ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], body).into_response()
}

async fn index() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "chargestorm metrics: GET /metrics\n",
    )
        .into_response()
}

/// Serves `router(snapshots)` on `listener` until `shutdown` becomes true (or its sender
/// is dropped); open connections finish their request.
pub async fn serve(
    listener: tokio::net::TcpListener,
    snapshots: watch::Receiver<Arc<MetricsSnapshot>>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(snapshots))
        .with_graceful_shutdown(async move {
            // Ends on `true` or when the sender is gone.
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

/// A running endpoint on its own thread. Dropping it stops the server and joins the thread.
#[derive(Debug)]
pub struct MetricsEndpoint {
    local_addr: SocketAddr,
    snapshots: watch::Sender<Arc<MetricsSnapshot>>,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Binds `addr` (port 0 picks a free port) and serves an empty snapshot until the first
    /// [`publish`](Self::publish). Binding happens before this returns, so a port in use is
    /// an error here rather than a log line later.
    pub fn start(addr: SocketAddr) -> Result<Self, MetricsHttpError> {
        let std_listener = std::net::TcpListener::bind(addr)
            .map_err(|source| MetricsHttpError::Bind { addr, source })?;
        std_listener
            .set_nonblocking(true)
            .map_err(MetricsHttpError::Start)?;
        let local_addr = std_listener.local_addr().map_err(MetricsHttpError::Start)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(MetricsHttpError::Start)?;
        let (snapshots, snapshots_rx) = watch::channel(Arc::new(MetricsSnapshot::default()));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(listener) => {
                            if let Err(e) = serve(listener, snapshots_rx, shutdown_rx).await {
                                tracing::warn!("metrics endpoint stopped: {e}");
                            }
                        }
                        Err(e) => tracing::warn!("metrics endpoint cannot listen: {e}"),
                    }
                });
            })
            .map_err(MetricsHttpError::Start)?;
        Ok(MetricsEndpoint {
            local_addr,
            snapshots,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Makes `snapshot` what the next scrapes see.
    pub fn publish(&self, snapshot: MetricsSnapshot) {
        self.snapshots.send_replace(Arc::new(snapshot));
    }

    /// A handle that publishes to this endpoint, for code that does not own it.
    pub fn publisher(&self) -> watch::Sender<Arc<MetricsSnapshot>> {
        self.snapshots.clone()
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
