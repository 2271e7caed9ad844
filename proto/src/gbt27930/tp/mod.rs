//! The J1939-21 transport protocol, connection mode (RTS/CTS), as sans-IO state machines.
//!
//! GB/T 27930 sends every message above 8 bytes (BRM, BCP, BCS, BMV, BMT, BSP) this way;
//! only the BMS originates, the charger answers (gbt27930.md §1.4). [`TpSender`] is the
//! originator and [`TpReceiver`] the responder; a node that does both owns one of each and
//! hands every received frame to both.
//!
//! ```text
//!  originator (TpSender)                       responder (TpReceiver)
//!  RTS(size, packets, max/CTS, PGN)  ───────▶
//!                                    ◀───────  CTS(n, next)          T2 until the first DT
//!  DT #next … #next+n−1 (dt_interval apart) ─▶                       T1 between DTs
//!       T3 after the last DT of a window
//!                                    ◀───────  CTS(…) again, or EndOfMsgAck
//!  CTS(0) = hold: T4 until the next CTS
//!  either side: Abort(reason, PGN)
//! ```
//!
//! Both machines follow the quinn-style shape: `handle_frame(now, frame)` and
//! `handle_timeout(now)` feed input, `poll_transmit(now)` yields frames to send,
//! `poll_timeout()` the next deadline and `poll_event()` completions and aborts. After any
//! `handle_*` call, drain `poll_transmit` and `poll_event` before the next input.
//!
//! No allocation happens per frame: each machine owns one fixed buffer, allocated at
//! construction with the configured maximum message size (≤ 1785 bytes).

mod frames;
mod receiver;
mod sender;

#[cfg(test)]
mod tests;

pub use frames::{
    AbortReason, TP_BYTES_PER_PACKET, TP_MAX_MESSAGE_SIZE, TP_MIN_MESSAGE_SIZE, TP_PRIORITY, TpCm,
    TpDt,
};
pub use receiver::TpReceiver;
pub use sender::TpSender;

use crate::gbt27930::id::{Node, Pgn};
use crate::time::Duration;

/// Settings shared by [`TpSender`] and [`TpReceiver`]. Timer values are J1939-21's
/// (gbt27930.md §1.4, \[BRT\]/\[LK\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TpConfig {
    /// This node's source address.
    pub local_address: u8,
    /// The peer's source address; frames from anyone else are ignored.
    pub remote_address: u8,
    /// Largest message accepted or sent, 9..=1785 bytes; sizes the fixed buffer.
    pub max_message_size: usize,
    /// Receiver: most packets granted per CTS. Sender: the RTS "max packets per CTS" byte
    /// (255 = no limit). Real chargers grant everything in one CTS.
    pub max_packets_per_cts: u8,
    /// Sender: spacing between TP.DT packets. Real BMSs send about every 10 ms (\[T1\]).
    pub dt_interval: Duration,
    /// Receiver: longest gap between two TP.DT packets (T1, 750 ms).
    pub t1: Duration,
    /// Receiver: longest wait for a TP.DT after sending a CTS (T2, 1250 ms).
    pub t2: Duration,
    /// Sender: longest wait for CTS or EndOfMsgAck after RTS or a window's last DT (T3,
    /// 1250 ms).
    pub t3: Duration,
    /// Sender: longest wait for the next CTS after a CTS(0) hold (T4, 1050 ms).
    pub t4: Duration,
    /// Receiver: retransmission requests (CTS for a missing packet) allowed per session
    /// before aborting with reason 5 (J1939 suggests 2).
    pub max_retransmit_requests: u8,
    /// Receiver: what to do with an RTS while a session is open.
    pub rts_while_open: RtsWhileOpen,
    /// Send this reason byte in every abort instead of the J1939 code (real GB/T devices
    /// send 0xFF, \[T2\]\[SK\]).
    pub abort_reason_override: Option<AbortReason>,
}

impl TpConfig {
    /// The configuration for `local` talking to its GB/T peer, with J1939 defaults.
    pub const fn new(local: Node) -> TpConfig {
        TpConfig {
            local_address: local.address(),
            remote_address: local.peer().address(),
            max_message_size: TP_MAX_MESSAGE_SIZE,
            max_packets_per_cts: 0xFF,
            dt_interval: Duration::from_millis(10),
            t1: Duration::from_millis(750),
            t2: Duration::from_millis(1250),
            t3: Duration::from_millis(1250),
            t4: Duration::from_millis(1050),
            max_retransmit_requests: 2,
            rts_while_open: RtsWhileOpen::Restart,
            abort_reason_override: None,
        }
    }

    /// The buffer size actually used: `max_message_size` clamped to 9..=1785.
    pub(crate) fn buffer_size(&self) -> usize {
        self.max_message_size
            .clamp(TP_MIN_MESSAGE_SIZE, TP_MAX_MESSAGE_SIZE)
    }

    /// The reason byte to put on the wire for a locally decided abort.
    pub(crate) fn wire_reason(&self, reason: AbortReason) -> AbortReason {
        self.abort_reason_override.unwrap_or(reason)
    }
}

/// What a receiver does when an RTS arrives while it is still receiving another message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RtsWhileOpen {
    /// Drop the open session silently and accept the new RTS (\[SK\]; tolerant of a BMS
    /// that restarts after its own timeout).
    Restart,
    /// Abort the open session with reason 1 (already in session) and ignore the RTS
    /// (the Linux kernel's behaviour, \[LK\]).
    Abort,
}

/// Whether a frame handed to a TP machine concerned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameUse {
    /// The frame was TP traffic for this machine and was acted on.
    Consumed,
    /// The frame was not for this machine (another PGN, address, direction or session).
    Ignored,
}

/// Something a TP machine reports to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpEvent<'a> {
    /// Receiver: a complete message; `data` borrows the receiver's buffer.
    Received {
        /// PGN of the message (decode it with [`crate::gbt27930::msg::Message::decode`]).
        pgn: u32,
        /// The reassembled payload, exactly the RTS size.
        data: &'a [u8],
    },
    /// Sender: the peer acknowledged the whole message (EndOfMsgAck).
    Delivered {
        /// PGN of the message.
        pgn: u32,
    },
    /// Either side: the session ended without delivery.
    Aborted {
        /// PGN of the message.
        pgn: u32,
        /// Who ended it and why.
        cause: AbortCause,
    },
}

/// Why a session ended without delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortCause {
    /// The peer sent a Connection Abort with this reason.
    Peer(AbortReason),
    /// This machine aborted (and sent a Connection Abort) for this J1939 reason.
    Local(AbortReason),
    /// A new RTS replaced the open session ([`RtsWhileOpen::Restart`]); nothing was sent.
    Superseded,
}

/// Why a frame or a request was rejected by a TP machine. Session-level problems are
/// not errors: they end in an abort reported through [`TpEvent::Aborted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TpError {
    /// A TP.CM with fewer than 8 bytes, or an empty TP.DT; carries what arrived.
    #[error("{pgn} frame too short: {len} bytes")]
    ShortFrame {
        /// TP.CM or TP.DT.
        pgn: Pgn,
        /// Data length received.
        len: usize,
    },
    /// A TP.CM control byte that J1939-21 does not define.
    #[error("unknown TP.CM control byte {control:#04x}")]
    UnknownControl {
        /// The control byte received.
        control: u8,
    },
    /// [`TpSender::start`] while a session is still open.
    #[error("a transfer of PGN {pgn:#06x} is still in progress")]
    Busy {
        /// PGN of the session in progress.
        pgn: u32,
    },
    /// [`TpSender::start`] with a message that TP cannot or may not carry.
    #[error("message of {size} bytes is outside the transport range {min}..={max}")]
    SizeOutOfRange {
        /// Size given.
        size: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed (the configured buffer).
        max: usize,
    },
}

/// Counters kept by a TP machine, for the dashboard and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct TpStats {
    /// Sessions opened (RTS accepted or sent).
    pub sessions_started: u64,
    /// Sessions delivered (message received, or EndOfMsgAck received).
    pub sessions_completed: u64,
    /// Sessions this machine aborted.
    pub aborted_local: u64,
    /// Sessions the peer aborted.
    pub aborted_by_peer: u64,
    /// Sessions replaced by a new RTS.
    pub superseded: u64,
    /// TP.DT packets sent.
    pub data_packets_sent: u64,
    /// TP.DT packets received again after they were already stored.
    pub duplicate_packets: u64,
    /// TP.DT packets received ahead of a missing one.
    pub out_of_order_packets: u64,
    /// CTS frames that asked for a missing packet again.
    pub retransmit_requests: u64,
    /// TP frames for this address pair that did not fit the current state.
    pub frames_ignored: u64,
    /// Events or frames lost because the owner did not poll them in time.
    pub dropped: u64,
}

/// A fixed-capacity FIFO for `Copy` items; used for the few frames and events a machine
/// queues between polls, so queuing never allocates.
#[derive(Debug, Clone)]
pub(crate) struct FixedQueue<T: Copy, const N: usize> {
    items: [Option<T>; N],
    head: usize,
    len: usize,
}

impl<T: Copy, const N: usize> FixedQueue<T, N> {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        FixedQueue {
            items: [None; N],
            head: 0,
            len: 0,
        }
    }

    /// Appends `item`; returns false (and drops it) when the queue is full.
    pub(crate) fn push(&mut self, item: T) -> bool {
        if self.len == N {
            return false;
        }
        if let Some(slot) = self.items.get_mut((self.head + self.len) % N) {
            *slot = Some(item);
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes and returns the oldest item.
    pub(crate) fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = self.items.get_mut(self.head).and_then(Option::take);
        self.head = (self.head + 1) % N;
        self.len -= 1;
        item
    }

    /// Keeps only the items for which `keep` is true, in order; returns how many it removed.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> usize {
        // The common case (nothing queued) must not rebuild the array.
        if self.len == 0 {
            return 0;
        }
        let mut kept = Self::new();
        let before = self.len;
        while let Some(item) = self.pop() {
            if keep(&item) {
                kept.push(item);
            }
        }
        let removed = before - kept.len;
        *self = kept;
        removed
    }
}

/// A set of packet sequence numbers 0..=255 (TP uses 1..=255).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PacketSet([u64; 4]);

impl PacketSet {
    /// Adds `seq`.
    pub(crate) fn insert(&mut self, seq: u8) {
        if let Some(word) = self.0.get_mut(usize::from(seq >> 6)) {
            *word |= 1 << (seq & 63);
        }
    }

    /// Whether `seq` is in the set.
    pub(crate) fn contains(&self, seq: u8) -> bool {
        self.0
            .get(usize::from(seq >> 6))
            .is_some_and(|w| w & (1 << (seq & 63)) != 0)
    }

    /// The lowest sequence number in `1..=last` that is not in the set.
    pub(crate) fn first_missing(&self, last: u8) -> Option<u8> {
        // Word by word: the lowest zero bit at or above 1.
        let mut base = 0u16;
        for (i, &word) in self.0.iter().enumerate() {
            // Packet 0 does not exist: treat it as present.
            let w = if i == 0 { word | 1 } else { word };
            if w != u64::MAX {
                let seq = base + u16::from((!w).trailing_zeros() as u8);
                return (seq <= u16::from(last)).then_some(seq as u8);
            }
            base += 64;
        }
        None
    }

    /// How many consecutive numbers from `from` up to `last` are missing.
    pub(crate) fn missing_run(&self, from: u8, last: u8) -> u8 {
        if from > last {
            return 0;
        }
        // The first number at or above `from` that is in the set bounds the run.
        let mut s = u16::from(from);
        let end = u16::from(last);
        while s <= end {
            let word = self.0.get(usize::from(s >> 6)).copied().unwrap_or(0) >> (s & 63);
            if word != 0 {
                let present = s + word.trailing_zeros() as u16;
                // A run of all 256 numbers saturates at 255, like a counted loop.
                return (present.min(end + 1) - u16::from(from)).min(255) as u8;
            }
            s = (s | 63) + 1;
        }
        (end + 1 - u16::from(from)).min(255) as u8
    }

    /// Whether every number in `from..=to` is in the set.
    pub(crate) fn contains_all(&self, from: u8, to: u8) -> bool {
        let (mut s, end) = (u16::from(from), u16::from(to));
        while s <= end {
            let Some(&word) = self.0.get(usize::from(s >> 6)) else {
                return false;
            };
            // The bits of `s..=min(end, word's last)` within this word.
            let hi = end.min(s | 63);
            let width = hi - s + 1;
            let mask = if width == 64 {
                u64::MAX
            } else {
                ((1u64 << width) - 1) << (s & 63)
            };
            if word & mask != mask {
                return false;
            }
            s = hi + 1;
        }
        true
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn fixed_queue_is_fifo_bounded_and_retains() {
        let mut q: FixedQueue<u8, 3> = FixedQueue::new();
        assert!(q.push(1) && q.push(2) && q.push(3));
        assert!(!q.push(4));
        assert_eq!(q.pop(), Some(1));
        assert!(q.push(4));
        assert_eq!(q.retain(|&x| x != 3), 1);
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(4));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn packet_set_queries() {
        let mut s = PacketSet::default();
        for seq in [1, 2, 4, 255] {
            s.insert(seq);
        }
        assert!(s.contains(255) && !s.contains(3));
        assert_eq!(s.first_missing(4), Some(3));
        assert_eq!(s.first_missing(2), None);
        assert_eq!(s.missing_run(5, 10), 6);
        assert_eq!(s.missing_run(3, 10), 1);
        assert_eq!(s.missing_run(250, 255), 5);
        assert!(s.contains_all(1, 2) && !s.contains_all(1, 4));
    }

    /// The plain loops the word-level [`PacketSet`] queries replace.
    mod naive {
        use super::PacketSet;

        pub(super) fn first_missing(s: &PacketSet, last: u8) -> Option<u8> {
            (1..=last).find(|&x| !s.contains(x))
        }

        pub(super) fn missing_run(s: &PacketSet, from: u8, last: u8) -> u8 {
            let mut n = 0u8;
            let mut x = from;
            while x <= last && !s.contains(x) {
                n = n.saturating_add(1);
                match x.checked_add(1) {
                    Some(next) => x = next,
                    None => break,
                }
            }
            n
        }

        pub(super) fn contains_all(s: &PacketSet, from: u8, to: u8) -> bool {
            (from..=to).all(|x| s.contains(x))
        }
    }

    proptest::proptest! {
        #[test]
        fn packet_set_queries_match_the_plain_loops(
            members in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            dense_to in proptest::prelude::any::<u8>(),
            a in proptest::prelude::any::<u8>(),
            b in proptest::prelude::any::<u8>(),
        ) {
            let mut s = PacketSet::default();
            // A full prefix as well as scattered members, so long runs are covered.
            for seq in 1..=dense_to {
                s.insert(seq);
            }
            for seq in members {
                s.insert(seq);
            }
            proptest::prop_assert_eq!(s.first_missing(a), naive::first_missing(&s, a));
            proptest::prop_assert_eq!(s.missing_run(a, b), naive::missing_run(&s, a, b));
            proptest::prop_assert_eq!(s.contains_all(a, b), naive::contains_all(&s, a, b));
        }
    }

    #[test]
    fn packet_set_edges() {
        let mut full = PacketSet::default();
        for seq in 0..=255 {
            full.insert(seq);
        }
        assert_eq!(full.first_missing(255), None);
        assert!(full.contains_all(0, 255) && full.contains_all(63, 64));
        assert_eq!(full.missing_run(1, 255), 0);
        let empty = PacketSet::default();
        assert_eq!(empty.first_missing(255), Some(1));
        assert_eq!(empty.first_missing(0), None);
        assert_eq!(empty.missing_run(1, 255), 255);
        assert_eq!(
            empty.missing_run(0, 255),
            255,
            "256 saturates like the loop"
        );
        assert_eq!(empty.missing_run(9, 3), 0);
        assert!(empty.contains_all(5, 4), "an empty range");
        assert!(!empty.contains_all(255, 255));
    }

    #[test]
    fn config_defaults_are_j1939() {
        let c = TpConfig::new(Node::Charger);
        assert_eq!((c.local_address, c.remote_address), (0x56, 0xF4));
        assert_eq!(c.t1.as_millis(), 750);
        assert_eq!(c.t2.as_millis(), 1250);
        assert_eq!(c.t3.as_millis(), 1250);
        assert_eq!(c.t4.as_millis(), 1050);
        let tiny = TpConfig {
            max_message_size: 3,
            ..c
        };
        assert_eq!(tiny.buffer_size(), 9);
    }
}
