//! Building a [`ReportSeries`] from the cumulative counters a run keeps: sample them every
//! interval and the recorder turns the differences into rates and per-interval latency
//! percentiles.

use super::{Percentiles, ReportSeries};
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, BTreeSet};

/// Percentiles (ms) of what `now` recorded since `before` (both cumulative, µs). Falls
/// back to all of `now` if `before` is not a prefix of it (a histogram that was reset).
pub fn interval_percentiles(now: &Histogram<u64>, before: Option<&Histogram<u64>>) -> Percentiles {
    let Some(before) = before else {
        return Percentiles::from_histogram(now);
    };
    let mut delta = now.clone();
    match delta.subtract(before) {
        Ok(()) => Percentiles::from_histogram(&delta),
        Err(_) => Percentiles::from_histogram(now),
    }
}

/// No samples in an interval.
fn empty() -> Percentiles {
    Percentiles {
        count: 0,
        p50: 0.0,
        p90: 0.0,
        p99: 0.0,
        p999: 0.0,
        max: 0.0,
    }
}

/// Samples cumulative counters into a [`ReportSeries`].
#[derive(Debug, Clone)]
pub struct SeriesRecorder {
    series: ReportSeries,
    last_t_s: f64,
    last_messages: BTreeMap<String, u64>,
    last_errors: u64,
    last_latency: BTreeMap<String, Histogram<u64>>,
}

impl SeriesRecorder {
    /// A recorder for samples taken every `interval_s` seconds of virtual time, starting
    /// at 0.
    pub fn new(interval_s: f64) -> Self {
        SeriesRecorder {
            series: ReportSeries {
                interval_s,
                ..ReportSeries::default()
            },
            last_t_s: 0.0,
            last_messages: BTreeMap::new(),
            last_errors: 0,
            last_latency: BTreeMap::new(),
        }
    }

    /// Records the interval ending at `t_s`: connector `states`, cumulative message
    /// counts by protocol, the cumulative error count, and the cumulative latency
    /// histograms (µs) by message type. A sample not later than the previous one is
    /// ignored (rates need a positive interval).
    pub fn sample<'a>(
        &mut self,
        t_s: f64,
        states: [u64; 6],
        messages_by_protocol: &BTreeMap<String, u64>,
        errors_total: u64,
        latency: impl IntoIterator<Item = (&'a str, &'a Histogram<u64>)>,
    ) {
        let dt = t_s - self.last_t_s;
        if dt.is_nan() || dt <= 0.0 {
            return;
        }
        let n = self.series.t_s.len();
        self.series.t_s.push(t_s);
        self.series.states.push(states);
        for (protocol, &total) in messages_by_protocol {
            let before = self.last_messages.get(protocol).copied().unwrap_or(0);
            let rates = self
                .series
                .messages_per_s
                .entry(protocol.clone())
                .or_insert_with(|| vec![0.0; n]);
            rates.push(total.saturating_sub(before) as f64 / dt);
        }
        // Protocols not seen this time had no traffic.
        for rates in self.series.messages_per_s.values_mut() {
            rates.resize(n + 1, 0.0);
        }
        self.last_messages.clone_from(messages_by_protocol);
        self.series
            .errors_per_s
            .push(errors_total.saturating_sub(self.last_errors) as f64 / dt);
        self.last_errors = errors_total;
        for (name, h) in latency {
            let p = interval_percentiles(h, self.last_latency.get(name));
            let per = self
                .series
                .latency
                .entry(name.to_owned())
                .or_insert_with(|| vec![empty(); n]);
            per.push(p);
            self.last_latency.insert(name.to_owned(), h.clone());
        }
        for per in self.series.latency.values_mut() {
            per.resize(n + 1, empty());
        }
        self.last_t_s = t_s;
    }

    /// The series so far.
    pub fn series(&self) -> &ReportSeries {
        &self.series
    }

    /// The finished series.
    pub fn finish(self) -> ReportSeries {
        self.series
    }
}

/// The report series of a world's samples ([`sim_core::fleet::World::series`]):
/// cumulative message and error counts become rates per interval, and each interval's
/// latency percentiles carry over (types absent from an interval get an empty entry).
pub fn series_from_samples(s: &sim_core::series::Series) -> ReportSeries {
    let mut out = ReportSeries {
        interval_s: s.interval_s,
        ..ReportSeries::default()
    };
    let names: BTreeSet<&String> = s.samples.iter().flat_map(|x| x.latency.keys()).collect();
    let protocols: BTreeSet<&String> = s.samples.iter().flat_map(|x| x.messages.keys()).collect();
    let mut last_t = 0.0;
    let mut last_errors = 0;
    for (i, sample) in s.samples.iter().enumerate() {
        let dt = (sample.t_s - last_t).max(1e-9);
        let before = i.checked_sub(1).and_then(|j| s.samples.get(j));
        out.t_s.push(sample.t_s);
        out.states.push(sample.states);
        for p in &protocols {
            let now = sample.messages.get(*p).copied().unwrap_or(0);
            let then = before
                .and_then(|b| b.messages.get(*p))
                .copied()
                .unwrap_or(0);
            out.messages_per_s
                .entry((*p).clone())
                .or_default()
                .push(now.saturating_sub(then) as f64 / dt);
        }
        out.errors_per_s
            .push(sample.errors.saturating_sub(last_errors) as f64 / dt);
        for name in &names {
            let p = sample.latency.get(*name).copied().unwrap_or(empty());
            out.latency.entry((*name).clone()).or_default().push(p);
        }
        last_t = sample.t_s;
        last_errors = sample.errors;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values_ms: &[u64]) -> Histogram<u64> {
        let mut h = sim_core::metrics::new_histogram();
        for v in values_ms {
            h.record(v * 1000).unwrap();
        }
        h
    }

    #[test]
    fn world_samples_become_rates_and_aligned_latency() {
        use sim_core::series::{Sample, Series};
        let p = |n: u64, p50: f64| Percentiles {
            count: n,
            p50,
            p90: p50,
            p99: p50,
            p999: p50,
            max: p50,
        };
        let sample = |t_s: f64, mqtt: u64, errors: u64, lat: Option<Percentiles>| Sample {
            t_s,
            states: [0, 1, 0, 0, 0, 0],
            messages: BTreeMap::from([("mqtt".to_owned(), mqtt)]),
            errors,
            energy_kwh: 0.0,
            latency: lat
                .map(|l| BTreeMap::from([("mqtt.Boot".to_owned(), l)]))
                .unwrap_or_default(),
        };
        let s = Series {
            interval_s: 2.0,
            samples: vec![
                sample(2.0, 10, 0, Some(p(3, 5.0))),
                sample(4.0, 30, 4, None),
                sample(6.0, 30, 4, Some(p(1, 7.0))),
            ],
        };
        let r = series_from_samples(&s);
        assert_eq!(r.t_s, [2.0, 4.0, 6.0]);
        assert_eq!(r.messages_per_s["mqtt"], [5.0, 10.0, 0.0]);
        assert_eq!(r.errors_per_s, [0.0, 2.0, 0.0]);
        let boot = &r.latency["mqtt.Boot"];
        assert_eq!(boot.iter().map(|x| x.count).collect::<Vec<_>>(), [3, 0, 1]);
        assert_eq!(boot[2].p50, 7.0);
    }

    #[test]
    fn differences_become_rates_and_interval_percentiles() {
        let mut rec = SeriesRecorder::new(10.0);
        let mut msgs = BTreeMap::from([("mqtt".to_owned(), 100u64)]);
        let h1 = hist(&[10, 10, 10]);
        rec.sample(10.0, [0, 5, 0, 0, 0, 0], &msgs, 2, [("mqtt.Boot", &h1)]);
        msgs.insert("mqtt".to_owned(), 300);
        msgs.insert("http".to_owned(), 50);
        let mut h2 = h1.clone();
        h2.add(hist(&[100])).unwrap();
        rec.sample(20.0, [0, 4, 1, 0, 0, 0], &msgs, 2, [("mqtt.Boot", &h2)]);
        // A sample in the past is ignored.
        rec.sample(15.0, [0; 6], &msgs, 9, []);
        // An interval without latency samples, and one without any message type.
        rec.sample(30.0, [0, 5, 0, 0, 0, 0], &msgs, 3, [("mqtt.Boot", &h2)]);
        let s = rec.finish();
        assert_eq!(s.t_s, [10.0, 20.0, 30.0]);
        assert_eq!(s.messages_per_s["mqtt"], [10.0, 20.0, 0.0]);
        assert_eq!(s.messages_per_s["http"], [0.0, 5.0, 0.0]);
        assert_eq!(s.errors_per_s, [0.2, 0.0, 0.1]);
        let boot = &s.latency["mqtt.Boot"];
        assert_eq!(boot.iter().map(|p| p.count).collect::<Vec<_>>(), [3, 1, 0]);
        assert!((boot[0].p50 - 10.0).abs() < 0.1);
        assert!((boot[1].p50 - 100.0).abs() < 0.1, "only the new sample");
        assert_eq!(s.states[1], [0, 4, 1, 0, 0, 0]);
    }

    #[test]
    fn a_reset_histogram_falls_back_to_its_own_contents() {
        let before = hist(&[1, 2, 3]);
        let now = hist(&[50]);
        let p = interval_percentiles(&now, Some(&before));
        assert_eq!(p.count, 1);
        assert!((p.max - 50.0).abs() < 0.1);
    }
}
