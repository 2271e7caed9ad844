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
    for name in names {
        let r = run(&load(&name));
        for a in &r.assertions {
            eprintln!("{name}: {} {} — {}", a.name, a.passed, a.detail);
        }
        assert_eq!(r.verdict, Verdict::Pass, "{name}: {:#?}", failures(&r));
    }
}
