//! GB/T 34658-style conformance cases for GB/T 27930 chargers and BMSs, sans-IO.
//!
//! A [`Case`] is a scripted peer plus a check. The peer ([`script::Script`]) is usually
//! chargestorm's own session of the opposite role, with rules that withhold, thin or damage
//! its frames, extra frames it injects, and timed actions on itself or on the device under
//! test (DUT). The check reads the run's [`trace::Trace`] (every frame, both directions,
//! with arrival times) and returns a [`Verdict`].
//!
//! [`catalogue`] lists all 85 case ids of gbt27930.md §5: 43 with a charger under test
//! (DP/DN; chargestorm plays the BMS) and 42 with a BMS under test (BP/BN; chargestorm plays
//! the charger). The reference gives titles for most charger cases; where it gives none (the
//! BMS cases, DN.2010, DP.3002, DP.3004, DN.3003–DN.3008) the title is derived from the state
//! machines' timeouts and stop rules (§4.2, §4.3) and the description says so.
//!
//! [`runner::CaseRun`] runs one case over any [`bus::TestBus`]: [`virtual_dut::VirtualBus`]
//! (chargestorm's own DUT on an in-process segment, virtual time, deterministic) or a real
//! transport in the I/O shell. [`runner::run_virtual`] is the virtual driver.
//!
//! Tolerances (the standard's own are unconfirmed, §5): a period passes when its median is
//! within ±10 % of the nominal value; a timeout passes when the error frame comes no earlier
//! than 2 % + 50 ms before and no later than 10 % + 300 ms after the nominal time.

pub mod bus;
mod cases_bms;
mod cases_charger;
mod checks;
pub mod key;
pub mod runner;
pub mod script;
pub mod tester;
pub mod trace;
pub mod virtual_dut;

#[cfg(test)]
mod tests;

use proto::gbt27930::id::Node;

pub use bus::TestBus;
pub use key::Key;
pub use runner::{CaseReport, CaseRun, VirtualOptions, run_virtual};
pub use script::{DutAction, Script};
pub use trace::Trace;
pub use virtual_dut::{DutFault, VirtualBus};

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// Whether the DUT behaved as the case expects.
    pub passed: bool,
    /// The measurements, and the first expectation that failed.
    pub detail: String,
}

impl Verdict {
    /// A pass with these notes.
    pub fn pass(detail: impl Into<String>) -> Verdict {
        Verdict {
            passed: true,
            detail: detail.into(),
        }
    }

    /// A failure for this reason.
    pub fn fail(detail: impl Into<String>) -> Verdict {
        Verdict {
            passed: false,
            detail: detail.into(),
        }
    }
}

/// One conformance case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The GB/T 34658 id, e.g. `DP.1001`.
    pub id: &'static str,
    /// Short title.
    pub title: &'static str,
    /// What the tester does and what the DUT must do; says where the title was derived.
    pub description: &'static str,
    /// The role of the device under test (`Charger` for D cases, `Bms` for B cases).
    pub role_under_test: Node,
    /// Whether the reference gives this title (false: derived here).
    pub title_from_reference: bool,
    /// Builds the scripted peer.
    pub script: fn() -> Script,
    /// Judges the trace.
    pub check: fn(&Trace) -> Verdict,
}

/// Every case, charger cases first, in id order within each role.
pub fn catalogue() -> Vec<Case> {
    let mut all = cases_charger::cases();
    all.extend(cases_bms::cases());
    all
}

/// The case with this id (case-insensitive).
pub fn find(id: &str) -> Option<Case> {
    catalogue()
        .into_iter()
        .find(|c| c.id.eq_ignore_ascii_case(id.trim()))
}
