//! Rendering a [`MetricsSnapshot`] in the Prometheus text exposition format 0.0.4.
//!
//! Names follow the Prometheus conventions: a `chargestorm_` prefix, snake case, base
//! units in the name (`_seconds`), `_total` on counters and only on counters, one
//! `# HELP` and `# TYPE` per family, and label values escaped (`\\`, `\"`, `\n`).
//! Energy stays in kWh (`chargestorm_energy_kwh_total`), the unit every meter and
//! billing system in this domain uses, rather than joules.

use super::snapshot::{BucketHistogram, MetricsSnapshot};
use std::fmt::Write as _;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `s` as a complete exposition (families separated, trailing newline).
pub fn render(s: &MetricsSnapshot) -> String {
    let mut out = String::with_capacity(4096);
    let run = &s.run;
    family(
        &mut out,
        "chargestorm_run_info",
        "gauge",
        "The run this process simulates; always 1.",
    );
    let seed = run.seed.to_string();
    sample(
        &mut out,
        "chargestorm_run_info",
        &[
            ("scenario", &run.scenario),
            ("seed", &seed),
            ("shard", &run.shard),
        ],
        1.0,
    );
    render_counts(&mut out, s);
    render_gauges(&mut out, s);
    if let Some(lag) = &s.scheduler_lag {
        family(
            &mut out,
            "chargestorm_scheduler_lag_seconds",
            "histogram",
            "How late the pacing driver processed scheduler deadlines (real-time speeds).",
        );
        histogram(&mut out, "chargestorm_scheduler_lag_seconds", &[], lag);
    }
    for (name, help, series) in [
        (
            "chargestorm_latency_seconds",
            "Request/response latency from the intended send time (corrected for coordinated omission), by message type.",
            &s.latency,
        ),
        (
            "chargestorm_service_time_seconds",
            "Request/response latency from the actual send time (service time), by message type.",
            &s.service_time,
        ),
    ] {
        if series.is_empty() {
            continue;
        }
        family(&mut out, name, "histogram", help);
        for (message_type, h) in series {
            histogram(&mut out, name, &[("type", message_type)], h);
        }
    }
    out
}

/// The counters.
fn render_counts(out: &mut String, s: &MetricsSnapshot) {
    if !s.messages.is_empty() {
        let name = "chargestorm_messages_total";
        family(
            out,
            name,
            "counter",
            "Protocol messages, by protocol and message type.",
        );
        for ((protocol, message_type), n) in &s.messages {
            let labels = [
                ("protocol", protocol.as_str()),
                ("type", message_type.as_str()),
            ];
            sample(out, name, &labels, *n as f64);
        }
    }
    if !s.errors.is_empty() {
        let name = "chargestorm_errors_total";
        family(out, name, "counter", "Errors, by kind.");
        for (kind, n) in &s.errors {
            sample(out, name, &[("kind", kind)], *n as f64);
        }
    }
    let name = "chargestorm_sessions_total";
    family(
        out,
        name,
        "counter",
        "Charging sessions, by outcome (started, completed, failed).",
    );
    let sessions = &s.sessions;
    for (outcome, n) in [
        ("started", sessions.started),
        ("completed", sessions.completed),
        ("failed", sessions.failed),
    ] {
        sample(out, name, &[("outcome", outcome)], n as f64);
    }
    let name = "chargestorm_transactions_total";
    family(
        out,
        name,
        "counter",
        "Backend transactions, by state (started, confirmed, lost).",
    );
    let t = &s.transactions;
    for (state, n) in [
        ("started", t.started),
        ("confirmed", t.confirmed),
        ("lost", t.lost),
    ] {
        sample(out, name, &[("state", state)], n as f64);
    }
    if !t.lost_reasons.is_empty() {
        let name = "chargestorm_transactions_lost_total";
        family(
            out,
            name,
            "counter",
            "Transactions that will never be confirmed, by reason.",
        );
        for (reason, n) in &t.lost_reasons {
            sample(out, name, &[("reason", reason)], *n as f64);
        }
    }
    for (name, help, n) in [
        (
            "chargestorm_late_sends_total",
            "Sends that left later than intended.",
            s.late_sends,
        ),
        (
            "chargestorm_dropped_sends_total",
            "Sends an overloaded generator skipped.",
            s.dropped_sends,
        ),
    ] {
        family(out, name, "counter", help);
        sample(out, name, &[], n as f64);
    }
    let name = "chargestorm_energy_kwh_total";
    family(
        out,
        name,
        "counter",
        "Energy delivered by all meters, kWh (sessions in progress included).",
    );
    sample(out, name, &[], s.energy_kwh);
}

/// The gauges.
fn render_gauges(out: &mut String, s: &MetricsSnapshot) {
    let name = "chargestorm_connectors";
    family(out, name, "gauge", "Connectors, by state.");
    for (state, n) in &s.connectors {
        sample(out, name, &[("state", state)], *n as f64);
    }
    let name = "chargestorm_transactions_open";
    family(out, name, "gauge", "Transactions running or unconfirmed.");
    sample(out, name, &[], s.transactions.open as f64);
    let name = "chargestorm_simulated_seconds";
    family(
        out,
        name,
        "gauge",
        "Virtual time the simulation has reached, seconds since its start.",
    );
    sample(out, name, &[], s.simulated_s);
}

/// `# HELP` and `# TYPE` lines of one family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample line.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    write_labels(out, labels);
    out.push(' ');
    out.push_str(&format_value(value));
    out.push('\n');
}

/// The `_bucket`, `_sum` and `_count` lines of one histogram.
fn histogram(out: &mut String, name: &str, labels: &[(&str, &str)], h: &BucketHistogram) {
    let bucket = format!("{name}_bucket");
    for (le, n) in &h.buckets {
        let le = format_value(*le);
        let mut with_le = labels.to_vec();
        with_le.push(("le", &le));
        sample(out, &bucket, &with_le, *n as f64);
    }
    let mut with_inf = labels.to_vec();
    with_inf.push(("le", "+Inf"));
    sample(out, &bucket, &with_inf, h.count as f64);
    sample(out, &format!("{name}_sum"), labels, h.sum_s);
    sample(out, &format!("{name}_count"), labels, h.count as f64);
}

fn write_labels(out: &mut String, labels: &[(&str, &str)]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (key, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

/// A sample value as Prometheus parses it: `+Inf`, `-Inf`, `NaN`, or a decimal (Rust's
/// shortest round-trip form, which never uses an exponent).
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics_http::snapshot::RunLabels;
    use std::collections::BTreeMap;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("kind", "a\"b\\c\nd")], 2.0);
        assert_eq!(out, "m{kind=\"a\\\"b\\\\c\\nd\"} 2\n");
        let mut out = String::new();
        family(&mut out, "m", "counter", "x\\y\nz");
        assert_eq!(out, "# HELP m x\\\\y\\nz\n# TYPE m counter\n");
    }

    #[test]
    fn values_print_as_prometheus_parses_them() {
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(0.0025), "0.0025");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(3.0), "3");
    }

    #[test]
    fn a_histogram_ends_with_inf_sum_and_count() {
        let s = MetricsSnapshot {
            run: RunLabels {
                scenario: "ci-smoke".into(),
                seed: 1,
                shard: "0/1".into(),
            },
            latency: BTreeMap::from([(
                "mqtt.Boot".to_owned(),
                BucketHistogram {
                    buckets: vec![(0.001, 1), (0.01, 3)],
                    count: 4,
                    sum_s: 0.5,
                },
            )]),
            ..Default::default()
        };
        let text = render(&s);
        let expected = "# TYPE chargestorm_latency_seconds histogram\n\
            chargestorm_latency_seconds_bucket{type=\"mqtt.Boot\",le=\"0.001\"} 1\n\
            chargestorm_latency_seconds_bucket{type=\"mqtt.Boot\",le=\"0.01\"} 3\n\
            chargestorm_latency_seconds_bucket{type=\"mqtt.Boot\",le=\"+Inf\"} 4\n\
            chargestorm_latency_seconds_sum{type=\"mqtt.Boot\"} 0.5\n\
            chargestorm_latency_seconds_count{type=\"mqtt.Boot\"} 4\n";
        assert!(text.contains(expected), "{text}");
        assert!(
            text.contains(
                "chargestorm_run_info{scenario=\"ci-smoke\",seed=\"1\",shard=\"0/1\"} 1\n"
            )
        );
        assert!(!text.contains("chargestorm_scheduler_lag_seconds"));
        assert!(text.ends_with('\n'));
    }
}
