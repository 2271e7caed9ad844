use super::*;
use sim_core::report::{Assertion, Report};

fn report(seed: u64, assertions: Vec<Assertion>) -> Report {
    let mut r: Report = serde_json::from_value(serde_json::json!({
        "seed": seed,
        "scenario": "faults/insulation-fault",
        "simulated_s": 600.0,
        "wall_s": 0.25,
        "connectors": {"total": 4, "dc": 4, "ac": 0, "final_states": {}},
        "sessions": sim_core::metrics::SessionCounts::default(),
        "transactions": sim_core::metrics::TransactionCounts::default(),
        "energy_kwh": 0.0,
        "messages": {},
        "latency_ms": {},
        "errors": {},
        "assertions": [],
        "digest": "abc",
        "verdict": "pass",
    }))
    .unwrap();
    r.assertions = assertions;
    r.details.rerun = format!("chargestorm run faults/insulation-fault --seed {seed} --speed max");
    r.decide();
    r
}

fn assertion(name: &str, passed: bool, detail: &str) -> Assertion {
    Assertion {
        name: name.into(),
        passed,
        detail: detail.into(),
    }
}

#[test]
fn junit_is_well_formed_with_one_testcase_per_assertion_even_for_hostile_text() {
    let nasty = "connector <1> & \"2\" 'stopped' \u{1} ]]> \u{7f} 绝缘\nline two";
    let reports = [
        report(
            7,
            vec![
                assertion("physics.energy_conservation", true, "ok"),
                assertion("insulation.stop_transaction", false, nasty),
            ],
        ),
        report(8, vec![assertion("a<b>&c", true, nasty)]),
    ];
    let xml = junit_xml(&reports);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("3"));
    assert_eq!(root.attribute("failures"), Some("1"));
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 2);
    assert_eq!(
        suites[0].attribute("name"),
        Some("faults/insulation-fault (seed 7)")
    );
    let cases: Vec<_> = suites[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2);
    assert!(cases[0].children().all(|c| !c.has_tag_name("failure")));
    let failure = cases[1]
        .children()
        .find(|c| c.has_tag_name("failure"))
        .expect("the failed assertion has a failure");
    let message = failure.attribute("message").unwrap();
    assert!(
        message.contains("connector <1> & \"2\" 'stopped'"),
        "{message}"
    );
    assert!(message.contains("绝缘\nline two"), "{message}");
    assert!(!message.contains('\u{1}'));
    let body = failure.text().unwrap();
    assert!(body.contains("reproduce with: chargestorm run faults/insulation-fault --seed 7"));
    let rerun = suites[0]
        .descendants()
        .find(|n| n.attribute("name") == Some("rerun"))
        .and_then(|n| n.attribute("value"));
    assert_eq!(
        rerun,
        Some("chargestorm run faults/insulation-fault --seed 7 --speed max")
    );
    let odd = suites[1]
        .children()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(odd.attribute("name"), Some("a<b>&c"));
}

#[test]
fn seed_lists_parse_ranges_lists_and_reject_nonsense() {
    assert_eq!(parse_seeds("1..5").unwrap(), vec![1, 2, 3, 4, 5]);
    assert_eq!(parse_seeds("1..=3").unwrap(), vec![1, 2, 3]);
    assert_eq!(parse_seeds("3, 5,9").unwrap(), vec![3, 5, 9]);
    assert_eq!(parse_seeds("42").unwrap(), vec![42]);
    assert_eq!(parse_seeds("1..2,7").unwrap(), vec![1, 2, 7]);
    for bad in ["", "x", "5..1", "1..x", "0..100000000", ","] {
        assert!(parse_seeds(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn a_sweep_summary_names_each_failing_seed_with_its_rerun_command() {
    let reports = [
        report(1, vec![assertion("a", true, "")]),
        report(2, vec![assertion("x.stop", false, "never confirmed")]),
        report(3, vec![assertion("a", true, "")]),
    ];
    let s = sweep_summary(&reports);
    assert!(s.starts_with("sweep: 3 seeds, 2 passed, 1 failed"), "{s}");
    assert!(s.contains("failing seeds: 2"), "{s}");
    assert!(
        s.contains(
            "seed 2 FAILED x.stop\n    rerun: chargestorm run faults/insulation-fault --seed 2"
        ),
        "{s}"
    );
    let all_pass = sweep_summary(&reports[..1]);
    assert_eq!(all_pass, "sweep: 1 seeds, 1 passed, 0 failed");
}

#[test]
fn per_seed_paths_keep_the_extension() {
    assert_eq!(
        seed_path(Path::new("out/r.json"), 4),
        PathBuf::from("out/r-seed-4.json")
    );
    assert_eq!(
        seed_path(Path::new("trace"), 9),
        PathBuf::from("trace-seed-9")
    );
}
