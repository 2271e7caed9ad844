//! Classic CAN 2.0 data frames as plain `Copy` values.
//!
//! [`CanFrame`] is the one frame type that moves between every CAN transport chargestorm
//! speaks (the in-process virtual bus, SocketCAN, socketcand, slcan, candump logs). It never
//! allocates and it cannot hold an invalid frame: the identifier fits its width and the
//! length is at most 8.
//!
//! **Standard (11-bit) frames are representable.** GB/T 27930 uses 29-bit extended frames
//! only (gbt27930.md §1.1), but the transports and logs carry whatever is on the bus, so a
//! standard frame must survive a round trip through a candump file or a socketcand link. The
//! GB/T receive path rejects them: [`crate::gbt27930::id::classify`] reports a standard frame
//! as [`crate::gbt27930::id::Foreign::Standard`], a frame to drop, not an error. Remote,
//! error and CAN FD frames are not representable; transports reject them when they read.

use core::fmt;

/// A classic CAN data frame: identifier, identifier width and 0..=8 data bytes.
///
/// Bytes beyond [`len`](CanFrame::len) are always zero, so the derived equality compares
/// only what is on the wire.
///
/// Laid out as 16 bytes aligned to 8 (fields in their declared order, so ordering and
/// hashing are unchanged): a frame is copied as two whole words, where the natural
/// 14-byte layout was copied in overlapping pieces that stall store forwarding on every
/// frame handed between the GB/T machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C, align(8))]
pub struct CanFrame {
    id: u32,
    extended: bool,
    len: u8,
    data: [u8; 8],
}

/// Why a [`CanFrame`] could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanFrameError {
    /// An extended identifier above 0x1FFF_FFFF (29 bits); carries the identifier given.
    #[error("extended CAN identifier {id:#010x} does not fit in 29 bits")]
    ExtendedIdOutOfRange {
        /// The identifier that was given.
        id: u32,
    },
    /// A standard identifier above 0x7FF (11 bits); carries the identifier given.
    #[error("standard CAN identifier {id:#05x} does not fit in 11 bits")]
    StandardIdOutOfRange {
        /// The identifier that was given.
        id: u32,
    },
    /// More than 8 data bytes; carries the length given.
    #[error("a classic CAN frame carries at most 8 data bytes, got {len}")]
    DataTooLong {
        /// The number of bytes that was given.
        len: usize,
    },
}

impl CanFrame {
    /// The largest 29-bit (extended) identifier.
    pub const MAX_EXTENDED_ID: u32 = 0x1FFF_FFFF;
    /// The largest 11-bit (standard) identifier.
    pub const MAX_STANDARD_ID: u32 = 0x7FF;
    /// The most data bytes a classic CAN frame carries.
    pub const MAX_LEN: usize = 8;

    /// An extended (29-bit identifier) frame carrying `data`; the DLC is `data.len()`.
    pub fn new(id: u32, data: &[u8]) -> Result<CanFrame, CanFrameError> {
        Self::with_width(id, true, data)
    }

    /// A standard (11-bit identifier) frame carrying `data`; the DLC is `data.len()`.
    pub fn new_standard(id: u32, data: &[u8]) -> Result<CanFrame, CanFrameError> {
        Self::with_width(id, false, data)
    }

    /// A frame of either identifier width; `extended` selects 29 bits instead of 11.
    pub fn with_width(id: u32, extended: bool, data: &[u8]) -> Result<CanFrame, CanFrameError> {
        let mut bytes = [0u8; 8];
        let dst = bytes
            .get_mut(..data.len())
            .ok_or(CanFrameError::DataTooLong { len: data.len() })?;
        dst.copy_from_slice(data);
        // `data.len() <= 8` was checked by the slice above.
        Self::from_parts(id, extended, data.len() as u8, bytes)
    }

    /// A frame from its raw parts, as a driver or a log hands them over.
    ///
    /// Bytes of `data` beyond `len` are cleared so that equal frames compare equal.
    pub fn from_parts(
        id: u32,
        extended: bool,
        len: u8,
        mut data: [u8; 8],
    ) -> Result<CanFrame, CanFrameError> {
        if extended && id > Self::MAX_EXTENDED_ID {
            return Err(CanFrameError::ExtendedIdOutOfRange { id });
        }
        if !extended && id > Self::MAX_STANDARD_ID {
            return Err(CanFrameError::StandardIdOutOfRange { id });
        }
        if usize::from(len) > Self::MAX_LEN {
            return Err(CanFrameError::DataTooLong {
                len: usize::from(len),
            });
        }
        for byte in data.iter_mut().skip(usize::from(len)) {
            *byte = 0;
        }
        Ok(CanFrame {
            id,
            extended,
            len,
            data,
        })
    }

    /// An extended frame of 8 bytes; bits of `id` above 29 are dropped. For identifiers that
    /// are 29 bits by construction (TP frames), so that building them has no error path.
    pub(crate) const fn extended_8(id: u32, data: [u8; 8]) -> CanFrame {
        CanFrame {
            id: id & Self::MAX_EXTENDED_ID,
            extended: true,
            len: 8,
            data,
        }
    }

    /// The identifier: 29 bits for an extended frame, 11 bits for a standard one.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// Whether the identifier is a 29-bit extended one (GB/T 27930 uses only these).
    pub const fn is_extended(&self) -> bool {
        self.extended
    }

    /// The data length code, 0..=8.
    pub const fn len(&self) -> u8 {
        self.len
    }

    /// Whether the frame carries no data bytes.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The data bytes actually carried (`len` of them).
    pub fn data(&self) -> &[u8] {
        self.data.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// All eight data bytes, zero beyond [`len`](CanFrame::len).
    pub const fn data_padded(&self) -> [u8; 8] {
        self.data
    }
}

impl fmt::Display for CanFrame {
    /// The compact `cansend`/candump form: `1826F456#010100` (3 hex digits for a standard id).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.extended {
            write!(f, "{:08X}#", self.id)?;
        } else {
            write!(f, "{:03X}#", self.id)?;
        }
        for byte in self.data() {
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for CanFrame {
    /// `{"id":"1826F456","extended":true,"data":"010100"}`: hex strings read better than
    /// numbers in the JSON that `chargestorm can decode` prints.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut id = String::with_capacity(8);
        let mut data = String::with_capacity(16);
        if self.extended {
            push_hex(&mut id, &self.id.to_be_bytes());
        } else {
            use fmt::Write;
            let _ = write!(id, "{:03X}", self.id);
        }
        push_hex(&mut data, self.data());
        let mut s = serializer.serialize_struct("CanFrame", 3)?;
        s.serialize_field("id", &id)?;
        s.serialize_field("extended", &self.extended)?;
        s.serialize_field("data", &data)?;
        s.end()
    }
}

/// Appends `bytes` as upper-case hex without separators.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_two_aligned_words() {
        assert_eq!(core::mem::size_of::<CanFrame>(), 16);
        assert_eq!(core::mem::align_of::<CanFrame>(), 8);
        // The niche of `extended` keeps an optional frame the same size.
        assert_eq!(core::mem::size_of::<Option<CanFrame>>(), 16);
    }

    #[test]
    fn extended_frame_keeps_id_length_and_data() {
        let f = CanFrame::new(0x1826_F456, &[0x01, 0x01, 0x00]).unwrap();
        assert_eq!(f.id(), 0x1826_F456);
        assert!(f.is_extended());
        assert_eq!(f.len(), 3);
        assert_eq!(f.data(), &[0x01, 0x01, 0x00]);
        assert_eq!(f.data_padded(), [1, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(f.to_string(), "1826F456#010100");
    }

    #[test]
    fn constructors_reject_out_of_range_ids_and_long_data() {
        assert_eq!(
            CanFrame::new(0x2000_0000, &[]),
            Err(CanFrameError::ExtendedIdOutOfRange { id: 0x2000_0000 })
        );
        assert_eq!(
            CanFrame::new_standard(0x800, &[]),
            Err(CanFrameError::StandardIdOutOfRange { id: 0x800 })
        );
        assert_eq!(
            CanFrame::new(0x100, &[0; 9]),
            Err(CanFrameError::DataTooLong { len: 9 })
        );
        assert_eq!(
            CanFrame::from_parts(0x100, true, 9, [0; 8]),
            Err(CanFrameError::DataTooLong { len: 9 })
        );
        assert!(CanFrame::new(CanFrame::MAX_EXTENDED_ID, &[0; 8]).is_ok());
    }

    #[test]
    fn from_parts_clears_bytes_beyond_len_so_equality_is_on_wire_bytes() {
        let a = CanFrame::from_parts(0x123, false, 2, [1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        let b = CanFrame::new_standard(0x123, &[1, 2]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "123#0102");
        assert!(CanFrame::new(0, &[]).unwrap().is_empty());
    }

    #[test]
    fn serializes_with_hex_strings() {
        let f = CanFrame::new(0x182756F4, &[0xA5, 0x10]).unwrap();
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"{"id":"182756F4","extended":true,"data":"A510"}"#);
        let s = CanFrame::new_standard(0x7, &[]).unwrap();
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"id":"007","extended":false,"data":""}"#
        );
    }
}
