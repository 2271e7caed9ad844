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
        for _ in 0..MAX_ROUNDS {
            // A round with nothing due moves nothing: skip it (most steps need one round,
            // and the owner often steps once more to see whether its events caused more).
            // The deadlines are read once per round and handed to it.
            let charger_next = self.charger.next_deadline();
            let bms_next = self.bms.next_deadline();
            let segment_next = self.segment.next_due_raw();
            let (charger_due, bms_due) = (charger_next <= now, bms_next <= now);
            let busy = charger_due
                || bms_due
                || segment_next <= now
                || self.charger.has_output()
                || self.bms.has_output();
            if !busy || !self.round(now, charger_due, bms_due) {
                return Some(charger_next.min(bms_next).min(segment_next));
            }
        }
        self.stalls += 1;
        None
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
