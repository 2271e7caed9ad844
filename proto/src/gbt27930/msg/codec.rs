//! The [`GbtMessage`] trait and the error types of the message layer.

use crate::gbt27930::id::Pgn;

/// Why bytes could not be decoded as a GB/T 27930 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GbtDecodeError {
    /// Fewer bytes than the shortest form the decoder accepts.
    #[error("{pgn} needs at least {min} bytes, got {len}")]
    TooShort {
        /// The message being decoded.
        pgn: Pgn,
        /// Bytes received.
        len: usize,
        /// Shortest accepted length.
        min: usize,
    },
    /// More bytes than a variable-length message may carry (BMV 512, BMT 128, BSP 16).
    #[error("{pgn} carries at most {max} bytes, got {len}")]
    TooLong {
        /// The message being decoded.
        pgn: Pgn,
        /// Bytes received.
        len: usize,
        /// Longest accepted length.
        max: usize,
    },
    /// A BMV payload with an odd byte count (cells are 2 bytes each).
    #[error("{pgn} payload of {len} bytes is not a whole number of {unit}-byte entries")]
    RaggedLength {
        /// The message being decoded.
        pgn: Pgn,
        /// Bytes received.
        len: usize,
        /// Size of one entry.
        unit: usize,
    },
    /// TP.CM/TP.DT were handed to the message decoder; they belong to the transport layer.
    #[error("{pgn} is a transport-protocol PGN, not an application message")]
    TransportPgn {
        /// The PGN given.
        pgn: Pgn,
    },
}

/// Why a GB/T 27930 message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GbtEncodeError {
    /// The output buffer is shorter than the encoded message.
    #[error("{pgn} needs a {needed}-byte buffer, got {got}")]
    BufferTooSmall {
        /// The message being encoded.
        pgn: Pgn,
        /// Bytes needed.
        needed: usize,
        /// Buffer length given.
        got: usize,
    },
    /// A variable-length message holds more entries than the standard allows.
    #[error("{pgn} would be {len} bytes, more than the {max} allowed")]
    TooLong {
        /// The message being encoded.
        pgn: Pgn,
        /// Encoded length it would have.
        len: usize,
        /// Longest allowed length.
        max: usize,
    },
    /// The message is longer than 8 bytes and must go through the transport protocol.
    #[error("{pgn} is {len} bytes; send it with the transport protocol")]
    NeedsTransport {
        /// The message being encoded.
        pgn: Pgn,
        /// Its encoded length.
        len: usize,
    },
}

/// One GB/T 27930 message type: its PGN and a byte codec that round-trips.
///
/// `encode` writes exactly `encoded_len()` bytes, fills reserved bits and undefined fields
/// with 1 (clause 7.9) and never allocates. `decode` never panics; it accepts the lenient
/// forms documented on each type.
pub trait GbtMessage: Sized {
    /// The message's parameter group number.
    const PGN: Pgn;

    /// The number of bytes `encode` writes.
    fn encoded_len(&self) -> usize;

    /// Writes the message to the front of `out`; returns the number of bytes written.
    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError>;

    /// Parses the message from a frame payload or a reassembled TP payload.
    fn decode(bytes: &[u8]) -> Result<Self, GbtDecodeError>;
}

/// The first `N` bytes of `bytes`, or [`GbtDecodeError::TooShort`].
pub(crate) fn head<const N: usize>(pgn: Pgn, bytes: &[u8]) -> Result<&[u8; N], GbtDecodeError> {
    bytes.first_chunk::<N>().ok_or(GbtDecodeError::TooShort {
        pgn,
        len: bytes.len(),
        min: N,
    })
}

/// The first `N` bytes of `out` to write into, or [`GbtEncodeError::BufferTooSmall`].
pub(crate) fn head_mut<const N: usize>(
    pgn: Pgn,
    out: &mut [u8],
) -> Result<&mut [u8; N], GbtEncodeError> {
    let got = out.len();
    out.first_chunk_mut::<N>()
        .ok_or(GbtEncodeError::BufferTooSmall {
            pgn,
            needed: N,
            got,
        })
}

/// Implements [`GbtMessage`] for a fixed-length message from its `to_bytes`/`from_bytes`.
///
/// Longer inputs are accepted and the extra bytes ignored: some devices pad every frame to
/// DLC 8 (gbt27930.md §1.3, "accept DLC ≥ the defined length").
macro_rules! fixed_message {
    ($ty:ty, $pgn:expr, $len:literal) => {
        impl $crate::gbt27930::msg::codec::GbtMessage for $ty {
            const PGN: $crate::gbt27930::id::Pgn = $pgn;

            fn encoded_len(&self) -> usize {
                $len
            }

            fn encode(
                &self,
                out: &mut [u8],
            ) -> Result<usize, $crate::gbt27930::msg::codec::GbtEncodeError> {
                *$crate::gbt27930::msg::codec::head_mut::<$len>($pgn, out)? = self.to_bytes();
                Ok($len)
            }

            fn decode(bytes: &[u8]) -> Result<Self, $crate::gbt27930::msg::codec::GbtDecodeError> {
                $crate::gbt27930::msg::codec::head::<$len>($pgn, bytes).map(Self::from_bytes)
            }
        }
    };
}
pub(crate) use fixed_message;
