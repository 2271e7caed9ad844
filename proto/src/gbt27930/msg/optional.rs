//! Optional detail messages: BMV, BMT, BSP (gbt27930.md §3.13).
//!
//! They are variable-length, sent via TP every 10 s and never timeout-checked. They hold
//! their entries in a `Vec`, so decoding them allocates; at a 10 s period that does not
//! matter, and the 50–250 ms messages stay allocation-free.

use super::charging::{cell_from_raw, cell_to_raw};
use super::codec::{GbtDecodeError, GbtEncodeError, GbtMessage};
use super::fields::{temperature_from_raw, temperature_to_raw};
use crate::gbt27930::id::Pgn;

/// One cell voltage of BMV (SPN3101–3356): bits 1–12 at 0.01 V/bit, bits 13–16 the group.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CellVoltage {
    /// Cell voltage, 0.01 V/bit, 0…40.95 V.
    pub voltage_v: f64,
    /// Group number 0–15, shown raw (sources disagree on an offset, gbt27930.md §6.3).
    pub group: u8,
}

/// BMV, individual cell voltages (PGN 0x1500, up to 512 bytes = 256 cells, 10 s).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Bmv {
    /// The cells in order, at most 256.
    pub cells: Vec<CellVoltage>,
}

/// BMT, battery temperatures (PGN 0x1600, up to 128 bytes = 128 probes, 10 s).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Bmt {
    /// One temperature per probe (SPN3361–3488), 1 °C/bit, −50 °C offset; at most 128.
    pub temperatures_c: Vec<i16>,
}

/// BSP, battery reserved (PGN 0x1700, up to 16 bytes, 10 s); the content is not defined.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Bsp {
    /// The reserved bytes (SPN3491–3506) as received, at most 16.
    pub bytes: Vec<u8>,
}

impl Bmv {
    /// Most cells a BMV carries.
    pub const MAX_CELLS: usize = 256;
}

impl Bmt {
    /// Most probes a BMT carries.
    pub const MAX_PROBES: usize = 128;
}

impl Bsp {
    /// Most bytes a BSP carries.
    pub const MAX_LEN: usize = 16;
}

/// Checks a variable-length payload against its maximum before decoding it.
fn check_max(pgn: Pgn, len: usize, max: usize) -> Result<(), GbtDecodeError> {
    if len > max {
        Err(GbtDecodeError::TooLong { pgn, len, max })
    } else {
        Ok(())
    }
}

/// The slice of `out` that a variable-length message of `len` bytes (at most `max`) fills.
fn out_slice(
    pgn: Pgn,
    out: &mut [u8],
    len: usize,
    max: usize,
) -> Result<&mut [u8], GbtEncodeError> {
    if len > max {
        return Err(GbtEncodeError::TooLong { pgn, len, max });
    }
    let got = out.len();
    out.get_mut(..len).ok_or(GbtEncodeError::BufferTooSmall {
        pgn,
        needed: len,
        got,
    })
}

impl GbtMessage for Bmv {
    const PGN: Pgn = Pgn::Bmv;

    fn encoded_len(&self) -> usize {
        self.cells.len() * 2
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        let len = self.encoded_len();
        let out = out_slice(Pgn::Bmv, out, len, 2 * Self::MAX_CELLS)?;
        for (dst, cell) in out.chunks_exact_mut(2).zip(&self.cells) {
            dst.copy_from_slice(&cell_to_raw(cell.voltage_v, cell.group).to_le_bytes());
        }
        Ok(len)
    }

    fn decode(bytes: &[u8]) -> Result<Bmv, GbtDecodeError> {
        check_max(Pgn::Bmv, bytes.len(), 2 * Self::MAX_CELLS)?;
        if !bytes.len().is_multiple_of(2) {
            return Err(GbtDecodeError::RaggedLength {
                pgn: Pgn::Bmv,
                len: bytes.len(),
                unit: 2,
            });
        }
        let cells = bytes
            .chunks_exact(2)
            .map(|c| {
                let (voltage_v, group) = cell_from_raw(u16::from_le_bytes([c[0], c[1]]));
                CellVoltage { voltage_v, group }
            })
            .collect();
        Ok(Bmv { cells })
    }
}

impl GbtMessage for Bmt {
    const PGN: Pgn = Pgn::Bmt;

    fn encoded_len(&self) -> usize {
        self.temperatures_c.len()
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        let len = self.encoded_len();
        let out = out_slice(Pgn::Bmt, out, len, Self::MAX_PROBES)?;
        for (dst, &t) in out.iter_mut().zip(&self.temperatures_c) {
            *dst = temperature_to_raw(t);
        }
        Ok(len)
    }

    fn decode(bytes: &[u8]) -> Result<Bmt, GbtDecodeError> {
        check_max(Pgn::Bmt, bytes.len(), Self::MAX_PROBES)?;
        Ok(Bmt {
            temperatures_c: bytes.iter().map(|&b| temperature_from_raw(b)).collect(),
        })
    }
}

impl GbtMessage for Bsp {
    const PGN: Pgn = Pgn::Bsp;

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        let len = self.encoded_len();
        out_slice(Pgn::Bsp, out, len, Self::MAX_LEN)?.copy_from_slice(&self.bytes);
        Ok(len)
    }

    fn decode(bytes: &[u8]) -> Result<Bsp, GbtDecodeError> {
        check_max(Pgn::Bsp, bytes.len(), Self::MAX_LEN)?;
        Ok(Bsp {
            bytes: bytes.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmv_round_trips_and_checks_length() {
        let bmv = Bmv {
            cells: vec![
                CellVoltage {
                    voltage_v: 3.33,
                    group: 0,
                },
                CellVoltage {
                    voltage_v: 3.34,
                    group: 1,
                },
            ],
        };
        let mut out = [0u8; 4];
        assert_eq!(bmv.encode(&mut out), Ok(4));
        // 333 = 0x014D, 334 | 1 << 12 = 0x114E.
        assert_eq!(out, [0x4D, 0x01, 0x4E, 0x11]);
        assert_eq!(Bmv::decode(&out).unwrap(), bmv);
        assert!(matches!(
            Bmv::decode(&[0; 3]),
            Err(GbtDecodeError::RaggedLength { len: 3, .. })
        ));
        assert!(matches!(
            Bmv::decode(&[0; 514]),
            Err(GbtDecodeError::TooLong { max: 512, .. })
        ));
        let too_many = Bmv {
            cells: vec![bmv.cells[0]; 257],
        };
        assert!(matches!(
            too_many.encode(&mut [0u8; 1024]),
            Err(GbtEncodeError::TooLong { len: 514, .. })
        ));
    }

    #[test]
    fn bmt_and_bsp_round_trip() {
        let bmt = Bmt::decode(&[0x35, 0x36, 0x00]).unwrap();
        assert_eq!(bmt.temperatures_c, vec![3, 4, -50]);
        let mut out = [0u8; 3];
        bmt.encode(&mut out).unwrap();
        assert_eq!(out, [0x35, 0x36, 0x00]);
        assert!(Bmt::decode(&[0; 129]).is_err());
        let bsp = Bsp::decode(&[1, 2, 3]).unwrap();
        let mut out = [0u8; 2];
        assert!(matches!(
            bsp.encode(&mut out),
            Err(GbtEncodeError::BufferTooSmall { needed: 3, .. })
        ));
        assert!(Bsp::decode(&[0; 17]).is_err());
    }
}
