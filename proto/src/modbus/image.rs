//! A sparse copy of a meter's registers: what the emulator rendered, or what a client has read
//! so far.

use std::collections::BTreeMap;

use super::config::MeterConfig;
use super::decode::DecodeError;
use super::exception::ExceptionCode;
use super::map::{PollRead, Table};
use super::pdu::{FunctionCode, Response};
use super::render::check_read;

/// Register words by table and address. Absent addresses are unknown (client side) or
/// unmapped (emulator side).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegisterImage {
    holding: BTreeMap<u16, u16>,
    input: BTreeMap<u16, u16>,
}

impl RegisterImage {
    /// An empty image.
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self, table: Table) -> &BTreeMap<u16, u16> {
        match table {
            Table::Holding => &self.holding,
            Table::Input => &self.input,
        }
    }

    fn table_mut(&mut self, table: Table) -> &mut BTreeMap<u16, u16> {
        match table {
            Table::Holding => &mut self.holding,
            Table::Input => &mut self.input,
        }
    }

    /// The word at `address`, if known.
    pub fn get(&self, table: Table, address: u16) -> Option<u16> {
        self.table(table).get(&address).copied()
    }

    /// Set one word, e.g. to inject a wrong value.
    pub fn set(&mut self, table: Table, address: u16, word: u16) {
        self.table_mut(table).insert(address, word);
    }

    /// Forget one word, e.g. to make an emulated register unmapped (exception 02).
    pub fn remove(&mut self, table: Table, address: u16) -> Option<u16> {
        self.table_mut(table).remove(&address)
    }

    /// Number of known words in both tables.
    pub fn len(&self) -> usize {
        self.holding.len() + self.input.len()
    }

    /// `true` when no word is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `count` words from `address`, or `None` if any is unknown or the range passes 0xFFFF.
    pub fn words(&self, table: Table, address: u16, count: u16) -> Option<Vec<u16>> {
        (0..count)
            .map(|offset| address.checked_add(offset).and_then(|a| self.get(table, a)))
            .collect()
    }

    /// Store a block of words read from `address`.
    pub fn insert_block(
        &mut self,
        table: Table,
        address: u16,
        words: &[u16],
    ) -> Result<(), DecodeError> {
        if usize::from(address) + words.len() > 0x1_0000 {
            return Err(DecodeError::BlockOutOfRange {
                address,
                len: words.len(),
            });
        }
        let map = self.table_mut(table);
        for (address, &word) in (address..=u16::MAX).zip(words) {
            map.insert(address, word);
        }
        Ok(())
    }

    /// Store the meter's response to `read`. An exception response or a response that does
    /// not match the read is an error, and stores nothing.
    pub fn insert_response(
        &mut self,
        read: &PollRead,
        response: &Response,
    ) -> Result<(), DecodeError> {
        let words = match (read.table, response) {
            (_, Response::Exception { code, .. }) => {
                return Err(DecodeError::Exception {
                    address: read.address,
                    code: *code,
                });
            }
            (Table::Holding, Response::ReadHoldingRegisters(words))
            | (Table::Input, Response::ReadInputRegisters(words))
                if words.len() == usize::from(read.count) =>
            {
                words
            }
            _ => {
                return Err(DecodeError::UnexpectedResponse {
                    address: read.address,
                    expected: read.table.read_function(),
                    count: read.count,
                    received: response.function(),
                });
            }
        };
        self.insert_block(read.table, read.address, words)
    }

    /// Serve a read from this image with the meter's rules (see [`super::render`]): the map
    /// decides exceptions 01, 02 and 03, and a word missing from the image (removed for fault
    /// injection) is exception 02.
    pub fn serve(
        &self,
        config: &MeterConfig,
        function: FunctionCode,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, ExceptionCode> {
        let map = config.model.register_map();
        let table = check_read(map, config.split_reads, function, address, count)?;
        self.words(table, address, count)
            .ok_or(ExceptionCode::IllegalDataAddress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::config::MeterModel;

    #[test]
    fn blocks_and_words() {
        let mut image = RegisterImage::new();
        image
            .insert_block(Table::Input, 0x0010, &[1, 2, 3])
            .unwrap();
        assert_eq!(image.words(Table::Input, 0x0010, 3), Some(vec![1, 2, 3]));
        assert_eq!(image.words(Table::Input, 0x0010, 4), None);
        assert_eq!(image.words(Table::Holding, 0x0010, 1), None);
        assert_eq!(
            image.insert_block(Table::Input, 0xFFFF, &[1, 2]),
            Err(DecodeError::BlockOutOfRange {
                address: 0xFFFF,
                len: 2
            })
        );
        image.insert_block(Table::Input, 0xFFFF, &[7]).unwrap();
        assert_eq!(image.words(Table::Input, 0xFFFF, 2), None);
        assert_eq!(image.len(), 4);
    }

    #[test]
    fn responses() {
        let read = PollRead {
            table: Table::Holding,
            address: 0x2000,
            count: 2,
        };
        let mut image = RegisterImage::new();
        image
            .insert_response(&read, &Response::ReadHoldingRegisters(vec![0x4366, 0x3333]))
            .unwrap();
        assert_eq!(image.get(Table::Holding, 0x2001), Some(0x3333));
        assert_eq!(
            image.insert_response(&read, &Response::ReadInputRegisters(vec![0, 0])),
            Err(DecodeError::UnexpectedResponse {
                address: 0x2000,
                expected: FunctionCode::ReadHoldingRegisters,
                count: 2,
                received: FunctionCode::ReadInputRegisters,
            })
        );
        assert!(
            image
                .insert_response(&read, &Response::ReadHoldingRegisters(vec![0]))
                .is_err()
        );
        assert_eq!(
            image.insert_response(
                &read,
                &Response::exception(
                    FunctionCode::ReadHoldingRegisters,
                    ExceptionCode::IllegalDataAddress
                )
            ),
            Err(DecodeError::Exception {
                address: 0x2000,
                code: ExceptionCode::IllegalDataAddress
            })
        );
    }

    #[test]
    fn serve_uses_the_map_and_the_image() {
        let config = MeterConfig::new(MeterModel::Ddsu666);
        let mut image = RegisterImage::new();
        image
            .insert_block(Table::Holding, 0x2000, &[0x4366, 0x3333])
            .unwrap();
        let fc03 = FunctionCode::ReadHoldingRegisters;
        assert_eq!(
            image.serve(&config, fc03, 0x2000, 2),
            Ok(vec![0x4366, 0x3333])
        );
        // Mapped but missing from the image: the fault-injection case.
        assert_eq!(
            image.serve(&config, fc03, 0x2002, 2),
            Err(ExceptionCode::IllegalDataAddress)
        );
        // Unmapped in the model.
        assert_eq!(
            image.serve(&config, fc03, 0x3000, 2),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            image.serve(&config, fc03, 0x2000, 0),
            Err(ExceptionCode::IllegalDataValue)
        );
    }
}
