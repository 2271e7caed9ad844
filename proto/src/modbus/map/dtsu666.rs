//! Chint DTSU666 three-phase four-wire meter (reference §1.3). Not the Huawei DTSU666-H,
//! whose map differs.
//!
//! Float32 in scaled units: 0.1 V, 0.001 A, 0.1 W (and var), PF × 1000, 0.01 Hz; energy in
//! kWh. OpenEMS reads with FC04, mbmd with FC03: every register answers both. The energy
//! registers sit at three different places in the sources (UNCONFIRMED), so the emulator
//! mirrors the same value at all of them and the decoder takes the first one present, in
//! address order. The poll plan follows mbmd's addresses as block reads, with FC03.

use super::{
    Encoding, Phase, PollRead, Quantity, RegisterDef, RegisterMap, Setting, Table, Tables, Unit,
};
use crate::modbus::config::MeterModel;

const EMU: &str = "michielfromNL DTSU666Emulator DTSU666.cpp";
const ALL: &str = "OpenEMS MeterChintDtsu666Impl; mbmd dtsu666.go; michielfromNL DTSU666.cpp";
const MBMD_EMU: &str = "mbmd dtsu666.go; michielfromNL DTSU666.cpp";

const fn float(
    address: u16,
    name: &'static str,
    q: Quantity,
    unit: Unit,
    source: &'static str,
) -> RegisterDef {
    RegisterDef::new(address, name, q, unit, Encoding::F32, Tables::Both, source)
}

const fn setting(address: u16, name: &'static str, setting: Setting) -> RegisterDef {
    RegisterDef::new(
        address,
        name,
        Quantity::Setting(setting),
        Unit::None,
        Encoding::U16,
        Tables::Both,
        EMU,
    )
}

/// 0.1 V per count.
const V: i8 = -1;
/// 0.001 A per count.
const A: i8 = -3;
/// 0.1 W (and var) per count.
const W: i8 = -1;
/// Power factor × 1000.
const PF: i8 = -3;

static REGISTERS: &[RegisterDef] = &[
    setting(0x0000, "REV.", Setting::DtsuSoftwareVersion),
    setting(0x0001, "UCode", Setting::DtsuProgrammingCode),
    setting(0x0002, "ClrE", Setting::DtsuClearEnergy).writable(),
    setting(0x0003, "nET", Setting::DtsuNetwork).writable(),
    setting(0x0006, "Ct", Setting::DtsuCtRatio).writable(),
    setting(0x0007, "Pt", Setting::DtsuPtRatio).writable(),
    setting(0x000A, "Disp", Setting::DtsuDisplayTime).writable(),
    setting(0x000C, "Endian", Setting::DtsuEndian),
    setting(0x002C, "Prot", Setting::DtsuProtocol).writable(),
    setting(0x002D, "bAud", Setting::BaudCode).writable(),
    setting(0x002E, "Addr", Setting::UnitId).writable(),
    float(
        0x101E,
        "ImpEp",
        Quantity::ImportEnergy,
        Unit::KilowattHour,
        MBMD_EMU,
    )
    .unconfirmed(),
    float(
        0x1028,
        "ExpEp",
        Quantity::ExportEnergy,
        Unit::KilowattHour,
        MBMD_EMU,
    )
    .unconfirmed(),
    // mbmd maps 0x2000.. to phase voltages; the emulator and gerontec call them line voltages,
    // which the reference follows.
    float(
        0x2000,
        "Uab",
        Quantity::LineVoltage(Phase::L1),
        Unit::Volt,
        EMU,
    )
    .scaled(V),
    float(
        0x2002,
        "Ubc",
        Quantity::LineVoltage(Phase::L2),
        Unit::Volt,
        EMU,
    )
    .scaled(V),
    float(
        0x2004,
        "Uca",
        Quantity::LineVoltage(Phase::L3),
        Unit::Volt,
        EMU,
    )
    .scaled(V),
    float(
        0x2006,
        "Ua",
        Quantity::PhaseVoltage(Phase::L1),
        Unit::Volt,
        ALL,
    )
    .scaled(V),
    float(
        0x2008,
        "Ub",
        Quantity::PhaseVoltage(Phase::L2),
        Unit::Volt,
        ALL,
    )
    .scaled(V),
    float(
        0x200A,
        "Uc",
        Quantity::PhaseVoltage(Phase::L3),
        Unit::Volt,
        ALL,
    )
    .scaled(V),
    float(
        0x200C,
        "Ia",
        Quantity::PhaseCurrent(Phase::L1),
        Unit::Ampere,
        ALL,
    )
    .scaled(A),
    float(
        0x200E,
        "Ib",
        Quantity::PhaseCurrent(Phase::L2),
        Unit::Ampere,
        ALL,
    )
    .scaled(A),
    float(
        0x2010,
        "Ic",
        Quantity::PhaseCurrent(Phase::L3),
        Unit::Ampere,
        ALL,
    )
    .scaled(A),
    float(0x2012, "Pt", Quantity::TotalActivePower, Unit::Watt, ALL).scaled(W),
    float(
        0x2014,
        "Pa",
        Quantity::PhaseActivePower(Phase::L1),
        Unit::Watt,
        ALL,
    )
    .scaled(W),
    float(
        0x2016,
        "Pb",
        Quantity::PhaseActivePower(Phase::L2),
        Unit::Watt,
        ALL,
    )
    .scaled(W),
    float(
        0x2018,
        "Pc",
        Quantity::PhaseActivePower(Phase::L3),
        Unit::Watt,
        ALL,
    )
    .scaled(W),
    float(
        0x201A,
        "Qt",
        Quantity::TotalReactivePower,
        Unit::Var,
        MBMD_EMU,
    )
    .scaled(W),
    float(
        0x201C,
        "Qa",
        Quantity::PhaseReactivePower(Phase::L1),
        Unit::Var,
        MBMD_EMU,
    )
    .scaled(W),
    float(
        0x201E,
        "Qb",
        Quantity::PhaseReactivePower(Phase::L2),
        Unit::Var,
        MBMD_EMU,
    )
    .scaled(W),
    float(
        0x2020,
        "Qc",
        Quantity::PhaseReactivePower(Phase::L3),
        Unit::Var,
        MBMD_EMU,
    )
    .scaled(W),
    float(0x202A, "PFt", Quantity::TotalPowerFactor, Unit::None, ALL).scaled(PF),
    float(
        0x202C,
        "PFa",
        Quantity::PhasePowerFactor(Phase::L1),
        Unit::None,
        MBMD_EMU,
    )
    .scaled(PF),
    float(
        0x202E,
        "PFb",
        Quantity::PhasePowerFactor(Phase::L2),
        Unit::None,
        MBMD_EMU,
    )
    .scaled(PF),
    float(
        0x2030,
        "PFc",
        Quantity::PhasePowerFactor(Phase::L3),
        Unit::None,
        MBMD_EMU,
    )
    .scaled(PF),
    float(0x2044, "Freq", Quantity::Frequency, Unit::Hertz, ALL).scaled(-2),
    float(
        0x4000,
        "Ep+",
        Quantity::ImportEnergy,
        Unit::KilowattHour,
        "OpenEMS MeterChintDtsu666Impl",
    )
    .unconfirmed(),
    float(
        0x401E,
        "ImpEp",
        Quantity::ImportEnergy,
        Unit::KilowattHour,
        "gerontec/dtsu666 README (16414)",
    )
    .unconfirmed(),
    float(
        0x4028,
        "ExpEp",
        Quantity::ExportEnergy,
        Unit::KilowattHour,
        "gerontec/dtsu666 README (16424)",
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

/// The DTSU666 map.
pub(super) static MAP: RegisterMap = RegisterMap {
    model: MeterModel::Dtsu666,
    registers: REGISTERS,
    required: &[
        Quantity::PhaseVoltage(Phase::L1),
        Quantity::PhaseVoltage(Phase::L2),
        Quantity::PhaseVoltage(Phase::L3),
        Quantity::PhaseCurrent(Phase::L1),
        Quantity::PhaseCurrent(Phase::L2),
        Quantity::PhaseCurrent(Phase::L3),
        Quantity::TotalActivePower,
        Quantity::PhaseActivePower(Phase::L1),
        Quantity::PhaseActivePower(Phase::L2),
        Quantity::PhaseActivePower(Phase::L3),
        Quantity::Frequency,
        Quantity::ImportEnergy,
    ],
    poll_plan: &[
        poll(0x2000, 34),
        poll(0x202A, 8),
        poll(0x2044, 2),
        poll(0x101E, 2),
        poll(0x1028, 2),
    ],
};
