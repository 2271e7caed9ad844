//! The emulator side: a [`MeterReading`] shown as registers, and register reads answered the
//! way the meter would.
//!
//! Read rules (reference §0 and §1.8, MB AP §6.3/§6.4 and §7), checked in the specification's
//! order:
//! 1. a function other than FC03/FC04, or one whose table the model lacks (FC04 on the
//!    DJSF1352, FC03 measurements on an Eastron): exception 01;
//! 2. a count of 0 or above 125: exception 03;
//! 3. any register of the range unmapped, or the range past 0xFFFF: exception 02. Reserved
//!    registers inside a block the meter documents read as zero;
//! 4. a range that starts or ends inside a 32-bit value: served by default, exception 02 with
//!    [`SplitReads::Reject`];
//! 5. a reading of the wrong kind for the model (AC reading for a DC meter): exception 04, as
//!    the emulator cannot produce a sensible value.
//!
//! Numbers are rounded to the nearest register value and saturate at the encoding's range;
//! NaN becomes 0 in integer registers and stays NaN in float registers.

use super::config::{DecimalExponents, MeterConfig, SplitReads};
use super::exception::ExceptionCode;
use super::image::RegisterImage;
use super::map::{Encoding, Quantity, RegisterDef, RegisterMap, Scale, Setting, Table};
use super::pdu::{FunctionCode, MAX_READ_REGISTERS, Request, Response};
use super::reading::MeterReading;
use super::write::write_registers;

/// The largest decimal code the DJSF1352 emulator picks by itself: 10^3 per count.
const MAX_AUTO_CODE: u16 = 6;

/// `value × 10^exponent` in one correctly rounded operation (powers of ten up to 10^22 are
/// exact in f64).
pub(crate) fn scale10(value: f64, exponent: i32) -> f64 {
    if exponent >= 0 {
        value * 10f64.powi(exponent)
    } else {
        value / 10f64.powi(exponent.saturating_neg())
    }
}

/// The register's scale as a power of ten, with the DJSF energy LSB resolved.
pub(crate) fn scale_exponent(def: &RegisterDef, config: &MeterConfig) -> i32 {
    match def.scale {
        Scale::Pow10(exponent) => i32::from(exponent),
        Scale::DjsfEnergyLsb => i32::from(config.djsf.energy_lsb.exponent()),
    }
}

fn setting_value(config: &MeterConfig, setting: Setting) -> f64 {
    let model = config.model;
    let word = match setting {
        Setting::UnitId => u16::from(config.unit_id),
        // An unsupported baud rate fails `MeterConfig::validate`; show the factory code then.
        Setting::BaudCode => model
            .baud_code(config.baud_rate)
            .or(model.baud_code(model.default_baud_rate()))
            .unwrap_or(0),
        Setting::SdmParityStop => config.framing.sdm_code(),
        Setting::DjsfPtRatio => config.djsf.pt_ratio,
        Setting::DjsfRatedCurrent => config.djsf.rated_current_a,
        Setting::DjsfReadingInfo => {
            u16::from_be_bytes([config.djsf.reading_day, config.djsf.tariff.code()])
        }
        Setting::DjsfSoftwareVersion => config.djsf.software_version,
        // Rendered whole by `Encoding::Clock`.
        Setting::DjsfClock => 0,
        Setting::DtsuSoftwareVersion => config.dtsu.software_version,
        Setting::DtsuProgrammingCode => config.dtsu.programming_code,
        Setting::DtsuClearEnergy => config.dtsu.clear_energy,
        Setting::DtsuNetwork => config.dtsu.network,
        Setting::DtsuCtRatio => config.dtsu.ct_ratio,
        Setting::DtsuPtRatio => config.dtsu.pt_ratio,
        Setting::DtsuDisplayTime => config.dtsu.display_time,
        Setting::DtsuEndian => config.dtsu.endian,
        Setting::DtsuProtocol => config.dtsu.protocol,
    };
    f64::from(word)
}

/// The DJSF1352 mantissa and decimal code for `value`: `value ≈ mantissa × 10^(code − 3)`.
fn decimal_pair(value: f64, signed: bool, fixed_code: Option<u16>) -> [u16; 2] {
    let limit = if signed {
        f64::from(i16::MAX)
    } else {
        f64::from(u16::MAX)
    };
    let mantissa_for = |code: u16| scale10(value, 3 - i32::from(code)).round();
    let code = fixed_code.unwrap_or_else(|| {
        (0..=MAX_AUTO_CODE)
            .find(|&code| mantissa_for(code).abs() <= limit)
            .unwrap_or(MAX_AUTO_CODE)
    });
    let mantissa = mantissa_for(code);
    // Float-to-int `as` saturates and maps NaN to 0: exactly the register's behaviour.
    let word = if signed {
        mantissa as i16 as u16
    } else {
        mantissa as u16
    };
    [word, code]
}

fn fixed_code(config: &MeterConfig, quantity: Quantity) -> Option<u16> {
    match (config.djsf.exponents, quantity) {
        (DecimalExponents::Auto, _) => None,
        (DecimalExponents::Fixed { voltage, .. }, Quantity::DcVoltage) => Some(voltage),
        (DecimalExponents::Fixed { current, .. }, Quantity::DcCurrent) => Some(current),
        (DecimalExponents::Fixed { power, .. }, _) => Some(power),
    }
}

/// The words of one register definition; the first `def.words()` entries are meaningful.
pub(crate) fn render_def(
    def: &RegisterDef,
    config: &MeterConfig,
    reading: &MeterReading,
) -> [u16; 3] {
    let value = match def.quantity {
        Quantity::Setting(setting) => setting_value(config, setting),
        Quantity::Reserved => 0.0,
        quantity => reading.get(quantity).unwrap_or(0.0),
    };
    let exponent = i32::from(def.unit.reading_exponent()) + scale_exponent(def, config);
    let raw = scale10(value, -exponent);
    let order = config.word_order;
    match def.encoding {
        Encoding::U16 => [raw.round() as u16, 0, 0],
        Encoding::I16 => [raw.round() as i16 as u16, 0, 0],
        Encoding::U32 => {
            let [a, b] = order.split(raw.round() as u32);
            [a, b, 0]
        }
        Encoding::F32 => {
            let [a, b] = order.split_f32(raw as f32);
            [a, b, 0]
        }
        Encoding::DecimalPair { signed } => {
            let [a, b] = decimal_pair(raw, signed, fixed_code(config, def.quantity));
            [a, b, 0]
        }
        Encoding::Clock => config.djsf.clock.to_words(),
        Encoding::Reserved { .. } => [0; 3],
    }
}

/// Validate a read against the map (rules 1–4 of the module doc) and return its table.
pub fn check_read(
    map: &RegisterMap,
    split_reads: SplitReads,
    function: FunctionCode,
    address: u16,
    count: u16,
) -> Result<Table, ExceptionCode> {
    let table = Table::for_read(function).ok_or(ExceptionCode::IllegalFunction)?;
    if !map.supports(table) {
        return Err(ExceptionCode::IllegalFunction);
    }
    if count == 0 || count > MAX_READ_REGISTERS {
        return Err(ExceptionCode::IllegalDataValue);
    }
    let start = u32::from(address);
    let end = start + u32::from(count);
    if end > 0x1_0000 {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    let mut covered = 0;
    for def in map.overlapping(table, address, count) {
        let cut = u32::from(def.address) < start || def.end() > end;
        if cut && def.encoding.is_compound() && split_reads == SplitReads::Reject {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        covered += def.end().min(end) - u32::from(def.address).max(start);
    }
    if covered == u32::from(count) {
        Ok(table)
    } else {
        Err(ExceptionCode::IllegalDataAddress)
    }
}

/// Copy the part of `words` (the register at `def.address` and on) that falls into
/// `out`, which holds the registers from `start`.
fn copy_overlap(def: &RegisterDef, words: &[u16], start: u16, out: &mut [u16]) {
    for (offset, &word) in words.iter().enumerate().take(usize::from(def.words())) {
        let register = usize::from(def.address) + offset;
        if let Some(slot) = register
            .checked_sub(usize::from(start))
            .and_then(|i| out.get_mut(i))
        {
            *slot = word;
        }
    }
}

/// Serve `out.len()` registers from `address`, rendered from `reading`.
pub fn read_registers_into(
    config: &MeterConfig,
    reading: &MeterReading,
    function: FunctionCode,
    address: u16,
    out: &mut [u16],
) -> Result<(), ExceptionCode> {
    let count = u16::try_from(out.len()).map_err(|_| ExceptionCode::IllegalDataValue)?;
    let map = config.model.register_map();
    let table = check_read(map, config.split_reads, function, address, count)?;
    if !reading.fits(config.model.kind()) {
        return Err(ExceptionCode::ServerDeviceFailure);
    }
    // Reserved runs longer than `render_def`'s three words rely on this.
    out.fill(0);
    for def in map.overlapping(table, address, count) {
        copy_overlap(def, &render_def(def, config, reading), address, out);
    }
    Ok(())
}

/// Serve `count` registers from `address`, rendered from `reading`: what the meter answers to
/// FC03/FC04. Errors are the exception the meter replies with.
pub fn read_registers(
    config: &MeterConfig,
    reading: &MeterReading,
    function: FunctionCode,
    address: u16,
    count: u16,
) -> Result<Vec<u16>, ExceptionCode> {
    // Validate before allocating: `count` comes off the wire.
    check_read(
        config.model.register_map(),
        config.split_reads,
        function,
        address,
        count,
    )?;
    let mut out = vec![0; usize::from(count)];
    read_registers_into(config, reading, function, address, &mut out)?;
    Ok(out)
}

/// The response PDU the meter sends to `request`: register reads are served from `reading`,
/// register writes go to `config` (see [`write_registers`]), and anything else is answered
/// with exception 01.
pub fn respond(config: &mut MeterConfig, reading: &MeterReading, request: &Request) -> Response {
    let function = request.function();
    let result = match request {
        &Request::ReadHoldingRegisters { address, quantity } => {
            read_registers(config, reading, function, address, quantity)
                .map(Response::ReadHoldingRegisters)
        }
        &Request::ReadInputRegisters { address, quantity } => {
            read_registers(config, reading, function, address, quantity)
                .map(Response::ReadInputRegisters)
        }
        &Request::WriteSingleRegister { address, value } => {
            write_registers(config, function, address, &[value])
                .map(|()| Response::WriteSingleRegister { address, value })
        }
        Request::WriteMultipleRegisters { address, values } => {
            let address = *address;
            write_registers(config, function, address, values).map(|()| {
                let quantity = u16::try_from(values.len()).unwrap_or(u16::MAX);
                Response::WriteMultipleRegisters { address, quantity }
            })
        }
        _ => Err(ExceptionCode::IllegalFunction),
    };
    result.unwrap_or_else(|code| Response::exception(function, code))
}

/// Every register of the model rendered from `reading`, in each table that reaches it. Useful
/// to hold a frozen image (stale-value faults) or to corrupt single registers; serve it with
/// [`RegisterImage::serve`]. Fails with exception 04 when the reading's kind does not fit the
/// model.
pub fn render_image(
    config: &MeterConfig,
    reading: &MeterReading,
) -> Result<RegisterImage, ExceptionCode> {
    if !reading.fits(config.model.kind()) {
        return Err(ExceptionCode::ServerDeviceFailure);
    }
    let mut image = RegisterImage::new();
    for def in config.model.register_map().registers {
        let rendered = render_def(def, config, reading);
        for offset in 0..def.words() {
            let word = rendered.get(usize::from(offset)).copied().unwrap_or(0);
            let Some(address) = def.address.checked_add(offset) else {
                continue;
            };
            for table in [Table::Holding, Table::Input] {
                if def.tables.contains(table) {
                    image.set(table, address, word);
                }
            }
        }
    }
    Ok(image)
}

#[cfg(test)]
mod tests;
