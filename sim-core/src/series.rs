//! Time series of a run, sampled at a fixed virtual interval: connector states,
//! cumulative message and error counts, energy, and per-interval latency percentiles.
//! The HTML report plots them; the dashboard reads the newest samples.

use crate::metrics::Metrics;
use crate::report::LatencySummary;
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most samples a run keeps; longer runs widen the interval so memory stays bounded.
pub const MAX_SAMPLES: usize = 2_000;

/// One sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Virtual time, s.
    pub t_s: f64,
    /// Connectors by state (offline, idle, plugged, charging, finishing, faulted).
    pub states: [u64; 6],
    /// Cumulative messages by protocol.
    pub messages: BTreeMap<String, u64>,
    /// Cumulative errors of every kind.
    pub errors: u64,
    /// Cumulative energy delivered, kWh (sessions in progress included).
    pub energy_kwh: f64,
    /// Latency of requests answered during the interval, by message type.
    pub latency: BTreeMap<String, LatencySummary>,
}

/// The samples of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Sampling interval, s.
    pub interval_s: f64,
    /// The samples, oldest first.
    pub samples: Vec<Sample>,
}

/// Takes samples every `interval` of virtual time.
#[derive(Debug)]
pub struct Sampler {
    interval: Duration,
    next: Instant,
    series: Series,
}

impl Sampler {
    /// A sampler for a run of `duration`: every `interval`, widened if the run would
    /// otherwise exceed [`MAX_SAMPLES`].
    pub fn new(duration: Duration, interval: Duration) -> Self {
        let floor = Duration::from_micros(duration.as_micros() / MAX_SAMPLES as u64);
        let interval = interval.max(floor).max(Duration::MILLISECOND);
        Sampler {
            interval,
            next: Instant::ZERO + interval,
            series: Series {
                interval_s: interval.as_secs_f64(),
                samples: Vec::new(),
            },
        }
    }

    /// When the next sample is due.
    pub fn deadline(&self) -> Instant {
        self.next
    }

    /// The sampling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Records a sample at `now` and schedules the next one. `extra` are metrics kept
    /// outside the world until the run ends (an operator platform served on real HTTP):
    /// they join this sample's counts and interval latencies.
    pub fn sample(
        &mut self,
        now: Instant,
        states: [u64; 6],
        energy_kwh: f64,
        metrics: &mut Metrics,
        extra: Option<&mut Metrics>,
    ) {
        let mut latency = BTreeMap::new();
        metrics.drain_intervals(|name, h| {
            latency.insert(name.to_owned(), LatencySummary::from_histogram(h));
        });
        let mut messages: BTreeMap<String, u64> = metrics
            .message_totals_by_protocol()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut errors = metrics.error_total();
        if let Some(extra) = extra {
            extra.drain_intervals(|name, h| {
                latency.insert(name.to_owned(), LatencySummary::from_histogram(h));
            });
            for (k, v) in extra.message_totals_by_protocol() {
                *messages.entry(k.to_owned()).or_default() += v;
            }
            errors += extra.error_total();
        }
        let sample = Sample {
            t_s: now.as_secs_f64(),
            states,
            messages,
            errors,
            energy_kwh,
            latency,
        };
        if self.series.samples.len() < MAX_SAMPLES * 2 {
            self.series.samples.push(sample);
        }
        self.next = now + self.interval;
    }

    /// The samples so far.
    pub fn series(&self) -> &Series {
        &self.series
    }

    /// Takes the samples, leaving the sampler empty.
    pub fn into_series(self) -> Series {
        self.series
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_carry_interval_latency_then_reset_it() {
        let mut m = Metrics::new();
        let id = m.latency_id("mqtt.Boot");
        let msg = m.message_id("mqtt", "BootNotificationReq");
        let mut s = Sampler::new(Duration::from_secs(10), Duration::from_secs(1));
        m.record_latency(id, Instant::ZERO, Instant::ZERO, Instant::from_millis(20));
        m.count_message(msg);
        s.sample(Instant::from_secs(1), [0, 1, 0, 0, 0, 0], 0.5, &mut m, None);
        s.sample(Instant::from_secs(2), [0, 1, 0, 0, 0, 0], 0.7, &mut m, None);
        let samples = &s.series().samples;
        assert_eq!(samples.len(), 2);
        assert!((samples[0].latency["mqtt.Boot"].p50 - 20.0).abs() < 0.5);
        assert!(
            samples[1].latency.is_empty(),
            "the interval histogram was reset"
        );
        assert_eq!(
            samples[1].messages["mqtt"], 1,
            "message counts are cumulative"
        );
        assert_eq!(s.deadline(), Instant::from_secs(3));
    }

    #[test]
    fn long_runs_widen_the_interval() {
        let s = Sampler::new(Duration::from_secs(100_000), Duration::from_secs(1));
        assert_eq!(s.series().interval_s, 50.0);
    }
}
