//! Load: 1,000 stations (2,000 DC connectors) pushing to the reference platform over real
//! HTTP on loopback, and the CPU cost of one exchange in the sans-IO machines.
//!
//! Figures are printed (run with `--nocapture`); the assertions are the T/CEC 102.1
//! indicators and "every push arrived". `CHARGESTORM_LOAD_SECS` (default 15) sets how long
//! the BMS pushes run.

mod http_common;

use http_common::wait_for;
use std::time::Duration as StdDuration;

use hil::http::loopback::{Loopback, LoopbackConfig};
use sim_core::metrics::Metrics;
use sim_core::report::LatencySummary;
use sim_core::tcec::demo;
use sim_core::tcec::harness::{Harness, HarnessConfig, OPERATOR_ID};
use sim_core::tcec::operator::ConnectorIdx;
use sim_core::tcec::wire::objects::ConnectorStatus;
use sim_core::tcec::{ConnectorSnapshot, PeerId};
use sim_core::time::Duration;

const STATIONS: u32 = 1000;

fn charging() -> ConnectorSnapshot {
    ConnectorSnapshot {
        status: ConnectorStatus::OccupiedCharging,
        current_a: [150.0, 0.0, 0.0],
        voltage_v: [400.0, 0.0, 0.0],
        soc_percent: Some(30.0),
        ..ConnectorSnapshot::idle()
    }
}

/// User plus system CPU seconds of this process (Linux `/proc`, 100 ticks per second).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn print_latency(side: &str, metrics: &Metrics) {
    for (name, series) in metrics.latency_series() {
        let s = LatencySummary::from_histogram(&series.corrected_us);
        eprintln!(
            "  {side:9} {name:38} n={:6} mean={:8.2} ms p50={:7.2} p99={:7.2} p99.9={:7.2} max={:8.2} ms",
            s.count,
            series.corrected_us.mean() / 1000.0,
            s.p50,
            s.p99,
            s.p999,
            s.max
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_stations_push_to_the_reference_platform_over_http() {
    let secs: u64 = std::env::var("CHARGESTORM_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let lb = Loopback::start(LoopbackConfig {
        bms_period: Duration::from_secs(5),
        ..Default::default()
    })
    .await
    .unwrap();
    let cpu0 = cpu_seconds();
    let wall0 = tokio::time::Instant::now();
    let connectors: Vec<(ConnectorIdx, String)> = lb.operator.shared().with(|op, _, now| {
        let cs: Vec<ConnectorIdx> = (0..STATIONS)
            .flat_map(|i| {
                op.add_station(now, demo::station(OPERATOR_ID, i, 1, 2, true))
                    .connectors
            })
            .collect();
        cs.into_iter()
            .map(|c| (c, op.connector_id(c).unwrap_or_default().to_owned()))
            .collect()
    });
    let counts = |lb: &Loopback| lb.platform.shared().with(|p, _, _| p.counts());
    wait_for("1,000 station pushes", StdDuration::from_secs(120), || {
        counts(&lb).station_info == u64::from(STATIONS)
    })
    .await;
    let station_wall = wall0.elapsed();
    let burst0 = tokio::time::Instant::now();
    lb.operator.shared().with(|op, _, now| {
        for (c, _) in &connectors {
            op.connector_status(now, *c, &charging());
            op.bms_sample(now, *c, demo::bms_sample(30, 150.0, 400.0));
        }
    });
    lb.platform.shared().with(|p, _, now| {
        for (_, id) in &connectors {
            p.ground_truth(now, PeerId(0), id, &charging());
        }
    });
    let n = connectors.len() as u64;
    wait_for("2,000 status pushes", StdDuration::from_secs(120), || {
        counts(&lb).station_status == n
    })
    .await;
    let burst_wall = burst0.elapsed();
    tokio::time::sleep(StdDuration::from_secs(secs)).await;
    let total_wall = wall0.elapsed();
    let cpu = cpu_seconds().zip(cpu0).map(|(a, b)| a - b);
    // Let the correctness checks (due 10 s after the ground truth) run.
    tokio::time::sleep(StdDuration::from_secs(11u64.saturating_sub(secs))).await;
    let c = counts(&lb);
    let op_stats = lb.operator.shared().with(|op, _, _| op.stats());
    let report = lb.platform.shared().with(|p, _, now| {
        p.ground_truth(now, PeerId(0), "flush", &charging());
        p.correctness()
    });
    let emsp_status = lb.emsp.shared().with(|_, m, _| {
        m.messages_by_protocol()
            .get("http")
            .and_then(|x| x.get("emsp.in.notification_stationStatus"))
            .copied()
            .unwrap_or(0)
    });
    let requests = c.station_info + c.station_status + c.bms + c.tokens_issued + emsp_status;
    eprintln!(
        "load: {STATIONS} stations, {n} DC connectors, BMS every 5 s for {secs} s; status also pushed to the eMSP ({emsp_status})"
    );
    eprintln!(
        "  station pushes: {STATIONS} in {:.2} s ({:.0}/s)",
        station_wall.as_secs_f64(),
        f64::from(STATIONS) / station_wall.as_secs_f64()
    );
    eprintln!(
        "  status burst:   {n} in {:.2} s ({:.0}/s)",
        burst_wall.as_secs_f64(),
        n as f64 / burst_wall.as_secs_f64()
    );
    eprintln!(
        "  total requests: {requests} in {:.1} s ({:.0}/s); pushes failed {}",
        total_wall.as_secs_f64(),
        requests as f64 / total_wall.as_secs_f64(),
        op_stats.pushes_failed
    );
    if let Some(cpu) = cpu {
        eprintln!(
            "  process CPU:    {cpu:.2} s, {:.1} µs per request (both sides, HTTP included)",
            cpu * 1e6 / requests as f64
        );
    }
    eprintln!(
        "  correctness:    {}/{} checks",
        report.correct, report.checked
    );
    lb.operator
        .shared()
        .with(|_, m, _| print_latency("operator", m));
    lb.platform
        .shared()
        .with(|_, m, _| print_latency("platform", m));
    assert_eq!(op_stats.pushes_failed, 0);
    assert!(c.bms >= n, "{c:?}");
    assert_eq!((report.correct, report.checked), (n, n), "{report:?}");
    let indicators = lb
        .operator
        .shared()
        .with(|_, m, _| sim_core::tcec::indicators::assertions(m, Some(&report)));
    assert!(indicators.iter().all(|a| a.passed), "{indicators:?}");
    lb.shutdown().await;
}

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "the test measures wall time of the sans-IO run"
)]
fn sans_io_cost_of_one_push_exchange() {
    // Both machines and the in-memory network on one thread: wall time ≈ CPU time.
    let mut h = Harness::new(HarnessConfig {
        stations: STATIONS,
        chargers: 1,
        connectors: 2,
        ..HarnessConfig::default()
    })
    .unwrap();
    h.run_for(Duration::from_secs(2));
    let cs = h.connectors();
    for c in &cs {
        h.operator
            .bms_sample(h.now(), *c, demo::bms_sample(30, 150.0, 400.0));
        h.operator.connector_status(h.now(), *c, &charging());
    }
    let before = h.platform.counts();
    let t0 = std::time::Instant::now();
    h.run_for(Duration::from_secs(600));
    let elapsed = t0.elapsed();
    let after = h.platform.counts();
    let exchanges = (after.station_status - before.station_status) + (after.bms - before.bms);
    let per = elapsed.as_secs_f64() * 1e6 / exchanges as f64;
    eprintln!(
        "sans-IO: {exchanges} push exchanges in {:.3} s: {per:.1} µs each (operator seal + platform open/verify/validate/store/seal + operator verify/decrypt + network)",
        elapsed.as_secs_f64()
    );
    // One status push and a BMS push a minute (the last one still in flight at the end).
    assert_eq!(exchanges, 2000 + 2000 * 9);
}
