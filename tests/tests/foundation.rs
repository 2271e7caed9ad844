//! The foundation end to end: bundled scenarios run through the CLI and report.

use e2e::{chargestorm, read_report, tempdir};
use std::process::ExitCode;

#[test]
fn the_demo_fleet_runs_headless_and_passes() {
    let dir = tempdir("demo");
    let report = dir.join("demo.json");
    let code = chargestorm(&[
        "run",
        "demo",
        "--headless",
        "--duration",
        "20m",
        "--seed",
        "7",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, ExitCode::SUCCESS);
    let r = read_report(&report);
    assert_eq!(r["verdict"], "pass", "{r:#}");
    assert!(r["connectors"]["total"].as_u64().unwrap() >= 200);
    assert!(
        r["connectors"]["dc"].as_u64().unwrap() > 0 && r["connectors"]["ac"].as_u64().unwrap() > 0
    );
    assert!(
        r["sessions"]["started"].as_u64().unwrap() > 50,
        "{}",
        r["sessions"]
    );
    assert!(r["energy_kwh"].as_f64().unwrap() > 100.0);
    assert_eq!(r["simulated_s"].as_f64().unwrap(), 1200.0);
}

#[test]
fn shards_add_up_to_the_whole_fleet() {
    let dir = tempdir("shards");
    let run = |name: &str, shard: Option<&str>| {
        let path = dir.join(name);
        let mut args = vec![
            "run",
            "ci-smoke",
            "--duration",
            "30m",
            "--report",
            path.to_str().unwrap(),
        ];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        assert_eq!(chargestorm(&args), ExitCode::SUCCESS);
        read_report(&path)
    };
    let whole = run("whole.json", None);
    let parts = [run("s0.json", Some("0/2")), run("s1.json", Some("1/2"))];
    for key in ["started", "completed", "failed"] {
        let sum: u64 = parts
            .iter()
            .map(|p| p["sessions"][key].as_u64().unwrap())
            .sum();
        assert_eq!(
            sum,
            whole["sessions"][key].as_u64().unwrap(),
            "sessions.{key}"
        );
    }
    let energy: f64 = parts
        .iter()
        .map(|p| p["energy_kwh"].as_f64().unwrap())
        .sum();
    assert!((energy - whole["energy_kwh"].as_f64().unwrap()).abs() < 1e-6);
    let connectors: u64 = parts
        .iter()
        .map(|p| p["connectors"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(connectors, 10);
}
