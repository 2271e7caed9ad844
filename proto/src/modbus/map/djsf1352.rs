//! Acrel DJSF1352-RN DC rail meter (reference §1.1).
//!
//! Holding registers only: FC03 reads, FC10 writes the clock; FC04 is not used, so the
//! emulator answers it with exception 01. Sources: EN+ `meter_drv_djsf1352.h/.c` (EN+) and
//! EVerest `Acrel_DJSF1352_RN/main/powermeterImpl.cpp` (EVerest). The poll plan is EN+'s,
//! every 300 ms: `0000×6`, `0008×2`, `000C×8`, `001E×4`, `0023×1`.

use super::{
    Encoding, PollRead, Quantity, RegisterDef, RegisterMap, Scale, Setting, Table, Tables, Unit,
};
use crate::modbus::config::MeterModel;

const EN_EV: &str = "EN+ meter_drv_djsf1352.h; EVerest Acrel_DJSF1352_RN";
const EN: &str = "EN+ meter_drv_djsf1352.h";
const FLOAT_MAP: &str = "third-party DJSF1352 float map (reference §1.1: UNCONFIRMED)";

const fn reg(
    address: u16,
    name: &'static str,
    q: Quantity,
    unit: Unit,
    enc: Encoding,
) -> RegisterDef {
    RegisterDef::new(address, name, q, unit, enc, Tables::Holding, EN_EV)
}

const fn word(address: u16, name: &'static str, q: Quantity) -> RegisterDef {
    RegisterDef::new(
        address,
        name,
        q,
        Unit::None,
        Encoding::U16,
        Tables::Holding,
        EN,
    )
}

const fn reserved(address: u16) -> RegisterDef {
    RegisterDef::new(
        address,
        "reserved",
        Quantity::Reserved,
        Unit::None,
        Encoding::Reserved { words: 2 },
        Tables::Holding,
        "reference §1.1 table; EVerest reads 0x0000×20 through it",
    )
}

static REGISTERS: &[RegisterDef] = &[
    reg(
        0x0000,
        "U/DPT",
        Quantity::DcVoltage,
        Unit::Volt,
        Encoding::DecimalPair { signed: false },
    ),
    // EVerest casts the current and power mantissas to int16; EN+ reads uint16. Non-negative
    // values up to 32767 read the same either way, and the emulator keeps mantissas there.
    reg(
        0x0002,
        "I/DCT",
        Quantity::DcCurrent,
        Unit::Ampere,
        Encoding::DecimalPair { signed: true },
    ),
    word(0x0004, "break-line", Quantity::WireBroken),
    RegisterDef::new(
        0x0005,
        "T",
        Quantity::Temperature,
        Unit::Celsius,
        Encoding::U16,
        Tables::Holding,
        EN,
    )
    .scaled(-1),
    reserved(0x0006),
    // EVerest publishes P in W; the reference marks the unit UNCONFIRMED.
    reg(
        0x0008,
        "P/DP",
        Quantity::DcPower,
        Unit::Watt,
        Encoding::DecimalPair { signed: true },
    )
    .unconfirmed(),
    reserved(0x000A),
    reg(
        0x000C,
        "Epos",
        Quantity::ImportEnergy,
        Unit::WattHour,
        Encoding::U32,
    )
    .with_scale(Scale::DjsfEnergyLsb)
    .unconfirmed(),
    reg(
        0x000E,
        "Eneg",
        Quantity::ExportEnergy,
        Unit::WattHour,
        Encoding::U32,
    )
    .with_scale(Scale::DjsfEnergyLsb)
    .unconfirmed(),
    word(0x0010, "PT ratio", Quantity::Setting(Setting::DjsfPtRatio)),
    RegisterDef::new(
        0x0011,
        "I rated",
        Quantity::Setting(Setting::DjsfRatedCurrent),
        Unit::Ampere,
        Encoding::U16,
        Tables::Holding,
        EN,
    ),
    word(0x0012, "DI/DO", Quantity::DiDo),
    word(0x0013, "alarm", Quantity::Alarm),
    RegisterDef::new(
        0x001E,
        "clock",
        Quantity::Setting(Setting::DjsfClock),
        Unit::None,
        Encoding::Clock,
        Tables::Holding,
        "EN+ meter_drv_djsf1352.c (FC10 clock write)",
    )
    .writable(),
    word(
        0x0021,
        "reading info",
        Quantity::Setting(Setting::DjsfReadingInfo),
    ),
    word(
        0x0023,
        "SW version",
        Quantity::Setting(Setting::DjsfSoftwareVersion),
    ),
    RegisterDef::new(
        0x0032,
        "U float",
        Quantity::DcVoltage,
        Unit::Volt,
        Encoding::F32,
        Tables::Holding,
        FLOAT_MAP,
    )
    .unconfirmed(),
    RegisterDef::new(
        0x0034,
        "I float",
        Quantity::DcCurrent,
        Unit::Ampere,
        Encoding::F32,
        Tables::Holding,
        FLOAT_MAP,
    )
    .unconfirmed(),
    RegisterDef::new(
        0x0036,
        "P float",
        Quantity::DcPower,
        Unit::Kilowatt,
        Encoding::F32,
        Tables::Holding,
        FLOAT_MAP,
    )
    .unconfirmed(),
];

const fn poll(address: u16, count: u16) -> PollRead {
    PollRead {
        table: Table::Holding,
        address,
        count,
    }
}

/// The DJSF1352-RN map.
pub(super) static MAP: RegisterMap = RegisterMap {
    model: MeterModel::Djsf1352,
    registers: REGISTERS,
    required: &[
        Quantity::DcVoltage,
        Quantity::DcCurrent,
        Quantity::DcPower,
        Quantity::ImportEnergy,
        Quantity::ExportEnergy,
    ],
    poll_plan: &[
        poll(0x0000, 6),
        poll(0x0008, 2),
        poll(0x000C, 8),
        poll(0x001E, 4),
        poll(0x0023, 1),
    ],
};
