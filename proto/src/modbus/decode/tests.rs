//! Decoding fixtures from captures and probes, error cases, and render → decode round trips.

use super::*;
use crate::modbus::config::{EnergyLsb, SplitReads};
use crate::modbus::map::{Phase, PollRead};
use crate::modbus::reading::{AcReading, DcReading};
use crate::modbus::render::{read_registers, respond};
use crate::modbus::rtu;
use crate::modbus::words::WordOrder;
use proptest::prelude::*;

/// Run the model's poll plan against the emulator and decode the result, as chargestorm's
/// client would against a real meter.
fn poll(config: &MeterConfig, reading: &MeterReading) -> Result<MeterReading, DecodeError> {
    let mut emulated = *config;
    let mut image = RegisterImage::new();
    for read in config.model.register_map().poll_plan {
        image.insert_response(read, &respond(&mut emulated, reading, &read.request()))?;
    }
    decode_reading(config, &image)
}

#[test]
fn en_plus_capture_decodes() {
    // The replies EN+ captured from a real DJSF1352 (reference §1.1), through the RTU decoder.
    let replies: [(PollRead, &[u8]); 3] = [
        (
            PollRead {
                table: Table::Holding,
                address: 0x0000,
                count: 6,
            },
            &[
                0x01, 0x03, 0x0C, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01,
                0x4D, 0x3F, 0xE5,
            ],
        ),
        (
            PollRead {
                table: Table::Holding,
                address: 0x0008,
                count: 2,
            },
            &[0x01, 0x03, 0x04, 0x00, 0x00, 0x00, 0x05, 0x3A, 0x30],
        ),
        (
            PollRead {
                table: Table::Holding,
                address: 0x000C,
                count: 8,
            },
            &[
                0x01, 0x03, 0x10, 0x00, 0x00, 0x52, 0x1A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
                0xFA, 0x00, 0x00, 0x00, 0x00, 0x59, 0x85,
            ],
        ),
    ];
    let mut image = RegisterImage::new();
    for (read, reply) in replies {
        let (_, response, _) = rtu::decode_response(reply).unwrap().unwrap();
        image.insert_response(&read, &response).unwrap();
    }
    let config = MeterConfig::new(MeterModel::Djsf1352);
    let MeterReading::Dc(dc) = decode_reading(&config, &image).unwrap() else {
        panic!("not DC")
    };
    assert_eq!(dc.voltage_v, 0.0);
    assert_eq!(dc.current_a, 0.0);
    assert_eq!(dc.power_w, 0.0);
    assert!((dc.temperature_c - 33.3).abs() < 1e-9);
    assert_eq!(dc.import_energy_wh, 21018.0, "0x521A counts of 1 Wh");
    assert_eq!(dc.export_energy_wh, 0.0);
    assert!(!dc.wire_broken);
}

#[test]
fn djsf1352_decimal_pairs() {
    let config = MeterConfig::new(MeterModel::Djsf1352);
    let mut image = RegisterImage::new();
    // 750.0 V as 7500 × 10^(2-3); -12.5 A as 0xCF2C × 10^(0-3); 150380 W as 15038 × 10^(4-3).
    image
        .insert_block(Table::Holding, 0x0000, &[7500, 2, 0xCF2C, 0, 1, 250])
        .unwrap();
    image
        .insert_block(Table::Holding, 0x0008, &[15038, 4])
        .unwrap();
    image
        .insert_block(Table::Holding, 0x000C, &[0x075B, 0xCD15, 0, 0x03E8])
        .unwrap();
    let MeterReading::Dc(dc) = decode_reading(&config, &image).unwrap() else {
        panic!("not DC")
    };
    assert_eq!(dc.voltage_v, 750.0);
    assert_eq!(dc.current_a, -12.5);
    assert_eq!(dc.power_w, 150_380.0);
    assert_eq!(dc.import_energy_wh, 123_456_789.0);
    assert_eq!(dc.export_energy_wh, 1000.0);
    assert!(dc.wire_broken);
    assert_eq!(dc.temperature_c, 25.0);

    let mut tenth = config;
    tenth.djsf.energy_lsb = EnergyLsb::TenthWh;
    let MeterReading::Dc(dc) = decode_reading(&tenth, &image).unwrap() else {
        panic!("not DC")
    };
    assert_eq!(dc.export_energy_wh, 100.0);
}

#[test]
fn djsf1352_falls_back_to_float_registers() {
    let config = MeterConfig::new(MeterModel::Djsf1352);
    let mut image = RegisterImage::new();
    // Only the (UNCONFIRMED) float block and the energies were read; P is in kW there.
    image
        .insert_block(
            Table::Holding,
            0x0032,
            &[0x443B, 0x8000, 0x4348, 0x8000, 0x4316, 0x6000],
        )
        .unwrap();
    image
        .insert_block(Table::Holding, 0x000C, &[0, 10, 0, 20])
        .unwrap();
    let MeterReading::Dc(dc) = decode_reading(&config, &image).unwrap() else {
        panic!("not DC")
    };
    assert_eq!(
        (dc.voltage_v, dc.current_a, dc.power_w),
        (750.0, 200.5, 150_375.0)
    );
}

#[test]
fn errors_are_typed() {
    let config = MeterConfig::new(MeterModel::Djsf1352);
    let mut image = RegisterImage::new();
    image
        .insert_block(Table::Holding, 0x0000, &[7500, 2, 0, 0])
        .unwrap();
    assert_eq!(
        decode_reading(&config, &image),
        Err(DecodeError::Missing {
            model: MeterModel::Djsf1352,
            quantity: Quantity::DcPower,
            address: 0x0008
        })
    );
    image
        .insert_block(Table::Holding, 0x0000, &[7500, 10])
        .unwrap();
    assert_eq!(
        decode_reading(&config, &image),
        Err(DecodeError::BadExponent {
            address: 0,
            code: 10
        })
    );

    let config = MeterConfig::new(MeterModel::Ddsu666);
    let mut image = RegisterImage::new();
    image
        .insert_block(Table::Input, 0x2000, &[0x7FC0, 0x0000])
        .unwrap();
    assert_eq!(
        decode_reading(&config, &image),
        Err(DecodeError::NotFinite {
            address: 0x2000,
            bits: 0x7FC0_0000
        })
    );
}

#[test]
fn ddsu666_probe_words_decode_from_either_table() {
    let config = MeterConfig::new(MeterModel::Ddsu666);
    for table in [Table::Holding, Table::Input] {
        let mut image = RegisterImage::new();
        image
            .insert_block(
                table,
                0x2000,
                &[0x4366, 0x3333, 0x4180, 0x0000, 0x406B, 0xB98C],
            )
            .unwrap();
        image
            .insert_block(table, 0x200E, &[0x4248, 0x0000])
            .unwrap();
        image
            .insert_block(table, 0x4000, &[0x43EF, 0x3EFA])
            .unwrap();
        let MeterReading::Ac(ac) = decode_reading(&config, &image).unwrap() else {
            panic!("not AC")
        };
        assert!((ac.voltage_v[0] - 230.2).abs() < 1e-4);
        assert_eq!(ac.current_a[0], 16.0);
        assert!((ac.active_power_w[0] - 3683.2).abs() < 1e-3);
        assert_eq!(
            ac.total_active_power_w, ac.active_power_w[0],
            "single phase: L1 is the total"
        );
        assert_eq!(ac.frequency_hz, 50.0);
        assert!((ac.import_energy_wh - 478_492.0).abs() < 0.1);
        assert_eq!(ac.export_energy_wh, 0.0, "optional and not read");
    }
}

#[test]
fn dtsu666_energy_mirrors() {
    let config = MeterConfig::new(MeterModel::Dtsu666);
    let mut base = RegisterImage::new();
    let reading = MeterReading::Ac(AcReading {
        voltage_v: [230.0; 3],
        ..AcReading::default()
    });
    for (address, count) in [(0x2000, 34), (0x2044, 2)] {
        let words = read_registers(
            &config,
            &reading,
            FunctionCode::ReadHoldingRegisters,
            address,
            count,
        )
        .unwrap();
        base.insert_block(Table::Holding, address, &words).unwrap();
    }
    assert!(matches!(
        decode_reading(&config, &base),
        Err(DecodeError::Missing {
            quantity: Quantity::ImportEnergy,
            address: 0x101E,
            ..
        })
    ));
    // OpenEMS's location alone is enough.
    let mut openems = base.clone();
    openems
        .insert_block(Table::Input, 0x4000, &[0x42F6, 0xE666])
        .unwrap();
    let MeterReading::Ac(ac) = decode_reading(&config, &openems).unwrap() else {
        panic!("not AC")
    };
    assert!((ac.import_energy_wh - 123_450.0).abs() < 0.01);
    // With several, the first in address order wins: 0x101E (mbmd) over 0x4000.
    openems
        .insert_block(Table::Holding, 0x101E, &[0x4120, 0x0000])
        .unwrap();
    let MeterReading::Ac(ac) = decode_reading(&config, &openems).unwrap() else {
        panic!("not AC")
    };
    assert_eq!(ac.import_energy_wh, 10_000.0);
    assert_eq!(ac.voltage_v, [230.0; 3]);
}

#[test]
fn word_order_must_match() {
    let mut config = MeterConfig::new(MeterModel::Sdm120);
    let reading = MeterReading::Ac(AcReading {
        voltage_v: [230.2, 0.0, 0.0],
        frequency_hz: 50.0,
        ..AcReading::default()
    });
    for order in WordOrder::ALL {
        config.word_order = order;
        let MeterReading::Ac(ac) = poll(&config, &reading).unwrap() else {
            panic!("not AC")
        };
        assert!((ac.voltage_v[0] - 230.2).abs() < 1e-4, "{order}");
    }
    // A CDAB meter read as ABCD gives garbage, not 230.2 V.
    config.word_order = WordOrder::Cdab;
    let mut image = RegisterImage::new();
    for read in config.model.register_map().poll_plan {
        image
            .insert_response(read, &respond(&mut config, &reading, &read.request()))
            .unwrap();
    }
    config.word_order = WordOrder::Abcd;
    let MeterReading::Ac(ac) = decode_reading(&config, &image).unwrap() else {
        panic!("not AC")
    };
    assert!((ac.voltage_v[0] - 230.2).abs() > 1.0);
}

#[test]
fn exceptions_from_the_meter_are_reported() {
    let mut config = MeterConfig::new(MeterModel::Sdm630);
    let reading = MeterReading::zero(MeterKind::AcThreePhase);
    let read = PollRead {
        table: Table::Input,
        address: 0x0024,
        count: 2,
    };
    let response = respond(&mut config, &reading, &read.request());
    let mut image = RegisterImage::new();
    assert_eq!(
        image.insert_response(&read, &response),
        Err(DecodeError::Exception {
            address: 0x0024,
            code: ExceptionCode::IllegalDataAddress
        })
    );
}

/// Values in ranges a charger meter shows, so that no encoding saturates.
fn arb_dc() -> impl Strategy<Value = DcReading> {
    (
        0f64..1500.0,
        -500f64..500.0,
        -750_000f64..750_000.0,
        0f64..4e9,
        0f64..4e9,
        0f64..100.0,
        any::<bool>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(v, i, p, imp, exp, t, broken, alarm, dido)| DcReading {
            voltage_v: v,
            current_a: i,
            power_w: p,
            import_energy_wh: imp.floor(),
            export_energy_wh: exp.floor(),
            temperature_c: t,
            wire_broken: broken,
            alarm_bits: alarm,
            di_do_bits: dido,
        })
}

fn arb_ac() -> impl Strategy<Value = AcReading> {
    let phases = |range: std::ops::Range<f64>| proptest::array::uniform3(range);
    (
        (
            phases(0.0..500.0),
            phases(0.0..200.0),
            phases(-50_000.0..50_000.0),
            phases(-50_000.0..50_000.0),
        ),
        (
            phases(0.0..50_000.0),
            phases(-1.0..1.0),
            -150_000f64..150_000.0,
            -1f64..1.0,
        ),
        (
            45f64..65.0,
            0f64..1e9,
            0f64..1e9,
            0f64..1e9,
            phases(0.0..1e8),
        ),
    )
        .prop_map(
            |((v, i, p, q), (s, pf, total_p, total_pf), (f, imp, exp, qimp, phase_imp))| {
                AcReading {
                    voltage_v: v,
                    current_a: i,
                    active_power_w: p,
                    reactive_power_var: q,
                    apparent_power_va: s,
                    power_factor: pf,
                    total_active_power_w: total_p,
                    total_reactive_power_var: q[0] + q[1] + q[2],
                    total_apparent_power_va: s[0] + s[1] + s[2],
                    total_power_factor: total_pf,
                    frequency_hz: f,
                    import_energy_wh: imp,
                    export_energy_wh: exp,
                    import_reactive_energy_varh: qimp,
                    export_reactive_energy_varh: qimp / 2.0,
                    phase_import_energy_wh: phase_imp,
                    phase_export_energy_wh: phase_imp.map(|e| e / 3.0),
                }
            },
        )
}

/// The worst error the register's encoding allows for `value`.
fn tolerance(def: &RegisterDef, config: &MeterConfig, value: f64) -> f64 {
    match def.encoding {
        // Half an f32 ulp relative, plus the decimal scaling's own rounding.
        Encoding::F32 => value.abs() * 1.2e-7 + 1e-12,
        // Auto codes keep at least 3277 counts of mantissa (signed) once past code 0.
        Encoding::DecimalPair { .. } => 0.5e-3 + value.abs() * 1.6e-4,
        _ => {
            0.5 * scale10(
                1.0,
                scale_exponent(def, config) + i32::from(def.unit.reading_exponent()),
            )
        }
    }
}

fn check_round_trip(config: &MeterConfig, reading: &MeterReading) -> Result<(), TestCaseError> {
    let decoded = poll(config, reading).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut checked = BTreeSet::new();
    for def in config.model.register_map().registers {
        let quantity = def.quantity;
        if matches!(quantity, Quantity::Setting(_) | Quantity::Reserved)
            || !checked.insert(quantity)
        {
            continue;
        }
        let (Some(original), Some(got)) = (reading.get(quantity), decoded.get(quantity)) else {
            continue;
        };
        if !decoded.clone().set(quantity, got) {
            continue; // derived: not decoded
        }
        let tolerance = tolerance(def, config, original);
        prop_assert!(
            (original - got).abs() <= tolerance,
            "{:?} {:?} at {:#06X}: sent {original}, decoded {got} (tolerance {tolerance})",
            config.model,
            quantity,
            def.address
        );
    }
    Ok(())
}

fn arb_order() -> impl Strategy<Value = WordOrder> {
    proptest::sample::select(WordOrder::ALL.to_vec())
}

fn arb_ac_model() -> impl Strategy<Value = MeterModel> {
    let models = MeterModel::ALL
        .into_iter()
        .filter(|m| m.kind() != MeterKind::Dc);
    proptest::sample::select(models.collect::<Vec<_>>())
}

/// Energies at 0.1 Wh per count must stay inside u32 counts.
fn tenth_wh_energies(dc: DcReading) -> DcReading {
    DcReading {
        import_energy_wh: (dc.import_energy_wh / 10.0).floor(),
        export_energy_wh: (dc.export_energy_wh / 10.0).floor(),
        ..dc
    }
}

proptest! {
    #[test]
    fn djsf1352_round_trip(dc in arb_dc(), tenth in any::<bool>(), order in arb_order()) {
        let mut config = MeterConfig::new(MeterModel::Djsf1352);
        config.word_order = order;
        config.split_reads = SplitReads::Reject;
        let mut dc = dc;
        if tenth {
            config.djsf.energy_lsb = EnergyLsb::TenthWh;
            dc = tenth_wh_energies(dc);
        }
        check_round_trip(&config, &MeterReading::Dc(dc))?;
    }

    #[test]
    fn ac_round_trip(ac in arb_ac(), model in arb_ac_model(), order in arb_order()) {
        let mut config = MeterConfig::new(model);
        config.word_order = order;
        check_round_trip(&config, &MeterReading::Ac(ac))?;
        if model.kind() == MeterKind::AcSinglePhase {
            let decoded = poll(&config, &MeterReading::Ac(ac)).unwrap();
            let MeterReading::Ac(decoded) = decoded else { unreachable!() };
            prop_assert_eq!(decoded.total_active_power_w, decoded.active_power_w[0]);
            prop_assert_eq!(decoded.voltage_v[1], 0.0);
            prop_assert_eq!(decoded.current_a[Phase::L3.index()], 0.0);
        }
    }

    #[test]
    fn arbitrary_registers_never_panic(
        model in proptest::sample::select(MeterModel::ALL.to_vec()),
        words in proptest::collection::vec(any::<u16>(), 200),
        order in arb_order(),
    ) {
        let mut config = MeterConfig::new(model);
        config.word_order = order;
        let mut image = RegisterImage::new();
        let mut source = words.iter().copied().cycle();
        for read in model.register_map().poll_plan {
            let block: Vec<u16> = (0..read.count).map(|_| source.next().unwrap_or(0)).collect();
            image.insert_block(read.table, read.address, &block).unwrap();
        }
        let _ = decode_reading(&config, &image);
    }
}
