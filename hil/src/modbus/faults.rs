//! Meter faults the emulator can inject, switchable while it runs.
//!
//! * **stuck**: every register keeps the value it had when the fault was switched on (a
//!   frozen meter CPU, a stale gateway cache);
//! * **drift**: the import energy gains `drift_wh_per_h` per hour of wall time since the
//!   drift was switched on (a miscalibrated meter); a rate of 0 ends the fault and the
//!   registers show the true energy again, while changing a non-zero rate keeps the offset
//!   accumulated so far;
//! * **no response**: every request is read and dropped (a dead meter, a broken RS-485 pair);
//! * **wrong CRC**: a fraction of RTU replies carry a corrupted CRC (line noise). Modbus TCP
//!   has no CRC, so the fault does nothing there;
//! * **slow response**: replies leave after `response_delay_ms`;
//! * **range faults**: reads that touch a register range answer an exception, stay silent or
//!   show values frozen when the fault was switched on (reference §1.6: the energy
//!   registers, the DJSF1352 break-line flag 0x0004 and alarm word 0x0013).
//!
//! The decision of each fault that needs randomness comes from a ChaCha8 stream seeded by the
//! server's configuration, so a run with the same seed and request sequence corrupts the same
//! replies.

use proto::modbus::{ExceptionCode, MeterReading};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// What a [`RangeFault`] does to a read that touches its registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFaultKind {
    /// Answer with this exception instead of the registers.
    Exception(ExceptionCode),
    /// Do not answer at all.
    Silence,
    /// Show the registers of the range as they were when the fault was switched on; the rest
    /// of the read stays live.
    Stale,
}

/// A fault on the registers `address..address + count` of both tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeFault {
    /// First register.
    pub address: u16,
    /// Number of registers.
    pub count: u16,
    /// What reads that touch the range get.
    pub kind: RangeFaultKind,
}

impl RangeFault {
    /// `true` when the read of `count` registers from `address` touches this range.
    pub fn overlaps(&self, address: u16, count: u16) -> bool {
        let (start, end) = (u32::from(self.address), self.end());
        let (read_start, read_end) = (u32::from(address), u32::from(address) + u32::from(count));
        start < read_end && read_start < end
    }

    /// `true` when `register` is inside the range.
    pub fn contains(&self, register: u32) -> bool {
        register >= u32::from(self.address) && register < self.end()
    }

    fn end(&self) -> u32 {
        u32::from(self.address) + u32::from(self.count)
    }
}

/// The faults of one emulated meter. The default is a healthy meter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeterFaults {
    /// Freeze every register at its value when this was switched on.
    pub stuck: bool,
    /// Import energy drift, Wh per hour of wall time (negative: the register runs back).
    pub drift_wh_per_h: f64,
    /// Drop every request without answering.
    pub no_response: bool,
    /// Fraction of RTU replies, 0..=1, sent with a corrupted CRC.
    pub wrong_crc_ratio: f64,
    /// Delay before each reply, ms.
    pub response_delay_ms: u64,
    /// Faults on register ranges, checked in order; the first that matches a read decides.
    pub ranges: Vec<RangeFault>,
}

impl MeterFaults {
    /// `true` when no fault is on.
    pub fn is_healthy(&self) -> bool {
        *self == Self::default()
    }

    fn has_stale_range(&self) -> bool {
        self.ranges
            .iter()
            .any(|range| range.kind == RangeFaultKind::Stale)
    }
}

/// What the faults decide about one reading, at one instant.
#[derive(Debug, Clone)]
pub(crate) struct FaultState {
    faults: MeterFaults,
    /// The reading shown while stuck.
    frozen: Option<MeterReading>,
    /// The reading stale ranges show.
    stale: Option<MeterReading>,
    /// Drift accumulated before `drift_since`, Wh.
    drift_offset_wh: f64,
    drift_since: Instant,
    rng: ChaCha8Rng,
}

impl FaultState {
    /// A state with `faults` on from `now`; `live` is the reading at that moment.
    pub(crate) fn new(faults: MeterFaults, seed: u64, live: &MeterReading, now: Instant) -> Self {
        let mut state = Self {
            faults: MeterFaults::default(),
            frozen: None,
            stale: None,
            drift_offset_wh: 0.0,
            drift_since: now,
            rng: ChaCha8Rng::seed_from_u64(seed),
        };
        state.set(faults, live, now);
        state
    }

    /// The faults in force.
    pub(crate) fn faults(&self) -> &MeterFaults {
        &self.faults
    }

    fn drift_wh(&self, now: Instant) -> f64 {
        let hours = now
            .saturating_duration_since(self.drift_since)
            .as_secs_f64()
            / 3600.0;
        self.drift_offset_wh + self.faults.drift_wh_per_h * hours
    }

    /// Switch to `faults` at `now`; `live` is the true reading at that moment.
    pub(crate) fn set(&mut self, faults: MeterFaults, live: &MeterReading, now: Instant) {
        if faults.drift_wh_per_h == 0.0 || !faults.drift_wh_per_h.is_finite() {
            self.drift_offset_wh = 0.0;
        } else {
            self.drift_offset_wh = self.drift_wh(now);
        }
        self.drift_since = now;
        let shown = self.shown_with(live, now, &faults);
        self.frozen = match (faults.stuck, self.frozen) {
            (true, Some(frozen)) => Some(frozen),
            (true, None) => Some(shown),
            (false, _) => None,
        };
        self.stale = match (faults.has_stale_range(), self.stale) {
            (true, Some(stale)) => Some(stale),
            (true, None) => Some(shown),
            (false, _) => None,
        };
        self.faults = faults;
    }

    fn shown_with(&self, live: &MeterReading, now: Instant, faults: &MeterFaults) -> MeterReading {
        let rate = faults.drift_wh_per_h;
        if rate == 0.0 || !rate.is_finite() {
            return *live;
        }
        with_drift(live, self.drift_wh(now))
    }

    /// The reading the registers show at `now` for the true reading `live`.
    pub(crate) fn shown(&self, live: &MeterReading, now: Instant) -> MeterReading {
        match self.frozen {
            Some(frozen) => frozen,
            None => self.shown_with(live, now, &self.faults),
        }
    }

    /// The reading stale ranges show, if any range is stale.
    pub(crate) fn stale(&self) -> Option<&MeterReading> {
        self.stale.as_ref()
    }

    /// Whether the next RTU reply gets a corrupted CRC.
    pub(crate) fn corrupt_next_crc(&mut self) -> bool {
        let ratio = self.faults.wrong_crc_ratio;
        if ratio.is_nan() || ratio <= 0.0 {
            false
        } else {
            self.rng.random_bool(ratio.min(1.0))
        }
    }
}

/// `reading` with `offset_wh` added to the import energy (and shared over the per-phase import
/// energies of an AC reading), never below zero.
pub(crate) fn with_drift(reading: &MeterReading, offset_wh: f64) -> MeterReading {
    let mut out = *reading;
    match &mut out {
        MeterReading::Dc(dc) => dc.import_energy_wh = (dc.import_energy_wh + offset_wh).max(0.0),
        MeterReading::Ac(ac) => {
            let total = ac.import_energy_wh;
            ac.import_energy_wh = (total + offset_wh).max(0.0);
            let phases_in_use = ac
                .phase_import_energy_wh
                .iter()
                .filter(|&&e| e > 0.0)
                .count();
            if phases_in_use > 0 {
                let share = offset_wh / phases_in_use as f64;
                for energy in ac.phase_import_energy_wh.iter_mut().filter(|e| **e > 0.0) {
                    *energy = (*energy + share).max(0.0);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::modbus::{AcReading, DcReading};
    use std::time::Duration;

    fn dc(energy_wh: f64) -> MeterReading {
        MeterReading::Dc(DcReading {
            voltage_v: 400.0,
            import_energy_wh: energy_wh,
            ..DcReading::default()
        })
    }

    fn energy(reading: &MeterReading) -> f64 {
        match reading {
            MeterReading::Dc(dc) => dc.import_energy_wh,
            MeterReading::Ac(ac) => ac.import_energy_wh,
        }
    }

    #[test]
    fn stuck_freezes_until_released() {
        let t0 = Instant::now();
        let faults = MeterFaults {
            stuck: true,
            ..MeterFaults::default()
        };
        let mut state = FaultState::new(faults, 1, &dc(10.0), t0);
        assert_eq!(state.shown(&dc(99.0), t0), dc(10.0));
        state.set(MeterFaults::default(), &dc(99.0), t0);
        assert_eq!(state.shown(&dc(99.0), t0), dc(99.0));
    }

    #[test]
    fn drift_grows_with_time_and_resets_at_zero() {
        let t0 = Instant::now();
        let faults = MeterFaults {
            drift_wh_per_h: 3600.0,
            ..MeterFaults::default()
        };
        let mut state = FaultState::new(faults.clone(), 1, &dc(0.0), t0);
        let t1 = t0 + Duration::from_secs(10);
        assert!((energy(&state.shown(&dc(100.0), t1)) - 110.0).abs() < 1e-9);
        // Changing a non-zero rate keeps what has accumulated.
        let doubled = MeterFaults {
            drift_wh_per_h: 7200.0,
            ..faults
        };
        state.set(doubled, &dc(100.0), t1);
        let t2 = t1 + Duration::from_secs(1);
        assert!((energy(&state.shown(&dc(100.0), t2)) - 112.0).abs() < 1e-9);
        state.set(MeterFaults::default(), &dc(100.0), t2);
        assert_eq!(energy(&state.shown(&dc(100.0), t2)), 100.0);
    }

    #[test]
    fn negative_drift_stops_at_zero_and_spreads_over_phases() {
        let ac = MeterReading::Ac(AcReading {
            import_energy_wh: 30.0,
            phase_import_energy_wh: [10.0; 3],
            ..AcReading::default()
        });
        let MeterReading::Ac(out) = with_drift(&ac, 3.0) else {
            panic!()
        };
        assert_eq!(out.import_energy_wh, 33.0);
        assert_eq!(out.phase_import_energy_wh, [11.0; 3]);
        assert_eq!(energy(&with_drift(&ac, -100.0)), 0.0);
    }

    #[test]
    fn stale_snapshot_is_taken_once() {
        let t0 = Instant::now();
        let faults = MeterFaults {
            ranges: vec![RangeFault {
                address: 0x000C,
                count: 4,
                kind: RangeFaultKind::Stale,
            }],
            ..MeterFaults::default()
        };
        let mut state = FaultState::new(faults.clone(), 1, &dc(5.0), t0);
        state.set(faults, &dc(50.0), t0);
        assert_eq!(state.stale(), Some(&dc(5.0)));
        state.set(MeterFaults::default(), &dc(50.0), t0);
        assert_eq!(state.stale(), None);
    }

    #[test]
    fn range_overlap() {
        let range = RangeFault {
            address: 0x0004,
            count: 1,
            kind: RangeFaultKind::Silence,
        };
        assert!(range.overlaps(0x0000, 6));
        assert!(!range.overlaps(0x0005, 2));
        assert!(!range.overlaps(0x0000, 4));
        assert!(range.contains(4) && !range.contains(5));
        let end = RangeFault {
            address: 0xFFFF,
            count: 1,
            kind: RangeFaultKind::Stale,
        };
        assert!(end.overlaps(0xFFFE, 2) && end.contains(0xFFFF));
    }

    #[test]
    fn crc_ratio_is_seeded_and_bounded() {
        let t0 = Instant::now();
        let faults = MeterFaults {
            wrong_crc_ratio: 0.5,
            ..MeterFaults::default()
        };
        let run = |seed| {
            let mut state = FaultState::new(faults.clone(), seed, &dc(0.0), t0);
            (0..64)
                .map(|_| state.corrupt_next_crc())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        let hits = run(3).iter().filter(|&&c| c).count();
        assert!((16..=48).contains(&hits), "{hits}");
        let mut never = FaultState::new(MeterFaults::default(), 3, &dc(0.0), t0);
        assert!(!never.corrupt_next_crc());
        let all = MeterFaults {
            wrong_crc_ratio: 7.0,
            ..MeterFaults::default()
        };
        let mut always = FaultState::new(all, 3, &dc(0.0), t0);
        assert!((0..10).all(|_| always.corrupt_next_crc()));
    }
}
