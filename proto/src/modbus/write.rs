//! Register writes the emulated meters accept (FC06, FC16): device settings only.
//!
//! Writable registers are those the sources show being written or configured: the DJSF1352
//! clock (EN+ writes it with FC10), the DDSU666 address, the DTSU666 configuration words and
//! the Eastron parity, meter id and baud registers. Rules, after MB AP §6.6/§6.12 and §7:
//! * another function, or a model without writable registers: exception 01;
//! * no values, more than 123, or FC06 with more than one: exception 03;
//! * a register that is unmapped, read-only, or a multi-register value written in part:
//!   exception 02;
//! * a value the setting cannot take (unit id 0, unknown baud code, invalid date): exception 03.
//!
//! A write is all or nothing. It changes the [`MeterConfig`]; the caller applies what that
//! implies (answering at a new unit id, a new baud rate after restart). Writing the DTSU666
//! "ClrE" word is stored but does not reset the simulated energy.

use super::config::{Framing, MeterClock, MeterConfig};
use super::exception::ExceptionCode;
use super::map::{Access, Encoding, Quantity, RegisterDef, Setting, Table};
use super::pdu::{FunctionCode, MAX_WRITE_REGISTERS};

fn is_writable(def: &RegisterDef) -> bool {
    def.access == Access::ReadWrite && def.tables.contains(Table::Holding)
}

/// The 16-bit value of a one-word or float setting register.
fn setting_word(
    config: &MeterConfig,
    def: &RegisterDef,
    words: &[u16],
) -> Result<u16, ExceptionCode> {
    let first = words.first().copied().unwrap_or(0);
    match def.encoding {
        Encoding::U16 => Ok(first),
        Encoding::F32 => {
            let value = config
                .word_order
                .join_f32([first, words.get(1).copied().unwrap_or(0)]);
            let integral = value.fract() == 0.0 && (0.0..=f32::from(u16::MAX)).contains(&value);
            // The check above makes the cast exact.
            if integral {
                Ok(value as u16)
            } else {
                Err(ExceptionCode::IllegalDataValue)
            }
        }
        _ => Err(ExceptionCode::IllegalDataValue),
    }
}

/// Store one register definition's words into `config`.
fn apply(config: &mut MeterConfig, def: &RegisterDef, words: &[u16]) -> Result<(), ExceptionCode> {
    let Quantity::Setting(setting) = def.quantity else {
        return Err(ExceptionCode::IllegalDataAddress);
    };
    if setting == Setting::DjsfClock {
        let clock = match words {
            &[a, b, c] => MeterClock::from_words([a, b, c]),
            _ => None,
        };
        config.djsf.clock = clock.ok_or(ExceptionCode::IllegalDataValue)?;
        return Ok(());
    }
    let value = setting_word(config, def, words)?;
    let invalid = ExceptionCode::IllegalDataValue;
    match setting {
        Setting::UnitId => {
            config.unit_id = u8::try_from(value)
                .ok()
                .filter(|id| (1..=247).contains(id))
                .ok_or(invalid)?;
        }
        Setting::BaudCode => {
            config.baud_rate = config.model.baud_from_code(value).ok_or(invalid)?
        }
        Setting::SdmParityStop => config.framing = Framing::from_sdm_code(value).ok_or(invalid)?,
        Setting::DtsuClearEnergy => config.dtsu.clear_energy = value,
        Setting::DtsuNetwork => config.dtsu.network = value,
        Setting::DtsuCtRatio => config.dtsu.ct_ratio = value,
        Setting::DtsuPtRatio => config.dtsu.pt_ratio = value,
        Setting::DtsuDisplayTime => config.dtsu.display_time = value,
        Setting::DtsuProtocol => config.dtsu.protocol = value,
        // Not marked writable in any map; reaching here means a map/write mismatch.
        _ => return Err(ExceptionCode::IllegalDataAddress),
    }
    Ok(())
}

/// Write `values` from `address` with FC06 (one value) or FC16, as the meter would.
pub fn write_registers(
    config: &mut MeterConfig,
    function: FunctionCode,
    address: u16,
    values: &[u16],
) -> Result<(), ExceptionCode> {
    let map = config.model.register_map();
    let max = match function {
        FunctionCode::WriteSingleRegister => 1,
        FunctionCode::WriteMultipleRegisters => usize::from(MAX_WRITE_REGISTERS),
        _ => return Err(ExceptionCode::IllegalFunction),
    };
    if !map.registers.iter().any(is_writable) {
        return Err(ExceptionCode::IllegalFunction);
    }
    if values.is_empty() || values.len() > max {
        return Err(ExceptionCode::IllegalDataValue);
    }
    let count = u16::try_from(values.len()).map_err(|_| ExceptionCode::IllegalDataValue)?;
    let end = u32::from(address) + u32::from(count);
    if end > 0x1_0000 {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    let mut next = *config;
    let mut covered = 0;
    for def in map.overlapping(Table::Holding, address, count) {
        if !is_writable(def) || def.address < address || def.end() > end {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let offset = usize::from(def.address - address);
        let words = values
            .get(offset..offset + usize::from(def.words()))
            .unwrap_or_default();
        apply(&mut next, def, words)?;
        covered += def.words();
    }
    if covered != count {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    *config = next;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::config::MeterModel;
    use crate::modbus::words::WordOrder;

    const FC06: FunctionCode = FunctionCode::WriteSingleRegister;
    const FC16: FunctionCode = FunctionCode::WriteMultipleRegisters;

    #[test]
    fn en_plus_clock_write() {
        // 01 10 00 1E 00 03 06 17 03 13 0E 18 00: 2023-03-19 14:24:00.
        let mut config = MeterConfig::new(MeterModel::Djsf1352);
        write_registers(&mut config, FC16, 0x001E, &[0x1703, 0x130E, 0x1800]).unwrap();
        let expected = MeterClock {
            year: 23,
            month: 3,
            day: 19,
            hour: 14,
            minute: 24,
            second: 0,
        };
        assert_eq!(config.djsf.clock, expected);
        // Part of the clock, a bad date, a read-only register, FC06.
        let before = config;
        assert_eq!(
            write_registers(&mut config, FC16, 0x001E, &[0x1703]),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            write_registers(&mut config, FC16, 0x001E, &[0x1713, 0x130E, 0x1800]),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            write_registers(&mut config, FC06, 0x0010, &[2]),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(config, before, "failed writes change nothing");
    }

    #[test]
    fn ddsu666_address() {
        let mut config = MeterConfig::new(MeterModel::Ddsu666);
        write_registers(&mut config, FC06, 0x0006, &[7]).unwrap();
        assert_eq!(config.unit_id, 7);
        assert_eq!(
            write_registers(&mut config, FC06, 0x0006, &[0]),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            write_registers(&mut config, FC06, 0x0006, &[248]),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            write_registers(&mut config, FC06, 0x2000, &[1]),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            write_registers(&mut config, FC16, 0x0006, &[]),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            write_registers(&mut config, FC06, 0x0006, &[1, 2]),
            Err(ExceptionCode::IllegalDataValue)
        );
        let coils = FunctionCode::WriteMultipleCoils;
        assert_eq!(
            write_registers(&mut config, coils, 0x0006, &[1]),
            Err(ExceptionCode::IllegalFunction)
        );
    }

    #[test]
    fn dtsu666_block_write() {
        let mut config = MeterConfig::new(MeterModel::Dtsu666);
        // Prot, bAud (2 = 4800), Addr.
        write_registers(&mut config, FC16, 0x002C, &[1, 2, 9]).unwrap();
        assert_eq!(
            (config.dtsu.protocol, config.baud_rate, config.unit_id),
            (1, 4800, 9)
        );
        assert_eq!(
            write_registers(&mut config, FC06, 0x002D, &[7]),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            write_registers(&mut config, FC06, 0x0000, &[1]),
            Err(ExceptionCode::IllegalDataAddress)
        );
    }

    #[test]
    fn sdm_float_settings() {
        let mut config = MeterConfig::new(MeterModel::Sdm630);
        let [a, b] = WordOrder::Abcd.split_f32(3.0);
        let [c, d] = WordOrder::Abcd.split_f32(12.0);
        write_registers(&mut config, FC16, 0x0012, &[a, b, c, d]).unwrap();
        assert_eq!((config.framing, config.unit_id), (Framing::N2, 12));
        let [a, b] = WordOrder::Abcd.split_f32(4.0);
        write_registers(&mut config, FC16, 0x001C, &[a, b]).unwrap();
        assert_eq!(config.baud_rate, 38400);
        let [a, b] = WordOrder::Abcd.split_f32(1.5);
        assert_eq!(
            write_registers(&mut config, FC16, 0x0014, &[a, b]),
            Err(ExceptionCode::IllegalDataValue)
        );
        // Half a float.
        assert_eq!(
            write_registers(&mut config, FC06, 0x0014, &[a]),
            Err(ExceptionCode::IllegalDataAddress)
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_writes_never_panic(
            model in proptest::sample::select(MeterModel::ALL.to_vec()),
            function in 0u8..=0x20,
            address in 0u16..=0x30,
            values in proptest::collection::vec(proptest::num::u16::ANY, 0..130),
        ) {
            let mut config = MeterConfig::new(model);
            if write_registers(&mut config, FunctionCode::new(function), address, &values).is_ok() {
                proptest::prop_assert_eq!(config.validate(), Ok(()));
            }
        }
    }
}
