//! Building blocks shared by the charger and BMS machines: the timer table, the periodic
//! transmit schedule, per-PGN counters, a fixed ring and the stack-only frame encoder.
//!
//! Everything here is sized at construction; nothing allocates per frame.

use std::collections::VecDeque;

use proto::can::CanFrame;
use proto::gbt27930::id::{GbtId, Node, Pgn};
use proto::gbt27930::msg::GbtMessage;
use proto::time::{Duration, Instant};

/// Which edition of GB/T 27930 a node behaves as (gbt27930.md §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Version {
    /// GB/T 27930-2015: CHM/BHM handshake, V1.1, 8-byte CML/CCS/CSD, 49-byte BRM.
    V2015,
    /// GB/T 27930-2011: no CHM/BHM, V1.0, 6-byte CML/CCS, 5-byte CSD, 41-byte BRM.
    V2011,
}

/// The number of counter slots: the 22 messages plus TP.CM and TP.DT.
pub const PGN_SLOTS: usize = 24;

/// The counter slot of a PGN: its position in [`Pgn::MESSAGES`], then TP.CM and TP.DT.
pub const fn pgn_slot(pgn: Pgn) -> usize {
    match pgn {
        Pgn::Chm => 0,
        Pgn::Bhm => 1,
        Pgn::Crm => 2,
        Pgn::Brm => 3,
        Pgn::Bcp => 4,
        Pgn::Cts => 5,
        Pgn::Cml => 6,
        Pgn::Bro => 7,
        Pgn::Cro => 8,
        Pgn::Bcl => 9,
        Pgn::Bcs => 10,
        Pgn::Ccs => 11,
        Pgn::Bsm => 12,
        Pgn::Bmv => 13,
        Pgn::Bmt => 14,
        Pgn::Bsp => 15,
        Pgn::Bst => 16,
        Pgn::Cst => 17,
        Pgn::Bsd => 18,
        Pgn::Csd => 19,
        Pgn::Bem => 20,
        Pgn::Cem => 21,
        Pgn::TpCm => 22,
        Pgn::TpDt => 23,
    }
}

/// The PGN of every counter slot, in slot order.
pub const SLOT_PGNS: [Pgn; PGN_SLOTS] = [
    Pgn::Chm,
    Pgn::Bhm,
    Pgn::Crm,
    Pgn::Brm,
    Pgn::Bcp,
    Pgn::Cts,
    Pgn::Cml,
    Pgn::Bro,
    Pgn::Cro,
    Pgn::Bcl,
    Pgn::Bcs,
    Pgn::Ccs,
    Pgn::Bsm,
    Pgn::Bmv,
    Pgn::Bmt,
    Pgn::Bsp,
    Pgn::Bst,
    Pgn::Cst,
    Pgn::Bsd,
    Pgn::Csd,
    Pgn::Bem,
    Pgn::Cem,
    Pgn::TpCm,
    Pgn::TpDt,
];

/// One counter per PGN (the 22 messages plus TP.CM and TP.DT).
///
/// Serializes as a map from message code to count, omitting zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PgnCounts([u64; PGN_SLOTS]);

impl PgnCounts {
    /// The count for `pgn`.
    pub fn get(&self, pgn: Pgn) -> u64 {
        self.0.get(pgn_slot(pgn)).copied().unwrap_or(0)
    }

    /// Adds one to the count of `pgn`.
    pub fn bump(&mut self, pgn: Pgn) {
        if let Some(c) = self.0.get_mut(pgn_slot(pgn)) {
            *c += 1;
        }
    }

    /// Every PGN with its count, in slot order (zeros included).
    pub fn iter(&self) -> impl Iterator<Item = (Pgn, u64)> + '_ {
        SLOT_PGNS.iter().copied().zip(self.0.iter().copied())
    }

    /// The sum over all PGNs.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl serde::Serialize for PgnCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (pgn, n) in self.iter().filter(|(_, n)| *n > 0) {
            map.serialize_entry(pgn.code(), &n)?;
        }
        map.end()
    }
}

/// What one machine sent and received, for reports and the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counters {
    /// CAN frames sent, per PGN (TP traffic under TP.CM / TP.DT).
    pub frames_tx: PgnCounts,
    /// CAN frames received from the peer and accepted, per PGN.
    pub frames_rx: PgnCounts,
    /// Application messages sent (a TP message counts once, when it is started).
    pub messages_tx: PgnCounts,
    /// Application messages received and decoded (a TP message counts once, reassembled).
    pub messages_rx: PgnCounts,
    /// Frames from other nodes or in other formats, dropped by the address filter.
    pub foreign_frames: u64,
    /// Frames that failed the identifier check or did not decode.
    pub malformed_frames: u64,
    /// Transport sessions that ended in an abort (either side).
    pub tp_aborts: u64,
    /// Errors entered (timeouts or the peer's BEM/CEM).
    pub errors: u64,
    /// Events lost because the owner did not poll them (queue bound reached).
    pub events_dropped: u64,
}

/// The most events a machine queues before it drops the oldest; the owner polls after
/// every input, so a handful is the normal maximum.
pub(crate) const EVENT_QUEUE_BOUND: usize = 64;

/// Pushes `event`, dropping the oldest one (and counting it) when the bound is reached.
pub(crate) fn push_bounded<T>(queue: &mut VecDeque<T>, event: T, dropped: &mut u64) {
    if queue.len() >= EVENT_QUEUE_BOUND {
        queue.pop_front();
        *dropped += 1;
    }
    queue.push_back(event);
}

/// A table of deadlines indexed by a machine's timer enum (`Timer as usize`): timers are
/// data, `next()` is the machine's timeout and expired entries fire in index order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timers<const N: usize>([Option<Instant>; N]);

impl<const N: usize> Timers<N> {
    /// No timer armed.
    pub(crate) const fn new() -> Self {
        Timers([None; N])
    }

    /// Arms timer `i` at `at` (replacing any earlier deadline).
    pub(crate) fn set(&mut self, i: usize, at: Instant) {
        if let Some(slot) = self.0.get_mut(i) {
            *slot = Some(at);
        }
    }

    /// Disarms timer `i`.
    pub(crate) fn clear(&mut self, i: usize) {
        if let Some(slot) = self.0.get_mut(i) {
            *slot = None;
        }
    }

    /// Disarms every timer.
    pub(crate) fn clear_all(&mut self) {
        self.0 = [None; N];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().filter_map(|&d| d).min()
    }

    /// The lowest-index timer expired at `now`, disarmed.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<usize> {
        let i = self.0.iter().position(|d| d.is_some_and(|d| d <= now))?;
        self.clear(i);
        Some(i)
    }
}

/// The periodic transmit schedule: per message, the time its next frame is due, or `None`
/// when the message is not being sent. Indices are in priority order (lowest first), so
/// messages due together leave in J1939 priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule<const N: usize> {
    due: [Option<Instant>; N],
    period: [Duration; N],
}

impl<const N: usize> Schedule<N> {
    /// A schedule with these periods and nothing running.
    pub(crate) const fn new(period: [Duration; N]) -> Self {
        Schedule {
            due: [None; N],
            period,
        }
    }

    /// Starts message `i`; its first frame is due at once. A running message keeps its
    /// cadence.
    pub(crate) fn start(&mut self, i: usize, now: Instant) {
        if let Some(slot) = self.due.get_mut(i)
            && slot.is_none()
        {
            *slot = Some(now);
        }
    }

    /// Makes message `i` due at once (e.g. CRM switching to 0xAA); starts it if stopped.
    pub(crate) fn send_now(&mut self, i: usize, now: Instant) {
        if let Some(slot) = self.due.get_mut(i) {
            *slot = Some(now);
        }
    }

    /// Moves the next frame of a running message `i` to no later than `at`.
    pub(crate) fn pull_in(&mut self, i: usize, at: Instant) {
        if let Some(Some(due)) = self.due.get_mut(i) {
            *due = (*due).min(at);
        }
    }

    /// Stops message `i`.
    pub(crate) fn stop(&mut self, i: usize) {
        if let Some(slot) = self.due.get_mut(i) {
            *slot = None;
        }
    }

    /// Stops every message.
    pub(crate) fn stop_all(&mut self) {
        self.due = [None; N];
    }

    /// When message `i` is next due.
    pub(crate) fn due(&self, i: usize) -> Option<Instant> {
        self.due.get(i).copied().flatten()
    }

    /// Books the frame of message `i` as sent: the next one is due one period after this
    /// one was due, so the cadence follows the machine's own schedule. If the machine was
    /// polled more than a period late, the cadence restarts from `now`.
    pub(crate) fn advance(&mut self, i: usize, now: Instant) {
        let period = self.period.get(i).copied().unwrap_or(Duration::SECOND);
        if let Some(Some(due)) = self.due.get_mut(i) {
            let next = *due + period;
            *due = if next <= now { now + period } else { next };
        }
    }
}

/// Encodes a single-frame message from `from` into a stack buffer, cut to `max_len` bytes
/// (the 2011 short forms and the 7-byte CCS). Returns `None` for messages above 8 bytes.
pub(crate) fn encode_frame<M: GbtMessage>(msg: &M, from: Node, max_len: usize) -> Option<CanFrame> {
    let mut data = [0u8; 8];
    let n = msg.encode(&mut data).ok()?;
    let len = n.min(max_len).min(8);
    // `len <= 8`, so the cast is exact.
    CanFrame::from_parts(GbtId::new(M::PGN, from).raw(), true, len as u8, data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::gbt27930::msg::Chm;

    #[test]
    fn slots_are_a_bijection() {
        for (i, pgn) in SLOT_PGNS.iter().enumerate() {
            assert_eq!(pgn_slot(*pgn), i);
        }
        let mut c = PgnCounts::default();
        c.bump(Pgn::Bcl);
        c.bump(Pgn::Bcl);
        c.bump(Pgn::TpDt);
        assert_eq!(c.get(Pgn::Bcl), 2);
        assert_eq!(c.total(), 3);
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"BCL":2,"TP.DT":1}"#);
    }

    #[test]
    fn timers_fire_in_index_order_and_report_the_minimum() {
        let mut t: Timers<3> = Timers::new();
        assert_eq!(t.next(), None);
        t.set(2, Instant::from_millis(5));
        t.set(0, Instant::from_millis(7));
        assert_eq!(t.next(), Some(Instant::from_millis(5)));
        assert_eq!(t.take_expired(Instant::from_millis(4)), None);
        assert_eq!(t.take_expired(Instant::from_millis(8)), Some(0));
        assert_eq!(t.take_expired(Instant::from_millis(8)), Some(2));
        assert_eq!(t.next(), None);
    }

    #[test]
    fn schedule_keeps_its_own_cadence() {
        let mut s: Schedule<2> = Schedule::new([Duration::from_millis(50), Duration::SECOND]);
        let t0 = Instant::from_millis(100);
        s.start(0, t0);
        assert_eq!(s.due(0), Some(t0));
        // Polled 3 ms late: the next frame is still due at t0 + 50 ms.
        s.advance(0, t0 + Duration::from_millis(3));
        assert_eq!(s.due(0), Some(t0 + Duration::from_millis(50)));
        // Polled more than a period late: restart from now.
        s.advance(0, t0 + Duration::from_millis(200));
        assert_eq!(s.due(0), Some(t0 + Duration::from_millis(250)));
        s.start(0, t0);
        assert_eq!(s.due(0), Some(t0 + Duration::from_millis(250)));
        s.pull_in(0, t0);
        assert_eq!(s.due(0), Some(t0));
        s.stop(0);
        assert_eq!(s.due(0), None);
    }

    #[test]
    fn frames_are_cut_to_the_requested_length() {
        let chm = Chm {
            version: proto::gbt27930::msg::ProtocolVersion::V1_1,
        };
        let f = encode_frame(&chm, Node::Charger, 8).unwrap();
        assert_eq!(f.id(), 0x1826_F456);
        assert_eq!(f.data(), [1, 1, 0]);
        assert_eq!(encode_frame(&chm, Node::Charger, 2).unwrap().len(), 2);
    }
}
