//! The run report: the JSON contract every chargestorm run ends with.
//!
//! Top-level keys are fixed (`seed`, `scenario`, `simulated_s`, `wall_s`, `connectors`,
//! `sessions`, `transactions`, `energy_kwh`, `messages`, `latency_ms`, `errors`,
//! `assertions`, `digest`, `verdict`); later features add keys, never rename these.
//! `verdict` is `pass` only when every assertion passed; the binary exits 0 only then.
//!
//! Shard reports (`--shard K/N`) merge into one report of the whole fleet with
//! [`merge`]: counts and energy add up, latency merges the serialized HdrHistograms (never
//! averages percentiles), and the merged `digest` is a digest of the shard digests (see
//! [`merge`] for its exact definition).

mod merge;

pub use merge::{MergeError, MergeOptions, ShardDigest, merge, merge_with};

use crate::metrics::{ErrorStat, Metrics, SessionCounts, TransactionCounts};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
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
    /// Serialized HdrHistograms (V2, Base64) of uncorrected (service-time) latency.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_uncorrected_histograms: BTreeMap<String, String>,
    /// Series of `latency_uncorrected_ms` that a merge could only approximate (some shard
    /// had no histogram): their percentiles are the maximum over the shards, not exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency_uncorrected_approximate: Vec<String>,
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
    /// GB/T 27930 sessions, when DC connectors ran them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbt: Option<GbtDetails>,
    /// The shard this run covered, `K/N` (set by the run loop; empty for an unsharded run
    /// written before shards were recorded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shard: String,
    /// A merged report's inputs, in shard order, with their digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardDigest>,
    /// How closely a real-time or factor run kept to the wall clock (absent at `max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing: Option<PacingDetails>,
    /// What the run cost the process that ran it (CPU and peak memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessUsage>,
    /// Faults injected while the run went on (from the dashboard), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub injected_faults: Vec<InjectedFault>,
    /// The TCP fault proxy's counters, when the chargers reached their broker through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_proxy: Option<NetProxyDetails>,
}

/// What the TCP fault proxy between the chargers and their broker saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetProxyDetails {
    /// Connections accepted (refused ones included).
    pub accepted: u64,
    /// Connections reset at once because a cut with `duration` refused them.
    pub refused: u64,
    /// Links ended by an injected reset.
    pub injected_resets: u64,
    /// Links ended by an injected cut.
    pub injected_cuts: u64,
    /// Links ended because one side reset or a write failed.
    pub broken: u64,
    /// Bytes relayed charger → broker.
    pub bytes_up: u64,
    /// Bytes relayed broker → charger.
    pub bytes_down: u64,
}

/// The generator's lag behind its schedule in a paced run: how late deadlines were
/// processed. A generator that falls behind delays its own sends, so the latencies it
/// reports would flatter the system under test; such a run is flagged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PacingDetails {
    /// Median lag, ms.
    pub lag_p50_ms: f64,
    /// 99th-percentile lag, ms.
    pub lag_p99_ms: f64,
    /// Largest lag, ms.
    pub lag_max_ms: f64,
    /// Deadlines processed more than the overrun threshold late.
    pub overruns: u64,
    /// The threshold on `lag_p99_ms` beyond which the run is flagged, ms.
    pub limit_p99_ms: f64,
}

impl PacingDetails {
    /// Whether the generator kept to its schedule.
    pub fn kept_up(&self) -> bool {
        self.lag_p99_ms <= self.limit_p99_ms
    }
}

/// CPU time and peak resident memory of the process, as the kernel accounted them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    /// User-mode CPU seconds.
    pub cpu_user_s: f64,
    /// Kernel-mode CPU seconds.
    pub cpu_system_s: f64,
    /// Peak resident set size, KiB.
    pub max_rss_kib: u64,
}

/// One fault injected into a running fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InjectedFault {
    /// Virtual time of the injection, s.
    pub at_s: f64,
    /// The fault's name (`bms_timeout`, `restart_broker`, …).
    pub fault: String,
    /// What it was aimed at (`connector 12`, `all`).
    pub target: String,
    /// Connectors (or shared components) it reached; 0 when nothing could take it.
    pub reached: u64,
}

/// GB/T 27930 session totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GbtDetails {
    /// Sessions (one per DC charging attempt).
    pub sessions: u64,
    /// Sessions by the furthest charger phase they reached.
    pub furthest_phase: BTreeMap<String, u64>,
    /// CEM frames the chargers sent (charger-detected errors).
    pub cem_sent: u64,
    /// BEM frames the BMSs sent (BMS-detected errors).
    pub bem_sent: u64,
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
            if let Some(text) = encode_histogram(&series.corrected_us) {
                self.details
                    .latency_histograms
                    .insert(name.to_owned(), text);
            }
            if let Some(text) = encode_histogram(&series.service_us) {
                self.details
                    .latency_uncorrected_histograms
                    .insert(name.to_owned(), text);
            }
        }
    }

    /// Records the pacing of the run and an assertion that the generator kept up, so a
    /// run whose generator fell behind never passes as fine.
    pub fn record_pacing(&mut self, pacing: PacingDetails) {
        self.assertions.push(Assertion {
            name: "pacing.generator_kept_up".into(),
            passed: pacing.kept_up(),
            detail: format!(
                "scheduler lag p50 {:.2} ms, p99 {:.2} ms (limit {:.0} ms), max {:.2} ms, {} overruns",
                pacing.lag_p50_ms,
                pacing.lag_p99_ms,
                pacing.limit_p99_ms,
                pacing.lag_max_ms,
                pacing.overruns
            ),
        });
        self.details.pacing = Some(pacing);
        self.decide();
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

/// A histogram serialized as V2 and Base64, as the report stores it; `None` only if the
/// serializer fails (it does not for histograms of [`crate::metrics::new_histogram`]).
pub fn encode_histogram(h: &Histogram<u64>) -> Option<String> {
    let mut bytes = Vec::new();
    V2Serializer::new().serialize(h, &mut bytes).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(&bytes))
}

/// The V2 cookie (uncompressed), as the serializer writes it.
const V2_COOKIE: u32 = 0x1c84_9313;
/// Length of the V2 header: cookie, payload length, normalizing offset, significant
/// digits, lowest and highest trackable value, integer-to-double ratio.
const V2_HEADER_LEN: usize = 40;

/// Why a serialized histogram could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// The text is not Base64.
    #[error("not Base64: {0}")]
    Base64(String),
    /// Fewer bytes than the 40-byte V2 header.
    #[error("{len} bytes, shorter than a V2 header")]
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// The first four bytes are not the uncompressed V2 cookie.
    #[error("cookie {found:#010x} is not an uncompressed V2 histogram")]
    Cookie {
        /// The cookie found.
        found: u32,
    },
    /// The header announces more payload than there is.
    #[error("payload of {announced} bytes announced, {present} present")]
    PayloadLength {
        /// Payload length in the header.
        announced: usize,
        /// Bytes after the header.
        present: usize,
    },
    /// Bounds or precision other than [`crate::metrics::new_histogram`]'s.
    #[error(
        "bounds {low}..={high} with {digits} significant digits, expected 1..={} with 3",
        crate::metrics::LATENCY_MAX_US
    )]
    Bounds {
        /// Significant digits in the header.
        digits: u32,
        /// Lowest trackable value in the header.
        low: u64,
        /// Highest trackable value in the header.
        high: u64,
    },
    /// The payload does not decode (the library's reason).
    #[error("payload: {0}")]
    Payload(String),
}

/// Decodes a histogram written by [`encode_histogram`]. Refuses, before allocating, any
/// header whose bounds differ from [`crate::metrics::new_histogram`]'s or whose payload
/// length exceeds the bytes present, so a corrupt report cannot make it allocate gigabytes.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| HistogramError::Base64(e.to_string()))?;
    let header: [u8; V2_HEADER_LEN] = bytes
        .get(..V2_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(HistogramError::TooShort { len: bytes.len() })?;
    // Offsets are constants below V2_HEADER_LEN - 8, so the indexing cannot go out of range.
    let u32_at =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let u64_at = |i: usize| (u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4));
    let found = u32_at(0);
    if found != V2_COOKIE {
        return Err(HistogramError::Cookie { found });
    }
    let announced = u32_at(4) as usize;
    let present = bytes.len() - V2_HEADER_LEN;
    if announced > present {
        return Err(HistogramError::PayloadLength { announced, present });
    }
    let (digits, low, high) = (u32_at(12), u64_at(16), u64_at(24));
    if (digits, low, high) != (3, 1, crate::metrics::LATENCY_MAX_US) {
        return Err(HistogramError::Bounds { digits, low, high });
    }
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| HistogramError::Payload(format!("{e:?}")))
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
