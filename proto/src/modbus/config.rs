//! Which meter is emulated or read, and its device settings.
//!
//! [`MeterConfig::new`] gives a model's factory defaults as far as the sources know them; the
//! scenario overrides fields. Settings that a register shows (unit id, baud code, DJSF clock,
//! DTSU configuration words) live here rather than in the reading because they do not change
//! with the physics.

use super::map::RegisterMap;
use super::reading::MeterKind;

/// The meter models chargestorm emulates and reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum MeterModel {
    /// Acrel DJSF1352-RN DC rail meter: FC03, integer mantissa + decimal-exponent pairs
    /// (reference §1.1).
    Djsf1352,
    /// Chint DDSU666 single-phase: float32 at 0x2000/0x4000, FC03 and FC04 (reference §1.2).
    Ddsu666,
    /// Chint DTSU666 three-phase four-wire: scaled float32, FC03 and FC04 (reference §1.3).
    Dtsu666,
    /// Eastron SDM630 three-phase: FC04 input registers, float32 in SI units (reference §1.5).
    Sdm630,
    /// Eastron SDM120 single-phase: the SDM630 layout for one phase (reference §1.5).
    Sdm120,
}

/// Baud rates that the models without a baud-rate register accept.
const COMMON_BAUD_RATES: [u32; 6] = [1200, 2400, 4800, 9600, 19200, 38400];

impl MeterModel {
    /// Every model.
    pub const ALL: [MeterModel; 5] = [
        Self::Djsf1352,
        Self::Ddsu666,
        Self::Dtsu666,
        Self::Sdm630,
        Self::Sdm120,
    ];

    /// The vendor's model name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Djsf1352 => "Acrel DJSF1352-RN",
            Self::Ddsu666 => "Chint DDSU666",
            Self::Dtsu666 => "Chint DTSU666",
            Self::Sdm630 => "Eastron SDM630",
            Self::Sdm120 => "Eastron SDM120",
        }
    }

    /// DC, single-phase or three-phase.
    pub const fn kind(self) -> MeterKind {
        match self {
            Self::Djsf1352 => MeterKind::Dc,
            Self::Ddsu666 | Self::Sdm120 => MeterKind::AcSinglePhase,
            Self::Dtsu666 | Self::Sdm630 => MeterKind::AcThreePhase,
        }
    }

    /// The register map.
    pub const fn register_map(self) -> &'static RegisterMap {
        RegisterMap::of(self)
    }

    /// The factory baud rate: 9600 for all but the SDM120's 2400 (reference §1.1, §1.2, §1.3,
    /// §1.5).
    pub const fn default_baud_rate(self) -> u32 {
        match self {
            Self::Sdm120 => 2400,
            _ => 9600,
        }
    }

    /// The model's baud-rate code for `baud_rate`, for models with a baud register.
    ///
    /// Eastron codes come from the SDM_Energy_Meter library's holding-register notes
    /// (SDM630: 0=2400, 1=4800, 2=9600, 3=19200, 4=38400; SDM120: 0=2400, 1=4800, 2=9600,
    /// 5=1200). DTSU666: the michielfromNL emulator sets `bAud` = 3 for 9600; the codes
    /// 0=1200, 1=2400, 2=4800 around it are UNCONFIRMED.
    pub const fn baud_code(self, baud_rate: u32) -> Option<u16> {
        match (self, baud_rate) {
            (Self::Sdm630 | Self::Sdm120, 2400) => Some(0),
            (Self::Sdm630 | Self::Sdm120, 4800) => Some(1),
            (Self::Sdm630 | Self::Sdm120, 9600) => Some(2),
            (Self::Sdm630, 19200) => Some(3),
            (Self::Sdm630, 38400) => Some(4),
            (Self::Sdm120, 1200) => Some(5),
            (Self::Dtsu666, 1200) => Some(0),
            (Self::Dtsu666, 2400) => Some(1),
            (Self::Dtsu666, 4800) => Some(2),
            (Self::Dtsu666, 9600) => Some(3),
            _ => None,
        }
    }

    /// The baud rate a model's baud-rate code stands for; see [`MeterModel::baud_code`].
    pub fn baud_from_code(self, code: u16) -> Option<u32> {
        COMMON_BAUD_RATES
            .into_iter()
            .find(|&baud| self.baud_code(baud) == Some(code))
    }

    /// `true` when the model can be set to `baud_rate`.
    pub fn supports_baud_rate(self, baud_rate: u32) -> bool {
        match self {
            Self::Djsf1352 | Self::Ddsu666 => COMMON_BAUD_RATES.contains(&baud_rate),
            _ => self.baud_code(baud_rate).is_some(),
        }
    }
}

/// What the emulator does with a read that starts or ends inside a multi-register value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SplitReads {
    /// Serve the registers anyway, as a plain register bank would (the reference's
    /// tokio-modbus and pymodbus emulators do). The default: the register file is
    /// word-addressed and a client that misaligns sees garbage, as it would on most meters.
    #[default]
    Serve,
    /// Answer exception 02 (illegal data address), for testing clients against a strict
    /// meter.
    Reject,
}

/// Serial character framing (8 data bits always).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Framing {
    /// No parity, one stop bit: the default of every model here.
    #[default]
    N1,
    /// Even parity, one stop bit.
    E1,
    /// Odd parity, one stop bit.
    O1,
    /// No parity, two stop bits (OpenEMS recommends 9600-N-8-2 for the DTSU666).
    N2,
}

impl Framing {
    /// The Eastron parity/stop code (SDM_Energy_Meter notes: 0 = 8N1, 1 = 8E1, 2 = 8O1,
    /// 3 = 8N2).
    pub const fn sdm_code(self) -> u16 {
        match self {
            Self::N1 => 0,
            Self::E1 => 1,
            Self::O1 => 2,
            Self::N2 => 3,
        }
    }

    /// The framing for an Eastron parity/stop code.
    pub const fn from_sdm_code(code: u16) -> Option<Self> {
        match code {
            0 => Some(Self::N1),
            1 => Some(Self::E1),
            2 => Some(Self::O1),
            3 => Some(Self::N2),
            _ => None,
        }
    }
}

/// The DJSF1352 energy register's least significant bit (reference §1.1: UNCONFIRMED;
/// EVerest reads Wh, a third-party driver 0.0001 kWh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum EnergyLsb {
    /// 1 Wh per count (EVerest). The default.
    #[default]
    OneWh,
    /// 0.1 Wh per count (0.0001 kWh, the DJSF1352/ADL400 Python driver).
    TenthWh,
}

impl EnergyLsb {
    /// Watt-hours per count as a power of ten: 0 for 1 Wh, -1 for 0.1 Wh.
    pub const fn exponent(self) -> i8 {
        match self {
            Self::OneWh => 0,
            Self::TenthWh => -1,
        }
    }
}

/// How the DJSF1352 emulator picks the decimal codes of its mantissa/exponent pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DecimalExponents {
    /// The smallest code whose mantissa still fits: the finest resolution the pair can carry.
    /// The default; the real meter's rule is not documented.
    #[default]
    Auto,
    /// Fixed codes; mantissas saturate when the value does not fit. The EN+ capture of an
    /// idle meter shows voltage 3, current 2, power 5.
    Fixed {
        /// Voltage code (DPT).
        voltage: u16,
        /// Current code (DCT).
        current: u16,
        /// Power code (DP).
        power: u16,
    },
}

/// The DJSF1352 tariff period (EN+ `eMeterDjsf1352rnRate_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Tariff {
    /// 0: sharp (尖).
    Sharp,
    /// 1: peak (峰).
    Peak,
    /// 2: flat (平).
    Flat,
    /// 3: valley (谷). The EN+ capture shows it; the default.
    #[default]
    Valley,
}

impl Tariff {
    /// The code in the low byte of register 0x0021.
    pub const fn code(self) -> u8 {
        match self {
            Self::Sharp => 0,
            Self::Peak => 1,
            Self::Flat => 2,
            Self::Valley => 3,
        }
    }
}

/// A DJSF1352 date and time, as the meter stores it (two-digit year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MeterClock {
    /// Year within the century, 0..=99.
    pub year: u8,
    /// Month, 1..=12.
    pub month: u8,
    /// Day, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
}

impl Default for MeterClock {
    /// 2024-03-19 14:20:09, the time in the EN+ capture.
    fn default() -> Self {
        Self {
            year: 24,
            month: 3,
            day: 19,
            hour: 14,
            minute: 20,
            second: 9,
        }
    }
}

impl MeterClock {
    /// The three registers: `YY MM`, `DD hh`, `mm ss`.
    pub const fn to_words(self) -> [u16; 3] {
        [
            u16::from_be_bytes([self.year, self.month]),
            u16::from_be_bytes([self.day, self.hour]),
            u16::from_be_bytes([self.minute, self.second]),
        ]
    }

    /// The clock in three registers, or `None` if a field is out of range (a client wrote a
    /// bad time).
    pub fn from_words(words: [u16; 3]) -> Option<Self> {
        let [[year, month], [day, hour], [minute, second]] = words.map(u16::to_be_bytes);
        let clock = Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };
        let valid = year <= 99
            && (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour <= 23
            && minute <= 59
            && second <= 59;
        valid.then_some(clock)
    }
}

/// DJSF1352 device registers. Defaults are the EN+ capture's values (reference §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DjsfSettings {
    /// The energy registers' LSB.
    pub energy_lsb: EnergyLsb,
    /// How decimal codes are chosen.
    pub exponents: DecimalExponents,
    /// Voltage transformer ratio (0x0010). Default 1.
    pub pt_ratio: u16,
    /// Primary rated current in A (0x0011). Default 250 (EN+ capture `00 FA`).
    pub rated_current_a: u16,
    /// Software version (0x0023). Default 0x0103 (EN+ capture).
    pub software_version: u16,
    /// The meter's clock (0x001E..0x0020). The caller keeps it current.
    pub clock: MeterClock,
    /// Meter-reading day, 1..=31 (high byte of 0x0021). Default 1.
    pub reading_day: u8,
    /// Current tariff (low byte of 0x0021).
    pub tariff: Tariff,
}

impl Default for DjsfSettings {
    fn default() -> Self {
        Self {
            energy_lsb: EnergyLsb::OneWh,
            exponents: DecimalExponents::Auto,
            pt_ratio: 1,
            rated_current_a: 250,
            software_version: 0x0103,
            clock: MeterClock::default(),
            reading_day: 1,
            tariff: Tariff::Valley,
        }
    }
}

/// DTSU666 configuration words. Defaults are the michielfromNL DTSU666 emulator's
/// (reference §1.3); their meaning beyond the names is UNCONFIRMED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DtsuSettings {
    /// "REV." software version (0x0000). Default 204.
    pub software_version: u16,
    /// "UCode" programming code (0x0001). Default 701.
    pub programming_code: u16,
    /// "ClrE" energy reset (0x0002). Default 0.
    pub clear_energy: u16,
    /// "nET" network selection (0x0003). Default 0.
    pub network: u16,
    /// "Ct" current transformer ratio (0x0006). Default 1.
    pub ct_ratio: u16,
    /// "Pt" voltage transformer ratio (0x0007). Default 10.
    pub pt_ratio: u16,
    /// "Disp" rotating display time (0x000A). Default 0.
    pub display_time: u16,
    /// "Endian", reserved (0x000C). Default 0.
    pub endian: u16,
    /// "Prot" protocol/stop-bit code (0x002C). Default 3.
    pub protocol: u16,
}

impl Default for DtsuSettings {
    fn default() -> Self {
        Self {
            software_version: 204,
            programming_code: 701,
            clear_energy: 0,
            network: 0,
            ct_ratio: 1,
            pt_ratio: 10,
            display_time: 0,
            endian: 0,
            protocol: 3,
        }
    }
}

/// An emulated or polled meter: model, encoding choices and device settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeterConfig {
    /// The model.
    pub model: MeterModel,
    /// Order of the words of 32-bit values (floats and integers alike). Default ABCD.
    pub word_order: super::words::WordOrder,
    /// Reads that cut a 32-bit value. Default: serve them.
    pub split_reads: SplitReads,
    /// Modbus unit id, 1..=247. Default 1 (all models, reference §1).
    pub unit_id: u8,
    /// Serial speed. Default: the model's factory rate.
    pub baud_rate: u32,
    /// Serial framing. Default 8N1.
    pub framing: Framing,
    /// DJSF1352 registers; ignored by other models.
    pub djsf: DjsfSettings,
    /// DTSU666 registers; ignored by other models.
    pub dtsu: DtsuSettings,
}

/// A setting outside what the model accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Unit ids are 1..=247 (0 is broadcast, 248..=255 reserved; Serial Line §2.2).
    #[error("unit id {unit_id} outside 1..=247")]
    UnitId {
        /// The unit id given.
        unit_id: u8,
    },
    /// The model cannot run at this baud rate.
    #[error("{model:?} does not support {baud_rate} baud")]
    BaudRate {
        /// The model.
        model: MeterModel,
        /// The baud rate given.
        baud_rate: u32,
    },
    /// A DJSF1352 tariff day outside 1..=31.
    #[error("meter-reading day {day} outside 1..=31")]
    ReadingDay {
        /// The day given.
        day: u8,
    },
}

impl MeterConfig {
    /// `model` with its factory defaults.
    pub fn new(model: MeterModel) -> Self {
        Self {
            model,
            word_order: super::words::WordOrder::Abcd,
            split_reads: SplitReads::Serve,
            unit_id: 1,
            baud_rate: model.default_baud_rate(),
            framing: Framing::N1,
            djsf: DjsfSettings::default(),
            dtsu: DtsuSettings::default(),
        }
    }

    /// Check the settings the model constrains.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=247).contains(&self.unit_id) {
            return Err(ConfigError::UnitId {
                unit_id: self.unit_id,
            });
        }
        if !self.model.supports_baud_rate(self.baud_rate) {
            return Err(ConfigError::BaudRate {
                model: self.model,
                baud_rate: self.baud_rate,
            });
        }
        if self.model == MeterModel::Djsf1352 && !(1..=31).contains(&self.djsf.reading_day) {
            return Err(ConfigError::ReadingDay {
                day: self.djsf.reading_day,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        for model in MeterModel::ALL {
            assert_eq!(MeterConfig::new(model).validate(), Ok(()), "{model:?}");
        }
    }

    #[test]
    fn validation_errors() {
        let mut config = MeterConfig::new(MeterModel::Sdm120);
        config.baud_rate = 19200;
        assert_eq!(
            config.validate(),
            Err(ConfigError::BaudRate {
                model: MeterModel::Sdm120,
                baud_rate: 19200
            })
        );
        config.baud_rate = 1200;
        config.unit_id = 0;
        assert_eq!(config.validate(), Err(ConfigError::UnitId { unit_id: 0 }));
    }

    #[test]
    fn codes_round_trip() {
        for model in MeterModel::ALL {
            for baud in COMMON_BAUD_RATES {
                if let Some(code) = model.baud_code(baud) {
                    assert_eq!(model.baud_from_code(code), Some(baud), "{model:?} {baud}");
                }
            }
        }
        assert_eq!(MeterModel::Sdm630.baud_from_code(3), Some(19200));
        assert_eq!(MeterModel::Sdm120.baud_from_code(3), None);
        for framing in [Framing::N1, Framing::E1, Framing::O1, Framing::N2] {
            assert_eq!(Framing::from_sdm_code(framing.sdm_code()), Some(framing));
        }
    }

    #[test]
    fn clock_words_match_the_en_plus_capture() {
        // Reply `18 03 13 0E 14 09`: 2024-03-19 14:20:09.
        assert_eq!(MeterClock::default().to_words(), [0x1803, 0x130E, 0x1409]);
        assert_eq!(
            MeterClock::from_words([0x1803, 0x130E, 0x1409]),
            Some(MeterClock::default())
        );
        assert_eq!(
            MeterClock::from_words([0x1813, 0x130E, 0x1409]),
            None,
            "month 19"
        );
    }
}
