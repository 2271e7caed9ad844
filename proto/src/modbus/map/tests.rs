//! Structural checks of every register map.

use super::*;
use crate::modbus::config::{MeterConfig, SplitReads};
use crate::modbus::reading::{MeterKind, MeterReading};
use crate::modbus::render::check_read;

fn maps() -> impl Iterator<Item = &'static RegisterMap> {
    MeterModel::ALL.into_iter().map(RegisterMap::of)
}

#[test]
fn maps_belong_to_their_model() {
    for model in MeterModel::ALL {
        assert_eq!(RegisterMap::of(model).model, model);
    }
}

#[test]
fn registers_are_sorted_and_do_not_overlap_within_a_table() {
    for map in maps() {
        for pair in map.registers.windows(2) {
            assert!(
                pair[0].address <= pair[1].address,
                "{:?}: {:#06X} unsorted",
                map.model,
                pair[1].address
            );
        }
        for table in [Table::Holding, Table::Input] {
            let defs: Vec<_> = map.registers_in(table).collect();
            for pair in defs.windows(2) {
                assert!(
                    pair[0].end() <= u32::from(pair[1].address),
                    "{:?} {table:?}: {:#06X} overlaps {:#06X}",
                    map.model,
                    pair[0].address,
                    pair[1].address
                );
            }
            assert!(defs.iter().all(|def| def.end() <= 0x1_0000));
        }
    }
}

#[test]
fn entries_are_documented() {
    for map in maps() {
        for def in map.registers {
            assert!(
                !def.name.is_empty() && !def.source.is_empty(),
                "{:?} {:#06X}",
                map.model,
                def.address
            );
            assert!(def.words() >= 1);
        }
    }
}

#[test]
fn quantities_fit_the_model_kind() {
    for map in maps() {
        let reading = MeterReading::zero(map.model.kind());
        for def in map.registers {
            match def.quantity {
                Quantity::Setting(_) | Quantity::Reserved => {}
                quantity => assert!(
                    reading.get(quantity).is_some(),
                    "{:?}: {quantity:?} is not in a {:?} reading",
                    map.model,
                    map.model.kind()
                ),
            }
            if map.model.kind() == MeterKind::AcSinglePhase {
                let phase = match def.quantity {
                    Quantity::PhaseVoltage(p)
                    | Quantity::PhaseCurrent(p)
                    | Quantity::PhaseActivePower(p)
                    | Quantity::PhaseReactivePower(p)
                    | Quantity::PhaseApparentPower(p)
                    | Quantity::PhasePowerFactor(p) => Some(p),
                    _ => None,
                };
                assert!(
                    phase.is_none_or(|p| p == Phase::L1),
                    "{:?}: {:?}",
                    map.model,
                    def.quantity
                );
            }
        }
    }
}

#[test]
fn required_quantities_are_mapped() {
    for map in maps() {
        for quantity in map.required {
            assert!(
                map.registers.iter().any(|def| def.quantity == *quantity),
                "{:?}: required {quantity:?} has no register",
                map.model
            );
        }
    }
}

#[test]
fn poll_plans_are_valid_strict_reads() {
    for map in maps() {
        for read in map.poll_plan {
            let function = read.table.read_function();
            assert_eq!(
                check_read(map, SplitReads::Reject, function, read.address, read.count),
                Ok(read.table),
                "{:?}: {read:?}",
                map.model
            );
            assert_eq!(read.request().function(), function);
        }
    }
}

#[test]
fn function_code_availability() {
    use crate::modbus::config::MeterModel::*;
    let all_in = |model: MeterModel, tables: Tables| {
        RegisterMap::of(model)
            .registers
            .iter()
            .all(|def| def.tables == tables)
    };
    // DJSF1352: FC03 only (reference §1.1).
    assert!(all_in(Djsf1352, Tables::Holding));
    assert!(!RegisterMap::of(Djsf1352).supports(Table::Input));
    // Chint: one bank for FC03 and FC04, clients differ (reference §1.2, §1.3).
    assert!(all_in(Ddsu666, Tables::Both));
    assert!(all_in(Dtsu666, Tables::Both));
    // Eastron: measurements FC04, settings FC03 (reference §1.5).
    for model in [Sdm630, Sdm120] {
        for def in RegisterMap::of(model).registers {
            let expected = if matches!(def.quantity, Quantity::Setting(_)) {
                Tables::Holding
            } else {
                Tables::Input
            };
            assert_eq!(def.tables, expected, "{model:?} {:#06X}", def.address);
        }
    }
}

#[test]
fn find_and_overlapping() {
    let map = RegisterMap::of(MeterModel::Djsf1352);
    assert_eq!(
        map.find(Table::Holding, 0x0001).map(|d| d.address),
        Some(0x0000)
    );
    assert_eq!(
        map.find(Table::Holding, 0x001F).map(|d| d.name),
        Some("clock")
    );
    assert_eq!(map.find(Table::Holding, 0x0014), None);
    assert_eq!(map.find(Table::Input, 0x0000), None);
    let names: Vec<_> = map
        .overlapping(Table::Holding, 0x0003, 3)
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["I/DCT", "break-line", "T"]);
}

#[test]
fn default_configs_of_every_model_render() {
    for model in MeterModel::ALL {
        let config = MeterConfig::new(model);
        let image = crate::modbus::render::render_image(&config, &MeterReading::zero(model.kind()))
            .unwrap();
        let words: usize = model
            .register_map()
            .registers
            .iter()
            .map(|def| {
                let tables = [Table::Holding, Table::Input]
                    .iter()
                    .filter(|&&t| def.tables.contains(t))
                    .count();
                usize::from(def.words()) * tables
            })
            .sum();
        assert_eq!(image.len(), words, "{model:?}");
    }
}
