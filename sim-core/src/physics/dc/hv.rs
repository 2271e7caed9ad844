//! High-voltage switching of a DC output: the module voltage source used for cable check,
//! pre-charge and bleed-down ([`PreCharge`]), and the output contactors K1/K2 ([`Contactors`]).
//!
//! # Pre-charge
//!
//! Before K1/K2 close onto a battery, the power modules bring their open-circuit output to the
//! battery voltage (GB/T: within a few volts; real firmware rejects > 10 V, meters-and-can-hil.md
//! §5.3). The module voltage moves linearly so that any start reaches its target in
//! `duration_s`:
//!
//! ```text
//! slew = |U_target − U_start| / duration_s        [V/s]
//! U ← U + sign(U_target − U)·min(slew·Δt, |U_target − U|)
//! done ⇔ |U − U_target| ≤ tolerance_v
//! ```
//!
//! The same source raises the output to the insulation-test voltage for the cable check and
//! bleeds it to zero afterwards.
//!
//! # Contactors
//!
//! Closing and opening take a mechanical time. Faults are injected: a welded contactor does not
//! open, a stuck-open one does not close.

use crate::physics::common::{Checks, slew};

/// Pre-charge behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreChargeParams {
    /// Time to move from any start voltage to the target, s.
    pub duration_s: f64,
    /// Allowed difference to the target for "done" and for closing the contactors, V.
    pub tolerance_v: f64,
}

impl Default for PreChargeParams {
    /// 2 s, ±10 V.
    fn default() -> Self {
        PreChargeParams {
            duration_s: 2.0,
            tolerance_v: 10.0,
        }
    }
}

impl PreChargeParams {
    pub(crate) fn check(&self, c: &mut Checks) {
        c.positive("precharge.duration_s", self.duration_s);
        c.within("precharge.tolerance_v", self.tolerance_v, 0.1, 50.0);
    }
}

/// The modules' open-circuit output voltage while the contactors are open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreCharge {
    params: PreChargeParams,
    voltage_v: f64,
    target_v: f64,
    slew_v_per_s: f64,
}

impl PreCharge {
    /// A source at 0 V with no target.
    pub fn new(params: &PreChargeParams) -> Self {
        PreCharge {
            params: *params,
            voltage_v: 0.0,
            target_v: 0.0,
            slew_v_per_s: 0.0,
        }
    }

    /// Starts moving to `target_v`, reaching it after `duration_s`.
    pub fn start(&mut self, target_v: f64) {
        self.target_v = target_v;
        self.slew_v_per_s = (target_v - self.voltage_v).abs() / self.params.duration_s;
    }

    /// Advances by `dt_s`; returns the module voltage, V.
    pub fn step(&mut self, dt_s: f64) -> f64 {
        let d = self.slew_v_per_s * dt_s;
        self.voltage_v = slew(self.voltage_v, self.target_v, d, d);
        self.voltage_v
    }

    /// Sets the module voltage (when the contactors are closed it follows the output).
    pub fn track(&mut self, voltage_v: f64) {
        self.voltage_v = voltage_v;
        self.target_v = voltage_v;
    }

    /// True when the voltage is within the tolerance of the target.
    pub fn is_done(&self) -> bool {
        (self.voltage_v - self.target_v).abs() <= self.params.tolerance_v
    }

    /// True when `battery_voltage_v` is within the tolerance of the module voltage.
    pub fn matches(&self, battery_voltage_v: f64) -> bool {
        (self.voltage_v - battery_voltage_v).abs() <= self.params.tolerance_v
    }

    /// Module output voltage, V.
    pub fn voltage_v(&self) -> f64 {
        self.voltage_v
    }

    /// Allowed difference to the target, V.
    pub fn tolerance_v(&self) -> f64 {
        self.params.tolerance_v
    }

    /// Present target, V.
    pub fn target_v(&self) -> f64 {
        self.target_v
    }
}

/// Contactor timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContactorParams {
    /// Time from the close command to contact, s.
    pub close_time_s: f64,
    /// Time from the open command to separation, s.
    pub open_time_s: f64,
}

impl Default for ContactorParams {
    /// 30 ms to close, 20 ms to open (typical DC contactors).
    fn default() -> Self {
        ContactorParams {
            close_time_s: 0.03,
            open_time_s: 0.02,
        }
    }
}

impl ContactorParams {
    pub(crate) fn check(&self, c: &mut Checks) {
        c.within("contactor.close_time_s", self.close_time_s, 0.0, 5.0);
        c.within("contactor.open_time_s", self.open_time_s, 0.0, 5.0);
    }
}

/// Mechanical state of the contactor pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContactorState {
    /// Open.
    Open,
    /// Commanded closed, not yet in contact.
    Closing,
    /// Closed.
    Closed,
    /// Commanded open, not yet separated.
    Opening,
}

/// An injected contactor fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContactorFault {
    /// Welded: once closed it never opens (K1K2 adhesion).
    WeldedClosed,
    /// Never closes (K1K2 refuse to close).
    StuckOpen,
}

/// The output contactor pair K1/K2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contactors {
    params: ContactorParams,
    state: ContactorState,
    timer_s: f64,
    fault: Option<ContactorFault>,
}

impl Contactors {
    /// Open contactors without a fault.
    pub fn new(params: &ContactorParams) -> Self {
        Contactors {
            params: *params,
            state: ContactorState::Open,
            timer_s: 0.0,
            fault: None,
        }
    }

    /// Commands closing (no effect if closed or closing).
    pub fn command_close(&mut self) {
        if matches!(self.state, ContactorState::Open | ContactorState::Opening) {
            self.state = ContactorState::Closing;
            self.timer_s = self.params.close_time_s;
        }
    }

    /// Commands opening (no effect if open or opening).
    pub fn command_open(&mut self) {
        if matches!(self.state, ContactorState::Closed | ContactorState::Closing) {
            self.state = ContactorState::Opening;
            self.timer_s = self.params.open_time_s;
        }
    }

    /// Advances the mechanical timers.
    pub fn step(&mut self, dt_s: f64) {
        self.timer_s -= dt_s;
        match self.state {
            // A stuck-open pair stays in `Closing` until the fault is cleared.
            ContactorState::Closing
                if self.timer_s <= 0.0 && self.fault != Some(ContactorFault::StuckOpen) =>
            {
                self.state = ContactorState::Closed;
            }
            ContactorState::Opening if self.timer_s <= 0.0 => {
                self.state = if self.fault == Some(ContactorFault::WeldedClosed) {
                    ContactorState::Closed
                } else {
                    ContactorState::Open
                };
            }
            _ => {}
        }
    }

    /// True when current can flow (closed, or still in contact while opening).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, ContactorState::Closed | ContactorState::Opening)
    }

    /// The mechanical state.
    pub fn state(&self) -> ContactorState {
        self.state
    }

    /// Injects (or clears, with `None`) a fault.
    pub fn set_fault(&mut self, fault: Option<ContactorFault>) {
        self.fault = fault;
    }

    /// The injected fault.
    pub fn fault(&self) -> Option<ContactorFault> {
        self.fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precharge_reaches_target_in_the_configured_time() {
        let p = PreChargeParams::default();
        let mut pc = PreCharge::new(&p);
        pc.start(380.0);
        let mut t = 0.0f64;
        while !pc.is_done() {
            pc.step(0.1);
            t += 0.1;
            assert!(pc.voltage_v() <= 380.0);
        }
        // Within 10 V of 380 V after (370/380)·2 s.
        assert!((t - 2.0 * 370.0 / 380.0).abs() < 0.11, "{t}");
        for _ in 0..30 {
            pc.step(0.1);
        }
        assert_eq!(pc.voltage_v(), 380.0);
        assert!(pc.matches(375.0) && !pc.matches(395.0));
        pc.start(0.0);
        for _ in 0..20 {
            pc.step(0.1);
        }
        assert!(pc.voltage_v().abs() < 1e-9);
    }

    #[test]
    fn contactors_close_and_open_with_delay() {
        let mut k = Contactors::new(&ContactorParams::default());
        k.command_close();
        assert!(!k.is_closed());
        k.step(0.01);
        assert_eq!(k.state(), ContactorState::Closing);
        k.step(0.05);
        assert!(k.is_closed());
        k.command_open();
        assert!(k.is_closed());
        k.step(0.05);
        assert_eq!(k.state(), ContactorState::Open);
    }

    #[test]
    fn injected_faults() {
        let mut k = Contactors::new(&ContactorParams::default());
        k.set_fault(Some(ContactorFault::StuckOpen));
        k.command_close();
        k.step(1.0);
        assert!(!k.is_closed());
        k.set_fault(Some(ContactorFault::WeldedClosed));
        k.command_close();
        k.step(1.0);
        assert!(k.is_closed());
        k.command_open();
        k.step(1.0);
        assert!(k.is_closed());
        assert_eq!(k.fault(), Some(ContactorFault::WeldedClosed));
    }
}
