//! The bundled fault scenarios (`profiles/scenarios/faults/`): each passes against the
//! reference backend, a backend bug makes the matching one fail with a clear detail, and a
//! fault scenario's trace is the same in every run.

use super::{Shard, World, WorldConfig};
use crate::report::{Report, Verdict};
use crate::trace::TraceLevel;
use profiles::{Library, ResolvedScenario};

fn load(name: &str) -> ResolvedScenario {
    Library::bundled().unwrap().load_scenario(name).unwrap()
}

fn run(s: &ResolvedScenario) -> Report {
    let seed = s.scenario.scenario.seed.unwrap_or(1);
    let mut w = World::new(
        s,
        WorldConfig {
            seed,
            duration: None,
            trace_level: Some(TraceLevel::Session),
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    let end = w.end();
    w.run_until(end);
    w.finish(0.0)
}

fn fault_scenarios() -> Vec<String> {
    let lib = Library::bundled().unwrap();
    lib.scenarios
        .keys()
        .filter(|k| k.starts_with("faults/"))
        .cloned()
        .collect()
}

fn failures(r: &Report) -> Vec<String> {
    r.assertions
        .iter()
        .filter(|a| !a.passed)
        .map(|a| format!("{}: {}", a.name, a.detail))
        .collect()
}

#[test]
fn every_bundled_fault_scenario_passes() {
    let names = fault_scenarios();
    assert!(!names.is_empty());
    let mut failed = Vec::new();
    for name in names {
        let r = run(&load(&name));
        for a in &r.assertions {
            eprintln!("{name}: {} {} — {}", a.name, a.passed, a.detail);
        }
        if r.verdict != Verdict::Pass {
            failed.push((name, failures(&r)));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn a_backend_that_never_confirms_stops_fails_the_insulation_scenario_clearly() {
    let mut s = load("faults/insulation-fault");
    s.scenario.mqtt.backend_faults.never_answer = vec!["StopTransactionReq".into()];
    let r = run(&s);
    assert_eq!(r.verdict, Verdict::Fail);
    let stop = r
        .assertions
        .iter()
        .find(|a| a.name == "insulation.stop_transaction")
        .unwrap();
    assert!(!stop.passed);
    assert!(
        stop.detail
            .contains("connector 1 stopped with insulation_fault")
            && stop.detail.contains("which the backend never confirmed"),
        "{}",
        stop.detail
    );
    let once = r
        .assertions
        .iter()
        .find(|a| a.name.ends_with("transactions_confirmed_once"))
        .unwrap();
    assert!(!once.passed, "{}", once.detail);
    // The alarm still reached the platform: only the backend's answer is missing.
    assert!(
        r.assertions
            .iter()
            .any(|a| a.name == "insulation.alarm" && a.passed)
    );
}

#[test]
fn a_fault_scenario_replays_to_the_same_trace() {
    let s = load("faults/broker-restart");
    let (a, b) = (run(&s), run(&s));
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.assertions, b.assertions);
    // Running in chunks (as a paced run does) changes nothing.
    let mut w = World::new(
        &s,
        WorldConfig {
            seed: s.scenario.scenario.seed.unwrap_or(1),
            duration: None,
            trace_level: Some(TraceLevel::Session),
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    let step = crate::time::Duration::from_millis(700);
    while !w.is_finished() {
        let next = w.now() + step;
        w.run_until(next);
    }
    assert_eq!(w.finish(0.0).digest, a.digest);
}

#[test]
fn a_seeded_fraction_picks_the_same_chargers_and_differs_by_seed() {
    let s = load("faults/network-partition");
    let reached = |seed: u64| {
        let duration = Some(crate::time::Duration::from_secs(150));
        trace_of(&s, seed, duration, TraceLevel::Session)
            .lines()
            .filter(|l| l.contains("\"action_fired\""))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(reached(7003), reached(7003));
    let picks: Vec<Vec<String>> = (1..=6).map(reached).collect();
    assert!(picks.iter().any(|p| p != &picks[0]), "{picks:?}");
}

#[test]
fn an_alarm_raised_early_in_a_platform_outage_arrives_after_the_back_off() {
    use profiles::HumanDuration;
    use profiles::scenario::Dur;
    let mut s = load("faults/platform-outage");
    s.scenario.timeline[1].at = Some(Dur(HumanDuration {
        micros: 122_000_000,
    }));
    s.scenario.expect[0].within_s = Some(30.0);
    let r = run(&s);
    let alarm = r
        .assertions
        .iter()
        .find(|a| a.name == "outage.alarm_delivered_later")
        .unwrap();
    // Attempts at +0, +1, +3 and +7 s fall in the outage; the one at +15 s gets through.
    assert!(alarm.passed, "{}", alarm.detail);
    assert!(
        alarm.detail.contains("the first after 15."),
        "{}",
        alarm.detail
    );
    // Meanwhile the platform's view of the connector was stale for longer than it allows.
    let correct = r
        .assertions
        .iter()
        .find(|a| a.name == "tcec.data_correctness")
        .unwrap();
    assert!(!correct.passed, "{}", correct.detail);
}

/// No coordinated omission: a backend stall shows up in the p99 of the requests made
/// during it, measured from when they were meant to leave, and corrected latency is never
/// below the service time.
#[test]
fn a_backend_stall_shows_up_in_p99() {
    let slow = load("faults/slow-backend");
    let mut calm = slow.clone();
    calm.scenario.timeline.clear();
    let (slow, calm) = (run(&slow), run(&calm));
    let p99 = |r: &Report| {
        r.latency_ms
            .get("mqtt.StartTransactionReq")
            .map(|l| l.p99)
            .expect("StartTransaction latency recorded")
    };
    assert!(p99(&calm) < 100.0, "calm p99 {} ms", p99(&calm));
    assert!(
        p99(&slow) >= 1_500.0,
        "a 1.5 s stall must reach p99: {} ms",
        p99(&slow)
    );
    for (name, corrected) in &slow.latency_ms {
        let service = &slow.details.latency_uncorrected_ms[name];
        assert!(
            corrected.p99 >= service.p99,
            "{name}: {corrected:?} vs {service:?}"
        );
    }
}

/// The trace (JSON lines) of `s` run to its end with `seed`.
fn trace_of(
    s: &ResolvedScenario,
    seed: u64,
    duration: Option<crate::time::Duration>,
    level: TraceLevel,
) -> String {
    let mut w = World::new(
        s,
        WorldConfig {
            seed,
            duration,
            trace_level: Some(level),
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    let end = w.end();
    w.run_until(end);
    String::from_utf8(w.take_trace_lines()).unwrap()
}

/// `(t_us, up)` of every `mqtt_link` event of charger `entity` in `lines`.
fn links_of(lines: &str, entity: &str) -> Vec<(u64, bool)> {
    lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "mqtt_link" && v["entity"] == entity)
        .map(|v| (v["t_us"].as_u64().unwrap(), v["up"] == true))
        .collect()
}

#[test]
fn network_faults_act_on_the_in_process_links_as_the_proxy_does_on_sockets() {
    let lines = trace_of(
        &load("faults/network-degradation"),
        7010,
        None,
        TraceLevel::Protocol,
    );
    let s = 1_000_000u64;
    // The dead link (6 min, for 3 min) is noticed after 1.5 heartbeat intervals of 60 s,
    // and the charger gets back only when it heals.
    let ch0 = links_of(&lines, "ch0");
    let down = ch0
        .iter()
        .find(|(t, up)| !up && *t >= 360 * s)
        .expect("the dead link went down");
    assert_eq!(down.0, 450 * s, "{ch0:?}");
    let back = ch0.iter().find(|(t, up)| *up && *t > down.0).unwrap();
    assert!(
        back.0 >= 540 * s,
        "reconnected only after the heal: {ch0:?}"
    );
    // A 20 s stall is shorter than the keep-alive: the link survives it.
    let ch1 = links_of(&lines, "ch1");
    assert!(
        !ch1.iter()
            .any(|(t, up)| !up && (300 * s..400 * s).contains(t)),
        "{ch1:?}"
    );
    // The resets at 10 min drop their links at once; each comes back.
    let fired: serde_json::Value = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "action_fired" && v["label"] == "resets")
        .unwrap();
    let reset: Vec<String> = (0..10)
        .map(|k| format!("ch{k}"))
        .filter(|e| links_of(&lines, e).contains(&(600 * s, false)))
        .collect();
    assert_eq!(reset.len() as u64, fired["reached"].as_u64().unwrap());
    assert!(!reset.is_empty());
    for e in &reset {
        assert!(
            links_of(&lines, e)
                .iter()
                .any(|(t, up)| *up && *t > 600 * s),
            "{e} came back"
        );
    }
}

#[test]
fn slow_links_slow_down_the_exchanges_of_the_chargers_behind_them() {
    use profiles::HumanDuration;
    use profiles::scenario::Dur;
    let base = load("faults/network-degradation");
    let p50 = |delay_ms: f64| {
        let mut s = base.clone();
        s.scenario.timeline.truncate(1);
        s.scenario.timeline[0].at = Some(Dur(HumanDuration { micros: 0 }));
        s.scenario.timeline[0].fraction = None;
        s.scenario.timeline[0].all = true;
        s.scenario.timeline[0].delay_ms = Some(delay_ms);
        s.scenario.timeline[0].jitter_ms = Some(0.0);
        s.scenario.timeline[0].duration = None;
        run(&s).latency_ms["mqtt.BootNotificationReq"].p50
    };
    let fast = p50(0.0);
    let slow = p50(250.0);
    // A request and its answer each cross the link once more slowly: +500 ms.
    assert!(
        (slow - fast - 500.0).abs() < 30.0,
        "p50 {fast} ms without, {slow} ms with 250 ms each way"
    );
}
