//! Links running ahead of the scheduler ([`World::set_run_ahead`]) change nothing but the
//! number of wake-ups: the same scenarios with run-ahead forced off and on give the same
//! trace byte for byte and the same report (every frame count included).

use super::{Shard, World, WorldConfig};
use crate::time::Duration;
use crate::trace::TraceLevel;
use profiles::{Library, ResolvedScenario};

/// The trace, the report and the sampled series as JSON without `scheduler_events`, and
/// `scheduler_events`.
fn run(s: &ResolvedScenario, run_ahead: bool, chunk: Duration) -> (String, String, u64) {
    run_with(s, run_ahead, false, chunk)
}

/// [`run`], optionally telling the world nobody looks between chunks.
fn run_with(
    s: &ResolvedScenario,
    run_ahead: bool,
    unobserved: bool,
    chunk: Duration,
) -> (String, String, u64) {
    let seed = s.scenario.scenario.seed.unwrap_or(5);
    let mut w = World::new(
        s,
        WorldConfig {
            seed,
            duration: None,
            trace_level: Some(TraceLevel::Frame),
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    w.set_run_ahead(run_ahead);
    w.set_unobserved(unobserved);
    let mut lines = Vec::new();
    while !w.is_finished() {
        let limit = w.now() + chunk;
        w.run_until(limit);
        lines.extend(w.take_trace_lines());
    }
    lines.extend(w.take_trace_lines());
    let series = serde_json::to_string_pretty(w.series()).unwrap();
    assert!(
        w.series().samples.len() > 10,
        "the series has samples to compare"
    );
    let mut report = w.finish(0.0);
    let events = std::mem::take(&mut report.details.scheduler_events);
    let json = serde_json::to_string_pretty(&report).unwrap() + &series;
    (String::from_utf8(lines).unwrap(), json, events)
}

/// Runs `s` both ways and compares; returns the wake-ups without and with run-ahead.
fn same_both_ways(s: &ResolvedScenario, chunk: Duration) -> (u64, u64) {
    let (trace_off, report_off, events_off) = run(s, false, chunk);
    let (trace_on, report_on, events_on) = run(s, true, chunk);
    assert!(!trace_off.is_empty());
    assert_eq!(
        trace_off, trace_on,
        "{}: the trace changed",
        s.scenario.scenario.name
    );
    assert_eq!(
        report_off, report_on,
        "{}: the report changed",
        s.scenario.scenario.name
    );
    (events_off, events_on)
}

fn dc_fleet() -> ResolvedScenario {
    let text = r#"
[scenario]
name = "run-ahead"
duration = "40m"
[[fleet.groups]]
name = "dc"
charger = "dc-120kw-dual"
count = 6
chargers_per_station = 2
[[fleet.groups]]
name = "ac"
charger = "ac-7kw-1ph"
count = 2
[traffic]
arrivals_per_connector_per_h = 3.0
initial_occupancy = 0.7
plug_to_start_s = { min = 5.0, max = 30.0 }
stop_to_unplug_s = { min = 30.0, max = 120.0 }
dwell_min = { min = 5.0, max = 20.0 }
"#;
    let lib = Library::bundled().unwrap();
    lib.resolve(toml::from_str(text).unwrap(), "test", None)
        .unwrap()
}

/// A bundled fault scenario, with MQTT and HTTP off when `plain` (so its CAN, BMS and
/// charger faults hit links that run ahead).
fn fault(name: &str, plain: bool) -> ResolvedScenario {
    let mut s = Library::bundled().unwrap().load_scenario(name).unwrap();
    if plain {
        s.scenario.mqtt.enabled = false;
        s.scenario.http.enabled = false;
    }
    s
}

#[test]
fn a_plain_fleet_is_the_same_with_links_running_ahead() {
    let s = dc_fleet();
    let (off, on) = same_both_ways(&s, Duration::from_secs(7));
    assert!(
        on * 3 < off,
        "run-ahead saves wake-ups: {off} without, {on} with"
    );
    // Chunk limits are barriers too: another chunking, the same again.
    same_both_ways(&s, Duration::from_millis(2_345));
    // Unobserved, links run past chunk ends (the real-time pacer's one-deadline chunks).
    let (trace_off, report_off, _) = run(&s, false, Duration::from_millis(50));
    let (trace_on, report_on, events) = run_with(&s, true, true, Duration::from_millis(50));
    assert_eq!(trace_off, trace_on);
    assert_eq!(report_off, report_on);
    assert!(
        events * 3 < off,
        "unobserved run-ahead saves wake-ups: {events}"
    );
}

#[test]
fn can_and_bms_fault_scenarios_are_the_same_with_links_running_ahead() {
    for name in ["faults/bms-comm-loss", "faults/insulation-fault"] {
        let (off, on) = same_both_ways(&fault(name, true), Duration::from_secs(5));
        assert!(on < off, "{name}: run-ahead engaged ({off} vs {on})");
    }
}

#[test]
fn with_mqtt_and_http_links_do_not_run_ahead_and_nothing_changes() {
    for name in ["faults/bms-comm-loss", "faults/meter-failure"] {
        let (off, on) = same_both_ways(&fault(name, false), Duration::from_secs(5));
        assert_eq!(off, on, "{name}: no run-ahead with MQTT/HTTP");
    }
}
