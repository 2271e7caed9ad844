//! Cost of the GB/T 27930 session simulation per connector, without criterion.
//!
//! Run with `cargo bench -p sim-core --bench gbt`. 1,000 [`Pair`]s (half LFP, half NCM,
//! plug-ins staggered over the first second) are brought to the charging phase, then
//! 60 virtual seconds of charging are timed: both machines at the standard's cadence
//! (CCS/BCL every 50 ms, BCS over TP and BSM every 250 ms), bus timing on the in-process
//! segment, and a small plant feeding `update_output`/`update_battery` every 100 ms like
//! the fleet's physics does. The driver is a binary heap of per-pair deadlines, the way
//! the fleet scheduler wakes a connector at its link's `poll_timeout`.
//!
//! It prints nanoseconds per session-second (the figure that decides how many connectors
//! one core keeps in real time: 1e9 / ns), frames, wake-ups and events per
//! session-second. Why it matters: 100,000 connectors in real time on 2 cores leaves
//! 20 µs of CPU per session-second for physics, GB/T, meter and scheduling together.
//!
//! Measured on the 2-core development VM (shared with other jobs, so wall times vary;
//! instruction counts are exact), 64 frames and 114 wake-ups per session-second:
//!
//! | | before | after |
//! |---|---|---|
//! | wall, ns per session-second (3 paired runs, load 3) | 30,000–34,000 | 15,800–20,300 |
//! | instructions per session-second, timed part | 284,000 | 126,000 |
//! | of which `Pair::step` + `Pair::poll_timeout` | 238,500 | 80,800 |
//! | of which the driver's binary heap | 35,000 | 35,000 |
//!
//! Instructions: `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='gbt::timed' target/release/deps/gbt-…`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use proto::time::{Duration, Instant};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_core::gbt::bms::{BatteryStatus, BmsConfig, BmsEvent, Demand, DemandMode};
use sim_core::gbt::charger::{ChargerConfig, ChargerEvent, ChargerPhase, OutputStatus};
use sim_core::gbt::pair::{Pair, PairEvent};
use sim_core::gbt::segment::SegmentConfig;

/// Connectors simulated.
const PAIRS: usize = 1_000;
/// Virtual seconds of charging timed.
const CHARGING_S: u64 = 60;
/// The plant's update period (the fleet's physics tick).
const TICK: Duration = Duration::from_millis(100);

/// One connector: its pair, a toy pack and the plant's view of the contactors.
struct Connector {
    pair: Pair,
    soc_pct: f64,
    capacity_ah: f64,
    cells: f64,
    max_current_a: f64,
    max_voltage_v: f64,
    /// Cell open-circuit voltage at 0 % and 100 % SOC.
    cell_v: (f64, f64),
    setpoint_a: f64,
    charger_closed: bool,
    bms_closed: bool,
    next_tick: Instant,
    /// Events polled from the pair.
    events: u64,
}

impl Connector {
    fn new(i: usize) -> Connector {
        let lfp = i.is_multiple_of(2);
        let bms = if lfp {
            BmsConfig::lfp()
        } else {
            BmsConfig::ncm()
        };
        // LFP's flat curve, NCM's steeper one; both stay under the BCP cell limit.
        let cell_v = if lfp { (3.15, 3.45) } else { (3.6, 4.1) };
        Connector {
            cell_v,
            soc_pct: 20.0 + (i % 50) as f64,
            capacity_ah: bms.brm.rated_capacity_ah,
            cells: f64::from(bms.cells),
            max_current_a: bms.bcp.max_current_a,
            max_voltage_v: bms.bcp.max_total_voltage_v,
            pair: Pair::new(
                ChargerConfig::default(),
                BmsConfig {
                    // Long enough that nobody stops inside the timed minute.
                    target_soc_pct: 100.0,
                    ..bms
                },
                SegmentConfig::default(),
                ChaCha8Rng::seed_from_u64(i as u64),
            ),
            setpoint_a: 0.0,
            charger_closed: false,
            bms_closed: false,
            next_tick: Instant::ZERO,
            events: 0,
        }
    }

    fn current(&self) -> f64 {
        if self.charger_closed && self.bms_closed {
            self.setpoint_a
        } else {
            0.0
        }
    }

    /// Runs the plant tick if due, then the pair; returns the next wake-up.
    fn wake(&mut self, now: Instant) -> Instant {
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.feed(now);
        }
        self.pair.step(now);
        while let Some(event) = self.pair.poll_event() {
            self.events += 1;
            match event {
                PairEvent::Charger(ChargerEvent::Setpoint(s)) => self.setpoint_a = s.current_a,
                PairEvent::Charger(ChargerEvent::CloseContactors) => self.charger_closed = true,
                PairEvent::Charger(ChargerEvent::OpenContactors) => self.charger_closed = false,
                PairEvent::Bms(BmsEvent::CloseContactors) => self.bms_closed = true,
                PairEvent::Bms(BmsEvent::OpenContactors) => self.bms_closed = false,
                other => {
                    black_box(other);
                }
            }
        }
        self.pair
            .poll_timeout()
            .map_or(self.next_tick, |t| t.min(self.next_tick))
    }

    fn feed(&mut self, now: Instant) {
        let i = self.current();
        self.soc_pct += i * TICK.as_secs_f64() / 3600.0 / self.capacity_ah * 100.0;
        let (empty, full) = self.cell_v;
        let cell = empty + (full - empty) * self.soc_pct / 100.0;
        let pack = cell * self.cells + 0.05 * i;
        self.pair.charger.update_output(
            now,
            OutputStatus {
                voltage_v: if self.charger_closed { pack } else { 0.0 },
                current_a: i,
                battery_side_voltage_v: if self.bms_closed { pack } else { 0.0 },
                contactors_closed: self.charger_closed,
                gun_temperature_c: 30.0,
            },
        );
        self.pair.bms.update_battery(
            now,
            BatteryStatus {
                pack_voltage_v: pack,
                pack_current_a: i,
                soc_pct: self.soc_pct,
                remaining_min: 60,
                max_cell_voltage_v: cell + 0.01,
                max_cell_number: 7,
                max_cell_group: 1,
                min_cell_voltage_v: cell - 0.01,
                max_temperature_c: 31,
                max_temperature_probe: 2,
                min_temperature_c: 29,
                min_temperature_probe: 3,
                insulation_ok: true,
                charging_permitted: true,
                demand: Demand {
                    voltage_v: self.max_voltage_v,
                    current_a: self.max_current_a,
                    mode: DemandMode::Cc,
                },
                stop_request: None,
            },
        );
    }
}

/// Runs every connector's wake-ups before `until`; returns the number of wake-ups.
fn run(
    connectors: &mut [Connector],
    heap: &mut BinaryHeap<Reverse<(Instant, usize)>>,
    until: Instant,
) -> u64 {
    let mut wakes = 0;
    while let Some(&Reverse((t, i))) = heap.peek() {
        if t >= until {
            break;
        }
        heap.pop();
        let Some(c) = connectors.get_mut(i) else {
            continue;
        };
        let next = c.wake(t);
        wakes += 1;
        heap.push(Reverse((next, i)));
    }
    wakes
}

/// The timed part, a function of its own so that a profiler can count it alone
/// (`valgrind --tool=callgrind --toggle-collect='gbt::timed'`).
#[inline(never)]
fn timed(
    connectors: &mut [Connector],
    heap: &mut BinaryHeap<Reverse<(Instant, usize)>>,
    until: Instant,
) -> u64 {
    run(connectors, heap, until)
}

fn frames(connectors: &[Connector]) -> u64 {
    connectors
        .iter()
        .map(|c| {
            let s = c.pair.segment.stats();
            s.frames.iter().map(|f| f.total()).sum::<u64>()
        })
        .sum()
}

#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time; it is not part of the sans-IO library"
)]
fn main() {
    let mut connectors: Vec<Connector> = (0..PAIRS).map(Connector::new).collect();
    let mut heap = BinaryHeap::with_capacity(PAIRS);
    for (i, c) in connectors.iter_mut().enumerate() {
        let t = Instant::from_millis(i as u64 % 1_000);
        c.next_tick = t;
        c.pair.plug_in(t);
        heap.push(Reverse((t, i)));
    }
    // The handshake (about 10 s of virtual time) is not timed.
    let start = Instant::from_secs(15);
    run(&mut connectors, &mut heap, start);
    let charging = connectors
        .iter()
        .filter(|c| c.pair.charger.phase() == ChargerPhase::Charging)
        .count();
    assert_eq!(
        charging, PAIRS,
        "every pair must be charging before the timing"
    );
    let frames_before = frames(&connectors);
    let events_before: u64 = connectors.iter().map(|c| c.events).sum();
    let end = start + Duration::from_secs(CHARGING_S);
    let wall = std::time::Instant::now();
    let wakes = timed(&mut connectors, &mut heap, end);
    let elapsed = wall.elapsed();
    let frames = frames(&connectors) - frames_before;
    let events = connectors.iter().map(|c| c.events).sum::<u64>() - events_before;
    let session_s = (PAIRS as u64 * CHARGING_S) as f64;
    let ns = elapsed.as_nanos() as f64 / session_s;
    println!(
        "{PAIRS} pairs x {CHARGING_S} s charging: {elapsed:.2?} wall; {ns:.0} ns per \
         session-second ({:.0} connectors per core in real time); {:.1} frames, {:.1} \
         wake-ups and {:.1} events per session-second; {:.0} ns per frame",
        1e9 / ns,
        frames as f64 / session_s,
        wakes as f64 / session_s,
        events as f64 / session_s,
        elapsed.as_nanos() as f64 / frames as f64,
    );
}
