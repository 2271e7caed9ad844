//! Data correctness: what the platform holds against the simulation's ground truth.
//!
//! The fleet engine reports the true state of a connector with
//! [`super::MonitoringPlatform::ground_truth`]. The check is due `settle` later (push latency
//! and retries); it passes when the platform's view matched within [`Tolerance`]: the last
//! status received at or before the ground-truth instant, or any status received between it
//! and the due time (the state may legitimately have moved on meanwhile). A connector the
//! platform never heard of counts as missing, which is incorrect.
//!
//! The ratio `correct / checked` is T/CEC 102.1 §8's data correctness indicator (> 99.99 %).

use std::collections::{BTreeMap, VecDeque};

use crate::tcec::snapshot::{Tolerance, first_mismatch};
use crate::time::Instant;
use proto::tcec::objects::ConnectorStatusInfo;

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Virtual time of the ground truth.
    pub at: Instant,
    /// The connector.
    pub connector_id: String,
    /// The first differing field (`missing` when nothing was received).
    pub field: String,
    /// The true value.
    pub expected: String,
    /// What the platform held.
    pub received: String,
}

/// The correctness tally.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrectnessReport {
    /// Checks evaluated.
    pub checked: u64,
    /// Checks that passed.
    pub correct: u64,
    /// Checks still waiting for their due time.
    pub pending: u64,
    /// The first mismatches (at most [`Correctness::MAX_MISMATCHES`]).
    pub mismatches: Vec<Mismatch>,
}

impl CorrectnessReport {
    /// `correct / checked`, 1.0 when nothing was checked.
    pub fn ratio(&self) -> f64 {
        if self.checked == 0 {
            1.0
        } else {
            self.correct as f64 / self.checked as f64
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Check {
    pub peer: usize,
    pub connector_id: String,
    pub expected: ConnectorStatusInfo,
    pub at: Instant,
}

/// Pending checks and the tally.
#[derive(Debug, Default)]
pub struct Correctness {
    pending: BTreeMap<(Instant, u64), Check>,
    counter: u64,
    checked: u64,
    correct: u64,
    mismatches: VecDeque<Mismatch>,
}

/// The statuses the platform received for one connector, newest last.
pub(super) type Received<'a> = &'a VecDeque<(Instant, ConnectorStatusInfo)>;

impl Correctness {
    /// Mismatches kept for the report.
    pub const MAX_MISMATCHES: usize = 100;
    /// Pending checks kept; beyond this the oldest are evaluated early.
    pub const MAX_PENDING: usize = 1 << 20;

    pub(super) fn add(&mut self, due: Instant, check: Check) {
        self.counter += 1;
        self.pending.insert((due, self.counter), check);
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.keys().next().map(|(t, _)| *t)
    }

    /// Evaluates every check due at or before `now` against `view`.
    pub(super) fn run_due<'a>(
        &mut self,
        now: Instant,
        tol: &Tolerance,
        view: impl Fn(usize, &str) -> Option<Received<'a>>,
    ) {
        loop {
            let over = self.pending.len() > Self::MAX_PENDING;
            let Some(entry) = self.pending.first_entry() else {
                break;
            };
            let (due, _) = *entry.key();
            if due > now && !over {
                break;
            }
            let check = entry.remove();
            self.evaluate(due, &check, view(check.peer, &check.connector_id), tol);
        }
    }

    fn evaluate(
        &mut self,
        due: Instant,
        check: &Check,
        received: Option<Received<'_>>,
        tol: &Tolerance,
    ) {
        self.checked += 1;
        let Some(received) = received.filter(|r| !r.is_empty()) else {
            self.record(check, "missing", "a status push", "nothing");
            return;
        };
        let before = received.iter().rev().find(|(t, _)| *t <= check.at);
        let after = received.iter().filter(|(t, _)| *t > check.at && *t <= due);
        let mut first_bad = None;
        for (_, got) in before.into_iter().chain(after) {
            match first_mismatch(&check.expected, got, tol) {
                None => {
                    self.correct += 1;
                    return;
                }
                Some(m) => {
                    first_bad.get_or_insert(m);
                }
            }
        }
        match first_bad {
            Some((field, want, got)) => self.record(check, field, &want, &got),
            None => self.record(check, "missing", "a status push", "only older statuses"),
        }
    }

    fn record(&mut self, check: &Check, field: &str, expected: &str, received: &str) {
        if self.mismatches.len() < Self::MAX_MISMATCHES {
            self.mismatches.push_back(Mismatch {
                at: check.at,
                connector_id: check.connector_id.clone(),
                field: field.to_owned(),
                expected: expected.to_owned(),
                received: received.to_owned(),
            });
        }
    }

    /// The tally so far.
    pub fn report(&self) -> CorrectnessReport {
        CorrectnessReport {
            checked: self.checked,
            correct: self.correct,
            pending: self.pending.len() as u64,
            mismatches: self.mismatches.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcec::snapshot::ConnectorSnapshot;
    use proto::tcec::objects::ConnectorStatus;

    fn check(at: u64, status: ConnectorStatus) -> Check {
        let snap = ConnectorSnapshot {
            status,
            ..ConnectorSnapshot::idle()
        };
        Check {
            peer: 0,
            connector_id: "C".into(),
            expected: snap.to_wire("C"),
            at: Instant::from_secs(at),
        }
    }

    fn status_at(t: u64, status: ConnectorStatus) -> (Instant, ConnectorStatusInfo) {
        let snap = ConnectorSnapshot {
            status,
            ..ConnectorSnapshot::idle()
        };
        (Instant::from_secs(t), snap.to_wire("C"))
    }

    #[test]
    fn checks_pass_on_a_timely_matching_push_and_fail_otherwise() {
        use ConnectorStatus::*;
        let mut c = Correctness::default();
        let received: VecDeque<_> = [status_at(1, Idle), status_at(12, OccupiedCharging)].into();
        c.add(Instant::from_secs(20), check(10, OccupiedCharging)); // push 2 s later: ok
        c.add(Instant::from_secs(15), check(5, Idle)); // state held since 1 s: ok
        c.add(Instant::from_secs(21), check(11, Fault)); // never reported: mismatch
        c.add(Instant::from_secs(9), check(8, OccupiedCharging)); // push came too late
        assert_eq!(c.next_due(), Some(Instant::from_secs(9)));
        c.run_due(Instant::from_secs(30), &Tolerance::default(), |_, _| {
            Some(&received)
        });
        let r = c.report();
        assert_eq!((r.checked, r.correct, r.pending), (4, 2, 0));
        assert_eq!(r.mismatches.len(), 2);
        assert_eq!(r.mismatches[0].field, "Status");
        assert!((r.ratio() - 0.5).abs() < 1e-12);
        let mut empty = Correctness::default();
        empty.add(Instant::ZERO, check(0, Idle));
        empty.run_due(Instant::ZERO, &Tolerance::default(), |_, _| None);
        assert_eq!(empty.report().mismatches[0].field, "missing");
        assert_eq!(CorrectnessReport::default().ratio(), 1.0);
    }
}
