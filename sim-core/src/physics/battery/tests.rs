use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn pack(params: &BatteryParams, soc: f64, seed: u64) -> BatteryPack {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    BatteryPack::new(params, PackInit::soaked(soc, 25.0), &mut rng).unwrap()
}

fn presets() -> [BatteryParams; 4] {
    [
        BatteryParams::lfp_car_60kwh(),
        BatteryParams::ncm_car_75kwh_400v(),
        BatteryParams::ncm_800v_90kwh(),
        BatteryParams::lfp_bus_350kwh(),
    ]
}

#[test]
fn construction_rejects_bad_inputs() {
    let p = BatteryParams::default();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let err = BatteryPack::new(&p, PackInit::soaked(1.2, 25.0), &mut rng).unwrap_err();
    assert_eq!(err, BatteryError::InitialSocOutOfRange { soc: 1.2 });
    let err = BatteryPack::new(&p, PackInit::soaked(0.5, f64::NAN), &mut rng).unwrap_err();
    assert!(matches!(err, BatteryError::TemperatureOutOfRange { .. }));
    let mut bad = p;
    bad.cell_capacity_ah = 0.0;
    let err = BatteryPack::new(&bad, PackInit::soaked(0.5, 25.0), &mut rng).unwrap_err();
    assert!(matches!(err, BatteryError::InvalidParams(_)));
}

#[test]
fn initial_state_matches_init() {
    for p in presets() {
        let b = pack(&p, 0.3, 9);
        assert!((b.soc() - 0.3).abs() < 1e-12);
        assert!(b.mean_soc() <= b.soc());
        assert_eq!(b.temperature_c(), 25.0);
        let v = b.terminal_voltage_v(0.0);
        assert_eq!(v, b.open_circuit_voltage_v());
        assert!(v > 2.5 * f64::from(p.cells_series) && v < p.max_charge_voltage_v);
    }
}

#[test]
fn same_seed_same_spread_different_seed_different_spread() {
    let p = BatteryParams::ncm_car_75kwh_400v();
    let a = pack(&p, 0.5, 77);
    let b = pack(&p, 0.5, 77);
    let c = pack(&p, 0.5, 78);
    assert_eq!(a, b);
    assert_eq!(a.extremes(), b.extremes());
    for i in 0..p.cells_series {
        assert_eq!(a.cell_voltage_v(i), b.cell_voltage_v(i));
    }
    assert_ne!(a.extremes(), c.extremes());
}

#[test]
fn energy_bookkeeping_closes_each_step() {
    let p = BatteryParams::lfp_car_60kwh();
    let mut b = pack(&p, 0.2, 3);
    let mut e_vi = 0.0;
    for k in 0..20_000 {
        // A varying profile: ramps, rests and a brief discharge.
        let i = match k % 4000 {
            0..=999 => 200.0,
            1000..=1999 => 50.0,
            2000..=2999 => 0.0,
            _ => -30.0,
        };
        let s = b.step(0.1, i);
        e_vi += s.terminal_voltage_v * s.current_a * 0.1 / 3600.0;
    }
    let e = b.energy();
    assert!(e.residual_wh().abs() < 1e-6, "{e:?}");
    let stored0 = pack(&p, 0.2, 3).energy_stored_wh();
    assert!((b.energy_stored_wh() - stored0 - e.chemical_wh).abs() < 1e-6);
    assert!((e.terminal_wh - e_vi).abs() < 1e-6 * e.terminal_wh.abs().max(1.0));
    assert!(e.ohmic_loss_wh > 0.0 && e.rc_loss_wh > 0.0);
}

#[test]
fn rc_voltage_settles_to_i_r1() {
    let p = BatteryParams::ncm_car_75kwh_400v();
    let mut b = pack(&p, 0.5, 5);
    let i = 100.0;
    for _ in 0..(10 * 60 * 10) {
        b.step(0.1, i);
    }
    // After 15 τ the polarisation is I·R1 per element; the terminal voltage exceeds OCV by
    // N·I·(R0(T) + R1).
    let n = f64::from(p.cells_series);
    let r1 = p.cell_r1_ohm / 2.0;
    let expected = b.open_circuit_voltage_v() + n * i * r1 + i * b.internal_resistance_ohm();
    assert!((b.terminal_voltage_v(i) - expected).abs() < 1e-3);
}

#[test]
fn extremes_equal_a_full_scan_of_all_cells() {
    for p in presets() {
        let mut b = pack(&p, 0.15, 21);
        for step in 0..20_001 {
            b.step(0.1, 180.0);
            if step % 5000 != 0 {
                continue;
            }
            let x = b.extremes();
            let (mut vmax, mut imax, mut vmin, mut imin) = (f64::MIN, 0, f64::MAX, 0);
            for i in 0..p.cells_series {
                let v = b.cell_voltage_v(i).unwrap();
                if v > vmax {
                    (vmax, imax) = (v, i);
                }
                if v < vmin {
                    (vmin, imin) = (v, i);
                }
            }
            assert_eq!((x.max_cell_voltage_v, x.max_cell_index), (vmax, imax));
            assert_eq!((x.min_cell_voltage_v, x.min_cell_index), (vmin, imin));
            assert!(x.max_cell_voltage_v > x.min_cell_voltage_v);
            // The pack SOC is the weakest (highest) element's.
            assert!((b.cell_soc(imax).unwrap() - b.soc()).abs() < 1e-12);
            let (mut tmax, mut tmin) = (f64::MIN, f64::MAX);
            for j in 0..p.temperature_probes {
                let t = b.probe_temperature_c(j).unwrap();
                tmax = tmax.max(t);
                tmin = tmin.min(t);
            }
            assert_eq!((x.max_temperature_c, x.min_temperature_c), (tmax, tmin));
            assert!(x.max_cell_group < 16);
        }
        assert_eq!(b.cell_voltage_v(p.cells_series), None);
        assert_eq!(b.probe_temperature_c(p.temperature_probes), None);
    }
}

#[test]
fn cell_groups_cover_zero_to_groups_minus_one() {
    let p = BatteryParams::lfp_bus_350kwh();
    let b = pack(&p, 0.5, 1);
    assert_eq!(b.cell_group(0), Some(0));
    assert_eq!(b.cell_group(p.cells_series - 1), Some(p.cell_groups - 1));
    assert_eq!(b.cell_group(p.cells_series), None);
}

#[test]
fn temperature_stays_within_the_derived_bound_at_constant_current() {
    let p = BatteryParams::ncm_800v_90kwh();
    let mut b = pack(&p, 0.05, 2);
    let i = 250.0;
    // Largest heat at this current: R0 at its highest factor over the range reached, plus the
    // RC resistance carrying the full current.
    let n = f64::from(p.cells_series);
    let p_max = i * i * n * (p.cell_r0_ohm * p.r0_temperature_factor.max_y() + p.cell_r1_ohm);
    let bound = b.ambient_c() + p_max / p.cooling_w_per_k;
    let mut t_prev = b.temperature_c();
    // 25 minutes at 250 A takes the 130 Ah pack from 5 % to about 85 %.
    for _ in 0..(1500 * 10) {
        b.step(0.1, i);
        assert!(b.temperature_c() <= bound);
        // Heating from ambient: temperature rises monotonically towards the steady state.
        assert!(b.temperature_c() >= t_prev - 1e-12);
        t_prev = b.temperature_c();
    }
}

#[test]
fn limits_echo_the_params() {
    let p = BatteryParams::ncm_car_75kwh_400v();
    let b = pack(&p, 0.5, 1);
    let l = b.limits();
    assert_eq!(l.max_charge_voltage_v, 405.6);
    assert_eq!(l.max_charge_current_a, 250.0);
    assert_eq!(l.rated_capacity_ah, 216.0);
    assert!((l.nominal_energy_wh - p.nominal_energy_wh()).abs() < 1e-9);
}
