//! `run --threads N`: one run split into the N shard worlds of `--shard K/N`, each on a
//! thread of its own in this process, and their reports merged exactly as
//! `chargestorm report merge` merges the reports of N shard processes.
//!
//! A world is single-threaded and deterministic, and shards share nothing (a station's
//! chargers always run in one shard), so a shard's report does not depend on which
//! thread or process ran it, nor on what ran beside it: the merged report equals the
//! merge of the N shard processes' reports, up to wall times and process usage.

use super::{Outcome, parse_shard, prepare, shard_text};
use crate::cli::RunArgs;
use anyhow::{Context, Result, bail};
use hil::pace::{self, PaceStats};
use sim_core::fleet::Snapshot;
use sim_core::report::{MergeOptions, Report, merge_with};

/// What one shard thread hands back.
struct ShardRun {
    report: Report,
    stats: PaceStats,
    snapshot: Snapshot,
}

/// Runs `args` as `threads` shard worlds on as many threads and merges their reports.
pub(super) fn run_threads(args: &RunArgs, threads: u32) -> Result<Outcome> {
    check_options(args)?;
    let stop = super::interrupt_flag();
    eprintln!(
        "chargestorm: scenario {} in {threads} shard worlds on {threads} threads",
        args.scenario
    );
    let runs = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let stop = &stop;
                std::thread::Builder::new()
                    .name(format!("chargestorm-shard-{k}"))
                    .spawn_scoped(scope, move || run_shard(args, k, threads, stop))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.context("cannot start a shard thread")?.join() {
                Ok(result) => result,
                Err(_) => bail!("a shard thread panicked"),
            })
            .collect::<Result<Vec<_>>>()
    })?;
    conclude_threads(args, runs)
}

/// `--threads` runs headless on virtual networks, each shard with its own world: options
/// that need one world or one shell are refused rather than silently ignored.
fn check_options(args: &RunArgs) -> Result<()> {
    let refused = [
        (args.shard.is_some(), "--shard"),
        (args.trace.is_some(), "--trace"),
        (args.candump.is_some(), "--candump"),
        (args.metrics_listen.is_some(), "--metrics-listen"),
        (args.report_html.is_some(), "--report-html"),
        (args.broker.is_some(), "--broker"),
        (args.platform.is_some(), "--platform"),
        (args.seeds.is_some(), "--seeds"),
    ];
    for (given, name) in refused {
        if given {
            bail!("--threads does not combine with {name}: run the shards as processes instead");
        }
    }
    Ok(())
}

/// Builds and runs shard `k` of `n` to its end (or until Ctrl-C) and finishes its report
/// as `run --shard k/n` would.
fn run_shard(
    args: &RunArgs,
    k: u32,
    n: u32,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<ShardRun> {
    let mut shard_args = args.clone();
    shard_args.shard = Some(format!("{k}/{n}"));
    shard_args.threads = 1;
    let mut setup = prepare(&shard_args)?;
    if setup.stack.is_some() {
        bail!("--threads runs on in-process networks only (the scenario uses real transports)");
    }
    // Nothing looks at a shard world between its chunks.
    setup.world.set_unobserved(true);
    let mut waiter = crate::stack::AnyWaiter::from(setup.pacing);
    let stats = pace::run_with(&mut setup.world, setup.speed, &mut waiter, |_, _| {
        !stop.load(std::sync::atomic::Ordering::Relaxed)
    });
    let snapshot = setup.world.snapshot();
    let mut report = setup.world.finish(stats.wall.as_secs_f64());
    report.details.rerun = setup.rerun;
    report.details.speed = setup.speed.to_string();
    report.details.shard = shard_text(parse_shard(shard_args.shard.as_deref())?);
    Ok(ShardRun {
        report,
        stats,
        snapshot,
    })
}

/// Merges the shard reports, adds the pacing of all threads and the process usage, and
/// writes the report.
fn conclude_threads(args: &RunArgs, runs: Vec<ShardRun>) -> Result<Outcome> {
    let reports: Vec<Report> = runs.iter().map(|r| r.report.clone()).collect();
    let mut report = merge_with(&reports, MergeOptions::default())
        .context("merging the shard worlds' reports")?;
    let mut stats = PaceStats {
        wall: std::time::Duration::ZERO,
        lag_us: runs
            .first()
            .map(|r| r.stats.lag_us.clone())
            .context("no shard ran")?,
        overruns: 0,
        interrupted: false,
    };
    stats.lag_us.reset();
    for r in &runs {
        stats.wall = stats.wall.max(r.stats.wall);
        stats
            .lag_us
            .add(&r.stats.lag_us)
            .context("merging pacing lag")?;
        stats.overruns += r.stats.overruns;
        stats.interrupted |= r.stats.interrupted;
    }
    // The merged rerun is the whole run; at a paced speed the thread count matters.
    report.details.rerun = format!("{} --threads {}", report.details.rerun, runs.len());
    let speed = hil::pace::Speed::parse(&args.speed).map_err(anyhow::Error::msg)?;
    if let Some(pacing) = crate::usage::pacing(speed, &stats) {
        report.record_pacing(pacing);
    }
    report.details.process = crate::usage::process();
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.report, json + "\n")
        .with_context(|| format!("cannot write report {}", args.report.display()))?;
    crate::verdict::after_run(args, &report)?;
    Ok(Outcome {
        report,
        snapshot: merged_snapshot(runs.iter().map(|r| &r.snapshot)),
        wall: stats.wall,
        interrupted: stats.interrupted,
    })
}

/// The fleet-wide snapshot of all shards together.
fn merged_snapshot<'a>(parts: impl Iterator<Item = &'a Snapshot>) -> Snapshot {
    let mut out = Snapshot::default();
    for s in parts {
        out.now = out.now.max(s.now);
        out.end = out.end.max(s.end);
        for (total, n) in out.states.iter_mut().zip(s.states) {
            *total += n;
        }
        out.sessions.0 += s.sessions.0;
        out.sessions.1 += s.sessions.1;
        out.sessions.2 += s.sessions.2;
        out.energy_kwh += s.energy_kwh;
        out.events += s.events;
    }
    out
}
