//! Whole-charge tests: battery + BMS + charger + meter stepped together at 10 Hz, for every
//! battery preset, checking conservation, CC→CV, SOC and temperature bounds.

use super::*;
use crate::physics::spread::UNIT_SPREAD_BOUND;
use rand::SeedableRng;

const DT: f64 = 0.1;

/// Everything a test wants to know about one finished charge.
#[derive(Debug)]
struct Outcome {
    stop: Option<BmsStopReason>,
    final_soc: f64,
    duration_s: f64,
    cc_ticks: u64,
    cv_ticks: u64,
    max_current_a: f64,
    max_probe_c: f64,
}

/// A priori upper bound of the pack temperature for a charge that never exceeds the BCP
/// current: `T_amb + P_max/h`, `P_max = N·I_max²·(R0_cell·f_max + R1_cell)/P` (the RC loss
/// `V_rc²/R1` is at most `I_max²·R1` because `|V_rc| ≤ I_max·R1` from rest).
fn pack_temperature_bound(p: &BatteryParams, ambient_c: f64, t0_c: f64) -> f64 {
    let n = f64::from(p.cells_series);
    let par = f64::from(p.cells_parallel);
    let i = p.max_charge_current_a;
    let r = (p.cell_r0_ohm * p.r0_temperature_factor.max_y() + p.cell_r1_ohm) / par;
    (ambient_c + n * i * i * r / p.cooling_w_per_k).max(t0_c)
}

fn new_pack(p: &BatteryParams, soc: f64, ambient_c: f64, seed: u64) -> BatteryPack {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    BatteryPack::new(p, PackInit::soaked(soc, ambient_c), &mut rng).unwrap()
}

fn new_meter(params: MeterParams, seed: u64) -> EnergyMeter {
    EnergyMeter::new(&params, rand_chacha::ChaCha8Rng::seed_from_u64(seed)).unwrap()
}

/// Per-tick invariants shared by DC and AC charges; returns the new (SOC, current).
struct Invariants {
    prev_soc: f64,
    prev_cv_current: Option<f64>,
    t_bound: f64,
    probe_bound: f64,
}

impl Invariants {
    fn new(p: &BatteryParams, pack: &BatteryPack) -> Self {
        let t_bound = pack_temperature_bound(p, pack.ambient_c(), pack.temperature_c());
        Invariants {
            prev_soc: pack.soc(),
            prev_cv_current: None,
            t_bound,
            probe_bound: t_bound + 2.0 * UNIT_SPREAD_BOUND * p.temperature_probe_spread_c,
        }
    }

    fn check(&mut self, pack: &BatteryPack, mode: ChargeMode, current_a: f64, o: &mut Outcome) {
        let soc = pack.soc();
        assert!(soc <= 1.0, "SOC above 100 %: {soc}");
        assert!(
            soc >= self.prev_soc,
            "SOC fell while charging: {} → {soc}",
            self.prev_soc
        );
        self.prev_soc = soc;
        assert!(current_a >= 0.0);
        let t = pack.temperature_c();
        assert!(
            t <= self.t_bound,
            "pack {t} °C above the bound {}",
            self.t_bound
        );
        let x = pack.extremes();
        assert!(x.max_temperature_c <= self.probe_bound);
        assert!(x.max_cell_voltage_v <= pack.limits().max_cell_voltage_v);
        o.max_probe_c = o.max_probe_c.max(x.max_temperature_c);
        o.max_current_a = o.max_current_a.max(current_a);
        match mode {
            ChargeMode::ConstantCurrent => {
                assert!(self.prev_cv_current.is_none(), "CV → CC must not happen");
                o.cc_ticks += 1;
            }
            ChargeMode::ConstantVoltage => {
                if let Some(prev) = self.prev_cv_current {
                    assert!(
                        current_a <= prev + 1e-9,
                        "CV current rose: {prev} → {current_a}"
                    );
                }
                self.prev_cv_current = Some(current_a);
                o.cv_ticks += 1;
            }
        }
    }
}

fn outcome() -> Outcome {
    Outcome {
        stop: None,
        final_soc: 0.0,
        duration_s: 0.0,
        cc_ticks: 0,
        cv_ticks: 0,
        max_current_a: 0.0,
        max_probe_c: f64::MIN,
    }
}

/// Charges `battery` on one connector of `charger` from `soc0` to `target`, checking the
/// invariants every tick and energy conservation at the end.
fn dc_charge(
    battery: &BatteryParams,
    charger: &DcChargerParams,
    soc0: f64,
    target: f64,
    ambient_c: f64,
) -> Outcome {
    let mut pack = new_pack(battery, soc0, ambient_c, 1234);
    let mut bms = Bms::new(&BmsParams::for_chemistry(battery.chemistry), &pack).unwrap();
    let mut dc = DcOutput::new(charger, ambient_c).unwrap();
    let mut meter = new_meter(MeterParams::dc(), 99);
    let v = pack.terminal_voltage_v(0.0);
    dc.start_precharge(v);
    while !dc.precharge().is_done() {
        dc.step(DT, 0.0, 0.0, 0.0, &mut pack);
    }
    dc.close_contactors(v).unwrap();
    let mut inv = Invariants::new(battery, &pack);
    let mut o = outcome();
    let chem0 = pack.energy().chemical_wh;
    let max_ticks = (12.0 * 3600.0 / DT) as u64;
    for _ in 0..max_ticks {
        let d = bms.demand(&pack, target);
        if d.stop.is_some() {
            o.stop = d.stop;
            break;
        }
        let limit = charger.station_power_limit_w.min(charger.rated_power_w());
        let s = dc.step(DT, d.current_a, d.voltage_v, limit, &mut pack);
        meter.step(DT, s.voltage_v, s.current_a);
        assert!(s.current_a <= d.current_a.max(0.0) + charger.ramp_down_a_per_s * DT + 1e-9);
        assert!(s.voltage_v <= charger.output_voltage_max_v + 1e-6);
        inv.check(&pack, d.mode, s.current_a, &mut o);
        o.duration_s += DT;
    }
    o.final_soc = pack.soc();
    // Conservation: meter = ΔE_chem + pack losses + RC storage + cable loss (exactly booked; the
    // requirement is 0.5 %).
    let pe = pack.energy();
    let de = dc.energy();
    let books = (pe.chemical_wh - chem0)
        + pe.ohmic_loss_wh
        + pe.rc_loss_wh
        + pe.rc_stored_wh
        + de.cable_loss_wh;
    let metered = meter.import_energy_wh();
    assert!(
        (metered / books - 1.0).abs() < 0.005,
        "meter {metered} Wh vs booked {books} Wh"
    );
    assert!((de.input_wh - (metered + de.conversion_loss_wh)).abs() < 1e-6 * de.input_wh);
    // The register is the same energy, quantised.
    let reg = meter.reading().import_energy_wh;
    assert!(reg <= metered && metered - reg < 1.0);
    o
}

fn dc_pairs() -> [(BatteryParams, DcChargerParams); 4] {
    [
        (
            BatteryParams::lfp_car_60kwh(),
            DcChargerParams::dc_60kw_single(),
        ),
        (
            BatteryParams::ncm_car_75kwh_400v(),
            DcChargerParams::dc_120kw_dual(),
        ),
        (
            BatteryParams::ncm_800v_90kwh(),
            DcChargerParams::dc_360kw_split(),
        ),
        (
            BatteryParams::lfp_bus_350kwh(),
            DcChargerParams::dc_120kw_dual(),
        ),
    ]
}

#[test]
fn dc_full_charge_every_preset_10_to_100() {
    for (battery, charger) in dc_pairs() {
        let o = dc_charge(&battery, &charger, 0.10, 1.0, 25.0);
        let name = format!(
            "{:?} {}S on {} kW",
            battery.chemistry,
            battery.cells_series,
            charger.rated_power_w() / 1e3
        );
        assert_eq!(o.stop, Some(BmsStopReason::Full), "{name}: {o:?}");
        assert!(o.final_soc > 0.99, "{name}: {o:?}");
        assert!(
            o.cc_ticks > 0 && o.cv_ticks > 0,
            "{name}: CC→CV expected, {o:?}"
        );
        assert!(o.max_probe_c < battery.max_temperature_c, "{name}: {o:?}");
        // Plausible durations: at least the energy over the charger power, at most 6 h.
        let min_s = 0.9 * battery.nominal_energy_wh() / charger.rated_power_w() * 3600.0;
        assert!(
            o.duration_s > min_s && o.duration_s < 6.0 * 3600.0,
            "{name}: {o:?}"
        );
    }
}

#[test]
fn dc_charge_to_target_soc_stops_there() {
    for (battery, charger) in dc_pairs() {
        let o = dc_charge(&battery, &charger, 0.10, 0.80, 25.0);
        assert_eq!(o.stop, Some(BmsStopReason::SocTargetReached), "{o:?}");
        assert!(o.final_soc >= 0.80 && o.final_soc < 0.801, "{o:?}");
        assert_eq!(o.cv_ticks, 0, "no CV below 80 % at these rates: {o:?}");
    }
}

#[test]
fn cold_and_hot_packs_are_derated_and_stay_bounded() {
    let battery = BatteryParams::lfp_car_60kwh();
    let charger = DcChargerParams::dc_60kw_single();
    let warm = dc_charge(&battery, &charger, 0.10, 0.80, 25.0);
    let cold = dc_charge(&battery, &charger, 0.10, 0.80, 0.0);
    assert!(
        cold.duration_s > 2.0 * warm.duration_s,
        "cold {cold:?} warm {warm:?}"
    );
    let battery = BatteryParams::ncm_car_75kwh_400v();
    let charger = DcChargerParams::dc_120kw_dual();
    let warm = dc_charge(&battery, &charger, 0.10, 0.80, 25.0);
    let hot = dc_charge(&battery, &charger, 0.10, 0.80, 42.0);
    assert_eq!(hot.stop, Some(BmsStopReason::SocTargetReached), "{hot:?}");
    assert!(
        hot.duration_s > warm.duration_s,
        "hot {hot:?} warm {warm:?}"
    );
    assert!(hot.max_probe_c < battery.max_temperature_c, "{hot:?}");
}

/// Charges on AC with the pilot limit changing every 20 minutes; checks that the AC current
/// never exceeds the PWM-allowed current, plus the common invariants and conservation.
fn ac_charge(battery: &BatteryParams, evse: &AcChargerParams, obc: &ObcParams) -> Outcome {
    let mut pack = new_pack(battery, 0.10, 25.0, 77);
    let mut bms = Bms::new(&BmsParams::for_chemistry(battery.chemistry), &pack).unwrap();
    let mut charger = AcCharger::new(evse).unwrap();
    let mut obc = Obc::new(obc).unwrap();
    let kind = if evse.supply.phases == 3 {
        MeterParams::ac_three_phase()
    } else {
        MeterParams::ac_single_phase()
    };
    let mut meter = new_meter(kind, 5);
    charger.set_pilot_state(CpState::C);
    let mut inv = Invariants::new(battery, &pack);
    let mut o = outcome();
    let chem0 = pack.energy().chemical_wh;
    let limits = [32.0, 16.0, 10.0, 6.0, 25.0, 32.0];
    let max_ticks = (24.0 * 3600.0 / DT) as u64;
    for tick in 0..max_ticks {
        let period = (tick / (20 * 60 * 10)) as usize;
        charger.set_current_limit_a(limits[period % limits.len()]);
        let d = bms.demand(&pack, 1.0);
        if d.stop.is_some() {
            o.stop = d.stop;
            break;
        }
        let s = charger.step(DT, &mut obc, &d, &mut pack);
        let pwm = charger.pilot().allowed_current_a();
        assert!(
            s.obc.ac.phase_current_a <= pwm + 1e-9,
            "AC {} A over PWM {pwm} A",
            s.obc.ac.phase_current_a
        );
        assert!(s.obc.ac.phase_current_a <= s.allowed_current_a + 1e-9);
        meter.step_ac(DT, &s.obc.ac);
        inv.check(&pack, d.mode, s.obc.dc_current_a, &mut o);
        o.duration_s += DT;
    }
    o.final_soc = pack.soc();
    let pe = pack.energy();
    let books = (pe.chemical_wh - chem0)
        + pe.ohmic_loss_wh
        + pe.rc_loss_wh
        + pe.rc_stored_wh
        + obc.energy().loss_wh;
    let metered = meter.import_energy_wh();
    assert!(
        (metered / books - 1.0).abs() < 0.005,
        "meter {metered} Wh vs booked {books} Wh"
    );
    // The OBC loss is the modelled (1 − η), not an arbitrary remainder.
    let eta = obc.params().efficiency;
    assert!((obc.energy().loss_wh / metered - (1.0 - eta)).abs() < 1e-3);
    o
}

#[test]
fn ac_full_charge_car_presets() {
    let cases = [
        (
            BatteryParams::lfp_car_60kwh(),
            AcChargerParams::ac_7kw_1ph(),
            ObcParams::single_phase_7kw(),
        ),
        (
            BatteryParams::ncm_car_75kwh_400v(),
            AcChargerParams::ac_22kw_3ph(),
            ObcParams::three_phase_11kw(),
        ),
        (
            BatteryParams::ncm_800v_90kwh(),
            AcChargerParams::ac_22kw_3ph(),
            ObcParams::three_phase_22kw(),
        ),
    ];
    for (battery, evse, obc) in cases {
        let o = ac_charge(&battery, &evse, &obc);
        assert_eq!(o.stop, Some(BmsStopReason::Full), "{o:?}");
        assert!(o.final_soc > 0.99, "{o:?}");
        assert!(o.cv_ticks > 0, "{o:?}");
    }
}

#[test]
fn two_connectors_share_the_station_limit() {
    let charger = DcChargerParams::dc_120kw_dual();
    let battery = BatteryParams::ncm_car_75kwh_400v();
    let sharing = charger.sharing();
    let mut packs = [
        new_pack(&battery, 0.1, 25.0, 1),
        new_pack(&battery, 0.5, 25.0, 2),
    ];
    let mut bmss = [
        Bms::new(&BmsParams::ncm(), &packs[0]).unwrap(),
        Bms::new(&BmsParams::ncm(), &packs[1]).unwrap(),
    ];
    let mut outs = [
        DcOutput::new(&charger, 25.0).unwrap(),
        DcOutput::new(&charger, 25.0).unwrap(),
    ];
    for (dc, pack) in outs.iter_mut().zip(packs.iter_mut()) {
        let v = pack.terminal_voltage_v(0.0);
        dc.start_precharge(v);
        while !dc.precharge().is_done() {
            dc.step(DT, 0.0, 0.0, 0.0, pack);
        }
        dc.close_contactors(v).unwrap();
    }
    let (mut wants, mut grants) = ([0.0; 2], [0.0; 2]);
    for _ in 0..(30 * 60 * 10) {
        let demands = [
            bmss[0].demand(&packs[0], 0.9),
            bmss[1].demand(&packs[1], 0.9),
        ];
        for k in 0..2 {
            wants[k] =
                outs[k].power_demand_w(demands[k].current_a, demands[k].voltage_v, &packs[k]);
        }
        sharing.allocate(charger.station_power_limit_w, &wants, &mut grants);
        assert!(grants.iter().sum::<f64>() <= charger.station_power_limit_w + 1e-6);
        let mut total = 0.0;
        for k in 0..2 {
            let s = outs[k].step(
                DT,
                demands[k].current_a,
                demands[k].voltage_v,
                grants[k],
                &mut packs[k],
            );
            assert!(s.power_out_w <= grants[k] * (1.0 + 1e-4) + 1e-9);
            total += s.power_out_w;
        }
        assert!(total <= charger.station_power_limit_w * (1.0 + 1e-4));
    }
    // Both got charged.
    assert!(packs[0].soc() > 0.3 && packs[1].soc() > 0.6);
}

#[test]
fn same_seed_same_charge_trace() {
    let run = || {
        let battery = BatteryParams::ncm_car_75kwh_400v();
        let mut pack = new_pack(&battery, 0.2, 25.0, 5);
        let mut bms = Bms::new(&BmsParams::ncm(), &pack).unwrap();
        let mut dc = DcOutput::new(&DcChargerParams::dc_120kw_dual(), 25.0).unwrap();
        let mut meter = new_meter(MeterParams::dc(), 6);
        let v = pack.terminal_voltage_v(0.0);
        dc.start_precharge(v);
        while !dc.precharge().is_done() {
            dc.step(DT, 0.0, 0.0, 0.0, &mut pack);
        }
        dc.close_contactors(v).unwrap();
        let mut trace = Vec::new();
        for k in 0..3000 {
            let d = bms.demand(&pack, 1.0);
            let s = dc.step(DT, d.current_a, d.voltage_v, 120e3, &mut pack);
            meter.step(DT, s.voltage_v, s.current_a);
            if k % 100 == 0 {
                trace.push((meter.reading(), pack.extremes(), s.voltage_v));
            }
        }
        trace
    };
    assert_eq!(run(), run());
}
