//! The T/CEC 102.1 §8 performance indicators as report assertions.
//!
//! - Public information exchange (102.2 and the DB4403 data interfaces): average response
//!   time of the platform interfaces ≤ 20 s; data correctness > 99.99 %.
//! - Business information exchange (102.3 roaming interfaces): average response time ≤ 3 s;
//!   data correctness 99.99 %.
//!
//! Response time is taken from the latency series (`{prefix}.{interface}`, measured from the
//! intended send time) of every interface that has samples; correctness from the reference
//! platform's [`CorrectnessReport`].

use crate::metrics::Metrics;
use crate::report::Assertion;
use crate::tcec::platform::CorrectnessReport;
use proto::tcec::{Dialect, Interface};

/// Average response time limit of public information interfaces, ms (T/CEC 102.1 §8.1).
pub const PUBLIC_AVG_MS_MAX: f64 = 20_000.0;
/// Average response time limit of business interfaces, ms (T/CEC 102.1 §8.2).
pub const BUSINESS_AVG_MS_MAX: f64 = 3_000.0;
/// Smallest acceptable data correctness (T/CEC 102.1 §8: > 99.99 %).
pub const CORRECTNESS_MIN: f64 = 0.9999;

/// Whether an interface belongs to the T/CEC 102.3 business flow.
pub fn is_business(interface: Interface) -> bool {
    use Interface as I;
    interface.in_dialect(Dialect::Tcec)
        && matches!(
            interface,
            I::QueryEquipAuth
                | I::QueryEquipBusinessPolicy
                | I::QueryStartCharge
                | I::QueryStartChargeWithCar
                | I::NotificationStartChargeResult
                | I::QueryEquipChargeStatus
                | I::NotificationEquipChargeStatus
                | I::QueryStopCharge
                | I::NotificationStopChargeResult
                | I::NotificationChargeOrderInfo
                | I::CheckChargeOrders
        )
}

/// One assertion per latency series of a T/CEC/DB4403 interface, plus data correctness.
pub fn assertions(metrics: &Metrics, correctness: Option<&CorrectnessReport>) -> Vec<Assertion> {
    let mut out = Vec::new();
    for (name, series) in metrics.latency_series() {
        let Some(interface) = name.rsplit('.').next().and_then(Interface::from_name) else {
            continue;
        };
        let (limit, kind) = if is_business(interface) {
            (BUSINESS_AVG_MS_MAX, "business")
        } else {
            (PUBLIC_AVG_MS_MAX, "public")
        };
        let mean_ms = series.corrected_us.mean() / 1000.0;
        out.push(Assertion {
            name: format!("tcec.response_time.{name}"),
            passed: mean_ms <= limit,
            detail: format!(
                "average {mean_ms:.1} ms over {} requests (T/CEC 102.1 §8 {kind} limit {limit} ms)",
                series.corrected_us.len()
            ),
        });
    }
    if let Some(c) = correctness {
        let ratio = c.ratio();
        out.push(Assertion {
            name: "tcec.data_correctness".to_owned(),
            passed: ratio >= CORRECTNESS_MIN,
            detail: format!(
                "{} of {} checks correct ({:.4} %, required ≥ {:.2} %); first mismatches: {:?}",
                c.correct,
                c.checked,
                ratio * 100.0,
                CORRECTNESS_MIN * 100.0,
                c.mismatches.iter().take(3).collect::<Vec<_>>()
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    #[test]
    fn limits_follow_the_interface_kind() {
        let mut m = Metrics::new();
        let slow_public = m.latency_id("http.notification_stationStatus");
        let slow_business = m.latency_id("emsp.query_start_charge");
        m.record_latency(
            slow_public,
            Instant::ZERO,
            Instant::ZERO,
            Instant::from_secs(5),
        );
        m.record_latency(
            slow_business,
            Instant::ZERO,
            Instant::ZERO,
            Instant::from_secs(5),
        );
        let report = CorrectnessReport {
            checked: 10_000,
            correct: 9_999,
            pending: 0,
            mismatches: vec![],
        };
        let a = assertions(&m, Some(&report));
        let by = |n: &str| a.iter().find(|x| x.name.ends_with(n)).unwrap().passed;
        assert!(by("notification_stationStatus"), "5 s is within 20 s");
        assert!(!by("query_start_charge"), "5 s exceeds 3 s");
        assert!(by("data_correctness"));
        let bad = CorrectnessReport {
            correct: 9_998,
            ..report
        };
        assert!(!assertions(&m, Some(&bad)).last().unwrap().passed);
        assert!(is_business(Interface::CheckChargeOrders));
        assert!(!is_business(Interface::QueryStationsInfo));
    }
}
