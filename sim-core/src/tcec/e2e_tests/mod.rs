//! End-to-end tests of the three machines over the in-memory network.
//!
//! Each test builds a [`Harness`] (operator, monitoring platform, eMSP on [`SimNet`]), plays
//! the fleet engine by hand, runs virtual time forward and checks what arrived where.

mod bad_input;
mod faults;
mod pushes;
mod queries;
mod roaming;

use crate::tcec::harness::{Harness, HarnessConfig};
use crate::tcec::snapshot::ConnectorSnapshot;
use crate::time::Duration;
use proto::tcec::objects::{ConnectorStatus, ParkStatus};

/// A harness with `stations` DC stations of 2 chargers × 2 connectors, run until the
/// initial station pushes are acknowledged.
pub(super) fn harness(stations: u32) -> Harness {
    harness_with(HarnessConfig {
        stations,
        ..HarnessConfig::default()
    })
}

pub(super) fn harness_with(config: HarnessConfig) -> Harness {
    let mut h = Harness::new(config).unwrap();
    h.run_for(Duration::from_secs(2));
    h
}

/// A DC connector charging at `current_a` into a pack at `soc` with `energy_kwh` so far.
pub(super) fn charging(current_a: f64, soc: f64, energy_kwh: f64) -> ConnectorSnapshot {
    ConnectorSnapshot {
        status: ConnectorStatus::OccupiedCharging,
        park_status: Some(ParkStatus::Occupied),
        current_a: [current_a, 0.0, 0.0],
        voltage_v: [400.0, 0.0, 0.0],
        soc_percent: Some(soc),
        connector_temp_c: Some(35.0),
        equipment_temp_c: Some(40.0),
        charged_energy_kwh: energy_kwh,
        ..ConnectorSnapshot::idle()
    }
}

/// A plugged-in connector that is not charging.
pub(super) fn plugged() -> ConnectorSnapshot {
    ConnectorSnapshot {
        status: ConnectorStatus::OccupiedNotCharging,
        park_status: Some(ParkStatus::Occupied),
        ..ConnectorSnapshot::idle()
    }
}
