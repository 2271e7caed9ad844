//! What a case run saw on the bus, and the measurements checks make on it.
//!
//! The runner records every frame in a buffer allocated once at the start of the run; the
//! analysis below runs after the run and may allocate.

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};
use proto::gbt27930::tp::{TpConfig, TpEvent, TpReceiver};
use proto::time::{Duration, Instant};

use super::key::{Attributor, FrameClass, Key};

/// The most frames one run records: 65 536 is over 15 min at the ~60 frames/s of a
/// charging session (gbt27930.md §7.4), and the longest case lasts about 100 s.
pub const TRACE_CAPACITY: usize = 65_536;

/// One frame on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rec {
    /// When it arrived (DUT frames) or was sent (tester frames).
    pub at: Instant,
    /// Whether the device under test sent it.
    pub from_dut: bool,
    /// The frame.
    pub frame: CanFrame,
    /// What it is.
    pub class: FrameClass,
}

/// The frames of one run, both directions, in order.
#[derive(Debug, Clone)]
pub struct Trace {
    dut: Node,
    start: Instant,
    recs: Vec<Rec>,
    truncated: bool,
    attributor: Attributor,
}

/// Period statistics of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PeriodStats {
    /// Frames seen.
    pub count: usize,
    /// Median gap between consecutive frames.
    pub median: Duration,
    /// Shortest gap.
    pub min: Duration,
    /// Longest gap.
    pub max: Duration,
}

impl Trace {
    /// An empty trace for a run whose device under test is `dut`, started at `start`.
    pub fn new(dut: Node, start: Instant) -> Trace {
        Trace {
            dut,
            start,
            recs: Vec::with_capacity(TRACE_CAPACITY),
            truncated: false,
            attributor: Attributor::default(),
        }
    }

    /// The role of the device under test.
    pub fn dut(&self) -> Node {
        self.dut
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Whether frames were lost because the buffer was full.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Every record.
    pub fn records(&self) -> &[Rec] {
        &self.recs
    }

    /// Records a frame and returns its class. Allocation-free until the capacity is hit.
    pub fn record(&mut self, at: Instant, from_dut: bool, frame: CanFrame) -> FrameClass {
        let from = if from_dut { self.dut } else { self.dut.peer() };
        let class = self.attributor.classify(from, &frame);
        if self.recs.len() < TRACE_CAPACITY {
            self.recs.push(Rec {
                at,
                from_dut,
                frame,
                class,
            });
        } else {
            self.truncated = true;
        }
        class
    }

    /// Records of one side matching `key`.
    pub fn of(&self, from_dut: bool, key: Key) -> impl Iterator<Item = &Rec> + '_ {
        self.recs
            .iter()
            .filter(move |r| r.from_dut == from_dut && r.class.matches(key, &r.frame))
    }

    /// DUT frames matching `key`.
    pub fn dut_frames(&self, key: Key) -> impl Iterator<Item = &Rec> + '_ {
        self.of(true, key)
    }

    /// The first DUT frame matching `key`.
    pub fn first_dut(&self, key: Key) -> Option<&Rec> {
        self.dut_frames(key).next()
    }

    /// The last DUT frame matching `key`.
    pub fn last_dut(&self, key: Key) -> Option<&Rec> {
        self.dut_frames(key).last()
    }

    /// The first tester frame matching `key`.
    pub fn first_tester(&self, key: Key) -> Option<&Rec> {
        self.of(false, key).next()
    }

    /// The last tester frame matching `key` before `before`.
    pub fn last_tester_before(&self, key: Key, before: Instant) -> Option<&Rec> {
        self.of(false, key).take_while(|r| r.at < before).last()
    }

    /// Number of DUT frames matching `key`.
    pub fn count_dut(&self, key: Key) -> usize {
        self.dut_frames(key).count()
    }

    /// Period statistics of DUT frames matching `key` in `[from, to)`.
    pub fn periods(&self, key: Key, from: Instant, to: Instant) -> Option<PeriodStats> {
        let times: Vec<Instant> = self
            .dut_frames(key)
            .map(|r| r.at)
            .filter(|t| *t >= from && *t < to)
            .collect();
        period_stats(&times)
    }

    /// Period statistics of whole TP messages from the DUT (RTS to RTS) in `[from, to)`.
    pub fn tp_periods(&self, pgn: Pgn, from: Instant, to: Instant) -> Option<PeriodStats> {
        self.periods(Key::Rts(pgn), from, to)
    }

    /// The DUT's multi-packet messages, reassembled: (time of completion, pgn, payload).
    /// Only a BMS originates TP sessions in GB/T, so this is empty for a charger.
    pub fn dut_tp_messages(&self) -> Vec<(Instant, Pgn, Vec<u8>)> {
        let mut cfg = TpConfig::new(self.dut.peer());
        cfg.max_message_size = 1785;
        let mut rx = TpReceiver::new(cfg);
        let mut out = Vec::new();
        for r in self.recs.iter().filter(|r| r.from_dut) {
            let pf = (r.frame.id() >> 16) as u8;
            if pf != Pgn::TpCm.pdu_format() && pf != Pgn::TpDt.pdu_format() {
                continue;
            }
            let _ = rx.handle_frame(r.at, &r.frame);
            while rx.poll_transmit(r.at).is_some() {}
            while let Some(ev) = rx.poll_event() {
                if let TpEvent::Received { pgn, data } = ev
                    && let Some(p) = Pgn::from_value(pgn)
                {
                    out.push((r.at, p, data.to_vec()));
                }
            }
        }
        out
    }

    /// The first DUT frame of `key` at or after `from`.
    pub fn first_dut_after(&self, key: Key, from: Instant) -> Option<&Rec> {
        self.dut_frames(key).find(|r| r.at >= from)
    }

    /// Whether the DUT sent any frame of `key` in `[from, to)`.
    pub fn dut_sent_between(&self, key: Key, from: Instant, to: Instant) -> bool {
        self.dut_frames(key).any(|r| r.at >= from && r.at < to)
    }
}

/// Median, min and max of the gaps between consecutive `times` (at least two).
pub fn period_stats(times: &[Instant]) -> Option<PeriodStats> {
    let mut gaps: Vec<Duration> = times
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(b.saturating_since(*a)),
            _ => None,
        })
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    Some(PeriodStats {
        count: times.len(),
        median: gaps.get(gaps.len() / 2).copied().unwrap_or(Duration::ZERO),
        min: gaps.first().copied().unwrap_or(Duration::ZERO),
        max: gaps.last().copied().unwrap_or(Duration::ZERO),
    })
}
