//! The run report: the JSON contract every chargestorm run ends with.
//!
//! Top-level keys are fixed (`seed`, `scenario`, `simulated_s`, `wall_s`, `connectors`,
//! `sessions`, `transactions`, `energy_kwh`, `messages`, `latency_ms`, `errors`,
//! `assertions`, `digest`, `verdict`); later features add keys, never rename these.
//! `verdict` is `pass` only when every assertion passed; the binary exits 0 only then.

use crate::metrics::{ErrorStat, Metrics, SessionCounts, TransactionCounts};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every assertion passed.
    Pass,
    /// At least one assertion failed.
    Fail,
}

/// One checked expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assertion {
    /// A stable name, e.g. `physics.energy_conservation`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was measured against what was expected, for a human.
    pub detail: String,
}

/// Latency percentiles of one message type, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of request/response pairs.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

impl LatencySummary {
    /// Percentiles of a microsecond histogram, in milliseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// Connector totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectorCounts {
    /// All connectors in the run (or shard).
    pub total: u64,
    /// DC connectors.
    pub dc: u64,
    /// AC connectors.
    pub ac: u64,
    /// Connectors by state when the run ended.
    pub final_states: BTreeMap<String, u64>,
}

/// The report of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The root seed.
    pub seed: u64,
    /// The scenario's name.
    pub scenario: String,
    /// Virtual seconds simulated.
    pub simulated_s: f64,
    /// Wall-clock seconds the run took.
    pub wall_s: f64,
    /// Connector totals.
    pub connectors: ConnectorCounts,
    /// Charging sessions.
    pub sessions: SessionCounts,
    /// Backend transactions.
    pub transactions: TransactionCounts,
    /// Energy delivered by all meters.
    pub energy_kwh: f64,
    /// Message counts by protocol and message type.
    pub messages: BTreeMap<String, BTreeMap<String, u64>>,
    /// Latency percentiles by message type, from the intended send time.
    pub latency_ms: BTreeMap<String, LatencySummary>,
    /// Error counts by kind.
    pub errors: BTreeMap<String, u64>,
    /// Checked expectations.
    pub assertions: Vec<Assertion>,
    /// BLAKE3 digest of the canonical trace.
    pub digest: String,
    /// `pass` when every assertion passed.
    pub verdict: Verdict,
    /// Details beyond the contract: error texts, service-time latency, run parameters.
    #[serde(default)]
    pub details: ReportDetails,
}

/// Report details beyond the fixed top-level keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportDetails {
    /// The command that reproduces this run.
    #[serde(default)]
    pub rerun: String,
    /// The run speed (`max`, `realtime`, or a factor).
    #[serde(default)]
    pub speed: String,
    /// Error kinds with first/last occurrence and last text.
    #[serde(default)]
    pub errors: BTreeMap<String, ErrorStat>,
    /// Latency from the actual send time (service time, not corrected).
    #[serde(default)]
    pub latency_uncorrected_ms: BTreeMap<String, LatencySummary>,
    /// Serialized HdrHistograms (V2, Base64) of corrected latency, for merging shards.
    #[serde(default)]
    pub latency_histograms: BTreeMap<String, String>,
    /// Trace events that entered the digest.
    #[serde(default)]
    pub trace_events: u64,
    /// Scheduler events processed.
    #[serde(default)]
    pub scheduler_events: u64,
    /// Sends that left late, and sends skipped by an overloaded generator.
    #[serde(default)]
    pub late_sends: u64,
    /// Sends skipped by an overloaded generator.
    #[serde(default)]
    pub dropped_sends: u64,
}

impl Report {
    /// Fills the metric-derived keys from `metrics`.
    pub fn fill_from_metrics(&mut self, metrics: &Metrics) {
        self.sessions = metrics.sessions;
        self.transactions = metrics.transactions.clone();
        self.energy_kwh = metrics.energy_wh / 1000.0;
        self.messages = metrics.messages_by_protocol();
        let errors = metrics.errors();
        self.errors = errors.iter().map(|(k, v)| (k.clone(), v.count)).collect();
        self.details.errors = errors;
        self.details.late_sends = metrics.late_sends;
        self.details.dropped_sends = metrics.dropped_sends;
        for (name, series) in metrics.latency_series() {
            self.latency_ms.insert(
                name.to_owned(),
                LatencySummary::from_histogram(&series.corrected_us),
            );
            self.details.latency_uncorrected_ms.insert(
                name.to_owned(),
                LatencySummary::from_histogram(&series.service_us),
            );
            let mut bytes = Vec::new();
            if V2Serializer::new()
                .serialize(&series.corrected_us, &mut bytes)
                .is_ok()
            {
                self.details.latency_histograms.insert(
                    name.to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(&bytes),
                );
            }
        }
    }

    /// Sets the verdict from the assertions.
    pub fn decide(&mut self) {
        self.verdict = if self.assertions.iter().all(|a| a.passed) {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    fn empty() -> Report {
        Report {
            seed: 1,
            scenario: "x".into(),
            simulated_s: 0.0,
            wall_s: 0.0,
            connectors: ConnectorCounts::default(),
            sessions: SessionCounts::default(),
            transactions: TransactionCounts::default(),
            energy_kwh: 0.0,
            messages: BTreeMap::new(),
            latency_ms: BTreeMap::new(),
            errors: BTreeMap::new(),
            assertions: vec![],
            digest: String::new(),
            verdict: Verdict::Pass,
            details: ReportDetails::default(),
        }
    }

    #[test]
    fn contract_keys_are_present() {
        let v = serde_json::to_value(empty()).unwrap();
        for key in [
            "seed",
            "scenario",
            "simulated_s",
            "wall_s",
            "connectors",
            "sessions",
            "transactions",
            "energy_kwh",
            "messages",
            "latency_ms",
            "errors",
            "assertions",
            "digest",
            "verdict",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["verdict"], "pass");
        for key in ["started", "confirmed", "open", "lost"] {
            assert!(
                v["transactions"].get(key).is_some(),
                "missing transactions.{key}"
            );
        }
    }

    #[test]
    fn one_failed_assertion_fails_the_run() {
        let mut r = empty();
        r.assertions.push(Assertion {
            name: "a".into(),
            passed: true,
            detail: String::new(),
        });
        r.decide();
        assert_eq!(r.verdict, Verdict::Pass);
        r.assertions.push(Assertion {
            name: "b".into(),
            passed: false,
            detail: String::new(),
        });
        r.decide();
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn latency_lands_in_milliseconds_with_histogram() {
        let mut m = Metrics::new();
        let id = m.latency_id("mqtt.Boot");
        for i in 1..=100 {
            m.record_latency(id, Instant::ZERO, Instant::ZERO, Instant::from_millis(i));
        }
        let mut r = empty();
        r.fill_from_metrics(&m);
        let s = r.latency_ms["mqtt.Boot"];
        assert_eq!(s.count, 100);
        assert!((s.p50 - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.max - 100.0).abs() < 0.1, "{s:?}");
        assert!(r.details.latency_histograms.contains_key("mqtt.Boot"));
    }
}
