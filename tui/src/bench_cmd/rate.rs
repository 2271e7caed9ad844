//! The MQTT rate runs (`mqtt-qos0-100k`, `mqtt-qos2-10k`): the simulator runs the chargers
//! with `backend = "external"`, and the bench process runs the scenario's reference backend
//! beside them on the same Mosquitto, so that every uplink is counted where it arrives and
//! the backend's QoS 2 command load is timed from each command's scheduled send time to
//! its confirmation.
//!
//! The Mosquitto of these runs allows [`BACKEND_INFLIGHT`] QoS 1/2 messages in flight per
//! client, and the backend's rumqttc window is the same: one connection carrying 10,000
//! QoS 2 commands/s cannot do it through a window of 20 (20 per round trip), and a client
//! window wider than the broker's would lose messages silently. The chargers keep their 20.

use anyhow::{Context, Result, bail};
use hil::mqtt::{BackendRunner, BrokerUrl, MqttSettings, RealClock, RunnerStats};
use sim_core::report::{LatencySummary, Report};
use std::fmt::Write as _;
use std::net::SocketAddr;

/// The in-flight window of the bench's Mosquitto and of the hosted backend's connection.
pub const BACKEND_INFLIGHT: u16 = 1000;

/// The figures the hosted backend measured.
#[derive(Debug, Clone, Default)]
pub struct RateFigures {
    /// Uplink publishes the backend received (every class).
    pub received: u64,
    /// Downlink publishes the backend handed to its connection.
    pub published: u64,
    /// Load commands scheduled (0 without a command load).
    pub commands: u64,
    /// The load commands' latency from their scheduled send time (corrected) and from
    /// their actual send time (service), ms.
    pub command_latency: Option<(LatencySummary, LatencySummary)>,
    /// Requests of the backend that got no confirmation in time.
    pub timeouts: u64,
    /// Every error the backend counted.
    pub errors: u64,
    /// Mosquitto's own publish counters at the end (`None` if it did not publish them).
    pub broker: Option<hil::mqtt::PublishCounters>,
    /// CPU seconds Mosquitto used while the simulator ran.
    pub broker_cpu_s: f64,
    /// CPU seconds the bench process (the hosted backend) used while the simulator ran.
    pub backend_cpu_s: f64,
    /// The same broker's ceiling with bare clients at the same offered rate.
    pub peer: Option<PeerCeiling>,
}

/// Bare rumqttc publishers (as many as the run's chargers, QoS 0, at the run's offered
/// rate) and one bare subscriber on the same Mosquitto, after the run: what the broker
/// passes on this machine when nothing is simulated.
#[derive(Debug, Clone)]
pub struct PeerCeiling {
    /// Publishers connected.
    pub clients: usize,
    /// Publishes per second offered.
    pub offered_per_s: f64,
    /// What the publishers and the subscriber measured.
    pub result: super::baseline::BaselineResult,
    /// Mosquitto's CPU seconds meanwhile.
    pub broker_cpu_s: f64,
}

/// Where the uplinks the chargers sent and the backend did not receive were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossAttribution {
    /// Never received by the broker (left in the simulator at its end, or in transit).
    pub before_broker: u64,
    /// Dropped by the broker at its `max_queued_messages` / in-flight limits.
    pub broker_dropped: u64,
    /// Received by the broker, not dropped, and still not received by the backend.
    pub unexplained: u64,
}

impl RateFigures {
    /// Splits the lost uplinks (`sent` by the chargers minus those the backend received)
    /// with the broker's own counters: the broker received the chargers' uplinks plus the
    /// backend's downlinks.
    pub fn attribute_loss(&self, sent: u64) -> Option<LossAttribution> {
        let broker = self.broker?;
        let lost = sent.saturating_sub(self.received);
        let uplinks_at_broker = broker.received.saturating_sub(self.published);
        let before_broker = sent.saturating_sub(uplinks_at_broker).min(lost);
        let broker_dropped = broker.dropped.min(lost - before_broker);
        Some(LossAttribution {
            before_broker,
            broker_dropped,
            unexplained: lost - before_broker - broker_dropped,
        })
    }
}

/// The reference backend of a bundled scenario, running in the bench process.
pub struct HostedBackend {
    runner: BackendRunner,
}

impl HostedBackend {
    /// Connects the reference backend of `scenario` (its seed, registration code, cards
    /// and command load) to the broker at `broker`.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        broker: SocketAddr,
        scenario: &str,
        command_rate: Option<f64>,
    ) -> Result<Self> {
        let lib = profiles::Library::bundled().context("the bundled profiles are broken")?;
        let resolved = lib.load_scenario(scenario)?;
        let Some(seed) = resolved.scenario.scenario.seed else {
            bail!("benchmark scenario {scenario} names no seed");
        };
        let spec = &resolved.scenario.mqtt;
        let mut backend =
            sim_core::fleet::reference_backend(spec, crate::serve_cmd::wall_clock_now(), seed)
                .map_err(anyhow::Error::msg)?;
        if let Some(rate) = command_rate.filter(|_| spec.command_rate_per_s > 0.0) {
            backend.set_command_load(rate);
        }
        let mut settings = MqttSettings::new(BrokerUrl::loopback(broker.port()));
        settings.keep_alive = std::time::Duration::from_secs(u64::from(spec.heartbeat_interval_s));
        settings.broker_max_inflight = BACKEND_INFLIGHT;
        settings.inflight = BACKEND_INFLIGHT;
        let runner = runtime
            .block_on(BackendRunner::start(&settings, backend, RealClock::start()))
            .context("the benchmark's reference backend could not connect to Mosquitto")?;
        Ok(HostedBackend { runner })
    }

    /// Stops the command load (the chargers have gone), lets the last messages arrive,
    /// stops the backend and returns what it measured.
    pub fn finish(
        self,
        runtime: &tokio::runtime::Runtime,
        broker: &hil::mqtt::Mosquitto,
    ) -> Result<RateFigures> {
        let commands = runtime
            .block_on(self.runner.call(|b, _| {
                let n = b.load_commands_scheduled();
                b.set_command_load(0.0);
                n
            }))
            .context("the benchmark's backend stopped early")?;
        // Messages still queued in the broker or the backend's socket are in transit, not
        // lost: wait until the backend's count stops growing (at most 30 s).
        runtime.block_on(async {
            let mut last = None;
            for _ in 0..60 {
                let received = self.runner.call(|b, _| b.stats().received).await;
                if received.is_none() || received == last {
                    break;
                }
                last = received;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        });
        let metrics = runtime
            .block_on(self.runner.metrics())
            .context("the benchmark's backend stopped early")?;
        let (_, stats): (_, RunnerStats) = runtime
            .block_on(self.runner.stop())
            .context("the benchmark's backend did not stop cleanly")?;
        let command_latency = metrics
            .latency_series()
            .find(|(name, _)| *name == "mqtt.GetConfigurationReq")
            .filter(|(_, s)| !s.corrected_us.is_empty())
            .map(|(_, s)| {
                (
                    LatencySummary::from_histogram(&s.corrected_us),
                    LatencySummary::from_histogram(&s.service_us),
                )
            });
        let errors = metrics.errors();
        // Mosquitto refreshes its $SYS counters every second: wait past one refresh after
        // the last message arrived.
        let counters = runtime.block_on(async {
            tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
            broker.publish_counters().await
        });
        let counters = match counters {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("bench: no broker counters: {e}");
                None
            }
        };
        Ok(RateFigures {
            broker: counters,
            broker_cpu_s: 0.0,
            backend_cpu_s: 0.0,
            peer: None,
            received: stats.received,
            published: stats.published,
            commands,
            command_latency,
            timeouts: errors.get("mqtt.backend.timeout").map_or(0, |e| e.count),
            errors: errors.values().map(|e| e.count).sum(),
        })
    }
}

/// The rate runs' table: rate offered and reached, every uplink counted at the backend,
/// the command load's latency, the generator's lag, and the simulator's cost.
pub(super) fn render<'a>(
    md: &mut String,
    outcomes: impl Iterator<Item = (&'a Report, &'a RateFigures, bool)>,
) {
    md.push_str(
        "## MQTT rate runs through Mosquitto (loopback, real time)\n\n| Case | Chargers | \
         Uplinks sent | Received by the backend | Lost | Uplink rate reached | Commands \
         scheduled / answered | Command rate reached | Command latency p50 / p99 (corrected) \
         | Service p99 | Backend timeouts | Generator lag p99 | Kept up | CPU per message | \
         RSS per charger | Lost: before the broker / dropped by it / unexplained | CPU cores: \
         simulator / backend / Mosquitto |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let outcomes: Vec<_> = outcomes.collect();
    for &(r, f, cut_short) in &outcomes {
        let (publishes, up) = super::mqtt_publishes(r);
        let seconds = r.simulated_s.max(1.0);
        let answered = f.command_latency.as_ref().map_or(0, |(c, _)| c.count);
        let (lag, kept) = r
            .details
            .pacing
            .as_ref()
            .map_or((f64::NAN, false), |p| (p.lag_p99_ms, p.kept_up()));
        // The chargers' own publishes plus the commands they received: what the simulator
        // process handled.
        let handled = publishes.max(up + answered);
        let _ = writeln!(
            md,
            "| {}{} | {} | {up} | {} | {} | {:.0}/s | {} / {answered} | {:.0}/s | {} | {} | {} | \
             {lag:.1} ms | {} | {:.1} µs | {:.1} KiB | {} | {:.2} / {:.2} / {:.2} |",
            r.scenario,
            if cut_short { " (stopped)" } else { "" },
            r.connectors.total,
            f.received,
            up.saturating_sub(f.received),
            f.received as f64 / seconds,
            f.commands,
            answered as f64 / seconds,
            f.command_latency
                .as_ref()
                .map_or("–".into(), |(c, _)| format!(
                    "{:.1} / {:.1} ms",
                    c.p50, c.p99
                )),
            f.command_latency
                .as_ref()
                .map_or("–".into(), |(_, s)| format!("{:.1} ms", s.p99)),
            f.timeouts,
            if kept { "yes" } else { "**no**" },
            super::cpu_s(r) * 1e6 / handled.max(1) as f64,
            super::rss_kib(r) as f64 / r.connectors.total.max(1) as f64,
            f.attribute_loss(up).map_or("–".into(), |a| format!(
                "{} / {} / {}",
                a.before_broker, a.broker_dropped, a.unexplained
            )),
            super::cpu_s(r) / r.wall_s.max(1e-9),
            f.backend_cpu_s / r.wall_s.max(1e-9),
            f.broker_cpu_s / r.wall_s.max(1e-9),
        );
    }
    md.push_str(
        "\nThe bench runs the scenario's reference backend in its own process on the same \
         Mosquitto (`max_inflight_messages` 1000 and the backend's window 1000; the chargers \
         keep 20). \"Lost\" is uplinks the chargers' report counts as sent minus those the \
         backend received. Command latency runs from each command's scheduled send time to \
         its confirmation (QoS 2 both ways); commands scheduled but not answered were in \
         flight at the end or timed out. QoS 0 telemetry carries no send time finer than a \
         second, so its latency is bounded by the generator lag and the broker path, not \
         timed per message. CPU per message is the simulator process over the publishes it \
         sent and the commands it answered. Lost uplinks are split with Mosquitto's own \
         `$SYS/broker/publish/messages/*` counters: before the broker (sent minus the \
         uplinks the broker received, i.e. its received publishes minus the backend's \
         downlinks), dropped by the broker, and the rest. CPU cores are each process's CPU \
         time over the simulator's wall time: the simulator, the bench process (the hosted \
         backend) and Mosquitto (single-threaded: 1.00 is its ceiling).\n\n",
    );
    render_peers(
        md,
        outcomes
            .iter()
            .filter_map(|(r, f, _)| Some((*r, f.peer.as_ref()?))),
    );
}

/// The broker's ceiling with bare clients, beside the rate runs that measured it.
fn render_peers<'a>(md: &mut String, peers: impl Iterator<Item = (&'a Report, &'a PeerCeiling)>) {
    let peers: Vec<_> = peers.collect();
    if peers.is_empty() {
        return;
    }
    md.push_str(
        "### The same Mosquitto with bare clients (the peer)\n\n| Case | Publishers | \
         Offered | Published | Delivered to one subscriber | Not delivered | Delivered rate | \
         Latency p50 / p99 / max | chargestorm in the run | Publishers' CPU per message | \
         Mosquitto CPU per delivery |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (r, p) in peers {
        let (_, up) = super::mqtt_publishes(r);
        let b = &p.result;
        let wall = b.publish_wall_s.max(1e-9);
        let seconds = r.simulated_s.max(1.0);
        let ours = format!("{:.0} uplinks/s", up as f64 / seconds);
        let _ = writeln!(
            md,
            "| {} | {} | {:.0}/s | {} | {} | {} | {:.0}/s | {} | {ours} | {:.1} µs | {:.1} µs |",
            r.scenario,
            b.connected,
            p.offered_per_s,
            b.published,
            b.delivered,
            b.published.saturating_sub(b.delivered),
            b.delivered as f64 / wall,
            b.latency_ms.map_or("–".into(), |[p50, p99, max]| format!(
                "{p50:.1} / {p99:.1} / {max:.1} ms"
            )),
            b.cpu_per_message_us(),
            p.broker_cpu_s * 1e6 / b.delivered.max(1) as f64,
        );
    }
    md.push_str(
        "\nAfter the run, bare rumqttc clients (`chargestorm bench-baseline --subscribe`: as \
         many publishers as the run had chargers, QoS 0, round-robin at the run's offered \
         rate, one subscriber on `/U/M/+`) go through the same Mosquitto: the rate it \
         delivers when nothing is simulated. Latency runs from each publish's intended send \
         time (its 10 ms tick) to its delivery. \"Published\" counts what the clients took \
         (rumqttc's request queue); QoS 0 has no acknowledgement, so what was not delivered \
         was dropped by a client, the broker or its queue to the subscriber. Both CPU figures \
         include the connections' set-up.\n\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_uplinks_are_split_by_the_broker_counters() {
        let f = RateFigures {
            received: 900,
            published: 50,
            broker: Some(hil::mqtt::PublishCounters {
                // 960 uplinks and the backend's 50 downlinks reached the broker.
                received: 1010,
                sent: 950,
                dropped: 40,
            }),
            ..RateFigures::default()
        };
        // 1,000 sent: 40 never reached the broker, 40 dropped by it, 20 unexplained.
        let a = f.attribute_loss(1000).unwrap();
        assert_eq!(
            (a.before_broker, a.broker_dropped, a.unexplained),
            (40, 40, 20)
        );
        // Nothing lost: nothing attributed, whatever the broker dropped elsewhere.
        let a = f.attribute_loss(900).unwrap();
        assert_eq!(
            (a.before_broker, a.broker_dropped, a.unexplained),
            (0, 0, 0)
        );
        assert!(RateFigures::default().attribute_loss(10).is_none());
    }

    #[test]
    fn the_peer_row_shows_what_bare_clients_got_through() {
        let mut r = crate::bench_cmd::tests::empty_report("q0");
        r.messages
            .insert("mqtt".into(), [("U/M".to_owned(), 500_000)].into());
        let peer = PeerCeiling {
            clients: 2,
            offered_per_s: 100_000.0,
            result: crate::bench_cmd::baseline::BaselineResult {
                connected: 2,
                published: 1_000_000,
                cpu_s: 10.0,
                max_rss_kib: 0,
                delivered: 400_000,
                publish_wall_s: 10.0,
                latency_ms: Some([1.0, 2.0, 3.0]),
            },
            broker_cpu_s: 4.0,
        };
        let mut md = String::new();
        render_peers(&mut md, [(&r, &peer)].into_iter());
        // 600,000 not delivered, 40,000/s delivered against the run's 50,000/s, 10 µs of
        // the publishers' CPU per publish and 10 µs of Mosquitto's per delivery.
        assert!(
            md.contains(
                "| q0 | 2 | 100000/s | 1000000 | 400000 | 600000 | 40000/s | \
                 1.0 / 2.0 / 3.0 ms | 50000 uplinks/s | 10.0 µs | 10.0 µs |"
            ),
            "{md}"
        );
        let mut none = String::new();
        render_peers(&mut none, std::iter::empty());
        assert!(none.is_empty());
    }
}
