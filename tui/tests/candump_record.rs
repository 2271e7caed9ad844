//! `chargestorm run --candump`: a fleet run's CAN segments recorded as a candump log that
//! `chargestorm can decode` reads back, message for message.

use std::collections::BTreeMap;
mod binary_common;

use binary_common::*;

#[test]
fn a_fleet_run_records_every_segment_and_the_log_decodes_back() {
    let dir = tempdir("candump", "fleet");
    let run = chargestorm(
        &[
            "run",
            "ci-smoke",
            "--duration",
            "10m",
            "--report",
            "r.json",
            "--candump",
            "can.log",
        ],
        &dir,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let decode = chargestorm(&["can", "decode", "can.log"], &dir);
    assert!(decode.status.success());
    let mut decoded: BTreeMap<String, u64> = BTreeMap::new();
    let mut interfaces = std::collections::BTreeSet::new();
    for line in String::from_utf8(decode.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.get("error").is_none(), "undecodable: {line}");
        interfaces.insert(v["interface"].as_str().unwrap().to_owned());
        if let Some(code) = v["code"].as_str() {
            *decoded.entry(code.to_owned()).or_default() += 1;
        }
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let frames = report["messages"]["can"].as_object().unwrap();
    // Single-frame messages: one decoded message per frame the report counted.
    for code in [
        "CHM", "BHM", "CRM", "CML", "CTS", "BRO", "CRO", "BCL", "CCS", "BSM",
    ] {
        assert_eq!(
            decoded.get(code).copied().unwrap_or(0),
            frames[code].as_u64().unwrap(),
            "{code}"
        );
    }
    // Transport-protocol messages are reassembled: fewer messages than frames, none lost.
    for code in ["BRM", "BCP", "BCS"] {
        let n = decoded.get(code).copied().unwrap_or(0);
        assert!(n > 0 && n < frames[code].as_u64().unwrap(), "{code}: {n}");
    }
    // ci-smoke has six DC connectors (ids 0..=5), each on its own interface.
    assert_eq!(
        interfaces.into_iter().collect::<Vec<_>>(),
        ["gbt0", "gbt1", "gbt2", "gbt3", "gbt4", "gbt5"]
    );
}

#[test]
fn candump_connectors_limits_the_recording() {
    let dir = tempdir("candump", "some");
    let run = chargestorm(
        &[
            "run",
            "ci-smoke",
            "--duration",
            "5m",
            "--report",
            "r.json",
            "--candump",
            "can.log",
            "--candump-connectors",
            "3",
        ],
        &dir,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let log = std::fs::read_to_string(dir.join("can.log")).unwrap();
    assert!(log.lines().count() > 1_000);
    assert!(log.lines().all(|l| l.split(' ').nth(1) == Some("gbt3")));
}
