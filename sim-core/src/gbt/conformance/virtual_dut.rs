//! chargestorm's own charger or BMS as a device under test, on an in-process segment.
//!
//! The bus runs in virtual time at full speed and is deterministic. A minimal plant goes
//! with it: a charger DUT's output follows its setpoint once K1/K2 are closed, at the
//! battery voltage BCP announced. [`DutFault`] makes the DUT deliberately wrong, so that
//! tests can show a case fails for the right reason.

use std::collections::VecDeque;

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};
use proto::time::{Duration, Instant};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::bus::TestBus;
use super::script::{Bench, DutAction};
use crate::gbt::bms::{BmsConfig, BmsPhase, BmsSession};
use crate::gbt::charger::{
    ChargerConfig, ChargerEvent, ChargerPhase, ChargerSession, ChargerStopCause, OutputStatus,
    PrechargePolicy,
};
use crate::gbt::segment::{Segment, SegmentConfig};

/// A deliberate defect of a virtual DUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DutFault {
    /// A charger that ignores BCL timeouts: it keeps feeding itself the last BCL it saw,
    /// so it never raises CEM SPN3925 once a BCL has arrived.
    IgnoreBclTimeout,
    /// A BMS that ignores CCS timeouts in the same way (never BEM SPN3905 once charging).
    IgnoreCcsTimeout,
}

/// The device under test.
#[derive(Debug)]
enum Dut {
    Charger(Box<ChargerSession>),
    Bms(Box<BmsSession>),
}

/// How long a faulty DUT lets pass before it feeds itself the cached frame again (less
/// than the 1 s timeout it defeats).
const REFEED_AFTER: Duration = Duration::from_millis(900);

/// A virtual DUT on its own segment (see the module documentation).
#[derive(Debug)]
pub struct VirtualBus {
    dut: Dut,
    node: Node,
    segment: Segment,
    rng: ChaCha8Rng,
    inbox: VecDeque<(Instant, CanFrame)>,
    fault: Option<DutFault>,
    /// The frame a faulty DUT feeds itself, and when it last saw (or fed) it.
    cached: Option<(Instant, CanFrame)>,
    /// Plant state of a charger DUT.
    contactors_closed: bool,
    setpoint_a: f64,
    battery_v: f64,
}

impl VirtualBus {
    /// A charger DUT with `cfg`, set up for `bench`.
    pub fn charger(mut cfg: ChargerConfig, bench: Bench, fault: Option<DutFault>) -> VirtualBus {
        if bench == Bench::HoldPrecharge {
            cfg.precharge = PrechargePolicy::External;
        }
        Self::with(Dut::Charger(Box::new(ChargerSession::new(cfg))), fault)
    }

    /// A BMS DUT with `cfg`.
    pub fn bms(cfg: BmsConfig, fault: Option<DutFault>) -> VirtualBus {
        Self::with(Dut::Bms(Box::new(BmsSession::new(cfg))), fault)
    }

    fn with(dut: Dut, fault: Option<DutFault>) -> VirtualBus {
        let node = match dut {
            Dut::Charger(_) => Node::Charger,
            Dut::Bms(_) => Node::Bms,
        };
        VirtualBus {
            dut,
            node,
            segment: Segment::new(SegmentConfig::default()),
            rng: ChaCha8Rng::seed_from_u64(0x6762_7433_3436_3538),
            inbox: VecDeque::with_capacity(64),
            fault,
            cached: None,
            contactors_closed: false,
            setpoint_a: 0.0,
            battery_v: 0.0,
        }
    }

    /// The role of the device under test.
    pub fn dut_role(&self) -> Node {
        self.node
    }

    /// The charger DUT, if the DUT is a charger.
    pub fn charger_dut(&self) -> Option<&ChargerSession> {
        match &self.dut {
            Dut::Charger(c) => Some(c),
            Dut::Bms(_) => None,
        }
    }

    /// The BMS DUT, if the DUT is a BMS.
    pub fn bms_dut(&self) -> Option<&BmsSession> {
        match &self.dut {
            Dut::Bms(b) => Some(b),
            Dut::Charger(_) => None,
        }
    }

    /// One round of DUT work at `now`; true if anything moved.
    fn round(&mut self, now: Instant) -> bool {
        let mut moved = false;
        self.refeed(now);
        match &mut self.dut {
            Dut::Charger(c) if c.poll_timeout().is_some_and(|t| t <= now) => {
                c.handle_timeout(now);
            }
            Dut::Bms(b) if b.poll_timeout().is_some_and(|t| t <= now) => b.handle_timeout(now),
            _ => {}
        }
        while let Some((to, frame)) = self.segment.poll_deliver(now) {
            moved = true;
            if to == self.node {
                self.note_rx(now, &frame);
                match &mut self.dut {
                    Dut::Charger(c) => c.handle_frame(now, &frame),
                    Dut::Bms(b) => b.handle_frame(now, &frame),
                }
            } else {
                self.inbox.push_back((now, frame));
            }
        }
        loop {
            let frame = match &mut self.dut {
                Dut::Charger(c) => c.poll_transmit(now),
                Dut::Bms(b) => b.poll_transmit(now),
            };
            let Some(frame) = frame else { break };
            moved = true;
            self.segment.send(now, self.node, frame, &mut self.rng);
        }
        moved |= self.drain_events(now);
        moved
    }

    /// Runs the charger DUT's plant on its events.
    fn drain_events(&mut self, now: Instant) -> bool {
        let mut moved = false;
        match &mut self.dut {
            Dut::Charger(c) => {
                let mut changed = false;
                while let Some(e) = c.poll_event() {
                    moved = true;
                    match e {
                        ChargerEvent::Setpoint(s) => self.setpoint_a = s.current_a,
                        ChargerEvent::CloseContactors => self.contactors_closed = true,
                        ChargerEvent::OpenContactors => self.contactors_closed = false,
                        ChargerEvent::ParametersReceived(bcp) => {
                            self.battery_v = bcp.battery_voltage_v;
                        }
                        _ => continue,
                    }
                    changed = true;
                }
                if changed {
                    let closed = self.contactors_closed;
                    c.update_output(
                        now,
                        OutputStatus {
                            voltage_v: if closed { self.battery_v } else { 0.0 },
                            current_a: if closed { self.setpoint_a } else { 0.0 },
                            battery_side_voltage_v: self.battery_v,
                            contactors_closed: closed,
                            gun_temperature_c: 30.0,
                        },
                    );
                }
            }
            Dut::Bms(b) => {
                while b.poll_event().is_some() {
                    moved = true;
                }
            }
        }
        moved
    }

    /// A faulty DUT remembers the frame whose timeout it ignores.
    fn note_rx(&mut self, now: Instant, frame: &CanFrame) {
        let watched = match self.fault {
            Some(DutFault::IgnoreBclTimeout) => Pgn::Bcl,
            Some(DutFault::IgnoreCcsTimeout) => Pgn::Ccs,
            None => return,
        };
        if frame.is_extended() && (frame.id() >> 16) as u8 == watched.pdu_format() {
            self.cached = Some((now, *frame));
        }
    }

    /// Whether the faulty DUT is in the phase where it would check the timeout.
    fn refeed_phase(&self) -> bool {
        match &self.dut {
            Dut::Charger(c) => matches!(
                c.phase(),
                ChargerPhase::ExpectBclBcs | ChargerPhase::Charging
            ),
            Dut::Bms(b) => b.phase() == BmsPhase::Charging,
        }
    }

    /// When the faulty DUT next feeds itself.
    fn refeed_at(&self) -> Option<Instant> {
        let (seen, _) = self.cached?;
        self.refeed_phase().then(|| seen + REFEED_AFTER)
    }

    fn refeed(&mut self, now: Instant) {
        if self.refeed_at().is_none_or(|t| t > now) {
            return;
        }
        if let Some((_, frame)) = self.cached {
            self.cached = Some((now, frame));
            match &mut self.dut {
                Dut::Charger(c) => c.handle_frame(now, &frame),
                Dut::Bms(b) => b.handle_frame(now, &frame),
            }
        }
    }
}

impl TestBus for VirtualBus {
    fn send(&mut self, now: Instant, frame: CanFrame) {
        self.segment
            .send(now, self.node.peer(), frame, &mut self.rng);
    }

    fn poll_receive(&mut self, now: Instant) -> Option<(Instant, CanFrame)> {
        match self.inbox.front() {
            Some((t, _)) if *t <= now => self.inbox.pop_front(),
            _ => None,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let dut = match &self.dut {
            Dut::Charger(c) => c.poll_timeout(),
            Dut::Bms(b) => b.poll_timeout(),
        };
        [
            dut,
            self.segment.poll_timeout(),
            self.refeed_at(),
            self.inbox.front().map(|(t, _)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn advance(&mut self, now: Instant) {
        for _ in 0..256 {
            if !self.round(now) {
                return;
            }
        }
    }

    fn act(&mut self, now: Instant, action: DutAction) -> bool {
        match (&mut self.dut, action) {
            (Dut::Charger(c), DutAction::Start) => c.plug_in(now),
            (Dut::Charger(c), DutAction::ManualStop) => {
                c.request_stop(now, ChargerStopCause::Manual);
            }
            (Dut::Charger(c), DutAction::ChargerFault(f)) => c.inject_fault(now, f),
            (Dut::Bms(b), DutAction::Start) => b.aux_power(now, true),
            (Dut::Bms(b), DutAction::AuxPower(on)) => b.aux_power(now, on),
            (Dut::Bms(b), DutAction::VehicleStop(cause)) => b.request_stop(now, cause),
            _ => return false,
        }
        self.advance(now);
        true
    }
}
