//! Trace events of the fleet: sessions, states and faults.

use super::traffic::StartMethod;
use crate::trace::{TraceEvent, TraceLevel};
use serde::Serialize;

/// What a connector is doing, as the dashboard and reports count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    /// The charger is not connected to its backend.
    Offline,
    /// Free, nothing plugged in.
    Idle,
    /// A vehicle is plugged in and the session is being set up.
    Plugged,
    /// Energy is flowing.
    Charging,
    /// Charging has ended; the vehicle is still plugged in.
    Finishing,
    /// Out of service because of a fault.
    Faulted,
}

impl ConnectorState {
    /// Every state, in display order.
    pub const ALL: [ConnectorState; 6] = [
        ConnectorState::Offline,
        ConnectorState::Idle,
        ConnectorState::Plugged,
        ConnectorState::Charging,
        ConnectorState::Finishing,
        ConnectorState::Faulted,
    ];

    /// The snake_case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ConnectorState::Offline => "offline",
            ConnectorState::Idle => "idle",
            ConnectorState::Plugged => "plugged",
            ConnectorState::Charging => "charging",
            ConnectorState::Finishing => "finishing",
            ConnectorState::Faulted => "faulted",
        }
    }
}

/// Why a charging session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The BMS reached the driver's target state of charge.
    TargetSocReached,
    /// The pack is full (CV taper below the cutoff current, or cell voltage limit).
    BatteryFull,
    /// The driver's time ran out and they stopped the session.
    UserStopped,
    /// The simulation ended while charging (not a failure; the session stays open).
    RunEnded,
    /// The insulation monitor reported a fault.
    InsulationFault,
    /// The connector or pack overheated.
    OverTemperature,
    /// The charger failed (module, contactor, meter).
    ChargerFault,
    /// The BMS stopped for a fault of its own.
    BmsFault,
    /// Communication with the vehicle or backend was lost.
    CommunicationLost,
    /// The session was refused (authorization, parameters).
    Refused,
    /// An emergency stop was pressed.
    EmergencyStop,
    /// The backend stopped the session (remote stop, or a target it set was reached).
    RemoteStop,
    /// The charger was reset.
    Reset,
}

impl StopReason {
    /// Whether a session that ended this way counts as completed (not failed).
    pub fn is_normal(self) -> bool {
        matches!(
            self,
            StopReason::TargetSocReached
                | StopReason::BatteryFull
                | StopReason::UserStopped
                | StopReason::RemoteStop
        )
    }
}

/// A fleet trace event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FleetEvent {
    /// The run started.
    RunStarted {
        /// Root seed.
        seed: u64,
        /// Scenario name.
        scenario: String,
        /// Chargers in this world (shard).
        chargers: u32,
        /// Connectors in this world (shard).
        connectors: u32,
    },
    /// A driver plugged a vehicle in.
    Plugged {
        /// Vehicle profile name.
        vehicle: String,
        /// Session number of this connector (1, 2, …).
        session: u32,
        /// State of charge on arrival, %.
        soc_pct: f64,
        /// Wanted state of charge, %.
        target_soc_pct: f64,
        /// How the driver will start.
        method: StartMethod,
    },
    /// Energy started to flow.
    ChargingStarted {
        /// Session number.
        session: u32,
        /// Meter register at the start, Wh.
        meter_wh: f64,
    },
    /// Energy stopped flowing.
    ChargingStopped {
        /// Session number.
        session: u32,
        /// Why.
        reason: StopReason,
        /// Energy of this session by the meter, Wh.
        energy_wh: f64,
        /// State of charge at the end, %.
        soc_pct: f64,
        /// Charging time, s.
        duration_s: f64,
    },
    /// The driver unplugged and left.
    Unplugged {
        /// Session number.
        session: u32,
    },
    /// A session never reached charging.
    SessionAborted {
        /// Session number.
        session: u32,
        /// Why.
        reason: StopReason,
    },
}

impl TraceEvent for FleetEvent {
    fn level(&self) -> TraceLevel {
        TraceLevel::Session
    }
}

/// A GB/T 27930 protocol event of a connector's session.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GbtEvent {
    /// A timeout or error report: the charger sent CEM or the BMS sent BEM.
    Error {
        /// `cem` or `bem`.
        side: &'static str,
        /// The handshake attempt that failed.
        attempt: u8,
    },
}

impl TraceEvent for GbtEvent {
    fn level(&self) -> TraceLevel {
        TraceLevel::Protocol
    }
}

/// An MQTT protocol event of a charger.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MqttEvent {
    /// The charger published an APDU.
    MqttUp {
        /// Message name.
        code: &'static str,
        /// APDU sequence number.
        seq: u32,
    },
    /// The charger received an APDU.
    MqttDown {
        /// Message name (or `undecodable`).
        code: &'static str,
        /// APDU sequence number.
        seq: u32,
    },
    /// The charger's connection came up or went down.
    MqttLink {
        /// Whether the link is up.
        up: bool,
    },
}

impl TraceEvent for MqttEvent {
    fn level(&self) -> TraceLevel {
        TraceLevel::Protocol
    }
}
