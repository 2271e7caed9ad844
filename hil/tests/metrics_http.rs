//! The Prometheus endpoint over real HTTP, its body checked by `promtool check metrics`
//! (Debian package `prometheus`; scripts/test installs it).

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use hil::metrics_http::{MetricsEndpoint, MetricsHttpError, MetricsSnapshot, RunLabels};
use profiles::Library;
use sim_core::fleet::{Shard, World, WorldConfig};
use sim_core::metrics::{Metrics, new_histogram};
use sim_core::time::{Duration, Instant};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

/// `GET path` with `Connection: close`; returns (status line, headers, body).
fn get(addr: SocketAddr, path: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(addr).expect("the endpoint accepts connections");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_owned(), headers.to_lowercase(), body.to_owned())
}

/// Runs `promtool check metrics` on `body`; panics naming promtool if it is missing.
fn promtool_check(body: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed to check the exposition (Debian package `prometheus`; \
                 scripts/test installs it): {e}"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn labels() -> RunLabels {
    RunLabels {
        scenario: "ci-smoke".into(),
        seed: 20261121,
        shard: "1/3".into(),
    }
}

/// Metrics with two latency series, messages of two protocols, and an error kind whose
/// name needs escaping.
fn busy_metrics() -> Metrics {
    let mut m = Metrics::new();
    let boot = m.latency_id("mqtt.BootNotification");
    let status = m.latency_id("http.notification_stationStatus");
    let bcl = m.message_id("can", "BCL");
    let req = m.message_id("mqtt", "BootNotificationReq");
    let err = m.error_id("mqtt.charger.\"odd\" kind\\");
    for i in 0..500u64 {
        let intended = Instant::from_millis(i * 10);
        m.record_latency(
            boot,
            intended,
            intended + Duration::from_millis(i % 7),
            intended + Duration::from_millis(3 + i % 200),
        );
        m.record_latency(
            status,
            intended,
            intended,
            intended + Duration::from_micros(800 + i * 37),
        );
        m.count_message(bcl);
        m.count_message(req);
    }
    m.count_error(err, Instant::ZERO, "x");
    m.sessions.started = 12;
    m.sessions.completed = 9;
    m.transactions.started = 12;
    m.transactions.open = 3;
    m.transactions.lost = 1;
    m.transactions
        .lost_reasons
        .insert("offline_expired".into(), 1);
    m
}

#[test]
fn a_scrape_passes_promtool_and_carries_the_snapshot() {
    let endpoint = MetricsEndpoint::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut lag = new_histogram();
    for us in [50, 120, 900, 4_000, 30_000] {
        lag.record(us).unwrap();
    }
    let m = busy_metrics();
    let snapshot = hil::metrics_http::snapshot_from_metrics(
        &m,
        &[0, 5, 1, 3, 1, 0],
        42.5,
        3600.0,
        Some(&lag),
        &labels(),
    );
    endpoint.publish(snapshot);
    let (status, headers, body) = get(endpoint.local_addr(), "/metrics");
    assert!(status.contains("200"), "{status}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{headers}"
    );
    let (ok, text) = promtool_check(&body);
    assert!(
        ok,
        "promtool check metrics failed:\n{text}\n--- body ---\n{body}"
    );
    for line in [
        "chargestorm_messages_total{protocol=\"can\",type=\"BCL\"} 500",
        "chargestorm_errors_total{kind=\"mqtt.charger.\\\"odd\\\" kind\\\\\"} 1",
        "chargestorm_sessions_total{outcome=\"completed\"} 9",
        "chargestorm_transactions_total{state=\"lost\"} 1",
        "chargestorm_transactions_open 3",
        "chargestorm_connectors{state=\"charging\"} 3",
        "chargestorm_energy_kwh_total 42.5",
        "chargestorm_simulated_seconds 3600",
        "chargestorm_scheduler_lag_seconds_bucket{le=\"0.0001\"} 1",
        "chargestorm_scheduler_lag_seconds_bucket{le=\"0.005\"} 4",
        "chargestorm_scheduler_lag_seconds_count 5",
        "chargestorm_latency_seconds_bucket{type=\"mqtt.BootNotification\",le=\"+Inf\"} 500",
        "chargestorm_latency_seconds_count{type=\"http.notification_stationStatus\"} 500",
        "chargestorm_service_time_seconds_count{type=\"mqtt.BootNotification\"} 500",
        "chargestorm_run_info{scenario=\"ci-smoke\",seed=\"20261121\",shard=\"1/3\"} 1",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }
}

#[test]
fn promtool_rejects_a_broken_exposition() {
    // Guards the test above: a checker that accepted anything would prove nothing.
    let broken = "# TYPE chargestorm_x counter\nchargestorm_x 1\n";
    let (ok, text) = promtool_check(broken);
    assert!(!ok, "a counter without _total passed promtool: {text}");
}

#[test]
fn a_running_world_publishes_a_valid_snapshot() {
    let lib = Library::bundled().unwrap();
    let scenario = lib.load_scenario("ci-smoke").unwrap();
    let mut world = World::new(
        &scenario,
        WorldConfig {
            seed: 7,
            duration: None,
            trace_level: None,
            shard: Shard::WHOLE,
            sample_interval: None,
            http_external: false,
        },
    )
    .unwrap();
    world.run_until(Instant::from_secs(1800));
    let endpoint = MetricsEndpoint::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let snapshot = MetricsSnapshot::from_world(&world, &labels(), None);
    let connectors: u64 = snapshot.connectors.values().sum();
    endpoint.publish(snapshot);
    let (_, _, body) = get(endpoint.local_addr(), "/metrics");
    let (ok, text) = promtool_check(&body);
    assert!(
        ok,
        "promtool check metrics failed:\n{text}\n--- body ---\n{body}"
    );
    assert_eq!(connectors, 10, "ci-smoke has 10 connectors");
    assert!(
        body.contains("chargestorm_simulated_seconds 1800\n"),
        "{body}"
    );
    assert!(
        body.contains("chargestorm_messages_total{protocol=\"can\""),
        "{body}"
    );
    let started = world.metrics().sessions.started;
    assert!(started > 0);
    assert!(
        body.contains(&format!(
            "chargestorm_sessions_total{{outcome=\"started\"}} {started}\n"
        )),
        "{body}"
    );
}

#[test]
fn scrapes_see_the_newest_snapshot_and_unknown_paths_are_404() {
    let endpoint = MetricsEndpoint::start("127.0.0.1:0".parse().unwrap()).unwrap();
    // Before any publish: an empty but valid exposition.
    let (status, _, body) = get(endpoint.local_addr(), "/metrics");
    assert!(status.contains("200"), "{status}");
    assert!(promtool_check(&body).0, "{body}");
    assert!(body.contains("chargestorm_simulated_seconds 0\n"));
    let publisher = endpoint.publisher();
    let mut s = MetricsSnapshot {
        run: labels(),
        simulated_s: 10.0,
        ..Default::default()
    };
    endpoint.publish(s.clone());
    s.simulated_s = 20.0;
    publisher.send_replace(std::sync::Arc::new(s));
    let (_, _, body) = get(endpoint.local_addr(), "/metrics");
    assert!(
        body.contains("chargestorm_simulated_seconds 20\n"),
        "{body}"
    );
    let (status, _, _) = get(endpoint.local_addr(), "/nope");
    assert!(status.contains("404"), "{status}");
}

#[test]
fn a_port_in_use_is_an_error_at_start_and_drop_frees_it() {
    let first = MetricsEndpoint::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = first.local_addr();
    match MetricsEndpoint::start(addr) {
        Err(MetricsHttpError::Bind { addr: a, .. }) => assert_eq!(a, addr),
        other => panic!("expected a bind error, got {other:?}"),
    }
    drop(first);
    // The thread has been joined and the listener closed: the port can be bound again.
    let again = MetricsEndpoint::start(addr).unwrap();
    assert_eq!(again.local_addr(), addr);
}
