//! The real MQTT transport of the seed-004 protocol.
//!
//! - [`MqttFleet`]: one MQTT connection per simulated charger, events batched into one
//!   inbox; the [`native`] engine (one `mio` I/O thread for every connection) or rumqttc
//!   (one task per connection; always for TLS), chosen by [`MqttTransport`]; [`FleetDriver`] runs the sans-IO [`sim_core::mqtt::charger::ChargerClient`]s over
//!   it in real time.
//! - [`BackendRunner`]: the reference [`sim_core::mqtt::backend::Backend`] on a real broker.
//! - [`EmbeddedBroker`]: the in-process broker on a free loopback port (the default broker):
//!   chargestorm's own [`embedded::Broker`], or rumqttd for comparison; [`Mosquitto`]: a
//!   mosquitto child process for tests against a real broker.
//! - [`MqttSettings`] / [`BrokerUrl`]: `mqtt://` or `mqtts://` (rustls, custom CA), credentials,
//!   keep-alive, clean session, in-flight ≤ 20, TCP no-delay.
//!
//! The sans-IO machines decide everything (reconnect back-off, retries, the transaction
//! outbox); this module only moves bytes and reads the wall clock ([`RealClock`]).

mod backend_runner;
mod broker;
mod clock;
mod driver;
pub mod embedded;
mod fleet;
mod mosquitto;
pub mod native;
mod options;
mod rumqttc_fleet;

use std::path::PathBuf;

pub use backend_runner::{BackendRunner, RunnerStats};
pub use broker::{EmbeddedBroker, free_loopback_port};
pub use clock::RealClock;
pub use driver::{DriverStats, FleetDriver};
pub use fleet::{Batch, Inbox, MqttFleet, PublishRefused, TransportEvent, TransportStats};
pub use mosquitto::{Mosquitto, PublishCounters};
pub use options::{BrokerUrl, MAX_INFLIGHT, MqttSettings, MqttTransport};

/// Errors of the MQTT shell.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MqttError {
    /// The broker URL is not `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`.
    #[error("broker URL {url:?} is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// `mqtts://` without a CA file.
    #[error("mqtts:// needs the CA certificate file of the broker")]
    NoCaFile,
    /// The CA file could not be read.
    #[error("cannot read CA file {path:?}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A broker could not be started or reached.
    #[error("broker: {0}")]
    Broker(String),
    /// The mosquitto binary is not installed.
    #[error("mosquitto is not installed (apt-get install -y mosquitto)")]
    NoMosquitto,
}
