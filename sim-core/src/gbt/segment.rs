//! The in-process CAN segment between one charger and one BMS.
//!
//! GB/T addresses are fixed (0x56 / 0xF4), so every connector has a segment of its own
//! (gbt27930.md §7.4). A frame handed to [`Segment::send`] occupies the one shared wire for
//! its transmission time at the configured bit rate (67 + 8·DLC bits plus a stuffing
//! allowance), then waits in a small fixed ring until [`Segment::poll_deliver`] hands it
//! to the other node, in order. Nothing allocates per frame: the rings are arrays, the
//! fault list is empty unless a scenario sets faults, and recording is opt-in.
//!
//! The fault layer ([`WireFault`]) acts at the sender: drop, delay, duplicate, corrupt,
//! silence a message, swap CML's currents, damage TP sessions. Random choices come from
//! the RNG the caller passes, and only faults with a ratio strictly between 0 and 1 draw.

use std::collections::VecDeque;

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};
use proto::time::{Duration, Instant};
use rand::{Rng, RngExt};

use super::common::{NEVER, PgnCounts, deadline, or_never};
use super::faults::{TpCorruption, WireFault};

/// Bit stuffing allowance in the transmission time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stuffing {
    /// The worst case: one stuff bit per 4 bits of the 54 + 8·DLC stuffable bits of an
    /// extended frame.
    WorstCase,
    /// No stuff bits.
    None,
}

/// How the segment behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SegmentConfig {
    /// Bus bit rate; GB/T uses 250 kbit/s (50 kbit/s for harsh environments, 2015).
    pub bitrate_bps: u32,
    /// Stuffing allowance.
    pub stuffing: Stuffing,
    /// Keep a [`TapRecord`] of every frame (drained with [`Segment::take_records`]).
    pub record: bool,
}

impl Default for SegmentConfig {
    fn default() -> SegmentConfig {
        SegmentConfig {
            bitrate_bps: 250_000,
            stuffing: Stuffing::WorstCase,
            record: false,
        }
    }
}

/// What happened to a frame handed to the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// On the wire, delivered at `at`.
    Delivered,
    /// A delivered copy made by a duplicate fault.
    Duplicate,
    /// Lost by a drop fault.
    Dropped,
    /// Never sent (a silence fault).
    Silenced,
    /// Lost because the ring was full.
    Overrun,
}

/// One frame as the tap saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TapRecord {
    /// Delivery time (end of frame plus any delay); the send time if not delivered.
    pub at: Instant,
    /// The sender.
    pub from: Node,
    /// The frame as delivered (after any corruption).
    pub frame: CanFrame,
    /// The message it belongs to (for TP frames, the message the session carries).
    pub message: Option<Pgn>,
    /// What happened to it.
    pub fate: Fate,
}

/// Counters of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct SegmentStats {
    /// Frames put on the wire per sender (index 0 charger, 1 BMS), by identifier PGN.
    pub frames: [PgnCounts; 2],
    /// The same frames by message (TP frames under the message they carry).
    pub by_message: [PgnCounts; 2],
    /// Frames lost to drop faults.
    pub dropped: u64,
    /// Frames withheld by silence faults.
    pub silenced: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Frames whose bytes a fault changed.
    pub corrupted: u64,
    /// Frames delivered late by a delay fault.
    pub delayed: u64,
    /// Frames lost because a ring was full.
    pub overruns: u64,
    /// Total wire time, microseconds (bus load = busy / elapsed).
    pub busy_us: u64,
}

/// A frame on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    due: Instant,
    frame: CanFrame,
}

/// Frames in flight per direction; a handful is the normal maximum.
const RING: usize = 16;

/// A fixed-capacity FIFO of frames in flight.
///
/// The head's due time is kept beside the slots, [`NEVER`] when empty: delivery reads
/// it on every frame.
#[derive(Debug, Clone, Copy)]
struct Ring {
    items: [Option<InFlight>; RING],
    head: usize,
    len: usize,
    /// The due time of the head item, [`NEVER`] when the ring is empty.
    head_due: Instant,
}

impl Ring {
    const fn new() -> Ring {
        Ring {
            items: [None; RING],
            head: 0,
            len: 0,
            head_due: NEVER,
        }
    }

    fn push(&mut self, item: InFlight) -> bool {
        if self.len == RING {
            return false;
        }
        if let Some(slot) = self.items.get_mut((self.head + self.len) % RING) {
            *slot = Some(item);
            if self.len == 0 {
                self.head_due = item.due;
            }
            self.len += 1;
            return true;
        }
        false
    }

    fn front_due(&self) -> Option<Instant> {
        deadline(self.head_due)
    }

    fn pop(&mut self) -> Option<InFlight> {
        let slot = self.pop_slot()?;
        self.items.get(slot).copied().flatten()
    }

    /// Pops the head and returns the slot it was in. The item stays in its slot until a
    /// later push overwrites it (`head` and `len` say which slots are live), so the owner
    /// can read it there by reference ([`Ring::frame_at`]) instead of copying it out.
    fn pop_slot(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let slot = self.head;
        self.items.get(slot)?.as_ref()?;
        self.head = (self.head + 1) % RING;
        self.len -= 1;
        self.head_due = match self.items.get(self.head) {
            Some(Some(next)) if self.len > 0 => next.due,
            _ => NEVER,
        };
        Some(slot)
    }

    /// The frame in `slot` (live or just popped).
    fn frame_at(&self, slot: usize) -> Option<&CanFrame> {
        self.items.get(slot)?.as_ref().map(|item| &item.frame)
    }
}

/// One connector's CAN segment (see the module documentation).
#[derive(Debug, Clone)]
pub struct Segment {
    config: SegmentConfig,
    /// In-order frames per sender (0 charger, 1 BMS).
    rings: [Ring; 2],
    /// Delayed frames per sender, sorted by due time; allocated only when used.
    delayed: [VecDeque<InFlight>; 2],
    /// Frames in the two delayed queues: delivery checks this, beside the rings, rather
    /// than both queues (zero unless a delay fault is in force).
    delayed_count: usize,
    /// A frame delivered from a delayed queue (or while one is in use), kept here so
    /// that delivery can hand out a reference to it as it does to a ring slot.
    slow_out: Option<CanFrame>,
    bus_free_at: Instant,
    /// The earliest due time of the four queue heads (kept on every push and pop, so an
    /// idle poll is one comparison).
    next_due: Instant,
    /// Wire time in microseconds by data length, from the bit rate and stuffing.
    wire_us: [u64; 9],
    /// The message of each sender's open TP session (from its RTS), for attribution.
    tp_message: [Option<Pgn>; 2],
    faults: Vec<WireFault>,
    stats: SegmentStats,
    records: Vec<TapRecord>,
}

/// The index of a sender.
const fn side(node: Node) -> usize {
    match node {
        Node::Charger => 0,
        Node::Bms => 1,
    }
}

/// The node at an index.
const fn node_at(i: usize) -> Node {
    if i == 0 { Node::Charger } else { Node::Bms }
}

impl Segment {
    /// An idle segment.
    pub fn new(config: SegmentConfig) -> Segment {
        Segment {
            config,
            rings: [Ring::new(); 2],
            delayed: [VecDeque::new(), VecDeque::new()],
            delayed_count: 0,
            slow_out: None,
            bus_free_at: Instant::ZERO,
            next_due: NEVER,
            wire_us: std::array::from_fn(|len| wire_time_us(&config, len as u64)),
            tp_message: [None; 2],
            faults: Vec::new(),
            stats: SegmentStats::default(),
            records: Vec::new(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &SegmentStats {
        &self.stats
    }

    /// Adds a wire fault.
    pub fn add_fault(&mut self, fault: WireFault) {
        self.faults.push(fault);
    }

    /// Removes every wire fault.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// The wire faults in force.
    pub fn faults(&self) -> &[WireFault] {
        &self.faults
    }

    /// Turns recording on or off.
    pub fn set_recording(&mut self, on: bool) {
        self.config.record = on;
    }

    /// Takes the records kept so far.
    pub fn take_records(&mut self) -> Vec<TapRecord> {
        std::mem::take(&mut self.records)
    }

    /// The wire time of a frame with `len` data bytes.
    pub fn transmission_time(&self, len: u8) -> Duration {
        let us = match self.wire_us.get(usize::from(len)) {
            Some(&us) => us,
            None => wire_time_us(&self.config, u64::from(len)),
        };
        Duration::from_micros(us)
    }

    /// Puts a frame from `from` on the segment at `now`, through the fault layer.
    pub fn send<R: Rng + ?Sized>(
        &mut self,
        now: Instant,
        from: Node,
        frame: CanFrame,
        rng: &mut R,
    ) {
        let s = side(from);
        let (raw, message) = self.attribute(s, &frame);
        if self.faults.is_empty() {
            self.put_on_wire(
                now,
                s,
                frame,
                (raw, message),
                Duration::ZERO,
                Fate::Delivered,
            );
        } else {
            self.send_through_faults(now, from, frame, (raw, message), rng);
        }
    }

    /// `send` with wire faults in force.
    #[inline(never)]
    fn send_through_faults<R: Rng + ?Sized>(
        &mut self,
        now: Instant,
        from: Node,
        frame: CanFrame,
        (raw, message): (Option<Pgn>, Option<Pgn>),
        rng: &mut R,
    ) {
        let s = side(from);
        let mut frame = frame;
        let mut delay = Duration::ZERO;
        let mut duplicate = false;
        let mut lost: Option<Fate> = None;
        let mut corrupted = false;
        for fault in &self.faults {
            match *fault {
                WireFault::Silence { from: f, pgn } if f == from && message == Some(pgn) => {
                    lost = Some(Fate::Silenced);
                }
                WireFault::Drop {
                    from: f,
                    pgn,
                    ratio,
                } if f == from && message == Some(pgn) && hit(rng, ratio) => {
                    lost = lost.or(Some(Fate::Dropped));
                }
                WireFault::Delay {
                    from: f,
                    pgn,
                    delay: d,
                } if f == from && message == Some(pgn) => {
                    delay = delay.max(d);
                }
                WireFault::Duplicate {
                    from: f,
                    pgn,
                    ratio,
                } if f == from && message == Some(pgn) && hit(rng, ratio) => {
                    duplicate = true;
                }
                WireFault::Corrupt {
                    from: f,
                    pgn,
                    byte,
                    xor,
                    ratio,
                } if f == from && message == Some(pgn) && hit(rng, ratio) => {
                    corrupted |= edit(&mut frame, |d| {
                        if let Some(b) = d.get_mut(usize::from(byte)) {
                            *b ^= xor;
                        }
                    });
                }
                WireFault::SwapCmlCurrents
                    if from == Node::Charger && message == Some(Pgn::Cml) =>
                {
                    corrupted |= edit(&mut frame, |d| {
                        if d.len() >= 8 {
                            d.swap(4, 6);
                            d.swap(5, 7);
                        }
                    });
                }
                WireFault::CorruptTp {
                    pgn,
                    corruption,
                    ratio,
                } if message == Some(pgn) && hit(rng, ratio) => {
                    corrupted |= corrupt_tp(&mut frame, corruption);
                }
                _ => {}
            }
        }
        if corrupted {
            self.stats.corrupted += 1;
        }
        if let Some(fate) = lost {
            match fate {
                Fate::Silenced => self.stats.silenced += 1,
                _ => self.stats.dropped += 1,
            }
            self.record(now, from, frame, message, fate);
            return;
        }
        // Corruption keeps the identifier, so `raw` is still the frame's PGN.
        let pgns = (raw, message);
        self.put_on_wire(now, s, frame, pgns, delay, Fate::Delivered);
        if duplicate {
            self.stats.duplicated += 1;
            self.put_on_wire(now, s, frame, pgns, delay, Fate::Duplicate);
        }
    }

    /// Occupies the wire and queues the frame for delivery.
    fn put_on_wire(
        &mut self,
        now: Instant,
        s: usize,
        frame: CanFrame,
        (raw, message): (Option<Pgn>, Option<Pgn>),
        delay: Duration,
        fate: Fate,
    ) {
        let wire = self.transmission_time(frame.len());
        let start = now.max(self.bus_free_at);
        let end = start + wire;
        self.bus_free_at = end;
        self.stats.busy_us += wire.as_micros();
        let item = InFlight {
            due: end + delay,
            frame,
        };
        let queued = if delay > Duration::ZERO {
            self.stats.delayed += 1;
            let inserted = insert_sorted(self.delayed.get_mut(s), item);
            self.delayed_count += usize::from(inserted);
            inserted
        } else {
            self.rings.get_mut(s).is_some_and(|r| r.push(item))
        };
        let from = node_at(s);
        if queued {
            self.next_due = self.next_due.min(item.due);
        }
        if !queued {
            self.stats.overruns += 1;
            self.record(now, from, frame, message, Fate::Overrun);
            return;
        }
        if let (Some(p), Some(f)) = (raw, self.stats.frames.get_mut(s)) {
            f.bump(p);
        }
        if let (Some(m), Some(counts)) = (message, self.stats.by_message.get_mut(s)) {
            counts.bump(m);
        }
        self.record(item.due, from, frame, message, fate);
    }

    fn record(
        &mut self,
        at: Instant,
        from: Node,
        frame: CanFrame,
        message: Option<Pgn>,
        fate: Fate,
    ) {
        if self.config.record {
            self.records.push(TapRecord {
                at,
                from,
                frame,
                message,
                fate,
            });
        }
    }

    /// The PGN of a frame from side `s` by its identifier, and the message it belongs to,
    /// following TP sessions.
    fn attribute(&mut self, s: usize, frame: &CanFrame) -> (Option<Pgn>, Option<Pgn>) {
        let raw = Pgn::from_pdu_format((frame.id() >> 16) as u8);
        let message = match raw {
            Some(pgn) if frame.is_extended() => self.follow_tp(s, pgn, frame),
            _ => None,
        };
        (raw, message)
    }

    /// The message an extended frame of `pgn` belongs to (TP frames: the one they carry).
    fn follow_tp(&mut self, s: usize, pgn: Pgn, frame: &CanFrame) -> Option<Pgn> {
        let d = frame.data();
        match pgn {
            Pgn::TpCm => {
                let carried = match (d.get(5), d.get(6), d.get(7)) {
                    (Some(&a), Some(&b), Some(&c)) => {
                        Pgn::from_value(u32::from_le_bytes([a, b, c, 0]))
                    }
                    _ => None,
                };
                if d.first() == Some(&0x10)
                    && let Some(slot) = self.tp_message.get_mut(s)
                {
                    *slot = carried;
                }
                carried
            }
            Pgn::TpDt => self.tp_message.get(s).copied().flatten(),
            other => Some(other),
        }
    }

    /// The next frame whose delivery time has come, with its receiver.
    #[inline]
    pub fn poll_deliver(&mut self, now: Instant) -> Option<(Node, CanFrame)> {
        self.poll_deliver_ref(now).map(|(to, frame)| (to, *frame))
    }

    /// [`poll_deliver`](Segment::poll_deliver) handing out the frame by reference (it
    /// stays in its ring slot until the next send): returned in two registers, where a
    /// frame returned by value goes through memory in pieces the receiver then reads
    /// whole (a store-forwarding stall on every frame).
    #[inline]
    pub(crate) fn poll_deliver_ref(&mut self, now: Instant) -> Option<(Node, &CanFrame)> {
        // The owner polls until `None`: that last call is the common one, kept small.
        if self.next_due > now {
            return None;
        }
        self.deliver(now)
    }

    /// `poll_deliver_ref` when a frame may be due.
    #[inline(never)]
    fn deliver(&mut self, now: Instant) -> Option<(Node, &CanFrame)> {
        // The earliest head, the first of equals in tie order (delayed queues are empty
        // unless a delay fault is in force).
        if self.delayed_count == 0 {
            // No delay fault in force: only the two rings, charger first on a tie.
            let [r0, r1] = &self.rings;
            let (a, b) = (r0.head_due, r1.head_due);
            let s = usize::from(b < a);
            if a.min(b) > now {
                return None;
            }
            let slot = self.rings.get_mut(s).and_then(Ring::pop_slot)?;
            let [r0, r1] = &self.rings;
            self.next_due = r0.head_due.min(r1.head_due);
            let frame = self.rings.get(s).and_then(|r| r.frame_at(slot))?;
            return Some((node_at(s).peer(), frame));
        }
        self.deliver_slow(now)
    }

    /// `deliver` while a delay fault has frames in a delayed queue: the earliest of the
    /// four queue heads.
    fn deliver_slow(&mut self, now: Instant) -> Option<(Node, &CanFrame)> {
        let (k, due) = self
            .head_dues()
            .into_iter()
            .enumerate()
            .fold(
                (0, NEVER),
                |best, (k, d)| if d < best.1 { (k, d) } else { best },
            );
        if due > now {
            return None;
        }
        let (s, is_delayed) = (k / 2, k % 2 == 1);
        let item = if is_delayed {
            let item = self.delayed.get_mut(s).and_then(VecDeque::pop_front);
            self.delayed_count -= usize::from(item.is_some());
            item
        } else {
            self.rings.get_mut(s).and_then(Ring::pop)
        }?;
        self.next_due = self.head_dues().into_iter().fold(NEVER, Instant::min);
        self.slow_out = Some(item.frame);
        self.slow_out
            .as_ref()
            .map(|frame| (node_at(s).peer(), frame))
    }

    /// When the next frame is due for delivery.
    pub fn poll_timeout(&self) -> Option<Instant> {
        deadline(self.next_due)
    }

    /// [`poll_timeout`](Segment::poll_timeout) as a plain instant, `NEVER` for none.
    pub(crate) fn next_due_raw(&self) -> Instant {
        self.next_due
    }

    /// The due times of the four queue heads in tie order (the charger's ring, its
    /// delayed queue, the BMS's ring, its delayed queue); `NEVER` for an empty one.
    fn head_dues(&self) -> [Instant; 4] {
        let ring = |s: usize| self.rings.get(s).and_then(Ring::front_due);
        let delayed = |s: usize| self.delayed.get(s).and_then(|q| q.front()).map(|i| i.due);
        [ring(0), delayed(0), ring(1), delayed(1)].map(or_never)
    }
}

/// The wire time of a frame with `len` data bytes, microseconds (rounded up).
fn wire_time_us(config: &SegmentConfig, len: u64) -> u64 {
    let data_bits = 8 * len;
    let stuff = match config.stuffing {
        Stuffing::WorstCase => (54 + data_bits - 1) / 4,
        Stuffing::None => 0,
    };
    let bits = 67 + data_bits + stuff;
    let rate = u64::from(config.bitrate_bps.max(1));
    (bits * 1_000_000).div_ceil(rate)
}

/// Whether a fault with `ratio` applies to this frame (draws only for 0 < ratio < 1).
fn hit<R: Rng + ?Sized>(rng: &mut R, ratio: f64) -> bool {
    if ratio >= 1.0 {
        true
    } else if ratio > 0.0 {
        rng.random_bool(ratio)
    } else {
        false
    }
}

/// Applies `change` to a copy of the frame's data and rebuilds the frame; true if done.
fn edit(frame: &mut CanFrame, change: impl FnOnce(&mut [u8])) -> bool {
    let mut data = frame.data_padded();
    let len = usize::from(frame.len());
    if let Some(d) = data.get_mut(..len) {
        change(d);
    }
    match CanFrame::from_parts(frame.id(), frame.is_extended(), frame.len(), data) {
        Ok(f) => {
            let changed = f != *frame;
            *frame = f;
            changed
        }
        Err(_) => false,
    }
}

/// Damages one TP frame; true if it changed.
fn corrupt_tp(frame: &mut CanFrame, corruption: TpCorruption) -> bool {
    let pf = (frame.id() >> 16) as u8;
    match corruption {
        TpCorruption::Sequence if pf == 0xEB => edit(frame, |d| {
            if let Some(seq) = d.first_mut() {
                *seq = seq.wrapping_add(1);
            }
        }),
        TpCorruption::Payload if pf == 0xEB => edit(frame, |d| {
            if let Some(b) = d.get_mut(1) {
                *b ^= 0xFF;
            }
        }),
        TpCorruption::Size if pf == 0xEC && frame.data().first() == Some(&0x10) => {
            edit(frame, |d| {
                if let Some(size) = d.get_mut(1) {
                    // Eight more bytes need more packets than the RTS announces.
                    *size = size.wrapping_add(8);
                }
            })
        }
        _ => false,
    }
}

/// Inserts into a queue sorted by due time, after equal ones; false if the bound is hit.
fn insert_sorted(queue: Option<&mut VecDeque<InFlight>>, item: InFlight) -> bool {
    const DELAYED_BOUND: usize = 256;
    let Some(q) = queue else {
        return false;
    };
    if q.len() >= DELAYED_BOUND {
        return false;
    }
    let at = q.partition_point(|x| x.due <= item.due);
    q.insert(at, item);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn bcl() -> CanFrame {
        CanFrame::new(0x181056F4, &[0xD8, 0x0F, 0xD0, 0x07, 0x02]).unwrap()
    }

    #[test]
    fn transmission_time_at_250_kbit() {
        let s = Segment::new(SegmentConfig::default());
        // 8 bytes: 67 + 64 + 29 stuff bits = 160 bits = 640 µs.
        assert_eq!(s.transmission_time(8).as_micros(), 640);
        // 5 bytes: 67 + 40 + 23 = 130 bits = 520 µs.
        assert_eq!(s.transmission_time(5).as_micros(), 520);
        let plain = Segment::new(SegmentConfig {
            stuffing: Stuffing::None,
            ..SegmentConfig::default()
        });
        assert_eq!(plain.transmission_time(0).as_micros(), 268);
    }

    #[test]
    fn frames_arrive_in_order_after_their_wire_time() {
        let mut s = Segment::new(SegmentConfig::default());
        let t0 = Instant::from_millis(10);
        s.send(t0, Node::Bms, bcl(), &mut rng());
        s.send(t0, Node::Bms, bcl(), &mut rng());
        assert_eq!(s.poll_deliver(t0), None);
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_micros(520)));
        let t1 = t0 + Duration::from_micros(1040);
        assert_eq!(s.poll_deliver(t1), Some((Node::Charger, bcl())));
        assert_eq!(s.poll_deliver(t1), Some((Node::Charger, bcl())));
        assert_eq!(s.poll_deliver(t1), None);
        assert_eq!(s.stats().frames[1].get(Pgn::Bcl), 2);
    }

    #[test]
    fn ring_overrun_is_counted() {
        let mut s = Segment::new(SegmentConfig::default());
        for _ in 0..RING + 3 {
            s.send(Instant::ZERO, Node::Bms, bcl(), &mut rng());
        }
        assert_eq!(s.stats().overruns, 3);
    }

    #[test]
    fn faults_drop_silence_delay_duplicate_and_corrupt() {
        let mut s = Segment::new(SegmentConfig {
            record: true,
            ..SegmentConfig::default()
        });
        let far = Instant::from_secs(10);
        s.add_fault(WireFault::Silence {
            from: Node::Bms,
            pgn: Pgn::Bcl,
        });
        s.send(Instant::ZERO, Node::Bms, bcl(), &mut rng());
        assert_eq!(s.poll_deliver(far), None);
        s.clear_faults();
        s.add_fault(WireFault::Delay {
            from: Node::Bms,
            pgn: Pgn::Bcl,
            delay: Duration::from_millis(100),
        });
        s.add_fault(WireFault::Duplicate {
            from: Node::Bms,
            pgn: Pgn::Bcl,
            ratio: 1.0,
        });
        s.add_fault(WireFault::Corrupt {
            from: Node::Bms,
            pgn: Pgn::Bcl,
            byte: 4,
            xor: 0x03,
            ratio: 1.0,
        });
        s.send(Instant::ZERO, Node::Bms, bcl(), &mut rng());
        assert_eq!(s.poll_deliver(Instant::from_millis(99)), None);
        let (to, f) = s.poll_deliver(far).unwrap();
        assert_eq!(to, Node::Charger);
        assert_eq!(f.data()[4], 0x01);
        assert!(s.poll_deliver(far).is_some());
        let st = *s.stats();
        assert_eq!(
            (st.silenced, st.duplicated, st.delayed, st.corrupted),
            (1, 1, 2, 1)
        );
        let fates: Vec<Fate> = s.take_records().iter().map(|r| r.fate).collect();
        assert_eq!(fates, [Fate::Silenced, Fate::Delivered, Fate::Duplicate]);
    }

    #[test]
    fn tp_frames_are_attributed_to_their_message() {
        let mut s = Segment::new(SegmentConfig::default());
        s.add_fault(WireFault::Drop {
            from: Node::Bms,
            pgn: Pgn::Brm,
            ratio: 1.0,
        });
        let rts = CanFrame::new(0x1CEC56F4, &[0x10, 0x31, 0, 7, 0xFF, 0, 2, 0]).unwrap();
        let dt = CanFrame::new(0x1CEB56F4, &[1, 1, 1, 0, 3, 0xF0, 5, 0x40]).unwrap();
        s.send(Instant::ZERO, Node::Bms, rts, &mut rng());
        s.send(Instant::ZERO, Node::Bms, dt, &mut rng());
        assert_eq!(s.stats().dropped, 2);
        s.clear_faults();
        s.add_fault(WireFault::CorruptTp {
            pgn: Pgn::Brm,
            corruption: TpCorruption::Sequence,
            ratio: 1.0,
        });
        s.send(Instant::ZERO, Node::Bms, dt, &mut rng());
        let (_, f) = s.poll_deliver(Instant::from_secs(1)).unwrap();
        assert_eq!(f.data()[0], 2);
        assert_eq!(s.stats().by_message[1].get(Pgn::Brm), 1);
    }

    #[test]
    fn swapped_cml_currents() {
        let mut s = Segment::new(SegmentConfig::default());
        s.add_fault(WireFault::SwapCmlCurrents);
        let cml = CanFrame::new(
            0x1808F456,
            &[0x1C, 0x25, 0x7C, 0x01, 0xDC, 0x05, 0xA0, 0x0F],
        )
        .unwrap();
        s.send(Instant::ZERO, Node::Charger, cml, &mut rng());
        let (to, f) = s.poll_deliver(Instant::from_secs(1)).unwrap();
        assert_eq!(to, Node::Bms);
        assert_eq!(f.data(), [0x1C, 0x25, 0x7C, 0x01, 0xA0, 0x0F, 0xDC, 0x05]);
    }
}
