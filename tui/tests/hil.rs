//! `chargestorm hil` with the real binary: a GB/T session across two processes over a
//! socketcand endpoint served by one of them, bench signals in the trace, and a missing
//! CAN interface reported by name.

// Helpers shared by the tests panic like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_chargestorm")
}

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

fn temp_dir(tag: &str) -> Scratch {
    Scratch::new(&format!("cs-hil-{tag}"))
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn trace_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn phases(run: &serde_json::Value) -> Vec<String> {
    run["report"]["phases_reached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

/// Kills a child process if the test fails before it ends.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

#[test]
fn a_full_session_across_two_processes_over_socketcand() {
    let dir = temp_dir("xproc");
    let charger_bench = dir.join("charger.toml");
    std::fs::write(
        &charger_bench,
        r#"
name = "charger-side"
[[connectors]]
name = "gun1"
can = { endpoint = "socketcand:127.0.0.1:0", role = "charger", listen = true, bus = "can0" }
session = { stop_after_charging_s = 2.0 }
"#,
    )
    .unwrap();
    let (charger_report, charger_trace) = (dir.join("charger.json"), dir.join("charger.jsonl"));
    let mut charger = Reap(
        Command::new(exe())
            .arg("hil")
            .arg(&charger_bench)
            .args(["--duration", "60s", "--insulation-check", "1s", "--report"])
            .arg(&charger_report)
            .arg("--trace")
            .arg(&charger_trace)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The charger process says where its socketcand server listens.
    let mut lines = BufReader::new(charger.0.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the charger printed its address")
            .unwrap();
        if let Some(rest) = line.split(" on ").nth(1)
            && line.contains("serves socketcand bus can0")
        {
            break rest.trim().to_owned();
        }
    };
    let bms_bench = dir.join("bms.toml");
    std::fs::write(
        &bms_bench,
        format!(
            r#"
name = "bms-side"
[[connectors]]
name = "ev1"
can = {{ endpoint = "socketcand:{addr}", role = "bms", bus = "can0" }}
session = {{ vehicle = "lfp-car-60kwh" }}
"#
        ),
    )
    .unwrap();
    let bms_report = dir.join("bms.json");
    let bms = Command::new(exe())
        .arg("hil")
        .arg(&bms_bench)
        .args(["--duration", "60s", "--report"])
        .arg(&bms_report)
        .output()
        .unwrap();
    // Drain the charger's stdout so it never blocks on a full pipe.
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = charger.0.wait().unwrap();
    let bms_out = String::from_utf8_lossy(&bms.stdout);
    assert!(
        bms.status.success(),
        "BMS process: {bms_out}\n{}",
        String::from_utf8_lossy(&bms.stderr)
    );
    assert!(status.success(), "charger process: {}", rest.join("\n"));

    let c = read_json(&charger_report);
    let b = read_json(&bms_report);
    let crun = &c["connectors"][0]["runs"][0];
    let brun = &b["connectors"][0]["runs"][0];
    assert_eq!(crun["report"]["role"], "charger");
    assert_eq!(brun["report"]["role"], "bms");
    assert_eq!(crun["report"]["completed"], true, "{crun}");
    assert_eq!(brun["report"]["completed"], true, "{brun}");
    let (cp, bp) = (phases(crun), phases(brun));
    // Handshake → charging → end statistics on both sides.
    for want in [
        "ExpectBhm",
        "ExpectBrm",
        "Charging",
        "SendingStatistics",
        "Ended",
    ] {
        assert!(cp.iter().any(|p| p == want), "charger lacks {want}: {cp:?}");
    }
    for want in ["ExpectCrm", "ExpectCml", "Charging", "ExpectCsd", "Ended"] {
        assert!(bp.iter().any(|p| p == want), "BMS lacks {want}: {bp:?}");
    }
    assert_eq!(crun["report"]["stop_cause"], "Manual");
    // Each side measured the other's periodic messages across the TCP hop.
    for (run, code) in [(brun, "CCS"), (crun, "BCL"), (brun, "CHM"), (crun, "BHM")] {
        let row = run["periods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["code"] == code && r["direction"] == "rx")
            .unwrap_or_else(|| panic!("{code} not measured: {run}"));
        assert_eq!(row["within_tolerance"], true, "{row}");
    }
    assert_eq!(crun["periods_within_tolerance"], true);
    // The BMS's meter measured what the charger's CCS reported.
    assert!(
        brun["report"]["meter_energy_wh"].as_f64().unwrap() > 1.0,
        "{brun}"
    );
    // The charger's trace walks CC1 through 6 V → 4 V → 6 V → 12 V.
    let cc1: Vec<f64> = trace_events(&charger_trace)
        .iter()
        .filter(|e| e["event"] == "cc1")
        .map(|e| e["voltage_v"].as_f64().unwrap())
        .collect();
    assert_eq!(cc1, [6.0, 4.0, 6.0, 12.0]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_signals_are_in_the_trace() {
    let dir = temp_dir("signals");
    let bench = dir.join("signals.toml");
    std::fs::write(
        &bench,
        r#"
name = "signals"
[[connectors]]
name = "insulation"
can = { endpoint = "virtual", role = "charger" }
signals = { insulation_ohm = 40000.0, insulation_at_s = 0.0 }
[[connectors]]
name = "estop"
can = { endpoint = "virtual", role = "charger" }
signals = { emergency_stop_at_s = 5.0 }
meter = { faults = { stuck_after_s = 1.0, drift_wh_per_h = 3600.0 } }
"#,
    )
    .unwrap();
    let (report, trace) = (dir.join("r.json"), dir.join("t.jsonl"));
    let out = Command::new(exe())
        .arg("hil")
        .arg(&bench)
        .args(["--duration", "40s", "--insulation-check", "1s", "--report"])
        .arg(&report)
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    // Neither session completes normally: that is the verdict (exit 1), not an error (2).
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = trace_events(&trace);
    let of = |conn: &str, name: &str| -> Vec<&serde_json::Value> {
        events
            .iter()
            .filter(|e| e["connector"] == conn && e["event"] == name)
            .collect()
    };
    let injected = of("insulation", "insulation_injected");
    assert_eq!(injected.len(), 1);
    assert_eq!(injected[0]["resistance_ohm"], 40000.0);
    let checked = of("insulation", "insulation_checked");
    assert_eq!(checked.len(), 1, "{events:?}");
    assert_eq!(checked[0]["level"], "fault");
    let aux: Vec<bool> = of("insulation", "aux_power")
        .iter()
        .map(|e| e["on"].as_bool().unwrap())
        .collect();
    assert_eq!(aux, [true, false]);
    assert_eq!(of("estop", "emergency_stop").len(), 1);
    let stuck = of("estop", "meter_fault");
    assert!(stuck.iter().any(|e| e["stuck"] == true), "{stuck:?}");
    let r = read_json(&report);
    let runs = |i: usize| r["connectors"][i]["runs"][0]["report"].clone();
    assert_eq!(runs(0)["stop_cause"], "InsulationFault");
    assert_eq!(runs(0)["charged"], false);
    assert_eq!(runs(1)["charged"], true);
    assert_eq!(runs(1)["signals"]["emergency_stop"], true);
    assert!(
        runs(1)["stop_cause"]
            .as_str()
            .unwrap()
            .contains("EmergencyStop"),
        "{}",
        runs(1)
    );
    // Stuck after 1 s: the register shows less than the energy that went through.
    assert!(
        runs(1)["meter_register_wh"].as_f64().unwrap()
            < runs(1)["meter_energy_wh"].as_f64().unwrap(),
        "{}",
        runs(1)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_can_interface_is_named_not_a_panic() {
    let dir = temp_dir("noiface");
    let bench = dir.join("b.toml");
    std::fs::write(
        &bench,
        r#"
name = "no-iface"
[[connectors]]
name = "board"
can = { endpoint = "socketcan:csnone7", role = "bms" }
"#,
    )
    .unwrap();
    let report = dir.join("r.json");
    let out = Command::new(exe())
        .arg("hil")
        .arg(&bench)
        .args(["--duration", "5s", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("\"csnone7\""), "{stderr}");
    let r = read_json(&report);
    let err = r["connectors"][0]["error"].as_str().unwrap();
    assert!(err.contains("csnone7"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_invalid_bench_file_lists_every_problem() {
    let dir = temp_dir("invalid");
    let bench = dir.join("b.toml");
    std::fs::write(
        &bench,
        r#"
name = "bad"
[[connectors]]
name = "a"
can = { endpoint = "can0", role = "bms" }
meter = { mode = "serve", unit = 0 }
"#,
    )
    .unwrap();
    let out = Command::new(exe()).arg("hil").arg(&bench).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for want in [
        "connectors[0].can.endpoint",
        "connectors[0].meter.tcp",
        "connectors[0].meter.unit",
    ] {
        assert!(stderr.contains(want), "{want} missing: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Starts `chargestorm hil` on `bench` and returns the child and the address its meter
/// is served on.
fn start_with_served_meter(bench: &Path, report: &Path, duration: &str) -> (Reap, String) {
    let mut child = Reap(
        Command::new(exe())
            .arg("hil")
            .arg(bench)
            .args([
                "--duration",
                duration,
                "--insulation-check",
                "1s",
                "--report",
            ])
            .arg(report)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the meter address").unwrap();
        if line.contains("serves meter djsf1352") {
            break line.rsplit(' ').next().unwrap().to_owned();
        }
    };
    // Keep draining stdout in the background so the child never blocks on the pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (child, addr)
}

fn client(addr: &str, timeout: std::time::Duration) -> hil::modbus::MeterClient {
    let mut cfg = hil::modbus::ClientConfig::new(
        proto::modbus::MeterModel::Djsf1352,
        hil::modbus::ClientTransport::Tcp(addr.parse().unwrap()),
    );
    cfg.timeout = timeout;
    cfg.retries = 0;
    hil::modbus::MeterClient::connect(cfg).unwrap()
}

#[test]
fn the_served_meter_follows_the_session_and_another_bench_reads_it() {
    let dir = temp_dir("meter");
    let served = dir.join("served.toml");
    std::fs::write(
        &served,
        r#"
name = "served"
[[connectors]]
name = "gun1"
can = { endpoint = "virtual", role = "bms" }
meter = { mode = "serve", tcp = "127.0.0.1:0" }
session = { stop_after_charging_s = 6.0 }
"#,
    )
    .unwrap();
    let (mut a, addr) = start_with_served_meter(&served, &dir.join("a.json"), "60s");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Poll until the session charges: the registers show the charger's output.
    let charging = rt.block_on(async {
        let mut c = client(&addr, std::time::Duration::from_secs(1));
        for _ in 0..100 {
            if let Ok(proto::modbus::MeterReading::Dc(dc)) = c.read_reading().await
                && dc.power_w > 1000.0
                && dc.import_energy_wh > 0.0
            {
                return Some(dc);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        None
    });
    let dc = charging.expect("the served meter showed charging within 10 s");
    assert!(dc.voltage_v > 300.0 && dc.voltage_v < 450.0, "{dc:?}");

    // A second bench reads that meter in place of its simulated one.
    let reader = dir.join("reader.toml");
    std::fs::write(
        &reader,
        format!(
            r#"
name = "reader"
[[connectors]]
name = "gun2"
can = {{ endpoint = "virtual", role = "bms" }}
meter = {{ mode = "read", tcp = "{addr}", period_ms = 200 }}
session = {{ stop_after_charging_s = 1.0 }}
"#
        ),
    )
    .unwrap();
    let report = dir.join("b.json");
    let out = Command::new(exe())
        .arg("hil")
        .arg(&reader)
        .args(["--duration", "30s", "--insulation-check", "1s", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read_json(&report);
    let run = &r["connectors"][0]["runs"][0];
    assert!(run["meter_reads"].as_u64().unwrap() > 3, "{run}");
    // The register it reports is the served meter's, which had counted energy already.
    assert!(
        run["report"]["meter_register_wh"].as_f64().unwrap() >= dc.import_energy_wh,
        "{run}"
    );
    assert!(a.0.wait().unwrap().success());
    // The serving bench counted the requests of both readers.
    let served = read_json(&dir.join("a.json"));
    let stats = &served["connectors"][0]["meter"]["server_stats"];
    assert!(stats["responses"].as_u64().unwrap() > 3, "{stats}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_served_meter_with_no_response_stays_silent() {
    let dir = temp_dir("silent");
    let bench = dir.join("silent.toml");
    std::fs::write(
        &bench,
        r#"
name = "silent"
[[connectors]]
name = "gun1"
can = { endpoint = "virtual", role = "bms" }
meter = { mode = "serve", tcp = "127.0.0.1:0", faults = { no_response = true } }
"#,
    )
    .unwrap();
    let (_a, addr) = start_with_served_meter(&bench, &dir.join("r.json"), "5s");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        client(&addr, std::time::Duration::from_millis(300))
            .read_reading()
            .await
    });
    match result {
        Err(hil::modbus::ClientError::Timeout { .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_mixed_bench_runs_the_simulated_fleet_alongside() {
    let dir = temp_dir("mixed");
    let bench = dir.join("mixed.toml");
    std::fs::write(
        &bench,
        r#"
name = "mixed"
[fleet]
scenario = "ci-smoke"
[[connectors]]
name = "gun1"
can = { endpoint = "virtual", role = "bms" }
session = { stop_after_charging_s = 1.0 }
"#,
    )
    .unwrap();
    let report = dir.join("r.json");
    let out = Command::new(exe())
        .arg("hil")
        .arg(&bench)
        .args(["--duration", "8s", "--insulation-check", "1s", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read_json(&report);
    assert_eq!(r["fleet"]["scenario"], "ci-smoke");
    assert_eq!(r["fleet"]["exit_code"], 0, "{r}");
    // The fleet wrote its own report next to the bench's, over the embedded backend.
    let fleet = read_json(Path::new(r["fleet"]["report"].as_str().unwrap()));
    assert_eq!(fleet["scenario"], "ci-smoke", "{fleet}");
    assert_eq!(r["connectors"][0]["runs"][0]["report"]["completed"], true);
    std::fs::remove_dir_all(&dir).ok();
}
