//! Fault injection into a running fleet: the dashboard's fault menu and the scenario
//! timelines use the same hooks. Every injection is traced, so a run's faults are part of
//! its digest and visible in its trace.

use super::{Phase, World};
use crate::fleet::events::StopReason;
use crate::gbt::charger::{InsulationLevel, InsulationOutcome};
use crate::gbt::faults::{BmsFault, ChargerFault, GbtFault, WireFault};
use crate::rng::{self, Domain};
use crate::time::Duration;
use crate::trace::{Entity, TraceEvent, TraceLevel};
use proto::gbt27930::id::{Node, Pgn};
use rand::RngExt;
use serde::Serialize;

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// A GB/T 27930 hook on the session's CAN segment or in its machines (drop, delay,
    /// duplicate, corrupt or silence a message; BMS and charger faults).
    Gbt(GbtFault),
    /// The BMS stops sending BCL and BCS: the charger times out (CEM SPN3924/3925).
    BmsTimeout,
    /// The insulation of the DC output falls to this resistance (both poles), kΩ.
    InsulationFault {
        /// Resistance of each pole to PE, kΩ.
        resistance_kohm: f64,
    },
    /// The charger overheats.
    OverTemperature,
    /// The emergency stop is pressed.
    EmergencyStop,
    /// The output contactors weld shut.
    ContactorStuck,
    /// A power module fails.
    ModuleFailure,
    /// The energy meter stops answering: the charger cannot bill and ends the session as a
    /// charger fault.
    MeterFailure,
    /// The driver pulls the plug during the session.
    UnplugMidSession,
    /// The energy meter's register freezes at its reading (the charger keeps charging).
    MeterStuck,
    /// The energy meter over-reads by this much per hour from now on.
    MeterDrift {
        /// Over-reading per hour, Wh.
        wh_per_h: f64,
    },
    /// The charger's network link to the broker is cut (it reconnects with back-off).
    CutNetwork,
    /// The in-process broker dies and restarts without persistence after `downtime_s`.
    RestartBroker {
        /// Seconds before it accepts connections again.
        downtime_s: f64,
    },
    /// The reference backend answers every request this much later, ms.
    BackendSlowdown {
        /// Added delay, ms.
        delay_ms: f64,
    },
}

impl Fault {
    /// The fault's name, for traces and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Gbt(_) => "gbt",
            Fault::BmsTimeout => "bms_timeout",
            Fault::InsulationFault { .. } => "insulation_fault",
            Fault::OverTemperature => "over_temperature",
            Fault::EmergencyStop => "emergency_stop",
            Fault::ContactorStuck => "contactor_stuck",
            Fault::ModuleFailure => "module_failure",
            Fault::MeterFailure => "meter_failure",
            Fault::UnplugMidSession => "unplug_mid_session",
            Fault::MeterStuck => "meter_stuck",
            Fault::MeterDrift { .. } => "meter_drift",
            Fault::CutNetwork => "cut_network",
            Fault::RestartBroker { .. } => "restart_broker",
            Fault::BackendSlowdown { .. } => "backend_slowdown",
        }
    }

    /// Whether the fault acts on the fleet as a whole (not per connector).
    pub fn is_fleet_wide(&self) -> bool {
        matches!(
            self,
            Fault::RestartBroker { .. } | Fault::BackendSlowdown { .. }
        )
    }
}

/// Which connectors a fault hits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    /// One connector by its fleet id.
    Connector(u32),
    /// Every connector of one charger by its fleet index.
    Charger(u32),
    /// Every connector.
    All,
    /// A seeded random share of the connectors (the same share for the same seed, whatever
    /// the fleet's split into shards).
    Fraction(f64),
}

/// A traced injection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FaultEvent {
    /// A fault was injected.
    FaultInjected {
        /// Which.
        fault: Fault,
    },
}

impl TraceEvent for FaultEvent {
    fn level(&self) -> TraceLevel {
        TraceLevel::Session
    }
}

impl World {
    /// Injects `fault` into the connectors `target` selects; returns how many it reached
    /// (1 for a fleet-wide fault that took effect, 0 when nothing could take it).
    pub fn inject(&mut self, target: &FaultTarget, fault: &Fault) -> usize {
        let now = self.now;
        if fault.is_fleet_wide() {
            let applied = self.inject_fleet(fault);
            if applied {
                self.trace.record(
                    now,
                    Entity::Fleet,
                    &FaultEvent::FaultInjected {
                        fault: fault.clone(),
                    },
                );
            }
            return usize::from(applied);
        }
        let mut hit = 0;
        for ci in 0..self.connectors.len() {
            if self.selects(target, ci) && self.inject_at(ci, fault) {
                hit += 1;
            }
        }
        hit
    }

    /// The local charger indices (the real-time shell's connection numbers) of the
    /// connectors `target` selects, each once, in order.
    pub fn target_chargers(&self, target: &FaultTarget) -> Vec<usize> {
        let mut chargers: Vec<usize> = (0..self.connectors.len())
            .filter(|&ci| self.selects(target, ci))
            .map(|ci| self.connectors[ci].charger)
            .collect();
        chargers.dedup();
        chargers
    }

    /// Injects a per-connector `fault` into local connector `ci`, traced; false when it
    /// does not apply there.
    pub(super) fn inject_at(&mut self, ci: usize, fault: &Fault) -> bool {
        if !self.inject_connector(ci, fault) {
            return false;
        }
        let id = self.connectors[ci].global_id;
        self.trace.record(
            self.now,
            Entity::Connector(id),
            &FaultEvent::FaultInjected {
                fault: fault.clone(),
            },
        );
        let k = self.connectors[ci].charger;
        self.rearm(k);
        true
    }

    fn selects(&self, target: &FaultTarget, ci: usize) -> bool {
        let c = &self.connectors[ci];
        match *target {
            FaultTarget::Connector(id) => c.global_id == id,
            FaultTarget::Charger(g) => self.chargers[c.charger].global_index == g,
            FaultTarget::All => true,
            FaultTarget::Fraction(share) => {
                // One draw per connector from its own stream: shard-independent.
                let mut r = rng::stream(self.seed, Domain::Faults, u64::from(c.global_id));
                r.random::<f64>() < share
            }
        }
    }

    fn inject_fleet(&mut self, fault: &Fault) -> bool {
        match fault {
            Fault::RestartBroker { downtime_s } => {
                self.restart_broker(Duration::from_secs_f64(downtime_s.max(0.0)))
            }
            Fault::BackendSlowdown { delay_ms } => {
                self.slow_down_backend(Duration::from_secs_f64(delay_ms / 1000.0))
            }
            _ => false,
        }
    }

    /// Applies a per-connector fault; false when it does not apply (e.g. a CAN fault on
    /// an AC connector, or nothing charging).
    fn inject_connector(&mut self, ci: usize, fault: &Fault) -> bool {
        let now = self.now;
        let gbt = |f: GbtFault| Some(f);
        let on_link = match fault {
            Fault::Gbt(f) => gbt(*f),
            Fault::BmsTimeout => {
                if let Some(link) = self.connectors[ci].link.as_mut() {
                    link.apply_fault(
                        now,
                        GbtFault::Wire(WireFault::Silence {
                            from: Node::Bms,
                            pgn: Pgn::Bcl,
                        }),
                    );
                    link.apply_fault(
                        now,
                        GbtFault::Wire(WireFault::Silence {
                            from: Node::Bms,
                            pgn: Pgn::Bcs,
                        }),
                    );
                    return true;
                }
                return false;
            }
            Fault::OverTemperature => gbt(GbtFault::Charger(ChargerFault::OverTemperature)),
            Fault::EmergencyStop => gbt(GbtFault::Charger(ChargerFault::EmergencyStop)),
            Fault::ContactorStuck => gbt(GbtFault::Charger(ChargerFault::ContactorWelded)),
            Fault::ModuleFailure => gbt(GbtFault::Charger(ChargerFault::ModuleFailure)),
            Fault::InsulationFault { resistance_kohm } => {
                self.connectors[ci]
                    .plant
                    .set_insulation_ohm(resistance_kohm * 1000.0);
                let volts = self.connectors[ci].last_tick.0.max(200.0);
                let outcome = InsulationOutcome::classify(resistance_kohm * 1000.0, volts).level;
                if let Some(link) = self.connectors[ci].link.as_mut() {
                    // Below 100 Ω/V the charger's own insulation monitor trips (CST
                    // insulation fault); the BMS reports the fault in BSM either way.
                    if outcome == InsulationLevel::Fault {
                        link.apply_fault(now, GbtFault::Charger(ChargerFault::InsulationFault));
                    }
                    link.apply_fault(now, GbtFault::Bms(BmsFault::Insulation { stop: false }));
                } else if outcome == InsulationLevel::Fault
                    && matches!(self.connectors[ci].phase, Phase::Charging { .. })
                {
                    self.stop_charging(ci, StopReason::InsulationFault);
                }
                return true;
            }
            Fault::UnplugMidSession => return self.unplug_now(ci),
            Fault::MeterStuck => {
                self.stick_meter(ci);
                return true;
            }
            Fault::MeterDrift { wh_per_h } => {
                self.drift_meter(ci, *wh_per_h);
                return true;
            }
            Fault::MeterFailure => {
                let active = matches!(
                    self.connectors[ci].phase,
                    Phase::Charging { .. } | Phase::Starting { .. } | Phase::Authorizing { .. }
                );
                if active {
                    self.request_session_stop(ci, StopReason::ChargerFault);
                }
                return active;
            }
            Fault::CutNetwork => {
                let g = self.chargers[self.connectors[ci].charger].global_index;
                return self.cut_charger_link(g);
            }
            Fault::RestartBroker { .. } | Fault::BackendSlowdown { .. } => None,
        };
        let Some(f) = on_link else { return false };
        match self.connectors[ci].link.as_mut() {
            Some(link) => {
                link.apply_fault(now, f);
                true
            }
            None => {
                // No GB/T session (AC, or CAN off): charger faults stop the session directly.
                let reason = match fault {
                    Fault::OverTemperature => StopReason::OverTemperature,
                    Fault::EmergencyStop => StopReason::EmergencyStop,
                    Fault::ContactorStuck | Fault::ModuleFailure => StopReason::ChargerFault,
                    _ => return false,
                };
                if matches!(self.connectors[ci].phase, Phase::Charging { .. }) {
                    self.stop_charging(ci, reason);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// The driver pulls the plug now (mid-session or not).
    fn unplug_now(&mut self, ci: usize) -> bool {
        let now = self.now;
        if matches!(self.connectors[ci].phase, Phase::Charging { .. }) {
            if let Some(link) = self.connectors[ci].link.as_mut() {
                link.request_stop(now, crate::gbt::charger::ChargerStopCause::Unplugged);
            }
            self.stop_charging(ci, StopReason::UserStopped);
        }
        match &mut self.connectors[ci].phase {
            Phase::Finishing { unplug_at, .. } => {
                *unplug_at = now;
                true
            }
            Phase::Plugged { .. } | Phase::Authorizing { .. } | Phase::Starting { .. } => {
                if let Phase::Plugged { ev, .. } | Phase::Authorizing { ev, .. } =
                    std::mem::replace(&mut self.connectors[ci].phase, Phase::Moving)
                {
                    self.connectors[ci].phase = Phase::Starting { ev, deadline: now };
                }
                self.abort_session(ci, StopReason::UserStopped);
                if let Phase::Finishing { unplug_at, .. } = &mut self.connectors[ci].phase {
                    *unplug_at = now;
                }
                true
            }
            _ => false,
        }
    }
}
