//! `chargestorm demo` headless, in real time for a fixed short duration: the embedded
//! broker, the reference backend and the reference monitoring platform over real sockets
//! produce a passing report with sessions, energy and latency samples of both MQTT and
//! HTTP; `--metrics-listen` serves the running metrics meanwhile.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

fn tempdir(name: &str) -> Scratch {
    Scratch::new(&format!("chargestorm-{name}"))
}

/// `GET /metrics` from `addr`, the whole response.
fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("the metrics endpoint accepts");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read timeout can be set");
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn headless_demo_passes_with_sessions_energy_and_mqtt_and_http_latency() {
    let dir = tempdir("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chargestorm"))
        .args([
            "demo",
            "--headless",
            "--duration",
            "20s",
            "--seed",
            "7",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the chargestorm binary runs");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("chargestorm: metrics on http://") {
                let _ = tx.send(rest.trim_end_matches("/metrics").to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the metrics address is printed at start");
    #[expect(clippy::disallowed_methods, reason = "the test waits for the run")]
    std::thread::sleep(Duration::from_secs(10));
    let metrics = scrape(&addr);
    assert!(metrics.contains("200 OK"), "{metrics}");
    assert!(metrics.contains("chargestorm_run_info{scenario=\"demo\",seed=\"7\",shard=\"0/1\"} 1"));
    assert!(metrics.contains("protocol=\"mqtt\""), "{metrics}");
    assert!(
        metrics.contains("protocol=\"http\""),
        "live HTTP counts: {metrics}"
    );
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert!(status.success(), "{status:?}\n{stdout}\n{stderr}");
    assert!(stdout.contains("verdict    Pass"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("chargestorm-report.json"))
            .expect("the report is written to the working directory by default"),
    )
    .unwrap();
    assert_eq!(report["verdict"], "pass", "{report:#}");
    assert_eq!(report["details"]["shard"], "0/1");
    assert!(
        report["sessions"]["started"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert!(report["energy_kwh"].as_f64().unwrap() > 0.0, "{report:#}");
    let latency = report["latency_ms"].as_object().unwrap();
    for protocol in ["mqtt.", "http."] {
        let samples: u64 = latency
            .iter()
            .filter(|(k, _)| k.starts_with(protocol))
            .map(|(_, v)| v["count"].as_u64().unwrap())
            .sum();
        assert!(samples > 0, "no {protocol} latency samples: {latency:#?}");
    }
    let simulated = report["simulated_s"].as_f64().unwrap();
    assert!((simulated - 20.0).abs() < 0.5, "{simulated}");
}
