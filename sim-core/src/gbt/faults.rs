//! Fault hooks for scenarios, as data.
//!
//! [`GbtFault`] is what a scenario names. Wire faults ([`WireFault`]) act on the frames in
//! the [`Segment`](super::segment::Segment); BMS and charger faults act on the machines
//! ([`BmsSession::inject_fault`](super::bms::BmsSession::inject_fault),
//! [`ChargerSession::inject_fault`](super::charger::ChargerSession::inject_fault)).
//! [`Pair::apply_fault`](super::pair::Pair::apply_fault) routes each to its place.

use proto::gbt27930::id::{Node, Pgn};
use proto::time::Duration;

/// Any fault a scenario can inject into one connector's GB/T session.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GbtFault {
    /// A fault on the wire.
    Wire(WireFault),
    /// A fault in the vehicle.
    Bms(BmsFault),
    /// A fault in the charger.
    Charger(ChargerFault),
}

/// What happens to frames on the segment. `from` is the sending node; `pgn` is the
/// message, and for transport traffic the message the TP session carries (so dropping
/// BRM drops its RTS and data packets; the charger's CTS for BRM is `from: Charger`).
/// Ratios are probabilities per frame in 0..=1; 1 means every frame, with no random draw.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFault {
    /// Lose a share of the frames.
    Drop {
        /// Sender.
        from: Node,
        /// Message.
        pgn: Pgn,
        /// Share of frames lost.
        ratio: f64,
    },
    /// Deliver every frame late (and so possibly out of order with other messages).
    Delay {
        /// Sender.
        from: Node,
        /// Message.
        pgn: Pgn,
        /// Extra latency.
        delay: Duration,
    },
    /// Deliver a share of the frames twice.
    Duplicate {
        /// Sender.
        from: Node,
        /// Message.
        pgn: Pgn,
        /// Share of frames duplicated.
        ratio: f64,
    },
    /// Flip bits of one data byte in a share of the frames.
    Corrupt {
        /// Sender.
        from: Node,
        /// Message.
        pgn: Pgn,
        /// Index of the data byte (frames shorter than that are left alone).
        byte: u8,
        /// Bits to flip.
        xor: u8,
        /// Share of frames corrupted.
        ratio: f64,
    },
    /// The sender stops sending this message altogether.
    Silence {
        /// Sender.
        from: Node,
        /// Message.
        pgn: Pgn,
    },
    /// The charger's CML carries max and min current swapped (\[T2\] candump2).
    SwapCmlCurrents,
    /// Damage the transport of a multi-packet message.
    CorruptTp {
        /// The message the TP session carries.
        pgn: Pgn,
        /// What to damage.
        corruption: TpCorruption,
        /// Share of the affected frames.
        ratio: f64,
    },
}

/// How a TP session is damaged. J1939-21 TP carries no checksum, so a "bad checksum" is
/// modelled as what a receiver can detect: a wrong sequence number, an RTS whose size does
/// not match its packet count, or damaged payload bytes (caught only by the decoder or
/// the plausibility checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TpCorruption {
    /// TP.DT sequence number off by one.
    Sequence,
    /// RTS total size inconsistent with the packet count.
    Size,
    /// TP.DT payload byte 1 inverted.
    Payload,
}

/// A fault in the vehicle. With `stop` the BMS also ends the session with the matching
/// BST bits; without, it only reports the status in BSM (the charger must stop on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BmsFault {
    /// A cell above its limit: BSM SPN3090 = too high; BST voltage abnormal (4.3–4.4).
    CellOverVoltage {
        /// Whether the BMS stops by itself.
        stop: bool,
    },
    /// Pack over-temperature: BSM SPN3093; BST battery over-temperature (3.1–3.2).
    OverTemperature {
        /// Whether the BMS stops by itself.
        stop: bool,
    },
    /// Insulation fault: BSM SPN3094; BST insulation fault (2.1–2.2).
    Insulation {
        /// Whether the BMS stops by itself.
        stop: bool,
    },
    /// Charging connector fault: BSM SPN3095; BST connector fault (2.7–2.8).
    Connector {
        /// Whether the BMS stops by itself.
        stop: bool,
    },
    /// Over-current: BSM SPN3092; BST over-current (4.1–4.2).
    OverCurrent {
        /// Whether the BMS stops by itself.
        stop: bool,
    },
    /// BSM SPN3096 = 00 (pause) while `true`, 01 again when `false` (DP.3005).
    Suspend(bool),
}

/// A fault in the charger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargerFault {
    /// A power module failed: the required energy cannot be delivered (CST 1.5 + 2.7).
    ModuleFailure,
    /// Charger over-temperature (CST 1.5 + 2.1).
    OverTemperature,
    /// Emergency stop pressed (CST 1.5 + 3.1); no restart without re-plugging.
    EmergencyStop,
    /// K1/K2 do not close: the pre-charge fails (CST 1.5 + 3.3).
    ContactorStuckOpen,
    /// K1/K2 welded: stop with "other fault" (CST 1.5 + 3.3) and refuse to restart until
    /// re-plugged (DP.4002).
    ContactorWelded,
    /// The insulation monitor trips: before the session the check fails; during it the
    /// charger stops (CST 1.5 + 3.3) and locks out.
    InsulationFault,
}
