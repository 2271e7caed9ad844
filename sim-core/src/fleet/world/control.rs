//! Live control of a running fleet from an interactive shell (the dashboard): the
//! arrival rate and pause, and faults the shell applied to real peers outside the world.
//! Every change is traced, so a run's controls are part of its trace and digest.

use super::faults::{Fault, FaultEvent, FaultTarget};
use super::{Phase, World};
use crate::trace::{Entity, TraceEvent, TraceLevel};
use serde::Serialize;

/// A traced change of the arrival rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ControlEvent {
    /// The arrival rate was scaled (0 = arrivals paused).
    ArrivalRateSet {
        /// Multiplier of the scenario's rate.
        factor: f64,
    },
}

impl TraceEvent for ControlEvent {
    fn level(&self) -> TraceLevel {
        TraceLevel::Session
    }
}

impl World {
    /// Scales every group's arrival rate by `factor` (1.0 = as the scenario says, 0.0 =
    /// no new drivers: the load is paused). Idle connectors draw their next arrival again
    /// from now, so the change acts at once rather than after arrivals drawn at the old rate.
    pub fn set_arrival_rate_factor(&mut self, factor: f64) {
        let factor = if factor.is_finite() {
            factor.max(0.0)
        } else {
            0.0
        };
        for g in &mut self.groups {
            g.traffic.set_rate_factor(factor);
        }
        let now = self.now;
        for ci in 0..self.connectors.len() {
            let c = &mut self.connectors[ci];
            if let Phase::Idle { next_arrival } = &mut c.phase {
                *next_arrival =
                    self.groups[c.group]
                        .traffic
                        .next_arrival(now, &self.clock, &mut c.rng);
            }
        }
        for k in 0..self.chargers.len() {
            self.rearm(k);
        }
        self.trace
            .record(now, Entity::Fleet, &ControlEvent::ArrivalRateSet { factor });
    }

    /// The multiplier of the scenario's arrival rate now in force (1.0 unless changed).
    pub fn arrival_rate_factor(&self) -> f64 {
        self.groups.first().map_or(1.0, |g| g.traffic.rate_factor())
    }

    /// Records in the trace a fault that the shell applied outside the world (e.g. it
    /// restarted the real embedded broker, which [`World::inject`] cannot reach).
    pub fn record_external_fault(&mut self, target: &FaultTarget, fault: &Fault) {
        let entity = match *target {
            FaultTarget::Connector(id) => Entity::Connector(id),
            FaultTarget::Charger(g) => Entity::Charger(g),
            FaultTarget::All | FaultTarget::Fraction(_) => Entity::Fleet,
        };
        self.trace.record(
            self.now,
            entity,
            &FaultEvent::FaultInjected {
                fault: fault.clone(),
            },
        );
    }
}
