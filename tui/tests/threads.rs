//! `run --threads N` against N shard processes and `report merge`: the same report, up to
//! wall times, process usage and `--threads` in the rerun command.

mod binary_common;

use binary_common::*;
use std::path::Path;
use tui::report_cmd::{MergeArgs, ReportCommand};

/// A report as JSON without what differs between any two runs of it (wall clock, CPU and
/// memory of the process).
fn normalized(path: &Path) -> serde_json::Value {
    let mut r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("the report exists"))
            .expect("the report is JSON");
    let obj = r.as_object_mut().expect("a report is an object");
    obj.remove("wall_s");
    let details = obj
        .get_mut("details")
        .and_then(|d| d.as_object_mut())
        .expect("a report has details");
    details.remove("process");
    if let Some(shards) = details.get_mut("shards").and_then(|s| s.as_array_mut()) {
        for s in shards {
            s.as_object_mut().expect("a shard entry").remove("wall_s");
        }
    }
    r
}

/// `run` with `threads` extra arguments against the merge of `worlds` shard processes.
fn assert_threads_equal_shard_processes(name: &str, threads: &[&str], worlds: usize) {
    let dir = tempdir("threads", name);
    let base = ["run", "ci-smoke", "--duration", "20m", "--headless"];
    let threaded = chargestorm(
        &[&base[..], threads, &["--report", "threads.json"]].concat(),
        &dir,
    );
    assert!(threaded.status.success(), "{}", text(&threaded));
    for k in 0..worlds {
        let shard = format!("{k}/{worlds}");
        let report = format!("shard-{k}.json");
        let out = chargestorm(
            &[&base[..], &["--shard", &shard, "--report", &report]].concat(),
            &dir,
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let code = tui::report_cmd::run(ReportCommand::Merge(MergeArgs {
        out: dir.join("merged.json"),
        inputs: (0..worlds)
            .map(|k| dir.join(format!("shard-{k}.json")))
            .collect(),
        allow_partial: false,
    }));
    assert!(code.is_ok(), "the merge runs: {code:?}");
    let mut a = normalized(&dir.join("threads.json"));
    let b = normalized(&dir.join("merged.json"));
    // The threaded run's rerun command names its threads (pacing depends on them); the
    // rest of it is the merged processes' command.
    let threaded_rerun = a["details"]["rerun"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        threaded_rerun,
        format!(
            "{} {}",
            b["details"]["rerun"].as_str().unwrap_or("?"),
            threads.join(" ")
        )
    );
    a["details"]["rerun"] = b["details"]["rerun"].clone();
    assert!(
        a["sessions"]["started"].as_u64().unwrap_or(0) > 0,
        "the run does something"
    );
    assert_eq!(
        a["details"]["shards"].as_array().map(Vec::len),
        Some(worlds)
    );
    assert_eq!(a, b, "threads and merged shard processes differ");
}

#[test]
fn threads_equal_shard_processes_merged() {
    assert_threads_equal_shard_processes("one-world-each", &["--threads", "3", "--worlds", "3"], 3);
}

#[test]
fn pooled_worlds_equal_shard_processes_merged() {
    // Five worlds on two threads: the threads take turns, and which one runs which turn
    // changes nothing.
    assert_threads_equal_shard_processes("pooled", &["--threads", "2", "--worlds", "5"], 5);
}

#[test]
fn threads_at_max_speed_default_to_four_worlds_each_and_paced_runs_to_one() {
    let dir = tempdir("threads", "worlds");
    let base = ["run", "ci-smoke", "--duration", "2m", "--headless"];
    let out = chargestorm(&[&base[..], &["--threads", "2"]].concat(), &dir);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in 8 shard worlds on 2 threads"),
        "{}",
        text(&out)
    );
    for (extra, refusal) in [
        (
            &["--threads", "2", "--worlds", "1"][..],
            "fewer than --threads",
        ),
        (
            &["--threads", "2", "--worlds", "4", "--speed", "100"][..],
            "needs --speed max",
        ),
    ] {
        let out = chargestorm(&[&base[..], extra].concat(), &dir);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(refusal),
            "{extra:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn threads_refuse_options_that_need_one_world() {
    let dir = tempdir("threads", "refused");
    let out = chargestorm(
        &[
            "run",
            "ci-smoke",
            "--headless",
            "--threads",
            "2",
            "--trace",
            "t.jsonl",
        ],
        &dir,
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--threads does not combine with --trace"),
        "{}",
        text(&out)
    );
}

#[test]
fn spinning_threads_pace_in_real_time_with_the_same_results_as_sleeping_ones() {
    let dir = tempdir("threads", "spin");
    let base = [
        "run",
        "engine-100k",
        "--shard",
        "0/1000",
        "--speed",
        "realtime",
        "--duration",
        "3s",
        "--headless",
    ];
    let mut digests = Vec::new();
    for pacing in ["sleep", "spin"] {
        let report = format!("{pacing}.json");
        let out = chargestorm(
            &[&base[..], &["--pacing", pacing, "--report", &report]].concat(),
            &dir,
        );
        assert!(out.status.success(), "{}", text(&out));
        let r = normalized(&dir.join(&report));
        assert!(
            r["details"]["pacing"]["lag_p99_ms"].as_f64().is_some(),
            "a paced run reports its lag: {}",
            r["details"]
        );
        digests.push(r["digest"].clone());
    }
    assert_eq!(digests[0], digests[1], "pacing changes nothing simulated");
    let out = chargestorm(&[&base[..], &["--pacing", "busy"]].concat(), &dir);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid pacing"),
        "{}",
        text(&out)
    );
}
