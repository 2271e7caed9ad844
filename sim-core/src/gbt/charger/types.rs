//! The charger's phases, plant inputs, stop causes and events.

use proto::gbt27930::id::Pgn;
use proto::gbt27930::msg::{
    Bcp, Bcs, Bem, Brm, Bsd, Bsm, Bst, Cem, Cst, CstError, CstFault, CstReason, Status2,
};

/// Where the charger is in the session; each phase is named by what it waits for
/// (gbt27930.md §4.2, C0–C10 and C-Err).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargerPhase {
    /// C0: nothing plugged in.
    Idle,
    /// C1: aux power on, sending CHM, waiting for BHM (5 s, then the 2011 path).
    ExpectBhm,
    /// C2: insulation check running (CHM continues in 2015).
    ExpectInsulationResult,
    /// C3: sending CRM(0x00), waiting for a complete BRM.
    ExpectBrm,
    /// C4: sending CRM(0xAA), waiting for a complete BCP.
    ExpectBcp,
    /// C5: sending CTS/CML, waiting for BRO(0xAA).
    ExpectBroReady,
    /// C6: sending CRO(0x00) while the pre-charge runs.
    ExpectPrecharge,
    /// C7: sending CRO(0xAA), waiting for both BCL and BCS.
    ExpectBclBcs,
    /// C8: sending CCS, following BCL.
    Charging,
    /// C9: sending CST, waiting for BST and BSD.
    ExpectBstBsd,
    /// C10: sending CSD a few times.
    SendingStatistics,
    /// Session over, aux power off; waiting for the unplug.
    Ended,
    /// C-Err: sending CEM; a re-handshake or the end follows.
    ErrorBackoff,
    /// Gave up (attempts exhausted, or a fault that needs a re-plug); waiting for the unplug.
    Failed,
}

impl ChargerPhase {
    /// Whether the phase belongs to the communication session proper (CRM sent, no stop
    /// decided yet): where a timeout raises CEM and a stop sends CST.
    pub const fn in_session(self) -> bool {
        matches!(
            self,
            ChargerPhase::ExpectBrm
                | ChargerPhase::ExpectBcp
                | ChargerPhase::ExpectBroReady
                | ChargerPhase::ExpectPrecharge
                | ChargerPhase::ExpectBclBcs
                | ChargerPhase::Charging
        )
    }
}

/// What the plant measures at the charger's output, fed with
/// [`ChargerSession::update_output`](super::ChargerSession::update_output).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct OutputStatus {
    /// Output voltage at the charger side of K1/K2 (reported in CCS).
    pub voltage_v: f64,
    /// Output current, charging positive (reported in CCS).
    pub current_a: f64,
    /// Voltage on the vehicle side of K1/K2 (the battery, once K5/K6 are closed).
    pub battery_side_voltage_v: f64,
    /// Whether K1/K2 are actually closed.
    pub contactors_closed: bool,
    /// Gun (connector) temperature.
    pub gun_temperature_c: f64,
}

/// The current and voltage the power stage should deliver.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Setpoint {
    /// Voltage ceiling: min(BCL demand, BCP max total, charger max).
    pub voltage_v: f64,
    /// Current: min(BCL demand, BCP max, charger max); 0 when paused or stopped.
    pub current_a: f64,
}

/// A charger fault behind a stop, mapped onto the CST fault bits (SPN3522).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargerFaultKind {
    /// CST 2.1–2.2: charger over-temperature.
    OverTemperature,
    /// CST 2.3–2.4: charging connector fault.
    Connector,
    /// CST 2.5–2.6: charger internal over-temperature.
    InternalOverTemperature,
    /// CST 2.7–2.8: the required energy cannot be delivered (e.g. a power module failed).
    EnergyUnavailable,
    /// CST 3.1–3.2: emergency stop.
    EmergencyStop,
    /// CST 3.3–3.4: other fault (contactor welded, insulation fault while charging, …).
    Other,
}

/// Why the charger ends a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargerStopCause {
    /// The user stopped (CST 1.3–1.4, `04 00 F0 F0`).
    Manual,
    /// A charger-set condition was reached: energy, time or amount from the backend
    /// (CST 1.1–1.2).
    ConditionReached,
    /// The BMS sent BST (CST 1.7–1.8, `40 00 F0 F0`).
    BmsStopped,
    /// A charger fault (CST 1.5–1.6 plus the fault bit).
    Fault(ChargerFaultKind),
    /// Output current does not match the demand (CST 1.5–1.6 and 4.1–4.2).
    CurrentMismatch,
    /// Output or battery voltage abnormal (CST 1.5–1.6 and 4.3–4.4).
    VoltageAbnormal,
    /// BCP does not fit the charger (battery voltage out of range, §4.2 C4; \[SK\]):
    /// CST 1.5–1.6 and 4.3–4.4.
    ParameterMismatch,
    /// BSM reported an abnormal status (SPN3090–3095): CST 1.5–1.6 and 3.3–3.4 (other).
    BmsStatusAbnormal,
    /// A BSM pause lasted longer than 10 min (Annex C note 1): CST 1.1–1.2.
    PauseTimeout,
    /// Pre-charge failed or timed out: CST 1.5–1.6 and 3.3–3.4.
    PrechargeFailed,
    /// The insulation check failed before the session (no CST: nothing was said yet).
    InsulationFault,
    /// The handshake failed `max_attempts` times, or BHM was lost during the insulation
    /// check; the error path sends CEM, not CST.
    CommunicationTimeout,
    /// The gun was unplugged (CC1 lost, Annex A.10): CST 1.5–1.6 and 2.3–2.4 if in session.
    Unplugged,
}

impl ChargerStopCause {
    /// The CST the charger sends for this cause (reserved bits are the encoder's job).
    pub fn cst(self) -> Cst {
        let on = Status2::Active;
        let mut reason = CstReason::default();
        let mut fault = CstFault::default();
        let mut error = CstError::default();
        match self {
            ChargerStopCause::Manual => reason.manual_stop = on,
            ChargerStopCause::ConditionReached | ChargerStopCause::PauseTimeout => {
                reason.condition_reached = on;
            }
            ChargerStopCause::BmsStopped => reason.bms_stopped = on,
            ChargerStopCause::Fault(kind) => {
                reason.fault_stop = on;
                match kind {
                    ChargerFaultKind::OverTemperature => fault.charger_over_temperature = on,
                    ChargerFaultKind::Connector => fault.charging_connector = on,
                    ChargerFaultKind::InternalOverTemperature => {
                        fault.internal_over_temperature = on;
                    }
                    ChargerFaultKind::EnergyUnavailable => fault.energy_unavailable = on,
                    ChargerFaultKind::EmergencyStop => fault.emergency_stop = on,
                    ChargerFaultKind::Other => fault.other = on,
                }
            }
            ChargerStopCause::CurrentMismatch => {
                reason.fault_stop = on;
                error.current_mismatch = on;
            }
            ChargerStopCause::VoltageAbnormal | ChargerStopCause::ParameterMismatch => {
                reason.fault_stop = on;
                error.voltage_abnormal = on;
            }
            ChargerStopCause::BmsStatusAbnormal
            | ChargerStopCause::PrechargeFailed
            | ChargerStopCause::InsulationFault => {
                reason.fault_stop = on;
                fault.other = on;
            }
            ChargerStopCause::Unplugged => {
                reason.fault_stop = on;
                fault.charging_connector = on;
            }
            ChargerStopCause::CommunicationTimeout => {}
        }
        Cst {
            reason,
            fault,
            error,
        }
    }
}

/// Why the charger entered its error state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargerErrorCause {
    /// This BMS message timed out; the CEM bit for it is set.
    Timeout(Pgn),
    /// The BMS reported an error with BEM.
    BemReceived(Bem),
}

/// Something the charger reports to its owner (the plant, the backend, the report).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargerEvent {
    /// Switch the 12 V auxiliary supply (K3/K4).
    AuxPower(bool),
    /// Run the insulation check at this voltage and answer with `insulation_result`.
    StartInsulationCheck {
        /// min(BHM max voltage, charger max) (\[SK\]).
        test_voltage_v: f64,
    },
    /// Match the module output to the battery and answer with `precharge_done`.
    StartPrecharge {
        /// The battery voltage to match.
        target_voltage_v: f64,
    },
    /// Close K1/K2.
    CloseContactors,
    /// Open K1/K2.
    OpenContactors,
    /// New power-stage setpoint.
    Setpoint(Setpoint),
    /// The phase changed.
    PhaseChanged(ChargerPhase),
    /// A complete BRM arrived: the vehicle's identity.
    VehicleIdentified(Box<Brm>),
    /// A complete BCP arrived: the battery's limits.
    ParametersReceived(Bcp),
    /// A BCS arrived during charging (with the latest BSM).
    BmsStatus {
        /// The BCS.
        bcs: Bcs,
        /// The latest BSM, if any arrived yet.
        bsm: Option<Bsm>,
    },
    /// The session ended (normally or not).
    Stopped {
        /// Why.
        cause: ChargerStopCause,
        /// The CST sent, if the stop went through CST.
        cst: Option<Cst>,
        /// The BMS's BST, if one arrived.
        bst: Option<Bst>,
        /// The BMS's statistics (BSD), if they arrived.
        statistics: Option<Bsd>,
    },
    /// A timeout or a BEM: CEM is being sent.
    Error {
        /// What went wrong.
        cause: ChargerErrorCause,
        /// The CEM being sent.
        cem: Cem,
        /// The handshake attempt that failed (1-based).
        attempt: u8,
    },
    /// `max_attempts` handshakes failed; the operator must re-plug (Annex C note 2).
    GaveUp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::gbt27930::msg::GbtMessage;

    fn bytes(cause: ChargerStopCause) -> [u8; 4] {
        let mut b = [0u8; 4];
        cause.cst().encode(&mut b).unwrap();
        b
    }

    #[test]
    fn cst_bits_match_the_reference_frames() {
        // §3.15 typical frames and the [SA] content checks.
        assert_eq!(bytes(ChargerStopCause::Manual), [0x04, 0x00, 0xF0, 0xF0]);
        assert_eq!(
            bytes(ChargerStopCause::BmsStopped),
            [0x40, 0x00, 0xF0, 0xF0]
        );
        assert_eq!(
            bytes(ChargerStopCause::Fault(ChargerFaultKind::Connector)),
            [0x10, 0x04, 0xF0, 0xF0]
        );
        assert_eq!(
            bytes(ChargerStopCause::Fault(ChargerFaultKind::EmergencyStop)),
            [0x10, 0x00, 0xF1, 0xF0]
        );
        assert_eq!(bytes(ChargerStopCause::ConditionReached)[0], 0x01);
        assert_eq!(
            bytes(ChargerStopCause::CurrentMismatch),
            [0x10, 0x00, 0xF0, 0xF1]
        );
        assert_eq!(
            bytes(ChargerStopCause::VoltageAbnormal),
            [0x10, 0x00, 0xF0, 0xF4]
        );
    }
}
