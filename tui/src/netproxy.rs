//! The TCP fault proxy of a real-time run: placed between the simulated chargers and
//! their broker (the reference backend keeps its direct connection), it carries out the
//! timeline's `net_*` actions on the chargers' real sockets. Links are tagged with the
//! MQTT client identifier sniffed from each CONNECT, so an action on some chargers
//! reaches exactly their connections, present and future.

use anyhow::{Context, Result, bail};
use hil::mqtt::BrokerUrl;
use hil::proxy::{
    FaultProxy, LinkFaults, PathFaults, ProxyConfig, ProxyHandle, ProxyStats, Target,
};
use profiles::timeline::Action;
use sim_core::fleet::ExternalAction;
use sim_core::report::NetProxyDetails;
use std::time::Duration;

/// A running fault proxy and the client ids of the chargers behind it.
pub struct NetProxy {
    handle: ProxyHandle,
    /// Each local charger's MQTT client identifier (its link tag).
    client_ids: Vec<String>,
}

fn millis(ms: Option<f64>) -> Duration {
    Duration::from_secs_f64(ms.unwrap_or(0.0).max(0.0) / 1000.0)
}

impl NetProxy {
    /// Starts a proxy on a free loopback port relaying to `broker`; returns it and the
    /// URL the chargers must use instead. Plain `mqtt://` only: the proxy reads each
    /// CONNECT to learn which charger a link carries, which TLS hides.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        broker: &BrokerUrl,
        client_ids: Vec<String>,
        seed: u64,
    ) -> Result<(NetProxy, BrokerUrl)> {
        if broker.tls {
            bail!(
                "the network fault proxy needs a plain mqtt:// broker (it tags each charger's \
                 link from its CONNECT, which TLS hides)"
            );
        }
        let host = format!("{}:{}", broker.host.trim_matches(['[', ']']), broker.port);
        let upstream = runtime
            .block_on(tokio::net::lookup_host(host.clone()))
            .with_context(|| format!("cannot resolve the broker {host}"))?
            .next()
            .with_context(|| format!("the broker {host} has no address"))?;
        let config = ProxyConfig {
            seed,
            sniff_mqtt_client_id: true,
            ..ProxyConfig::default()
        };
        let handle = runtime
            .block_on(FaultProxy::start("127.0.0.1:0".parse()?, upstream, config))
            .context("cannot start the network fault proxy")?;
        let url = BrokerUrl {
            host: handle.local_addr().ip().to_string(),
            port: handle.local_addr().port(),
            tls: false,
        };
        Ok((NetProxy { handle, client_ids }, url))
    }

    /// Where the proxy listens and where it relays to.
    pub fn describe(&self) -> String {
        format!(
            "network fault proxy {} → {}",
            self.handle.local_addr(),
            self.handle.upstream()
        )
    }

    /// The proxy's counters, for the report.
    pub fn details(&self) -> NetProxyDetails {
        let s: ProxyStats = self.handle.stats();
        NetProxyDetails {
            accepted: s.accepted,
            refused: s.refused,
            injected_resets: s.injected_resets,
            injected_cuts: s.injected_cuts,
            broken: s.broken,
            bytes_up: s.bytes_up,
            bytes_down: s.bytes_down,
        }
    }

    /// The links an action targets: every link for `all = true`, else the chargers' tags.
    fn targets(&self, action: &ExternalAction) -> Vec<Target> {
        if action.spec.all {
            return vec![Target::All];
        }
        action
            .chargers
            .iter()
            .filter_map(|&k| self.client_ids.get(k))
            .map(|id| Target::Tag(id.clone()))
            .collect()
    }

    /// The standing faults a `net_*` action sets (`None` for the one-shot ones).
    fn faults(action: &ExternalAction) -> Option<LinkFaults> {
        let spec = &action.spec;
        let path = match spec.action {
            Action::NetLatency => PathFaults::none()
                .with_latency(millis(spec.delay_ms))
                .with_jitter(millis(spec.jitter_ms)),
            Action::NetBandwidth => {
                let kbit = spec.kbit_per_s.unwrap_or(0.0);
                PathFaults::none().with_bandwidth((kbit * 1000.0 / 8.0).round().max(1.0) as u64)
            }
            Action::NetStall => PathFaults::none().with_stall(
                action
                    .duration()
                    .map_or(Duration::ZERO, |d| Duration::from_micros(d.as_micros())),
            ),
            Action::NetHalfOpen => PathFaults::none().with_half_open(true),
            Action::NetCut if spec.duration.is_some() => return Some(LinkFaults::refuse_new()),
            _ => return None,
        };
        Some(LinkFaults::both(path))
    }

    /// Carries out (or, when `action.ending`, undoes) a `net_*` action; returns how many
    /// chargers it reached (every charger for `all = true`).
    pub fn apply(&self, action: &ExternalAction) -> u32 {
        let targets = self.targets(action);
        let reach = if action.spec.all {
            self.client_ids.len() as u32
        } else {
            targets.len() as u32
        };
        if action.ending {
            for t in targets {
                self.handle.clear(t);
            }
            return reach;
        }
        match action.spec.action {
            Action::NetReset => targets
                .into_iter()
                .map(|t| self.handle.reset(t))
                .sum::<usize>() as u32,
            Action::NetCut => {
                let hit = targets
                    .iter()
                    .map(|t| self.handle.cut(t.clone()))
                    .sum::<usize>() as u32;
                if let Some(faults) = Self::faults(action) {
                    for t in targets {
                        self.handle.set_faults(t, faults.clone());
                    }
                }
                hit
            }
            _ => match Self::faults(action) {
                Some(faults) => {
                    for t in targets {
                        self.handle.set_faults(t, faults.clone());
                    }
                    reach
                }
                None => 0,
            },
        }
    }

    /// Stops accepting and closes every link.
    pub fn shutdown(&self, runtime: &tokio::runtime::Runtime) {
        runtime.block_on(self.handle.shutdown());
    }
}
