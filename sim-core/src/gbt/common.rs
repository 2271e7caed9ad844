//! Building blocks shared by the charger and BMS machines: the timer table, the periodic
//! transmit schedule, per-PGN counters, a fixed ring and the stack-only frame encoder.
//!
//! Everything here is sized at construction; nothing allocates per frame.

use std::collections::VecDeque;

use proto::can::CanFrame;
use proto::gbt27930::id::{GbtId, Inbound, Node, Pgn, accept_standard, classify};
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
///
/// A table lookup by PDU format: every frame bumps several counters.
#[inline]
pub const fn pgn_slot(pgn: Pgn) -> usize {
    SLOT_BY_PF[pgn.pdu_format() as usize] as usize
}

/// [`pgn_slot`] by PDU format (every PGN's PF is distinct; other entries are unused).
const SLOT_BY_PF: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut slot = 0;
    while slot < PGN_SLOTS {
        table[SLOT_PGNS[slot].pdu_format() as usize] = slot as u8;
        slot += 1;
    }
    table
};

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

impl Counters {
    /// Classifies a frame received by `own`: the peer's accepted identifier (counted per
    /// PGN), or `None` for a foreign or malformed frame (counted as such). The peer's own
    /// identifiers take two table reads; anything else gets the full check.
    #[inline]
    pub(crate) fn accept(&mut self, frame: &CanFrame, own: Node) -> Option<Pgn> {
        let pgn = match accept_standard(frame, own) {
            Some(pgn) => pgn,
            None => match classify(frame, own) {
                Ok(Inbound::Accepted(id)) => id.pgn(),
                Ok(Inbound::Foreign(_)) => {
                    self.foreign_frames += 1;
                    return None;
                }
                Err(_) => {
                    self.malformed_frames += 1;
                    return None;
                }
            },
        };
        self.frames_rx.bump(pgn);
        Some(pgn)
    }
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

/// "No deadline" in cached minimums and raw deadlines: a deadline at the end of time is
/// never reached, so it means the same as none, and a plain `min` replaces matching on
/// options in the checks the owner makes after every input.
pub(crate) const NEVER: Instant = Instant::FAR_FUTURE;

/// A deadline as an instant, [`NEVER`] for none.
pub(crate) fn or_never(t: Option<Instant>) -> Instant {
    t.unwrap_or(NEVER)
}

/// A raw deadline back as an option ([`NEVER`] is none).
pub(crate) fn deadline(t: Instant) -> Option<Instant> {
    (t != NEVER).then_some(t)
}

/// The earliest of `slots` (unset slots hold [`NEVER`]). A fixed size, so the search
/// unrolls into a chain of compare-and-moves with no loop.
#[inline]
fn earliest<const N: usize>(slots: &[Instant; N]) -> Instant {
    slots.iter().fold(NEVER, |a, &b| a.min(b))
}

/// The latest `now` a deadline is compared with: unset slots hold [`NEVER`] and must
/// never count as expired.
const LAST: Instant = Instant::from_micros(u64::MAX - 1);

/// A table of deadlines indexed by a machine's timer enum (`Timer as usize`): timers are
/// data, `next_raw()` is the machine's timeout and expired entries fire in index order.
///
/// The earliest deadline is kept up to date on every change, because the owner asks for
/// it after every input and far more often than a timer moves: `next_raw()` is a read,
/// and `take_expired` returns at once while nothing has expired. Slots are plain
/// instants, [`NEVER`] when disarmed, so the search after a change is a branch-free min.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timers<const N: usize> {
    at: [Instant; N],
    /// The earliest of `at`.
    next: Instant,
}

impl<const N: usize> Timers<N> {
    /// No timer armed.
    pub(crate) const fn new() -> Self {
        Timers {
            at: [NEVER; N],
            next: NEVER,
        }
    }

    /// Arms timer `i` at `at` (replacing any earlier deadline).
    pub(crate) fn set(&mut self, i: usize, at: Instant) {
        self.write(i, at);
    }

    /// Disarms timer `i`.
    pub(crate) fn clear(&mut self, i: usize) {
        self.write(i, NEVER);
    }

    /// Writes slot `i` and keeps the cached minimum: a value at or below it becomes the
    /// minimum; the minimum is searched again only when the slot that held it moved later.
    fn write(&mut self, i: usize, new: Instant) {
        let Some(slot) = self.at.get_mut(i) else {
            return;
        };
        let old = std::mem::replace(slot, new);
        if new <= self.next {
            self.next = new;
        } else if old == self.next {
            self.next = earliest(&self.at);
        }
    }

    /// Disarms every timer.
    pub(crate) fn clear_all(&mut self) {
        self.at = [NEVER; N];
        self.next = NEVER;
    }

    /// The earliest deadline, [`NEVER`] if none.
    pub(crate) fn next_raw(&self) -> Instant {
        self.next
    }

    /// The lowest-index timer expired at `now`, disarmed.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<usize> {
        let now = now.min(LAST);
        if self.next > now {
            return None;
        }
        let i = self.at.iter().position(|&d| d <= now)?;
        self.clear(i);
        Some(i)
    }
}

/// The periodic transmit schedule: per message, the time its next frame is due, or
/// [`NEVER`] when the message is not being sent. Indices are in priority order (lowest
/// first), so messages due together leave in J1939 priority order.
///
/// Entries from `split` on form a second group (the BMS's transport-protocol messages,
/// which wait while a transfer is in flight). The earliest due time of each group is kept
/// up to date on every change, so "when is the next frame" is a read and "which frame is
/// due" scans only when one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule<const N: usize> {
    due: [Instant; N],
    period: [Duration; N],
    split: usize,
    /// The earliest due time of `[0, split)` and of `[split, N)`.
    next: [Instant; 2],
    /// Bit `i` set while message `i` is running (`due[i]` is not [`NEVER`]): a handful
    /// run at a time, and the searches visit only those.
    running: u64,
    /// The bits of `[0, split)`.
    first_group: u64,
}

/// The bits below `n` (all of them from 64 on).
const fn low_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// The indices of the bits set in `mask`, lowest first.
#[inline]
fn set_bits(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let i = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(i)
    })
}

/// The earliest of the entries of `slots` whose bits are set in `mask`.
#[inline]
fn earliest_of_mask<const N: usize>(slots: &[Instant; N], mask: u64) -> Instant {
    set_bits(mask)
        .filter_map(|i| slots.get(i).copied())
        .fold(NEVER, Instant::min)
}

impl<const N: usize> Schedule<N> {
    /// A schedule with these periods and nothing running, all in one group.
    pub(crate) const fn new(period: [Duration; N]) -> Self {
        Self::with_split(period, N)
    }

    /// A schedule whose entries from `split` on form the second group.
    pub(crate) const fn with_split(period: [Duration; N], split: usize) -> Self {
        assert!(N <= 64, "a schedule keeps its running messages in a u64");
        Schedule {
            due: [NEVER; N],
            period,
            split,
            next: [NEVER; 2],
            running: 0,
            first_group: low_bits(split),
        }
    }

    /// The bits of group `g` (0: `[0, split)`, 1: `[split, N)`).
    fn group_mask(&self, g: usize) -> u64 {
        if g == 0 {
            self.first_group
        } else {
            !self.first_group
        }
    }

    /// Writes entry `i` and keeps its group's cached minimum (see [`Timers::write`]).
    fn write(&mut self, i: usize, new: Instant) {
        let Some(slot) = self.due.get_mut(i) else {
            return;
        };
        let old = std::mem::replace(slot, new);
        let bit = 1u64 << i;
        if new == NEVER {
            self.running &= !bit;
        } else {
            self.running |= bit;
        }
        let g = usize::from(i >= self.split);
        let Some(&current) = self.next.get(g) else {
            return;
        };
        let next = if new <= current {
            new
        } else if old == current {
            earliest_of_mask(&self.due, self.running & self.group_mask(g))
        } else {
            return;
        };
        if let Some(n) = self.next.get_mut(g) {
            *n = next;
        }
    }

    /// Starts message `i`; its first frame is due at once. A running message keeps its
    /// cadence.
    pub(crate) fn start(&mut self, i: usize, now: Instant) {
        if self.due(i).is_none() {
            self.write(i, now);
        }
    }

    /// Makes message `i` due at once (e.g. CRM switching to 0xAA); starts it if stopped.
    pub(crate) fn send_now(&mut self, i: usize, now: Instant) {
        self.write(i, now);
    }

    /// Moves the next frame of a running message `i` to no later than `at`.
    pub(crate) fn pull_in(&mut self, i: usize, at: Instant) {
        if let Some(due) = self.due(i) {
            self.write(i, due.min(at));
        }
    }

    /// Stops message `i`.
    pub(crate) fn stop(&mut self, i: usize) {
        self.write(i, NEVER);
    }

    /// Stops every message.
    pub(crate) fn stop_all(&mut self) {
        self.due = [NEVER; N];
        self.next = [NEVER; 2];
        self.running = 0;
    }

    /// When message `i` is next due.
    pub(crate) fn due(&self, i: usize) -> Option<Instant> {
        self.due.get(i).copied().and_then(deadline)
    }

    /// When the next frame is due, of the first group only or of both; [`NEVER`] if none.
    pub(crate) fn next_due_raw(&self, both: bool) -> Instant {
        let [a, b] = self.next;
        if both { a.min(b) } else { a }
    }

    /// The highest-priority message due at `now`, of the first group only or of both.
    pub(crate) fn first_due(&self, now: Instant, both: bool) -> Option<usize> {
        let now = now.min(LAST);
        if self.next_due_raw(both) > now {
            return None;
        }
        let mask = if both {
            self.running
        } else {
            self.running & self.first_group
        };
        set_bits(mask).find(|&i| self.due.get(i).is_some_and(|&d| d <= now))
    }

    /// Books the frame of message `i` as sent: the next one is due one period after this
    /// one was due, so the cadence follows the machine's own schedule. If the machine was
    /// polled more than a period late, the cadence restarts from `now`.
    pub(crate) fn advance(&mut self, i: usize, now: Instant) {
        let period = self.period.get(i).copied().unwrap_or(Duration::SECOND);
        if let Some(due) = self.due(i) {
            let next = due + period;
            self.write(i, if next <= now { now + period } else { next });
        }
    }
}

/// The last frame built for one periodic message, with the message it encodes: a
/// message whose content did not change since its last frame (BCL and CCS go out at
/// 20 Hz, the plant updates them at 10 Hz) is sent again without encoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FrameCache<M> {
    last: Option<(M, usize, CanFrame)>,
}

impl<M: GbtMessage + Copy + PartialEq> FrameCache<M> {
    /// An empty cache.
    pub(crate) const fn new() -> Self {
        FrameCache { last: None }
    }

    /// The frame of `msg` from `from`, cut to `max_len` (see [`encode_frame`]); encodes
    /// only when `msg` or `max_len` differ from the last call's.
    pub(crate) fn frame(&mut self, msg: M, from: Node, max_len: usize) -> Option<CanFrame> {
        if let Some((m, len, frame)) = self.last
            && m == msg
            && len == max_len
        {
            return Some(frame);
        }
        let frame = encode_frame(&msg, from, max_len)?;
        self.last = Some((msg, max_len, frame));
        Some(frame)
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
        assert_eq!(deadline(t.next_raw()), None);
        t.set(2, Instant::from_millis(5));
        t.set(0, Instant::from_millis(7));
        assert_eq!(deadline(t.next_raw()), Some(Instant::from_millis(5)));
        assert_eq!(t.take_expired(Instant::from_millis(4)), None);
        assert_eq!(t.take_expired(Instant::from_millis(8)), Some(0));
        assert_eq!(t.take_expired(Instant::from_millis(8)), Some(2));
        assert_eq!(deadline(t.next_raw()), None);
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

    #[test]
    fn frame_cache_encodes_only_changed_content() {
        use proto::gbt27930::msg::{Bcl, ChargingMode};
        let mut cache: FrameCache<Bcl> = FrameCache::new();
        let bcl = Bcl {
            voltage_demand_v: 405.6,
            current_demand_a: 200.0,
            mode: ChargingMode::ConstantCurrent,
        };
        let first = cache.frame(bcl, Node::Bms, 8).unwrap();
        assert_eq!(first, encode_frame(&bcl, Node::Bms, 8).unwrap());
        assert_eq!(cache.frame(bcl, Node::Bms, 8), Some(first));
        let lower = Bcl {
            current_demand_a: 150.0,
            ..bcl
        };
        let second = cache.frame(lower, Node::Bms, 8).unwrap();
        assert_ne!(second, first);
        assert_eq!(second, encode_frame(&lower, Node::Bms, 8).unwrap());
        // A shorter cut is a different frame, not the cached one.
        assert_eq!(cache.frame(lower, Node::Bms, 4).unwrap().len(), 4);
    }

    /// One change to a timer table or a schedule, as proptest draws it.
    #[derive(Debug, Clone)]
    enum Op {
        Set(usize, u64),
        Clear(usize),
        ClearAll,
        Start(usize, u64),
        SendNow(usize, u64),
        PullIn(usize, u64),
        Advance(usize, u64),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0..6usize, 0..50u64).prop_map(|(i, t)| Op::Set(i, t)),
            (0..6usize).prop_map(Op::Clear),
            Just(Op::ClearAll),
            (0..6usize, 0..50u64).prop_map(|(i, t)| Op::Start(i, t)),
            (0..6usize, 0..50u64).prop_map(|(i, t)| Op::SendNow(i, t)),
            (0..6usize, 0..50u64).prop_map(|(i, t)| Op::PullIn(i, t)),
            (0..6usize, 0..50u64).prop_map(|(i, t)| Op::Advance(i, t)),
        ]
    }

    fn ms(t: u64) -> Instant {
        Instant::from_millis(t)
    }

    proptest::proptest! {
        /// The cached minimum of a timer table is always the minimum of its slots, and
        /// `take_expired` fires exactly what a scan would.
        #[test]
        fn timers_cache_matches_a_scan(ops in proptest::collection::vec(op(), 0..60)) {
            let mut t: Timers<6> = Timers::new();
            let mut model: [Option<Instant>; 6] = [None; 6];
            for op in ops {
                match op {
                    Op::Set(i, at) => {
                        t.set(i, ms(at));
                        model[i] = Some(ms(at));
                    }
                    Op::Clear(i) => {
                        t.clear(i);
                        model[i] = None;
                    }
                    Op::ClearAll => {
                        t.clear_all();
                        model = [None; 6];
                    }
                    Op::Advance(_, now) | Op::Start(_, now) | Op::SendNow(_, now)
                    | Op::PullIn(_, now) => {
                        let expected = model.iter().position(|d| d.is_some_and(|d| d <= ms(now)));
                        proptest::prop_assert_eq!(t.take_expired(ms(now)), expected);
                        if let Some(i) = expected {
                            model[i] = None;
                        }
                    }
                }
                let min = model.iter().flatten().min().copied();
                proptest::prop_assert_eq!(deadline(t.next_raw()), min);
            }
        }

        /// The cached group minimums of a schedule are always the minimums of its entries,
        /// and `first_due` picks what a scan in priority order would.
        #[test]
        fn schedule_cache_matches_a_scan(ops in proptest::collection::vec(op(), 0..60)) {
            let period = [Duration::from_millis(10); 6];
            let mut s: Schedule<6> = Schedule::with_split(period, 4);
            let mut model: [Option<Instant>; 6] = [None; 6];
            for op in ops {
                match op {
                    Op::Set(i, at) | Op::SendNow(i, at) => {
                        s.send_now(i, ms(at));
                        model[i] = Some(ms(at));
                    }
                    Op::Start(i, at) => {
                        s.start(i, ms(at));
                        model[i] = model[i].or(Some(ms(at)));
                    }
                    Op::PullIn(i, at) => {
                        s.pull_in(i, ms(at));
                        model[i] = model[i].map(|d| d.min(ms(at)));
                    }
                    Op::Advance(i, now) => {
                        s.advance(i, ms(now));
                        model[i] = model[i].map(|d| {
                            let next = d + Duration::from_millis(10);
                            if next <= ms(now) { ms(now) + Duration::from_millis(10) } else { next }
                        });
                    }
                    Op::Clear(i) => {
                        s.stop(i);
                        model[i] = None;
                    }
                    Op::ClearAll => {
                        s.stop_all();
                        model = [None; 6];
                    }
                }
                for (both, end) in [(false, 4), (true, 6)] {
                    let min = model[..end].iter().flatten().min().copied();
                    proptest::prop_assert_eq!(deadline(s.next_due_raw(both)), min);
                    for now in [0, 20, 45, 80] {
                        let expected = model[..end]
                            .iter()
                            .position(|d| d.is_some_and(|d| d <= ms(now)));
                        proptest::prop_assert_eq!(s.first_due(ms(now), both), expected);
                    }
                }
                for (i, d) in model.iter().enumerate() {
                    proptest::prop_assert_eq!(s.due(i), *d);
                }
            }
        }
    }
}
