//! The real `chargestorm` binary: exit codes, reports, byte-identical traces.

mod binary_common;

use binary_common::*;
use std::path::Path;

#[test]
fn ci_smoke_passes_and_writes_the_report_contract() {
    let dir = tempdir("cli", "smoke");
    let out = chargestorm(&["run", "ci-smoke", "--report", "r.json"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    for key in [
        "seed",
        "scenario",
        "simulated_s",
        "wall_s",
        "connectors",
        "sessions",
        "transactions",
        "energy_kwh",
        "messages",
        "latency_ms",
        "errors",
        "assertions",
        "digest",
        "verdict",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}");
    }
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["seed"], 20261121);
    assert!(report["sessions"]["started"].as_u64().unwrap() > 0);
    assert!(report["energy_kwh"].as_f64().unwrap() > 0.0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict"));
}

#[test]
fn the_same_seed_gives_byte_identical_traces_at_any_speed() {
    let dir = tempdir("cli", "determinism");
    let run = |name: &str, speed: &str, seed: &str| {
        let out = chargestorm(
            &[
                "run",
                "ci-smoke",
                "--duration",
                "40s",
                "--speed",
                speed,
                "--seed",
                seed,
                "--trace",
                name,
                "--report",
                &format!("{name}.json"),
            ],
            &dir,
        );
        assert!(out.status.success(), "{}", text(&out));
        std::fs::read(dir.join(name)).unwrap()
    };
    let a = run("a.jsonl", "max", "42");
    let b = run("b.jsonl", "max", "42");
    // A paced run must keep up with its wall clock or it fails; ×10 leaves room for the
    // other tests' processes on two cores.
    let c = run("c.jsonl", "10", "42");
    let d = run("d.jsonl", "max", "43");
    assert!(a.len() > 200, "trace too short to compare");
    assert_eq!(a, b, "same seed, same speed");
    assert_eq!(a, c, "same seed, --speed max vs --speed 10");
    assert_ne!(a, d, "a different seed must differ");
}

#[test]
fn broken_profiles_are_reported_with_paths_and_exit_1() {
    let dir = tempdir("cli", "validate");
    std::fs::write(
        dir.join("broken.toml"),
        "[scenario]\nname = \"\"\n[[fleet.groups]]\nname = \"g\"\ncharger = \"nope\"\ncount = 0\n",
    )
    .unwrap();
    let out = chargestorm(&["profiles", "validate", "broken.toml"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for path in [
        "scenario.name",
        "fleet.groups[0].charger",
        "fleet.groups[0].count",
    ] {
        assert!(stdout.contains(path), "missing {path} in {stdout}");
    }
}

#[test]
fn bundled_profiles_validate_and_list() {
    let dir = tempdir("cli", "bundled");
    let profiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    let out = chargestorm(&["profiles", "validate", profiles.to_str().unwrap()], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let out = chargestorm(&["profiles", "list"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dc-120kw-dual"));
}

#[test]
fn errors_exit_2_and_say_what_is_wrong() {
    let dir = tempdir("cli", "errors");
    let out = chargestorm(&["run", "no-such-scenario.toml"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-scenario.toml"));
    let out = chargestorm(&["run", "ci-smoke", "--speed", "warp"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn report_show_and_merge_are_subcommands_of_the_binary() {
    let dir = tempdir("cli", "report-cmd");
    let run = chargestorm(
        &[
            "run",
            "ci-smoke",
            "--duration",
            "10m",
            "--shard",
            "0/2",
            "--report",
            "a.json",
        ],
        &dir,
    );
    assert!(run.status.success(), "{}", text(&run));
    let run = chargestorm(
        &[
            "run",
            "ci-smoke",
            "--duration",
            "10m",
            "--shard",
            "1/2",
            "--report",
            "b.json",
        ],
        &dir,
    );
    assert!(run.status.success(), "{}", text(&run));
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a.json")).unwrap()).unwrap();
    assert_eq!(a["details"]["shard"], "0/2");
    let show = chargestorm(&["report", "show", "a.json"], &dir);
    assert!(show.status.success(), "{}", text(&show));
    assert!(String::from_utf8_lossy(&show.stdout).contains("verdict"));
    let merge = chargestorm(&["report", "merge", "all.json", "a.json", "b.json"], &dir);
    assert!(merge.status.success(), "{}", text(&merge));
    let all: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("all.json")).unwrap()).unwrap();
    let b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("b.json")).unwrap()).unwrap();
    assert_eq!(
        all["connectors"]["total"].as_u64().unwrap(),
        a["connectors"]["total"].as_u64().unwrap() + b["connectors"]["total"].as_u64().unwrap()
    );
    let missing = chargestorm(&["report", "show", "nope.json"], &dir);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}
