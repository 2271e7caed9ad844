//! Register maps of the emulated meters: which quantity lives at which address, in which
//! encoding, unit and scale, and which function codes reach it.
//!
//! Each model's table is a `static` slice of [`RegisterDef`] sorted by address, with the
//! source of every entry. Registers the reference marks UNCONFIRMED carry
//! `confirmed: false`. A few registers beyond the reference's tables were added because
//! real clients read them inside block reads (a hole there would make the whole block fail);
//! each says so in its `source`.

use super::config::MeterModel;
use super::pdu::{FunctionCode, Request};

mod ddsu666;
mod djsf1352;
mod dtsu666;
mod sdm;

/// One of the three phases of an AC system.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Phase {
    /// Phase L1 (A).
    L1,
    /// Phase L2 (B).
    L2,
    /// Phase L3 (C).
    L3,
}

impl Phase {
    /// All three phases in order.
    pub const ALL: [Phase; 3] = [Self::L1, Self::L2, Self::L3];

    /// 0, 1 or 2: the index into a reading's per-phase arrays.
    pub const fn index(self) -> usize {
        match self {
            Self::L1 => 0,
            Self::L2 => 1,
            Self::L3 => 2,
        }
    }
}

/// A device setting shown in a register. Values come from
/// [`MeterConfig`](super::config::MeterConfig), not from the reading.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Setting {
    /// The Modbus unit id (device address).
    UnitId,
    /// The model-specific code of the baud rate.
    BaudCode,
    /// Eastron parity/stop-bit code: 0 = 8N1, 1 = 8E1, 2 = 8O1, 3 = 8N2.
    SdmParityStop,
    /// DJSF1352 voltage transformer ratio.
    DjsfPtRatio,
    /// DJSF1352 primary rated current (shunt), in A.
    DjsfRatedCurrent,
    /// DJSF1352 date and time, three words.
    DjsfClock,
    /// DJSF1352 meter-reading day (high byte) and current tariff (low byte).
    DjsfReadingInfo,
    /// DJSF1352 software version.
    DjsfSoftwareVersion,
    /// DTSU666 "REV." software version.
    DtsuSoftwareVersion,
    /// DTSU666 "UCode" programming code.
    DtsuProgrammingCode,
    /// DTSU666 "ClrE" energy reset.
    DtsuClearEnergy,
    /// DTSU666 "nET" network selection.
    DtsuNetwork,
    /// DTSU666 "Ct" current transformer ratio.
    DtsuCtRatio,
    /// DTSU666 "Pt" voltage transformer ratio.
    DtsuPtRatio,
    /// DTSU666 "Disp" rotating display time.
    DtsuDisplayTime,
    /// DTSU666 "Endian" (reserved).
    DtsuEndian,
    /// DTSU666 "Prot" protocol/stop-bit code.
    DtsuProtocol,
}

/// What a register shows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Quantity {
    /// DC voltage, V.
    DcVoltage,
    /// DC current, A.
    DcCurrent,
    /// DC power, W.
    DcPower,
    /// Phase-to-neutral voltage, V.
    PhaseVoltage(Phase),
    /// Line-to-line voltage from this phase to the next (L1-L2, L2-L3, L3-L1), V. Derived.
    LineVoltage(Phase),
    /// Phase current, A.
    PhaseCurrent(Phase),
    /// Phase active power, W.
    PhaseActivePower(Phase),
    /// Phase reactive power, var.
    PhaseReactivePower(Phase),
    /// Phase apparent power, VA.
    PhaseApparentPower(Phase),
    /// Phase power factor.
    PhasePowerFactor(Phase),
    /// Phase import active energy, Wh.
    PhaseImportEnergy(Phase),
    /// Phase export active energy, Wh.
    PhaseExportEnergy(Phase),
    /// Total active power, W.
    TotalActivePower,
    /// Total reactive power, var.
    TotalReactivePower,
    /// Total apparent power, VA.
    TotalApparentPower,
    /// Total power factor.
    TotalPowerFactor,
    /// Line frequency, Hz.
    Frequency,
    /// Import (forward) active energy, Wh.
    ImportEnergy,
    /// Export (reverse) active energy, Wh.
    ExportEnergy,
    /// Import + export active energy, Wh. Derived.
    TotalEnergy,
    /// Import reactive energy, varh.
    ImportReactiveEnergy,
    /// Export reactive energy, varh.
    ExportReactiveEnergy,
    /// Import + export reactive energy, varh. Derived.
    TotalReactiveEnergy,
    /// Meter internal temperature, °C.
    Temperature,
    /// Voltage-sense wire broken flag (0 or 1).
    WireBroken,
    /// Digital input/output bit word.
    DiDo,
    /// Alarm bit word.
    Alarm,
    /// A device setting.
    Setting(Setting),
    /// A reserved register that reads as zero.
    Reserved,
}

/// The unit a register's value is in, after scaling.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Unit {
    /// Dimensionless: ratios, flags, codes, power factors.
    None,
    /// Volt.
    Volt,
    /// Ampere.
    Ampere,
    /// Watt.
    Watt,
    /// Kilowatt.
    Kilowatt,
    /// Volt-ampere reactive.
    Var,
    /// Kilovar.
    Kilovar,
    /// Volt-ampere.
    VoltAmpere,
    /// Kilovolt-ampere.
    KiloVoltAmpere,
    /// Hertz.
    Hertz,
    /// Watt-hour.
    WattHour,
    /// Kilowatt-hour.
    KilowattHour,
    /// Kilovar-hour.
    KilovarHour,
    /// Degree Celsius.
    Celsius,
}

impl Unit {
    /// The unit's symbol.
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Volt => "V",
            Self::Ampere => "A",
            Self::Watt => "W",
            Self::Kilowatt => "kW",
            Self::Var => "var",
            Self::Kilovar => "kvar",
            Self::VoltAmpere => "VA",
            Self::KiloVoltAmpere => "kVA",
            Self::Hertz => "Hz",
            Self::WattHour => "Wh",
            Self::KilowattHour => "kWh",
            Self::KilovarHour => "kvarh",
            Self::Celsius => "°C",
        }
    }

    /// One of this unit is `10^n` of the reading's units (V, A, W, var, VA, Hz, Wh, varh, °C):
    /// 3 for the kilo units, 0 otherwise.
    pub const fn reading_exponent(self) -> i8 {
        match self {
            Self::Kilowatt | Self::Kilovar | Self::KiloVoltAmpere => 3,
            Self::KilowattHour | Self::KilovarHour => 3,
            _ => 0,
        }
    }
}

/// How a value is laid out in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// One unsigned 16-bit word.
    U16,
    /// One signed 16-bit word, two's complement.
    I16,
    /// Unsigned 32-bit integer in two words, in the configured word order.
    U32,
    /// IEEE-754 binary32 in two words, in the configured word order.
    F32,
    /// Acrel DJSF1352 pair: a 16-bit mantissa, then a decimal code `e`; the value is
    /// `mantissa × 10^(e − 3)` (reference §1.1). `signed` reads the mantissa as i16 (EVerest
    /// does for current and power; EN+ reads u16).
    DecimalPair {
        /// The mantissa is two's complement.
        signed: bool,
    },
    /// DJSF1352 clock: three words `YY MM`, `DD hh`, `mm ss`, each byte a binary number
    /// (EN+ capture `18 03 13 0E 14 09` = 2024-03-19 14:20:09).
    Clock,
    /// `words` reserved registers that read as zero.
    Reserved {
        /// How many registers.
        words: u16,
    },
}

impl Encoding {
    /// How many registers the value occupies.
    pub const fn words(self) -> u16 {
        match self {
            Self::U16 | Self::I16 => 1,
            Self::U32 | Self::F32 | Self::DecimalPair { .. } => 2,
            Self::Clock => 3,
            Self::Reserved { words } => words,
        }
    }

    /// `true` for multi-register values whose words only make sense together; reserved runs
    /// are not values, so any part of them may be read.
    pub const fn is_compound(self) -> bool {
        !matches!(self, Self::Reserved { .. }) && self.words() > 1
    }
}

/// The factor from raw register value to the register's unit. Every meter here scales by
/// powers of ten, which keeps rendering and decoding to one correctly rounded operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scale {
    /// `value = raw × 10^exponent`.
    Pow10(i8),
    /// The DJSF1352 energy LSB, configurable because the sources disagree (reference §1.1):
    /// see [`DjsfSettings::energy_lsb`](super::config::DjsfSettings::energy_lsb).
    DjsfEnergyLsb,
}

/// One of the two register tables Modbus reads: holding registers (FC03) or input registers
/// (FC04).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Table {
    /// Holding registers: FC03 reads, FC06/FC16 write.
    Holding,
    /// Input registers: FC04 reads.
    Input,
}

impl Table {
    /// The table a read function code addresses, if it is a register read.
    pub const fn for_read(function: FunctionCode) -> Option<Self> {
        match function {
            FunctionCode::ReadHoldingRegisters => Some(Self::Holding),
            FunctionCode::ReadInputRegisters => Some(Self::Input),
            _ => None,
        }
    }

    /// The function code that reads this table.
    pub const fn read_function(self) -> FunctionCode {
        match self {
            Self::Holding => FunctionCode::ReadHoldingRegisters,
            Self::Input => FunctionCode::ReadInputRegisters,
        }
    }
}

/// Which tables a register appears in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tables {
    /// FC03 only.
    Holding,
    /// FC04 only.
    Input,
    /// Both, from one bank: for meters whose clients disagree on the function code
    /// (reference §0, §1.2, §1.3).
    Both,
}

impl Tables {
    /// `true` when `table` reaches the register.
    pub const fn contains(self, table: Table) -> bool {
        matches!(
            (self, table),
            (Self::Both, _) | (Self::Holding, Table::Holding) | (Self::Input, Table::Input)
        )
    }
}

/// Whether a client may write a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read only.
    Read,
    /// Readable and writable (FC06/FC16).
    ReadWrite,
}

/// One entry of a register map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegisterDef {
    /// First register address (0-based PDU address).
    pub address: u16,
    /// The vendor's or source's name for it.
    pub name: &'static str,
    /// What it shows.
    pub quantity: Quantity,
    /// The unit of `raw × scale`.
    pub unit: Unit,
    /// How it is laid out.
    pub encoding: Encoding,
    /// Raw value to unit.
    pub scale: Scale,
    /// Function codes that reach it.
    pub tables: Tables,
    /// Whether clients may write it.
    pub access: Access,
    /// `false` where the reference marks it UNCONFIRMED or it was added from client code.
    pub confirmed: bool,
    /// Where the entry comes from.
    pub source: &'static str,
}

impl RegisterDef {
    /// A confirmed, read-only register with scale 1; adjust with the builder methods.
    pub const fn new(
        address: u16,
        name: &'static str,
        quantity: Quantity,
        unit: Unit,
        encoding: Encoding,
        tables: Tables,
        source: &'static str,
    ) -> Self {
        Self {
            address,
            name,
            quantity,
            unit,
            encoding,
            scale: Scale::Pow10(0),
            tables,
            access: Access::Read,
            confirmed: true,
            source,
        }
    }

    /// The same register with `value = raw × 10^exponent`.
    pub const fn scaled(self, exponent: i8) -> Self {
        Self {
            scale: Scale::Pow10(exponent),
            ..self
        }
    }

    /// The same register with another scale.
    pub const fn with_scale(self, scale: Scale) -> Self {
        Self { scale, ..self }
    }

    /// The same register, writable.
    pub const fn writable(self) -> Self {
        Self {
            access: Access::ReadWrite,
            ..self
        }
    }

    /// The same register, marked unconfirmed.
    pub const fn unconfirmed(self) -> Self {
        Self {
            confirmed: false,
            ..self
        }
    }

    /// How many registers it occupies.
    pub const fn words(&self) -> u16 {
        self.encoding.words()
    }

    /// One past its last register, as u32 so the end of the address space fits.
    pub const fn end(&self) -> u32 {
        self.address as u32 + self.words() as u32
    }
}

/// A read a client issues to collect a reading: function code, start and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollRead {
    /// The table read.
    pub table: Table,
    /// First register.
    pub address: u16,
    /// Number of registers.
    pub count: u16,
}

impl PollRead {
    /// The request PDU for this read.
    pub const fn request(&self) -> Request {
        match self.table {
            Table::Holding => Request::ReadHoldingRegisters {
                address: self.address,
                quantity: self.count,
            },
            Table::Input => Request::ReadInputRegisters {
                address: self.address,
                quantity: self.count,
            },
        }
    }
}

/// A model's complete register map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterMap {
    /// The model.
    pub model: MeterModel,
    /// Every register, sorted by address; entries of one table never overlap.
    pub registers: &'static [RegisterDef],
    /// Quantities a decoded reading must contain; the rest are taken when present.
    pub required: &'static [Quantity],
    /// The reads a client makes to collect a full reading, modelled on a real client of this
    /// meter (named in each model's module).
    pub poll_plan: &'static [PollRead],
}

impl RegisterMap {
    /// The map of `model`.
    pub const fn of(model: MeterModel) -> &'static RegisterMap {
        match model {
            MeterModel::Djsf1352 => &djsf1352::MAP,
            MeterModel::Ddsu666 => &ddsu666::MAP,
            MeterModel::Dtsu666 => &dtsu666::MAP,
            MeterModel::Sdm630 => &sdm::SDM630_MAP,
            MeterModel::Sdm120 => &sdm::SDM120_MAP,
        }
    }

    /// The registers reachable through `table`, in address order.
    pub fn registers_in(&self, table: Table) -> impl Iterator<Item = &'static RegisterDef> {
        self.registers
            .iter()
            .filter(move |def| def.tables.contains(table))
    }

    /// `true` when the meter has any register in `table`, i.e. answers its read function.
    pub fn supports(&self, table: Table) -> bool {
        self.registers_in(table).next().is_some()
    }

    /// The register of `table` that covers `address`.
    pub fn find(&self, table: Table, address: u16) -> Option<&'static RegisterDef> {
        self.registers_in(table).find(|def| {
            u32::from(address) >= u32::from(def.address) && u32::from(address) < def.end()
        })
    }

    /// The registers of `table` that overlap `address..address + count`, in address order.
    pub fn overlapping(
        &self,
        table: Table,
        address: u16,
        count: u16,
    ) -> impl Iterator<Item = &'static RegisterDef> {
        let start = u32::from(address);
        let end = start + u32::from(count);
        self.registers_in(table)
            .filter(move |def| u32::from(def.address) < end && def.end() > start)
    }
}

#[cfg(test)]
mod tests;
