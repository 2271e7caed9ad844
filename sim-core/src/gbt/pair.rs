//! One DC connector's GB/T link: a charger, a BMS and the segment between them.
//!
//! [`Pair::step`] moves frames across the segment, fires due timers and forwards both
//! machines' events to one queue. It also wires the one electrical link between the two
//! machines that needs no physics: the charger's aux power switches the BMS on and off.
//! Everything else physical (insulation check, pre-charge, contactors, the battery) goes
//! through the machines' plant inputs, driven by the owner from the events.

use std::collections::VecDeque;

use proto::gbt27930::id::Node;
use proto::time::Instant;
use rand_chacha::ChaCha8Rng;

use super::bms::{BmsConfig, BmsEvent, BmsSession};
use super::charger::{ChargerConfig, ChargerEvent, ChargerSession};
use super::common::{deadline, push_bounded};
use super::faults::GbtFault;
use super::segment::{Segment, SegmentConfig};

/// An event from either side of a pair.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairEvent {
    /// From the charger.
    Charger(ChargerEvent),
    /// From the BMS.
    Bms(BmsEvent),
}

/// The most rounds one `step` runs before it stops (and counts a stall); a round moves at
/// least one frame or event, and a session moves a few per instant.
const MAX_ROUNDS: usize = 256;

/// The deadlines of a pair's three parts, `NEVER` for none.
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    charger: Instant,
    bms: Instant,
    segment: Instant,
}

/// A charger and a BMS on their own segment.
#[derive(Debug)]
pub struct Pair {
    /// The charger.
    pub charger: ChargerSession,
    /// The vehicle's BMS.
    pub bms: BmsSession,
    /// The CAN segment between them.
    pub segment: Segment,
    rng: ChaCha8Rng,
    events: VecDeque<PairEvent>,
    events_dropped: u64,
    stalls: u64,
}

impl Pair {
    /// A pair with nothing plugged in. `rng` drives the segment's random faults only.
    pub fn new(
        charger: ChargerConfig,
        bms: BmsConfig,
        segment: SegmentConfig,
        rng: ChaCha8Rng,
    ) -> Pair {
        Pair {
            charger: ChargerSession::new(charger),
            bms: BmsSession::new(bms),
            segment: Segment::new(segment),
            rng,
            events: VecDeque::with_capacity(8),
            events_dropped: 0,
            stalls: 0,
        }
    }

    /// Plugs the gun in (the charger switches aux power on; the BMS follows in `step`).
    pub fn plug_in(&mut self, now: Instant) {
        self.charger.plug_in(now);
        self.step(now);
    }

    /// Pulls the gun out of both sides.
    pub fn unplug(&mut self, now: Instant) {
        self.charger.unplug(now);
        self.bms.unplug(now);
        self.step(now);
    }

    /// Applies a fault hook where it belongs.
    pub fn apply_fault(&mut self, now: Instant, fault: GbtFault) {
        match fault {
            GbtFault::Wire(w) => self.segment.add_fault(w),
            GbtFault::Bms(b) => self.bms.inject_fault(now, b),
            GbtFault::Charger(c) => self.charger.inject_fault(now, c),
        }
    }

    /// Runs everything due at `now`: timers, deliveries, transmissions, events, until
    /// nothing moves. Afterwards [`poll_timeout`](Pair::poll_timeout) is later than `now`.
    pub fn step(&mut self, now: Instant) {
        self.step_settled(now);
    }

    /// [`step`](Pair::step), returning the pair's next deadline (`NEVER` for none) when
    /// it settled, `None` when it hit the round limit. The deadline is the one the last
    /// check computed: nothing moves after it.
    pub(crate) fn step_settled(&mut self, now: Instant) -> Option<Instant> {
        self.settle(now, self.deadlines()).0
    }

    /// Steps at `first`, then at each of the pair's own next deadlines while they are
    /// before `bound`, exactly as an owner woken at each of them would call
    /// [`step_settled`](Pair::step_settled), and stops after the first step that left
    /// events to poll or hit the round limit. Returns the time of the last step and what
    /// it returned.
    ///
    /// Between two of these steps nothing else touches the pair, so the deadlines the
    /// last check of one step read are the first check of the next: each step reads them
    /// once, and the owner's per-step work is done once for the whole run.
    pub(crate) fn run_quiet(
        &mut self,
        first: Instant,
        bound: Instant,
    ) -> (Instant, Option<Instant>) {
        let mut at = first;
        let mut deadlines = self.deadlines();
        loop {
            let (settled, last) = self.settle(at, deadlines);
            match settled {
                Some(next) if next < bound && self.events.is_empty() => {
                    at = next;
                    deadlines = last;
                }
                _ => return (at, settled),
            }
        }
    }

    /// The three deadlines a round checks: the charger's, the BMS's and the segment's.
    #[inline]
    fn deadlines(&self) -> Deadlines {
        Deadlines {
            charger: self.charger.next_deadline(),
            bms: self.bms.next_deadline(),
            segment: self.segment.next_due_raw(),
        }
    }

    /// Runs rounds at `now` until nothing moves, starting from the deadlines `first`
    /// (read since the pair last changed). Returns what
    /// [`step_settled`](Pair::step_settled) returns and the deadlines of the last check.
    #[inline]
    fn settle(&mut self, now: Instant, first: Deadlines) -> (Option<Instant>, Deadlines) {
        let mut d = first;
        for _ in 0..MAX_ROUNDS {
            // A round with nothing due moves nothing: skip it (most steps need one round,
            // and the owner often steps once more to see whether its events caused more).
            let (charger_due, bms_due) = (d.charger <= now, d.bms <= now);
            let busy = charger_due
                || bms_due
                || d.segment <= now
                || self.charger.has_output()
                || self.bms.has_output();
            if !busy || !self.round(now, charger_due, bms_due) {
                return (Some(d.charger.min(d.bms).min(d.segment)), d);
            }
            d = self.deadlines();
        }
        self.stalls += 1;
        (None, d)
    }

    /// Whether a round at `now` would fire a timer, deliver, send or forward anything.
    pub fn has_work(&self, now: Instant) -> bool {
        self.charger.has_work(now) || self.bms.has_work(now) || self.segment.next_due_raw() <= now
    }

    /// One round; true if anything moved. `charger_due` and `bms_due` tell whether each
    /// machine's deadline has come (the charger's timers do not move the BMS's).
    fn round(&mut self, now: Instant, charger_due: bool, bms_due: bool) -> bool {
        let mut moved = false;
        // A due deadline is mostly a periodic message (sent below); the timeout handlers
        // run only when a timer or a TP deadline has come (otherwise they do nothing).
        if charger_due && self.charger.timer_due(now) {
            self.charger.handle_timeout(now);
        }
        if bms_due && self.bms.timer_due(now) {
            self.bms.handle_timeout(now);
        }
        while let Some((to, frame)) = self.segment.poll_deliver_ref(now) {
            moved = true;
            match to {
                Node::Charger => self.charger.handle_frame(now, frame),
                Node::Bms => self.bms.handle_frame(now, frame),
            }
        }
        while let Some(frame) = self.charger.poll_transmit(now) {
            moved = true;
            self.segment.send(now, Node::Charger, frame, &mut self.rng);
        }
        while let Some(frame) = self.bms.poll_transmit(now) {
            moved = true;
            self.segment.send(now, Node::Bms, frame, &mut self.rng);
        }
        while let Some(event) = self.charger.poll_event() {
            moved = true;
            if let ChargerEvent::AuxPower(on) = event {
                self.bms.aux_power(now, on);
            }
            push_bounded(
                &mut self.events,
                PairEvent::Charger(event),
                &mut self.events_dropped,
            );
        }
        while let Some(event) = self.bms.poll_event() {
            moved = true;
            push_bounded(
                &mut self.events,
                PairEvent::Bms(event),
                &mut self.events_dropped,
            );
        }
        moved
    }

    /// The next time `step` has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        deadline(self.next_deadline())
    }

    /// [`poll_timeout`](Pair::poll_timeout) as a plain instant, `NEVER` for none.
    fn next_deadline(&self) -> Instant {
        let next = self.charger.next_deadline().min(self.bms.next_deadline());
        next.min(self.segment.next_due_raw())
    }

    /// The next event from either side, in the order they happened.
    pub fn poll_event(&mut self) -> Option<PairEvent> {
        self.events.pop_front()
    }

    /// Events lost because the owner did not poll (more than the queue bound pending).
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// Times `step` hit its round limit (a bug indicator; should stay 0).
    pub fn stalls(&self) -> u64 {
        self.stalls
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbt::charger::ChargerStopCause;
    use proto::time::Duration;
    use rand::SeedableRng;

    fn pair() -> Pair {
        Pair::new(
            ChargerConfig::default(),
            BmsConfig::lfp(),
            SegmentConfig::default(),
            ChaCha8Rng::seed_from_u64(7),
        )
    }

    /// Takes the pair's events, stamped with the time of the step that produced them.
    fn drain(p: &mut Pair, at: Instant, log: &mut Vec<(Instant, PairEvent)>) {
        while let Some(e) = p.poll_event() {
            log.push((at, e));
        }
    }

    /// A whole session (handshake, charging, a manual stop at 40 s, the end at 60 s),
    /// the owner calling `advance(pair, deadline, stopped)` at each deadline of the pair;
    /// `advance` returns the time of the pair's last step. Returns the events, stamped
    /// with the time of the step that produced them, and the final state.
    fn session(
        mut advance: impl FnMut(&mut Pair, Instant, bool) -> Instant,
    ) -> (Vec<(Instant, PairEvent)>, String) {
        let mut p = pair();
        let mut log = Vec::new();
        p.plug_in(Instant::ZERO);
        drain(&mut p, Instant::ZERO, &mut log);
        let stop_at = Instant::ZERO + STOP;
        let mut stopped = false;
        while let Some(at) = p.poll_timeout().filter(|&t| t < Instant::ZERO + END) {
            if !stopped && at >= stop_at {
                stopped = true;
                p.charger.request_stop(stop_at, ChargerStopCause::Manual);
                p.step(stop_at);
                drain(&mut p, stop_at, &mut log);
                continue;
            }
            let last = advance(&mut p, at, stopped);
            drain(&mut p, last, &mut log);
        }
        (log, format!("{p:?}"))
    }

    const STOP: Duration = Duration::from_secs(40);
    const END: Duration = Duration::from_secs(60);

    #[test]
    fn running_quiet_steps_is_stepping_at_each_deadline() {
        let (events, state) = session(|p, at, _| {
            assert!(p.step_settled(at).is_some());
            at
        });
        assert!(
            events
                .iter()
                .any(|(_, e)| matches!(e, PairEvent::Charger(ChargerEvent::Stopped { .. }))),
            "the session ran to its end: {events:?}"
        );
        // The pair runs its quiet steps by itself up to a bound every `chunk_ms` (and the
        // stop); the owner steps in for events only.
        for chunk_ms in [1, 7, 50, 100, 1_000, 60_000] {
            let mut bound = Instant::ZERO;
            let mut runs = 0;
            let (q_events, q_state) = session(|p, at, stopped| {
                while bound <= at {
                    bound += Duration::from_millis(chunk_ms);
                }
                let stop = Instant::ZERO + if stopped { END } else { STOP };
                let limit = bound.min(stop);
                let (last, settled) = p.run_quiet(at, limit);
                assert!(settled.is_some());
                assert!(last == at || (at < last && last < limit));
                runs += 1;
                last
            });
            assert!(runs > 10);
            assert_eq!(q_events, events, "events, chunks of {chunk_ms} ms");
            assert_eq!(q_state, state, "final state, chunks of {chunk_ms} ms");
        }
    }
}
