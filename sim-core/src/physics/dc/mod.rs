//! DC charger: one connector's power path, from the three-phase input through the power
//! modules, contactors and cable into the battery.
//!
//! # Output regulation (per tick, contactors closed)
//!
//! The battery is a Thevenin source `U_src = N·(OCV + V_rc)` behind `R_b = N·R0(T)`
//! ([`BatteryPack`]); the cable adds `R_c`. The current is the smallest of
//!
//! ```text
//! I_cmd   = min(I_set, I_gun(T_gun), P_avail/P_module · I_module)   then rate-limited:
//! I_ramp  = I_prev + clamp(I_cmd − I_prev, −ramp_down·Δt, +ramp_up·Δt)
//! I_vset  = (U_set − U_src) / R_b                 battery-side voltage setpoint (cable drop
//!                                                 compensated, as chargers do on BCS feedback)
//! I_vmax  = (U_max − U_src) / (R_b + R_c)         charger output-voltage limit (CML)
//! I_p     = root of (U_src + (R_b+R_c)·I)·I = P_avail     power limit
//! I       = max(0, min(I_ramp, I_vset, I_vmax, I_p))
//! ```
//!
//! so when the battery would exceed the voltage setpoint at the ramped current, the current is
//! limited so that `U_term = U_set`. The charger cannot regulate a battery outside
//! `[U_min, U_max]` and outputs nothing then. The ramp state follows the delivered current (no
//! wind-up).
//!
//! # Powers and losses
//!
//! ```text
//! U_out  = Ū_term + I·R_c                         (output terminals, the meter point)
//! P_out  = U_out·I
//! n_act  = clamp(⌈P_out / P_module⌉, 1, n_modules)          modules shed at light load
//! η      = η_curve(P_out / (n_act·P_module))
//! P_in   = P_out / η + P_standby                  (three-phase input, see [`grid`])
//! ```
//!
//! Energy since construction: `E_out = ∫P_out dt` (what the meter integrates),
//! `E_in = ∫P_in dt`, conversion loss `E_in − E_out`, cable loss `∫I²R_c dt`, and
//! `E_out = E_pack,terminal + E_cable` exactly.
//!
//! [`grid`]: crate::physics::grid

pub mod gun;
pub mod hv;
pub mod insulation;
pub mod params;
pub mod sharing;

pub use gun::{GunThermal, GunThermalParams};
pub use hv::{
    ContactorFault, ContactorParams, ContactorState, Contactors, PreCharge, PreChargeParams,
};
pub use insulation::{InsulationMonitor, InsulationParams, InsulationState};
pub use params::{DEFAULT_MODULE_EFFICIENCY, DcChargerParams, EFFICIENCY_POINTS, EfficiencyCurve};
pub use sharing::{PowerSharing, SharingMemo};

use crate::physics::battery::BatteryPack;
use crate::physics::common::{Cursor, InvalidParams, current_at_power, slew};
use crate::physics::grid::{AcMetering, AcQuantities};
use thiserror::Error;

/// Why a DC output command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum DcOutputError {
    /// Closing K1/K2 with the module voltage too far from the battery voltage (inrush).
    #[error(
        "module voltage {module_voltage_v} V differs from battery {battery_voltage_v} V by more than {tolerance_v} V"
    )]
    VoltageMismatch {
        /// Module output voltage, V.
        module_voltage_v: f64,
        /// Battery voltage received, V.
        battery_voltage_v: f64,
        /// Allowed difference, V.
        tolerance_v: f64,
    },
}

/// What limited the output current this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DcLimit {
    /// The current setpoint (BCL current demand).
    Setpoint,
    /// The rate limit while following the setpoint.
    Ramp,
    /// The voltage setpoint (BCL voltage demand): constant-voltage regulation.
    VoltageSetpoint,
    /// The charger's maximum output voltage.
    ChargerVoltage,
    /// The connector or module current rating.
    ChargerCurrent,
    /// Gun over-temperature derating.
    GunTemperature,
    /// The power granted by station sharing.
    Power,
    /// Contactors open: no output path.
    ContactorsOpen,
    /// Battery voltage outside the charger's output range.
    VoltageOutOfRange,
}

/// One tick of a DC output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcOutputState {
    /// Voltage at the charger output terminals (the meter point), V; the module voltage while
    /// the contactors are open.
    pub voltage_v: f64,
    /// Output current, A (positive = into the battery).
    pub current_a: f64,
    /// Battery terminal voltage (step average), V.
    pub battery_voltage_v: f64,
    /// Output power, W.
    pub power_out_w: f64,
    /// Input (AC) power, W.
    pub power_in_w: f64,
    /// Module efficiency at this load (0 when idle).
    pub efficiency: f64,
    /// Modules running.
    pub active_modules: u16,
    /// Three-phase input quantities.
    pub ac_input: AcQuantities,
    /// What bounded the current.
    pub limited_by: DcLimit,
    /// K1/K2 closed.
    pub contactors_closed: bool,
    /// Connector temperature, °C.
    pub gun_temperature_c: f64,
}

/// Energy through a DC output since construction, Wh.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DcEnergy {
    /// At the output terminals, `∫P_out dt`.
    pub output_wh: f64,
    /// At the AC input, `∫P_in dt`.
    pub input_wh: f64,
    /// Module conversion and standby losses, `E_in − E_out`.
    pub conversion_loss_wh: f64,
    /// Heat in the output cable.
    pub cable_loss_wh: f64,
}

/// One connector's power path.
#[derive(Debug, Clone, PartialEq)]
pub struct DcOutput {
    v_min: f64,
    v_max: f64,
    i_max: f64,
    ramp_up: f64,
    ramp_down: f64,
    module_power_w: f64,
    module_current_max_a: f64,
    module_count: u16,
    inv_module_power: f64,
    efficiency: EfficiencyCurve,
    efficiency_cursor: Cursor,
    standby_w: f64,
    metering: AcMetering,
    cable_ohm: f64,
    ramp_current_a: f64,
    precharge: PreCharge,
    contactors: Contactors,
    gun: GunThermal,
    insulation: InsulationMonitor,
    energy: DcEnergy,
}

/// What one step did, before it is reported as a [`DcOutputState`].
struct Advanced {
    voltage_v: f64,
    current_a: f64,
    battery_voltage_v: f64,
    power_out_w: f64,
    power_in_w: f64,
    efficiency: f64,
    active_modules: u16,
    limited_by: DcLimit,
    contactors_closed: bool,
}

/// The smallest of several candidate currents and which limit it came from.
struct MinLimit(f64, DcLimit);

impl MinLimit {
    fn with(self, value: f64, limit: DcLimit) -> Self {
        if value < self.0 {
            MinLimit(value, limit)
        } else {
            self
        }
    }
}

impl DcOutput {
    /// One connector of a charger with `params`, its gun at `ambient_c`.
    pub fn new(params: &DcChargerParams, ambient_c: f64) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(DcOutput {
            v_min: params.output_voltage_min_v,
            v_max: params.output_voltage_max_v,
            i_max: params.output_current_max_a,
            ramp_up: params.ramp_up_a_per_s,
            ramp_down: params.ramp_down_a_per_s,
            module_power_w: params.module_power_w,
            module_current_max_a: params.module_current_max_a,
            module_count: params.module_count,
            inv_module_power: 1.0 / params.module_power_w,
            efficiency: params.efficiency,
            efficiency_cursor: Cursor::default(),
            standby_w: params.standby_power_w,
            metering: AcMetering::new(&params.supply),
            cable_ohm: params.cable_resistance_ohm,
            ramp_current_a: 0.0,
            precharge: PreCharge::new(&params.precharge),
            contactors: Contactors::new(&params.contactor),
            gun: GunThermal::new(&params.gun, ambient_c),
            insulation: InsulationMonitor::new(&params.insulation),
            energy: DcEnergy::default(),
        })
    }

    /// Starts moving the module voltage to the battery voltage (pre-charge).
    pub fn start_precharge(&mut self, battery_voltage_v: f64) {
        self.precharge.start(battery_voltage_v);
    }

    /// Starts raising the module voltage to the insulation-test voltage (cable check; the IMD
    /// then classifies at this voltage). K1/K2 stay open, the battery is not involved.
    pub fn start_cable_check(&mut self, test_voltage_v: f64) {
        self.precharge.start(test_voltage_v);
    }

    /// Starts bleeding the module voltage to zero.
    pub fn start_bleed(&mut self) {
        self.precharge.start(0.0);
    }

    /// Commands K1/K2 closed if the module voltage matches `battery_voltage_v`.
    pub fn close_contactors(&mut self, battery_voltage_v: f64) -> Result<(), DcOutputError> {
        if !self.precharge.matches(battery_voltage_v) {
            return Err(DcOutputError::VoltageMismatch {
                module_voltage_v: self.precharge.voltage_v(),
                battery_voltage_v,
                tolerance_v: self.precharge.tolerance_v(),
            });
        }
        self.contactors.command_close();
        Ok(())
    }

    /// Commands K1/K2 open (the current stops at the next step; a welded pair stays closed).
    pub fn open_contactors(&mut self) {
        self.contactors.command_open();
    }

    /// The power this connector would draw now for a demand, unconstrained by sharing, W
    /// (the input to [`PowerSharing::allocate`]).
    pub fn power_demand_w(
        &self,
        setpoint_current_a: f64,
        setpoint_voltage_v: f64,
        pack: &BatteryPack,
    ) -> f64 {
        let v_src = pack.source_voltage_v();
        let r_b = pack.internal_resistance_ohm();
        let r = r_b + self.cable_ohm;
        let i = setpoint_current_a
            .min(self.gun.current_limit_a(self.i_max))
            .min((setpoint_voltage_v - v_src) / r_b)
            .min((self.v_max - v_src) / r)
            .max(0.0);
        (v_src + r * i) * i
    }

    fn regulate(
        &mut self,
        dt_s: f64,
        i_set: f64,
        v_set: f64,
        p_avail: f64,
        pack: &BatteryPack,
    ) -> (f64, DcLimit) {
        let v_src = pack.source_voltage_v();
        if !(self.v_min..=self.v_max).contains(&v_src) {
            self.ramp_current_a = 0.0;
            return (0.0, DcLimit::VoltageOutOfRange);
        }
        let r_b = pack.internal_resistance_ohm();
        let r = r_b + self.cable_ohm;
        let gun_limit = self.gun.current_limit_a(self.i_max);
        let cmd = MinLimit(i_set.max(0.0), DcLimit::Setpoint)
            .with(self.i_max, DcLimit::ChargerCurrent)
            .with(gun_limit, DcLimit::GunTemperature)
            .with(
                p_avail * self.inv_module_power * self.module_current_max_a,
                DcLimit::ChargerCurrent,
            );
        let ramped = slew(
            self.ramp_current_a,
            cmd.0,
            self.ramp_up * dt_s,
            self.ramp_down * dt_s,
        );
        // The ramp bounds both directions: label it whenever it holds the current off the command.
        let mut lim = MinLimit(
            ramped,
            if ramped == cmd.0 {
                cmd.1
            } else {
                DcLimit::Ramp
            },
        );
        let i_vset = if v_set.is_finite() {
            (v_set - v_src) / r_b
        } else {
            0.0
        };
        lim = lim
            .with(i_vset, DcLimit::VoltageSetpoint)
            .with((self.v_max - v_src) / r, DcLimit::ChargerVoltage)
            .with(current_at_power(v_src, r, p_avail), DcLimit::Power);
        let i = lim.0.max(0.0);
        self.ramp_current_a = i;
        (i, lim.1)
    }

    /// Module count, efficiency and input power for an output power.
    fn input_power(&mut self, p_out: f64) -> (u16, f64, f64) {
        if p_out <= 0.0 {
            return (0, 0.0, self.standby_w);
        }
        // The power grant is solved at the start of the step and the step average may exceed it
        // by a few ppm; 100 ppm of slack keeps a load at a module boundary on the lower count.
        // ⌈x⌉ by truncation (x > 0), which avoids a libm call on baseline x86-64.
        let x = p_out * self.inv_module_power * (1.0 - 1e-4);
        let t = x as u32;
        let n = (t + u32::from(f64::from(t) < x)).clamp(1, u32::from(self.module_count));
        let n = f64::from(n);
        let load = p_out * self.inv_module_power / n;
        let eta = self.efficiency_cursor.eval(&self.efficiency, load);
        // n is within 1..=module_count, so the cast is lossless.
        (n as u16, eta, p_out / eta + self.standby_w)
    }

    /// Advances by `dt_s`: regulates the current (see the module docs), steps `pack` with it
    /// (also when open, with zero current), heats the gun and books the energy. O(1),
    /// allocation-free.
    pub fn step(
        &mut self,
        dt_s: f64,
        setpoint_current_a: f64,
        setpoint_voltage_v: f64,
        available_power_w: f64,
        pack: &mut BatteryPack,
    ) -> DcOutputState {
        let a = self.advance(
            dt_s,
            setpoint_current_a,
            setpoint_voltage_v,
            available_power_w,
            pack,
        );
        DcOutputState {
            voltage_v: a.voltage_v,
            current_a: a.current_a,
            battery_voltage_v: a.battery_voltage_v,
            power_out_w: a.power_out_w,
            power_in_w: a.power_in_w,
            efficiency: a.efficiency,
            active_modules: a.active_modules,
            ac_input: self.metering.quantities(a.power_in_w),
            limited_by: a.limited_by,
            contactors_closed: a.contactors_closed,
            gun_temperature_c: self.gun.temperature_c(),
        }
    }

    /// [`DcOutput::step`] for a caller that reads only the output voltage and current and
    /// whether K1/K2 are closed (the fleet's plant, every tick): the same state change, bit
    /// for bit, without assembling the report (the input-side AC quantities, the efficiency).
    /// Returns `(voltage_v, current_a, contactors_closed)`.
    pub fn step_output(
        &mut self,
        dt_s: f64,
        setpoint_current_a: f64,
        setpoint_voltage_v: f64,
        available_power_w: f64,
        pack: &mut BatteryPack,
    ) -> (f64, f64, bool) {
        let a = self.advance(
            dt_s,
            setpoint_current_a,
            setpoint_voltage_v,
            available_power_w,
            pack,
        );
        (a.voltage_v, a.current_a, a.contactors_closed)
    }

    /// The state change of one step; see [`DcOutput::step`].
    #[inline(always)]
    fn advance(
        &mut self,
        dt_s: f64,
        setpoint_current_a: f64,
        setpoint_voltage_v: f64,
        available_power_w: f64,
        pack: &mut BatteryPack,
    ) -> Advanced {
        self.contactors.step(dt_s);
        let closed = self.contactors.is_closed();
        let p_avail = if available_power_w.is_finite() {
            available_power_w.max(0.0)
        } else {
            0.0
        };
        let (current, limited_by) = if closed {
            self.regulate(dt_s, setpoint_current_a, setpoint_voltage_v, p_avail, pack)
        } else {
            self.ramp_current_a = 0.0;
            (0.0, DcLimit::ContactorsOpen)
        };
        let battery = pack.step(dt_s, current);
        self.gun.step(dt_s, current);
        let voltage_v = if closed {
            let v = battery.terminal_voltage_v + current * self.cable_ohm;
            self.precharge.track(v);
            v
        } else {
            self.precharge.step(dt_s)
        };
        let power_out_w = voltage_v * current;
        let (active_modules, efficiency, power_in_w) = self.input_power(power_out_w);
        let h = dt_s / 3600.0;
        let e = &mut self.energy;
        e.output_wh += power_out_w * h;
        e.input_wh += power_in_w * h;
        e.conversion_loss_wh += (power_in_w - power_out_w) * h;
        e.cable_loss_wh += current * current * self.cable_ohm * h;
        Advanced {
            voltage_v,
            current_a: current,
            battery_voltage_v: battery.terminal_voltage_v,
            power_out_w,
            power_in_w,
            efficiency,
            active_modules,
            limited_by,
            contactors_closed: closed,
        }
    }

    /// Energy booked since construction.
    pub fn energy(&self) -> &DcEnergy {
        &self.energy
    }

    /// The module voltage source (pre-charge / cable check / bleed).
    pub fn precharge(&self) -> &PreCharge {
        &self.precharge
    }

    /// The output contactors (state, fault injection).
    pub fn contactors(&self) -> &Contactors {
        &self.contactors
    }

    /// Mutable contactors, for fault injection.
    pub fn contactors_mut(&mut self) -> &mut Contactors {
        &mut self.contactors
    }

    /// The connector thermal model.
    pub fn gun(&self) -> &GunThermal {
        &self.gun
    }

    /// Mutable connector thermal model (ambient, fault injection).
    pub fn gun_mut(&mut self) -> &mut GunThermal {
        &mut self.gun
    }

    /// The insulation monitor.
    pub fn insulation(&self) -> &InsulationMonitor {
        &self.insulation
    }

    /// Mutable insulation monitor, for fault injection.
    pub fn insulation_mut(&mut self) -> &mut InsulationMonitor {
        &mut self.insulation
    }
}

#[cfg(test)]
mod tests;
