//! Run metrics: message counts, error counts, latency histograms, session totals.
//!
//! Hot paths count through small integer handles ([`MessageId`], [`ErrorId`],
//! [`LatencyId`]) registered once when the fleet is built, so counting a CAN frame is an
//! index into a `Vec`, never a map lookup or an allocation.
//!
//! Latency is recorded in microseconds into HdrHistograms from the *intended* send time
//! (what the schedule said), not from when the message actually left, so a slow peer that
//! delays the generator still shows up (no coordinated omission). The service time
//! (actual send to response) is kept beside it.

use crate::time::Instant;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A registered message type (protocol + name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageId(u32);

/// A registered error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorId(u32);

/// A registered latency series (one per request/response type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyId(u32);

/// Highest latency a histogram records: one hour, in microseconds.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;

/// One error kind's statistics.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ErrorStat {
    /// How many times it happened.
    pub count: u64,
    /// Virtual time of the first occurrence, in microseconds.
    pub first_us: u64,
    /// Virtual time of the last occurrence, in microseconds.
    pub last_us: u64,
    /// The text of the last occurrence (never contains secrets).
    pub last_text: String,
}

/// A latency series: time from intended send to response, and service time.
#[derive(Debug, Clone)]
pub struct LatencySeries {
    /// From the intended send time (corrected for coordinated omission).
    pub corrected_us: Histogram<u64>,
    /// From the actual send time (service time only).
    pub service_us: Histogram<u64>,
    /// Corrected latency since the last sample (2 significant digits), for time series.
    pub interval_us: Histogram<u64>,
}

impl LatencySeries {
    fn new() -> Self {
        LatencySeries {
            corrected_us: new_histogram(),
            service_us: new_histogram(),
            interval_us: Histogram::new_with_bounds(1, LATENCY_MAX_US, 2)
                .expect("constant bounds 1..=1h with 2 significant digits are valid"),
        }
    }
}

/// A latency histogram in microseconds, 1 µs to 1 h, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
        .expect("constant bounds 1..=1h with 3 significant digits are valid")
}

/// Session totals.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionCounts {
    /// Charging sessions that started delivering energy.
    pub started: u64,
    /// Sessions that ended normally (target reached, full, user stop).
    pub completed: u64,
    /// Sessions that ended on a fault, a timeout or a refusal.
    pub failed: u64,
}

/// Transaction totals as seen by the charger side.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TransactionCounts {
    /// Transactions started by chargers.
    pub started: u64,
    /// Transactions the backend confirmed (StopTransaction or offline order acknowledged).
    pub confirmed: u64,
    /// Transactions still running or unconfirmed when the run ended.
    pub open: u64,
    /// Transactions that will never be confirmed, with a reason.
    pub lost: u64,
    /// Why transactions were lost, by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lost_reasons: BTreeMap<String, u64>,
}

/// All metrics of a run (or of one shard).
#[derive(Debug)]
pub struct Metrics {
    message_names: Vec<(&'static str, String)>,
    message_counts: Vec<u64>,
    error_names: Vec<String>,
    error_stats: Vec<ErrorStat>,
    latency_names: Vec<String>,
    latency: Vec<LatencySeries>,
    /// Session totals.
    pub sessions: SessionCounts,
    /// Transaction totals.
    pub transactions: TransactionCounts,
    /// Energy delivered by all meters, in Wh.
    pub energy_wh: f64,
    /// Sends that left later than their intended time by more than the lateness bound.
    pub late_sends: u64,
    /// Sends the generator skipped because it was overloaded.
    pub dropped_sends: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Metrics {
            message_names: Vec::new(),
            message_counts: Vec::new(),
            error_names: Vec::new(),
            error_stats: Vec::new(),
            latency_names: Vec::new(),
            latency: Vec::new(),
            sessions: SessionCounts::default(),
            transactions: TransactionCounts::default(),
            energy_wh: 0.0,
            late_sends: 0,
            dropped_sends: 0,
        }
    }

    /// Registers (or finds) the message type `name` of `protocol` (`"can"`, `"mqtt"`, `"http"`).
    pub fn message_id(&mut self, protocol: &'static str, name: &str) -> MessageId {
        if let Some(i) = self
            .message_names
            .iter()
            .position(|(p, n)| *p == protocol && n == name)
        {
            return MessageId(i as u32);
        }
        self.message_names.push((protocol, name.to_owned()));
        self.message_counts.push(0);
        MessageId((self.message_names.len() - 1) as u32)
    }

    /// Counts one message.
    #[inline]
    pub fn count_message(&mut self, id: MessageId) {
        self.add_messages(id, 1);
    }

    /// Counts `n` messages of one type (batched counting, e.g. a CAN segment's totals).
    #[inline]
    pub fn add_messages(&mut self, id: MessageId, n: u64) {
        if let Some(c) = self.message_counts.get_mut(id.0 as usize) {
            *c += n;
        }
    }

    /// Registers (or finds) the error kind `name`, e.g. `"mqtt.timeout"`.
    pub fn error_id(&mut self, name: &str) -> ErrorId {
        if let Some(i) = self.error_names.iter().position(|n| n == name) {
            return ErrorId(i as u32);
        }
        self.error_names.push(name.to_owned());
        self.error_stats.push(ErrorStat::default());
        ErrorId((self.error_names.len() - 1) as u32)
    }

    /// Counts one error of kind `id` at `now`; `text` says what happened (no secrets).
    pub fn count_error(&mut self, id: ErrorId, now: Instant, text: &str) {
        let Some(stat) = self.error_stats.get_mut(id.0 as usize) else {
            return;
        };
        if stat.count == 0 {
            stat.first_us = now.as_micros();
        }
        stat.count += 1;
        stat.last_us = now.as_micros();
        if stat.last_text != text {
            stat.last_text.clear();
            stat.last_text.push_str(text);
        }
    }

    /// Registers (or finds) the latency series `name`, e.g. `"mqtt.BootNotification"`.
    pub fn latency_id(&mut self, name: &str) -> LatencyId {
        if let Some(i) = self.latency_names.iter().position(|n| n == name) {
            return LatencyId(i as u32);
        }
        self.latency_names.push(name.to_owned());
        self.latency.push(LatencySeries::new());
        LatencyId((self.latency_names.len() - 1) as u32)
    }

    /// Records one request/response pair: intended send time, actual send time, and the
    /// time the response arrived.
    pub fn record_latency(
        &mut self,
        id: LatencyId,
        intended: Instant,
        sent: Instant,
        done: Instant,
    ) {
        let Some(series) = self.latency.get_mut(id.0 as usize) else {
            return;
        };
        let corrected = (done - intended).as_micros().clamp(1, LATENCY_MAX_US);
        let service = (done - sent).as_micros().clamp(1, LATENCY_MAX_US);
        // Values are clamped into the histogram's range, so recording cannot fail.
        let _ = series.corrected_us.record(corrected);
        let _ = series.service_us.record(service);
        let _ = series.interval_us.record(corrected);
    }

    /// Visits every latency series that saw samples since the last call with its interval
    /// histogram, then clears the interval histograms.
    pub fn drain_intervals(&mut self, mut visit: impl FnMut(&str, &Histogram<u64>)) {
        for (name, series) in self.latency_names.iter().zip(&mut self.latency) {
            if !series.interval_us.is_empty() {
                visit(name, &series.interval_us);
                series.interval_us.reset();
            }
        }
    }

    /// Message totals by protocol (cumulative).
    pub fn message_totals_by_protocol(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for ((protocol, _), &count) in self.message_names.iter().zip(&self.message_counts) {
            *out.entry(*protocol).or_default() += count;
        }
        out
    }

    /// Message counts as `protocol → name → count`, zero counts omitted.
    pub fn messages_by_protocol(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((protocol, name), &count) in self.message_names.iter().zip(&self.message_counts) {
            if count > 0 {
                *out.entry((*protocol).to_owned())
                    .or_default()
                    .entry(name.clone())
                    .or_default() += count;
            }
        }
        out
    }

    /// Error statistics by kind, zero counts omitted.
    pub fn errors(&self) -> BTreeMap<String, ErrorStat> {
        self.error_names
            .iter()
            .zip(&self.error_stats)
            .filter(|(_, s)| s.count > 0)
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect()
    }

    /// Latency series by name, empty series omitted.
    pub fn latency_series(&self) -> impl Iterator<Item = (&str, &LatencySeries)> {
        self.latency_names
            .iter()
            .zip(&self.latency)
            .filter(|(_, s)| !s.corrected_us.is_empty())
            .map(|(n, s)| (n.as_str(), s))
    }

    /// Adds everything `other` recorded (messages, errors, latency) to these metrics.
    pub fn absorb(&mut self, other: &Metrics) {
        for ((protocol, name), &count) in other.message_names.iter().zip(&other.message_counts) {
            let id = self.message_id(protocol, name);
            self.add_messages(id, count);
        }
        for (name, stat) in other.error_names.iter().zip(&other.error_stats) {
            if stat.count == 0 {
                continue;
            }
            let id = self.error_id(name);
            let mine = &mut self.error_stats[id.0 as usize];
            if mine.count == 0 || stat.first_us < mine.first_us {
                mine.first_us = stat.first_us;
            }
            if stat.last_us >= mine.last_us {
                mine.last_us = stat.last_us;
                mine.last_text.clone_from(&stat.last_text);
            }
            mine.count += stat.count;
        }
        for (name, series) in other.latency_names.iter().zip(&other.latency) {
            let id = self.latency_id(name);
            let mine = &mut self.latency[id.0 as usize];
            // Same bounds on both sides, so adding cannot fail.
            let _ = mine.corrected_us.add(&series.corrected_us);
            let _ = mine.service_us.add(&series.service_us);
            let _ = mine.interval_us.add(&series.interval_us);
        }
    }

    /// Total number of errors of every kind.
    pub fn error_total(&self) -> u64 {
        self.error_stats.iter().map(|s| s.count).sum()
    }

    /// Total number of messages of every protocol.
    pub fn message_total(&self) -> u64 {
        self.message_counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_stable_and_counts_group_by_protocol() {
        let mut m = Metrics::new();
        let bcl = m.message_id("can", "BCL");
        let boot = m.message_id("mqtt", "BootNotificationReq");
        assert_eq!(m.message_id("can", "BCL"), bcl);
        m.count_message(bcl);
        m.count_message(bcl);
        m.count_message(boot);
        let by = m.messages_by_protocol();
        assert_eq!(by["can"]["BCL"], 2);
        assert_eq!(by["mqtt"]["BootNotificationReq"], 1);
        assert_eq!(m.message_total(), 3);
    }

    #[test]
    fn latency_is_measured_from_the_intended_send_time() {
        let mut m = Metrics::new();
        let id = m.latency_id("mqtt.Boot");
        // Intended at 0, sent 400 ms late, answered 10 ms after sending.
        m.record_latency(
            id,
            Instant::ZERO,
            Instant::from_millis(400),
            Instant::from_millis(410),
        );
        let (_, s) = m.latency_series().next().unwrap();
        assert!(s.corrected_us.max() >= 409_000);
        assert!(s.service_us.max() <= 10_100);
    }

    #[test]
    fn errors_keep_first_last_and_text() {
        let mut m = Metrics::new();
        let id = m.error_id("mqtt.timeout");
        m.count_error(id, Instant::from_secs(1), "a");
        m.count_error(id, Instant::from_secs(5), "b");
        let e = &m.errors()["mqtt.timeout"];
        assert_eq!((e.count, e.first_us, e.last_us), (2, 1_000_000, 5_000_000));
        assert_eq!(e.last_text, "b");
        assert_eq!(m.error_total(), 2);
    }
}
