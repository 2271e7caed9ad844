//! Tariff validation and billing, checked against an independent calculation that integrates a
//! constant power over the tariff windows analytically (no shared code with `Bill`).

use super::*;
use crate::time::Duration;
use proptest::prelude::*;

fn charge(start: u32, end: u32, tag: &str, elec: u32, service: u32) -> pb::TariffCharge {
    pb::TariffCharge {
        time_start_min_of_day: start,
        time_end_min_of_day: end,
        tag: tag.into(),
        elec_price_milliyuan_per_kwh: elec,
        service_price_milliyuan_per_kwh: service,
    }
}

/// Seed example 1: electricity 0.8 yuan, service 0.8 yuan, all day.
fn seed_example_1() -> pb::SetTariffReq {
    pb::SetTariffReq {
        tariff_id: 1,
        tariff_charge: vec![charge(0, 0, "", 800, 800)],
        ..Default::default()
    }
}

/// Seed example 2: nine 峰平谷 segments.
fn seed_example_2() -> pb::SetTariffReq {
    let rows = [
        (0, 420, "valley", 255),
        (420, 540, "flat", 699),
        (540, 690, "tip", 1052),
        (690, 840, "flat", 699),
        (840, 990, "tip", 1052),
        (990, 1140, "flat", 699),
        (1140, 1260, "tip", 1052),
        (1260, 1380, "flat", 699),
        (1380, 1440, "valley", 255),
    ];
    pb::SetTariffReq {
        tariff_id: 2,
        tariff_charge: rows
            .iter()
            .map(|&(s, e, tag, elec)| charge(s, e, tag, elec, 1000))
            .collect(),
        ..Default::default()
    }
}

/// Seed time-based example 2: 0-200 W 1 yuan / 4 h, 200-400 W 1 yuan / 3 h, above 1 yuan / 2 h.
fn seed_time_example_2() -> pb::SetTariffReq {
    let tier = |start, end, price| pb::TariffTime {
        power_start_w: start,
        power_end_w: end,
        price_milliyuan_per_hour: price,
        ..Default::default()
    };
    pb::SetTariffReq {
        tariff_id: 12,
        tariff_time: vec![tier(0, 200, 250), tier(200, 400, 333), tier(400, 9999, 500)],
        ..Default::default()
    }
}

/// Runs a constant-power session through a `Bill`, one reading every `every`.
fn bill_constant(
    tariff: &Tariff,
    start: Instant,
    stop: Instant,
    power_w: f64,
    every: Duration,
) -> pb::CostDetail {
    let mut bill = Bill::new(tariff.clone(), WallClock::default(), start, 1_000.0);
    let mut t = start;
    while t < stop {
        t = (t + every).min(stop);
        let wh = 1_000.0 + power_w * (t - start).as_secs_f64() / 3600.0;
        bill.add_reading(t, wh);
    }
    bill.cost(stop)
}

/// The independent calculation: for each local day and each segment, the overlap of the
/// session with the segment's window, times the power, priced and rounded per piece.
/// Returns (electricity, service) in 0.001 yuan. Virtual zero is local midnight.
fn independent_energy_cost(
    rows: &[(u32, u32, u32, u32)],
    start_s: u64,
    stop_s: u64,
    power_w: u64,
) -> (u64, u64) {
    let (mut elec, mut service) = (0u64, 0u64);
    for day in 0..=(stop_s / 86_400) {
        for &(s, e, pe, ps) in rows {
            let from = (day * 86_400 + u64::from(s) * 60).max(start_s);
            let to = (day * 86_400 + u64::from(e) * 60).min(stop_s);
            if to <= from {
                continue;
            }
            // Energy in mWh = W * s / 3.6; the tests pick powers that make this exact.
            let mwh = power_w * (to - from) * 1000 / 3600;
            elec += (mwh * u64::from(pe) + 500_000) / 1_000_000;
            service += (mwh * u64::from(ps) + 500_000) / 1_000_000;
        }
    }
    (elec, service)
}

fn rows_of(req: &pb::SetTariffReq) -> Vec<(u32, u32, u32, u32)> {
    req.tariff_charge
        .iter()
        .map(|c| {
            let end = if c.time_end_min_of_day == 0 {
                1440
            } else {
                c.time_end_min_of_day
            };
            (
                c.time_start_min_of_day,
                end,
                c.elec_price_milliyuan_per_kwh,
                c.service_price_milliyuan_per_kwh,
            )
        })
        .collect()
}

#[test]
fn seed_examples_validate() {
    let t1 = Tariff::from_pb(&seed_example_1()).unwrap();
    assert_eq!(t1.energy.len(), 1);
    assert_eq!((t1.energy[0].start_min, t1.energy[0].end_min), (0, 1440));
    assert_eq!(Tariff::from_pb(&seed_example_2()).unwrap().energy.len(), 9);
    let t12 = Tariff::from_pb(&seed_time_example_2()).unwrap();
    assert_eq!(t12.time.len(), 3);
    assert_eq!(Tariff::from_pb(&t12.to_pb()).unwrap(), t12);
}

#[test]
fn invalid_templates_are_refused() {
    let mut gap = seed_example_2();
    gap.tariff_charge.remove(3);
    assert_eq!(
        Tariff::from_pb(&gap),
        Err(TariffError::Coverage { minute: 690 })
    );
    let mut overlap = seed_example_2();
    overlap.tariff_charge[1].time_end_min_of_day = 600;
    assert!(matches!(
        Tariff::from_pb(&overlap),
        Err(TariffError::Coverage { .. })
    ));
    let mut mixed = seed_example_1();
    mixed.tariff_time = seed_time_example_2().tariff_time;
    assert_eq!(
        Tariff::from_pb(&mixed),
        Err(TariffError::MixedKinds { tariff_id: 1 })
    );
    let mut bad = seed_example_2();
    bad.tariff_charge[0].time_end_min_of_day = 1500;
    assert!(matches!(
        Tariff::from_pb(&bad),
        Err(TariffError::BadRange { .. })
    ));
    let mut tiers = seed_time_example_2();
    tiers.tariff_time[1].power_start_w = 100;
    assert!(matches!(
        Tariff::from_pb(&tiers),
        Err(TariffError::BadTier { .. })
    ));
}

#[test]
fn flat_tariff_ten_kwh() {
    let tariff = Tariff::from_pb(&seed_example_1()).unwrap();
    // 7.2 kW for 5000 s = 10 kWh: 0.8 + 0.8 yuan per kWh = 16 yuan.
    let cost = bill_constant(
        &tariff,
        Instant::from_secs(100),
        Instant::from_secs(5_100),
        7_200.0,
        Duration::from_secs(15),
    );
    assert_eq!(cost.elec_cost_milliyuan, 8_000);
    assert_eq!(cost.service_cost_milliyuan, 8_000);
    assert_eq!(cost.total_cost_milliyuan, 16_000);
    assert_eq!(cost.segments.len(), 1);
    assert_eq!(cost.segments[0].energy_wh, 10_000);
}

#[test]
fn time_of_day_bill_matches_the_independent_calculation() {
    let req = seed_example_2();
    let tariff = Tariff::from_pb(&req).unwrap();
    // 06:00 to 12:30 at 7.2 kW, readings every 7 s (not aligned to the 07:00, 09:00 and 11:30
    // boundaries): crosses valley -> flat -> tip -> flat.
    let (start, stop) = (6 * 3600, 12 * 3600 + 1800);
    let cost = bill_constant(
        &tariff,
        Instant::from_secs(start),
        Instant::from_secs(stop),
        7_200.0,
        Duration::from_secs(7),
    );
    let (elec, service) = independent_energy_cost(&rows_of(&req), start, stop, 7_200);
    assert_eq!(cost.elec_cost_milliyuan as u64, elec);
    assert_eq!(cost.service_cost_milliyuan as u64, service);
    let tags: Vec<&str> = cost.segments.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(tags, ["valley", "flat", "tip", "flat"]);
    // 1 h valley 7.2 kWh at 0.255, 2 h flat 14.4 kWh at 0.699, 2.5 h tip 18 kWh at 1.052,
    // 1 h flat 7.2 kWh at 0.699; service 46.8 kWh at 1.000.
    assert_eq!(elec, 1_836 + 10_066 + 18_936 + 5_033);
    assert_eq!(service, 46_800);
}

#[test]
fn overnight_bill_crosses_midnight() {
    let req = seed_example_2();
    let tariff = Tariff::from_pb(&req).unwrap();
    let (start, stop) = (22 * 3600 + 1800, 24 * 3600 + 3 * 3600);
    let cost = bill_constant(
        &tariff,
        Instant::from_secs(start),
        Instant::from_secs(stop),
        3_600.0,
        Duration::from_secs(60),
    );
    let (elec, service) = independent_energy_cost(&rows_of(&req), start, stop, 3_600);
    assert_eq!(
        (
            cost.elec_cost_milliyuan as u64,
            cost.service_cost_milliyuan as u64
        ),
        (elec, service)
    );
    let tags: Vec<&str> = cost.segments.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(tags, ["flat", "valley", "valley"]);
}

#[test]
fn time_based_tiers_follow_the_power() {
    let tariff = Tariff::from_pb(&seed_time_example_2()).unwrap();
    let hour = Duration::from_secs(3600);
    // 300 W for 3 h: tier 200-400 W at 0.333 yuan/h.
    let c = bill_constant(
        &tariff,
        Instant::ZERO,
        Instant::ZERO + hour.saturating_mul(3),
        300.0,
        Duration::from_secs(10),
    );
    assert_eq!(c.time_cost_milliyuan, 999);
    assert_eq!(c.total_cost_milliyuan, 999);
    // 60 kW is above the seed's 9999 W bound: the top tier applies.
    let c = bill_constant(
        &tariff,
        Instant::ZERO,
        Instant::ZERO + hour,
        60_000.0,
        Duration::from_secs(10),
    );
    assert_eq!(c.time_cost_milliyuan, 500);
    // 100 W for 4 h: 1 yuan.
    let c = bill_constant(
        &tariff,
        Instant::ZERO,
        Instant::ZERO + hour.saturating_mul(4),
        100.0,
        Duration::from_secs(10),
    );
    assert_eq!(c.time_cost_milliyuan, 1_000);
}

#[test]
fn occupancy_fee_after_free_minutes_with_cap() {
    let mut req = seed_example_1();
    req.occupancy = Some(pb::OccupancyFee {
        free_min: 30,
        price_milliyuan_per_hour: 2_000,
        cap_milliyuan: 3_000,
    });
    let tariff = Tariff::from_pb(&req).unwrap();
    let bill = Bill::new(tariff, WallClock::default(), Instant::ZERO, 0.0);
    assert_eq!(
        bill.cost(Instant::from_secs(30 * 60))
            .occupancy_cost_milliyuan,
        0
    );
    assert_eq!(
        bill.cost(Instant::from_secs(90 * 60))
            .occupancy_cost_milliyuan,
        2_000
    );
    assert_eq!(
        bill.cost(Instant::from_secs(600 * 60))
            .occupancy_cost_milliyuan,
        3_000
    );
    assert_eq!(bill.total_milliyuan(Instant::from_secs(90 * 60)), 2_000);
}

#[test]
fn readings_out_of_order_add_nothing() {
    let tariff = Tariff::from_pb(&seed_example_1()).unwrap();
    let mut bill = Bill::new(tariff, WallClock::default(), Instant::from_secs(10), 500.0);
    bill.add_reading(Instant::from_secs(20), 1_500.0);
    bill.add_reading(Instant::from_secs(15), 9_999.0);
    bill.add_reading(Instant::from_secs(30), 1_000.0);
    bill.add_reading(Instant::from_secs(40), f64::NAN);
    assert_eq!(
        bill.cost(Instant::from_secs(40)).total_cost_milliyuan,
        1_600
    );
}

proptest! {
    #[test]
    fn any_constant_power_session_bills_like_the_independent_calculation(
        start_s in 0u64..(2 * 86_400),
        dur_s in 1u64..(30 * 3600),
        power_kw in 1u64..120,
        every_s in 1u64..600,
    ) {
        let req = seed_example_2();
        let tariff = Tariff::from_pb(&req).unwrap();
        // 3.6 kW multiples give exactly 1 mWh per microsecond-free second count.
        let power_w = power_kw * 3_600;
        let cost = bill_constant(
            &tariff,
            Instant::from_secs(start_s),
            Instant::from_secs(start_s + dur_s),
            power_w as f64,
            Duration::from_secs(every_s),
        );
        let (elec, service) =
            independent_energy_cost(&rows_of(&req), start_s, start_s + dur_s, power_w);
        prop_assert_eq!(u64::from(cost.elec_cost_milliyuan), elec);
        prop_assert_eq!(u64::from(cost.service_cost_milliyuan), service);
    }

    #[test]
    fn arbitrary_templates_never_panic(
        starts in proptest::collection::vec((0u32..2000, 0u32..2000, 0u32..5000), 0..12),
        tiers in proptest::collection::vec((0u32..20_000, 0u32..20_000, 0u32..2000), 0..6),
        readings in proptest::collection::vec((0u64..200_000, -10.0f64..1e7), 0..20),
    ) {
        let req = pb::SetTariffReq {
            tariff_id: 9,
            tariff_charge: starts.iter().map(|&(s, e, p)| charge(s, e, "x", p, p)).collect(),
            tariff_time: tiers.iter().map(|&(s, e, p)| pb::TariffTime {
                power_start_w: s, power_end_w: e, price_milliyuan_per_hour: p, ..Default::default()
            }).collect(),
            occupancy: None,
        };
        if let Ok(tariff) = Tariff::from_pb(&req) {
            let mut bill = Bill::new(tariff, WallClock::default(), Instant::ZERO, 0.0);
            for (t, wh) in readings {
                bill.add_reading(Instant::from_secs(t), wh);
            }
            let _ = bill.cost(Instant::from_secs(300_000));
        }
    }
}
