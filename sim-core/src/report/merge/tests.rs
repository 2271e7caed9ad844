use super::*;
use crate::metrics::Metrics;
use crate::report::HistogramError;
use crate::time::Instant;
use base64::Engine as _;
use proptest::prelude::*;

/// A report of scenario `x`, seed 1, 7200 simulated seconds, with the metrics filled in.
fn report_of(metrics: &Metrics, shard: &str, connectors: u64) -> Report {
    let mut r = Report {
        seed: 1,
        scenario: "x".into(),
        simulated_s: 7200.0,
        wall_s: connectors as f64 / 10.0,
        connectors: ConnectorCounts {
            total: connectors,
            dc: connectors / 2,
            ac: connectors - connectors / 2,
            final_states: BTreeMap::from([("idle".to_owned(), connectors)]),
        },
        sessions: SessionCounts::default(),
        transactions: TransactionCounts::default(),
        energy_kwh: 0.0,
        messages: BTreeMap::new(),
        latency_ms: BTreeMap::new(),
        errors: BTreeMap::new(),
        assertions: vec![Assertion {
            name: "physics.energy_conservation".into(),
            passed: true,
            detail: String::new(),
        }],
        digest: format!("digest-of-{shard}"),
        verdict: Verdict::Pass,
        details: ReportDetails {
            shard: shard.to_owned(),
            speed: "max".into(),
            rerun: format!("chargestorm run x --seed 1 --shard {shard}"),
            ..Default::default()
        },
    };
    r.fill_from_metrics(metrics);
    r.decide();
    r
}

/// Metrics of the samples `values` (ms) whose index satisfies `keep`: 2 messages, 1 error
/// and 0.5 kWh per sample, a session per 10 samples.
fn metrics_of(values: &[u64], keep: impl Fn(usize) -> bool) -> Metrics {
    let mut m = Metrics::new();
    let boot = m.latency_id("mqtt.Boot");
    let msg = m.message_id("mqtt", "BootNotificationReq");
    let frame = m.message_id("can", "BCL");
    let err = m.error_id("mqtt.timeout");
    for (i, &v) in values.iter().enumerate().filter(|(i, _)| keep(*i)) {
        let intended = Instant::from_millis(i as u64);
        let sent = Instant::from_millis(i as u64 + v / 3);
        m.record_latency(boot, intended, sent, Instant::from_millis(i as u64 + v));
        m.count_message(msg);
        m.count_message(frame);
        m.count_error(err, Instant::from_millis(i as u64), &format!("sample {i}"));
        m.energy_wh += 500.0;
        if i % 10 == 0 {
            m.sessions.started += 1;
            m.transactions.started += 1;
            *m.transactions
                .lost_reasons
                .entry("offline".into())
                .or_default() += 1;
        }
    }
    m
}

fn samples() -> Vec<u64> {
    // A skewed distribution, so that percentiles of parts differ from the whole's.
    (0..3000u64).map(|i| 1 + (i * i * 7919) % 4000).collect()
}

fn shards(n: usize) -> Vec<Report> {
    let values = samples();
    (0..n)
        .map(|k| {
            let m = metrics_of(&values, |i| i % n == k);
            report_of(&m, &format!("{k}/{n}"), 10 + k as u64)
        })
        .collect()
}

#[test]
fn merged_shards_equal_the_whole_run() {
    let values = samples();
    let whole = report_of(&metrics_of(&values, |_| true), "0/1", 33);
    let merged = merge(&shards(3)).unwrap();
    assert_eq!(merged.connectors.total, 33);
    assert_eq!(merged.connectors.final_states["idle"], 33);
    assert_eq!(merged.sessions, whole.sessions);
    assert_eq!(merged.transactions, whole.transactions);
    assert_eq!(merged.messages, whole.messages);
    assert_eq!(merged.errors, whole.errors);
    assert!((merged.energy_kwh - whole.energy_kwh).abs() < 1e-9);
    // Histograms merge bucket for bucket: the percentiles are the whole run's exactly.
    assert_eq!(merged.latency_ms, whole.latency_ms);
    assert_eq!(
        merged.details.latency_uncorrected_ms,
        whole.details.latency_uncorrected_ms
    );
    assert!(merged.details.latency_uncorrected_approximate.is_empty());
    let h = decode_histogram(&merged.details.latency_histograms["mqtt.Boot"]).unwrap();
    assert_eq!(h.len(), 3000);
    let e = &merged.details.errors["mqtt.timeout"];
    assert_eq!((e.count, e.first_us, e.last_us), (3000, 0, 2_999_000));
    assert_eq!(e.last_text, "sample 2999");
    assert_eq!(merged.wall_s, 1.2, "the slowest shard's wall time");
    assert_eq!(merged.verdict, Verdict::Pass);
}

#[test]
fn averaging_percentiles_would_have_been_wrong() {
    // Guards the test above: the parts' p99s differ from the whole's, so equality there
    // can only come from merging histograms.
    let parts = shards(3);
    let whole = report_of(&metrics_of(&samples(), |_| true), "0/1", 33);
    let mean_p99 = parts
        .iter()
        .map(|r| r.latency_ms["mqtt.Boot"].p99)
        .sum::<f64>()
        / 3.0;
    assert_ne!(mean_p99, whole.latency_ms["mqtt.Boot"].p99);
}

#[test]
fn shard_order_not_input_order_decides_digest_and_layout() {
    let parts = shards(3);
    let reversed: Vec<Report> = parts.iter().rev().cloned().collect();
    let a = merge(&parts).unwrap();
    let b = merge(&reversed).unwrap();
    assert_eq!(a, b);
    let labels: Vec<&str> = a.details.shards.iter().map(|s| s.shard.as_str()).collect();
    assert_eq!(labels, ["0/3", "1/3", "2/3"]);
    assert_eq!(a.details.shards[1].digest, "digest-of-1/3");
    assert_eq!(
        a.assertions[2].name,
        "shard 2/3: physics.energy_conservation"
    );
    // The documented definition.
    let mut h = blake3::Hasher::new();
    h.update(
        b"chargestorm report merge v1\n0/3 digest-of-0/3\n1/3 digest-of-1/3\n2/3 digest-of-2/3\n",
    );
    assert_eq!(a.digest, h.finalize().to_hex().to_string());
    assert_eq!(a.details.rerun, "chargestorm run x --seed 1");
    assert_eq!(a.details.speed, "max");
}

#[test]
fn one_failed_shard_fails_the_merge() {
    let mut parts = shards(2);
    parts[1].assertions[0].passed = false;
    parts[1].decide();
    let merged = merge(&parts).unwrap();
    assert_eq!(merged.verdict, Verdict::Fail);
    // A shard whose verdict failed for a reason outside its assertions fails it too.
    let mut parts = shards(2);
    parts[0].verdict = Verdict::Fail;
    assert_eq!(merge(&parts).unwrap().verdict, Verdict::Fail);
}

#[test]
fn reports_of_different_runs_are_refused() {
    let mut parts = shards(2);
    parts[1].scenario = "y".into();
    assert!(matches!(
        merge(&parts),
        Err(MergeError::ScenarioMismatch { input: 1, .. })
    ));
    let mut parts = shards(2);
    parts[1].seed = 2;
    assert!(matches!(
        merge(&parts),
        Err(MergeError::SeedMismatch { input: 1, .. })
    ));
    let mut parts = shards(2);
    parts[0].simulated_s = 3600.0;
    assert!(matches!(
        merge(&parts),
        Err(MergeError::DurationMismatch { input: 1, .. })
    ));
    parts[1].simulated_s = f64::NAN;
    assert!(matches!(
        merge(&parts),
        Err(MergeError::DurationMismatch { .. })
    ));
    assert_eq!(merge(&[]), Err(MergeError::NoReports));
}

#[test]
fn the_set_of_shards_is_checked() {
    let parts = shards(3);
    let dup = vec![parts[0].clone(), parts[1].clone(), parts[1].clone()];
    assert!(matches!(
        merge(&dup),
        Err(MergeError::DuplicateShard {
            first: 1,
            second: 2,
            ..
        })
    ));
    let partial = vec![parts[0].clone(), parts[2].clone()];
    assert_eq!(
        merge(&partial),
        Err(MergeError::MissingShards {
            missing: vec![1],
            count: 3
        })
    );
    let merged = merge_with(
        &partial,
        MergeOptions {
            allow_partial: true,
        },
    )
    .unwrap();
    assert_eq!(merged.connectors.total, 22);
    let mut other_n = parts.clone();
    other_n[2].details.shard = "2/4".into();
    assert!(matches!(
        merge(&other_n),
        Err(MergeError::ShardCountMismatch {
            input: 2,
            expected: 3,
            found: 4
        })
    ));
    let mut bad = parts.clone();
    bad[1].details.shard = "3/3".into();
    assert!(matches!(
        merge(&bad),
        Err(MergeError::BadShardLabel { input: 1, .. })
    ));
    let mut unlabelled = parts.clone();
    unlabelled[1].details.shard.clear();
    unlabelled[1].details.rerun = "chargestorm run x".into();
    assert_eq!(
        merge(&unlabelled),
        Err(MergeError::UnlabelledShard { input: 1 })
    );
    let merged = merge(&parts).unwrap();
    assert!(matches!(
        merge(&[merged]),
        Err(MergeError::AlreadyMerged {
            input: 0,
            shards: 3
        })
    ));
}

#[test]
fn shards_are_found_in_the_rerun_command_or_else_kept_in_input_order() {
    let mut parts = shards(2);
    for p in &mut parts {
        p.details.shard.clear();
    }
    parts.swap(0, 1);
    let merged = merge(&parts).unwrap();
    assert_eq!(merged.details.shards[0].shard, "0/2");
    for p in &mut parts {
        p.details.rerun = "chargestorm run x".into();
    }
    let merged = merge(&parts).unwrap();
    assert_eq!(merged.details.shards[0].shard, "input 0");
    assert_eq!(merged.details.shards[0].digest, "digest-of-1/2");
}

#[test]
fn uncorrected_latency_without_histograms_is_an_upper_bound_marked_approximate() {
    let mut parts = shards(2);
    parts[0].details.latency_uncorrected_histograms.clear();
    let merged = merge(&parts).unwrap();
    assert_eq!(
        merged.details.latency_uncorrected_approximate,
        ["mqtt.Boot"]
    );
    let s = merged.details.latency_uncorrected_ms["mqtt.Boot"];
    let (a, b) = (
        parts[0].details.latency_uncorrected_ms["mqtt.Boot"],
        parts[1].details.latency_uncorrected_ms["mqtt.Boot"],
    );
    assert_eq!(s.count, a.count + b.count);
    assert_eq!(s.p99, a.p99.max(b.p99));
    assert_eq!(s.max, a.max.max(b.max));
    assert!(
        !merged
            .details
            .latency_uncorrected_histograms
            .contains_key("mqtt.Boot")
    );
    // Corrected latency still merged exactly.
    assert_eq!(merged.details.latency_histograms.len(), 1);
}

#[test]
fn corrected_latency_needs_its_histograms() {
    let mut parts = shards(2);
    parts[1].details.latency_histograms.clear();
    assert!(matches!(
        merge(&parts),
        Err(MergeError::MissingHistogram { input: 1, .. })
    ));
    let mut parts = shards(2);
    parts[0]
        .details
        .latency_histograms
        .insert("mqtt.Boot".into(), "not a histogram!".into());
    assert!(matches!(
        merge(&parts),
        Err(MergeError::Histogram { input: 0, .. })
    ));
}

#[test]
fn merged_report_round_trips_through_json_and_old_reports_still_parse() {
    let merged = merge(&shards(2)).unwrap();
    let json = serde_json::to_string(&merged).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, merged);
    // A report written before the merge fields existed.
    let mut v = serde_json::to_value(&shards(1)[0]).unwrap();
    let details = v["details"].as_object_mut().unwrap();
    for key in ["shard", "shards", "latency_uncorrected_histograms"] {
        details.remove(key);
    }
    let old: Report = serde_json::from_value(v).unwrap();
    assert!(old.details.shard.is_empty());
    // It still names its shard through the rerun command.
    assert_eq!(merge(&[old]).unwrap().details.shards[0].shard, "0/1");
}

#[test]
fn gbt_details_add_up() {
    let mut parts = shards(2);
    for (i, p) in parts.iter_mut().enumerate() {
        p.details.gbt = Some(GbtDetails {
            sessions: 3 + i as u64,
            furthest_phase: BTreeMap::from([("sending_statistics".to_owned(), 2)]),
            cem_sent: 1,
            bem_sent: i as u64,
        });
        p.details.scheduler_events = 100;
    }
    let merged = merge(&parts).unwrap();
    let gbt = merged.details.gbt.unwrap();
    assert_eq!((gbt.sessions, gbt.cem_sent, gbt.bem_sent), (7, 2, 1));
    assert_eq!(gbt.furthest_phase["sending_statistics"], 4);
    assert_eq!(merged.details.scheduler_events, 200);
}

#[test]
fn decode_histogram_names_what_is_wrong() {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    assert!(matches!(
        decode_histogram("@@@"),
        Err(HistogramError::Base64(_))
    ));
    assert_eq!(
        decode_histogram(&b64(&[0; 10])),
        Err(HistogramError::TooShort { len: 10 })
    );
    assert_eq!(
        decode_histogram(&b64(&[0; 40])),
        Err(HistogramError::Cookie { found: 0 })
    );
    let mut other = Histogram::<u64>::new_with_bounds(1, 1000, 2).unwrap();
    other.record(5).unwrap();
    assert_eq!(
        decode_histogram(&encode_histogram(&other).unwrap()),
        Err(HistogramError::Bounds {
            digits: 2,
            low: 1,
            high: 1000
        })
    );
    let mut h = crate::metrics::new_histogram();
    h.record(1234).unwrap();
    let text = encode_histogram(&h).unwrap();
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .unwrap();
    assert_eq!(decode_histogram(&text).unwrap(), h, "round trip");
    bytes.truncate(bytes.len() - 1);
    assert!(matches!(
        decode_histogram(&b64(&bytes)),
        Err(HistogramError::PayloadLength { .. })
    ));
}

proptest! {
    #[test]
    fn decoding_any_text_never_panics(text in ".{0,200}") {
        let _ = decode_histogram(&text);
    }

    #[test]
    fn decoding_any_bytes_after_a_valid_header_never_panics(
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        announced in any::<u32>(),
    ) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0x1c84_9313u32.to_be_bytes());
        bytes.extend_from_slice(&announced.to_be_bytes());
        bytes.extend_from_slice(&0u32.to_be_bytes());
        bytes.extend_from_slice(&3u32.to_be_bytes());
        bytes.extend_from_slice(&1u64.to_be_bytes());
        bytes.extend_from_slice(&crate::metrics::LATENCY_MAX_US.to_be_bytes());
        bytes.extend_from_slice(&1.0f64.to_be_bytes());
        bytes.extend_from_slice(&payload);
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let _ = decode_histogram(&text);
    }
}
