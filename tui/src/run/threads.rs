//! `run --threads N`: one run split into the N shard worlds of `--shard K/N`, each on a
//! thread of its own in this process, and their reports merged exactly as
//! `chargestorm report merge` merges the reports of N shard processes.
//!
//! A world is single-threaded and deterministic, and shards share nothing (a station's
//! chargers always run in one shard), so a shard's report does not depend on which
//! thread or process ran it, nor on what ran beside it: the merged report equals the
//! merge of the N shard processes' reports, up to wall times and process usage.
//!
//! At `--speed max` the fleet is split into more worlds than threads (`--worlds W`,
//! default four per thread) and the threads take turns on them ([`run_pooled`]): each
//! takes the least advanced free world, runs it for [`POOLED_CHUNK`] of virtual time and
//! puts it back. The threads then finish together however unevenly the work falls
//! between worlds, and each works on a world small enough to stay in its core's cache.
//! Which thread runs which chunk changes nothing: the report is the merge of the W shard
//! processes' reports.

use super::{Outcome, parse_shard, prepare, shard_text};
use crate::cli::RunArgs;
use anyhow::{Context, Result, bail};
use hil::pace::{self, PaceStats, Paced, Speed};
use sim_core::fleet::{Snapshot, World};
use sim_core::report::{MergeOptions, Report, merge_with};
use sim_core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};

/// Worlds per thread at `--speed max` unless `--worlds` says otherwise.
const WORLDS_PER_THREAD_AT_MAX: u32 = 4;

/// Virtual time a thread runs one world before it picks the least advanced again: about
/// 10 ms of work for a 125-connector DC world, so turns cost nothing measurable.
const POOLED_CHUNK: Duration = Duration::from_secs(10);

/// What one shard thread hands back.
struct ShardRun {
    report: Report,
    stats: PaceStats,
    snapshot: Snapshot,
}

/// Runs `args` as shard worlds on `threads` threads and merges their reports.
pub(super) fn run_threads(args: &RunArgs, threads: u32) -> Result<Outcome> {
    check_options(args)?;
    let speed = Speed::parse(&args.speed).map_err(anyhow::Error::msg)?;
    let worlds = world_count(threads, args.worlds, speed)?;
    let stop = super::interrupt_flag();
    eprintln!(
        "chargestorm: scenario {} in {worlds} shard worlds on {threads} threads",
        args.scenario
    );
    if worlds > threads {
        #[expect(
            clippy::disallowed_methods,
            reason = "the run's wall time is measured in the binary"
        )]
        let started = std::time::Instant::now();
        let runs = run_pooled(args, threads, worlds, &stop)?;
        return conclude_threads(args, runs, (threads, worlds), started.elapsed());
    }
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
    let wall = runs.iter().map(|r| r.stats.wall).max().unwrap_or_default();
    conclude_threads(args, runs, (threads, worlds), wall)
}

/// How many worlds `threads` threads run: `--worlds` if given (at least one per thread,
/// and exactly one per thread when paced: a thread paces one world), else four per
/// thread at `--speed max` and one per thread otherwise.
fn world_count(threads: u32, worlds: Option<u32>, speed: Speed) -> Result<u32> {
    let threads = threads.max(1);
    match (worlds, speed) {
        (Some(w), _) if w < threads => {
            bail!("--worlds {w} is fewer than --threads {threads}: every thread needs a world")
        }
        (Some(w), Speed::Factor(_)) if w != threads => {
            bail!("--worlds {w} needs --speed max: a paced run keeps one world per thread")
        }
        (Some(w), _) => Ok(w),
        (None, Speed::Max) => Ok(threads.saturating_mul(WORLDS_PER_THREAD_AT_MAX)),
        (None, Speed::Factor(_)) => Ok(threads),
    }
}

/// A world waiting in the pool between turns.
struct Parked {
    world: World,
    rerun: String,
    speed: Speed,
    /// Wall time spent running it so far.
    busy: std::time::Duration,
}

/// The worlds of a pooled run and what became of them, behind one lock.
struct Pool {
    /// World `k` when it is built, not finished and no thread holds it.
    parked: Vec<Option<Parked>>,
    /// World `k`'s result once it has finished.
    done: Vec<Option<ShardRun>>,
    /// Worlds finished (or failed).
    finished: u32,
    /// The first error of any thread; the others stop at their next turn.
    error: Option<anyhow::Error>,
}

/// `--speed max` with more worlds than threads: each thread builds worlds until all are
/// built, then repeatedly takes the least advanced free world (lowest index on a tie),
/// runs it for [`POOLED_CHUNK`] and parks it again, finishing each world's report when it
/// reaches its end. Returns the worlds' results in shard order.
fn run_pooled(
    args: &RunArgs,
    threads: u32,
    worlds: u32,
    stop: &AtomicBool,
) -> Result<Vec<ShardRun>> {
    let pool = Mutex::new(Pool {
        parked: (0..worlds).map(|_| None).collect(),
        done: (0..worlds).map(|_| None).collect(),
        finished: 0,
        error: None,
    });
    let changed = Condvar::new();
    let next_build = AtomicU32::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let (pool, changed, next_build) = (&pool, &changed, &next_build);
                std::thread::Builder::new()
                    .name(format!("chargestorm-pool-{k}"))
                    .spawn_scoped(scope, move || {
                        pooled_worker(args, worlds, stop, pool, changed, next_build)
                    })
            })
            .collect();
        for h in handles {
            let outcome = match h.context("cannot start a pool thread")?.join() {
                Ok(()) => None,
                Err(_) => Some(anyhow::anyhow!("a pool thread panicked")),
            };
            if let Some(e) = outcome {
                return Err(e);
            }
        }
        Ok(())
    })?;
    let pool = pool
        .into_inner()
        .map_err(|_| anyhow::anyhow!("the world pool is poisoned"))?;
    if let Some(e) = pool.error {
        return Err(e);
    }
    pool.done
        .into_iter()
        .enumerate()
        .map(|(k, r)| r.with_context(|| format!("shard world {k} did not finish")))
        .collect()
}

/// One pool thread: builds worlds while any are unbuilt, then runs turns until every
/// world has finished or a thread failed.
fn pooled_worker(
    args: &RunArgs,
    worlds: u32,
    stop: &AtomicBool,
    pool: &Mutex<Pool>,
    changed: &Condvar,
    next_build: &AtomicU32,
) {
    let _guard = PanicGuard { pool, changed };
    loop {
        let k = next_build.fetch_add(1, Ordering::Relaxed);
        if k >= worlds {
            break;
        }
        let built = build_world(args, k, worlds);
        let Ok(mut p) = pool.lock() else { return };
        match built {
            Ok(parked) => {
                if let Some(slot) = p.parked.get_mut(k as usize) {
                    *slot = Some(parked);
                }
            }
            Err(e) => {
                p.error.get_or_insert(e);
            }
        }
        changed.notify_all();
    }
    while let Some((k, mut parked)) = take_turn(pool, changed, worlds) {
        run_turn(&mut parked, stop);
        let ended = parked.world.now() >= parked.world.end() || stop.load(Ordering::Relaxed);
        let (finished, unfinished) = if ended {
            (Some(finish_world(k, worlds, parked)), None)
        } else {
            (None, Some(parked))
        };
        let Ok(mut p) = pool.lock() else { return };
        if let (Some(slot), Some(parked)) = (p.parked.get_mut(k), unfinished) {
            *slot = Some(parked);
        }
        match finished {
            None => {}
            Some(Ok(run)) => {
                p.finished += 1;
                if let Some(slot) = p.done.get_mut(k) {
                    *slot = Some(run);
                }
            }
            Some(Err(e)) => {
                p.finished += 1;
                p.error.get_or_insert(e);
            }
        }
        changed.notify_all();
    }
}

/// Wakes the other pool threads with an error if this one panics, so none waits forever
/// for a world the panicking thread held.
struct PanicGuard<'a> {
    pool: &'a Mutex<Pool>,
    changed: &'a Condvar,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A lock poisoned by this panic already stops the others at their next lock.
            if let Ok(mut p) = self.pool.lock() {
                p.error
                    .get_or_insert_with(|| anyhow::anyhow!("a pool thread panicked"));
            }
            self.changed.notify_all();
        }
    }
}

/// Builds shard world `k` of `worlds` as `run --shard k/worlds` would.
fn build_world(args: &RunArgs, k: u32, worlds: u32) -> Result<Parked> {
    let mut shard_args = args.clone();
    shard_args.shard = Some(format!("{k}/{worlds}"));
    shard_args.threads = 1;
    shard_args.worlds = None;
    let setup = prepare(&shard_args)?;
    if setup.stack.is_some() {
        bail!("--threads runs on in-process networks only (the scenario uses real transports)");
    }
    let mut world = setup.world;
    world.set_unobserved(true);
    Ok(Parked {
        world,
        rerun: setup.rerun,
        speed: setup.speed,
        busy: std::time::Duration::ZERO,
    })
}

/// Waits for a free world and takes the least advanced one; `None` when every world
/// has finished or a thread failed.
fn take_turn(pool: &Mutex<Pool>, changed: &Condvar, worlds: u32) -> Option<(usize, Parked)> {
    let mut p = pool.lock().ok()?;
    loop {
        if p.error.is_some() || p.finished >= worlds {
            return None;
        }
        let least = p
            .parked
            .iter()
            .enumerate()
            .filter_map(|(k, slot)| slot.as_ref().map(|w| (w.world.now(), k)))
            .min();
        if let Some((_, k)) = least {
            let parked = p.parked.get_mut(k)?.take()?;
            return Some((k, parked));
        }
        p = changed.wait(p).ok()?;
    }
}

/// Runs one world for a turn of [`POOLED_CHUNK`] (less at its end).
fn run_turn(parked: &mut Parked, stop: &AtomicBool) {
    if stop.load(Ordering::Relaxed) {
        return;
    }
    #[expect(
        clippy::disallowed_methods,
        reason = "the run's wall time is measured in the binary"
    )]
    let started = std::time::Instant::now();
    let world = &mut parked.world;
    let limit = (world.now() + POOLED_CHUNK).min(world.end());
    Paced::run_until(world, limit);
    parked.busy += started.elapsed();
}

/// Finishes world `k`'s report as `run --shard k/worlds` would.
fn finish_world(k: usize, worlds: u32, parked: Parked) -> Result<ShardRun> {
    let Parked {
        world,
        rerun,
        speed,
        busy,
    } = parked;
    let interrupted = world.now() < world.end();
    let snapshot = world.snapshot();
    let mut report = world.finish(busy.as_secs_f64());
    report.details.rerun = rerun;
    report.details.speed = speed.to_string();
    let shard = format!("{k}/{worlds}");
    report.details.shard = shard_text(parse_shard(Some(&shard))?);
    let mut stats = PaceStats::empty();
    stats.wall = busy;
    stats.interrupted = interrupted;
    Ok(ShardRun {
        report,
        stats,
        snapshot,
    })
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
/// writes the report. `wall` is the run's wall time.
fn conclude_threads(
    args: &RunArgs,
    runs: Vec<ShardRun>,
    (threads, worlds): (u32, u32),
    wall: std::time::Duration,
) -> Result<Outcome> {
    let reports: Vec<Report> = runs.iter().map(|r| r.report.clone()).collect();
    let mut report = merge_with(&reports, MergeOptions::default())
        .context("merging the shard worlds' reports")?;
    // The slowest shard's wall time is the run's when each world has a thread; pooled
    // worlds share threads, so the run's own wall time is the one to report.
    report.wall_s = wall.as_secs_f64();
    let mut stats = PaceStats::empty();
    stats.wall = wall;
    for r in &runs {
        stats
            .lag_us
            .add(&r.stats.lag_us)
            .context("merging pacing lag")?;
        stats.overruns += r.stats.overruns;
        stats.interrupted |= r.stats.interrupted;
    }
    // The merged rerun is the whole run; at a paced speed the thread count matters.
    // The rerun names the split when it is not the default one at this speed: the
    // digest merges the worlds' digests.
    let speed = Speed::parse(&args.speed).map_err(anyhow::Error::msg)?;
    let split = if world_count(threads, None, speed).ok() == Some(worlds) {
        String::new()
    } else {
        format!(" --worlds {worlds}")
    };
    report.details.rerun = format!("{} --threads {threads}{split}", report.details.rerun);
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
