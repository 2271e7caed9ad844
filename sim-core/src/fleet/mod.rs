//! The fleet: chargers, their connectors, and the drivers who use them.
//!
//! A [`World`] owns every charger of a run (or of one shard) and drives them from one
//! [`Scheduler`](crate::sched::Scheduler). The scheduled unit is the charger
//! (equipment): it wakes at the earliest of its physics tick (while any connector is
//! charging) and its connectors' session deadlines, handles everything due, and re-arms.
//! Idle connectors cost nothing until their next driver arrives.
//!
//! ```text
//!  Idle ──arrival──▶ Plugged ──start (app/card/VIN)──▶ Starting ──ready──▶ Charging
//!   ▲                   │                                  │                   │
//!   │                   └──────────── aborted ─────────────┘          stop (target SOC,
//!   │                                                                  full, dwell, fault)
//!   └────────────────────────── unplug ◀──────────── Finishing ◀───────────────┘
//! ```

pub mod events;
pub mod gbt_link;
pub mod gbt_pb;
pub mod plant;
pub mod traffic;
mod world;

pub use events::{ConnectorState, FleetEvent, StopReason};
pub use world::{
    BuildError, ConnectorView, ControlEvent, ExternalAction, ExternalOperator, Fault, FaultEvent,
    FaultTarget, KEPT_SAMPLES, MqttOut, RecentApdu, Shard, Snapshot, TimelineEvent, World,
    WorldConfig, driver_cards, http_configs, operator_config, reference_backend, reference_tariff,
    vehicle_vins,
};

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod run_ahead_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timeline_tests;
