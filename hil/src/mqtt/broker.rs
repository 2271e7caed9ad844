//! [`EmbeddedBroker`]: the in-process MQTT broker of a run on a free loopback port.
//!
//! By default it is chargestorm's own broker ([`super::embedded::Broker`]) on a dedicated
//! two-thread tokio runtime, so that it works with or without a runtime in the caller and
//! its latency does not depend on how busy the clients' runtime is.
//!
//! [`EmbeddedBroker::start_rumqttd`] keeps the previous default, rumqttd 0.20, for
//! comparison (BENCHMARKS.md, "Embedded broker"): it never sets TCP no-delay on accepted
//! sockets, so a QoS 2 request/response through it takes ~44 ms on loopback. Its settings,
//! tuned for a fleet of thousands of simulated chargers on one machine:
//! - `max_connections` 20,000: every charger holds its own connection, plus the backend; the
//!   process file limit (20,000 here) is the real ceiling.
//! - `next_connection_delay_ms` 0: rumqttd sleeps this long after every accept; its sample 1 ms
//!   caps the connect rate at 1,000/s and turns a reconnect storm into a queue.
//! - `max_payload_size` 512 KiB: the protocol allows 256 KiB APDUs (a full ID-card cache);
//!   the sample's 20 KiB would drop large ones.
//! - `max_inflight_count` 100: the backend's single connection receives every charger's
//!   uplink; chargers themselves keep their window at 20.
//! - `connection_timeout_ms` 10 s: time allowed between accept and CONNECT under load.
//! - segments 4 MiB × 16 per filter: rumqttd keeps each subscription filter's messages in an
//!   in-memory commit log; the backend's `/U/C/+` filter carries all uplink, and a log that is
//!   too short would drop messages the backend has not read yet during a burst.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use super::MqttError;
use super::embedded::{Broker, BrokerConfig, BrokerStats};

/// A running in-process broker.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// chargestorm's broker on its own runtime (shut down on drop).
    Native {
        broker: Box<Broker>,
        runtime: Option<tokio::runtime::Runtime>,
    },
    /// rumqttd on its own threads; it lives until the process exits (it has no shutdown).
    Rumqttd,
}

impl EmbeddedBroker {
    /// Starts chargestorm's broker on `127.0.0.1` at a free port with the default
    /// [`BrokerConfig`]; it accepts connections when this returns.
    pub fn start() -> Result<Self, MqttError> {
        Self::start_with(BrokerConfig::default())
    }

    /// Starts chargestorm's broker with `config` on a dedicated two-thread runtime.
    pub fn start_with(config: BrokerConfig) -> Result<Self, MqttError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("chargestorm-broker")
            .enable_all()
            .build()
            .map_err(|e| MqttError::Broker(format!("broker runtime: {e}")))?;
        let broker = Broker::start_on(runtime.handle(), config)
            .map_err(|e| MqttError::Broker(e.to_string()))?;
        Ok(EmbeddedBroker {
            addr: broker.addr(),
            kind: Kind::Native {
                broker: Box::new(broker),
                runtime: Some(runtime),
            },
        })
    }

    /// Starts rumqttd 0.20 (the former default) on `127.0.0.1` at a free port and waits
    /// until it accepts connections; kept for comparison.
    pub fn start_rumqttd() -> Result<Self, MqttError> {
        let addr = free_loopback_port()?;
        let config = broker_config(addr);
        std::thread::Builder::new()
            .name("rumqttd".to_owned())
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded rumqttd stopped");
                }
            })
            .map_err(|e| MqttError::Broker(e.to_string()))?;
        wait_listening(addr)?;
        Ok(EmbeddedBroker {
            addr,
            kind: Kind::Rumqttd,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL, `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> super::BrokerUrl {
        super::BrokerUrl::loopback(self.addr.port())
    }

    /// The broker's counters (`None` for rumqttd, which has none to read).
    pub fn stats(&self) -> Option<BrokerStats> {
        match &self.kind {
            Kind::Native { broker, .. } => Some(broker.stats()),
            Kind::Rumqttd => None,
        }
    }

    /// chargestorm's broker, when that is what runs.
    pub fn broker(&self) -> Option<&Broker> {
        match &self.kind {
            Kind::Native { broker, .. } => Some(broker),
            Kind::Rumqttd => None,
        }
    }

    /// Drops every connection and session and starts again on the same port (a broker
    /// restart without persistence). rumqttd cannot be restarted.
    pub async fn restart(&mut self) -> Result<(), MqttError> {
        match &mut self.kind {
            Kind::Native { broker, .. } => broker
                .restart()
                .await
                .map_err(|e| MqttError::Broker(e.to_string())),
            Kind::Rumqttd => Err(MqttError::Broker("rumqttd cannot be restarted".to_owned())),
        }
    }

    /// Stops it: every connection is closed and the port is freed. rumqttd cannot be stopped.
    pub async fn stop(&mut self) -> Result<(), MqttError> {
        match &mut self.kind {
            Kind::Native { broker, .. } => {
                broker.stop().await;
                Ok(())
            }
            Kind::Rumqttd => Err(MqttError::Broker("rumqttd cannot be stopped".to_owned())),
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Kind::Native { runtime, .. } = &mut self.kind {
            // Dropping a runtime inside another runtime's task panics; this does not wait.
            if let Some(rt) = runtime.take() {
                rt.shutdown_background();
            }
        }
    }
}

/// Waits up to about 5 s for `addr` to accept connections.
#[expect(
    clippy::disallowed_methods,
    reason = "I/O shell: waits for the broker thread it just started"
)]
fn wait_listening(addr: SocketAddr) -> Result<(), MqttError> {
    for _ in 0..250 {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(MqttError::Broker(format!(
        "rumqttd did not listen on {addr}"
    )))
}

/// A loopback port that was free a moment ago.
pub fn free_loopback_port() -> Result<SocketAddr, MqttError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| MqttError::Broker(e.to_string()))?;
    listener
        .local_addr()
        .map_err(|e| MqttError::Broker(e.to_string()))
}

// rumqttd's configuration API is built on std's HashMap; nothing iterates it here, so its
// order cannot leak into a run.
#[allow(clippy::disallowed_types)]
fn broker_config(addr: SocketAddr) -> rumqttd::Config {
    use std::collections::HashMap;
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: 512 * 1024,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "chargestorm-v4".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    let mut v4 = HashMap::new();
    v4.insert("1".to_owned(), server);
    rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 20_000,
            max_outgoing_packet_count: 200,
            max_segment_size: 4 * 1024 * 1024,
            max_segment_count: 16,
            ..Default::default()
        },
        v4: Some(v4),
        ..Default::default()
    }
}
