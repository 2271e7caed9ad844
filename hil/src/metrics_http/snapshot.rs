//! What the `/metrics` endpoint serves: a point-in-time copy of a run's metrics, taken
//! by the run loop and published to the endpoint, so a scrape never touches the world.

use hdrhistogram::Histogram;
use sim_core::fleet::{ConnectorState, World};
use sim_core::metrics::{Metrics, SessionCounts, TransactionCounts};
use std::collections::BTreeMap;

/// Upper bounds of the latency histogram buckets, in seconds (`+Inf` is implied): 1 ms to
/// 60 s in 1–2.5–5 steps, covering a LAN broker's milliseconds and a backend's timeouts.
pub const LATENCY_BUCKETS_S: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Upper bounds of the scheduler-lag histogram buckets, in seconds (`+Inf` is implied):
/// 100 µs to 1 s, finer than latency because the pacing target is a 5 ms p99.
pub const LAG_BUCKETS_S: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// A histogram with fixed bucket bounds, as Prometheus exposes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketHistogram {
    /// `(upper bound in seconds, cumulative count of observations at or below it)`,
    /// ascending; the `+Inf` bucket is `count`.
    pub buckets: Vec<(f64, u64)>,
    /// Number of observations.
    pub count: u64,
    /// Sum of the observations, in seconds.
    pub sum_s: f64,
}

impl BucketHistogram {
    /// Buckets a microsecond HdrHistogram into `bounds_s`. Each recorded value is placed by
    /// the lowest value of its HdrHistogram bucket, so an observation of exactly a bound
    /// counts at that bound; resolution is the histogram's (0.1 % at 3 significant digits).
    /// The sum is the histogram's mean times its count.
    pub fn from_hdr_us(h: &Histogram<u64>, bounds_s: &[f64]) -> Self {
        let mut buckets: Vec<(f64, u64)> = bounds_s.iter().map(|&b| (b, 0)).collect();
        for item in h.iter_recorded() {
            let value_us = h.lowest_equivalent(item.value_iterated_to());
            let value_s = value_us as f64 / 1e6;
            // Cumulative: every bucket whose bound is at or above the value counts it.
            for (bound, n) in buckets.iter_mut().rev() {
                if value_s > *bound {
                    break;
                }
                *n += item.count_at_value();
            }
        }
        BucketHistogram {
            buckets,
            count: h.len(),
            sum_s: if h.is_empty() {
                0.0
            } else {
                h.mean() * h.len() as f64 / 1e6
            },
        }
    }
}

/// Identifies the run a process serves metrics for (the `chargestorm_run_info` series).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunLabels {
    /// The scenario's name.
    pub scenario: String,
    /// The root seed.
    pub seed: u64,
    /// The shard, `K/N` (`0/1` for an unsharded run).
    pub shard: String,
}

/// A point-in-time copy of a run's metrics, everything `/metrics` renders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Which run this is.
    pub run: RunLabels,
    /// Cumulative messages by `(protocol, message type)`.
    pub messages: BTreeMap<(String, String), u64>,
    /// Cumulative errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Cumulative session counts.
    pub sessions: SessionCounts,
    /// Cumulative transaction counts (`open` is a gauge).
    pub transactions: TransactionCounts,
    /// Connectors by state now; every state is present, zero or not.
    pub connectors: BTreeMap<String, u64>,
    /// Energy delivered so far (sessions in progress included), kWh.
    pub energy_kwh: f64,
    /// Virtual time reached, s.
    pub simulated_s: f64,
    /// Sends that left late.
    pub late_sends: u64,
    /// Sends skipped by an overloaded generator.
    pub dropped_sends: u64,
    /// How late the pacing driver processed deadlines (real-time modes only).
    pub scheduler_lag: Option<BucketHistogram>,
    /// Corrected latency (from the intended send time) by message type.
    pub latency: BTreeMap<String, BucketHistogram>,
    /// Service time (from the actual send time) by message type.
    pub service_time: BTreeMap<String, BucketHistogram>,
}

/// Takes a snapshot of `metrics`: `states` are connectors by state indexed like
/// [`ConnectorState::ALL`], `energy_kwh` the energy so far (in-progress sessions included),
/// `simulated_s` the virtual time, `lag_us` the pacing driver's lag histogram if it keeps one.
pub fn snapshot_from_metrics(
    metrics: &Metrics,
    states: &[u64; 6],
    energy_kwh: f64,
    simulated_s: f64,
    lag_us: Option<&Histogram<u64>>,
    run: &RunLabels,
) -> MetricsSnapshot {
    let mut messages = BTreeMap::new();
    for (protocol, names) in metrics.messages_by_protocol() {
        for (name, n) in names {
            messages.insert((protocol.clone(), name), n);
        }
    }
    let mut latency = BTreeMap::new();
    let mut service_time = BTreeMap::new();
    for (name, series) in metrics.latency_series() {
        latency.insert(
            name.to_owned(),
            BucketHistogram::from_hdr_us(&series.corrected_us, &LATENCY_BUCKETS_S),
        );
        service_time.insert(
            name.to_owned(),
            BucketHistogram::from_hdr_us(&series.service_us, &LATENCY_BUCKETS_S),
        );
    }
    MetricsSnapshot {
        run: run.clone(),
        messages,
        errors: metrics
            .errors()
            .into_iter()
            .map(|(k, v)| (k, v.count))
            .collect(),
        sessions: metrics.sessions,
        transactions: metrics.transactions.clone(),
        connectors: ConnectorState::ALL
            .iter()
            .zip(states)
            .map(|(s, &n)| (s.name().to_owned(), n))
            .collect(),
        energy_kwh,
        simulated_s,
        late_sends: metrics.late_sends,
        dropped_sends: metrics.dropped_sends,
        scheduler_lag: lag_us.map(|h| BucketHistogram::from_hdr_us(h, &LAG_BUCKETS_S)),
        latency,
        service_time,
    }
}

impl MetricsSnapshot {
    /// Takes a snapshot of a running world (its metrics, connector states, energy and
    /// virtual time), with the pacing driver's lag histogram if it keeps one.
    pub fn from_world(world: &World, run: &RunLabels, lag_us: Option<&Histogram<u64>>) -> Self {
        let snap = world.snapshot();
        snapshot_from_metrics(
            world.metrics(),
            &snap.states,
            snap.energy_kwh,
            snap.now.as_secs_f64(),
            lag_us,
            run,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::metrics::new_histogram;
    use sim_core::time::Instant;

    #[test]
    fn buckets_are_cumulative_and_a_value_on_a_bound_counts_at_it() {
        let mut h = new_histogram();
        for us in [500, 1_000, 5_000, 7_000, 2_000_000, 100_000_000] {
            h.record(us).unwrap();
        }
        let b = BucketHistogram::from_hdr_us(&h, &LATENCY_BUCKETS_S);
        let at = |bound: f64| b.buckets.iter().find(|(le, _)| *le == bound).unwrap().1;
        assert_eq!(at(0.001), 2, "500 µs and exactly 1 ms");
        assert_eq!(at(0.005), 3, "exactly 5 ms");
        assert_eq!(at(0.01), 4);
        assert_eq!(at(2.5), 5);
        assert_eq!(at(60.0), 5, "100 s is only in +Inf");
        assert_eq!(b.count, 6);
        let exact_sum = (500 + 1_000 + 5_000 + 7_000 + 2_000_000 + 100_000_000) as f64 / 1e6;
        assert!(
            (b.sum_s - exact_sum).abs() / exact_sum < 1e-3,
            "{}",
            b.sum_s
        );
        assert!(b.buckets.windows(2).all(|w| w[0].1 <= w[1].1));
    }

    #[test]
    fn an_empty_histogram_has_zero_buckets_and_sum() {
        let b = BucketHistogram::from_hdr_us(&new_histogram(), &LAG_BUCKETS_S);
        assert_eq!(b.buckets.len(), LAG_BUCKETS_S.len());
        assert!(b.buckets.iter().all(|(_, n)| *n == 0));
        assert_eq!((b.count, b.sum_s), (0, 0.0));
    }

    #[test]
    fn snapshot_carries_every_connector_state_and_the_metrics() {
        let mut m = Metrics::new();
        let id = m.latency_id("mqtt.Boot");
        let msg = m.message_id("mqtt", "BootNotificationReq");
        let err = m.error_id("mqtt.timeout");
        m.record_latency(
            id,
            Instant::ZERO,
            Instant::from_millis(40),
            Instant::from_millis(50),
        );
        m.count_message(msg);
        m.count_error(err, Instant::ZERO, "late");
        m.sessions.started = 3;
        let run = RunLabels {
            scenario: "x".into(),
            seed: 7,
            shard: "0/1".into(),
        };
        let s = snapshot_from_metrics(&m, &[0, 4, 0, 2, 0, 0], 1.5, 60.0, None, &run);
        assert_eq!(s.connectors.len(), 6);
        assert_eq!(s.connectors["idle"], 4);
        assert_eq!(s.connectors["charging"], 2);
        assert_eq!(
            s.messages[&("mqtt".to_owned(), "BootNotificationReq".to_owned())],
            1
        );
        assert_eq!(s.errors["mqtt.timeout"], 1);
        assert_eq!(s.sessions.started, 3);
        let lat = &s.latency["mqtt.Boot"];
        assert_eq!(lat.count, 1);
        assert!((lat.sum_s - 0.05).abs() < 1e-4);
        assert!((s.service_time["mqtt.Boot"].sum_s - 0.01).abs() < 1e-4);
        assert!(s.scheduler_lag.is_none());
    }
}
