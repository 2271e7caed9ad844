//! [`EmbeddedBroker`]: a rumqttd MQTT 3.1.1 broker started in-process on a free loopback port,
//! the default broker of a run.
//!
//! Tuned for a fleet of thousands of simulated chargers on one machine (rumqttd's sample
//! configuration is for a handful of devices):
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

/// A running in-process broker. It lives until the process exits (rumqttd has no shutdown).
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts a broker on `127.0.0.1` at a free port and waits until it accepts connections.
    pub fn start() -> Result<Self, MqttError> {
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
        Ok(EmbeddedBroker { addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL, `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> super::BrokerUrl {
        super::BrokerUrl::loopback(self.addr.port())
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
