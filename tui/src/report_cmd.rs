//! `chargestorm report merge OUT.json IN.json…` and `chargestorm report show FILE`.
//!
//! `merge` joins the reports of the shards of one run (`run --shard K/N`) into the report
//! of the whole fleet with [`sim_core::report::merge_with`]: counts and energy add up and
//! latency merges the serialized HdrHistograms. Both commands exit 0 only when the
//! (merged) verdict passes, like `run`, so a CI job or a Kubernetes collector can gate on
//! the exit code.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sim_core::report::{MergeOptions, Report, Verdict, merge_with};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `chargestorm report …`.
#[derive(Debug, Subcommand, Clone)]
pub enum ReportCommand {
    /// Merge shard reports (`run --shard K/N`) into the report of the whole fleet.
    Merge(MergeArgs),
    /// Print a report's summary; exit 0 only if its verdict is pass.
    Show(ShowArgs),
}

/// `chargestorm report merge`.
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// Where to write the merged report.
    pub out: PathBuf,
    /// Shard reports in any order; a directory stands for every `.json` file in it
    /// (except OUT).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Merge even if some of the N shards are missing (totals then cover only those given).
    #[arg(long)]
    pub allow_partial: bool,
}

/// `chargestorm report show`.
#[derive(Debug, Args, Clone)]
pub struct ShowArgs {
    /// The report to print.
    pub file: PathBuf,
}

/// Runs a `report` subcommand.
pub fn run(cmd: ReportCommand) -> Result<ExitCode> {
    match cmd {
        ReportCommand::Merge(args) => merge_cmd(&args),
        ReportCommand::Show(args) => {
            let report = read_report(&args.file)?;
            print_summary(&report, &args.file.display().to_string());
            Ok(exit_code(&report))
        }
    }
}

fn merge_cmd(args: &MergeArgs) -> Result<ExitCode> {
    let paths = expand_inputs(&args.inputs, &args.out)?;
    let reports = paths
        .iter()
        .map(|p| read_report(p))
        .collect::<Result<Vec<_>>>()?;
    let options = MergeOptions {
        allow_partial: args.allow_partial,
    };
    let merged = merge_with(&reports, options).map_err(|e| {
        let inputs: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        anyhow::anyhow!("{e} (inputs in order: {})", inputs.join(", "))
    })?;
    let json = serde_json::to_string_pretty(&merged)?;
    std::fs::write(&args.out, json + "\n")
        .with_context(|| format!("cannot write merged report {}", args.out.display()))?;
    eprintln!(
        "chargestorm: merged {} shard reports into {}",
        reports.len(),
        args.out.display()
    );
    print_summary(&merged, &args.out.display().to_string());
    Ok(exit_code(&merged))
}

/// Files as given; each directory replaced by its `.json` files in name order, leaving out
/// `out` (so re-running a merge into the same directory does not merge the merge).
fn expand_inputs(inputs: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>> {
    let out = std::fs::canonicalize(out).ok();
    let mut paths = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            paths.push(input.clone());
            continue;
        }
        let mut found = Vec::new();
        for entry in std::fs::read_dir(input)
            .with_context(|| format!("cannot list directory {}", input.display()))?
        {
            let path = entry?.path();
            let is_json = path.extension().is_some_and(|e| e == "json");
            if is_json && std::fs::canonicalize(&path).ok() != out {
                found.push(path);
            }
        }
        if found.is_empty() {
            anyhow::bail!("directory {} holds no .json reports", input.display());
        }
        found.sort();
        paths.extend(found);
    }
    Ok(paths)
}

/// Reads and parses one report.
pub fn read_report(path: &Path) -> Result<Report> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read report {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a chargestorm report", path.display()))
}

fn exit_code(report: &Report) -> ExitCode {
    match report.verdict {
        Verdict::Pass => ExitCode::SUCCESS,
        Verdict::Fail => ExitCode::FAILURE,
    }
}

/// Prints a report's summary to stdout: totals, latency, errors, assertions, and for a
/// merged report its shards.
pub fn print_summary(r: &Report, path: &str) {
    println!("scenario   {} (seed {})", r.scenario, r.seed);
    println!(
        "simulated  {:.0} s in {:.2} s wall",
        r.simulated_s, r.wall_s
    );
    println!(
        "connectors {} ({} DC, {} AC)",
        r.connectors.total, r.connectors.dc, r.connectors.ac
    );
    println!(
        "sessions   {} started, {} completed, {} failed",
        r.sessions.started, r.sessions.completed, r.sessions.failed
    );
    let t = &r.transactions;
    println!(
        "transactions {} started, {} confirmed, {} open, {} lost",
        t.started, t.confirmed, t.open, t.lost
    );
    println!("energy     {:.3} kWh", r.energy_kwh);
    for (protocol, names) in &r.messages {
        let total: u64 = names.values().sum();
        println!("messages   {protocol}: {total} ({} types)", names.len());
    }
    for (name, l) in &r.latency_ms {
        println!(
            "latency    {name}: n={} p50={:.1} p99={:.1} p99.9={:.1} max={:.1} ms",
            l.count, l.p50, l.p99, l.p999, l.max
        );
    }
    for name in &r.details.latency_uncorrected_approximate {
        println!("latency    {name}: uncorrected percentiles approximate (max over shards)");
    }
    for (kind, n) in &r.errors {
        println!("errors     {kind}: {n}");
    }
    for a in &r.assertions {
        let mark = if a.passed { "pass" } else { "FAIL" };
        println!("{mark}  {}: {}", a.name, a.detail);
    }
    if let Some(p) = &r.details.pacing {
        println!(
            "pacing     lag p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} overruns{}",
            p.lag_p50_ms,
            p.lag_p99_ms,
            p.lag_max_ms,
            p.overruns,
            if p.kept_up() {
                ""
            } else {
                " — GENERATOR FELL BEHIND"
            }
        );
    }
    if let Some(u) = &r.details.process {
        println!(
            "process    {:.2} s user + {:.2} s system CPU, peak RSS {} MiB",
            u.cpu_user_s,
            u.cpu_system_s,
            u.max_rss_kib / 1024
        );
    }
    for s in &r.details.shards {
        println!(
            "shard      {}: {} connectors, {:.2} s wall, {:?}, digest {}",
            s.shard, s.connectors, s.wall_s, s.verdict, s.digest
        );
    }
    println!("digest     {}", r.digest);
    println!("verdict    {:?}  (report: {path})", r.verdict);
}
