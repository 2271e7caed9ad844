//! The charger's configuration: output limits, timeouts, plant policies.

use proto::gbt27930::id::Node;
use proto::gbt27930::msg::FixedAscii;
use proto::gbt27930::tp::{TP_MAX_MESSAGE_SIZE, TpConfig};
use proto::time::Duration;

use crate::gbt::Version;

/// The charger's output capability, sent in CML (gbt27930.md §3.7, §7.2).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OutputLimits {
    /// Highest output voltage (CML SPN2824).
    pub max_voltage_v: f64,
    /// Lowest output voltage (CML SPN2825).
    pub min_voltage_v: f64,
    /// Highest output current (CML SPN2826); the 2015 encoding stops at 400 A.
    pub max_current_a: f64,
    /// Lowest output current (CML SPN2827, 2015 only).
    pub min_current_a: f64,
}

impl Default for OutputLimits {
    /// 200–750 V, 0–250 A: the reference's simulation defaults (§7.2).
    fn default() -> OutputLimits {
        OutputLimits {
            max_voltage_v: 750.0,
            min_voltage_v: 200.0,
            max_current_a: 250.0,
            min_current_a: 0.0,
        }
    }
}

/// Every time limit the charger enforces; defaults are the reference's (§2, §4.2, §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ChargerTimeouts {
    /// No BHM this long after the first CHM: the BMS is a 2011 one (5 s, \[SK\]\[YY\]).
    /// During the insulation check, BHM lost this long stops the session (\[SK\]).
    pub bhm: Duration,
    /// No complete BRM this long after the first CRM(0x00): CEM SPN3921 (5 s).
    pub brm: Duration,
    /// No complete BCP this long after the first CRM(0xAA): CEM SPN3922 (5 s).
    pub bcp: Duration,
    /// No BRO at all this long (re-armed by every BRO): CEM SPN3923 (5 s).
    pub bro: Duration,
    /// No BRO(0xAA) this long after CTS/CML started: CEM SPN3923 (60 s).
    pub bro_ready: Duration,
    /// No BCL this long (from CRO(0xAA), re-armed by every BCL): CEM SPN3925 (1 s).
    pub bcl: Duration,
    /// No BCS this long (from CRO(0xAA), re-armed by every BCS): CEM SPN3924 (5 s).
    pub bcs: Duration,
    /// No BST this long after the first CST: CEM SPN3926 (5 s).
    pub bst: Duration,
    /// No BSD this long after the first CST: CEM SPN3927 (10 s).
    pub bsd: Duration,
    /// A BSM pause longer than this stops the session (Annex C note 1: 10 min).
    pub pause: Duration,
    /// Pre-charge not done this long after BRO(0xAA): stop (60 s, \[SK\]).
    pub precharge: Duration,
    /// After CST, open K1/K2 at ≤ 5 A or after this long at the latest (Annex A.6: 100 ms).
    pub stop_current: Duration,
    /// Time in the error state (sending CEM) before a re-handshake (\[SK\]: 3.5 s).
    pub retry_delay: Duration,
}

impl Default for ChargerTimeouts {
    fn default() -> ChargerTimeouts {
        ChargerTimeouts {
            bhm: Duration::from_secs(5),
            brm: Duration::from_secs(5),
            bcp: Duration::from_secs(5),
            bro: Duration::from_secs(5),
            bro_ready: Duration::from_secs(60),
            bcl: Duration::from_secs(1),
            bcs: Duration::from_secs(5),
            bst: Duration::from_secs(5),
            bsd: Duration::from_secs(10),
            pause: Duration::from_secs(600),
            precharge: Duration::from_secs(60),
            stop_current: Duration::from_millis(100),
            retry_delay: Duration::from_millis(3_500),
        }
    }
}

/// The insulation check's verdict (GB/T 18487.1 thresholds as used by \[SK\], §4.2 C2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsulationLevel {
    /// At least 500 Ω/V: go on.
    Normal,
    /// 100–500 Ω/V: go on with a warning.
    Warning,
    /// Below 100 Ω/V: stop.
    Fault,
}

/// The result of one insulation check, as the physics insulation model reports it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InsulationOutcome {
    /// The verdict.
    pub level: InsulationLevel,
    /// The measured insulation resistance (the lower of DC+ and DC− to PE), ohms.
    pub resistance_ohm: f64,
}

impl InsulationOutcome {
    /// Classifies `resistance_ohm` measured at `test_voltage_v`: ≥ 500 Ω/V normal,
    /// ≥ 100 Ω/V warning, below fault (§4.2 C2; 18487.1 thresholds are unconfirmed
    /// beyond \[SK\]).
    pub fn classify(resistance_ohm: f64, test_voltage_v: f64) -> InsulationOutcome {
        let per_volt = resistance_ohm / test_voltage_v.max(1.0);
        let level = if per_volt >= 500.0 {
            InsulationLevel::Normal
        } else if per_volt >= 100.0 {
            InsulationLevel::Warning
        } else {
            InsulationLevel::Fault
        };
        InsulationOutcome {
            level,
            resistance_ohm,
        }
    }
}

/// Who runs the insulation check.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsulationPolicy {
    /// The plant (physics insulation model) runs it after
    /// [`ChargerEvent::StartInsulationCheck`](super::ChargerEvent::StartInsulationCheck)
    /// and answers with [`ChargerSession::insulation_result`](super::ChargerSession::insulation_result).
    External,
    /// The machine completes the check itself after `duration` with `outcome` (for
    /// protocol-only runs). The real session \[T1\] took about 16.5 s.
    Simulated {
        /// How long the check takes.
        duration: Duration,
        /// What it finds.
        outcome: InsulationOutcome,
    },
}

/// Who runs the pre-charge (module output matched to the battery before K1/K2 close).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrechargePolicy {
    /// The plant runs it after
    /// [`ChargerEvent::StartPrecharge`](super::ChargerEvent::StartPrecharge) and answers
    /// with [`ChargerSession::precharge_done`](super::ChargerSession::precharge_done).
    External,
    /// The machine completes it itself after `duration` (\[T1\]: 70 ms).
    Simulated {
        /// How long the pre-charge takes.
        duration: Duration,
    },
}

/// The CCS length the charger sends (gbt27930.md §6.3: a known ambiguity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CcsLength {
    /// 8 bytes, table 19 of the standard (the reference's default).
    Standard,
    /// 7 bytes, what real chargers send and GB/T 34658-2017 DP.3001 expects.
    Short,
}

/// Everything a [`ChargerSession`](super::ChargerSession) needs to know up front.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChargerConfig {
    /// 2015 (CHM handshake) or 2011 (starts with CRM, short CML/CCS/CSD).
    pub version: Version,
    /// Charger number sent in CRM and CSD (SPN2561/3613).
    pub charger_number: u32,
    /// Region code sent in CRM bytes 6–8 (optional field, 0xFF when absent).
    pub region_code: FixedAscii<3>,
    /// Output capability sent in CML and used to clamp the setpoint.
    pub limits: OutputLimits,
    /// Every time limit.
    pub timeouts: ChargerTimeouts,
    /// Handshake attempts before giving up (Annex C note 2: 3).
    pub max_attempts: u8,
    /// The transport-protocol receiver's settings.
    #[serde(skip)]
    pub tp: TpConfig,
    /// Who runs the insulation check.
    pub insulation: InsulationPolicy,
    /// Who runs the pre-charge.
    pub precharge: PrechargePolicy,
    /// The battery voltage measured at the gun must be within this fraction of BCP's
    /// "current battery voltage" before K1/K2 close (\[SK\]: 5 %).
    pub precharge_tolerance: f64,
    /// The CCS length to send (2015 only; 2011 sends 6 bytes).
    pub ccs_length: CcsLength,
    /// How many CSD frames to send before ending (\[SK\] about 5, \[T1\] 4).
    pub csd_repeats: u8,
}

impl Default for ChargerConfig {
    /// A 2015 charger with the reference defaults and simulated plant steps.
    fn default() -> ChargerConfig {
        let mut tp = TpConfig::new(Node::Charger);
        // BMV is the largest message the BMS sends (256 cells × 2 bytes).
        tp.max_message_size = 512.min(TP_MAX_MESSAGE_SIZE);
        ChargerConfig {
            version: Version::V2015,
            charger_number: 1,
            region_code: FixedAscii::unfilled(),
            limits: OutputLimits::default(),
            timeouts: ChargerTimeouts::default(),
            max_attempts: 3,
            tp,
            insulation: InsulationPolicy::Simulated {
                duration: Duration::from_secs(5),
                outcome: InsulationOutcome {
                    level: InsulationLevel::Normal,
                    resistance_ohm: 10e6,
                },
            },
            precharge: PrechargePolicy::Simulated {
                duration: Duration::from_millis(70),
            },
            precharge_tolerance: 0.05,
            ccs_length: CcsLength::Standard,
            csd_repeats: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insulation_thresholds_are_per_volt() {
        // 500 Ω/V at 500 V is 250 kΩ.
        let v = 500.0;
        assert_eq!(
            InsulationOutcome::classify(250_000.0, v).level,
            InsulationLevel::Normal
        );
        assert_eq!(
            InsulationOutcome::classify(100_000.0, v).level,
            InsulationLevel::Warning
        );
        assert_eq!(
            InsulationOutcome::classify(40_000.0, v).level,
            InsulationLevel::Fault
        );
    }

    #[test]
    fn defaults_are_the_reference_values() {
        let c = ChargerConfig::default();
        assert_eq!(c.timeouts.bcl.as_millis(), 1_000);
        assert_eq!(c.timeouts.bro_ready.as_millis(), 60_000);
        assert_eq!(c.timeouts.bsd.as_millis(), 10_000);
        assert_eq!(c.max_attempts, 3);
        assert_eq!(c.tp.max_message_size, 512);
    }
}
