//! A test harness: a [`Pair`] on virtual time with a toy plant (a SOC integrator and
//! instant contactors) standing in for the physics the lead integrates later.

use proto::gbt27930::id::{Node, Pgn};
use proto::time::{Duration, Instant};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::gbt::bms::{BatteryStatus, BmsConfig, BmsEvent, BmsPhase, Demand, DemandMode};
use crate::gbt::charger::{ChargerConfig, ChargerEvent, ChargerPhase, OutputStatus, Setpoint};
use crate::gbt::deadline;
use crate::gbt::pair::{Pair, PairEvent};
use crate::gbt::segment::{SegmentConfig, TapRecord};

/// How often the toy plant updates both machines.
pub const PLANT_TICK: Duration = Duration::from_millis(100);

/// A pack modelled as OCV(SOC) + I·R with a SOC integrator.
#[derive(Debug, Clone)]
pub struct ToyBattery {
    pub capacity_ah: f64,
    pub soc_pct: f64,
    pub cells: f64,
    pub cell_v_empty: f64,
    pub cell_v_full: f64,
    pub resistance_ohm: f64,
    pub temperature_c: i16,
    /// Demand in CC; tapers above `taper_from_pct`.
    pub max_current_a: f64,
    pub max_voltage_v: f64,
    pub taper_from_pct: f64,
    pub charging_permitted: bool,
}

impl ToyBattery {
    pub fn for_config(cfg: &BmsConfig, soc_pct: f64) -> ToyBattery {
        let lfp = cfg.bcp.max_cell_voltage_v < 3.9;
        let (empty, full) = if lfp { (3.15, 3.45) } else { (3.6, 4.1) };
        ToyBattery {
            capacity_ah: cfg.brm.rated_capacity_ah,
            soc_pct,
            cells: f64::from(cfg.cells),
            cell_v_empty: empty,
            cell_v_full: full,
            resistance_ohm: 0.05,
            temperature_c: 25,
            max_current_a: cfg.bcp.max_current_a,
            max_voltage_v: cfg.bcp.max_total_voltage_v,
            taper_from_pct: 95.0,
            charging_permitted: true,
        }
    }

    fn cell_ocv(&self) -> f64 {
        self.cell_v_empty + (self.cell_v_full - self.cell_v_empty) * self.soc_pct / 100.0
    }

    pub fn status(&self, current_a: f64) -> BatteryStatus {
        let ocv = self.cell_ocv();
        let pack = ocv * self.cells + current_a * self.resistance_ohm;
        let taper = ((100.0 - self.soc_pct) / (100.0 - self.taper_from_pct)).clamp(0.1, 1.0);
        BatteryStatus {
            pack_voltage_v: pack,
            pack_current_a: current_a,
            soc_pct: self.soc_pct,
            remaining_min: 60,
            max_cell_voltage_v: ocv + 0.01,
            max_cell_number: 7,
            max_cell_group: 1,
            min_cell_voltage_v: ocv - 0.01,
            max_temperature_c: self.temperature_c + 1,
            max_temperature_probe: 2,
            min_temperature_c: self.temperature_c,
            min_temperature_probe: 3,
            insulation_ok: true,
            charging_permitted: self.charging_permitted,
            demand: Demand {
                voltage_v: self.max_voltage_v,
                current_a: self.max_current_a * taper,
                mode: DemandMode::Cc,
            },
            stop_request: None,
        }
    }

    fn integrate(&mut self, current_a: f64, dt: Duration) {
        self.soc_pct += current_a * dt.as_secs_f64() / 3600.0 / self.capacity_ah * 100.0;
    }
}

/// A pair plus its toy plant, an event log and the tap.
pub struct Harness {
    pub pair: Pair,
    pub now: Instant,
    pub battery: ToyBattery,
    pub log: Vec<(Instant, PairEvent)>,
    pub records: Vec<TapRecord>,
    setpoint: Setpoint,
    charger_closed: bool,
    bms_closed: bool,
    next_tick: Instant,
    /// Whether the plant feeds the machines (off: protocol-only defaults).
    pub plant: bool,
}

impl Harness {
    pub fn new(charger: ChargerConfig, bms: BmsConfig, soc_pct: f64) -> Harness {
        let battery = ToyBattery::for_config(&bms, soc_pct);
        let seg = SegmentConfig {
            record: true,
            ..SegmentConfig::default()
        };
        let pair = Pair::new(charger, bms, seg, ChaCha8Rng::seed_from_u64(42));
        Harness {
            pair,
            now: Instant::ZERO,
            battery,
            log: Vec::new(),
            records: Vec::new(),
            setpoint: Setpoint::default(),
            charger_closed: false,
            bms_closed: false,
            next_tick: Instant::ZERO,
            plant: true,
        }
    }

    /// LFP or NCM with default charger, starting at `soc`, stopping at `target`.
    pub fn standard(bms: BmsConfig, soc: f64, target: f64) -> Harness {
        let bms = BmsConfig {
            target_soc_pct: target,
            ..bms
        };
        Harness::new(ChargerConfig::default(), bms, soc)
    }

    pub fn plug_in(&mut self) {
        self.pair.plug_in(self.now);
        self.drain();
    }

    fn current(&self) -> f64 {
        if self.charger_closed && self.bms_closed {
            self.setpoint.current_a
        } else {
            0.0
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.pair.poll_event() {
            match &e {
                PairEvent::Charger(ChargerEvent::Setpoint(s)) => self.setpoint = *s,
                PairEvent::Charger(ChargerEvent::CloseContactors) => self.charger_closed = true,
                PairEvent::Charger(ChargerEvent::OpenContactors) => self.charger_closed = false,
                PairEvent::Bms(BmsEvent::CloseContactors) => self.bms_closed = true,
                PairEvent::Bms(BmsEvent::OpenContactors) => self.bms_closed = false,
                _ => {}
            }
            self.log.push((self.now, e));
        }
        self.records.extend(self.pair.segment.take_records());
    }

    fn feed_plant(&mut self) {
        let i = self.current();
        self.battery.integrate(i, PLANT_TICK);
        let status = self.battery.status(i);
        let pack = status.pack_voltage_v;
        let out = OutputStatus {
            voltage_v: if self.charger_closed { pack } else { 0.0 },
            current_a: i,
            battery_side_voltage_v: if self.bms_closed { pack } else { 0.0 },
            contactors_closed: self.charger_closed,
            gun_temperature_c: 30.0,
        };
        self.pair.charger.update_output(self.now, out);
        if self.pair.bms.phase() != BmsPhase::Off {
            self.pair.bms.update_battery(self.now, status);
        }
    }

    /// Runs until `done` holds or virtual time passes `limit`; returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Harness) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            let settled = self.pair.step_settled(self.now);
            // The deadline a settled step reports is the one the pair then gives.
            assert_eq!(settled.map(deadline), Some(self.pair.poll_timeout()));
            self.drain();
            if done(self) {
                return true;
            }
            if let Some(t) = self.pair.poll_timeout() {
                assert!(t > self.now, "poll_timeout {t} not after now {}", self.now);
            }
            let mut next = self.pair.poll_timeout().unwrap_or(Instant::FAR_FUTURE);
            if self.plant {
                next = next.min(self.next_tick);
            }
            if next > end {
                self.now = end;
                return false;
            }
            self.now = next;
            if self.plant && self.now >= self.next_tick {
                self.next_tick = self.now + PLANT_TICK;
                self.feed_plant();
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    /// Runs until the charger is in `phase` (panics after `limit`).
    pub fn until_charger(&mut self, phase: ChargerPhase, limit: Duration) {
        assert!(
            self.run_until(limit, |h| h.pair.charger.phase() == phase),
            "charger never reached {phase:?}; it is in {:?}",
            self.pair.charger.phase()
        );
    }

    /// Runs until the BMS is in `phase` (panics after `limit`).
    pub fn until_bms(&mut self, phase: BmsPhase, limit: Duration) {
        assert!(
            self.run_until(limit, |h| h.pair.bms.phase() == phase),
            "BMS never reached {phase:?}; it is in {:?}",
            self.pair.bms.phase()
        );
    }

    /// Runs until both sides have ended their session normally.
    pub fn until_both_ended(&mut self, limit: Duration) {
        let ok = self.run_until(limit, |h| {
            h.pair.charger.phase() == ChargerPhase::Ended
                && matches!(h.pair.bms.phase(), BmsPhase::Ended | BmsPhase::Off)
                && h.pair.bms.report().furthest_phase == BmsPhase::Ended
        });
        assert!(
            ok,
            "session did not end: charger {:?}, BMS {:?}",
            self.pair.charger.phase(),
            self.pair.bms.phase()
        );
    }

    /// Charger events logged so far.
    pub fn charger_events(&self) -> impl Iterator<Item = &ChargerEvent> {
        self.log.iter().filter_map(|(_, e)| match e {
            PairEvent::Charger(c) => Some(c),
            PairEvent::Bms(_) => None,
        })
    }

    /// BMS events logged so far.
    pub fn bms_events(&self) -> impl Iterator<Item = &BmsEvent> {
        self.log.iter().filter_map(|(_, e)| match e {
            PairEvent::Bms(b) => Some(b),
            PairEvent::Charger(_) => None,
        })
    }

    /// Delivered frames of `pgn` sent by `from`, with their delivery times.
    pub fn frames(&self, from: Node, pgn: Pgn) -> Vec<&TapRecord> {
        use crate::gbt::segment::Fate;
        self.records
            .iter()
            .filter(|r| {
                r.from == from
                    && r.fate == Fate::Delivered
                    && (r.frame.id() >> 16) as u8 == pgn.pdu_format()
            })
            .collect()
    }

    /// The data of the first delivered frame of `pgn` from `from`.
    pub fn first_data(&self, from: Node, pgn: Pgn) -> Option<Vec<u8>> {
        self.frames(from, pgn)
            .first()
            .map(|r| r.frame.data().to_vec())
    }
}
