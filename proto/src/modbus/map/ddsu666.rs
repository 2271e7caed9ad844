//! Chint DDSU666 single-phase meter (reference §1.2).
//!
//! Float32 in unscaled engineering units (kW, kvar, kWh). Tasmota reads with FC04, OpenEMS
//! with FC03, so every register answers both. OpenEMS reads 0x2000–0x2011 in two blocks with
//! dummy elements over 0x200C–0x200D and 0x2010–0x2011; those two runs are mapped as reserved
//! so its reads succeed. The poll plan is OpenEMS's, with Tasmota's export register added.

use super::{
    Encoding, Phase, PollRead, Quantity, RegisterDef, RegisterMap, Setting, Table, Tables, Unit,
};
use crate::modbus::config::MeterModel;

const TAS_OEMS: &str = "Tasmota xnrg_11_ddsu666.ino; OpenEMS MeterChintDdsu666Impl";
const TAS: &str = "Tasmota xnrg_11_ddsu666.ino";

const fn float(
    address: u16,
    name: &'static str,
    q: Quantity,
    unit: Unit,
    source: &'static str,
) -> RegisterDef {
    RegisterDef::new(address, name, q, unit, Encoding::F32, Tables::Both, source)
}

const fn dummy(address: u16) -> RegisterDef {
    RegisterDef::new(
        address,
        "reserved",
        Quantity::Reserved,
        Unit::None,
        Encoding::Reserved { words: 2 },
        Tables::Both,
        "OpenEMS MeterChintDdsu666Impl reads it as a DummyRegisterElement",
    )
    .unconfirmed()
}

static REGISTERS: &[RegisterDef] = &[
    RegisterDef::new(
        0x0006,
        "Addr",
        Quantity::Setting(Setting::UnitId),
        Unit::None,
        Encoding::U16,
        Tables::Both,
        "OpenEMS MeterChintDdsu666Impl COMMUNICATION_ADDRESS",
    )
    .writable(),
    float(
        0x2000,
        "U",
        Quantity::PhaseVoltage(Phase::L1),
        Unit::Volt,
        TAS_OEMS,
    ),
    float(
        0x2002,
        "I",
        Quantity::PhaseCurrent(Phase::L1),
        Unit::Ampere,
        TAS_OEMS,
    ),
    float(
        0x2004,
        "P",
        Quantity::PhaseActivePower(Phase::L1),
        Unit::Kilowatt,
        TAS_OEMS,
    ),
    float(
        0x2006,
        "Q",
        Quantity::PhaseReactivePower(Phase::L1),
        Unit::Kilovar,
        TAS,
    ),
    float(
        0x2008,
        "S",
        Quantity::PhaseApparentPower(Phase::L1),
        Unit::KiloVoltAmpere,
        "reference §1.2",
    )
    .unconfirmed(),
    float(
        0x200A,
        "PF",
        Quantity::PhasePowerFactor(Phase::L1),
        Unit::None,
        TAS,
    ),
    dummy(0x200C),
    float(0x200E, "Freq", Quantity::Frequency, Unit::Hertz, TAS_OEMS),
    dummy(0x2010),
    float(
        0x4000,
        "Ep+",
        Quantity::ImportEnergy,
        Unit::KilowattHour,
        TAS_OEMS,
    ),
    float(
        0x400A,
        "Ep-",
        Quantity::ExportEnergy,
        Unit::KilowattHour,
        TAS,
    ),
];

const fn poll(address: u16, count: u16) -> PollRead {
    PollRead {
        table: Table::Holding,
        address,
        count,
    }
}

/// The DDSU666 map.
pub(super) static MAP: RegisterMap = RegisterMap {
    model: MeterModel::Ddsu666,
    registers: REGISTERS,
    required: &[
        Quantity::PhaseVoltage(Phase::L1),
        Quantity::PhaseCurrent(Phase::L1),
        Quantity::PhaseActivePower(Phase::L1),
        Quantity::Frequency,
        Quantity::ImportEnergy,
    ],
    poll_plan: &[
        poll(0x2000, 10),
        poll(0x200A, 8),
        poll(0x4000, 2),
        poll(0x400A, 2),
    ],
};
