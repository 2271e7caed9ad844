//! The socketcand ASCII protocol (linux-can/socketcand `doc/protocol.md`, `state_raw.c`;
//! meters-and-can-hil.md §3.2), without I/O: splitting the byte stream into `< … >`
//! messages, parsing them, and formatting frames.
//!
//! Formats follow the daemon, not the prose of the document where they differ: received
//! frames are `< frame 1826F456 1700000000.000001 010100 >` with the data bytes
//! concatenated (`%02X` in a loop); `< send ID LEN B0 B1 … >` takes one hex token per byte
//! (one or two digits, as python-can sends them) and an 8-digit identifier means an
//! extended frame.

use proto::can::CanFrame;

/// The longest message accepted; socketcand's own buffer is about this size.
pub const MAX_MESSAGE: usize = 512;

/// Why a socketcand message could not be used. Each variant carries the text received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A message without the `<` … `>` frame or without a command word.
    #[error("not a socketcand message: {text:?}")]
    Malformed {
        /// The text received.
        text: String,
    },
    /// A `send` or `frame` whose identifier, length or data bytes do not parse or agree.
    #[error("bad frame in socketcand message {text:?}")]
    BadFrame {
        /// The text received.
        text: String,
    },
    /// A message longer than [`MAX_MESSAGE`] without a closing `>`.
    #[error("socketcand message longer than {MAX_MESSAGE} bytes")]
    TooLong,
}

/// Collects bytes into whole `< … >` messages. Bytes outside a message (whitespace,
/// newlines some clients add) are skipped. Allocation-free after construction.
#[derive(Debug)]
pub struct Splitter {
    buf: Vec<u8>,
    inside: bool,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter {
            buf: Vec::with_capacity(MAX_MESSAGE),
            inside: false,
        }
    }
}

impl Splitter {
    /// Feeds one byte; returns true when it completed a message, then readable with
    /// [`message`](Splitter::message) until the next `push`.
    pub fn push(&mut self, byte: u8) -> Result<bool, ProtocolError> {
        if !self.inside {
            if byte == b'<' {
                self.buf.clear();
                self.buf.push(byte);
                self.inside = true;
            }
            return Ok(false);
        }
        if self.buf.len() >= MAX_MESSAGE {
            self.inside = false;
            self.buf.clear();
            return Err(ProtocolError::TooLong);
        }
        self.buf.push(byte);
        if byte == b'>' {
            self.inside = false;
            return Ok(true);
        }
        Ok(false)
    }

    /// The last completed message, `<` to `>` inclusive.
    pub fn message(&self) -> &str {
        std::str::from_utf8(&self.buf).unwrap_or("")
    }
}

/// The words of a message between `<` and `>`.
pub fn words(message: &str) -> Result<impl Iterator<Item = &str>, ProtocolError> {
    let inner = message
        .trim()
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix('>'))
        .ok_or_else(|| ProtocolError::Malformed {
            text: message.to_string(),
        })?;
    Ok(inner.split_whitespace())
}

/// Parses the arguments of `< send ID LEN B0 … >` (the words after `send`).
pub fn parse_send<'a>(
    text: &str,
    mut args: impl Iterator<Item = &'a str>,
) -> Result<CanFrame, ProtocolError> {
    let bad = || ProtocolError::BadFrame {
        text: text.to_string(),
    };
    let id_text = args.next().ok_or_else(bad)?;
    let id = u32::from_str_radix(id_text, 16).map_err(|_| bad())?;
    let len: u8 = args.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let mut data = [0u8; 8];
    let mut n = 0usize;
    for word in args {
        if word.is_empty() || word.len() > 2 {
            return Err(bad());
        }
        let byte = u8::from_str_radix(word, 16).map_err(|_| bad())?;
        *data.get_mut(n).ok_or_else(bad)? = byte;
        n += 1;
    }
    if n != usize::from(len) {
        return Err(bad());
    }
    CanFrame::from_parts(id, id_text.len() == 8, len, data).map_err(|_| bad())
}

/// Parses `< frame ID SEC.USEC DATA >` (server to client): the frame and its timestamp
/// in microseconds.
pub fn parse_frame(message: &str) -> Result<(CanFrame, u64), ProtocolError> {
    let bad = || ProtocolError::BadFrame {
        text: message.to_string(),
    };
    let mut w = words(message)?;
    if w.next() != Some("frame") {
        return Err(bad());
    }
    let id_text = w.next().ok_or_else(bad)?;
    let id = u32::from_str_radix(id_text, 16).map_err(|_| bad())?;
    let stamp = w.next().ok_or_else(bad)?;
    let (s, us) = stamp.split_once('.').unwrap_or((stamp, "0"));
    let secs: u64 = s.parse().map_err(|_| bad())?;
    let micros: u64 = us.parse().map_err(|_| bad())?;
    let hex = w.next().unwrap_or("");
    if hex.len() % 2 != 0 || hex.len() > 16 || w.next().is_some() {
        return Err(bad());
    }
    let mut data = [0u8; 8];
    for (i, slot) in data.iter_mut().enumerate().take(hex.len() / 2) {
        let pair = hex.get(2 * i..2 * i + 2).ok_or_else(bad)?;
        *slot = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    let len = (hex.len() / 2) as u8;
    let frame = CanFrame::from_parts(id, id_text.len() != 3, len, data).map_err(|_| bad())?;
    Ok((frame, secs.saturating_mul(1_000_000).saturating_add(micros)))
}

/// Appends `< frame ID SEC.USEC DATA >` to `out` (server to client, raw mode).
pub fn format_frame(out: &mut String, frame: &CanFrame, timestamp_us: u64) {
    use std::fmt::Write;
    let (sec, usec) = (timestamp_us / 1_000_000, timestamp_us % 1_000_000);
    if frame.is_extended() {
        let _ = write!(out, "< frame {:08X} {sec}.{usec:06} ", frame.id());
    } else {
        let _ = write!(out, "< frame {:03X} {sec}.{usec:06} ", frame.id());
    }
    for b in frame.data() {
        let _ = write!(out, "{b:02X}");
    }
    out.push_str(" >");
}

/// Appends `< send ID LEN B0 … >` to `out` (client to server).
pub fn format_send(out: &mut String, frame: &CanFrame) {
    use std::fmt::Write;
    if frame.is_extended() {
        let _ = write!(out, "< send {:08X} {}", frame.id(), frame.len());
    } else {
        let _ = write!(out, "< send {:03X} {}", frame.id(), frame.len());
    }
    for b in frame.data() {
        let _ = write!(out, " {b:02X}");
    }
    out.push_str(" >");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(text: &str) -> Vec<String> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for b in text.bytes() {
            if s.push(b).unwrap() {
                out.push(s.message().to_string());
            }
        }
        out
    }

    #[test]
    fn splits_concatenated_messages_and_skips_noise() {
        let got = split_all("< hi >\n< open can0 >< rawmode > junk < echo >");
        assert_eq!(got, ["< hi >", "< open can0 >", "< rawmode >", "< echo >"]);
    }

    #[test]
    fn parses_python_can_send_with_one_digit_bytes() {
        // python-can: f"< send {id:08X} {len:X} {' '.join(f'{x:x}' for x in data)} >"
        let text = "< send 1826F456 3 1 1 0 >";
        let mut w = words(text).unwrap();
        assert_eq!(w.next(), Some("send"));
        let f = parse_send(text, w).unwrap();
        assert_eq!(f, CanFrame::new(0x1826_F456, &[1, 1, 0]).unwrap());
        let text = "< send 123 0 >";
        let mut w = words(text).unwrap();
        w.next();
        assert_eq!(
            parse_send(text, w).unwrap(),
            CanFrame::new_standard(0x123, &[]).unwrap()
        );
    }

    #[test]
    fn rejects_sends_whose_length_disagrees() {
        for text in [
            "< send 1826F456 3 1 1 >",
            "< send XYZ 0 >",
            "< send 123 9 >",
            "< send 123 1 100 >",
        ] {
            let mut w = words(text).unwrap();
            w.next();
            assert!(parse_send(text, w).is_err(), "{text}");
        }
    }

    #[test]
    fn frame_format_round_trips() {
        let f = CanFrame::new(0x1826_F456, &[0x01, 0x01, 0x00]).unwrap();
        let mut s = String::new();
        format_frame(&mut s, &f, 1_700_000_000_000_001);
        assert_eq!(s, "< frame 1826F456 1700000000.000001 010100 >");
        assert_eq!(parse_frame(&s).unwrap(), (f, 1_700_000_000_000_001));
        let empty = CanFrame::new_standard(0x7, &[]).unwrap();
        s.clear();
        format_frame(&mut s, &empty, 5);
        assert_eq!(s, "< frame 007 0.000005  >");
        assert_eq!(parse_frame(&s).unwrap().0, empty);
        s.clear();
        format_send(&mut s, &f);
        assert_eq!(s, "< send 1826F456 3 01 01 00 >");
    }

    #[test]
    fn overlong_messages_are_an_error_not_a_panic() {
        let mut s = Splitter::default();
        s.push(b'<').unwrap();
        let mut failed = false;
        for _ in 0..=MAX_MESSAGE {
            if s.push(b'a').is_err() {
                failed = true;
            }
        }
        assert!(failed);
    }
}
