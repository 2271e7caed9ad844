use super::*;
use crate::physics::battery::{BatteryParams, PackInit};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn pack(params: &BatteryParams, soc: f64) -> BatteryPack {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    BatteryPack::new(params, PackInit::soaked(soc, 25.0), &mut rng).unwrap()
}

/// Pre-charges and closes the contactors of `dc` onto `pack`.
fn connect(dc: &mut DcOutput, pack: &mut BatteryPack) {
    let v = pack.terminal_voltage_v(0.0);
    dc.start_precharge(v);
    for _ in 0..30 {
        dc.step(0.1, 0.0, 0.0, 0.0, pack);
    }
    assert!(dc.precharge().is_done());
    dc.close_contactors(v).unwrap();
    dc.step(0.1, 0.0, 0.0, 0.0, pack);
    assert!(dc.contactors().is_closed());
}

#[test]
fn closing_without_precharge_is_refused() {
    let mut b = pack(&BatteryParams::lfp_car_60kwh(), 0.5);
    let mut dc = DcOutput::new(&DcChargerParams::dc_60kw_single(), 25.0).unwrap();
    let v = b.terminal_voltage_v(0.0);
    let err = dc.close_contactors(v).unwrap_err();
    assert!(matches!(
        err,
        DcOutputError::VoltageMismatch {
            tolerance_v: 10.0,
            ..
        }
    ));
    let s = dc.step(0.1, 100.0, 400.0, 60e3, &mut b);
    assert_eq!((s.current_a, s.limited_by), (0.0, DcLimit::ContactorsOpen));
    assert!(!s.contactors_closed);
}

#[test]
fn current_ramps_then_follows_the_setpoint() {
    let mut b = pack(&BatteryParams::lfp_car_60kwh(), 0.3);
    let mut dc = DcOutput::new(&DcChargerParams::dc_60kw_single(), 25.0).unwrap();
    connect(&mut dc, &mut b);
    let mut prev = 0.0;
    for k in 0..100 {
        let s = dc.step(0.1, 100.0, 421.8, 60e3, &mut b);
        if k < 49 {
            assert_eq!(s.limited_by, DcLimit::Ramp);
            assert!((s.current_a - prev - 2.0).abs() < 1e-9);
        }
        prev = s.current_a;
    }
    assert_eq!(prev, 100.0);
    // A lower demand is followed at the ramp-down rate (100 A/s).
    let s = dc.step(0.1, 50.0, 421.8, 60e3, &mut b);
    assert!((s.current_a - 90.0).abs() < 1e-9);
}

#[test]
fn power_and_voltage_limits_hold() {
    let mut b = pack(&BatteryParams::lfp_car_60kwh(), 0.3);
    let mut dc = DcOutput::new(&DcChargerParams::dc_60kw_single(), 25.0).unwrap();
    connect(&mut dc, &mut b);
    for _ in 0..200 {
        let s = dc.step(0.1, 250.0, 421.8, 30e3, &mut b);
        // The limit is solved at the start of the step; the battery voltage rises a little
        // within it, so the step average may exceed the grant by a few ppm.
        assert!(s.power_out_w <= 30e3 * (1.0 + 1e-4), "{s:?}");
    }
    let s = dc.step(0.1, 250.0, 421.8, 30e3, &mut b);
    assert_eq!(s.limited_by, DcLimit::Power);
    // A voltage setpoint just above the battery: current limited so that U_term = U_set.
    let v_set = b.terminal_voltage_v(0.0) + 2.0;
    for _ in 0..50 {
        let s = dc.step(0.1, 250.0, v_set, 60e3, &mut b);
        assert!(s.battery_voltage_v <= v_set + 1e-3, "{s:?}");
    }
    let s = dc.step(0.1, 250.0, v_set, 60e3, &mut b);
    assert_eq!(s.limited_by, DcLimit::VoltageSetpoint);
}

#[test]
fn module_current_limit_binds_at_low_voltage() {
    // 3 modules × 66.7 A = 200.1 A, gun 200 A; give only one module's power.
    let mut b = pack(&BatteryParams::lfp_car_60kwh(), 0.3);
    let mut dc = DcOutput::new(&DcChargerParams::dc_60kw_single(), 25.0).unwrap();
    connect(&mut dc, &mut b);
    let mut s = dc.step(0.1, 250.0, 421.8, 20e3, &mut b);
    for _ in 0..200 {
        s = dc.step(0.1, 250.0, 421.8, 20e3, &mut b);
    }
    // At ~330 V one 20 kW module is power-limited (60 A) before its 66.7 A current limit.
    assert_eq!(s.limited_by, DcLimit::Power);
    assert!(s.current_a < 66.7);
}

#[test]
fn battery_outside_the_output_range_gets_nothing() {
    let mut b = pack(&BatteryParams::lfp_bus_350kwh(), 0.5);
    let mut p = DcChargerParams::dc_60kw_single();
    p.output_voltage_max_v = 600.0;
    let mut dc = DcOutput::new(&p, 25.0).unwrap();
    connect(&mut dc, &mut b);
    let s = dc.step(0.1, 100.0, 700.0, 60e3, &mut b);
    assert_eq!(
        (s.current_a, s.limited_by),
        (0.0, DcLimit::VoltageOutOfRange)
    );
}

#[test]
fn energy_and_input_quantities_close() {
    let mut b = pack(&BatteryParams::ncm_car_75kwh_400v(), 0.2);
    let mut dc = DcOutput::new(&DcChargerParams::dc_120kw_dual(), 25.0).unwrap();
    connect(&mut dc, &mut b);
    let mut last = None;
    for _ in 0..6000 {
        last = Some(dc.step(0.1, 200.0, 405.6, 60e3, &mut b));
    }
    let s = last.unwrap();
    let e = dc.energy();
    let pe = b.energy();
    assert!((e.output_wh - (pe.terminal_wh + e.cable_loss_wh)).abs() < 1e-6);
    assert!((e.input_wh - (e.output_wh + e.conversion_loss_wh)).abs() < 1e-6);
    assert!(e.conversion_loss_wh > 0.02 * e.output_wh && e.conversion_loss_wh < 0.1 * e.output_wh);
    assert_eq!(s.active_modules, 2);
    assert!(s.efficiency > 0.9 && s.efficiency < 1.0);
    let ac = s.ac_input;
    assert_eq!(ac.phases, 3);
    let i = s.power_in_w / (3f64.sqrt() * ac.line_voltage_v * ac.power_factor);
    assert!((ac.phase_current_a - i).abs() < 1e-9);
    assert!(s.gun_temperature_c > 25.0);
}

#[test]
fn hot_gun_derates_the_current() {
    let mut b = pack(&BatteryParams::ncm_car_75kwh_400v(), 0.2);
    let mut dc = DcOutput::new(&DcChargerParams::dc_120kw_dual(), 25.0).unwrap();
    connect(&mut dc, &mut b);
    for _ in 0..200 {
        dc.step(0.1, 200.0, 405.6, 120e3, &mut b);
    }
    dc.gun_mut().set_temperature_c(95.0);
    // The current falls at the ramp-down rate (100 A/s) to the derated limit, ≈ 250/3 A.
    let s = dc.step(0.1, 200.0, 405.6, 120e3, &mut b);
    assert_eq!((s.limited_by, s.current_a), (DcLimit::Ramp, 190.0));
    let mut s = s;
    for _ in 0..20 {
        s = dc.step(0.1, 200.0, 405.6, 120e3, &mut b);
    }
    assert_eq!(s.limited_by, DcLimit::GunTemperature);
    // The gun cools slowly meanwhile, so the limit is a little above 250·(100 − 95)/15 A.
    let limit = 250.0 * (100.0 - s.gun_temperature_c) / 15.0;
    assert!(
        s.current_a <= limit + 1.0 && s.current_a > 250.0 / 3.0,
        "{s:?}"
    );
}

#[test]
fn welded_contactors_keep_conducting() {
    let mut b = pack(&BatteryParams::lfp_car_60kwh(), 0.3);
    let mut dc = DcOutput::new(&DcChargerParams::dc_60kw_single(), 25.0).unwrap();
    connect(&mut dc, &mut b);
    dc.contactors_mut()
        .set_fault(Some(ContactorFault::WeldedClosed));
    dc.open_contactors();
    for _ in 0..10 {
        dc.step(0.1, 0.0, 0.0, 0.0, &mut b);
    }
    assert!(dc.contactors().is_closed());
    dc.contactors_mut().set_fault(None);
    dc.open_contactors();
    dc.step(0.1, 0.0, 0.0, 0.0, &mut b);
    assert!(!dc.contactors().is_closed());
}

#[test]
fn power_demand_estimate_matches_delivery() {
    let mut b = pack(&BatteryParams::lfp_car_60kwh(), 0.3);
    let mut dc = DcOutput::new(&DcChargerParams::dc_120kw_dual(), 25.0).unwrap();
    connect(&mut dc, &mut b);
    for _ in 0..200 {
        dc.step(0.1, 150.0, 421.8, 120e3, &mut b);
    }
    let want = dc.power_demand_w(150.0, 421.8, &b);
    let s = dc.step(0.1, 150.0, 421.8, 120e3, &mut b);
    assert!((s.power_out_w / want - 1.0).abs() < 1e-3, "{want} {s:?}");
}

/// The lean step the fleet uses changes the output and the pack exactly as the full step
/// does, bit for bit, through ramp, power limit, open contactors and a varying tick.
#[test]
fn step_output_is_step_without_the_report() {
    let mut b_full = pack(&BatteryParams::lfp_car_60kwh(), 0.3);
    let mut dc_full = DcOutput::new(&DcChargerParams::dc_60kw_single(), 25.0).unwrap();
    connect(&mut dc_full, &mut b_full);
    let (mut b_lean, mut dc_lean) = (b_full.clone(), dc_full.clone());
    for k in 0..3000u32 {
        let dt = if k % 7 == 0 { 0.25 } else { 0.1 };
        let i_set = [150.0, 40.0, 0.0, 200.0][(k / 400) as usize % 4];
        let p = [60e3, 20e3, 35e3][(k / 250) as usize % 3];
        if k == 2500 {
            dc_full.open_contactors();
            dc_lean.open_contactors();
        }
        let s = dc_full.step(dt, i_set, 421.8, p, &mut b_full);
        let (v, i, closed) = dc_lean.step_output(dt, i_set, 421.8, p, &mut b_lean);
        assert_eq!(
            (v.to_bits(), i.to_bits(), closed),
            (
                s.voltage_v.to_bits(),
                s.current_a.to_bits(),
                s.contactors_closed
            ),
            "step {k}"
        );
        assert_eq!(dc_lean, dc_full, "step {k}");
        assert_eq!(b_lean, b_full, "step {k}");
    }
}
