//! Drivers: when they arrive, what they drive, and how they charge.
//!
//! Arrivals at each connector form a non-homogeneous Poisson process with rate
//! `λ(t) = λ₀ · w(hour(t)) / mean(w)`, where `λ₀` is the configured arrivals per connector
//! per hour and `w` the 24 time-of-day weights. Arrival times are drawn by thinning
//! (Lewis–Shedler): candidate gaps from an exponential with the peak rate `λmax`, each
//! accepted with probability `λ(t) / λmax`. A connector only draws its next arrival once
//! it is free again (drivers who find it busy go elsewhere), so the process is per
//! connector and independent of the rest of the fleet.

use crate::rng::EntityRng;
use crate::time::{Duration, Instant};
use profiles::scenario::{Range, StartMix, TrafficSpec};
use rand::RngExt;

/// How a driver starts a session (the three start flows of seed 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartMethod {
    /// Scan the QR code / use the app: the backend starts the charger remotely.
    App,
    /// Swipe an RFID card at the charger.
    Card,
    /// Plug and charge: the charger identifies the vehicle by its VIN (DC only).
    Vin,
}

/// Civil time of virtual time zero, for time-of-day behaviour and protocol timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilClock {
    /// Unix seconds at virtual time zero.
    pub start_unix_s: i64,
    /// Local UTC offset in minutes (China: +480).
    pub utc_offset_min: i32,
}

impl CivilClock {
    /// Unix seconds at virtual time `t`.
    pub fn unix_s(&self, t: Instant) -> i64 {
        self.start_unix_s + (t.as_micros() / 1_000_000) as i64
    }

    /// Local hour of day (0..24, fractional) at virtual time `t`.
    pub fn local_hour(&self, t: Instant) -> f64 {
        let local_s = self.start_unix_s + i64::from(self.utc_offset_min) * 60;
        let secs_of_day = (local_s.rem_euclid(86_400)) as f64 + t.as_secs_f64();
        (secs_of_day / 3600.0) % 24.0
    }
}

/// The arrival process and session parameters of one group of connectors.
#[derive(Debug, Clone)]
pub struct Traffic {
    rate_per_us: f64,
    /// The scenario's rate, before [`Traffic::set_rate_factor`].
    base_rate_per_us: f64,
    /// Weights normalised to mean 1, and their maximum.
    hour_weights: [f64; 24],
    peak_weight: f64,
    /// Cumulative vehicle weights, normalised to end at 1; index = group-local vehicle.
    vehicle_cdf: Vec<f64>,
    arrival_soc_pct: Range,
    target_soc_pct: Range,
    dwell_min: Range,
    plug_to_start_s: Range,
    stop_to_unplug_s: Range,
    start_cdf: [f64; 3],
    /// Fraction of connectors occupied at time zero.
    pub initial_occupancy: f64,
    /// Multiplier of the arrival rate set by the scenario's load shape (1: as configured).
    load_factor: f64,
}

/// Everything drawn for one arriving driver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Index into the group's vehicle mix.
    pub vehicle: usize,
    /// State of charge on arrival, %.
    pub arrival_soc_pct: f64,
    /// State of charge wanted, %.
    pub target_soc_pct: f64,
    /// Longest stay.
    pub dwell: Duration,
    /// Time from plugging in to starting.
    pub plug_to_start: Duration,
    /// Time from the end of charging to unplugging.
    pub stop_to_unplug: Duration,
    /// How the driver starts.
    pub start_method: StartMethod,
}

/// Upper bound on thinning rounds for one arrival; with weights ≥ 1 % of the peak it is
/// never reached in practice, and hitting it just places the arrival at the last candidate.
const MAX_THINNING_ROUNDS: u32 = 10_000;

impl Traffic {
    /// The traffic of a group: `rate_per_h` arrivals per connector per hour and the
    /// group's vehicle weights (in its vehicle-mix order).
    pub fn new(spec: &TrafficSpec, rate_per_h: f64, vehicle_weights: &[f64]) -> Self {
        let mut hour_weights = [1.0; 24];
        if let Some(w) = &spec.time_of_day_weights
            && w.len() == 24
        {
            let mean = w.iter().sum::<f64>() / 24.0;
            if mean > 0.0 {
                for (dst, src) in hour_weights.iter_mut().zip(w) {
                    *dst = src / mean;
                }
            }
        }
        let peak_weight = hour_weights.iter().copied().fold(0.0, f64::max);
        Traffic {
            rate_per_us: rate_per_h.max(0.0) / 3.6e9,
            base_rate_per_us: rate_per_h.max(0.0) / 3.6e9,
            hour_weights,
            peak_weight,
            vehicle_cdf: cdf(vehicle_weights),
            arrival_soc_pct: spec.arrival_soc_pct,
            target_soc_pct: spec.target_soc_pct,
            dwell_min: spec.dwell_min,
            plug_to_start_s: spec.plug_to_start_s,
            stop_to_unplug_s: spec.stop_to_unplug_s,
            start_cdf: start_cdf(&spec.start_methods),
            initial_occupancy: spec.initial_occupancy,
            load_factor: 1.0,
        }
    }

    /// Scales the scenario's arrival rate by `factor` (1.0 = as configured, 0.0 = no
    /// arrivals); negative or non-finite factors count as 0. Arrivals already drawn keep
    /// their times: the caller redraws them if the change must act at once.
    pub fn set_rate_factor(&mut self, factor: f64) {
        let factor = if factor.is_finite() {
            factor.max(0.0)
        } else {
            0.0
        };
        self.rate_per_us = self.base_rate_per_us * factor;
    }

    /// The factor last set with [`Traffic::set_rate_factor`] (1.0 when never set).
    pub fn rate_factor(&self) -> f64 {
        if self.base_rate_per_us > 0.0 {
            self.rate_per_us / self.base_rate_per_us
        } else {
            1.0
        }
    }

    /// The next arrival after `now`, or `None` when the rate is zero.
    pub fn next_arrival(
        &self,
        now: Instant,
        clock: &CivilClock,
        rng: &mut EntityRng,
    ) -> Option<Instant> {
        let peak = self.rate_per_us * self.peak_weight * self.load_factor;
        if peak <= 0.0 {
            return None;
        }
        let mut t = now;
        for _ in 0..MAX_THINNING_ROUNDS {
            let u: f64 = rng.random();
            let gap_us = -(1.0 - u).ln() / peak;
            t += Duration::from_secs_f64(gap_us / 1e6).max(Duration::from_micros(1));
            let hour = clock.local_hour(t) as usize % 24;
            let accept = self.hour_weights[hour] / self.peak_weight;
            if rng.random::<f64>() < accept {
                return Some(t);
            }
        }
        Some(t)
    }

    /// Multiplies the arrival rate by `factor` from now on (load steps, ramps, spikes);
    /// arrivals already drawn are not changed, so the caller re-draws them (Poisson arrivals
    /// are memoryless, so a re-draw from now is exact).
    pub fn set_load_factor(&mut self, factor: f64) {
        self.load_factor = factor.max(0.0);
    }

    /// Draws the driver of one arrival.
    pub fn draw_arrival(&self, rng: &mut EntityRng, dc: bool) -> Arrival {
        let vehicle = pick(&self.vehicle_cdf, rng.random());
        let arrival_soc_pct = uniform(rng, self.arrival_soc_pct);
        let target_soc_pct = uniform(rng, self.target_soc_pct)
            .max(arrival_soc_pct + 1.0)
            .min(100.0);
        let minutes = uniform(rng, self.dwell_min);
        let start_method = match pick(&self.start_cdf, rng.random()) {
            0 => StartMethod::App,
            1 => StartMethod::Card,
            _ if dc => StartMethod::Vin,
            _ => StartMethod::App,
        };
        Arrival {
            vehicle,
            arrival_soc_pct,
            target_soc_pct,
            dwell: Duration::from_secs_f64(minutes * 60.0),
            plug_to_start: Duration::from_secs_f64(uniform(rng, self.plug_to_start_s)),
            stop_to_unplug: Duration::from_secs_f64(uniform(rng, self.stop_to_unplug_s)),
            start_method,
        }
    }
}

fn uniform(rng: &mut EntityRng, r: Range) -> f64 {
    if r.max > r.min {
        r.min + (r.max - r.min) * rng.random::<f64>()
    } else {
        r.min
    }
}

fn cdf(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w.max(0.0) / total.max(f64::MIN_POSITIVE);
            acc
        })
        .collect()
}

fn start_cdf(m: &StartMix) -> [f64; 3] {
    let c = cdf(&[m.app, m.card, m.vin]);
    [c[0], c[1], c[2]]
}

/// The first index whose cumulative weight exceeds `u` (the last index if none does).
fn pick(cdf: &[f64], u: f64) -> usize {
    cdf.iter()
        .position(|&c| u < c)
        .unwrap_or(cdf.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Domain, stream};

    fn clock() -> CivilClock {
        CivilClock {
            start_unix_s: 1_767_571_200,
            utc_offset_min: 480,
        }
    }

    #[test]
    fn local_hour_follows_the_offset() {
        let c = clock();
        assert!((c.local_hour(Instant::ZERO) - 8.0).abs() < 1e-9);
        assert!((c.local_hour(Instant::from_secs(17 * 3600)) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_rate_factor_scales_and_zero_stops_arrivals() {
        let spec = TrafficSpec::default();
        let mut t = Traffic::new(&spec, 2.0, &[1.0]);
        assert_eq!(t.rate_factor(), 1.0);
        t.set_rate_factor(0.0);
        let mut rng = stream(1, Domain::ConnectorUsers, 0);
        assert_eq!(t.next_arrival(Instant::ZERO, &clock(), &mut rng), None);
        t.set_rate_factor(4.0);
        assert!((t.rate_factor() - 4.0).abs() < 1e-12);
        let mut now = Instant::ZERO;
        let mut n = 0u32;
        while let Some(next) = t.next_arrival(now, &clock(), &mut rng) {
            if next > Instant::from_secs(100 * 3600) {
                break;
            }
            now = next;
            n += 1;
        }
        // 8 arrivals per hour over 100 h: 800 expected, Poisson spread about 28.
        assert!((700..900).contains(&n), "{n} arrivals");
        t.set_rate_factor(f64::NAN);
        assert_eq!(t.rate_factor(), 0.0);
    }

    #[test]
    fn poisson_rate_matches_on_average() {
        let spec = TrafficSpec::default();
        let t = Traffic::new(&spec, 2.0, &[1.0]);
        let mut rng = stream(1, Domain::ConnectorUsers, 0);
        let mut now = Instant::ZERO;
        let mut n = 0;
        let horizon = Instant::from_secs(1000 * 3600);
        while let Some(next) = t.next_arrival(now, &clock(), &mut rng) {
            if next > horizon {
                break;
            }
            now = next;
            n += 1;
        }
        // 2000 expected; 5 sigma is ±224.
        assert!((1776..=2224).contains(&n), "{n} arrivals");
    }

    #[test]
    fn time_of_day_weights_shape_arrivals() {
        let mut spec = TrafficSpec::default();
        let mut w = vec![0.0; 24];
        w[12] = 1.0; // only at noon
        spec.time_of_day_weights = Some(w);
        let t = Traffic::new(&spec, 1.0, &[1.0]);
        let mut rng = stream(2, Domain::ConnectorUsers, 0);
        let mut now = Instant::ZERO;
        for _ in 0..200 {
            now = t.next_arrival(now, &clock(), &mut rng).unwrap();
            assert_eq!(clock().local_hour(now) as u32, 12);
        }
    }

    #[test]
    fn zero_rate_never_arrives() {
        let t = Traffic::new(&TrafficSpec::default(), 0.0, &[1.0]);
        let mut rng = stream(3, Domain::ConnectorUsers, 0);
        assert_eq!(t.next_arrival(Instant::ZERO, &clock(), &mut rng), None);
    }

    #[test]
    fn drawn_drivers_respect_ranges_and_weights() {
        let spec = TrafficSpec::default();
        let t = Traffic::new(&spec, 1.0, &[1.0, 0.0, 3.0]);
        let mut rng = stream(4, Domain::ConnectorUsers, 0);
        let mut counts = [0; 3];
        for _ in 0..4000 {
            let a = t.draw_arrival(&mut rng, false);
            counts[a.vehicle] += 1;
            assert!(a.target_soc_pct > a.arrival_soc_pct && a.target_soc_pct <= 100.0);
            assert_ne!(
                a.start_method,
                StartMethod::Vin,
                "AC sessions cannot start by VIN"
            );
        }
        assert_eq!(counts[1], 0);
        assert!((2800..=3200).contains(&counts[2]), "{counts:?}");
    }
}
