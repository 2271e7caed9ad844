//! The client side: registers read from a real meter turned back into a [`MeterReading`].
//!
//! Collect the responses to the model's [`poll_plan`](super::map::RegisterMap::poll_plan) in a
//! [`RegisterImage`], then call [`decode_reading`]. Each quantity is taken from the first of
//! its registers (in address order) whose words are all present, so mirrored energy
//! registers and alternative encodings (DJSF1352 floats) are fallbacks. Quantities the model
//! lists as required must be present; the others stay zero when absent. Derived registers
//! (line voltages, import + export totals) and settings are not decoded.

use std::collections::BTreeSet;

use super::config::{MeterConfig, MeterModel};
use super::exception::ExceptionCode;
use super::image::RegisterImage;
use super::map::{Encoding, Quantity, RegisterDef, Table};
use super::pdu::FunctionCode;
use super::reading::{MeterKind, MeterReading};
use super::render::{scale_exponent, scale10};

/// The largest DJSF1352 decimal code accepted: 10^6 per count. The sources give no range;
/// anything larger is taken as a corrupt register rather than a real scale.
pub const MAX_DECIMAL_CODE: u16 = 9;

/// Why registers could not be turned into a reading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A required quantity's registers were not read.
    #[error("{model:?}: {quantity:?} missing (register {address:#06X} not read)")]
    Missing {
        /// The model decoded.
        model: MeterModel,
        /// The missing quantity.
        quantity: Quantity,
        /// Its first register.
        address: u16,
    },
    /// A float register holds NaN or an infinity.
    #[error("register {address:#06X} holds a non-finite float ({bits:#010X})")]
    NotFinite {
        /// The register.
        address: u16,
        /// The float's bits, in ABCD order.
        bits: u32,
    },
    /// A DJSF1352 decimal code above [`MAX_DECIMAL_CODE`].
    #[error("register {address:#06X}: decimal code {code} out of range")]
    BadExponent {
        /// The mantissa's register.
        address: u16,
        /// The code received.
        code: u16,
    },
    /// A block that runs past register 0xFFFF.
    #[error("block of {len} registers at {address:#06X} runs past 0xFFFF")]
    BlockOutOfRange {
        /// Its first register.
        address: u16,
        /// Its length.
        len: usize,
    },
    /// The meter answered a read with an exception.
    #[error("read at {address:#06X} answered with {code}")]
    Exception {
        /// The read's first register.
        address: u16,
        /// The exception.
        code: ExceptionCode,
    },
    /// The meter answered a read with a response of another function or length.
    #[error("read of {count} at {address:#06X} with {expected:?} answered by {received:?}")]
    UnexpectedResponse {
        /// The read's first register.
        address: u16,
        /// The read's function code.
        expected: FunctionCode,
        /// The number of registers asked for.
        count: u16,
        /// The function code of the response.
        received: FunctionCode,
    },
}

/// The words of `def`, from the first table that reaches it and holds all of them.
fn words_of(image: &RegisterImage, def: &RegisterDef) -> Option<Vec<u16>> {
    [Table::Holding, Table::Input]
        .into_iter()
        .filter(|&table| def.tables.contains(table))
        .find_map(|table| image.words(table, def.address, def.words()))
}

/// The value of one register definition, in the reading's units.
fn decode_value(
    def: &RegisterDef,
    words: &[u16],
    config: &MeterConfig,
) -> Result<f64, DecodeError> {
    let first = words.first().copied().unwrap_or(0);
    let second = words.get(1).copied().unwrap_or(0);
    let order = config.word_order;
    let (raw, decimal) = match def.encoding {
        Encoding::U16 => (f64::from(first), 0),
        Encoding::I16 => (f64::from(first as i16), 0),
        Encoding::U32 => (f64::from(order.join([first, second])), 0),
        Encoding::F32 => {
            let value = order.join_f32([first, second]);
            if !value.is_finite() {
                return Err(DecodeError::NotFinite {
                    address: def.address,
                    bits: value.to_bits(),
                });
            }
            (f64::from(value), 0)
        }
        Encoding::DecimalPair { signed } => {
            if second > MAX_DECIMAL_CODE {
                return Err(DecodeError::BadExponent {
                    address: def.address,
                    code: second,
                });
            }
            let mantissa = if signed {
                f64::from(first as i16)
            } else {
                f64::from(first)
            };
            (mantissa, i32::from(second) - 3)
        }
        Encoding::Clock | Encoding::Reserved { .. } => (0.0, 0),
    };
    let exponent = decimal + scale_exponent(def, config) + i32::from(def.unit.reading_exponent());
    Ok(scale10(raw, exponent))
}

/// Decode the reading of `config.model` from the registers in `image`.
pub fn decode_reading(
    config: &MeterConfig,
    image: &RegisterImage,
) -> Result<MeterReading, DecodeError> {
    let map = config.model.register_map();
    let mut reading = MeterReading::zero(config.model.kind());
    let mut found = BTreeSet::new();
    for def in map.registers {
        if matches!(def.quantity, Quantity::Setting(_) | Quantity::Reserved)
            || found.contains(&def.quantity)
        {
            continue;
        }
        let Some(words) = words_of(image, def) else {
            continue;
        };
        let value = decode_value(def, &words, config)?;
        if reading.set(def.quantity, value) {
            found.insert(def.quantity);
        }
    }
    for &quantity in map.required {
        if !found.contains(&quantity) {
            let address = map
                .registers
                .iter()
                .find(|def| def.quantity == quantity)
                .map_or(0, |def| def.address);
            return Err(DecodeError::Missing {
                model: config.model,
                quantity,
                address,
            });
        }
    }
    if let (MeterKind::AcSinglePhase, MeterReading::Ac(ac)) = (config.model.kind(), &mut reading) {
        ac.copy_l1_to_totals();
    }
    Ok(reading)
}

#[cfg(test)]
mod tests;
