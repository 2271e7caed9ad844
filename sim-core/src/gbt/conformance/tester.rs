//! The tester: the opposite role's real session plus the script's rules, injections and
//! actions, recording everything into the run's [`Trace`].

use proto::can::CanFrame;
use proto::gbt27930::id::{GbtId, Node, Pgn};
use proto::gbt27930::tp::{TpConfig, TpSender};
use proto::time::Instant;

use super::bus::TestBus;
use super::key::{Attributor, Key};
use super::script::{Effect, InjectWhat, PeerConfig, Script, TesterAction, Trigger, Window};
use super::trace::Trace;
use crate::gbt::bms::{BatteryStatus, BmsConfig, BmsSession, Demand, DemandMode};
use crate::gbt::charger::{ChargerEvent, ChargerSession, OutputStatus};

/// The tester's session.
#[derive(Debug)]
enum Peer {
    Bms(Box<BmsSession>, Box<BmsConfig>),
    Charger(Box<ChargerSession>),
}

/// The first time each key of interest was seen, per side.
#[derive(Debug, Clone)]
struct Seen {
    keys: Vec<Key>,
    dut: Vec<Option<Instant>>,
    tester: Vec<Option<Instant>>,
}

impl Seen {
    fn new(script: &Script) -> Seen {
        let mut keys = Vec::new();
        let mut add = |t: Trigger| {
            if let Trigger::Dut(k, _) | Trigger::Tester(k, _) = t
                && !keys.contains(&k)
            {
                keys.push(k);
            }
        };
        for r in &script.rules {
            add(r.window.from);
            add(r.window.until);
        }
        for i in &script.injects {
            add(i.window.from);
            add(i.window.until);
        }
        for a in &script.actions {
            add(a.at);
        }
        if let Some((k, _)) = script.stop.after_dut {
            add(Trigger::on_dut(k));
        }
        let n = keys.len();
        Seen {
            keys,
            dut: vec![None; n],
            tester: vec![None; n],
        }
    }

    fn note(&mut self, at: Instant, from_dut: bool, class: super::key::FrameClass, f: &CanFrame) {
        let slots = if from_dut {
            &mut self.dut
        } else {
            &mut self.tester
        };
        for (k, slot) in self.keys.iter().zip(slots.iter_mut()) {
            if slot.is_none() && class.matches(*k, f) {
                *slot = Some(at);
            }
        }
    }

    fn first(&self, from_dut: bool, key: Key) -> Option<Instant> {
        let i = self.keys.iter().position(|k| *k == key)?;
        let slots = if from_dut { &self.dut } else { &self.tester };
        slots.get(i).copied().flatten()
    }
}

/// The scripted peer of one run.
#[derive(Debug)]
pub struct Tester {
    node: Node,
    peer: Peer,
    script: Script,
    start: Instant,
    seen: Seen,
    trace: Trace,
    /// Classifies the tester's own frames before the rules see them.
    own: Attributor,
    thin: Vec<u16>,
    inject_due: Vec<Option<Instant>>,
    injector: TpSender,
    replies: Vec<CanFrame>,
    actions_done: Vec<bool>,
    /// Plant of a tester charger.
    setpoint_a: f64,
    contactors_closed: bool,
    battery_v: f64,
}

impl Tester {
    /// A tester for `script`, starting at `start`.
    pub fn new(script: Script, start: Instant) -> Tester {
        let (node, peer) = match &script.peer {
            PeerConfig::Bms(cfg) => (
                Node::Bms,
                Peer::Bms(Box::new(BmsSession::new((**cfg).clone())), cfg.clone()),
            ),
            PeerConfig::Charger(cfg) => (
                Node::Charger,
                Peer::Charger(Box::new(ChargerSession::new((**cfg).clone()))),
            ),
        };
        let mut tp = TpConfig::new(node);
        tp.max_message_size = 1785;
        Tester {
            node,
            peer,
            seen: Seen::new(&script),
            trace: Trace::new(node.peer(), start),
            own: Attributor::default(),
            thin: vec![0; script.rules.len()],
            inject_due: vec![None; script.injects.len()],
            injector: TpSender::new(tp),
            replies: Vec::with_capacity(16),
            actions_done: vec![false; script.actions.len()],
            script,
            start,
            setpoint_a: 0.0,
            contactors_closed: false,
            battery_v: 0.0,
        }
    }

    /// The role the tester plays.
    pub fn role(&self) -> Node {
        self.node
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Takes the trace out (the run is over).
    pub fn into_trace(self) -> Trace {
        self.trace
    }

    /// The script.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// When `t` fires, if it is known yet.
    pub fn trigger_time(&self, t: Trigger) -> Option<Instant> {
        match t {
            Trigger::Start(d) => Some(self.start + d),
            Trigger::Dut(k, d) => self.seen.first(true, k).map(|at| at + d),
            Trigger::Tester(k, d) => self.seen.first(false, k).map(|at| at + d),
            Trigger::Never => None,
        }
    }

    fn open(&self, w: Window, now: Instant) -> bool {
        self.trigger_time(w.from).is_some_and(|t| t <= now)
            && self.trigger_time(w.until).is_none_or(|t| now < t)
    }

    /// Powers the tester up at the start of the run.
    pub fn begin<B: TestBus>(&mut self, now: Instant, bus: &mut B) {
        match &mut self.peer {
            Peer::Bms(b, _) => b.aux_power(now, true),
            Peer::Charger(c) => c.plug_in(now),
        }
        self.drain_events(now, bus);
    }

    /// Everything due at `now`; true if anything moved.
    pub fn step<B: TestBus>(&mut self, now: Instant, bus: &mut B) -> bool {
        let mut moved = false;
        while let Some((at, frame)) = bus.poll_receive(now) {
            moved = true;
            self.on_dut_frame(at, &frame);
        }
        moved |= self.run_actions(now, bus);
        self.handle_timeouts(now);
        moved |= self.transmit(now, bus);
        moved |= self.drain_events(now, bus);
        moved
    }

    fn on_dut_frame(&mut self, at: Instant, frame: &CanFrame) {
        let class = self.trace.record(at, true, *frame);
        self.seen.note(at, true, class, frame);
        match &mut self.peer {
            Peer::Bms(b, _) => b.handle_frame(at, frame),
            Peer::Charger(c) => c.handle_frame(at, frame),
        }
        let _ = self.injector.handle_frame(at, frame);
        for inj in &self.script.injects {
            if let InjectWhat::Reply { on, frame: answer } = &inj.what
                && class.matches(*on, frame)
                && self.replies.len() < self.replies.capacity()
            {
                self.replies.push(*answer);
            }
        }
    }

    fn run_actions<B: TestBus>(&mut self, now: Instant, bus: &mut B) -> bool {
        let mut moved = false;
        for i in 0..self.script.actions.len() {
            let Some(action) = self.script.actions.get(i).copied() else {
                continue;
            };
            if self.actions_done.get(i).copied().unwrap_or(true)
                || self.trigger_time(action.at).is_none_or(|t| t > now)
            {
                continue;
            }
            if let Some(done) = self.actions_done.get_mut(i) {
                *done = true;
            }
            moved = true;
            self.apply(now, action.what, bus);
        }
        moved
    }

    fn apply<B: TestBus>(&mut self, now: Instant, what: TesterAction, bus: &mut B) {
        match (&mut self.peer, what) {
            (_, TesterAction::Dut(a)) => {
                bus.act(now, a);
            }
            (Peer::Bms(b, _), TesterAction::BmsStop(c)) => b.request_stop(now, c),
            (Peer::Bms(b, _), TesterAction::BmsFault(f)) => b.inject_fault(now, f),
            (Peer::Bms(b, cfg), TesterAction::BmsDemand(a)) => {
                b.update_battery(now, demand_status(cfg, a));
            }
            (Peer::Charger(c), TesterAction::ChargerStop(cause)) => c.request_stop(now, cause),
            (Peer::Charger(c), TesterAction::ChargerFault(f)) => c.inject_fault(now, f),
            _ => {}
        }
    }

    fn handle_timeouts(&mut self, now: Instant) {
        match &mut self.peer {
            Peer::Bms(b, _) if b.poll_timeout().is_some_and(|t| t <= now) => {
                b.handle_timeout(now);
            }
            Peer::Charger(c) if c.poll_timeout().is_some_and(|t| t <= now) => {
                c.handle_timeout(now);
            }
            _ => {}
        }
        if self.injector.poll_timeout().is_some_and(|t| t <= now) {
            self.injector.handle_timeout(now);
        }
        while self.injector.poll_event().is_some() {}
    }

    fn transmit<B: TestBus>(&mut self, now: Instant, bus: &mut B) -> bool {
        let mut moved = false;
        loop {
            let frame = match &mut self.peer {
                Peer::Bms(b, _) => b.poll_transmit(now),
                Peer::Charger(c) => c.poll_transmit(now),
            };
            let Some(frame) = frame else { break };
            moved = true;
            if let Some(out) = self.apply_rules(now, frame) {
                self.put(now, out, bus);
            }
        }
        moved |= self.inject(now, bus);
        moved
    }

    /// The tester's frame after the rules, or `None` if withheld.
    fn apply_rules(&mut self, now: Instant, frame: CanFrame) -> Option<CanFrame> {
        let class = self.own.classify(self.node, &frame);
        let mut frame = frame;
        for i in 0..self.script.rules.len() {
            let Some(rule) = self.script.rules.get(i).copied() else {
                continue;
            };
            if !class.matches(rule.key, &frame) || !self.open(rule.window, now) {
                continue;
            }
            match rule.effect {
                Effect::Mute => return None,
                Effect::Thin(n) => {
                    let c = self.thin.get_mut(i)?;
                    *c = c.wrapping_add(1);
                    if (*c - 1) % n.max(1) != 0 {
                        return None;
                    }
                }
                Effect::Truncate(len) => {
                    let len = len.min(frame.len());
                    frame = CanFrame::from_parts(
                        frame.id(),
                        frame.is_extended(),
                        len,
                        frame.data_padded(),
                    )
                    .ok()?;
                }
                Effect::CorruptTpSequence => {
                    if (frame.id() >> 16) as u8 == Pgn::TpDt.pdu_format() {
                        let mut d = frame.data_padded();
                        d[0] = d[0].wrapping_add(1);
                        frame = CanFrame::from_parts(frame.id(), true, frame.len(), d).ok()?;
                    }
                }
                Effect::SwapCmlCurrents => {
                    let mut d = frame.data_padded();
                    if frame.len() >= 8 {
                        d.swap(4, 6);
                        d.swap(5, 7);
                    }
                    frame = CanFrame::from_parts(frame.id(), true, frame.len(), d).ok()?;
                }
            }
        }
        Some(frame)
    }

    fn inject<B: TestBus>(&mut self, now: Instant, bus: &mut B) -> bool {
        let mut moved = false;
        while let Some(f) = self.replies.pop() {
            moved = true;
            self.put(now, f, bus);
        }
        for i in 0..self.script.injects.len() {
            let Some(inj) = self.script.injects.get(i) else {
                continue;
            };
            if matches!(inj.what, InjectWhat::Reply { .. }) || !self.open(inj.window, now) {
                continue;
            }
            let due = self.inject_due.get(i).copied().flatten().unwrap_or(now);
            if due > now {
                continue;
            }
            let period = inj.period;
            match &inj.what {
                InjectWhat::Frame(f) => {
                    let f = *f;
                    self.put(now, f, bus);
                }
                InjectWhat::Transport { pgn, payload } => {
                    if self.injector.active_pgn().is_none() {
                        let _ = self.injector.start(now, pgn.value(), payload);
                    }
                }
                InjectWhat::Reply { .. } => {}
            }
            if let Some(slot) = self.inject_due.get_mut(i) {
                *slot = Some(now + period);
            }
            moved = true;
        }
        while let Some(f) = self.injector.poll_transmit(now) {
            moved = true;
            self.put(now, f, bus);
        }
        moved
    }

    fn put<B: TestBus>(&mut self, now: Instant, frame: CanFrame, bus: &mut B) {
        let class = self.trace.record(now, false, frame);
        self.seen.note(now, false, class, &frame);
        bus.send(now, frame);
    }

    fn drain_events<B: TestBus>(&mut self, now: Instant, bus: &mut B) -> bool {
        let mut moved = false;
        match &mut self.peer {
            Peer::Bms(b, _) => {
                while b.poll_event().is_some() {
                    moved = true;
                }
            }
            Peer::Charger(c) => {
                let mut changed = false;
                while let Some(e) = c.poll_event() {
                    moved = true;
                    match e {
                        ChargerEvent::AuxPower(on) if on || self.script.forward_aux_off => {
                            bus.act(now, super::script::DutAction::AuxPower(on));
                        }
                        ChargerEvent::Setpoint(s) => {
                            self.setpoint_a = s.current_a;
                            changed = true;
                        }
                        ChargerEvent::CloseContactors => {
                            self.contactors_closed = true;
                            changed = true;
                        }
                        ChargerEvent::OpenContactors => {
                            self.contactors_closed = false;
                            changed = true;
                        }
                        ChargerEvent::ParametersReceived(bcp) => {
                            self.battery_v = bcp.battery_voltage_v;
                            changed = true;
                        }
                        _ => {}
                    }
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
        }
        moved
    }

    /// The tester's next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peer = match &self.peer {
            Peer::Bms(b, _) => b.poll_timeout(),
            Peer::Charger(c) => c.poll_timeout(),
        };
        let mut next = [peer, self.injector.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        for (i, inj) in self.script.injects.iter().enumerate() {
            if matches!(inj.what, InjectWhat::Reply { .. }) {
                continue;
            }
            let from = self.trigger_time(inj.window.from);
            let due = self.inject_due.get(i).copied().flatten();
            let until = self.trigger_time(inj.window.until);
            if let Some(t) = due.or(from)
                && until.is_none_or(|u| t < u)
            {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        for (i, a) in self.script.actions.iter().enumerate() {
            if !self.actions_done.get(i).copied().unwrap_or(true)
                && let Some(t) = self.trigger_time(a.at)
            {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }
}

/// A battery snapshot asking for `current_a`, otherwise the configuration's values.
fn demand_status(cfg: &BmsConfig, current_a: f64) -> BatteryStatus {
    let bcp = &cfg.bcp;
    let cell_v = bcp.battery_voltage_v / f64::from(cfg.cells.max(1));
    BatteryStatus {
        pack_voltage_v: bcp.battery_voltage_v,
        pack_current_a: 0.0,
        soc_pct: bcp.soc_pct,
        remaining_min: 60,
        max_cell_voltage_v: cell_v,
        max_cell_number: 1,
        max_cell_group: 0,
        min_cell_voltage_v: cell_v,
        max_temperature_c: 25,
        max_temperature_probe: 1,
        min_temperature_c: 25,
        min_temperature_probe: 1,
        insulation_ok: true,
        charging_permitted: true,
        demand: Demand {
            voltage_v: bcp.max_total_voltage_v,
            current_a,
            mode: DemandMode::Cc,
        },
        stop_request: None,
    }
}

/// A single frame of `pgn` from `from` carrying `data` (for injections); `None` if `data`
/// is longer than 8 bytes.
pub fn frame_of(pgn: Pgn, from: Node, data: &[u8]) -> Option<CanFrame> {
    CanFrame::new(GbtId::new(pgn, from).raw(), data).ok()
}
