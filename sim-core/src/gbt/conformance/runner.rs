//! Running a case: [`CaseRun`] is the sans-IO run of one case over any [`TestBus`];
//! [`run_virtual`] drives it against chargestorm's own DUT in virtual time.

use proto::gbt27930::id::Node;
use proto::time::{Duration, Instant};

use super::bus::TestBus;
use super::script::{DutAction, PeerConfig};
use super::tester::Tester;
use super::trace::Trace;
use super::virtual_dut::{DutFault, VirtualBus};
use super::{Case, Verdict};
use crate::gbt::bms::BmsConfig;
use crate::gbt::charger::ChargerConfig;

/// One case in progress: feed it with [`step`](CaseRun::step) at each of its deadlines
/// and whenever the bus has frames, until [`is_finished`](CaseRun::is_finished).
#[derive(Debug)]
pub struct CaseRun {
    case: Case,
    tester: Tester,
    start: Instant,
    started: bool,
    deadline: Instant,
    finished_at: Option<Instant>,
}

impl CaseRun {
    /// A run of `case` starting at `start`.
    pub fn new(case: Case, start: Instant) -> CaseRun {
        let script = (case.script)();
        let deadline = start + script.stop.max;
        CaseRun {
            tester: Tester::new(script, start),
            case,
            start,
            started: false,
            deadline,
            finished_at: None,
        }
    }

    /// The case.
    pub fn case(&self) -> &Case {
        &self.case
    }

    /// Runs everything due at `now` against `bus`; true if anything moved (call again at
    /// the same `now` until it returns false).
    pub fn step<B: TestBus>(&mut self, now: Instant, bus: &mut B) -> bool {
        if self.finished_at.is_some() {
            return false;
        }
        if !self.started {
            self.started = true;
            bus.act(now, DutAction::Start);
            self.tester.begin(now, bus);
        }
        let moved = self.tester.step(now, bus);
        if now >= self.end() {
            self.finished_at = Some(now);
        }
        moved
    }

    /// When the run ends: the maximum duration, or the grace after the stop key.
    fn end(&self) -> Instant {
        let stop = self.tester.script().stop;
        let early = stop.after_dut.and_then(|(k, grace)| {
            self.tester
                .trace()
                .first_dut(k)
                .map(|r| r.at.saturating_add(grace))
        });
        early.map_or(self.deadline, |e| e.min(self.deadline))
    }

    /// Whether the run is over.
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }

    /// The next time the run needs a `step` (besides frames arriving).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished_at.is_some() {
            return None;
        }
        if !self.started {
            return Some(self.start);
        }
        let end = self.end();
        Some(self.tester.poll_timeout().map_or(end, |t| t.min(end)))
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        self.tester.trace()
    }

    /// Judges the run (call once it is finished).
    pub fn verdict(&self) -> Verdict {
        if self.trace().truncated() {
            return Verdict::fail("the trace buffer overflowed; the run was too long");
        }
        (self.case.check)(self.trace())
    }

    /// Ends the run and returns its report.
    pub fn report(&self) -> CaseReport {
        let verdict = self.verdict();
        let end = self.finished_at.unwrap_or(self.deadline);
        CaseReport {
            id: self.case.id,
            title: self.case.title,
            role_under_test: self.case.role_under_test,
            passed: verdict.passed,
            detail: verdict.detail,
            duration: end.saturating_since(self.start),
            frames: self.trace().records().len(),
        }
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseReport {
    /// Case id (`DP.1001`).
    pub id: &'static str,
    /// Its title.
    pub title: &'static str,
    /// The role of the device under test.
    pub role_under_test: Node,
    /// Whether it passed.
    pub passed: bool,
    /// Why (measurements and the first failed expectation).
    pub detail: String,
    /// Time the run took on the bus (virtual or real).
    pub duration: Duration,
    /// Frames seen on the bus, both directions.
    pub frames: usize,
}

/// How the virtual DUT is built.
#[derive(Debug, Clone, Default)]
pub struct VirtualOptions {
    /// A deliberate defect, for negative tests of the cases themselves.
    pub fault: Option<DutFault>,
    /// The charger DUT's configuration (default: [`ChargerConfig::default`]).
    pub charger: Option<ChargerConfig>,
    /// The BMS DUT's configuration (default: [`BmsConfig::lfp`]).
    pub bms: Option<BmsConfig>,
}

/// Runs `case` against chargestorm's own charger or BMS in virtual time, at full speed.
pub fn run_virtual(case: &Case, options: &VirtualOptions) -> CaseReport {
    let mut run = CaseRun::new(*case, Instant::ZERO);
    let mut bus = match &run.tester.script().peer {
        PeerConfig::Bms(_) => VirtualBus::charger(
            options.charger.clone().unwrap_or_default(),
            run.tester.script().bench,
            options.fault,
        ),
        PeerConfig::Charger(_) => VirtualBus::bms(
            options.bms.clone().unwrap_or_else(BmsConfig::lfp),
            options.fault,
        ),
    };
    drive_virtual(&mut run, &mut bus);
    run.report()
}

/// Drives a run against a virtual bus until it finishes.
pub fn drive_virtual<B: TestBus>(run: &mut CaseRun, bus: &mut B) {
    let mut now = Instant::ZERO;
    while !run.is_finished() {
        for _ in 0..1024 {
            bus.advance(now);
            if !run.step(now, bus) {
                break;
            }
        }
        let next = [run.poll_timeout(), bus.poll_timeout()]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .min();
        match next {
            Some(t) => now = t,
            None => now += Duration::MILLISECOND,
        }
    }
}
