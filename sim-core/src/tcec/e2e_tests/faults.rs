//! Tokens, faults, retries and gap re-collection.

use super::{charging, harness_with, plugged};
use crate::tcec::demo;
use crate::tcec::harness::HarnessConfig;
use crate::tcec::platform::{PlatformFaults, PollSchedule};
use crate::time::Duration;

fn errors_matching(h: &crate::tcec::harness::Harness, needle: &str) -> u64 {
    h.metrics
        .errors()
        .iter()
        .filter(|(k, _)| k.contains(needle))
        .map(|(_, v)| v.count)
        .sum()
}

#[test]
fn tokens_are_renewed_before_they_expire() {
    let mut h = harness_with(HarnessConfig {
        token_lifetime: Duration::from_secs(100),
        ..HarnessConfig::default()
    });
    let c = h.connectors()[0];
    h.set_connector(c, &charging(100.0, 20.0, 0.0));
    h.operator
        .bms_sample(h.now(), c, demo::bms_sample(20, 100.0, 400.0));
    h.run_for(Duration::from_secs(500));
    assert!(
        h.platform.counts().tokens_issued >= 5,
        "{:?}",
        h.platform.counts()
    );
    assert_eq!(
        errors_matching(&h, "ret_4002"),
        0,
        "renewed in time: never rejected"
    );
    assert_eq!(h.operator.stats().pushes_failed, 0);
}

#[test]
fn a_4002_triggers_one_reauthentication_and_a_retry() {
    let faults = PlatformFaults {
        expire_tokens_after: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    let mut h = harness_with(HarnessConfig {
        faults,
        ..HarnessConfig::default()
    });
    let c = h.connectors()[0];
    h.run_for(Duration::from_secs(10));
    h.set_connector(c, &charging(100.0, 20.0, 0.0));
    h.run_for(Duration::from_secs(20));
    assert!(errors_matching(&h, "ret_4002") >= 1);
    assert_eq!(h.operator.stats().pushes_failed, 0);
    assert!(h.platform.counts().tokens_issued >= 2);
    assert_eq!(h.platform.correctness().correct, 1);
}

#[test]
fn busy_and_500_answers_are_retried_with_backoff() {
    let faults = PlatformFaults {
        busy_ratio: 0.3,
        error_500_ratio: 0.2,
        ..Default::default()
    };
    let mut h = harness_with(HarnessConfig {
        faults,
        stations: 4,
        ..HarnessConfig::default()
    });
    h.run_for(Duration::from_secs(120));
    for c in h.connectors() {
        h.set_connector(c, &plugged());
    }
    h.run_for(Duration::from_secs(120));
    assert!(errors_matching(&h, "ret_-1") > 0);
    assert!(errors_matching(&h, "http_500") > 0);
    let report = h.platform.correctness();
    assert_eq!(report.checked, 16);
    // A push that fails five times in a row is given up (0.5^5 ≈ 3 %): correctness shows it.
    assert_eq!(report.correct + report.mismatches.len() as u64, 16);
    assert_eq!(
        h.operator.stats().pushes_failed,
        report.mismatches.len() as u64
    );
}

#[test]
fn wrong_response_signatures_are_not_trusted() {
    let faults = PlatformFaults {
        wrong_signature_ratio: 0.5,
        ..Default::default()
    };
    let mut h = harness_with(HarnessConfig {
        faults,
        stations: 4,
        ..HarnessConfig::default()
    });
    h.run_for(Duration::from_secs(60));
    for c in h.connectors() {
        h.set_connector(c, &plugged());
    }
    h.run_for(Duration::from_secs(120));
    assert!(errors_matching(&h, "bad_response") > 0);
    // Corrupted answers are retried: the pushes were stored (some twice).
    assert!(h.platform.counts().station_info >= 4);
    assert!(h.platform.counts().station_status >= 16);
}

#[test]
fn slow_responses_time_out_and_are_retried() {
    let faults = PlatformFaults {
        response_delay: Duration::from_secs(8),
        response_jitter: Duration::from_secs(4),
        ..Default::default()
    };
    let mut h = harness_with(HarnessConfig {
        faults,
        ..HarnessConfig::default()
    });
    h.run_for(Duration::from_secs(300));
    assert!(
        errors_matching(&h, "timeout") > 0,
        "{:?}",
        h.metrics.errors().keys().collect::<Vec<_>>()
    );
    let (_, series) = h
        .metrics
        .latency_series()
        .find(|(n, _)| n.ends_with("notification_stationInfo"))
        .unwrap();
    assert!(series.corrected_us.min() >= 8_000_000);
}

#[test]
fn missing_bms_pushes_are_recollected_after_the_session() {
    let polls = PollSchedule {
        supplement_gaps: true,
        ..PollSchedule::NONE
    };
    let mut h = harness_with(HarnessConfig {
        polls,
        ..HarnessConfig::default()
    });
    let c = h.connectors()[0];
    h.set_connector(c, &charging(100.0, 20.0, 0.0));
    h.operator
        .bms_sample(h.now(), c, demo::bms_sample(20, 100.0, 400.0));
    h.run_for(Duration::from_secs(130));
    // The platform refuses everything for a while: BMS pushes are given up.
    h.platform.set_faults(PlatformFaults {
        busy_ratio: 1.0,
        ..Default::default()
    });
    h.run_for(Duration::from_secs(300));
    h.platform.set_faults(PlatformFaults::default());
    h.run_for(Duration::from_secs(200));
    h.set_connector(c, &plugged());
    h.run_for(Duration::from_secs(30));
    let counts = h.platform.counts();
    assert!(h.operator.stats().pushes_failed > 0);
    assert!(counts.supplemented > 0, "{counts:?}");
    assert!(counts.supplemented + counts.bms >= 10, "{counts:?}");
}
