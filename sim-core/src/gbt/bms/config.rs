//! The BMS's configuration, battery inputs, stop causes, phases and events.

use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::msg::{
    BatteryType, Bcp, Brm, BrmDetails, Bst, BstError, BstFault, BstReason, Cem, Cml, Crm, Csd, Cst,
    FixedAscii, Ownership, ProtocolVersion, Status2,
};
use proto::gbt27930::tp::TpConfig;
use proto::time::Duration;

use crate::gbt::Version;

/// Every time limit the BMS enforces; defaults are the reference's (§2, §4.3, §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BmsTimeouts {
    /// No CRM this long after the first CHM: BEM SPN3901 (30 s, A.6).
    pub crm_after_chm: Duration,
    /// No CRM this long after aux power when no CHM ever came (2011 charger): SPN3901 (60 s).
    pub crm_without_chm: Duration,
    /// No CRM(0xAA) this long after BRM started: BEM SPN3902 (5 s).
    pub crm_recognized: Duration,
    /// No CML this long after BCP started: BEM SPN3903 (5 s).
    pub cml: Duration,
    /// No CRO at all this long after BRO(0xAA) (re-armed by every CRO): SPN3904 (5 s).
    pub cro: Duration,
    /// No CRO(0xAA) this long after BRO(0xAA): BEM SPN3904 (60 s).
    pub cro_ready: Duration,
    /// No CCS this long (from CRO(0xAA), re-armed by every CCS): BEM SPN3905 (1 s).
    pub ccs: Duration,
    /// No CST this long after the first BST: BEM SPN3906 (5 s).
    pub cst: Duration,
    /// No CSD this long after the first BST: BEM SPN3907 (10 s).
    pub csd: Duration,
    /// In the error state, wait this long for a new CRM(0x00) (A.11/A.12: 30 s).
    pub error_wait: Duration,
}

impl Default for BmsTimeouts {
    fn default() -> BmsTimeouts {
        BmsTimeouts {
            crm_after_chm: Duration::from_secs(30),
            crm_without_chm: Duration::from_secs(60),
            crm_recognized: Duration::from_secs(5),
            cml: Duration::from_secs(5),
            cro: Duration::from_secs(5),
            cro_ready: Duration::from_secs(60),
            ccs: Duration::from_secs(1),
            cst: Duration::from_secs(5),
            csd: Duration::from_secs(10),
            error_wait: Duration::from_secs(30),
        }
    }
}

/// Everything a [`BmsSession`](super::BmsSession) needs to know up front.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BmsConfig {
    /// 2015 (answers CHM with BHM, V1.1, 49-byte BRM) or 2011 (no BHM, V1.0, 41 bytes).
    pub version: Version,
    /// The identity sent in BRM; its version field is set from `version`.
    pub brm: Brm,
    /// The limits sent in BCP; SOC and battery voltage are refreshed from the battery.
    pub bcp: Bcp,
    /// Stop with "SOC target reached" at this SOC.
    pub target_soc_pct: f64,
    /// Stop by itself on SOC/voltage/temperature/insulation limits seen in the battery
    /// status (else only on `request_stop` and `stop_request`).
    pub auto_stop: bool,
    /// Send the optional BMV/BMT/BSP every 10 s.
    pub send_optional: bool,
    /// Cells reported in BMV (1..=256).
    pub cells: u16,
    /// Temperature probes reported in BMT (1..=128).
    pub temperature_probes: u8,
    /// Every time limit.
    pub timeouts: BmsTimeouts,
    /// Time from the first BRO(0x00) to closing K5/K6 (\[XF\]: 1 s; \[T1\]: 1.26 s).
    pub ready_delay: Duration,
    /// Wait for [`BmsSession::contactors_closed`](super::BmsSession::contactors_closed)
    /// before BRO(0xAA); else K5/K6 count as closed when commanded.
    pub external_contactors: bool,
    /// The transport-protocol sender's settings.
    #[serde(skip)]
    pub tp: TpConfig,
    /// After a TP abort, send the message again this much later (\[T2\]: ~250 ms).
    pub tp_retry_delay: Duration,
    /// Re-handshakes accepted before giving up.
    pub max_attempts: u8,
}

impl BmsConfig {
    /// The real LFP car of \[T1\]: 364.8 V / 152 Ah, BCP 3.70 V / 250.2 A / 426.1 V / 65 °C.
    pub fn lfp() -> BmsConfig {
        let brm = identity(
            BatteryType::LithiumIronPhosphate,
            152.0,
            364.8,
            "L1NSPGH98NA196202",
        );
        let bcp = Bcp {
            max_cell_voltage_v: 3.70,
            max_current_a: 250.2,
            nominal_energy_kwh: 55.4,
            max_total_voltage_v: 426.1,
            max_temperature_c: 65,
            soc_pct: 20.0,
            battery_voltage_v: 340.0,
        };
        BmsConfig::with(brm, bcp, 114)
    }

    /// The real CATL NCM car of \[T2\]: 346.6 V / 180 Ah, BCP 4.17 V / 200 A / 405.6 V.
    pub fn ncm() -> BmsConfig {
        let brm = identity(BatteryType::Ternary, 180.0, 346.6, "LNCMTEST000000001");
        let bcp = Bcp {
            max_cell_voltage_v: 4.17,
            max_current_a: 200.0,
            nominal_energy_kwh: 63.4,
            max_total_voltage_v: 405.6,
            max_temperature_c: 55,
            soc_pct: 34.3,
            battery_voltage_v: 347.2,
        };
        BmsConfig::with(brm, bcp, 96)
    }

    fn with(brm: Brm, bcp: Bcp, cells: u16) -> BmsConfig {
        let mut tp = TpConfig::new(Node::Bms);
        tp.max_message_size = 512;
        BmsConfig {
            version: Version::V2015,
            brm,
            bcp,
            target_soc_pct: 100.0,
            auto_stop: true,
            send_optional: false,
            cells,
            temperature_probes: 8,
            timeouts: BmsTimeouts::default(),
            ready_delay: Duration::from_secs(1),
            external_contactors: false,
            tp,
            tp_retry_delay: Duration::from_millis(250),
            max_attempts: 3,
        }
    }
}

/// A full-form BRM identity for a pack of `battery_type`, rated `capacity_ah` and `voltage_v`.
pub fn identity(battery_type: BatteryType, capacity_ah: f64, voltage_v: f64, vin: &str) -> Brm {
    Brm {
        version: ProtocolVersion::V1_1,
        battery_type,
        rated_capacity_ah: capacity_ah,
        rated_voltage_v: voltage_v,
        details: Some(BrmDetails {
            manufacturer: FixedAscii::from_text("CSTM"),
            pack_serial: [0, 0, 0, 1],
            production_year: 2023,
            production_month: 1,
            production_day: 1,
            charge_count: 1,
            ownership: Ownership::VehicleOwned,
            vin: FixedAscii::from_text(vin),
            software_version: Some([0x00, 0x01, 0x04, 0xE7, 0x07, 0xFF, 0xFF, 0xFF]),
        }),
    }
}

/// Constant current or constant voltage (BCL SPN3074).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandMode {
    /// 0x02: current demand with a voltage ceiling.
    #[default]
    Cc,
    /// 0x01: voltage target with a current limit.
    Cv,
}

/// What the battery model asks for (sent in BCL).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Demand {
    /// Voltage demand (CC: the ceiling; CV: the target).
    pub voltage_v: f64,
    /// Current demand (CC) or limit (CV), charging positive.
    pub current_a: f64,
    /// CC or CV.
    pub mode: DemandMode,
}

/// A snapshot of the battery model, fed with
/// [`BmsSession::update_battery`](super::BmsSession::update_battery).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BatteryStatus {
    /// Pack terminal voltage.
    pub pack_voltage_v: f64,
    /// Pack current, charging positive.
    pub pack_current_a: f64,
    /// State of charge, 0..=100.
    pub soc_pct: f64,
    /// Estimated minutes to full (BCS sends at most 600).
    pub remaining_min: u16,
    /// Highest cell voltage.
    pub max_cell_voltage_v: f64,
    /// Number of that cell, 1-based (BSM).
    pub max_cell_number: u16,
    /// Group of that cell, 0..=15 (BCS).
    pub max_cell_group: u8,
    /// Lowest cell voltage (BSD).
    pub min_cell_voltage_v: f64,
    /// Highest pack temperature.
    pub max_temperature_c: i16,
    /// Its probe, 1-based.
    pub max_temperature_probe: u16,
    /// Lowest pack temperature.
    pub min_temperature_c: i16,
    /// Its probe, 1-based.
    pub min_temperature_probe: u16,
    /// The vehicle's own insulation monitor is content.
    pub insulation_ok: bool,
    /// BSM SPN3096: false pauses the charger.
    pub charging_permitted: bool,
    /// What the BMS asks for in BCL.
    pub demand: Demand,
    /// The battery model wants to stop for this reason.
    pub stop_request: Option<BmsStopCause>,
}

/// Why the BMS ends a session, mapped onto BST bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BmsStopCause {
    /// BST 1.1–1.2: the SOC target was reached (`01 00 00 F0`).
    SocTargetReached,
    /// BST 1.3–1.4: the total-voltage setpoint was reached.
    TotalVoltageReached,
    /// BST 1.5–1.6: the cell-voltage setpoint was reached.
    CellVoltageReached,
    /// BST 1.7–1.8: the charger stopped (CST received, `40 00 00 F0`).
    ChargerStopped,
    /// BST 2.1–2.2: insulation fault.
    InsulationFault,
    /// BST 2.3–2.4: output connector over-temperature.
    ConnectorOverTemperature,
    /// BST 2.5–2.6: BMS component / connector over-temperature.
    ComponentOverTemperature,
    /// BST 2.7–2.8: charging connector fault.
    ConnectorFault,
    /// BST 3.1–3.2: battery over-temperature.
    BatteryOverTemperature,
    /// BST 3.3–3.4: high-voltage relay fault.
    HighVoltageRelayFault,
    /// BST 3.5–3.6: detection point 2 (CC2) voltage fault.
    Cc2VoltageFault,
    /// BST 3.7–3.8: other fault.
    OtherFault,
    /// BST 4.1–4.2: over-current.
    OverCurrent,
    /// BST 4.3–4.4: voltage abnormal (e.g. a cell over its limit).
    VoltageAbnormal,
    /// The session failed on timeouts (BEM path, no BST).
    CommunicationTimeout,
    /// Aux power was lost or the gun pulled (no BST).
    PowerLost,
}

impl BmsStopCause {
    /// The BST the BMS sends for this cause.
    pub fn bst(self) -> Bst {
        let on = Status2::Active;
        let mut reason = BstReason::default();
        let mut fault = BstFault::default();
        let mut error = BstError::default();
        match self {
            BmsStopCause::SocTargetReached => reason.soc_target_reached = on,
            BmsStopCause::TotalVoltageReached => reason.total_voltage_reached = on,
            BmsStopCause::CellVoltageReached => reason.cell_voltage_reached = on,
            BmsStopCause::ChargerStopped => reason.charger_stopped = on,
            BmsStopCause::InsulationFault => fault.insulation = on,
            BmsStopCause::ConnectorOverTemperature => {
                fault.output_connector_over_temperature = on;
            }
            BmsStopCause::ComponentOverTemperature => fault.bms_component_over_temperature = on,
            BmsStopCause::ConnectorFault => fault.charging_connector = on,
            BmsStopCause::BatteryOverTemperature => fault.battery_over_temperature = on,
            BmsStopCause::HighVoltageRelayFault => fault.high_voltage_relay = on,
            BmsStopCause::Cc2VoltageFault => fault.detection_point_2_voltage = on,
            BmsStopCause::OtherFault => fault.other = on,
            BmsStopCause::OverCurrent => error.over_current = on,
            BmsStopCause::VoltageAbnormal => error.voltage_abnormal = on,
            BmsStopCause::CommunicationTimeout | BmsStopCause::PowerLost => {}
        }
        Bst {
            reason,
            fault,
            error,
        }
    }
}

/// Where the BMS is in the session, named by what it waits for (gbt27930.md §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BmsPhase {
    /// B0: no aux power.
    Off,
    /// B0: aux power on, waiting for CHM (2015 charger) or CRM (2011 charger).
    ExpectChm,
    /// B1: sending BHM (2015) or silent (2011 BMS), waiting for CRM(0x00).
    ExpectCrm,
    /// B2: sending BRM, waiting for CRM(0xAA).
    ExpectCrmRecognized,
    /// B3: sending BCP, waiting for CML.
    ExpectCml,
    /// B4: sending BRO, waiting for CRO(0xAA).
    ExpectCroReady,
    /// B5: sending BCL/BCS (and BSM after the first CCS).
    Charging,
    /// B6: sending BST, waiting for CST and the current to fall.
    ExpectCst,
    /// B7: sending BSD, waiting for CSD.
    ExpectCsd,
    /// Session over.
    Ended,
    /// B-Err: sending BEM, waiting for a new CRM(0x00).
    ErrorWaitCrm,
    /// Gave up; waiting for aux power off.
    Failed,
}

impl BmsPhase {
    /// Whether the phase belongs to the communication session proper (CRM seen, no stop
    /// decided): where a CST or a stop decision leads to BST.
    pub const fn in_session(self) -> bool {
        matches!(
            self,
            BmsPhase::ExpectCrmRecognized
                | BmsPhase::ExpectCml
                | BmsPhase::ExpectCroReady
                | BmsPhase::Charging
        )
    }
}

/// Why the BMS entered its error state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BmsErrorCause {
    /// This charger message timed out; the BEM bit for it is set.
    Timeout(Pgn),
    /// The charger reported an error with CEM.
    CemReceived(Cem),
}

/// Something the BMS reports to its owner (the vehicle plant, the report).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BmsEvent {
    /// The phase changed.
    PhaseChanged(BmsPhase),
    /// Close K5/K6 (then report with `contactors_closed` if external).
    CloseContactors,
    /// Open K5/K6.
    OpenContactors,
    /// CRM arrived: the charger's identity.
    ChargerIdentified(Crm),
    /// CML arrived (min/max normalized): the charger's capability.
    ChargerLimits(Cml),
    /// A CCS whose content differs from the previous one.
    ChargerOutput(proto::gbt27930::msg::Ccs),
    /// The session ended.
    Stopped {
        /// Why.
        cause: BmsStopCause,
        /// The BST sent, if the stop went through BST.
        bst: Option<Bst>,
        /// The charger's CST, if one arrived.
        cst: Option<Cst>,
        /// The charger's statistics (CSD), if they arrived.
        statistics: Option<Csd>,
    },
    /// A timeout or a CEM: BEM is being sent.
    Error {
        /// What went wrong.
        cause: BmsErrorCause,
        /// The BEM being sent.
        bem: proto::gbt27930::msg::Bem,
        /// The attempt that failed (1-based).
        attempt: u8,
    },
    /// No new handshake came, or attempts are exhausted.
    GaveUp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::gbt27930::msg::GbtMessage;

    fn bytes(cause: BmsStopCause) -> [u8; 4] {
        let mut b = [0u8; 4];
        cause.bst().encode(&mut b).unwrap();
        b
    }

    #[test]
    fn bst_bits_match_the_reference() {
        // §3.14: SOC 0x01, total V 0x04, cell V 0x10, charger stopped 0x40.
        assert_eq!(
            bytes(BmsStopCause::SocTargetReached),
            [0x01, 0x00, 0x00, 0xF0]
        );
        assert_eq!(bytes(BmsStopCause::TotalVoltageReached)[0], 0x04);
        assert_eq!(bytes(BmsStopCause::CellVoltageReached)[0], 0x10);
        assert_eq!(
            bytes(BmsStopCause::ChargerStopped),
            [0x40, 0x00, 0x00, 0xF0]
        );
        assert_eq!(
            bytes(BmsStopCause::InsulationFault),
            [0x00, 0x01, 0x00, 0xF0]
        );
        assert_eq!(
            bytes(BmsStopCause::ConnectorFault),
            [0x00, 0x40, 0x00, 0xF0]
        );
        assert_eq!(
            bytes(BmsStopCause::BatteryOverTemperature),
            [0x00, 0x00, 0x01, 0xF0]
        );
        assert_eq!(bytes(BmsStopCause::OverCurrent), [0x00, 0x00, 0x00, 0xF1]);
        assert_eq!(
            bytes(BmsStopCause::VoltageAbnormal),
            [0x00, 0x00, 0x00, 0xF4]
        );
    }

    #[test]
    fn profiles_carry_the_real_packs() {
        let lfp = BmsConfig::lfp();
        assert_eq!(lfp.brm.battery_type, BatteryType::LithiumIronPhosphate);
        assert_eq!(lfp.bcp.max_total_voltage_v, 426.1);
        let ncm = BmsConfig::ncm();
        assert_eq!(ncm.brm.battery_type, BatteryType::Ternary);
        assert_eq!(ncm.bcp.max_current_a, 200.0);
    }
}
