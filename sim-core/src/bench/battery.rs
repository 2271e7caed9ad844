//! The vehicle behind a bench BMS: a physics pack and BMS charge controller, stepped with
//! the current the charger under test reports, whose state feeds the GB/T BMS session
//! (BCL demand, BCS/BSM values, SOC).

use crate::fleet::gbt_link::pack_status;
use crate::fleet::plant::VehicleModel;
use crate::gbt::bms::BatteryStatus;
use crate::physics::{BatteryPack, Bms};
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
        let remaining_s = self.bms.remaining_time_s(&self.pack, self.target_soc);
        pack_status(&self.pack, remaining_s, current_a, &demand, None)
    }
}
