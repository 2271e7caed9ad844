//! Sharding end to end: `run ci-smoke --shard K/3` as three processes side by side plus
//! the whole run, then `report merge` of the three shard reports; the merge must give the
//! whole run's totals.

use sim_core::report::{Report, Verdict, decode_histogram};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use tui::report_cmd::{MergeArgs, ReportCommand, ShowArgs};

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

fn tempdir(name: &str) -> Scratch {
    Scratch::new(&format!("chargestorm-merge-{name}"))
}

/// Starts `chargestorm run ci-smoke` writing `report` in `dir`, with `extra` arguments.
fn start_run(dir: &Path, report: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chargestorm"))
        .args(["run", "ci-smoke", "--report", report])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the chargestorm binary starts")
}

fn finish(child: Child, what: &str) {
    let out = child.wait_with_output().expect("the run ends");
    assert!(
        out.status.success(),
        "{what} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(path: &Path) -> Report {
    tui::report_cmd::read_report(path).expect("a readable report")
}

#[test]
fn three_shards_side_by_side_merge_into_the_whole_run() {
    let dir = tempdir("ci-smoke");
    // All four processes run at once: the shards must not depend on each other.
    let runs: Vec<(Child, String)> = (0..3)
        .map(|k| {
            let shard = format!("{k}/3");
            let report = format!("shard-{k}.json");
            (start_run(&dir, &report, &["--shard", &shard]), shard)
        })
        .chain(std::iter::once((
            start_run(&dir, "whole.json", &[]),
            "the whole run".to_owned(),
        )))
        .collect();
    for (child, what) in runs {
        finish(child, &what);
    }
    let whole = read(&dir.join("whole.json"));
    let shards: Vec<Report> = (0..3)
        .map(|k| read(&dir.join(format!("shard-{k}.json"))))
        .collect();
    assert!(
        shards
            .iter()
            .all(|s| s.connectors.total < whole.connectors.total),
        "each shard runs part of the fleet"
    );

    // Inputs in a scrambled order: the merge orders them by shard.
    let code = tui::report_cmd::run(ReportCommand::Merge(MergeArgs {
        out: dir.join("merged.json"),
        inputs: vec![
            dir.join("shard-2.json"),
            dir.join("shard-0.json"),
            dir.join("shard-1.json"),
        ],
        allow_partial: false,
    }))
    .expect("the merge succeeds");
    assert_eq!(code, ExitCode::SUCCESS);
    let merged = read(&dir.join("merged.json"));

    assert_eq!(merged.scenario, whole.scenario);
    assert_eq!(merged.seed, whole.seed);
    assert_eq!(merged.simulated_s, whole.simulated_s);
    assert_eq!(
        merged.connectors, whole.connectors,
        "connectors and final states"
    );
    assert_eq!(merged.sessions, whole.sessions);
    assert_eq!(merged.transactions, whole.transactions);
    assert!(
        (merged.energy_kwh - whole.energy_kwh).abs() <= 1e-6,
        "energy {} vs {}",
        merged.energy_kwh,
        whole.energy_kwh
    );
    // Every shard process logs in to the monitoring platform on its own, so token
    // queries scale with the number of processes; every other message is the fleet's.
    let (merged_messages, merged_tokens) = without_token_queries(&merged.messages);
    let (whole_messages, whole_tokens) = without_token_queries(&whole.messages);
    assert_eq!(merged_messages, whole_messages, "message counts");
    assert_eq!(
        merged_tokens,
        3 * whole_tokens,
        "one login per shard process"
    );
    assert_eq!(merged.errors, whole.errors);
    assert_eq!(merged.details.gbt, whole.details.gbt, "GB/T session totals");
    assert!(merged.sessions.started > 0 && !merged.messages.is_empty());

    // Latency: every series has the whole run's number of samples, and its merged
    // histogram holds every shard's samples (merged, not averaged).
    let series: Vec<&String> = whole.latency_ms.keys().collect();
    assert_eq!(merged.latency_ms.keys().collect::<Vec<_>>(), series);
    for name in series {
        let shard_samples: u64 = shards
            .iter()
            .filter_map(|s| s.latency_ms.get(name))
            .map(|l| l.count)
            .sum();
        assert_eq!(merged.latency_ms[name].count, shard_samples, "{name}");
        if !name.ends_with("query_token") {
            assert_eq!(merged.latency_ms[name].count, whole.latency_ms[name].count);
        }
        let h = decode_histogram(&merged.details.latency_histograms[name]).unwrap();
        let parts: u64 = shards
            .iter()
            .filter_map(|s| s.details.latency_histograms.get(name))
            .map(|t| decode_histogram(t).unwrap().len())
            .sum();
        assert_eq!(h.len(), parts, "{name}");
    }

    // The digest is the documented digest of the shard digests, in shard order.
    let labels: Vec<&str> = merged
        .details
        .shards
        .iter()
        .map(|s| s.shard.as_str())
        .collect();
    assert_eq!(labels, ["0/3", "1/3", "2/3"]);
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"chargestorm report merge v1\n");
    for (k, s) in shards.iter().enumerate() {
        assert_eq!(merged.details.shards[k].digest, s.digest);
        hasher.update(format!("{k}/3 {}\n", s.digest).as_bytes());
    }
    assert_eq!(merged.digest, hasher.finalize().to_hex().to_string());
    // Each shard's assertions are kept (a shard whose stations saw no traffic of a kind
    // has no assertion about it), and every assertion of the whole run is among them.
    let shard_assertions: usize = shards.iter().map(|s| s.assertions.len()).sum();
    assert_eq!(merged.assertions.len(), shard_assertions);
    for a in &whole.assertions {
        assert!(
            merged.assertions.iter().any(|m| m.name.ends_with(&a.name)),
            "{} missing from the merged report",
            a.name
        );
    }
    assert_eq!(merged.verdict, Verdict::Pass);
    assert!(
        !merged.details.rerun.contains("--shard"),
        "{}",
        merged.details.rerun
    );

    let code = tui::report_cmd::run(ReportCommand::Show(ShowArgs {
        file: dir.join("merged.json"),
    }))
    .unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
}

#[test]
fn merge_takes_a_directory_and_refuses_an_incomplete_or_mixed_set() {
    let dir = tempdir("refuse");
    let shards = dir.join("shards");
    std::fs::create_dir_all(&shards).unwrap();
    let runs: Vec<Child> = ["0/2", "1/2"]
        .iter()
        .enumerate()
        .map(|(k, shard)| start_run(&shards, &format!("s{k}.json"), &["--shard", shard]))
        .chain(std::iter::once(start_run(
            &dir,
            "other-seed.json",
            &["--shard", "1/2", "--seed", "5"],
        )))
        .collect();
    for child in runs {
        finish(child, "a shard");
    }
    // A directory stands for its reports; the output inside it is left out.
    let out = shards.join("merged.json");
    let merge = |inputs: Vec<PathBuf>, allow_partial: bool| {
        tui::report_cmd::run(ReportCommand::Merge(MergeArgs {
            out: out.clone(),
            inputs,
            allow_partial,
        }))
    };
    assert_eq!(
        merge(vec![shards.clone()], false).unwrap(),
        ExitCode::SUCCESS
    );
    assert_eq!(
        merge(vec![shards.clone()], false).unwrap(),
        ExitCode::SUCCESS
    );
    assert_eq!(read(&out).details.shards.len(), 2);

    let missing = merge(vec![shards.join("s0.json")], false).unwrap_err();
    assert!(format!("{missing:#}").contains("missing"), "{missing:#}");
    let merged = merge(vec![shards.join("s0.json")], true).unwrap();
    assert_eq!(merged, ExitCode::SUCCESS);

    let mixed = merge(
        vec![shards.join("s0.json"), dir.join("other-seed.json")],
        false,
    )
    .unwrap_err();
    assert!(format!("{mixed:#}").contains("seed"), "{mixed:#}");
}

/// The message counts without the platform logins, and the number of logins.
fn without_token_queries(
    messages: &BTreeMap<String, BTreeMap<String, u64>>,
) -> (BTreeMap<String, BTreeMap<String, u64>>, u64) {
    let mut tokens = 0;
    let kept = messages
        .iter()
        .map(|(protocol, counts)| {
            let counts = counts
                .iter()
                .filter(|(name, count)| {
                    let login = name.ends_with("query_token");
                    if login && !name.starts_with("platform.in.") {
                        tokens += **count;
                    }
                    !login
                })
                .map(|(name, count)| (name.clone(), *count))
                .collect();
            (protocol.clone(), counts)
        })
        .collect();
    (kept, tokens)
}
