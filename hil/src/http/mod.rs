//! Real HTTP for the T/CEC 102 / DB4403 machines of `sim_core::tcec`.
//!
//! The machines are sans-IO; this module carries their bytes over hyper 1 (server: an axum
//! router on a hyper-util connection loop, plain or rustls TLS; client: keep-alive connections
//! of our own pool on hyper's connection-level API, plain or rustls TLS) and maps the wall
//! clock to their virtual time. Layout:
//!
//! - [`clock`]: [`WallClock`], the only wall-clock reader of the HTTP shell.
//! - [`shared`]: [`Shared`], a machine with its metrics behind a mutex, plus the driver's
//!   wake-up signal. Fleet inputs go through [`Shared::with`].
//! - [`server`]: serves every interface path of a machine (`/shevcs/v1.0/*`,
//!   `/evcs/v1.0/*`, bare names) on a listener, honouring the machine's `respond_at`.
//! - [`client`]: [`HttpClient`], executes a machine's outbound requests.
//! - [`pool`]: [`pool::Pool`], the client's keep-alive connections per origin.
//! - [`pipeline`]: [`pipeline::PipelinePool`], HTTP/1.1 pipelining on connections of our own
//!   (`httparse` for responses), chosen by [`HttpClient::pipelined`].
//! - [`watchdog`]: [`watchdog::Watchdog`], one sweeper for every in-flight request's timeout.
//! - [`driver`]: the real-time loop that fires timers and sends requests.
//! - [`tls`]: certificates and keys from PEM files.
//! - [`runner`]: [`serve_machine`], [`serve_platform`] and [`serve_operator`].
//! - [`loopback`]: operator, platform and eMSP on three loopback ports (demo and tests).
//! - [`load`]: an open-loop push load from the operator to a platform elsewhere (benchmarks).

pub mod client;
pub mod clock;
pub mod driver;
pub mod load;
pub mod loopback;
pub mod pipeline;
pub mod pool;
pub mod runner;
pub mod server;
pub mod shared;
pub mod tls;
pub mod watchdog;

pub use client::{ClientTls, HttpClient, Routes};
pub use clock::WallClock;
pub use runner::{
    OperatorServerConfig, PlatformServerConfig, RunningServer, serve_machine,
    serve_machine_with_client, serve_operator, serve_operator_pipelined, serve_platform,
    serve_platform_pipelined,
};
pub use shared::{Shared, SharedOperator};
pub use tls::ServerTls;

/// Setting up the HTTP shell failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A socket could not be bound or read.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A certificate, key or CA file is unreadable or invalid.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// A peer base URL is not a valid `http(s)://host[:port][/path]` URL.
    #[error("invalid base URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The machine could not be built (bad epoch or keys).
    #[error("machine setup: {0}")]
    Machine(String),
}
