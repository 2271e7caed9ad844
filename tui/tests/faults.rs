//! Fault scenarios through the real binary: JUnit output, seed sweeps that name the failing
//! seeds with their rerun commands, and the same trace at any speed.

mod binary_common;

use binary_common::*;
use std::path::Path;

fn report(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).expect("the report was written");
    serde_json::from_slice(&bytes).expect("the report is JSON")
}

#[test]
fn a_passing_fault_scenario_writes_junit_with_a_testcase_per_assertion() {
    let dir = tempdir("faults", "junit");
    let out = chargestorm(
        &[
            "run",
            "faults/bms-comm-loss",
            "--report",
            "r.json",
            "--junit",
            "j.xml",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&dir.join("r.json"));
    let xml = std::fs::read_to_string(dir.join("j.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, r["assertions"].as_array().unwrap().len());
    assert!(doc.descendants().all(|n| !n.has_tag_name("failure")));
    assert!(
        doc.descendants()
            .any(|n| n.attribute("name") == Some("bms_loss.stop_transaction"))
    );
}

#[test]
fn a_backend_bug_fails_every_seed_of_a_sweep_with_rerun_commands() {
    let dir = tempdir("faults", "sweep");
    let lib = profiles::Library::bundled().unwrap();
    let text_in = lib.scenarios["faults/insulation-fault"];
    let broken = text_in.replace(
        "[mqtt]\nenabled = true\n",
        "[mqtt]\nenabled = true\n[mqtt.backend_faults]\nnever_answer = [\"StopTransactionReq\"]\n",
    );
    assert_ne!(broken, text_in);
    std::fs::write(dir.join("buggy.toml"), broken).unwrap();
    let out = chargestorm(
        &[
            "run",
            "buggy.toml",
            "--seeds",
            "1..3",
            "--report",
            "r.json",
            "--junit",
            "j.xml",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("sweep: 3 seeds, 0 passed, 3 failed"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("failing seeds: 1, 2, 3"), "{stdout}");
    assert!(
        stdout.contains("rerun: chargestorm run buggy.toml --seed 2 --speed max"),
        "{stdout}"
    );
    for seed in 1..=3 {
        let r = report(&dir.join(format!("r-seed-{seed}.json")));
        assert_eq!(r["seed"], seed);
        assert_eq!(r["verdict"], "fail");
    }
    let xml = std::fs::read_to_string(dir.join("j.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        doc.root_element()
            .children()
            .filter(|n| n.is_element())
            .count(),
        3
    );
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|n| n.attribute("message"))
        .unwrap_or_default()
        .to_owned();
    assert!(failure.contains("never confirmed"), "{failure}");
    // One failing seed reruns alone to the same digest.
    let again = chargestorm(
        &["run", "buggy.toml", "--seed", "2", "--report", "again.json"],
        &dir,
    );
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        report(&dir.join("again.json"))["digest"],
        report(&dir.join("r-seed-2.json"))["digest"]
    );
}

#[test]
fn a_fault_scenario_has_the_same_digest_at_max_speed_and_at_a_factor() {
    let dir = tempdir("faults", "speeds");
    let max = chargestorm(
        &["run", "faults/bms-comm-loss", "--report", "max.json"],
        &dir,
    );
    assert!(max.status.success(), "{}", text(&max));
    let paced = chargestorm(
        &[
            "run",
            "faults/bms-comm-loss",
            "--speed",
            "2000",
            "--report",
            "paced.json",
        ],
        &dir,
    );
    // A paced run on a loaded machine may fall behind its 2000x schedule and be flagged
    // for it (`pacing.generator_kept_up`); every other assertion must hold, and the trace
    // must be the same as at max speed.
    let paced_report = report(&dir.join("paced.json"));
    let failed: Vec<&str> = paced_report["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["passed"] == false)
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        failed.iter().all(|n| *n == "pacing.generator_kept_up"),
        "{failed:?}\n{}",
        text(&paced)
    );
    assert_eq!(
        report(&dir.join("max.json"))["digest"],
        paced_report["digest"]
    );
}
