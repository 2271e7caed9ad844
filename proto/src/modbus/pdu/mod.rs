//! Modbus protocol data units (PDUs): the function code and its data, independent of the
//! transport (RTU or TCP).
//!
//! Layouts, limits and exception rules come from the MODBUS Application Protocol
//! Specification V1.1b3 ("MB AP"), section 6. Parsing is strict: a PDU that decodes into a
//! [`Request`] or [`Response`] encodes back to the same bytes. Encoding is not validated beyond
//! what the wire can carry, so fault injection can still emit a request for, say, zero
//! registers.

use super::exception::ExceptionCode;

/// The largest PDU the serial and TCP ADUs can carry: 256-byte RTU ADU minus address and CRC
/// (MB AP §4.1).
pub const MAX_PDU_LEN: usize = 253;
/// Most coils or discrete inputs one read may ask for (MB AP §6.1, §6.2: 0x07D0).
pub const MAX_READ_BITS: u16 = 2000;
/// Most registers one read may ask for (MB AP §6.3, §6.4: 0x007D).
pub const MAX_READ_REGISTERS: u16 = 125;
/// Most coils one Write Multiple Coils may carry (MB AP §6.11: 0x07B0).
pub const MAX_WRITE_COILS: u16 = 1968;
/// Most registers one Write Multiple Registers may carry (MB AP §6.12: 0x007B).
pub const MAX_WRITE_REGISTERS: u16 = 123;

/// The ON value of Write Single Coil (MB AP §6.5); 0x0000 is OFF and anything else is illegal.
const COIL_ON: u16 = 0xFF00;
/// The bit that marks an exception response's function code (MB AP §7).
const EXCEPTION_FLAG: u8 = 0x80;

/// A Modbus function code (MB AP §5.1 public function codes).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum FunctionCode {
    /// 0x01 Read Coils (MB AP §6.1).
    ReadCoils,
    /// 0x02 Read Discrete Inputs (MB AP §6.2).
    ReadDiscreteInputs,
    /// 0x03 Read Holding Registers (MB AP §6.3).
    ReadHoldingRegisters,
    /// 0x04 Read Input Registers (MB AP §6.4).
    ReadInputRegisters,
    /// 0x05 Write Single Coil (MB AP §6.5).
    WriteSingleCoil,
    /// 0x06 Write Single Register (MB AP §6.6).
    WriteSingleRegister,
    /// 0x0F Write Multiple Coils (MB AP §6.11).
    WriteMultipleCoils,
    /// 0x10 Write Multiple Registers (MB AP §6.12).
    WriteMultipleRegisters,
    /// Any other code. chargestorm does not parse its data.
    Custom(u8),
}

impl FunctionCode {
    /// The function code for a byte on the wire. Every byte maps to some variant.
    pub const fn new(value: u8) -> Self {
        match value {
            0x01 => Self::ReadCoils,
            0x02 => Self::ReadDiscreteInputs,
            0x03 => Self::ReadHoldingRegisters,
            0x04 => Self::ReadInputRegisters,
            0x05 => Self::WriteSingleCoil,
            0x06 => Self::WriteSingleRegister,
            0x0F => Self::WriteMultipleCoils,
            0x10 => Self::WriteMultipleRegisters,
            other => Self::Custom(other),
        }
    }

    /// The byte sent on the wire.
    pub const fn value(self) -> u8 {
        match self {
            Self::ReadCoils => 0x01,
            Self::ReadDiscreteInputs => 0x02,
            Self::ReadHoldingRegisters => 0x03,
            Self::ReadInputRegisters => 0x04,
            Self::WriteSingleCoil => 0x05,
            Self::WriteSingleRegister => 0x06,
            Self::WriteMultipleCoils => 0x0F,
            Self::WriteMultipleRegisters => 0x10,
            Self::Custom(other) => other,
        }
    }
}

/// Why a PDU could not be parsed or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PduError {
    /// The PDU had no function code byte at all.
    #[error("empty PDU")]
    Empty,
    /// The function code is not one chargestorm parses (and, for a request, not one a server
    /// supports: answer exception 01).
    #[error("unsupported function code {function:#04X}")]
    UnsupportedFunction {
        /// The function code byte received.
        function: u8,
    },
    /// The PDU is shorter or longer than its function code and byte count imply.
    #[error("function {function:#04X}: PDU is {actual} bytes, expected {expected}")]
    BadLength {
        /// The function code byte.
        function: u8,
        /// The length the layout implies.
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// A quantity of coils or registers is zero or above the function's limit (MB AP §6).
    #[error("function {function:#04X}: quantity {quantity} outside 1..={max}")]
    QuantityOutOfRange {
        /// The function code byte.
        function: u8,
        /// The quantity received.
        quantity: u16,
        /// The function's upper limit.
        max: u16,
    },
    /// A byte count disagrees with the quantity it accompanies, or a register response has an
    /// odd byte count.
    #[error("function {function:#04X}: byte count {byte_count}, expected {expected}")]
    ByteCountMismatch {
        /// The function code byte.
        function: u8,
        /// The byte count received.
        byte_count: u8,
        /// The byte count the quantity implies.
        expected: usize,
    },
    /// Write Single Coil carried a value other than 0xFF00 (ON) or 0x0000 (OFF) (MB AP §6.5).
    #[error("write single coil value {value:#06X} is neither 0xFF00 nor 0x0000")]
    InvalidCoilValue {
        /// The value received.
        value: u16,
    },
    /// The PDU would be longer than the 253 bytes an ADU can carry.
    #[error("PDU of {len} bytes exceeds {MAX_PDU_LEN}")]
    TooLong {
        /// The PDU length, in bytes.
        len: usize,
    },
}

impl PduError {
    /// The exception a server answers a request with when parsing fails this way (MB AP §7:
    /// 01 for an unknown function, 03 for a malformed remainder of the request).
    pub const fn exception_code(&self) -> ExceptionCode {
        match self {
            Self::UnsupportedFunction { .. } => ExceptionCode::IllegalFunction,
            _ => ExceptionCode::IllegalDataValue,
        }
    }
}

/// A request PDU sent by a Modbus client (master).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// 0x01 Read Coils (MB AP §6.1).
    ReadCoils {
        /// First coil address.
        address: u16,
        /// Number of coils, 1..=2000.
        quantity: u16,
    },
    /// 0x02 Read Discrete Inputs (MB AP §6.2).
    ReadDiscreteInputs {
        /// First input address.
        address: u16,
        /// Number of inputs, 1..=2000.
        quantity: u16,
    },
    /// 0x03 Read Holding Registers (MB AP §6.3).
    ReadHoldingRegisters {
        /// First register address.
        address: u16,
        /// Number of registers, 1..=125.
        quantity: u16,
    },
    /// 0x04 Read Input Registers (MB AP §6.4).
    ReadInputRegisters {
        /// First register address.
        address: u16,
        /// Number of registers, 1..=125.
        quantity: u16,
    },
    /// 0x05 Write Single Coil (MB AP §6.5).
    WriteSingleCoil {
        /// Coil address.
        address: u16,
        /// The state to write.
        on: bool,
    },
    /// 0x06 Write Single Register (MB AP §6.6).
    WriteSingleRegister {
        /// Register address.
        address: u16,
        /// The word to write.
        value: u16,
    },
    /// 0x0F Write Multiple Coils (MB AP §6.11).
    WriteMultipleCoils {
        /// First coil address.
        address: u16,
        /// Coil states, 1..=1968 of them.
        coils: Vec<bool>,
    },
    /// 0x10 Write Multiple Registers (MB AP §6.12).
    WriteMultipleRegisters {
        /// First register address.
        address: u16,
        /// Words to write, 1..=123 of them.
        values: Vec<u16>,
    },
}

/// A response PDU sent by a Modbus server (slave).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// 0x01 Read Coils: the bits of every data byte, so a multiple of 8 long; the client
    /// truncates to the quantity it asked for (MB AP §6.1).
    ReadCoils(Vec<bool>),
    /// 0x02 Read Discrete Inputs, laid out like [`Response::ReadCoils`] (MB AP §6.2).
    ReadDiscreteInputs(Vec<bool>),
    /// 0x03 Read Holding Registers: the register words (MB AP §6.3).
    ReadHoldingRegisters(Vec<u16>),
    /// 0x04 Read Input Registers: the register words (MB AP §6.4).
    ReadInputRegisters(Vec<u16>),
    /// 0x05 Write Single Coil: an echo of the request (MB AP §6.5).
    WriteSingleCoil {
        /// Coil address.
        address: u16,
        /// The state written.
        on: bool,
    },
    /// 0x06 Write Single Register: an echo of the request (MB AP §6.6).
    WriteSingleRegister {
        /// Register address.
        address: u16,
        /// The word written.
        value: u16,
    },
    /// 0x0F Write Multiple Coils: address and quantity written (MB AP §6.11).
    WriteMultipleCoils {
        /// First coil address.
        address: u16,
        /// Number of coils written.
        quantity: u16,
    },
    /// 0x10 Write Multiple Registers: address and quantity written (MB AP §6.12).
    WriteMultipleRegisters {
        /// First register address.
        address: u16,
        /// Number of registers written.
        quantity: u16,
    },
    /// An exception response: function code with the high bit set, then the code (MB AP §7).
    Exception {
        /// The function code of the failed request (without the 0x80 flag).
        function: FunctionCode,
        /// Why it failed.
        code: ExceptionCode,
    },
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    match (bytes.get(at), bytes.get(at + 1)) {
        (Some(&high), Some(&low)) => u16::from_be_bytes([high, low]),
        // Callers check lengths first; a missing byte reads as zero rather than panicking.
        _ => 0,
    }
}

fn expect_len(function: u8, pdu: &[u8], expected: usize) -> Result<(), PduError> {
    if pdu.len() == expected {
        Ok(())
    } else {
        Err(PduError::BadLength {
            function,
            expected,
            actual: pdu.len(),
        })
    }
}

fn check_quantity(function: u8, quantity: u16, max: u16) -> Result<u16, PduError> {
    if (1..=max).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(PduError::QuantityOutOfRange {
            function,
            quantity,
            max,
        })
    }
}

fn unpack_bits(bytes: &[u8]) -> Vec<bool> {
    bytes
        .iter()
        .flat_map(|&byte| (0..8).map(move |bit| byte & (1 << bit) != 0))
        .collect()
}

fn pack_bits(bits: &[bool], out: &mut Vec<u8>) {
    for chunk in bits.chunks(8) {
        let byte = chunk.iter().enumerate().fold(
            0u8,
            |acc, (bit, &on)| if on { acc | (1 << bit) } else { acc },
        );
        out.push(byte);
    }
}

/// Truncating casts are safe where this is used: `encode` rejects anything over 253 bytes
/// first, so counts and quantities fit.
fn low_u8(value: usize) -> u8 {
    u8::try_from(value).unwrap_or(u8::MAX)
}

fn low_u16(value: usize) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}

impl Request {
    /// The function code of this request.
    pub const fn function(&self) -> FunctionCode {
        match self {
            Self::ReadCoils { .. } => FunctionCode::ReadCoils,
            Self::ReadDiscreteInputs { .. } => FunctionCode::ReadDiscreteInputs,
            Self::ReadHoldingRegisters { .. } => FunctionCode::ReadHoldingRegisters,
            Self::ReadInputRegisters { .. } => FunctionCode::ReadInputRegisters,
            Self::WriteSingleCoil { .. } => FunctionCode::WriteSingleCoil,
            Self::WriteSingleRegister { .. } => FunctionCode::WriteSingleRegister,
            Self::WriteMultipleCoils { .. } => FunctionCode::WriteMultipleCoils,
            Self::WriteMultipleRegisters { .. } => FunctionCode::WriteMultipleRegisters,
        }
    }

    /// Parse one complete request PDU. Quantities and byte counts are checked against MB AP §6;
    /// [`PduError::exception_code`] says what a server should answer on failure.
    pub fn decode(pdu: &[u8]) -> Result<Self, PduError> {
        let &function = pdu.first().ok_or(PduError::Empty)?;
        let address = be16(pdu, 1);
        let field = be16(pdu, 3);
        match FunctionCode::new(function) {
            FunctionCode::ReadCoils
            | FunctionCode::ReadDiscreteInputs
            | FunctionCode::ReadHoldingRegisters
            | FunctionCode::ReadInputRegisters => Self::decode_read(function, pdu),
            FunctionCode::WriteSingleCoil => {
                expect_len(function, pdu, 5)?;
                match field {
                    COIL_ON => Ok(Self::WriteSingleCoil { address, on: true }),
                    0x0000 => Ok(Self::WriteSingleCoil { address, on: false }),
                    value => Err(PduError::InvalidCoilValue { value }),
                }
            }
            FunctionCode::WriteSingleRegister => {
                expect_len(function, pdu, 5)?;
                Ok(Self::WriteSingleRegister {
                    address,
                    value: field,
                })
            }
            FunctionCode::WriteMultipleCoils | FunctionCode::WriteMultipleRegisters => {
                Self::decode_write_multiple(function, pdu)
            }
            FunctionCode::Custom(_) => Err(PduError::UnsupportedFunction { function }),
        }
    }

    fn decode_read(function: u8, pdu: &[u8]) -> Result<Self, PduError> {
        expect_len(function, pdu, 5)?;
        let address = be16(pdu, 1);
        let quantity = be16(pdu, 3);
        Ok(match FunctionCode::new(function) {
            FunctionCode::ReadCoils => Self::ReadCoils {
                address,
                quantity: check_quantity(function, quantity, MAX_READ_BITS)?,
            },
            FunctionCode::ReadDiscreteInputs => Self::ReadDiscreteInputs {
                address,
                quantity: check_quantity(function, quantity, MAX_READ_BITS)?,
            },
            FunctionCode::ReadHoldingRegisters => Self::ReadHoldingRegisters {
                address,
                quantity: check_quantity(function, quantity, MAX_READ_REGISTERS)?,
            },
            _ => Self::ReadInputRegisters {
                address,
                quantity: check_quantity(function, quantity, MAX_READ_REGISTERS)?,
            },
        })
    }

    fn decode_write_multiple(function: u8, pdu: &[u8]) -> Result<Self, PduError> {
        let byte_count = *pdu.get(5).ok_or(PduError::BadLength {
            function,
            expected: 6,
            actual: pdu.len(),
        })?;
        expect_len(function, pdu, 6 + usize::from(byte_count))?;
        let address = be16(pdu, 1);
        let quantity = be16(pdu, 3);
        let data = pdu.get(6..).unwrap_or_default();
        if function == FunctionCode::WriteMultipleCoils.value() {
            let quantity = check_quantity(function, quantity, MAX_WRITE_COILS)?;
            let expected = usize::from(quantity).div_ceil(8);
            if usize::from(byte_count) != expected {
                return Err(PduError::ByteCountMismatch {
                    function,
                    byte_count,
                    expected,
                });
            }
            let mut coils = unpack_bits(data);
            coils.truncate(usize::from(quantity));
            Ok(Self::WriteMultipleCoils { address, coils })
        } else {
            let quantity = check_quantity(function, quantity, MAX_WRITE_REGISTERS)?;
            let expected = usize::from(quantity) * 2;
            if usize::from(byte_count) != expected {
                return Err(PduError::ByteCountMismatch {
                    function,
                    byte_count,
                    expected,
                });
            }
            let values = data
                .chunks_exact(2)
                .map(|w| u16::from_be_bytes([w[0], w[1]]))
                .collect();
            Ok(Self::WriteMultipleRegisters { address, values })
        }
    }

    /// Append the PDU bytes to `out`. Fails only when the PDU would exceed 253 bytes; `out` is
    /// left unchanged then.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let len = self.encoded_len();
        if len > MAX_PDU_LEN {
            return Err(PduError::TooLong { len });
        }
        out.push(self.function().value());
        match self {
            Self::ReadCoils { address, quantity }
            | Self::ReadDiscreteInputs { address, quantity }
            | Self::ReadHoldingRegisters { address, quantity }
            | Self::ReadInputRegisters { address, quantity } => {
                out.extend_from_slice(&address.to_be_bytes());
                out.extend_from_slice(&quantity.to_be_bytes());
            }
            Self::WriteSingleCoil { address, on } => {
                out.extend_from_slice(&address.to_be_bytes());
                out.extend_from_slice(&(if *on { COIL_ON } else { 0 }).to_be_bytes());
            }
            Self::WriteSingleRegister { address, value } => {
                out.extend_from_slice(&address.to_be_bytes());
                out.extend_from_slice(&value.to_be_bytes());
            }
            Self::WriteMultipleCoils { address, coils } => {
                out.extend_from_slice(&address.to_be_bytes());
                out.extend_from_slice(&low_u16(coils.len()).to_be_bytes());
                out.push(low_u8(coils.len().div_ceil(8)));
                pack_bits(coils, out);
            }
            Self::WriteMultipleRegisters { address, values } => {
                out.extend_from_slice(&address.to_be_bytes());
                out.extend_from_slice(&low_u16(values.len()).to_be_bytes());
                out.push(low_u8(values.len() * 2));
                values
                    .iter()
                    .for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
            }
        }
        Ok(())
    }

    /// The number of bytes [`Request::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::WriteMultipleCoils { coils, .. } => 6 + coils.len().div_ceil(8),
            Self::WriteMultipleRegisters { values, .. } => 6 + values.len() * 2,
            _ => 5,
        }
    }
}

impl Response {
    /// An exception response to a request with function code `function`.
    pub const fn exception(function: FunctionCode, code: ExceptionCode) -> Self {
        Self::Exception { function, code }
    }

    /// The function code this response answers (for exceptions, without the 0x80 flag).
    pub const fn function(&self) -> FunctionCode {
        match self {
            Self::ReadCoils(_) => FunctionCode::ReadCoils,
            Self::ReadDiscreteInputs(_) => FunctionCode::ReadDiscreteInputs,
            Self::ReadHoldingRegisters(_) => FunctionCode::ReadHoldingRegisters,
            Self::ReadInputRegisters(_) => FunctionCode::ReadInputRegisters,
            Self::WriteSingleCoil { .. } => FunctionCode::WriteSingleCoil,
            Self::WriteSingleRegister { .. } => FunctionCode::WriteSingleRegister,
            Self::WriteMultipleCoils { .. } => FunctionCode::WriteMultipleCoils,
            Self::WriteMultipleRegisters { .. } => FunctionCode::WriteMultipleRegisters,
            Self::Exception { function, .. } => *function,
        }
    }

    /// Parse one complete response PDU.
    pub fn decode(pdu: &[u8]) -> Result<Self, PduError> {
        let &function = pdu.first().ok_or(PduError::Empty)?;
        if function & EXCEPTION_FLAG != 0 {
            expect_len(function, pdu, 2)?;
            let code = ExceptionCode::new(pdu.get(1).copied().unwrap_or_default());
            return Ok(Self::exception(
                FunctionCode::new(function & !EXCEPTION_FLAG),
                code,
            ));
        }
        match FunctionCode::new(function) {
            FunctionCode::ReadCoils
            | FunctionCode::ReadDiscreteInputs
            | FunctionCode::ReadHoldingRegisters
            | FunctionCode::ReadInputRegisters => Self::decode_read(function, pdu),
            FunctionCode::WriteSingleCoil => {
                expect_len(function, pdu, 5)?;
                let address = be16(pdu, 1);
                match be16(pdu, 3) {
                    COIL_ON => Ok(Self::WriteSingleCoil { address, on: true }),
                    0x0000 => Ok(Self::WriteSingleCoil { address, on: false }),
                    value => Err(PduError::InvalidCoilValue { value }),
                }
            }
            FunctionCode::WriteSingleRegister => {
                expect_len(function, pdu, 5)?;
                Ok(Self::WriteSingleRegister {
                    address: be16(pdu, 1),
                    value: be16(pdu, 3),
                })
            }
            FunctionCode::WriteMultipleCoils => {
                expect_len(function, pdu, 5)?;
                Ok(Self::WriteMultipleCoils {
                    address: be16(pdu, 1),
                    quantity: be16(pdu, 3),
                })
            }
            FunctionCode::WriteMultipleRegisters => {
                expect_len(function, pdu, 5)?;
                Ok(Self::WriteMultipleRegisters {
                    address: be16(pdu, 1),
                    quantity: be16(pdu, 3),
                })
            }
            FunctionCode::Custom(_) => Err(PduError::UnsupportedFunction { function }),
        }
    }

    fn decode_read(function: u8, pdu: &[u8]) -> Result<Self, PduError> {
        let byte_count = *pdu.get(1).ok_or(PduError::BadLength {
            function,
            expected: 2,
            actual: pdu.len(),
        })?;
        expect_len(function, pdu, 2 + usize::from(byte_count))?;
        let data = pdu.get(2..).unwrap_or_default();
        let registers = || -> Result<Vec<u16>, PduError> {
            if byte_count % 2 != 0 {
                let expected = usize::from(byte_count) + 1;
                return Err(PduError::ByteCountMismatch {
                    function,
                    byte_count,
                    expected,
                });
            }
            Ok(data
                .chunks_exact(2)
                .map(|w| u16::from_be_bytes([w[0], w[1]]))
                .collect())
        };
        Ok(match FunctionCode::new(function) {
            FunctionCode::ReadCoils => Self::ReadCoils(unpack_bits(data)),
            FunctionCode::ReadDiscreteInputs => Self::ReadDiscreteInputs(unpack_bits(data)),
            FunctionCode::ReadHoldingRegisters => Self::ReadHoldingRegisters(registers()?),
            _ => Self::ReadInputRegisters(registers()?),
        })
    }

    /// Append the PDU bytes to `out`. Fails only when the PDU would exceed 253 bytes; `out` is
    /// left unchanged then.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let len = self.encoded_len();
        if len > MAX_PDU_LEN {
            return Err(PduError::TooLong { len });
        }
        match self {
            Self::Exception { function, code } => {
                out.push(function.value() | EXCEPTION_FLAG);
                out.push(code.value());
                return Ok(());
            }
            _ => out.push(self.function().value()),
        }
        match self {
            Self::ReadCoils(bits) | Self::ReadDiscreteInputs(bits) => {
                out.push(low_u8(bits.len().div_ceil(8)));
                pack_bits(bits, out);
            }
            Self::ReadHoldingRegisters(words) | Self::ReadInputRegisters(words) => {
                out.push(low_u8(words.len() * 2));
                words
                    .iter()
                    .for_each(|w| out.extend_from_slice(&w.to_be_bytes()));
            }
            Self::WriteSingleCoil { address, on } => {
                out.extend_from_slice(&address.to_be_bytes());
                out.extend_from_slice(&(if *on { COIL_ON } else { 0 }).to_be_bytes());
            }
            Self::WriteSingleRegister {
                address,
                value: quantity,
            }
            | Self::WriteMultipleCoils { address, quantity }
            | Self::WriteMultipleRegisters { address, quantity } => {
                out.extend_from_slice(&address.to_be_bytes());
                out.extend_from_slice(&quantity.to_be_bytes());
            }
            Self::Exception { .. } => {}
        }
        Ok(())
    }

    /// The number of bytes [`Response::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::ReadCoils(bits) | Self::ReadDiscreteInputs(bits) => 2 + bits.len().div_ceil(8),
            Self::ReadHoldingRegisters(words) | Self::ReadInputRegisters(words) => {
                2 + words.len() * 2
            }
            Self::Exception { .. } => 2,
            _ => 5,
        }
    }
}

/// The PDU length of a request, from as much of its start as has arrived: `Ok(None)` while the
/// bytes that decide it are still missing. Used to cut RTU requests out of a byte stream.
pub(crate) fn request_len(prefix: &[u8]) -> Result<Option<usize>, PduError> {
    let Some(&function) = prefix.first() else {
        return Ok(None);
    };
    match function {
        0x01..=0x06 => Ok(Some(5)),
        0x0F | 0x10 => Ok(prefix.get(5).map(|&count| 6 + usize::from(count))),
        _ => Err(PduError::UnsupportedFunction { function }),
    }
}

/// The PDU length of a response, from as much of its start as has arrived; see
/// [`request_len`].
pub(crate) fn response_len(prefix: &[u8]) -> Result<Option<usize>, PduError> {
    let Some(&function) = prefix.first() else {
        return Ok(None);
    };
    match function {
        f if f & EXCEPTION_FLAG != 0 => Ok(Some(2)),
        0x01..=0x04 => Ok(prefix.get(1).map(|&count| 2 + usize::from(count))),
        0x05 | 0x06 | 0x0F | 0x10 => Ok(Some(5)),
        _ => Err(PduError::UnsupportedFunction { function }),
    }
}

#[cfg(test)]
mod tests;
