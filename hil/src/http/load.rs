//! An open-loop push load from chargestorm's operator platform to a monitoring platform
//! elsewhere (another process or machine): what `chargestorm bench --only http` measures.
//!
//! The operator is the real [`OperatorPlatform`] served by [`serve_machine_with_client`] (its driver and
//! HTTP client, the same code path as `chargestorm run --platform URL`). A generator changes
//! connector statuses at a fixed rate; every change is a `notification_stationStatus` push to
//! each peer. Each change carries its *intended* time (start + k / rate), and the operator
//! records latency from it, so a generator or client that falls behind shows up in the
//! corrected percentiles; the generator's own lag is reported too.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use sim_core::metrics::{Metrics, new_histogram};
use sim_core::report::LatencySummary;
use sim_core::tcec::ConnectorSnapshot;
use sim_core::tcec::PeerId;
use sim_core::tcec::demo;
use sim_core::tcec::operator::{ConnectorIdx, OperatorConfig, OperatorPlatform};
use sim_core::tcec::wire::objects::ConnectorStatus;
use sim_core::time::{Duration, Instant};
use tokio::net::TcpListener;

use super::client::{ClientTls, HttpClient, Routes};
use super::clock::WallClock;
use super::shared::Shared;
use super::{HttpError, RunningServer, serve_machine_with_client};

/// A generator whose lag p99 exceeds this is reported as having fallen behind.
pub const LAG_P99_LIMIT_MS: f64 = 5.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct PushLoadConfig {
    /// Base URL of the monitoring platform; every peer of `operator` is routed to it.
    pub platform_url: String,
    /// The operator (its epoch is replaced by the wall clock's). Its peers are the sender
    /// identities (see [`demo::add_operator_identities`]).
    pub operator: OperatorConfig,
    /// Stations registered before the load starts (2 DC chargers of 2 guns each).
    pub stations: u32,
    /// Outbound requests per second over all peers.
    pub rate_per_s: f64,
    /// Load before the measured window (connections open, tokens fetched, pools warm).
    pub warmup: StdDuration,
    /// The measured window.
    pub measure: StdDuration,
    /// Requests pipelined per connection (0: one at a time on hyper's connections).
    pub pipeline: usize,
}

/// What the measured window saw.
#[derive(Debug, Clone)]
pub struct PushLoadReport {
    /// Sender identities (peers) the requests were spread over.
    pub peers: usize,
    /// Requests asked for per second.
    pub target_per_s: f64,
    /// Pushes answered `Ret 0` in the window.
    pub delivered: u64,
    /// Pushes given up or dropped in the window.
    pub failed: u64,
    /// Pushes still queued or in flight at the end of the window.
    pub pending: usize,
    /// Length of the window, s.
    pub wall_s: f64,
    /// CPU seconds of this process over the window, from the caller's probe.
    pub cpu_s: Option<f64>,
    /// CPU seconds of the platform's process over the window, from the caller's probe.
    pub platform_cpu_s: Option<f64>,
    /// Latency from the intended send time, ms.
    pub corrected: Option<LatencySummary>,
    /// Latency from the actual send time, ms.
    pub service: Option<LatencySummary>,
    /// Generator lag (how late a status change was handed to the operator), p99, ms.
    pub lag_p99_ms: f64,
    /// Generator lag, maximum, ms.
    pub lag_max_ms: f64,
    /// Errors counted by the operator in the window, by name.
    pub errors: BTreeMap<String, u64>,
}

impl PushLoadReport {
    /// Requests completed per second in the window.
    pub fn rate_per_s(&self) -> f64 {
        (self.delivered + self.failed) as f64 / self.wall_s.max(1e-9)
    }

    /// CPU per completed request, µs.
    pub fn cpu_per_request_us(&self) -> Option<f64> {
        self.cpu_s
            .map(|c| c * 1e6 / (self.delivered + self.failed).max(1) as f64)
    }

    /// Whether the generator fell behind its schedule (the run did not offer the rate).
    pub fn fell_behind(&self) -> bool {
        self.lag_p99_ms > LAG_P99_LIMIT_MS
    }
}

/// The generator's schedule: change `k` is due at `start + k / rate` and toggles connector
/// `k % n` between idle and occupied.
struct Schedule {
    start: Instant,
    period_us: f64,
    next: u64,
    connectors: Vec<ConnectorIdx>,
    snapshots: [ConnectorSnapshot; 2],
    lag_us: hdrhistogram::Histogram<u64>,
}

impl Schedule {
    fn due(&self, k: u64) -> Instant {
        self.start + Duration::from_micros((k as f64 * self.period_us) as u64)
    }

    /// Hands every change due by `now` to the operator.
    fn run_due(&mut self, op: &mut OperatorPlatform, now: Instant) {
        let n = self.connectors.len().max(1) as u64;
        let mut first = true;
        while self.due(self.next) <= now {
            let k = self.next;
            let at = self.due(k);
            if first {
                let _ = self.lag_us.record((now - at).as_micros().max(1));
                first = false;
            }
            let snapshot = &self.snapshots[usize::from((k / n) % 2 == 1)];
            if let Some(c) = self.connectors.get((k % n) as usize) {
                op.connector_status(at, *c, snapshot);
            }
            self.next += 1;
        }
    }
}

/// CPU seconds so far of this process and of the platform's (sampled at the window's edges).
pub type CpuProbe = dyn Fn() -> (Option<f64>, Option<f64>) + Send + Sync;

/// Runs the load against `config.platform_url` and reports the measured window.
pub async fn push_load(
    mut config: PushLoadConfig,
    cpu: &CpuProbe,
) -> Result<PushLoadReport, HttpError> {
    let clock = WallClock::start();
    config.operator.epoch = clock.beijing_epoch();
    let peers = config.operator.peers.len().max(1);
    let mut operator = OperatorPlatform::new(config.operator.clone())
        .map_err(|e| HttpError::Machine(e.to_string()))?;
    let op_id = config.operator.operator_id.clone();
    let now = clock.now();
    let connectors: Vec<ConnectorIdx> = (0..config.stations)
        .flat_map(|i| {
            operator
                .add_station(now, demo::station(&op_id, i, 2, 2, true))
                .connectors
        })
        .collect();
    let routes = (0..peers).try_fold(Routes::new(), |r, i| {
        r.with(PeerId(i as u16), &config.platform_url)
    })?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client = HttpClient::pipelined(&ClientTls::default(), config.pipeline)?;
    let server = serve_machine_with_client(listener, operator, clock, routes, None, client)?;
    let shared = server.shared().clone();
    wait_until_idle(&shared, StdDuration::from_secs(60)).await;
    let occupied = ConnectorSnapshot {
        status: ConnectorStatus::OccupiedNotCharging,
        ..ConnectorSnapshot::idle()
    };
    let mut schedule = Schedule {
        start: clock.now(),
        period_us: 1e6 * peers as f64 / config.rate_per_s.max(1.0),
        next: 0,
        connectors,
        snapshots: [occupied, ConnectorSnapshot::idle()],
        lag_us: new_histogram(),
    };
    // The first round of changes moves every connector from the idle it was registered
    // with to occupied; the schedule alternates from there.
    generate(&shared, &clock, &mut schedule, config.warmup).await;
    let (stats0, cpu0) = {
        let mut guard = shared.lock();
        guard.metrics = Metrics::new();
        (guard.machine.stats(), cpu())
    };
    schedule.lag_us.reset();
    let t0 = clock.now();
    generate(&shared, &clock, &mut schedule, config.measure).await;
    let report = {
        let guard = shared.lock();
        let t1 = clock.now();
        let cpu1 = cpu();
        let stats = guard.machine.stats();
        let latency = guard.metrics.latency_series().next().map(|(_, s)| s);
        PushLoadReport {
            peers,
            target_per_s: config.rate_per_s,
            delivered: stats.pushes_delivered - stats0.pushes_delivered,
            failed: (stats.pushes_failed + stats.pushes_dropped)
                - (stats0.pushes_failed + stats0.pushes_dropped),
            pending: guard.machine.pending_pushes(),
            wall_s: (t1 - t0).as_secs_f64(),
            cpu_s: cpu1.0.zip(cpu0.0).map(|(b, a)| b - a),
            platform_cpu_s: cpu1.1.zip(cpu0.1).map(|(b, a)| b - a),
            corrected: latency.map(|s| LatencySummary::from_histogram(&s.corrected_us)),
            service: latency.map(|s| LatencySummary::from_histogram(&s.service_us)),
            lag_p99_ms: schedule.lag_us.value_at_quantile(0.99) as f64 / 1000.0,
            lag_max_ms: schedule.lag_us.max() as f64 / 1000.0,
            errors: guard
                .metrics
                .errors()
                .into_iter()
                .map(|(k, v)| (k, v.count))
                .collect(),
        }
    };
    stop(server).await;
    Ok(report)
}

/// Feeds the schedule for `length` of wall time, waking every millisecond.
async fn generate(
    shared: &Shared<OperatorPlatform>,
    clock: &WallClock,
    schedule: &mut Schedule,
    length: StdDuration,
) {
    let end = clock.now() + Duration::from_micros(length.as_micros() as u64);
    let mut tick = tokio::time::interval(StdDuration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = clock.now();
        let until = now.min(end);
        shared.with(|op, _, _| schedule.run_due(op, until));
        if now >= end {
            break;
        }
    }
}

/// Waits until the operator has nothing queued or in flight (the station pushes and
/// token fetches of the set-up), or `limit` passed.
async fn wait_until_idle(shared: &Shared<OperatorPlatform>, limit: StdDuration) {
    let deadline = tokio::time::Instant::now() + limit;
    while !shared.lock().machine.is_idle() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

async fn stop(server: RunningServer<OperatorPlatform>) {
    // Let the last pushes land so the platform is not torn down mid-request.
    wait_until_idle(server.shared(), StdDuration::from_secs(10)).await;
    server.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{PlatformServerConfig, serve_platform};
    use sim_core::tcec::harness::OPERATOR_ID;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_load_is_delivered_and_measured_with_and_without_pipelining() {
        // One after the other: two loads at once would each slow the other's generator.
        short_load(0).await;
        short_load(8).await;
    }

    async fn short_load(pipeline: usize) {
        let seed = 7;
        let spec = profiles::scenario::HttpSpec {
            operator_id: OPERATOR_ID.to_owned(),
            ..Default::default()
        };
        let (mut op, mut pc) = sim_core::fleet::http_configs(
            &spec,
            seed,
            sim_core::tcec::wire::CivilEpoch::beijing(0),
        )
        .unwrap();
        demo::add_operator_identities(&mut op, 2, seed).unwrap();
        demo::add_platform_identities(&mut pc, 2, seed).unwrap();
        let platform = serve_platform(
            "127.0.0.1:0".parse().unwrap(),
            PlatformServerConfig {
                platform: pc,
                operator_urls: vec![],
                tls: None,
                client_tls: ClientTls::default(),
            },
        )
        .await
        .unwrap();
        let report = push_load(
            PushLoadConfig {
                platform_url: platform.base_url(),
                operator: op,
                stations: 10,
                rate_per_s: 400.0,
                warmup: StdDuration::from_millis(300),
                measure: StdDuration::from_secs(1),
                pipeline,
            },
            &|| (Some(1.0), None),
        )
        .await
        .unwrap();
        let counts = platform.shared().with(|p, _, _| p.counts());
        platform.shutdown().await;
        assert_eq!(report.peers, 2);
        assert_eq!(report.failed, 0, "{report:?}");
        assert!(report.errors.is_empty(), "{report:?}");
        // 400/s for about a second, give or take the last millisecond's tick.
        assert!((380..=420).contains(&report.delivered), "{report:?}");
        assert_eq!((report.cpu_s, report.platform_cpu_s), (Some(0.0), None));
        let corrected = report.corrected.unwrap();
        assert!(
            corrected.count >= 380 && corrected.p50 > 0.0,
            "{corrected:?}"
        );
        // Station info for both identities, and every status push arrived.
        assert_eq!(counts.station_info, 20);
        assert!(counts.station_status >= report.delivered, "{counts:?}");
    }
}
