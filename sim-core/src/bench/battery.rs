//! The vehicle behind a bench BMS: a physics pack and BMS charge controller, stepped with
//! the current the charger under test reports, whose state feeds the GB/T BMS session
//! (BCL demand, BCS/BSM values, SOC).

use crate::fleet::plant::VehicleModel;
use crate::gbt::bms::{BatteryStatus, Demand, DemandMode};
use crate::physics::{BatteryPack, Bms, ChargeMode};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A bench vehicle's pack and BMS.
#[derive(Debug, Clone)]
pub(super) struct BenchBattery {
    pack: BatteryPack,
    bms: Bms,
    target_soc: f64,
}

impl BenchBattery {
    /// `vehicle` at `soc_pct`, charging to `target_soc_pct`; the cell spread is seeded.
    pub(super) fn new(
        vehicle: &VehicleModel,
        soc_pct: f64,
        target_soc_pct: f64,
        seed: u64,
    ) -> Result<Self, String> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (pack, bms) = vehicle.pack_and_bms(soc_pct / 100.0, &mut rng)?;
        Ok(BenchBattery {
            pack,
            bms,
            target_soc: (target_soc_pct / 100.0).clamp(0.0, 1.0),
        })
    }

    /// The pack's resting voltage (BCP's present battery voltage).
    pub(super) fn voltage_v(&self) -> f64 {
        self.pack.terminal_voltage_v(0.0)
    }

    /// State of charge, %.
    pub(super) fn soc_pct(&self) -> f64 {
        self.pack.soc() * 100.0
    }

    /// Charges the pack with `current_a` for `dt_s`.
    pub(super) fn step(&mut self, dt_s: f64, current_a: f64) {
        if dt_s > 0.0 {
            self.pack.step(dt_s, current_a);
        }
    }

    /// The snapshot the GB/T BMS reports, with the controller's demand.
    pub(super) fn status(&mut self, current_a: f64) -> BatteryStatus {
        let demand = self.bms.demand(&self.pack, self.target_soc);
        let pack = &self.pack;
        let x = pack.extremes();
        let remaining_min = self
            .bms
            .remaining_time_s(pack, self.target_soc)
            .map_or(0, |s| (s / 60.0).round().clamp(0.0, 600.0) as u16);
        BatteryStatus {
            pack_voltage_v: pack.terminal_voltage_v(current_a),
            pack_current_a: current_a,
            soc_pct: (pack.soc() * 100.0).clamp(0.0, 100.0),
            remaining_min,
            max_cell_voltage_v: x.max_cell_voltage_v,
            max_cell_number: x.max_cell_index.saturating_add(1),
            max_cell_group: x.max_cell_group,
            min_cell_voltage_v: x.min_cell_voltage_v,
            max_temperature_c: x.max_temperature_c.round() as i16,
            max_temperature_probe: u16::from(x.max_temperature_probe).saturating_add(1),
            min_temperature_c: x.min_temperature_c.round() as i16,
            min_temperature_probe: u16::from(x.min_temperature_probe).saturating_add(1),
            insulation_ok: true,
            charging_permitted: true,
            demand: Demand {
                voltage_v: demand.voltage_v,
                current_a: demand.current_a.max(0.0),
                mode: match demand.mode {
                    ChargeMode::ConstantCurrent => DemandMode::Cc,
                    ChargeMode::ConstantVoltage => DemandMode::Cv,
                },
            },
            stop_request: None,
        }
    }
}
