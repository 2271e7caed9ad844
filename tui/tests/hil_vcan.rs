//! `chargestorm hil` on a kernel vcan interface: one process plays the charger on
//! `socketcan:vcan0`, another the BMS on the same interface, and the session completes.
//! Needs `ip link add vcan0 type vcan && ip link set vcan0 up`; runs only with
//! `--features vcan_tests`.

#![cfg(feature = "vcan_tests")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

use std::process::Command;

fn bench(dir: &std::path::Path, name: &str, role: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\n[[connectors]]\nname = \"{name}\"\n\
             can = {{ endpoint = \"socketcan:vcan0\", role = \"{role}\" }}\n{extra}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_session_completes_across_two_processes_on_vcan0() {
    let dir = Scratch::new("cs-hil-vcan");
    let charger = bench(
        &dir,
        "charger",
        "charger",
        "session = { stop_after_charging_s = 2.0 }",
    );
    let bms = bench(&dir, "bms", "bms", "");
    let exe = env!("CARGO_BIN_EXE_chargestorm");
    let run = |bench: &std::path::Path, report: &str| {
        Command::new(exe)
            .arg("hil")
            .arg(bench)
            .args(["--duration", "60s", "--insulation-check", "1s", "--report"])
            .arg(dir.join(report))
            .spawn()
            .unwrap()
    };
    let mut c = run(&charger, "c.json");
    let mut b = run(&bms, "b.json");
    assert!(c.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    for report in ["c.json", "b.json"] {
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(report)).unwrap()).unwrap();
        let run = &r["connectors"][0]["runs"][0];
        assert_eq!(run["report"]["completed"], true, "{run}");
        assert_eq!(run["bus_errors"]["error_frames"], 0, "{run}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
