//! The trace: a stream of typed events `(time, entity, event)` and its running digest.
//!
//! Every event is rendered once into a canonical JSON line,
//! `{"t_us":…,"entity":"c17","event":"…",…}`, and those bytes feed a BLAKE3 digest.
//! The same seed and scenario give the same lines and the same digest, whatever the run
//! speed, because events are produced by virtual time alone. The lines that the run asked
//! for (`--trace FILE`, up to a [`TraceLevel`]) are buffered for the I/O shell to write;
//! this module never does I/O itself.
//!
//! Levels: [`TraceLevel::Session`] and [`TraceLevel::Protocol`] events always enter the
//! digest; [`TraceLevel::Frame`] events (every CAN frame) are rendered only when asked
//! for, and never enter the digest, so a frame trace does not change a run's digest.

use crate::time::Instant;
use serde::Serialize;
use std::fmt::Write as _;

/// How much of the event stream a trace file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceLevel {
    /// Sessions, state changes, faults, verdict-relevant events.
    Session = 0,
    /// Plus every protocol message (MQTT, HTTP, decoded GB/T 27930 messages).
    Protocol = 1,
    /// Plus every CAN frame. Not part of the digest.
    Frame = 2,
}

/// The highest level that enters the digest.
pub const DIGEST_LEVEL: TraceLevel = TraceLevel::Protocol;

/// Who an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entity {
    /// The fleet as a whole (scenario, timeline).
    Fleet,
    /// A charger (equipment) by its fleet index.
    Charger(u32),
    /// A connector by its global fleet index.
    Connector(u32),
    /// The reference backend.
    Backend,
    /// The reference monitoring platform.
    Platform,
    /// The in-memory network.
    Network,
}

impl Entity {
    fn write_to(self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = match self {
            Entity::Fleet => out.write_str("fleet"),
            Entity::Charger(i) => write!(out, "ch{i}"),
            Entity::Connector(i) => write!(out, "c{i}"),
            Entity::Backend => out.write_str("backend"),
            Entity::Platform => out.write_str("platform"),
            Entity::Network => out.write_str("network"),
        };
    }
}

/// An event that can be traced: serializes to a JSON object whose first key is `event`.
pub trait TraceEvent: Serialize {
    /// The level this event belongs to.
    fn level(&self) -> TraceLevel;
}

/// The trace of one run: digest, counts and the buffered lines for the shell to write.
#[derive(Debug)]
pub struct Trace {
    write_level: Option<TraceLevel>,
    hasher: blake3::Hasher,
    events_digested: u64,
    pending: Vec<u8>,
    line: String,
    scratch: Vec<u8>,
}

impl Trace {
    /// A trace that buffers lines up to `write_level` (`None`: digest only).
    pub fn new(write_level: Option<TraceLevel>) -> Self {
        Trace {
            write_level,
            hasher: blake3::Hasher::new(),
            events_digested: 0,
            pending: Vec::with_capacity(64 * 1024),
            line: String::with_capacity(256),
            scratch: Vec::with_capacity(256),
        }
    }

    /// Whether events of `level` are rendered at all; callers may skip building
    /// expensive events when this is false.
    pub fn wants(&self, level: TraceLevel) -> bool {
        level <= DIGEST_LEVEL || self.write_level.is_some_and(|w| level <= w)
    }

    /// Records `event` about `entity` at `t`.
    pub fn record<E: TraceEvent>(&mut self, t: Instant, entity: Entity, event: &E) {
        let level = event.level();
        if !self.wants(level) {
            return;
        }
        self.scratch.clear();
        if serde_json::to_writer(&mut self.scratch, event).is_err() || self.scratch.len() < 2 {
            // Our event types always serialize to an object; a failure is a bug in an
            // event type, recorded as such rather than lost.
            self.scratch.clear();
            self.scratch
                .extend_from_slice(br#"{"event":"unserializable"}"#);
        }
        self.line.clear();
        let _ = write!(self.line, "{{\"t_us\":{},\"entity\":\"", t.as_micros());
        entity.write_to(&mut self.line);
        self.line.push_str("\",");
        let body = &self.scratch[1..];
        if level <= DIGEST_LEVEL {
            self.hasher.update(self.line.as_bytes());
            self.hasher.update(body);
            self.hasher.update(b"\n");
            self.events_digested += 1;
        }
        if self.write_level.is_some_and(|w| level <= w) {
            self.pending.extend_from_slice(self.line.as_bytes());
            self.pending.extend_from_slice(body);
            self.pending.push(b'\n');
        }
    }

    /// The digest of every digest-level event so far, as lowercase hex.
    pub fn digest(&self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }

    /// How many events entered the digest.
    pub fn events_digested(&self) -> u64 {
        self.events_digested
    }

    /// Takes the buffered JSON lines (for the shell to write), leaving the buffer empty.
    pub fn take_pending(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.pending, Vec::with_capacity(64 * 1024))
    }

    /// Bytes buffered and not yet taken.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    #[serde(tag = "event", rename_all = "snake_case")]
    enum Ev {
        Plugged { soc_pct: f64 },
        Frame { id: u32 },
    }
    impl TraceEvent for Ev {
        fn level(&self) -> TraceLevel {
            match self {
                Ev::Plugged { .. } => TraceLevel::Session,
                Ev::Frame { .. } => TraceLevel::Frame,
            }
        }
    }

    #[test]
    fn lines_are_canonical_json() {
        let mut t = Trace::new(Some(TraceLevel::Session));
        t.record(
            Instant::from_micros(5),
            Entity::Connector(17),
            &Ev::Plugged { soc_pct: 12.5 },
        );
        let out = String::from_utf8(t.take_pending()).unwrap();
        assert_eq!(
            out,
            "{\"t_us\":5,\"entity\":\"c17\",\"event\":\"plugged\",\"soc_pct\":12.5}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(parsed["entity"], "c17");
    }

    #[test]
    fn frame_events_never_change_the_digest() {
        let mut a = Trace::new(None);
        let mut b = Trace::new(Some(TraceLevel::Frame));
        for t in [&mut a, &mut b] {
            t.record(Instant::ZERO, Entity::Fleet, &Ev::Plugged { soc_pct: 1.0 });
            t.record(Instant::ZERO, Entity::Fleet, &Ev::Frame { id: 7 });
        }
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.events_digested(), 1);
        assert_eq!(a.pending_len(), 0);
        assert_eq!(
            String::from_utf8(b.take_pending()).unwrap().lines().count(),
            2
        );
    }

    #[test]
    fn digest_depends_on_content_and_order() {
        let mut a = Trace::new(None);
        let mut b = Trace::new(None);
        a.record(
            Instant::ZERO,
            Entity::Connector(1),
            &Ev::Plugged { soc_pct: 1.0 },
        );
        a.record(
            Instant::ZERO,
            Entity::Connector(2),
            &Ev::Plugged { soc_pct: 1.0 },
        );
        b.record(
            Instant::ZERO,
            Entity::Connector(2),
            &Ev::Plugged { soc_pct: 1.0 },
        );
        b.record(
            Instant::ZERO,
            Entity::Connector(1),
            &Ev::Plugged { soc_pct: 1.0 },
        );
        assert_ne!(a.digest(), b.digest());
    }
}
