//! Eastron SDM630 (three-phase) and SDM120 (single-phase) (reference §1.5).
//!
//! Measurements are FC04 input registers, float32 ABCD in unscaled SI units with kWh/kvarh
//! energies (mbmd `sdm.go`, Tasmota `xnrg_10_sdm630.ino`). Configuration is in FC03 holding
//! registers, also float32 (SDM_Energy_Meter notes): parity/stop 0x0012, meter id 0x0014,
//! baud code 0x001C. Beyond the reference's table this adds apparent power per phase
//! (0x0012..), reactive energies (0x004C, 0x004E) and total reactive energy (0x0158), which
//! Tasmota's block reads `0x0000×36` and `0x0156×16` cover. The poll plans follow Tasmota's
//! high-update-rate mode plus single reads of the totals.

use super::{
    Encoding, Phase, PollRead, Quantity, RegisterDef, RegisterMap, Setting, Table, Tables, Unit,
};
use crate::modbus::config::MeterModel;

const MBMD: &str = "mbmd sdm.go; Tasmota xnrg_10_sdm630.ino";
const TAS: &str = "Tasmota xnrg_10_sdm630.ino (block read 0x0000×36, 0x0156×16)";
const LIB: &str = "SDM_Energy_Meter SDM.h (SDM630/SDM120CT register lists)";
const HOLD: &str = "SDM_Energy_Meter SDM.h holding-register notes";

const fn input(
    address: u16,
    name: &'static str,
    q: Quantity,
    unit: Unit,
    source: &'static str,
) -> RegisterDef {
    RegisterDef::new(address, name, q, unit, Encoding::F32, Tables::Input, source)
}

const fn holding(address: u16, name: &'static str, setting: Setting) -> RegisterDef {
    RegisterDef::new(
        address,
        name,
        Quantity::Setting(setting),
        Unit::None,
        Encoding::F32,
        Tables::Holding,
        HOLD,
    )
    .writable()
}

const L1: Phase = Phase::L1;
const L2: Phase = Phase::L2;
const L3: Phase = Phase::L3;

static SDM630: &[RegisterDef] = &[
    input(0x0000, "V L1", Quantity::PhaseVoltage(L1), Unit::Volt, MBMD),
    input(0x0002, "V L2", Quantity::PhaseVoltage(L2), Unit::Volt, MBMD),
    input(0x0004, "V L3", Quantity::PhaseVoltage(L3), Unit::Volt, MBMD),
    input(
        0x0006,
        "I L1",
        Quantity::PhaseCurrent(L1),
        Unit::Ampere,
        MBMD,
    ),
    input(
        0x0008,
        "I L2",
        Quantity::PhaseCurrent(L2),
        Unit::Ampere,
        MBMD,
    ),
    input(
        0x000A,
        "I L3",
        Quantity::PhaseCurrent(L3),
        Unit::Ampere,
        MBMD,
    ),
    input(
        0x000C,
        "P L1",
        Quantity::PhaseActivePower(L1),
        Unit::Watt,
        MBMD,
    ),
    input(
        0x000E,
        "P L2",
        Quantity::PhaseActivePower(L2),
        Unit::Watt,
        MBMD,
    ),
    input(
        0x0010,
        "P L3",
        Quantity::PhaseActivePower(L3),
        Unit::Watt,
        MBMD,
    ),
    holding(0x0012, "parity/stop", Setting::SdmParityStop),
    input(
        0x0012,
        "VA L1",
        Quantity::PhaseApparentPower(L1),
        Unit::VoltAmpere,
        TAS,
    )
    .unconfirmed(),
    holding(0x0014, "meter id", Setting::UnitId),
    input(
        0x0014,
        "VA L2",
        Quantity::PhaseApparentPower(L2),
        Unit::VoltAmpere,
        TAS,
    )
    .unconfirmed(),
    input(
        0x0016,
        "VA L3",
        Quantity::PhaseApparentPower(L3),
        Unit::VoltAmpere,
        TAS,
    )
    .unconfirmed(),
    input(
        0x0018,
        "var L1",
        Quantity::PhaseReactivePower(L1),
        Unit::Var,
        MBMD,
    ),
    input(
        0x001A,
        "var L2",
        Quantity::PhaseReactivePower(L2),
        Unit::Var,
        MBMD,
    ),
    holding(0x001C, "baud rate", Setting::BaudCode),
    input(
        0x001C,
        "var L3",
        Quantity::PhaseReactivePower(L3),
        Unit::Var,
        MBMD,
    ),
    input(
        0x001E,
        "PF L1",
        Quantity::PhasePowerFactor(L1),
        Unit::None,
        MBMD,
    ),
    input(
        0x0020,
        "PF L2",
        Quantity::PhasePowerFactor(L2),
        Unit::None,
        MBMD,
    ),
    input(
        0x0022,
        "PF L3",
        Quantity::PhasePowerFactor(L3),
        Unit::None,
        MBMD,
    ),
    input(
        0x0034,
        "total W",
        Quantity::TotalActivePower,
        Unit::Watt,
        MBMD,
    ),
    input(
        0x0038,
        "total VA",
        Quantity::TotalApparentPower,
        Unit::VoltAmpere,
        MBMD,
    ),
    input(
        0x003C,
        "total var",
        Quantity::TotalReactivePower,
        Unit::Var,
        MBMD,
    ),
    input(
        0x003E,
        "total PF",
        Quantity::TotalPowerFactor,
        Unit::None,
        MBMD,
    ),
    input(0x0046, "Hz", Quantity::Frequency, Unit::Hertz, MBMD),
    input(
        0x0048,
        "import kWh",
        Quantity::ImportEnergy,
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x004A,
        "export kWh",
        Quantity::ExportEnergy,
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x004C,
        "import kvarh",
        Quantity::ImportReactiveEnergy,
        Unit::KilovarHour,
        LIB,
    )
    .unconfirmed(),
    input(
        0x004E,
        "export kvarh",
        Quantity::ExportReactiveEnergy,
        Unit::KilovarHour,
        LIB,
    )
    .unconfirmed(),
    input(
        0x0156,
        "total kWh",
        Quantity::TotalEnergy,
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x0158,
        "total kvarh",
        Quantity::TotalReactiveEnergy,
        Unit::KilovarHour,
        TAS,
    )
    .unconfirmed(),
    input(
        0x015A,
        "import kWh L1",
        Quantity::PhaseImportEnergy(L1),
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x015C,
        "import kWh L2",
        Quantity::PhaseImportEnergy(L2),
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x015E,
        "import kWh L3",
        Quantity::PhaseImportEnergy(L3),
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x0160,
        "export kWh L1",
        Quantity::PhaseExportEnergy(L1),
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x0162,
        "export kWh L2",
        Quantity::PhaseExportEnergy(L2),
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x0164,
        "export kWh L3",
        Quantity::PhaseExportEnergy(L3),
        Unit::KilowattHour,
        MBMD,
    ),
];

static SDM120: &[RegisterDef] = &[
    input(0x0000, "V", Quantity::PhaseVoltage(L1), Unit::Volt, MBMD),
    input(0x0006, "I", Quantity::PhaseCurrent(L1), Unit::Ampere, MBMD),
    input(
        0x000C,
        "P",
        Quantity::PhaseActivePower(L1),
        Unit::Watt,
        MBMD,
    ),
    holding(0x0012, "parity/stop", Setting::SdmParityStop),
    input(
        0x0012,
        "VA",
        Quantity::PhaseApparentPower(L1),
        Unit::VoltAmpere,
        MBMD,
    ),
    holding(0x0014, "meter id", Setting::UnitId),
    input(
        0x0018,
        "var",
        Quantity::PhaseReactivePower(L1),
        Unit::Var,
        MBMD,
    ),
    holding(0x001C, "baud rate", Setting::BaudCode),
    input(
        0x001E,
        "PF",
        Quantity::PhasePowerFactor(L1),
        Unit::None,
        MBMD,
    ),
    input(0x0046, "Hz", Quantity::Frequency, Unit::Hertz, MBMD),
    input(
        0x0048,
        "import kWh",
        Quantity::ImportEnergy,
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x004A,
        "export kWh",
        Quantity::ExportEnergy,
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x004C,
        "import kvarh",
        Quantity::ImportReactiveEnergy,
        Unit::KilovarHour,
        LIB,
    )
    .unconfirmed(),
    input(
        0x004E,
        "export kvarh",
        Quantity::ExportReactiveEnergy,
        Unit::KilovarHour,
        LIB,
    )
    .unconfirmed(),
    input(
        0x0156,
        "total kWh",
        Quantity::TotalEnergy,
        Unit::KilowattHour,
        MBMD,
    ),
    input(
        0x0158,
        "total kvarh",
        Quantity::TotalReactiveEnergy,
        Unit::KilovarHour,
        LIB,
    )
    .unconfirmed(),
];

const fn poll(address: u16, count: u16) -> PollRead {
    PollRead {
        table: Table::Input,
        address,
        count,
    }
}

/// The SDM630 map.
pub(super) static SDM630_MAP: RegisterMap = RegisterMap {
    model: MeterModel::Sdm630,
    registers: SDM630,
    required: &[
        Quantity::PhaseVoltage(L1),
        Quantity::PhaseVoltage(L2),
        Quantity::PhaseVoltage(L3),
        Quantity::PhaseCurrent(L1),
        Quantity::PhaseCurrent(L2),
        Quantity::PhaseCurrent(L3),
        Quantity::PhaseActivePower(L1),
        Quantity::PhaseActivePower(L2),
        Quantity::PhaseActivePower(L3),
        Quantity::TotalActivePower,
        Quantity::Frequency,
        Quantity::ImportEnergy,
        Quantity::ExportEnergy,
    ],
    poll_plan: &[
        poll(0x0000, 36),
        poll(0x0034, 2),
        poll(0x0038, 2),
        poll(0x003C, 4),
        poll(0x0046, 10),
        poll(0x0156, 16),
    ],
};

/// The SDM120 map.
pub(super) static SDM120_MAP: RegisterMap = RegisterMap {
    model: MeterModel::Sdm120,
    registers: SDM120,
    required: &[
        Quantity::PhaseVoltage(L1),
        Quantity::PhaseCurrent(L1),
        Quantity::PhaseActivePower(L1),
        Quantity::Frequency,
        Quantity::ImportEnergy,
        Quantity::ExportEnergy,
    ],
    poll_plan: &[
        poll(0x0000, 2),
        poll(0x0006, 2),
        poll(0x000C, 2),
        poll(0x0012, 2),
        poll(0x0018, 2),
        poll(0x001E, 2),
        poll(0x0046, 10),
        poll(0x0156, 4),
    ],
};
