//! Pacing: drives a simulation in virtual time, as fast as possible or locked to the
//! wall clock.
//!
//! This is the only place the run loop reads the real clock. At `Speed::Max` virtual time
//! jumps from deadline to deadline. At `Speed::Realtime` (or a factor) the virtual time
//! due at wall instant `w` is `(w − w₀) · factor`; the driver sleeps until the next
//! deadline's wall time and records how late it woke (scheduler lag) in a histogram, so a
//! run whose simulator could not keep up is visible, not silently slower.

use hdrhistogram::Histogram;
use sim_core::time::{Duration, Instant};
use std::time::Instant as WallInstant;

/// How fast virtual time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as possible (CI).
    Max,
    /// Virtual time runs `factor` times as fast as the wall clock (1.0 = real time).
    Factor(f64),
}

impl Speed {
    /// Real time.
    pub const REALTIME: Speed = Speed::Factor(1.0);

    /// Parses `max`, `realtime` or a positive factor such as `50`.
    pub fn parse(text: &str) -> Result<Speed, String> {
        match text.trim() {
            "max" => Ok(Speed::Max),
            "realtime" | "real-time" | "1" => Ok(Speed::REALTIME),
            other => match other.trim_end_matches('x').parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
                _ => Err(format!(
                    "invalid speed {text:?}: use max, realtime or a factor such as 50"
                )),
            },
        }
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Max => f.write_str("max"),
            Speed::Factor(x) if (*x - 1.0).abs() < f64::EPSILON => f.write_str("realtime"),
            Speed::Factor(x) => write!(f, "{x}"),
        }
    }
}

/// What the pacing driver needs from a simulation.
pub trait Paced {
    /// Current virtual time.
    fn now(&self) -> Instant;
    /// Virtual time at which the run ends.
    fn end(&self) -> Instant;
    /// The earliest pending deadline, if any.
    fn next_deadline(&mut self) -> Option<Instant>;
    /// Processes every event due at or before `limit`, then sets the time to `limit`.
    fn run_until(&mut self, limit: Instant);
}

/// Lag and timing measured while pacing.
#[derive(Debug, Clone)]
pub struct PaceStats {
    /// Wall time the run took.
    pub wall: std::time::Duration,
    /// How late the driver processed deadlines, wall-clock µs (real-time and factor modes).
    pub lag_us: Histogram<u64>,
    /// Deadlines processed more than 5 ms late.
    pub overruns: u64,
    /// Whether the run was stopped early (Ctrl-C, `q`).
    pub interrupted: bool,
}

impl PaceStats {
    /// No wall time, no lag recorded, not interrupted.
    pub fn empty() -> PaceStats {
        PaceStats {
            wall: std::time::Duration::ZERO,
            lag_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("constant histogram bounds are valid"),
            overruns: 0,
            interrupted: false,
        }
    }
}

/// Lag above this is an overrun (the scale issue's p99 target).
pub const OVERRUN_LAG: Duration = Duration::from_millis(5);

/// The longest the driver sleeps before checking for progress output or a stop request.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_millis(50);

/// The most wall time a run that fell behind spends catching up before its chunk ends.
const MAX_CATCH_UP: std::time::Duration = std::time::Duration::from_millis(100);

/// Virtual time advanced per chunk at `Speed::Max` between progress checks.
const MAX_SPEED_CHUNK: Duration = Duration::from_secs(10);

/// How the pacing loop waits for the next deadline in real-time modes.
pub trait Waiter {
    /// Blocks for at most `timeout`; returns early when there is input to handle.
    fn wait(&mut self, timeout: std::time::Duration);

    /// The shortest wait worth taking: deadlines closer together than this are handled
    /// in one wake-up, each late by at most this much (and recorded so in the lag).
    fn granularity(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// Waits by sleeping: for runs with no external input. It sleeps at least
/// [`SLEEP_GRANULARITY`] at a time: a world of 100,000 connectors has a deadline every
/// few microseconds, and a sleep per deadline cost a fifth of its CPU and more lag (from
/// the context switches) than the half millisecond it now waits at most. (A whole
/// millisecond doubled the median lag for no measurable CPU.)
#[derive(Debug, Default, Clone, Copy)]
pub struct Sleep;

/// The granularity of [`Sleep`].
pub const SLEEP_GRANULARITY: std::time::Duration = std::time::Duration::from_micros(500);

impl Waiter for Sleep {
    fn wait(&mut self, timeout: std::time::Duration) {
        #[expect(
            clippy::disallowed_methods,
            reason = "the pacing shell sleeps on the real clock"
        )]
        std::thread::sleep(timeout);
    }

    fn granularity(&self) -> std::time::Duration {
        SLEEP_GRANULARITY
    }
}

/// Waits by spinning on the clock, offering the CPU to any other runnable thread on each
/// turn: deadlines are handled at their time, not after a wake-up, and the core stays
/// warm (on this VM a sleeping simulation thread ran its work 16 % slower after each
/// wake-up). The price is a whole core per simulation thread, busy or not: for
/// benches where timing matters, not for idle fleets.
#[derive(Debug, Default, Clone, Copy)]
pub struct Spin;

/// How long [`Spin`] spins between looks at the clock.
const SPIN_TURN: u32 = 64;

impl Waiter for Spin {
    fn wait(&mut self, timeout: std::time::Duration) {
        #[expect(
            clippy::disallowed_methods,
            reason = "the pacing shell waits on the real clock"
        )]
        let start = WallInstant::now();
        while start.elapsed() < timeout {
            for _ in 0..SPIN_TURN {
                std::hint::spin_loop();
            }
            std::thread::yield_now();
        }
    }
}

/// How a real-time run waits between deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pacing {
    /// Sleep ([`Sleep`]): little CPU while idle, up to half a millisecond of lag.
    #[default]
    Sleep,
    /// Spin ([`Spin`]): the least lag, a whole core per simulation thread.
    Spin,
}

impl Pacing {
    /// Parses `sleep` or `spin`.
    pub fn parse(text: &str) -> Result<Pacing, String> {
        match text.trim() {
            "sleep" => Ok(Pacing::Sleep),
            "spin" => Ok(Pacing::Spin),
            other => Err(format!("invalid pacing {other:?}: use sleep or spin")),
        }
    }
}

/// Drives `sim` to its end at `speed`. `between` runs after every chunk with the wall
/// time elapsed; it returns `false` to stop the run early.
pub fn run<S: Paced>(
    sim: &mut S,
    speed: Speed,
    between: impl FnMut(&mut S, std::time::Duration) -> bool,
) -> PaceStats {
    run_with(sim, speed, &mut Sleep, between)
}

/// [`run`] with a waiter that wakes the loop when input arrives (sockets).
pub fn run_with<S: Paced>(
    sim: &mut S,
    speed: Speed,
    waiter: &mut impl Waiter,
    mut between: impl FnMut(&mut S, std::time::Duration) -> bool,
) -> PaceStats {
    #[expect(
        clippy::disallowed_methods,
        reason = "the pacing shell owns the real clock"
    )]
    let wall_start = WallInstant::now();
    let virtual_start = sim.now();
    let mut stats = PaceStats::empty();
    while sim.now() < sim.end() {
        #[expect(
            clippy::disallowed_methods,
            reason = "the pacing shell owns the real clock"
        )]
        let elapsed = WallInstant::now() - wall_start;
        match speed {
            Speed::Max => {
                let limit = (sim.now() + MAX_SPEED_CHUNK).min(sim.end());
                sim.run_until(limit);
                if !between(sim, wall_since(wall_start)) {
                    stats.interrupted = true;
                    break;
                }
            }
            Speed::Factor(factor) => {
                let wall_due =
                    virtual_start + Duration::from_secs_f64(elapsed.as_secs_f64() * factor);
                let wall_due = wall_due.min(sim.end());
                // A run that fell behind catches up in chunks of at most MAX_CATCH_UP of
                // wall time at its factor, so its I/O, progress and Ctrl-C stay live.
                let catch_up = Duration::from_secs_f64(MAX_CATCH_UP.as_secs_f64() * factor);
                let due = wall_due.min(sim.now() + catch_up.max(Duration::from_millis(1)));
                while let Some(deadline) = sim.next_deadline() {
                    if deadline > due {
                        break;
                    }
                    // A deadline is late by the wall time from its instant to the start of
                    // its handling, read per deadline: the deadlines handled after others
                    // in one wake-up are later by the work done before them. Lag is wall
                    // time: at a factor of 100, a deadline handled 1 s of virtual time
                    // late was 10 ms late on the wall clock.
                    let handled_at = virtual_start
                        + Duration::from_secs_f64(wall_since(wall_start).as_secs_f64() * factor);
                    let lag_wall_us =
                        ((handled_at.max(wall_due) - deadline).as_micros() as f64 / factor) as u64;
                    let _ = stats.lag_us.record(lag_wall_us.clamp(1, 3_600_000_000));
                    if lag_wall_us > OVERRUN_LAG.as_micros() {
                        stats.overruns += 1;
                    }
                    sim.run_until(deadline);
                }
                sim.run_until(due);
                // Hand what the chunk produced to the I/O shell before waiting: a message
                // due now must leave now, not after the next wake-up.
                if !between(sim, wall_since(wall_start)) {
                    stats.interrupted = true;
                    break;
                }
                let next_wall = sim
                    .next_deadline()
                    .map(|d| (d - wall_due).as_secs_f64() / factor)
                    .unwrap_or(f64::INFINITY);
                let sleep = std::time::Duration::from_secs_f64(next_wall.clamp(0.0, 3600.0))
                    .min(MAX_SLEEP)
                    .max(waiter.granularity());
                if !sleep.is_zero() && sim.now() < sim.end() {
                    waiter.wait(sleep);
                }
            }
        }
    }
    #[expect(
        clippy::disallowed_methods,
        reason = "the pacing shell owns the real clock"
    )]
    let end = WallInstant::now();
    stats.wall = end - wall_start;
    stats
}

/// Wall time elapsed since `start`.
fn wall_since(start: WallInstant) -> std::time::Duration {
    #[expect(
        clippy::disallowed_methods,
        reason = "the pacing shell owns the real clock"
    )]
    let now = WallInstant::now();
    now - start
}

impl Paced for sim_core::fleet::World {
    fn now(&self) -> Instant {
        sim_core::fleet::World::now(self)
    }
    fn end(&self) -> Instant {
        sim_core::fleet::World::end(self)
    }
    fn next_deadline(&mut self) -> Option<Instant> {
        sim_core::fleet::World::next_deadline(self)
    }
    fn run_until(&mut self, limit: Instant) {
        sim_core::fleet::World::run_until(self, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulation with a deadline every `period` that counts how often it ran.
    struct Ticker {
        now: Instant,
        end: Instant,
        period: Duration,
        next: Instant,
        ticks: u64,
        limits: Vec<Instant>,
    }

    impl Paced for Ticker {
        fn now(&self) -> Instant {
            self.now
        }
        fn end(&self) -> Instant {
            self.end
        }
        fn next_deadline(&mut self) -> Option<Instant> {
            Some(self.next)
        }
        fn run_until(&mut self, limit: Instant) {
            while self.next <= limit {
                self.ticks += 1;
                self.next += self.period;
            }
            self.now = limit;
            self.limits.push(limit);
        }
    }

    fn ticker(end_ms: u64, period_ms: u64) -> Ticker {
        Ticker {
            now: Instant::ZERO,
            end: Instant::from_millis(end_ms),
            period: Duration::from_millis(period_ms),
            next: Instant::from_millis(period_ms),
            ticks: 0,
            limits: Vec::new(),
        }
    }

    /// A ticker whose every deadline costs `cost` of wall time: it cannot keep up.
    struct Slow {
        inner: Ticker,
        cost: std::time::Duration,
    }

    impl Paced for Slow {
        fn now(&self) -> Instant {
            self.inner.now()
        }
        fn end(&self) -> Instant {
            self.inner.end()
        }
        fn next_deadline(&mut self) -> Option<Instant> {
            self.inner.next_deadline()
        }
        fn run_until(&mut self, limit: Instant) {
            let before = self.inner.ticks;
            self.inner.run_until(limit);
            for _ in before..self.inner.ticks {
                #[expect(clippy::disallowed_methods, reason = "the test's sim costs wall time")]
                std::thread::sleep(self.cost);
            }
        }
    }

    #[test]
    fn a_run_that_falls_behind_still_returns_to_its_shell_and_reports_the_lag() {
        // 1 ms deadlines that each cost 2 ms: the run falls ever further behind. It must
        // still hand control back (I/O, progress, Ctrl-C) every ~100 ms, and the lag it
        // reports grows with the wall time, not with the chunk.
        let mut slow = Slow {
            inner: ticker(2_000, 1),
            cost: std::time::Duration::from_millis(2),
        };
        let mut gaps = Vec::new();
        let mut last = std::time::Duration::ZERO;
        let stats = run(&mut slow, Speed::REALTIME, |_, elapsed| {
            gaps.push(elapsed - last);
            last = elapsed;
            elapsed < std::time::Duration::from_millis(600)
        });
        assert!(stats.interrupted);
        let longest = gaps.iter().max().copied().unwrap_or_default();
        assert!(
            longest < std::time::Duration::from_millis(400),
            "the shell waited {longest:?} for a chunk"
        );
        let p99_ms = stats.lag_us.value_at_quantile(0.99) as f64 / 1000.0;
        assert!(p99_ms > 100.0, "lag p99 {p99_ms} ms while falling behind");
    }

    #[test]
    fn max_speed_runs_to_the_end_in_chunks() {
        let mut t = ticker(25_000, 100);
        let stats = run(&mut t, Speed::Max, |_, _| true);
        assert_eq!(t.ticks, 250);
        assert_eq!(t.now, Instant::from_millis(25_000));
        assert_eq!(t.limits.len(), 3, "10 s chunks");
        assert!(!stats.interrupted);
    }

    #[test]
    fn a_factor_paces_virtual_time_to_the_wall_clock() {
        // 2 virtual seconds at 20x take about 100 ms of wall time.
        let mut t = ticker(2_000, 100);
        let stats = run(&mut t, Speed::Factor(20.0), |_, _| true);
        assert_eq!(t.ticks, 20);
        assert!(
            stats.wall >= std::time::Duration::from_millis(95),
            "{:?}",
            stats.wall
        );
        assert!(
            stats.wall < std::time::Duration::from_secs(2),
            "{:?}",
            stats.wall
        );
    }

    /// Counts the waits of [`Sleep`].
    struct CountingSleep(u64);

    impl Waiter for CountingSleep {
        fn wait(&mut self, timeout: std::time::Duration) {
            self.0 += 1;
            Sleep.wait(timeout);
        }
        fn granularity(&self) -> std::time::Duration {
            Sleep.granularity()
        }
    }

    #[test]
    fn sleeping_waits_half_a_millisecond_at_least_and_records_the_lag() {
        // A deadline every 100 µs for 100 ms: 1,000 deadlines, at most ~200 waits.
        let mut t = ticker(100, 1);
        t.period = Duration::from_micros(100);
        t.next = Instant::ZERO + t.period;
        let mut waiter = CountingSleep(0);
        let stats = run_with(&mut t, Speed::REALTIME, &mut waiter, |_, _| true);
        assert_eq!(t.ticks, 1_000);
        assert!(waiter.0 <= 210, "{} waits", waiter.0);
        assert!(waiter.0 >= 20, "{} waits", waiter.0);
        let p50_us = stats.lag_us.value_at_quantile(0.5);
        assert!(
            p50_us >= 100,
            "deadlines wait for the wake-up: p50 {p50_us} µs"
        );
    }

    #[test]
    fn spinning_waits_out_its_timeout_and_handles_deadlines_at_their_time() {
        let timeout = std::time::Duration::from_millis(3);
        #[expect(clippy::disallowed_methods, reason = "the test times the wait")]
        let start = WallInstant::now();
        Spin.wait(timeout);
        assert!(start.elapsed() >= timeout);
        // No granularity: it waits for each deadline, not for the sleeper's half
        // millisecond. A deadline every 100 µs for 100 ms: most are handled at once (the
        // bound is loose: test threads share the machine).
        assert_eq!(Spin.granularity(), std::time::Duration::ZERO);
        let mut t = ticker(100, 1);
        t.period = Duration::from_micros(100);
        t.next = Instant::ZERO + t.period;
        let stats = run_with(&mut t, Speed::REALTIME, &mut Spin, |_, _| true);
        assert_eq!(t.ticks, 1_000);
        let p50_us = stats.lag_us.value_at_quantile(0.5);
        assert!(
            p50_us < 2_000,
            "spinning handles deadlines at once: p50 {p50_us} µs"
        );
        assert_eq!(Pacing::parse("spin"), Ok(Pacing::Spin));
        assert!(Pacing::parse("busy").is_err());
        assert_eq!(Pacing::parse("sleep"), Ok(Pacing::Sleep));
    }

    /// Deadlines all due at one instant, each costing `cost` of wall time to handle.
    struct SameInstant {
        now: Instant,
        due: Instant,
        left: u32,
        cost: std::time::Duration,
    }

    impl Paced for SameInstant {
        fn now(&self) -> Instant {
            self.now
        }
        fn end(&self) -> Instant {
            self.due + Duration::from_millis(1)
        }
        fn next_deadline(&mut self) -> Option<Instant> {
            (self.left > 0).then_some(self.due)
        }
        fn run_until(&mut self, limit: Instant) {
            if limit >= self.due && self.left > 0 {
                self.left -= 1;
                #[expect(clippy::disallowed_methods, reason = "the test's sim costs wall time")]
                std::thread::sleep(self.cost);
            }
            self.now = self.now.max(limit);
        }
    }

    #[test]
    fn a_deadline_handled_after_others_in_one_wake_up_is_late_by_their_work() {
        // Three deadlines at 5 ms, each taking 20 ms: the third starts ~40 ms late, and
        // its lag says so (not the lag of the wake-up that found it).
        let mut sim = SameInstant {
            now: Instant::ZERO,
            due: Instant::from_millis(5),
            left: 3,
            cost: std::time::Duration::from_millis(20),
        };
        let stats = run(&mut sim, Speed::REALTIME, |_, _| true);
        assert_eq!(sim.left, 0);
        let max_us = stats.lag_us.max();
        assert!(max_us >= 38_000, "the last deadline's lag: {max_us} µs");
        assert_eq!(stats.overruns, 2, "two deadlines waited for 20 and 40 ms");
    }

    #[test]
    fn stopping_early_is_reported() {
        let mut t = ticker(100_000, 100);
        let stats = run(&mut t, Speed::Max, |_, _| false);
        assert!(stats.interrupted);
        assert!(t.now < t.end);
    }

    #[test]
    fn speeds_parse() {
        assert_eq!(Speed::parse("max"), Ok(Speed::Max));
        assert_eq!(Speed::parse("realtime"), Ok(Speed::REALTIME));
        assert_eq!(Speed::parse("50"), Ok(Speed::Factor(50.0)));
        assert!(Speed::parse("0").is_err());
        assert!(Speed::parse("fast").is_err());
    }
}
