//! Injected energy-meter faults: a stuck register or a drifting one. Physics keeps the true
//! energy (the plant's meter); what the charger *reports* — MQTT meter values and
//! StopTransaction's `meter_stop`, the platform's charged energy — is the true reading plus
//! an offset the fault defines. The physics energy-conservation check therefore leaves out
//! sessions that ran with a meter fault.

use super::{Phase, World};
use crate::time::Instant;

/// How a connector's meter misreads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum MeterFault {
    /// The register shows `frozen_wh` whatever flows.
    Stuck {
        /// The reading when it froze, Wh.
        frozen_wh: f64,
    },
    /// The register over-reads by `wh_per_h` per hour since `since`, on top of
    /// `base_wh` (the offset it had then).
    Drift {
        /// When the drift began.
        since: Instant,
        /// The offset at that time, Wh.
        base_wh: f64,
        /// Over-reading per hour, Wh.
        wh_per_h: f64,
    },
}

/// A connector's meter as the charger sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct MeterState {
    /// The injected fault, if any.
    fault: Option<MeterFault>,
    /// The reading's offset from the true energy when the session began, Wh.
    offset_at_start: f64,
    /// The current session ran with a meter fault at some point.
    pub(super) faulted_session: bool,
}

impl World {
    /// How far connector `ci`'s reported meter is from the true energy now, Wh.
    pub(super) fn meter_offset_wh(&self, ci: usize) -> f64 {
        let c = &self.connectors[ci];
        match c.meter.fault {
            None => 0.0,
            Some(MeterFault::Stuck { frozen_wh }) => frozen_wh - c.plant.meter_energy_wh(),
            Some(MeterFault::Drift {
                since,
                base_wh,
                wh_per_h,
            }) => {
                let hours = (self.now.max(since) - since).as_secs_f64() / 3600.0;
                base_wh + wh_per_h * hours
            }
        }
    }

    /// The meter reading connector `ci`'s charger reports now, Wh.
    pub(super) fn reported_meter_wh(&self, ci: usize) -> f64 {
        self.connectors[ci].plant.meter_energy_wh() + self.meter_offset_wh(ci)
    }

    /// The session energy connector `ci`'s charger reports, given the true `session_wh`.
    pub(super) fn reported_session_wh(&self, ci: usize, session_wh: f64) -> f64 {
        (session_wh + self.meter_offset_wh(ci) - self.connectors[ci].meter.offset_at_start).max(0.0)
    }

    /// Connector `ci`'s session begins: its reported energy counts from the reading now.
    pub(super) fn meter_session_started(&mut self, ci: usize) {
        let offset = self.meter_offset_wh(ci);
        let m = &mut self.connectors[ci].meter;
        m.offset_at_start = offset;
        m.faulted_session = m.fault.is_some();
    }

    /// Freezes connector `ci`'s meter at its current reading.
    pub(super) fn stick_meter(&mut self, ci: usize) {
        let frozen_wh = self.reported_meter_wh(ci);
        self.set_meter_fault(ci, Some(MeterFault::Stuck { frozen_wh }));
    }

    /// Makes connector `ci`'s meter over-read by `wh_per_h` per hour from now.
    pub(super) fn drift_meter(&mut self, ci: usize, wh_per_h: f64) {
        let base_wh = self.meter_offset_wh(ci);
        let since = self.now;
        self.set_meter_fault(
            ci,
            Some(MeterFault::Drift {
                since,
                base_wh,
                wh_per_h: if wh_per_h.is_finite() {
                    wh_per_h.max(0.0)
                } else {
                    0.0
                },
            }),
        );
    }

    /// Repairs connector `ci`'s meter: it reads true again.
    pub(super) fn repair_meter(&mut self, ci: usize) {
        self.set_meter_fault(ci, None);
    }

    fn set_meter_fault(&mut self, ci: usize, fault: Option<MeterFault>) {
        // The session's reported energy stays continuous across the change (a repaired
        // meter's register jumps back to the true reading, but the session keeps what it
        // reported so far).
        let before = self.meter_offset_wh(ci);
        self.connectors[ci].meter.fault = fault;
        let after = self.meter_offset_wh(ci);
        let c = &mut self.connectors[ci];
        c.meter.offset_at_start += after - before;
        if matches!(c.phase, Phase::Charging { .. }) {
            c.meter.faulted_session = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Fault, FaultTarget, Shard, WorldConfig};
    use super::*;

    fn world(extra: &str) -> World {
        let text = format!(
            r#"
[scenario]
name = "meter"
duration = "30m"
[[fleet.groups]]
name = "ac"
charger = "ac-7kw-1ph"
count = 4
chargers_per_station = 4
[traffic]
arrivals_per_connector_per_h = 0.5
initial_occupancy = 1.0
dwell_min = {{ min = 10.0, max = 12.0 }}
plug_to_start_s = {{ min = 5.0, max = 10.0 }}
stop_to_unplug_s = {{ min = 10.0, max = 20.0 }}
[mqtt]
enabled = true
{extra}
"#
        );
        let lib = profiles::Library::bundled().unwrap();
        let s = lib
            .resolve(toml::from_str(&text).unwrap(), "test", None)
            .unwrap();
        World::new(
            &s,
            WorldConfig {
                seed: 3,
                duration: None,
                trace_level: None,
                shard: Shard::WHOLE,
                sample_interval: None,
                http_external: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_stuck_meter_freezes_and_a_drifting_one_over_reads_while_physics_stays_true() {
        let mut w = world("");
        w.run_until(Instant::from_secs(120));
        assert!(matches!(w.connectors[0].phase, Phase::Charging { .. }));
        assert_eq!(w.inject(&FaultTarget::Connector(0), &Fault::MeterStuck), 1);
        let drift = Fault::MeterDrift { wh_per_h: 36_000.0 };
        assert_eq!(w.inject(&FaultTarget::Connector(1), &drift), 1);
        let frozen = w.reported_meter_wh(0);
        let true_before = w.connectors[0].plant.meter_energy_wh();
        w.run_until(Instant::from_secs(180));
        assert_eq!(w.reported_meter_wh(0), frozen, "the register is stuck");
        assert!(
            w.connectors[0].plant.meter_energy_wh() > true_before + 50.0,
            "energy still flows: 7 kW for a minute"
        );
        let over = w.reported_meter_wh(1) - w.connectors[1].plant.meter_energy_wh();
        assert!((over - 600.0).abs() < 1e-6, "10 Wh/s for 60 s: {over}");
        assert_eq!(w.meter_offset_wh(2), 0.0, "other meters read true");
        let end = w.end();
        w.run_until(end);
        let report = w.finish(0.0);
        let physics = report
            .assertions
            .iter()
            .find(|a| a.name == "physics.energy_conservation")
            .unwrap();
        assert!(physics.passed, "{}", physics.detail);
        assert!(
            physics.detail.contains(
                "2 sessions with an injected meter fault (meter_stuck, meter_drift) left out"
            ),
            "{}",
            physics.detail
        );
    }

    #[test]
    fn a_timeline_meter_fault_with_a_duration_is_repaired_and_the_session_stays_continuous() {
        let mut w = world(
            "[[timeline]]\nat = \"2m\"\nconnector = 0\naction = \"meter_drift\"\nwh_per_h = 36000\nduration = \"1m\"\n",
        );
        w.run_until(Instant::from_secs(150));
        let session = w.connectors[0].plant.session_energy_wh();
        let over = w.reported_session_wh(0, session) - session;
        assert!((over - 300.0).abs() < 1e-6, "{over}");
        w.run_until(Instant::from_secs(181));
        assert_eq!(w.meter_offset_wh(0), 0.0, "the meter was repaired");
        let session = w.connectors[0].plant.session_energy_wh();
        let kept = w.reported_session_wh(0, session) - session;
        assert!(
            (kept - 600.0).abs() < 1e-6,
            "the session keeps the {kept} Wh it over-reported"
        );
        assert!(w.connectors[0].meter.faulted_session);
    }

    fn meter_mismatch(w: World) -> crate::report::Assertion {
        let mut w = w;
        let end = w.end();
        w.run_until(end);
        w.finish(0.0)
            .assertions
            .into_iter()
            .find(|a| a.name == "expect.0.meter_mismatch")
            .unwrap()
    }

    #[test]
    fn meter_mismatch_catches_a_drifting_meter_and_names_its_connector() {
        let expect = "[[expect]]\nkind = \"meter_mismatch\"\nmax_percent = 1.0\n";
        let clean = meter_mismatch(world(expect));
        assert!(clean.passed, "{}", clean.detail);
        assert!(
            clean.detail.contains("worst 0.00 % off"),
            "{}",
            clean.detail
        );
        let drifting = meter_mismatch(world(&format!(
            "[[timeline]]\nat = \"2m\"\nconnector = 1\naction = \"meter_drift\"\nwh_per_h = 2000\n{expect}"
        )));
        assert!(!drifting.passed, "{}", drifting.detail);
        assert!(
            drifting.detail.contains("connector 1 reported"),
            "{}",
            drifting.detail
        );
    }
}
