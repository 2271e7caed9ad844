//! Fleet engine tests: determinism, chunking, shards, fleet growth, physics invariants.

use super::{Shard, World, WorldConfig};
use crate::time::{Duration, Instant};
use crate::trace::TraceLevel;
use profiles::{Library, ResolvedScenario};

fn scenario(text: &str) -> ResolvedScenario {
    let lib = Library::bundled().unwrap();
    lib.resolve(toml::from_str(text).unwrap(), "test", None)
        .unwrap()
}

fn dc_fleet(count: u32) -> ResolvedScenario {
    scenario(&format!(
        r#"
[scenario]
name = "t"
duration = "30m"
[[fleet.groups]]
name = "dc"
charger = "dc-120kw-dual"
count = {count}
chargers_per_station = 2
[traffic]
arrivals_per_connector_per_h = 1.5
initial_occupancy = 0.5
"#
    ))
}

fn run(s: &ResolvedScenario, seed: u64, shard: Shard, chunk: Duration) -> (String, String) {
    let mut w = World::new(
        s,
        WorldConfig {
            seed,
            duration: None,
            trace_level: Some(TraceLevel::Protocol),
            shard,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    let mut lines = Vec::new();
    while !w.is_finished() {
        let limit = w.now() + chunk;
        w.run_until(limit);
        lines.extend(w.take_trace_lines());
    }
    lines.extend(w.take_trace_lines());
    let report = w.finish(0.0);
    (String::from_utf8(lines).unwrap(), report.digest)
}

fn lines_of(trace: &str, entity: &str) -> Vec<String> {
    let needle = format!("\"entity\":\"{entity}\"");
    trace
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

#[test]
fn same_seed_gives_identical_trace_bytes_and_digest() {
    let s = dc_fleet(10);
    let a = run(&s, 7, Shard::WHOLE, Duration::from_secs(60));
    let b = run(&s, 7, Shard::WHOLE, Duration::from_secs(60));
    assert_eq!(a, b);
    assert!(
        a.0.lines().count() > 20,
        "the run produced too few events to compare"
    );
}

#[test]
fn chunking_never_changes_the_outcome() {
    // Different run_until chunks model different pacing speeds.
    let s = dc_fleet(6);
    let coarse = run(&s, 3, Shard::WHOLE, Duration::from_secs(600));
    let fine = run(&s, 3, Shard::WHOLE, Duration::from_millis(37));
    assert_eq!(coarse, fine);
}

#[test]
fn a_different_seed_gives_a_different_digest() {
    let s = dc_fleet(6);
    assert_ne!(
        run(&s, 1, Shard::WHOLE, Duration::from_secs(60)).1,
        run(&s, 2, Shard::WHOLE, Duration::from_secs(60)).1
    );
}

#[test]
fn connector_17_behaves_the_same_in_a_fleet_of_20_or_40() {
    // dc-120kw-dual has 2 connectors: 10 chargers = 20 connectors, 20 chargers = 40.
    let small = run(&dc_fleet(10), 11, Shard::WHOLE, Duration::from_secs(60)).0;
    let large = run(&dc_fleet(20), 11, Shard::WHOLE, Duration::from_secs(60)).0;
    let a = lines_of(&small, "c17");
    assert!(a.len() >= 2, "connector 17 did nothing: {a:?}");
    assert_eq!(a, lines_of(&large, "c17"));
}

#[test]
fn shards_reproduce_the_whole_fleet_per_connector() {
    let s = dc_fleet(6);
    let whole = run(&s, 5, Shard::WHOLE, Duration::from_secs(60)).0;
    let shards: Vec<String> = (0..3)
        .map(|index| run(&s, 5, Shard { index, count: 3 }, Duration::from_secs(60)).0)
        .collect();
    for c in 0..12 {
        let entity = format!("c{c}");
        let in_shard: Vec<String> = shards.iter().flat_map(|t| lines_of(t, &entity)).collect();
        assert_eq!(lines_of(&whole, &entity), in_shard, "connector {c}");
    }
}

#[test]
fn invalid_shards_are_refused() {
    let s = dc_fleet(2);
    let config = |index, count| WorldConfig {
        seed: 1,
        duration: None,
        trace_level: None,
        shard: Shard { index, count },
        sample_interval: None,
        http_external: false,
    };
    assert!(World::new(&s, config(3, 3)).is_err());
    assert!(World::new(&s, config(0, 0)).is_err());
}

#[test]
fn a_mixed_fleet_charges_and_keeps_every_invariant() {
    let lib = Library::bundled().unwrap();
    let s = lib.load_scenario("ci-smoke").unwrap();
    let mut w = World::new(
        &s,
        WorldConfig {
            seed: 99,
            duration: None,
            trace_level: None,
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    w.run_until(Instant::FAR_FUTURE);
    assert!(w.is_finished());
    let report = w.finish(0.0);
    assert!(report.sessions.started >= 10, "{:?}", report.sessions);
    assert!(report.sessions.completed >= 5, "{:?}", report.sessions);
    assert_eq!(report.sessions.failed, 0, "{:?}", report.sessions);
    assert!(report.energy_kwh > 100.0, "{}", report.energy_kwh);
    assert_eq!(report.connectors.dc + report.connectors.ac, 10);
    for a in &report.assertions {
        assert!(a.passed, "{}: {}", a.name, a.detail);
    }
    assert_eq!(report.verdict, crate::report::Verdict::Pass);
}

#[test]
fn an_idle_fleet_costs_no_events() {
    let s = scenario(
        r#"
[scenario]
name = "idle"
duration = "24h"
[[fleet.groups]]
name = "ac"
charger = "ac-7kw-1ph"
count = 50
[traffic]
arrivals_per_connector_per_h = 0.0
vehicle_mix = [{ vehicle = "lfp-car-60kwh", weight = 1.0 }]
"#,
    );
    let mut w = World::new(
        &s,
        WorldConfig {
            seed: 1,
            duration: None,
            trace_level: None,
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    w.run_until(Instant::FAR_FUTURE);
    // Only the sampler wakes: idle connectors cost no events at all.
    assert_eq!(w.snapshot().events, w.series().samples.len() as u64);
    assert!(w.series().samples.len() <= 600);
    assert_eq!(w.snapshot().states[1], 50, "all idle");
}

#[test]
fn a_hundred_dc_connectors_run_full_gbt_sessions() {
    // 50 dual-gun chargers: every DC session runs GB/T 27930 over its own segment.
    let s = scenario(
        r#"
[scenario]
name = "gbt-100"
duration = "25m"
[[fleet.groups]]
name = "dc"
charger = "dc-120kw-dual"
count = 50
[traffic]
initial_occupancy = 1.0
arrivals_per_connector_per_h = 1.0
target_soc_pct = { min = 45.0, max = 50.0 }
arrival_soc_pct = { min = 20.0, max = 40.0 }
dwell_min = { min = 300.0, max = 400.0 }
plug_to_start_s = { min = 1.0, max = 10.0 }
vehicle_mix = [
  { vehicle = "lfp-car-60kwh", weight = 1.0 },
  { vehicle = "ncm-car-75kwh", weight = 1.0 },
  { vehicle = "ncm-800v-90kwh", weight = 1.0 },
]
"#,
    );
    let mut w = World::new(
        &s,
        WorldConfig {
            seed: 2015,
            duration: None,
            trace_level: None,
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    w.run_until(Instant::FAR_FUTURE);
    let r = w.finish(0.0);
    let gbt = r.details.gbt.as_ref().expect("DC sessions ran GB/T");
    assert!(gbt.sessions >= 100, "{gbt:?}");
    assert_eq!((gbt.cem_sent, gbt.bem_sent), (0, 0), "{gbt:?}");
    let completed = gbt
        .furthest_phase
        .get("sending_statistics")
        .copied()
        .unwrap_or(0)
        + gbt.furthest_phase.get("ended").copied().unwrap_or(0);
    assert!(completed >= 80, "sessions that reached the end: {gbt:?}");
    assert!(
        r.sessions.completed >= 80 && r.sessions.failed == 0,
        "{:?}",
        r.sessions
    );
    let can = &r.messages["can"];
    for m in [
        "CHM", "BHM", "CRM", "BRM", "BCP", "CML", "BRO", "CRO", "BCL", "BCS", "CCS", "BSM", "BST",
        "CST", "BSD", "CSD",
    ] {
        assert!(
            can.get(m).copied().unwrap_or(0) > 0,
            "no {m} frames: {can:?}"
        );
    }
    // 20 BCL per second of charging: within 10 % of the sessions' charging time.
    for a in &r.assertions {
        assert!(a.passed, "{}: {}", a.name, a.detail);
    }
}

#[test]
fn without_can_the_charger_follows_the_bms_directly() {
    let mut s = dc_fleet(2);
    s.scenario.can.enabled = false;
    let (trace, _) = run(&s, 9, Shard::WHOLE, Duration::from_secs(60));
    assert!(trace.contains("charging_started"));
    let mut w = World::new(
        &s,
        WorldConfig {
            seed: 9,
            duration: None,
            trace_level: None,
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    w.run_until(Instant::FAR_FUTURE);
    let r = w.finish(0.0);
    assert!(r.details.gbt.is_none());
    assert!(!r.messages.contains_key("can"));
}

fn mqtt_fleet(extra: &str) -> ResolvedScenario {
    scenario(&format!(
        r#"
[scenario]
name = "mqtt"
duration = "90m"
[fleet]
use = "small-mixed"
[traffic]
arrivals_per_connector_per_h = 1.5
initial_occupancy = 1.0
target_soc_pct = {{ min = 50.0, max = 60.0 }}
arrival_soc_pct = {{ min = 20.0, max = 40.0 }}
dwell_min = {{ min = 20.0, max = 40.0 }}
[mqtt]
enabled = true
{extra}
"#
    ))
}

fn world(s: &ResolvedScenario, seed: u64) -> World {
    World::new(
        s,
        WorldConfig {
            seed,
            duration: None,
            trace_level: Some(TraceLevel::Protocol),
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap()
}

#[test]
fn every_mqtt_transaction_is_confirmed_once_or_still_open() {
    let mut w = world(&mqtt_fleet(""), 21);
    w.run_until(Instant::FAR_FUTURE);
    let r = w.finish(0.0);
    let t = &r.transactions;
    assert!(t.started >= 10, "{t:?}");
    assert_eq!(t.started, t.confirmed + t.open + t.lost, "{t:?}");
    assert_eq!(t.lost, 0, "{t:?}");
    let mqtt = &r.messages["mqtt"];
    for m in [
        "DeviceRegistrationReq",
        "BootNotificationReq",
        "StartTransactionReq",
        "StopTransactionConf",
        "TelemetryReq",
        "ChargingInfoReq",
    ] {
        assert!(mqtt.get(m).copied().unwrap_or(0) > 0, "no {m}: {mqtt:?}");
    }
    assert!(
        r.latency_ms.contains_key("mqtt.StartTransactionReq"),
        "{:?}",
        r.latency_ms.keys()
    );
    for a in &r.assertions {
        assert!(a.passed, "{}: {}", a.name, a.detail);
    }
}

#[test]
fn a_broker_restart_without_persistence_loses_and_duplicates_nothing() {
    let s = mqtt_fleet("");
    let mut w = world(&s, 22);
    for restart_at_s in [900, 2400] {
        w.run_until(Instant::from_secs(restart_at_s));
        assert!(w.restart_broker(Duration::from_secs(20)));
    }
    w.run_until(Instant::FAR_FUTURE);
    let r = w.finish(0.0);
    let t = &r.transactions;
    assert_eq!(t.started, t.confirmed + t.open, "{t:?}");
    assert_eq!(t.lost, 0, "{t:?}");
    let booked = r
        .assertions
        .iter()
        .find(|a| a.name == "mqtt.transactions_booked_once")
        .unwrap();
    assert!(booked.passed, "{}", booked.detail);
    // 8 chargers logged in once at the start and again after each of the two restarts.
    let boots = r.messages["mqtt"]["BootNotificationReq"];
    assert!(
        boots >= 24,
        "{boots} logins: the restarts did not disconnect the chargers"
    );
}

#[test]
fn a_backend_that_never_confirms_stops_reports_the_transactions_as_lost() {
    let s = mqtt_fleet("backend_faults = { never_answer = [\"StopTransactionReq\"] }");
    let mut w = world(&s, 23);
    w.run_until(Instant::FAR_FUTURE);
    let r = w.finish(0.0);
    let t = &r.transactions;
    assert_eq!(t.confirmed, 0, "{t:?}");
    assert!(t.lost > 0, "{t:?}");
    assert!(
        t.lost_reasons.keys().any(|k| k.contains("no confirmation")),
        "{t:?}"
    );
}

#[test]
fn mqtt_runs_are_deterministic_across_chunking() {
    let s = mqtt_fleet("");
    let a = run(&s, 24, Shard::WHOLE, Duration::from_secs(600));
    let b = run(&s, 24, Shard::WHOLE, Duration::from_millis(77));
    assert_eq!(a, b);
    assert!(a.0.contains("mqtt_up"));
}

#[test]
fn the_operator_platform_pushes_the_fleet_to_the_monitoring_platform() {
    let mut w = world(&mqtt_fleet("[http]\nenabled = true"), 31);
    w.run_until(Instant::FAR_FUTURE);
    let r = w.finish(0.0);
    let http = &r.messages["http"];
    for m in [
        "http.notification_stationInfo",
        "http.notification_stationStatus",
        "http.notification_bmsInfo",
        "http.query_token",
    ] {
        assert!(http.get(m).copied().unwrap_or(0) > 0, "no {m}: {http:?}");
    }
    let correctness = r
        .assertions
        .iter()
        .find(|a| a.name == "tcec.data_correctness")
        .expect("correctness is asserted");
    assert!(correctness.passed, "{}", correctness.detail);
    assert!(
        !correctness.detail.starts_with("0 of"),
        "{}",
        correctness.detail
    );
    for a in &r.assertions {
        assert!(a.passed, "{}: {}", a.name, a.detail);
    }
}

#[test]
fn a_failing_platform_costs_retries_and_errors_not_data() {
    let s = mqtt_fleet(
        "[http]\nenabled = true\nplatform_faults = { error_500_ratio = 0.2, busy_ratio = 0.1 }",
    );
    let mut w = world(&s, 32);
    w.run_until(Instant::FAR_FUTURE);
    let r = w.finish(0.0);
    let errors: u64 = r
        .errors
        .iter()
        .filter(|(k, _)| k.starts_with("http."))
        .map(|(_, v)| v)
        .sum();
    assert!(
        errors > 0,
        "the platform's 500s and busy answers are counted: {:?}",
        r.errors
    );
    let correctness = r
        .assertions
        .iter()
        .find(|a| a.name == "tcec.data_correctness")
        .unwrap();
    assert!(
        correctness.passed,
        "retries deliver every status: {}",
        correctness.detail
    );
}
