//! Between the simulated meter's reading (`sim_core::physics::MeterReading`, balanced phases,
//! one power factor) and the register maps' reading (`proto::modbus::MeterReading`, every
//! quantity a meter shows).
//!
//! Simulation to registers ([`from_sim`]) fills what the model does not carry from what it
//! does, for balanced phases with one power factor `PF` and phase values `U_k`, `I_k`, `P_k`:
//!
//! ```text
//! S_k = |U_k · I_k|        Q_k = S_k · √(1 − PF²)      PF_k = PF
//! S   = Σ S_k              Q   = the simulation's total reactive power
//! E_import,k = E_import / n (n = 1 or 3 phases; per-phase energy registers, SDM630)
//! ```
//!
//! Registers to simulation ([`to_sim`]) keeps phase L1 as the headline voltage and current,
//! the totals as power, power factor and reactive power, and re-quantises the energies with
//! the simulated meter's register LSB.

use proto::modbus::{AcReading, DcReading, MeterModel, MeterReading};
use sim_core::physics::meter::{MeterKind as SimKind, MeterReading as SimReading};

/// The meter temperature [`from_sim`] reports for DC meters: the simulation does not model
/// it, and the DJSF1352 shows one (0x0005). Callers may overwrite the field.
pub const DEFAULT_METER_TEMPERATURE_C: f64 = 25.0;

/// What the simulated meter of `model` measures.
pub const fn sim_kind(model: MeterModel) -> SimKind {
    match model.kind() {
        proto::modbus::MeterKind::Dc => SimKind::Dc,
        proto::modbus::MeterKind::AcSinglePhase => SimKind::AcSinglePhase,
        proto::modbus::MeterKind::AcThreePhase => SimKind::AcThreePhase,
    }
}

/// How many phases a simulated reading carries.
const fn phases(kind: SimKind) -> usize {
    match kind {
        SimKind::Dc | SimKind::AcSinglePhase => 1,
        SimKind::AcThreePhase => 3,
    }
}

/// The register-map view of a simulated reading (see the module doc for derived values).
pub fn from_sim(reading: &SimReading) -> MeterReading {
    match reading.kind {
        SimKind::Dc => MeterReading::Dc(DcReading {
            voltage_v: reading.voltage_v,
            current_a: reading.current_a,
            power_w: reading.power_w,
            import_energy_wh: reading.import_energy_wh,
            export_energy_wh: reading.export_energy_wh,
            temperature_c: DEFAULT_METER_TEMPERATURE_C,
            ..DcReading::default()
        }),
        kind => MeterReading::Ac(ac_from_sim(reading, phases(kind))),
    }
}

fn ac_from_sim(reading: &SimReading, n: usize) -> AcReading {
    let pf = reading.power_factor;
    let sin_phi = (1.0 - pf * pf).max(0.0).sqrt();
    let mut ac = AcReading {
        total_active_power_w: reading.power_w,
        total_reactive_power_var: reading.reactive_power_var,
        total_power_factor: pf,
        frequency_hz: reading.frequency_hz,
        import_energy_wh: reading.import_energy_wh,
        export_energy_wh: reading.export_energy_wh,
        ..AcReading::default()
    };
    let share = 1.0 / n as f64;
    for k in 0..n.min(3) {
        let apparent = (reading.phase_voltage_v[k] * reading.phase_current_a[k]).abs();
        ac.voltage_v[k] = reading.phase_voltage_v[k];
        ac.current_a[k] = reading.phase_current_a[k];
        ac.active_power_w[k] = reading.phase_power_w[k];
        ac.apparent_power_va[k] = apparent;
        ac.reactive_power_var[k] = apparent * sin_phi;
        ac.power_factor[k] = pf;
        ac.phase_import_energy_wh[k] = reading.import_energy_wh * share;
        ac.phase_export_energy_wh[k] = reading.export_energy_wh * share;
    }
    ac.total_apparent_power_va = ac.apparent_power_va.iter().sum();
    ac
}

/// The simulation's view of a reading decoded from a meter of `model`, with energy registers
/// counted in `energy_resolution_wh` steps (the simulated meter's LSB).
pub fn to_sim(reading: &MeterReading, model: MeterModel, energy_resolution_wh: f64) -> SimReading {
    let kind = sim_kind(model);
    let lsb = if energy_resolution_wh > 0.0 {
        energy_resolution_wh
    } else {
        1.0
    };
    // `as` saturates (and maps NaN to 0), which is what a register does.
    let register = |wh: f64| (wh / lsb).floor().max(0.0) as u64;
    let mut out = SimReading {
        kind,
        voltage_v: 0.0,
        current_a: 0.0,
        power_w: 0.0,
        phase_voltage_v: [0.0; 3],
        phase_current_a: [0.0; 3],
        phase_power_w: [0.0; 3],
        reactive_power_var: 0.0,
        power_factor: 1.0,
        frequency_hz: 0.0,
        import_energy_wh: 0.0,
        export_energy_wh: 0.0,
        import_energy_register: 0,
        export_energy_register: 0,
    };
    let (import_wh, export_wh) = match reading {
        MeterReading::Dc(dc) => {
            out.voltage_v = dc.voltage_v;
            out.current_a = dc.current_a;
            out.power_w = dc.power_w;
            out.phase_voltage_v[0] = dc.voltage_v;
            out.phase_current_a[0] = dc.current_a;
            out.phase_power_w[0] = dc.power_w;
            (dc.import_energy_wh, dc.export_energy_wh)
        }
        MeterReading::Ac(ac) => {
            let n = phases(kind);
            out.phase_voltage_v[..n].copy_from_slice(&ac.voltage_v[..n]);
            out.phase_current_a[..n].copy_from_slice(&ac.current_a[..n]);
            out.phase_power_w[..n].copy_from_slice(&ac.active_power_w[..n]);
            out.voltage_v = ac.voltage_v[0];
            out.current_a = ac.current_a[0];
            out.power_w = ac.total_active_power_w;
            out.reactive_power_var = ac.total_reactive_power_var;
            out.power_factor = ac.total_power_factor;
            out.frequency_hz = ac.frequency_hz;
            (ac.import_energy_wh, ac.export_energy_wh)
        }
    };
    out.import_energy_register = register(import_wh);
    out.export_energy_register = register(export_wh);
    out.import_energy_wh = out.import_energy_register as f64 * lsb;
    out.export_energy_wh = out.export_energy_register as f64 * lsb;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use sim_core::physics::{AcSupply, EnergyMeter, MeterParams};

    fn sim_meter(params: MeterParams) -> EnergyMeter {
        EnergyMeter::new(&params, ChaCha8Rng::seed_from_u64(5)).unwrap()
    }

    #[test]
    fn dc_round_trip_keeps_the_measurements() {
        let mut meter = sim_meter(MeterParams::dc());
        meter.step(3600.0, 500.0, 120.0);
        let sim = meter.reading();
        let regs = from_sim(&sim);
        let MeterReading::Dc(dc) = regs else {
            panic!("DC expected")
        };
        assert_eq!(dc.voltage_v, sim.voltage_v);
        assert_eq!(dc.import_energy_wh, sim.import_energy_wh);
        assert_eq!(dc.temperature_c, DEFAULT_METER_TEMPERATURE_C);
        assert_eq!(to_sim(&regs, MeterModel::Djsf1352, 1.0), sim);
    }

    #[test]
    fn three_phase_fills_derived_quantities() {
        let mut meter = sim_meter(MeterParams::ac_three_phase());
        let q = AcSupply::default().quantities_at_current(32.0);
        meter.step_ac(3600.0, &q);
        let sim = meter.reading();
        let MeterReading::Ac(ac) = from_sim(&sim) else {
            panic!("AC expected")
        };
        for k in 0..3 {
            let s = ac.apparent_power_va[k];
            assert!((s - sim.phase_voltage_v[k] * sim.phase_current_a[k]).abs() < 1e-9);
            // P² + Q² = S² per phase.
            let p = ac.active_power_w[k];
            let q = ac.reactive_power_var[k];
            assert!((p * p + q * q - s * s).abs() / (s * s) < 1e-9, "phase {k}");
            assert!((ac.phase_import_energy_wh[k] * 3.0 - sim.import_energy_wh).abs() < 1e-6);
        }
        assert!((ac.reactive_power_var.iter().sum::<f64>() - sim.reactive_power_var).abs() < 1e-6);
        let back = to_sim(&MeterReading::Ac(ac), MeterModel::Sdm630, 10.0);
        assert_eq!(back, sim);
    }

    #[test]
    fn single_phase_uses_l1_only() {
        let mut meter = sim_meter(MeterParams::ac_single_phase());
        let q = AcSupply::default()
            .single_phase()
            .quantities_at_current(16.0);
        meter.step_ac(60.0, &q);
        let sim = meter.reading();
        let MeterReading::Ac(ac) = from_sim(&sim) else {
            panic!("AC expected")
        };
        assert_eq!(ac.voltage_v[1], 0.0);
        assert_eq!(ac.phase_import_energy_wh[0], sim.import_energy_wh);
        let back = to_sim(&MeterReading::Ac(ac), MeterModel::Ddsu666, 10.0);
        assert_eq!(back, sim);
        assert_eq!(sim_kind(MeterModel::Sdm120), SimKind::AcSinglePhase);
    }

    #[test]
    fn to_sim_requantises_and_survives_garbage() {
        let reading = MeterReading::Dc(DcReading {
            import_energy_wh: 1234.56,
            export_energy_wh: f64::NAN,
            ..DcReading::default()
        });
        let sim = to_sim(&reading, MeterModel::Djsf1352, 10.0);
        assert_eq!(sim.import_energy_register, 123);
        assert_eq!(sim.import_energy_wh, 1230.0);
        assert_eq!(sim.export_energy_register, 0);
        let zero_lsb = to_sim(&reading, MeterModel::Djsf1352, 0.0);
        assert_eq!(zero_lsb.import_energy_register, 1234);
    }
}
