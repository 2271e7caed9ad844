//! Physics models of chargestorm: battery, BMS demand, DC and AC chargers, energy meter.
//!
//! Every model is a plain struct stepped by `step(dt_s, …)`, O(1) per tick and allocation-free,
//! so 100,000 connectors fit in real time at 10 Hz. Randomness comes only from the caller: a
//! `&mut impl rand::Rng` at construction (battery cell spread) and a seeded
//! `rand_chacha::ChaCha8Rng` owned by each meter. Units are SI and in the names (`_v`, `_a`,
//! `_w`, `_wh`, `_c`, `_s`); **current is positive into the battery** (the GB/T wire sign is
//! applied by the protocol layer). Each module documents its equations.
//!
//! # One DC connector tick
//!
//! ```
//! use rand::SeedableRng;
//! use rand_chacha::ChaCha8Rng;
//! use sim_core::physics::{
//!     BatteryPack, BatteryParams, Bms, BmsParams, DcChargerParams, DcOutput, EnergyMeter,
//!     MeterParams, PackInit,
//! };
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(42);
//! let battery = BatteryParams::lfp_car_60kwh();
//! let mut pack = BatteryPack::new(&battery, PackInit::soaked(0.2, 25.0), &mut rng).unwrap();
//! let mut bms = Bms::new(&BmsParams::for_chemistry(battery.chemistry), &pack).unwrap();
//! let charger = DcChargerParams::dc_60kw_single();
//! let mut dc = DcOutput::new(&charger, 25.0).unwrap();
//! let mut meter = EnergyMeter::new(&MeterParams::dc(), ChaCha8Rng::seed_from_u64(7)).unwrap();
//!
//! // Pre-charge to the battery voltage, then close K1/K2 (the protocol layer sequences this).
//! let v_batt = pack.terminal_voltage_v(0.0);
//! dc.start_precharge(v_batt);
//! while !dc.precharge().is_done() {
//!     dc.step(0.1, 0.0, 0.0, 0.0, &mut pack);
//! }
//! dc.close_contactors(v_batt).unwrap();
//!
//! for _ in 0..600 {
//!     let demand = bms.demand(&pack, 0.8);
//!     // With several connectors: PowerSharing::allocate over dc.power_demand_w(…).
//!     let s = dc.step(0.1, demand.current_a, demand.voltage_v, charger.station_power_limit_w, &mut pack);
//!     meter.step(0.1, s.voltage_v, s.current_a);
//! }
//! assert!(meter.reading().import_energy_wh > 0.0);
//! ```
//!
//! # One AC connector tick
//!
//! `ac.set_pilot_state(CpState::C)` when the EV is ready, `ac.set_current_limit_a(share)` to
//! change the PWM, then per tick `bms.demand(&pack, target)`,
//! `ac.step(dt, &mut obc, &demand, &mut pack)` and `meter.step_ac(dt, &state.obc.ac)`.
//!
//! # Fleet notes
//!
//! Per connector: pack ≈ 0.6 kB, DC output ≈ 0.5 kB, meter ≈ 0.4 kB; share one
//! `Arc<BmsParams>` per profile with [`Bms::new_shared`]. A BMS + DC output + pack + meter tick
//! is about 730 instructions (≈ 90 ns) in release. Telemetry such as [`BatteryPack::extremes`],
//! [`BatteryPack::cell_voltage_v`] (BMV) and [`EnergyMeter::reading`] cost nothing unless
//! called.

pub mod ac;
pub mod battery;
pub mod bms;
pub mod common;
pub mod dc;
pub mod grid;
pub mod meter;
pub mod spread;

pub use ac::{
    AcCharger, AcChargerParams, AcOutputState, ControlPilot, CpState, Obc, ObcParams, ObcState,
    PwmTable,
};
pub use battery::{
    BatteryError, BatteryPack, BatteryParams, CellExtremes, Chemistry, PackEnergy, PackInit,
    PackLimits, PackStep,
};
pub use bms::{Bms, BmsParams, BmsStopReason, ChargeDemand, ChargeMode, DemandTable};
pub use common::{Curve, InvalidParams, ParamError};
pub use dc::{
    ContactorParams, Contactors, DEFAULT_MODULE_EFFICIENCY, DcChargerParams, DcEnergy, DcLimit,
    DcOutput, DcOutputError, DcOutputState, EFFICIENCY_POINTS, EfficiencyCurve, GunThermal,
    GunThermalParams, InsulationMonitor, InsulationParams, InsulationState, PowerSharing,
    PreCharge, PreChargeParams, SharingMemo,
};
pub use grid::{AcMetering, AcQuantities, AcSupply};
pub use meter::{EnergyMeter, MeterFault, MeterKind, MeterParams, MeterReading};

#[cfg(test)]
mod sim_tests;
