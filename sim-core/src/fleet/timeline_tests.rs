//! The timeline executor on small fleets: load shapes, reverts, conditions, build errors.

use super::{BuildError, Shard, World, WorldConfig};
use crate::report::Report;
use crate::trace::TraceLevel;
use profiles::{Library, ResolvedScenario};

fn scenario(extra: &str) -> ResolvedScenario {
    scenario_at(0.5, extra)
}

fn scenario_at(rate: f64, extra: &str) -> ResolvedScenario {
    let text = format!(
        r#"
[scenario]
name = "timeline"
duration = "20m"
[[fleet.groups]]
name = "ac"
charger = "ac-7kw-1ph"
count = 20
chargers_per_station = 10
[traffic]
arrivals_per_connector_per_h = {rate}
dwell_min = {{ min = 5.0, max = 10.0 }}
plug_to_start_s = {{ min = 5.0, max = 10.0 }}
stop_to_unplug_s = {{ min = 10.0, max = 20.0 }}
{extra}
"#
    );
    let lib = Library::bundled().unwrap();
    lib.resolve(toml::from_str(&text).unwrap(), "test", None)
        .unwrap()
}

fn build(s: &ResolvedScenario) -> Result<World, BuildError> {
    World::new(
        s,
        WorldConfig {
            seed: 5,
            duration: None,
            trace_level: Some(TraceLevel::Session),
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
}

fn run(s: &ResolvedScenario) -> (Report, Vec<serde_json::Value>) {
    let mut w = build(s).unwrap();
    let end = w.end();
    w.run_until(end);
    let lines = String::from_utf8(w.take_trace_lines()).unwrap();
    let events = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (w.finish(0.0), events)
}

fn of(events: &[serde_json::Value], name: &str) -> Vec<serde_json::Value> {
    events
        .iter()
        .filter(|e| e["event"] == name)
        .cloned()
        .collect()
}

#[test]
fn a_load_step_multiplies_arrivals() {
    let (_, calm) = run(&scenario(""));
    let (_, busy) = run(&scenario(
        "[[timeline]]\nat = \"1m\"\naction = \"load_step\"\nfactor = 20.0\n",
    ));
    let (calm, busy) = (of(&calm, "plugged").len(), of(&busy, "plugged").len());
    assert!(busy > 4 * calm.max(1), "calm {calm}, busy {busy}");
}

#[test]
fn a_spike_is_undone_and_a_ramp_moves_in_steps() {
    let (_, spike) = run(&scenario(
        "[[timeline]]\nat = \"1m\"\naction = \"load_spike\"\nfactor = 8.0\nduration = \"2m\"\n",
    ));
    let factors: Vec<f64> = of(&spike, "load_factor")
        .iter()
        .map(|e| e["factor"].as_f64().unwrap())
        .collect();
    assert_eq!(factors, vec![8.0, 1.0]);
    let ended = of(&spike, "action_ended");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["t_us"], 180_000_000);
    let (_, ramp) = run(&scenario(
        "[[timeline]]\nat = \"1m\"\naction = \"load_ramp\"\nfactor = 11.0\nduration = \"5m\"\n",
    ));
    let steps: Vec<(u64, f64)> = of(&ramp, "load_factor")
        .iter()
        .map(|e| (e["t_us"].as_u64().unwrap(), e["factor"].as_f64().unwrap()))
        .collect();
    assert_eq!(steps.len(), 10);
    assert_eq!(steps[0], (60_000_000, 2.0));
    assert_eq!(steps[9], (330_000_000, 11.0));
}

#[test]
fn conditions_fire_once_when_they_first_hold_and_say_so_when_they_never_do() {
    let (r, events) = run(&scenario_at(
        6.0,
        r#"
initial_occupancy = 0.0
[[timeline]]
name = "three"
when = "3 connectors charging"
all = true
action = "emergency_stop"

[[timeline]]
name = "never"
when = "all connectors finishing"
connector = 0
action = "emergency_stop"

[[expect]]
kind = "stop_transaction"
reason = "emergency_stop"
within_s = 5
after = "three"

[[expect]]
kind = "stop_transaction"
reason = "emergency_stop"
within_s = 5
after = "never"
"#,
    ));
    let fired = of(&events, "action_fired");
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["label"], "three");
    assert_eq!(fired[0]["reached"], 3);
    let a = &r.assertions;
    let three = a
        .iter()
        .find(|x| x.name == "expect.0.stop_transaction")
        .unwrap();
    assert!(three.passed, "{}", three.detail);
    let never = a
        .iter()
        .find(|x| x.name == "expect.1.stop_transaction")
        .unwrap();
    assert!(!never.passed);
    assert!(
        never
            .detail
            .contains("never fired: its condition `all connectors finishing` never held"),
        "{}",
        never.detail
    );
}

#[test]
fn services_that_are_not_running_take_no_fault_and_unknown_messages_fail_the_build() {
    let (_, events) = run(&scenario(
        "[[timeline]]\nat = \"1m\"\naction = \"restart_broker\"\n",
    ));
    assert_eq!(of(&events, "action_fired")[0]["reached"], 0);
    let s = scenario(
        "[[timeline]]\nat = \"1m\"\nall = true\naction = \"can_silence\"\nmessage = \"XYZ\"\n",
    );
    let err = build(&s).unwrap_err().to_string();
    assert!(
        err.contains("timeline[0].message") && err.contains("XYZ"),
        "{err}"
    );
}

#[test]
fn no_stuck_state_names_the_connector_and_the_time() {
    let (r, _) = run(&scenario(
        r#"
initial_occupancy = 1.0
[[expect]]
kind = "no_stuck_state"
state = "charging"
max_s = 60
"#,
    ));
    let a = r
        .assertions
        .iter()
        .find(|x| x.name == "expect.0.no_stuck_state")
        .unwrap();
    assert!(!a.passed);
    assert!(
        a.detail
            .contains("no connector charging longer than 60 s; seen: longest")
            && a.detail.contains("connector "),
        "{}",
        a.detail
    );
}

#[test]
fn actions_on_real_peers_go_to_the_shell_and_are_traced_with_the_reach_it_reports() {
    let s = scenario(
        r#"
[mqtt]
enabled = true
transport = "broker"
[[timeline]]
name = "restart"
at = "1m"
action = "restart_broker"
duration = "10s"
[[timeline]]
name = "cut"
at = "2m"
charger = 3
action = "mqtt_disconnect"
duration = "30s"
[[timeline]]
name = "slow"
at = "3m"
action = "backend_slowdown"
delay_ms = 500
"#,
    );
    let mut w = build(&s).unwrap();
    w.run_until(crate::time::Instant::from_secs(59));
    assert!(w.take_external_actions().is_empty());
    w.run_until(crate::time::Instant::from_secs(61));
    let restart = w.take_external_actions();
    assert_eq!(restart.len(), 1);
    assert_eq!(restart[0].spec.label(), "restart");
    assert!(!restart[0].ending);
    assert_eq!(
        restart[0].duration(),
        Some(crate::time::Duration::from_secs(10))
    );
    w.record_external_action(&restart[0], 1);
    w.run_until(crate::time::Instant::from_secs(71));
    let back = w.take_external_actions();
    assert_eq!(back.len(), 1, "the broker comes back after its downtime");
    assert!(back[0].ending);
    w.record_external_action(&back[0], 1);
    w.run_until(crate::time::Instant::from_secs(121));
    let cut = w.take_external_actions();
    assert_eq!(
        cut[0].chargers,
        vec![3],
        "the shell cuts charger 3's connection"
    );
    w.record_external_action(&cut[0], 1);
    w.run_until(crate::time::Instant::from_secs(181));
    let slow = w.take_external_actions();
    let mut faults = crate::mqtt::backend::BackendFaults::default();
    slow[0].apply_to_backend(&mut faults);
    assert_eq!(
        faults.response_delay,
        crate::time::Duration::from_millis(500)
    );
    w.record_external_action(&slow[0], 0);
    w.run_until(crate::time::Instant::from_secs(300));
    assert!(
        w.take_external_actions().is_empty(),
        "the partition's hold is the shell's; the slow-down lasts"
    );
    let lines = String::from_utf8(w.take_trace_lines()).unwrap();
    let events: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let fired = of(&events, "action_fired");
    let reach: Vec<(&str, u64)> = fired
        .iter()
        .map(|e| (e["label"].as_str().unwrap(), e["reached"].as_u64().unwrap()))
        .collect();
    assert_eq!(reach, vec![("restart", 1), ("cut", 1), ("slow", 0)]);
    assert_eq!(of(&events, "action_ended").len(), 1);
}

fn platform_outage(edits: &[(&str, &str)]) -> Report {
    let lib = Library::bundled().unwrap();
    let mut text = lib.scenarios["faults/platform-outage"].to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let s = lib
        .resolve(toml::from_str(&text).unwrap(), "test", None)
        .unwrap();
    run(&s).0
}

#[test]
fn data_completed_passes_when_the_refused_pushes_arrive_and_fails_otherwise() {
    let find = |r: &Report| {
        r.assertions
            .iter()
            .find(|a| a.name == "outage.data_completed")
            .unwrap()
            .clone()
    };
    let ok = find(&platform_outage(&[]));
    assert!(ok.passed, "{}", ok.detail);
    assert!(ok.detail.contains("complete after"), "{}", ok.detail);
    let long = find(&platform_outage(&[(
        "duration = \"10s\"",
        "duration = \"90s\"",
    )]));
    // Pushes the operator gave up during a 90 s outage are neither re-sent nor recovered.
    assert!(!long.passed, "{}", long.detail);
    assert!(
        long.detail.contains("not complete") && long.detail.contains("given up since it began"),
        "{}",
        long.detail
    );
    let endless = find(&platform_outage(&[("duration = \"10s\"\n", "")]));
    assert!(!endless.passed);
    assert!(endless.detail.contains("no duration"), "{}", endless.detail);
}
