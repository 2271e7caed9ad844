//! The can-utils candump log format, read and write.
//!
//! Written lines use the log format of `candump -l` / `candump -L`, which `log2asc`,
//! `canplayer` and python-can read:
//!
//! ```text
//! (1700000000.123456) can0 1826F456#010100
//! ```
//!
//! Reading is lenient, line by line, and returns an error per bad line without stopping:
//!
//! - the log format, with or without the `(timestamp)` and the interface;
//! - the human-readable format of plain `candump` (`can0  1826F456   [3]  01 01 00`), with
//!   an optional `(sec.usec)` or bare `sec.usec` timestamp and anything after the data bytes
//!   (the `-a` ASCII column, notes) ignored;
//! - blank lines and comment lines starting with `#`, `;` or `//` are skipped.
//!
//! An identifier of up to 3 hex digits is a standard frame, 4 to 8 digits an extended one
//! (candump prints `%03X` and `%08X`). Remote (`#R`), CAN FD (`##`) and error frames are
//! reported as errors because [`CanFrame`] cannot hold them. Timestamps are kept as integer
//! microseconds; extra fraction digits are truncated.

use core::fmt;

use crate::can::{CanFrame, CanFrameError};

/// One frame read from a candump log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandumpRecord<'a> {
    /// The timestamp in microseconds (`(1700000000.123456)` → 1 700 000 000 123 456), if the
    /// line had one.
    pub timestamp_us: Option<u64>,
    /// The interface name (`can0`), if the line had one.
    pub interface: Option<&'a str>,
    /// The frame.
    pub frame: CanFrame,
}

/// Why a candump line could not be read. Each variant carries the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CandumpError {
    /// The timestamp is not `sec` or `sec.frac` in decimal (e.g. the `-tA` date form).
    #[error("bad timestamp {text:?}")]
    BadTimestamp {
        /// The timestamp text.
        text: String,
    },
    /// The identifier is not 1 to 8 hex digits.
    #[error("bad CAN identifier {text:?}")]
    BadId {
        /// The identifier text.
        text: String,
    },
    /// The data is not whole hex bytes, or a `[len]` field is malformed.
    #[error("bad frame data {text:?}")]
    BadData {
        /// The data text.
        text: String,
    },
    /// The human-readable `[len]` announces more bytes than the line has.
    #[error("length [{declared}] announced but {found} data bytes found")]
    LengthMismatch {
        /// The announced length.
        declared: usize,
        /// The bytes present.
        found: usize,
    },
    /// A remote transmission request, which [`CanFrame`] does not represent.
    #[error("remote frame {text:?} is not supported")]
    RemoteFrame {
        /// The frame text.
        text: String,
    },
    /// A CAN FD frame (`##` in the log format), which [`CanFrame`] does not represent.
    #[error("CAN FD frame {text:?} is not supported")]
    FdFrame {
        /// The frame text.
        text: String,
    },
    /// An error frame (CAN_ERR_FLAG 0x20000000 in the identifier).
    #[error("error frame {text:?} is not supported")]
    ErrorFrame {
        /// The frame text.
        text: String,
    },
    /// The identifier or length is out of range for a classic CAN frame.
    #[error(transparent)]
    Frame(#[from] CanFrameError),
    /// The line has no recognisable frame.
    #[error("not a candump line: {text:?}")]
    Unrecognized {
        /// The whole line.
        text: String,
    },
}

/// Why a candump line could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CandumpWriteError {
    /// The interface name is empty or contains whitespace, `#`, `(` or `)`, which would
    /// make the line unreadable.
    #[error("interface name {name:?} cannot appear in a candump log")]
    BadInterface {
        /// The name given.
        name: String,
    },
    /// The output sink failed.
    #[error("formatting failed")]
    Fmt(#[from] fmt::Error),
}

/// Reads one line. `Ok(None)` for a blank or comment line.
pub fn parse_line(line: &str) -> Result<Option<CandumpRecord<'_>>, CandumpError> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with(['#', ';']) || trimmed.starts_with("//") {
        return Ok(None);
    }
    let mut tokens = trimmed.split_whitespace().peekable();
    let unrecognized = || CandumpError::Unrecognized {
        text: trimmed.to_string(),
    };
    let mut timestamp_us = None;
    let mut first = tokens.next().ok_or_else(unrecognized)?;
    if let Some(inner) = first.strip_prefix('(') {
        let inner = inner
            .strip_suffix(')')
            .ok_or_else(|| CandumpError::BadTimestamp {
                text: first.to_string(),
            })?;
        timestamp_us = Some(parse_timestamp(inner)?);
        first = tokens.next().ok_or_else(unrecognized)?;
    } else if first.contains('.') && first.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        timestamp_us = Some(parse_timestamp(first)?);
        first = tokens.next().ok_or_else(unrecognized)?;
    }
    if first.contains('#') {
        return Ok(Some(CandumpRecord {
            timestamp_us,
            interface: None,
            frame: parse_compact(first)?,
        }));
    }
    let second = tokens.next().ok_or_else(unrecognized)?;
    if second.contains('#') {
        return Ok(Some(CandumpRecord {
            timestamp_us,
            interface: Some(first),
            frame: parse_compact(second)?,
        }));
    }
    let (interface, id, len) = if second.starts_with('[') {
        (None, first, second)
    } else {
        (Some(first), second, tokens.next().ok_or_else(unrecognized)?)
    };
    let frame = parse_human(id, len, tokens)?;
    Ok(Some(CandumpRecord {
        timestamp_us,
        interface,
        frame,
    }))
}

/// Reads a whole log: one `(line number, result)` per non-blank, non-comment line, numbered
/// from 1. A bad line yields its error and reading goes on.
pub fn parse_log(
    text: &str,
) -> impl Iterator<Item = (usize, Result<CandumpRecord<'_>, CandumpError>)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(line).transpose().map(|r| (i + 1, r)))
}

/// `sec` or `sec.frac` → microseconds; fraction digits beyond 6 are truncated.
fn parse_timestamp(text: &str) -> Result<u64, CandumpError> {
    let bad = || CandumpError::BadTimestamp {
        text: text.to_string(),
    };
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    let mut micros = 0u64;
    for i in 0..6 {
        let digit = frac.as_bytes().get(i).map_or(0, |d| u64::from(d - b'0'));
        micros = micros * 10 + digit;
    }
    secs.checked_mul(1_000_000)
        .and_then(|us| us.checked_add(micros))
        .ok_or_else(bad)
}

/// Parses an identifier: ≤ 3 hex digits standard, 4–8 extended. Returns (id, extended).
fn parse_id(text: &str) -> Result<(u32, bool), CandumpError> {
    let bad = || CandumpError::BadId {
        text: text.to_string(),
    };
    if text.is_empty() || text.len() > 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let id = u32::from_str_radix(text, 16).map_err(|_| bad())?;
    Ok((id, text.len() > 3))
}

/// Builds a frame, reporting identifiers with the CAN_ERR_FLAG as error frames.
fn build_frame(text: &str, id: u32, extended: bool, data: &[u8]) -> Result<CanFrame, CandumpError> {
    if extended && id & 0x2000_0000 != 0 {
        return Err(CandumpError::ErrorFrame {
            text: text.to_string(),
        });
    }
    Ok(CanFrame::with_width(id, extended, data)?)
}

/// Parses the log form `1826F456#010100` (with optional `_dlc` suffix and `.` separators).
fn parse_compact(token: &str) -> Result<CanFrame, CandumpError> {
    let (id_text, rest) = token.split_once('#').ok_or_else(|| CandumpError::BadData {
        text: token.to_string(),
    })?;
    let (id, extended) = parse_id(id_text)?;
    if rest.starts_with('#') {
        return Err(CandumpError::FdFrame {
            text: token.to_string(),
        });
    }
    if rest.starts_with(['R', 'r']) {
        return Err(CandumpError::RemoteFrame {
            text: token.to_string(),
        });
    }
    // `_X` is the raw DLC of a len8_dlc frame; the payload before it is what counts.
    let hex = rest.split_once('_').map_or(rest, |(data, _)| data);
    let mut data = [0u8; 8];
    let mut len = 0usize;
    let mut digits = hex.bytes().filter(|&b| b != b'.');
    let bad = || CandumpError::BadData {
        text: token.to_string(),
    };
    while let Some(hi) = digits.next() {
        let lo = digits.next().ok_or_else(bad)?;
        let byte = hex_byte(hi, lo).ok_or_else(bad)?;
        let slot = data
            .get_mut(len)
            .ok_or(CandumpError::Frame(CanFrameError::DataTooLong {
                len: len + 1,
            }))?;
        *slot = byte;
        len += 1;
    }
    build_frame(token, id, extended, data.get(..len).unwrap_or(&[]))
}

/// Parses the human-readable form: `1826F456 [3] 01 01 00 …`; tokens after the data are
/// ignored.
fn parse_human<'a>(
    id_text: &str,
    len_text: &str,
    mut rest: impl Iterator<Item = &'a str>,
) -> Result<CanFrame, CandumpError> {
    let (id, extended) = parse_id(id_text)?;
    let declared: usize = len_text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| CandumpError::BadData {
            text: len_text.to_string(),
        })?;
    if declared > CanFrame::MAX_LEN {
        return Err(CanFrameError::DataTooLong { len: declared }.into());
    }
    let mut data = [0u8; 8];
    for (found, slot) in data.iter_mut().take(declared).enumerate() {
        let token = rest
            .next()
            .ok_or(CandumpError::LengthMismatch { declared, found })?;
        if token == "remote" {
            return Err(CandumpError::RemoteFrame {
                text: id_text.to_string(),
            });
        }
        let b = token.as_bytes();
        *slot = match b {
            [hi, lo] => hex_byte(*hi, *lo),
            _ => None,
        }
        .ok_or_else(|| CandumpError::BadData {
            text: token.to_string(),
        })?;
    }
    build_frame(id_text, id, extended, data.get(..declared).unwrap_or(&[]))
}

fn hex_byte(hi: u8, lo: u8) -> Option<u8> {
    let nibble = |c: u8| (c as char).to_digit(16);
    Some((nibble(hi)? << 4 | nibble(lo)?) as u8)
}

/// Writes one log line, `(sec.usec) interface ID#DATA\n`, as `candump -l` does: 6 decimals,
/// upper-case hex, 8-digit extended and 3-digit standard identifiers.
pub fn write_line<W: fmt::Write>(
    out: &mut W,
    timestamp_us: u64,
    interface: &str,
    frame: &CanFrame,
) -> Result<(), CandumpWriteError> {
    let bad = interface.is_empty()
        || interface
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '#' | '(' | ')'));
    if bad {
        return Err(CandumpWriteError::BadInterface {
            name: interface.to_string(),
        });
    }
    writeln!(
        out,
        "({}.{:06}) {} {}",
        timestamp_us / 1_000_000,
        timestamp_us % 1_000_000,
        interface,
        frame
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_log_format_of_the_real_capture() {
        let rec = parse_line("(1703560144.012829) can0 1CEC56F4#10310007FF000200")
            .unwrap()
            .unwrap();
        assert_eq!(rec.timestamp_us, Some(1_703_560_144_012_829));
        assert_eq!(rec.interface, Some("can0"));
        assert_eq!(rec.frame.id(), 0x1CEC56F4);
        assert!(rec.frame.is_extended());
        assert_eq!(
            rec.frame.data(),
            [0x10, 0x31, 0x00, 0x07, 0xFF, 0x00, 0x02, 0x00]
        );
        let short = parse_line("(1703560121.247259) can0 182756F4#D80F")
            .unwrap()
            .unwrap();
        assert_eq!(short.frame.data(), [0xD8, 0x0F]);
    }

    #[test]
    fn reads_variants_without_timestamp_or_interface() {
        let bare = parse_line("1826F456#010100").unwrap().unwrap();
        assert_eq!((bare.timestamp_us, bare.interface), (None, None));
        assert_eq!(bare.frame.data(), [1, 1, 0]);
        let no_ts = parse_line("vcan0 123#DEAD").unwrap().unwrap();
        assert_eq!(no_ts.interface, Some("vcan0"));
        assert!(!no_ts.frame.is_extended());
        let dots = parse_line("(0.5) can1 1826F456#01.01.00").unwrap().unwrap();
        assert_eq!(dots.timestamp_us, Some(500_000));
        assert_eq!(dots.frame.data(), [1, 1, 0]);
        let dlc = parse_line("(1.000001) can0 123#1122334455667788_E")
            .unwrap()
            .unwrap();
        assert_eq!(dlc.frame.len(), 8);
        let empty = parse_line("(1.0) can0 18FF00F4#").unwrap().unwrap();
        assert!(empty.frame.is_empty());
    }

    #[test]
    fn reads_the_human_readable_format() {
        let plain = parse_line("  can0  1826F456   [3]  01 01 00")
            .unwrap()
            .unwrap();
        assert_eq!(plain.interface, Some("can0"));
        assert_eq!(plain.frame.data(), [1, 1, 0]);
        let ta = parse_line(" (1700000000.123456)  can0  123   [2]  DE AD   '..'")
            .unwrap()
            .unwrap();
        assert_eq!(ta.timestamp_us, Some(1_700_000_000_123_456));
        assert_eq!(
            ta.frame,
            CanFrame::new_standard(0x123, &[0xDE, 0xAD]).unwrap()
        );
        // The reference's excerpt style: bare timestamp, no interface, trailing notes.
        let excerpt = parse_line("144.0128  1CEC56F4 [8] 10 31 00 07 FF 00 02 00   RTS  49 bytes")
            .unwrap()
            .unwrap();
        assert_eq!(excerpt.timestamp_us, Some(144_012_800));
        assert_eq!(excerpt.interface, None);
        assert_eq!(excerpt.frame.data()[0], 0x10);
    }

    #[test]
    fn skips_blank_and_comment_lines_and_reports_bad_ones() {
        let log = "# capture\n\n(1.0) can0 123#01\n; note\n(x) can0 123#01\n// c\ncan0 123#0\n\
                   (2.0) can0 123#R\n(2.0) can0 123##1\n(2.0) can0 20000080#0000\n\
                   can0 123 [3] 01 02\n(2023-12-25 22:08:41.1) can0 123#00\ncan0 1234567890#00\n\
                   (1.0) can0 800#00\n(1.0) can0 123#001122334455667788";
        let results: Vec<(usize, Result<CandumpRecord<'_>, CandumpError>)> =
            parse_log(log).collect();
        let lines: Vec<usize> = results.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert!(results[0].1.is_ok());
        let errs: Vec<&CandumpError> = results[1..]
            .iter()
            .map(|(_, r)| r.as_ref().unwrap_err())
            .collect();
        assert!(matches!(errs[0], CandumpError::BadTimestamp { .. }));
        assert!(matches!(errs[1], CandumpError::BadData { .. }));
        assert!(matches!(errs[2], CandumpError::RemoteFrame { .. }));
        assert!(matches!(errs[3], CandumpError::FdFrame { .. }));
        assert!(matches!(errs[4], CandumpError::ErrorFrame { .. }));
        assert_eq!(
            errs[5],
            &CandumpError::LengthMismatch {
                declared: 3,
                found: 2
            }
        );
        assert!(matches!(errs[6], CandumpError::BadTimestamp { .. }));
        assert!(matches!(errs[7], CandumpError::BadId { .. }));
        assert!(matches!(
            errs[8],
            CandumpError::Frame(CanFrameError::StandardIdOutOfRange { id: 0x800 })
        ));
        assert!(matches!(
            errs[9],
            CandumpError::Frame(CanFrameError::DataTooLong { len: 9 })
        ));
    }

    #[test]
    fn writes_candump_l_lines() {
        let mut out = String::new();
        let f = CanFrame::new(0x1826F456, &[0x01, 0x01, 0x00, 0x00, 0x00]).unwrap();
        write_line(&mut out, 1_700_000_000_123_456, "can0", &f).unwrap();
        assert_eq!(out, "(1700000000.123456) can0 1826F456#0101000000\n");
        let s = CanFrame::new_standard(0x7, &[]).unwrap();
        out.clear();
        write_line(&mut out, 5, "vcan0", &s).unwrap();
        assert_eq!(out, "(0.000005) vcan0 007#\n");
        assert!(matches!(
            write_line(&mut out, 0, "can 0", &s),
            Err(CandumpWriteError::BadInterface { .. })
        ));
        assert!(write_line(&mut out, 0, "", &s).is_err());
    }

    fn any_frame() -> impl Strategy<Value = CanFrame> {
        prop_oneof![
            (
                0u32..=0x1FFF_FFFF,
                proptest::collection::vec(any::<u8>(), 0..=8)
            )
                .prop_map(|(id, d)| CanFrame::new(id, &d).unwrap()),
            (0u32..=0x7FF, proptest::collection::vec(any::<u8>(), 0..=8))
                .prop_map(|(id, d)| CanFrame::new_standard(id, &d).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn write_then_read_round_trips(
            frame in any_frame(),
            ts in 0u64..=u64::MAX / 2,
            iface in "[a-z]{1,6}[0-9]{0,2}",
        ) {
            let mut line = String::new();
            write_line(&mut line, ts, &iface, &frame).unwrap();
            let rec = parse_line(&line).unwrap().unwrap();
            prop_assert_eq!(rec.frame, frame);
            prop_assert_eq!(rec.timestamp_us, Some(ts));
            prop_assert_eq!(rec.interface, Some(iface.as_str()));
        }

        #[test]
        fn arbitrary_text_never_panics(line in "\\PC{0,80}") {
            let _ = parse_line(&line);
        }

        #[test]
        fn candump_like_text_never_panics(
            line in "[ (]{0,2}[0-9.]{0,12}[) ]{0,2}[a-z0-9]{0,5} [0-9A-Fa-f#R_.\\[\\] ]{0,40}"
        ) {
            let _ = parse_line(&line);
        }
    }
}
