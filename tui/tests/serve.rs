//! `chargestorm backend` and `chargestorm platform` on their own: the backend serves a run
//! started with `--backend external` (its scenario names the reference backend), through a
//! broker both connect to; the platform answers T/CEC requests on its address. Both stop at `--duration` with exit 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

fn tempdir(name: &str) -> Scratch {
    Scratch::new(&format!("chargestorm-{name}"))
}

/// Starts the binary with `args` in `dir`; stderr lines arrive on the receiver.
fn spawn(args: &[&str], dir: &Path) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chargestorm"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the chargestorm binary runs");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits for a stderr line containing `text`; returns it.
fn line_with(rx: &Receiver<String>, text: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no stderr line with {text:?} within 30 s"));
        if line.contains(text) {
            return line;
        }
    }
}

fn finish(mut child: Child) -> (std::process::ExitStatus, String) {
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut out)
        .expect("stdout is text");
    (child.wait().expect("the process ends"), out)
}

#[test]
fn the_backend_command_serves_chargers_of_another_process() {
    let dir = tempdir("backend");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let broker = {
        let _guard = rt.enter();
        hil::mqtt::EmbeddedBroker::start().unwrap()
    };
    let url = broker.url();
    let url = format!("mqtt://{}:{}", url.host, url.port);
    std::fs::write(
        dir.join("external.toml"),
        r#"
[scenario]
name = "external-backend"
seed = 99
duration = "2h"
[fleet]
use = "small-mixed"
[traffic]
initial_occupancy = 1.0
[mqtt]
enabled = true
"#,
    )
    .unwrap();
    let (backend, backend_err) = spawn(
        &[
            "backend",
            "--broker",
            &url,
            "--scenario",
            "external.toml",
            "--duration",
            "25s",
        ],
        &dir,
    );
    line_with(&backend_err, "reference backend on");
    let run = Command::new(env!("CARGO_BIN_EXE_chargestorm"))
        .args([
            "run",
            "external.toml",
            "--broker",
            &url,
            "--speed",
            "realtime",
            "--duration",
            "15s",
            "--backend",
            "external",
            "--headless",
            "--report",
            "r.json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let (status, out) = finish(backend);
    assert!(status.success(), "{status:?} {out}");
    let received: u64 = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {out:?}"));
    assert!(received > 0, "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let boot = &report["latency_ms"]["mqtt.BootNotificationReq"]["count"];
    assert!(boot.as_u64().unwrap() > 0, "{report:#}");
    // `--backend external` overrode the scenario's reference backend: the run hosted none
    // (its ledger check is made only against a backend in the process).
    let assertions = report["assertions"].as_array().unwrap();
    assert!(
        !assertions
            .iter()
            .any(|a| a["name"] == "mqtt.transactions_booked_once"),
        "{report:#}"
    );
}

#[test]
fn the_platform_command_answers_on_its_address_and_stops() {
    let dir = tempdir("platform");
    let (platform, err) = spawn(
        &[
            "platform",
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            "ci-smoke",
            "--duration",
            "4s",
        ],
        &dir,
    );
    let line = line_with(&err, "monitoring platform on http://");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = "{}";
    write!(
        s,
        "POST /shevcs/v1.0/query_token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    let (status, out) = finish(platform);
    assert!(status.success(), "{status:?} {out}");
    assert!(out.contains("messages handled"), "{out}");
}
