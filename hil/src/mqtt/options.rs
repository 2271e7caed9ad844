//! Broker address, credentials and TLS, and the rumqttc options every connection gets.
//!
//! Traps measured against Mosquitto 2.0.11 on loopback (shared/reference/reliability.md §1):
//! TCP no-delay is set on every connection (Nagle added 30–45 ms per exchange); the in-flight
//! window is capped at 20 (rumqttc's default of 100 against Mosquitto's
//! `max_inflight_messages 20` lost QoS 2 messages silently); nothing relies on rumqttc's pending
//! queue surviving a reconnect (it is dropped when the broker kept no session — the charger's
//! outbox re-sends transaction messages itself).

use std::path::PathBuf;
use std::time::Duration;

use rumqttc::{MqttOptions, NetworkOptions, TlsConfiguration, Transport};

use super::MqttError;

/// The largest in-flight window chargestorm uses (Mosquitto's default `max_inflight_messages`).
pub const MAX_INFLIGHT: u16 = 20;

/// Which client engine carries a fleet's connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MqttTransport {
    /// chargestorm's batched engine: all connections on one `mio` I/O thread (plain TCP
    /// only; `mqtts://` falls back to rumqttc).
    #[default]
    Native,
    /// One rumqttc event loop per connection, each on its own tokio task.
    Rumqttc,
}

impl std::str::FromStr for MqttTransport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" => Ok(MqttTransport::Native),
            "rumqttc" => Ok(MqttTransport::Rumqttc),
            other => Err(format!("unknown MQTT client {other:?} (native or rumqttc)")),
        }
    }
}

/// Where the broker is: `mqtt://HOST:PORT` (TCP) or `mqtts://HOST:PORT` (TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port (1883 / 8883 by default).
    pub port: u16,
    /// TLS (`mqtts://`).
    pub tls: bool,
}

impl BrokerUrl {
    /// Parses `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]` (IPv6 hosts in brackets).
    pub fn parse(url: &str) -> Result<Self, MqttError> {
        let bad = || MqttError::BadUrl {
            url: url.to_owned(),
        };
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let rest = rest.trim_end_matches('/');
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if after.is_empty() => default_port,
                None => return Err(bad()),
            };
            (host.to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
                None => (rest.to_owned(), default_port),
            }
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad());
        }
        Ok(BrokerUrl { host, port, tls })
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn loopback(port: u16) -> Self {
        BrokerUrl {
            host: "127.0.0.1".to_owned(),
            port,
            tls: false,
        }
    }
}

/// Connection settings shared by every client of a run.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// The broker.
    pub url: BrokerUrl,
    /// User name and password, if the broker wants them.
    pub credentials: Option<(String, String)>,
    /// PEM file of the CA that signed the broker's certificate; required for `mqtts://`.
    pub ca_file: Option<PathBuf>,
    /// MQTT keep-alive (the seed's only heartbeat).
    pub keep_alive: Duration,
    /// Clean session: false asks the broker to keep subscriptions and queued QoS 2 messages
    /// across reconnects (the outbox does not depend on it).
    pub clean_session: bool,
    /// In-flight window, capped at `broker_max_inflight`.
    pub inflight: u16,
    /// The broker's `max_inflight_messages` ([`MAX_INFLIGHT`], Mosquitto's default, unless
    /// the broker is known to allow more): the in-flight window never exceeds it, because a
    /// wider client window than the broker's loses QoS 2 messages silently.
    pub broker_max_inflight: u16,
    /// rumqttc's request channel per connection.
    pub request_capacity: usize,
    /// Largest packet accepted and sent.
    pub max_packet_size: usize,
    /// TCP connect timeout (the native engine also waits this long for the CONNACK).
    pub connect_timeout: Duration,
    /// The client engine; `mqtts://` always uses rumqttc (see [`MqttSettings::engine`]).
    pub transport: MqttTransport,
}

impl MqttSettings {
    /// Defaults for `url`: 60 s keep-alive, clean session, in-flight 20.
    pub fn new(url: BrokerUrl) -> Self {
        MqttSettings {
            url,
            credentials: None,
            ca_file: None,
            keep_alive: Duration::from_secs(60),
            clean_session: true,
            inflight: MAX_INFLIGHT,
            broker_max_inflight: MAX_INFLIGHT,
            request_capacity: 256,
            max_packet_size: 512 * 1024,
            connect_timeout: Duration::from_secs(5),
            transport: MqttTransport::default(),
        }
    }

    /// The engine that will actually run: the chosen one, except that TLS always runs on
    /// rumqttc (the native engine speaks plain TCP only).
    pub fn engine(&self) -> MqttTransport {
        if self.url.tls {
            MqttTransport::Rumqttc
        } else {
            self.transport
        }
    }

    /// The in-flight window: the settings' value clamped to 1..=`broker_max_inflight`.
    pub fn inflight_window(&self) -> u16 {
        self.inflight.clamp(1, self.broker_max_inflight.max(1))
    }

    /// The rumqttc options for client `client_id`, and its network options (no-delay).
    pub fn client_options(
        &self,
        client_id: &str,
    ) -> Result<(MqttOptions, NetworkOptions), MqttError> {
        let mut o = MqttOptions::new(client_id, self.url.host.clone(), self.url.port);
        o.set_keep_alive(self.keep_alive.max(Duration::from_secs(1)));
        o.set_clean_session(self.clean_session);
        o.set_inflight(self.inflight_window());
        o.set_request_channel_capacity(self.request_capacity.max(1));
        o.set_max_packet_size(self.max_packet_size, self.max_packet_size);
        if let Some((user, pass)) = &self.credentials {
            o.set_credentials(user.clone(), pass.clone());
        }
        if self.url.tls {
            o.set_transport(self.tls_transport()?);
        }
        let mut net = NetworkOptions::new();
        net.set_tcp_nodelay(true);
        net.set_connection_timeout(self.connect_timeout.as_secs().max(1));
        Ok((o, net))
    }

    /// TLS with the CA file as the only root (rustls). A CA file is required: rumqttc's
    /// platform-roots default panics on a machine without a certificate store.
    fn tls_transport(&self) -> Result<Transport, MqttError> {
        let Some(path) = &self.ca_file else {
            return Err(MqttError::NoCaFile);
        };
        let ca = std::fs::read(path).map_err(|source| MqttError::CaFile {
            path: path.clone(),
            source,
        })?;
        Ok(Transport::tls_with_config(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_broker_urls() {
        assert_eq!(
            BrokerUrl::parse("mqtt://127.0.0.1:1884").unwrap(),
            BrokerUrl::loopback(1884)
        );
        let tls = BrokerUrl::parse("mqtts://broker.example:8884/").unwrap();
        assert_eq!(
            (tls.host.as_str(), tls.port, tls.tls),
            ("broker.example", 8884, true)
        );
        assert_eq!(BrokerUrl::parse("mqtts://h").unwrap().port, 8883);
        assert_eq!(BrokerUrl::parse("mqtt://h").unwrap().port, 1883);
        assert_eq!(BrokerUrl::parse("mqtt://[::1]:99").unwrap().host, "::1");
        for bad in [
            "http://h:1",
            "mqtt://",
            "mqtt://h:port",
            "mqtt://h:1/x/y",
            "mqtt://[::1",
        ] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_native_engine_is_the_default_for_tcp_and_tls_always_runs_on_rumqttc() {
        let mut s = MqttSettings::new(BrokerUrl::loopback(1));
        assert_eq!(s.engine(), MqttTransport::Native);
        s.transport = "rumqttc".parse().unwrap();
        assert_eq!(s.engine(), MqttTransport::Rumqttc);
        s.transport = "native".parse().unwrap();
        s.url.tls = true;
        assert_eq!(s.engine(), MqttTransport::Rumqttc);
        assert!("paho".parse::<MqttTransport>().is_err());
        s.inflight = 0;
        assert_eq!(s.inflight_window(), 1);
    }

    #[test]
    fn inflight_is_capped_and_ca_errors_name_the_file() {
        let mut s = MqttSettings::new(BrokerUrl::loopback(1));
        s.inflight = 100;
        let (o, _) = s.client_options("c").unwrap();
        assert_eq!(o.inflight(), MAX_INFLIGHT);
        s.broker_max_inflight = 1000;
        let (o, _) = s.client_options("c").unwrap();
        assert_eq!(o.inflight(), 100);
        s.inflight = 5000;
        let (o, _) = s.client_options("c").unwrap();
        assert_eq!(o.inflight(), 1000);
        s.url.tls = true;
        s.ca_file = Some("/nonexistent/ca.pem".into());
        match s.client_options("c") {
            Err(err) => assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}"),
            Ok(_) => panic!("a missing CA file must fail"),
        }
        s.ca_file = None;
        assert!(matches!(s.client_options("c"), Err(MqttError::NoCaFile)));
    }
}
