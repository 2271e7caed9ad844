//! The fleet engine's view of one connector, in physical units, and its wire form.
//!
//! The same [`ConnectorSnapshot`] feeds the operator platform (what it pushes and answers)
//! and the reference platform's correctness check (what it should have received), so both
//! sides agree on one conversion: currents, voltages, SOC and temperatures are rounded to
//! the integers DB4403 表9 sends; energies are rounded to 0.01 kWh.

use proto::tcec::objects::{
    ConnectorLock, ConnectorStatus, ConnectorStatusInfo, ConnectorStatusInfoExt, LockStatus,
    ParkStatus,
};

/// A connector's state at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorSnapshot {
    /// Connector state (表8).
    pub status: ConnectorStatus,
    /// Parking bay state, when the site reports it.
    pub park_status: Option<ParkStatus>,
    /// Ground lock state, when the site has one.
    pub lock_status: Option<LockStatus>,
    /// Phase A/B/C currents, A (DC: output current on A, B and C zero).
    pub current_a: [f64; 3],
    /// Phase A/B/C voltages, V (DC: output voltage on A, B and C zero).
    pub voltage_v: [f64; 3],
    /// State of charge, % (DC only).
    pub soc_percent: Option<f64>,
    /// Connector temperature, °C.
    pub connector_temp_c: Option<f64>,
    /// Charger internal temperature, °C.
    pub equipment_temp_c: Option<f64>,
    /// Gun electronic lock.
    pub connector_lock: Option<ConnectorLock>,
    /// Energy charged in the current session, kWh.
    pub charged_energy_kwh: f64,
    /// Energy discharged in the current session, kWh.
    pub discharged_energy_kwh: f64,
}

impl ConnectorSnapshot {
    /// An idle, unplugged connector.
    pub fn idle() -> Self {
        ConnectorSnapshot {
            status: ConnectorStatus::Idle,
            park_status: None,
            lock_status: None,
            current_a: [0.0; 3],
            voltage_v: [0.0; 3],
            soc_percent: None,
            connector_temp_c: None,
            equipment_temp_c: None,
            connector_lock: None,
            charged_energy_kwh: 0.0,
            discharged_energy_kwh: 0.0,
        }
    }

    /// Whether the status, park or lock code differs from `other` (a change DB4403 §8.4 a)
    /// says to push at once).
    pub fn codes_differ(&self, other: &ConnectorSnapshot) -> bool {
        self.status != other.status
            || self.park_status != other.park_status
            || self.lock_status != other.lock_status
    }

    /// The DB4403 wire object (T/CEC peers get [`Self::to_wire_tcec`]).
    pub fn to_wire(&self, connector_id: &str) -> ConnectorStatusInfo {
        let int = |x: f64| Some(round_i32(x));
        ConnectorStatusInfo {
            connector_id: connector_id.to_owned(),
            status: self.status,
            park_status: self.park_status,
            lock_status: self.lock_status,
            ext: ConnectorStatusInfoExt {
                phase_a_current_a: int(self.current_a[0]),
                phase_b_current_a: int(self.current_a[1]),
                phase_c_current_a: int(self.current_a[2]),
                phase_a_voltage_v: int(self.voltage_v[0]),
                phase_b_voltage_v: int(self.voltage_v[1]),
                phase_c_voltage_v: int(self.voltage_v[2]),
                soc_percent: Some(self.soc_percent.map_or(0, round_i32)),
                connector_temp_c: self.connector_temp_c.map(round_i32),
                equipment_temp_c: self.equipment_temp_c.map(round_i32),
                connector_lock: self.connector_lock,
                charged_energy_kwh: Some(round_kwh(self.charged_energy_kwh)),
                discharged_energy_kwh: Some(round_kwh(self.discharged_energy_kwh)),
            },
        }
    }

    /// The T/CEC 102.2 wire object: the final text dropped the electrical fields
    /// (tcec-http.md §5 quirk 1).
    pub fn to_wire_tcec(&self, connector_id: &str) -> ConnectorStatusInfo {
        ConnectorStatusInfo {
            connector_id: connector_id.to_owned(),
            status: self.status,
            park_status: self.park_status,
            lock_status: self.lock_status,
            ext: ConnectorStatusInfoExt::default(),
        }
    }
}

/// Rounds to the nearest integer, saturating at the `i32` range (NaN gives 0).
pub fn round_i32(x: f64) -> i32 {
    if x.is_nan() {
        0
    } else {
        x.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    }
}

/// Rounds an energy to 0.01 kWh.
pub fn round_kwh(kwh: f64) -> f64 {
    (kwh * 100.0).round() / 100.0
}

/// How far a received status may stray from the ground truth and still count as correct.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Current, A.
    pub current_a: i32,
    /// Voltage, V.
    pub voltage_v: i32,
    /// SOC, percentage points.
    pub soc_percent: i32,
    /// Session energy, kWh.
    pub energy_kwh: f64,
}

impl Default for Tolerance {
    /// One unit of the wire resolution for integers (a value sampled a moment apart can
    /// round differently), 0.1 kWh for energy.
    fn default() -> Self {
        Tolerance {
            current_a: 1,
            voltage_v: 1,
            soc_percent: 1,
            energy_kwh: 0.1,
        }
    }
}

/// The first field of `received` that differs from `expected` beyond `tol`, as
/// `(field, expected, received)`. Codes must match exactly; electrical fields absent from
/// `received` (a T/CEC peer) are not compared.
pub fn first_mismatch(
    expected: &ConnectorStatusInfo,
    received: &ConnectorStatusInfo,
    tol: &Tolerance,
) -> Option<(&'static str, String, String)> {
    let show = |v: &dyn core::fmt::Debug| format!("{v:?}");
    if expected.status != received.status {
        return Some(("Status", show(&expected.status), show(&received.status)));
    }
    let (e, r) = (&expected.ext, &received.ext);
    let ints = [
        (
            "CurrentA",
            e.phase_a_current_a,
            r.phase_a_current_a,
            tol.current_a,
        ),
        (
            "CurrentB",
            e.phase_b_current_a,
            r.phase_b_current_a,
            tol.current_a,
        ),
        (
            "CurrentC",
            e.phase_c_current_a,
            r.phase_c_current_a,
            tol.current_a,
        ),
        (
            "VoltageA",
            e.phase_a_voltage_v,
            r.phase_a_voltage_v,
            tol.voltage_v,
        ),
        (
            "VoltageB",
            e.phase_b_voltage_v,
            r.phase_b_voltage_v,
            tol.voltage_v,
        ),
        (
            "VoltageC",
            e.phase_c_voltage_v,
            r.phase_c_voltage_v,
            tol.voltage_v,
        ),
        ("SOC", e.soc_percent, r.soc_percent, tol.soc_percent),
    ];
    for (field, want, got, t) in ints {
        if let (Some(want), Some(got)) = (want, got)
            && (i64::from(want) - i64::from(got)).abs() > i64::from(t)
        {
            return Some((field, want.to_string(), got.to_string()));
        }
    }
    if let (Some(want), Some(got)) = (e.charged_energy_kwh, r.charged_energy_kwh)
        && (want - got).abs() > tol.energy_kwh
    {
        return Some(("ChargeElectricity", want.to_string(), got.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charging() -> ConnectorSnapshot {
        ConnectorSnapshot {
            status: ConnectorStatus::OccupiedCharging,
            current_a: [125.4, 0.0, 0.0],
            voltage_v: [402.6, 0.0, 0.0],
            soc_percent: Some(41.5),
            charged_energy_kwh: 12.3456,
            ..ConnectorSnapshot::idle()
        }
    }

    #[test]
    fn wire_form_rounds_to_the_table_units() {
        let w = charging().to_wire("C1");
        assert_eq!(w.status, ConnectorStatus::OccupiedCharging);
        assert_eq!(w.ext.phase_a_current_a, Some(125));
        assert_eq!(w.ext.phase_a_voltage_v, Some(403));
        assert_eq!(w.ext.soc_percent, Some(42));
        assert_eq!(w.ext.charged_energy_kwh, Some(12.35));
        let t = charging().to_wire_tcec("C1");
        assert_eq!(t.ext, ConnectorStatusInfoExt::default());
        assert_eq!(round_i32(f64::NAN), 0);
        assert_eq!(round_i32(1e12), i32::MAX);
    }

    #[test]
    fn mismatches_name_the_field() {
        let tol = Tolerance::default();
        let want = charging().to_wire("C1");
        assert_eq!(first_mismatch(&want, &want, &tol), None);
        let mut got = want.clone();
        got.ext.phase_a_current_a = Some(126);
        assert_eq!(first_mismatch(&want, &got, &tol), None, "within 1 A");
        got.ext.phase_a_current_a = Some(130);
        assert_eq!(first_mismatch(&want, &got, &tol).unwrap().0, "CurrentA");
        got.status = ConnectorStatus::Idle;
        assert_eq!(first_mismatch(&want, &got, &tol).unwrap().0, "Status");
        let tcec = charging().to_wire_tcec("C1");
        assert_eq!(
            first_mismatch(&want, &tcec, &tol),
            None,
            "absent fields are not compared"
        );
        assert!(charging().codes_differ(&ConnectorSnapshot::idle()));
        assert!(!charging().codes_differ(&charging()));
    }
}
