//! Timeline actions on real sockets: the bundled fault scenarios, shortened, run in real
//! time against the embedded broker and the reference backend on its own connection. The
//! world hands the broker restart and the partition to the I/O shell, which carries them
//! out on the real broker and connections and reports their reach.

use std::path::Path;
use std::process::{Command, Output};

fn chargestorm(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chargestorm"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the chargestorm binary runs")
}

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

fn tempdir(name: &str) -> Scratch {
    Scratch::new(&format!("chargestorm-faults-rt-{name}"))
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A bundled scenario with `edits` applied (each must change it).
fn variant(name: &str, edits: &[(&str, &str)]) -> String {
    let lib = profiles::Library::bundled().expect("the bundled profiles load");
    let mut s = lib.scenarios[name].to_owned();
    for (from, to) in edits {
        assert!(s.contains(from), "{name} has no {from:?}");
        s = s.replacen(from, to, 1);
    }
    s
}

fn trace(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("the trace was written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("trace lines are JSON"))
        .collect()
}

/// One real-time run at a time: each must keep pace with the wall clock (the report fails
/// a run whose generator fell behind), and several at once on a 2-core machine would
/// measure each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_realtime(dir: &Path, toml: &str) -> (Output, serde_json::Value, std::time::Duration) {
    run_realtime_with(dir, toml, &[])
}

/// [`run_realtime`] with more `chargestorm run` arguments.
fn run_realtime_with(
    dir: &Path,
    toml: &str,
    extra: &[&str],
) -> (Output, serde_json::Value, std::time::Duration) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    std::fs::write(dir.join("s.toml"), toml).expect("the scenario is written");
    #[expect(
        clippy::disallowed_methods,
        reason = "the test bounds the real time a real-time run takes"
    )]
    let started = std::time::Instant::now();
    let mut args = vec![
        "run",
        "s.toml",
        "--transport",
        "real",
        "--speed",
        "realtime",
        "--headless",
        "--report",
        "r.json",
        "--trace",
        "t.jsonl",
    ];
    args.extend_from_slice(extra);
    let out = chargestorm(&args, dir);
    let wall = started.elapsed();
    let report = std::fs::read(dir.join("r.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (out, report, wall)
}

/// `(t_us, up)` of every `mqtt_link` event of charger `entity`.
fn links_of(lines: &[serde_json::Value], entity: &str) -> Vec<(u64, bool)> {
    lines
        .iter()
        .filter(|l| l["event"] == "mqtt_link" && l["entity"] == entity)
        .map(|l| {
            (
                l["t_us"].as_u64().expect("trace lines carry t_us"),
                l["up"] == true,
            )
        })
        .collect()
}

fn assertion<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["assertions"]
        .as_array()
        .expect("the report has assertions")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no assertion {name} in {report}"))
}

#[test]
fn a_broker_restart_on_the_real_embedded_broker_passes_its_expectations() {
    let dir = tempdir("restart");
    let toml = variant(
        "faults/broker-restart",
        &[
            ("duration = \"12m\"", "duration = \"30s\""),
            ("at = \"3m\"", "at = \"8s\""),
            ("duration = \"20s\"", "duration = \"3s\""),
            ("max_s = 120", "max_s = 15"),
            (
                "[mqtt]\nenabled = true\n",
                "[mqtt]\nenabled = true\nresponse_timeout_s = 5\n",
            ),
        ],
    );
    let (out, report, wall) = run_realtime(&dir, &toml);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wall < std::time::Duration::from_secs(40), "took {wall:?}");
    assert_eq!(
        assertion(&report, "broker_restart.back_online")["passed"],
        true
    );
    let injected = report["details"]["injected_faults"].as_array().unwrap();
    assert!(
        injected
            .iter()
            .any(|f| f["fault"] == "restart_broker" && f["reached"] == 1),
        "the report records the restart and its reach: {injected:?}"
    );
    let lines = trace(&dir.join("t.jsonl"));
    let fired = lines
        .iter()
        .find(|l| l["event"] == "action_fired")
        .expect("the action is traced");
    assert_eq!(fired["action"], "restart_broker");
    assert_eq!(fired["reached"], 1, "the real broker took it");
    assert!(lines.iter().any(|l| l["event"] == "action_ended"));
    // Every charger lost its link when the broker stopped and logged in again after.
    let downs = lines
        .iter()
        .filter(|l| l["event"] == "mqtt_link" && l["up"] == false)
        .count();
    let ups_after = lines
        .iter()
        .filter(|l| l["event"] == "mqtt_link" && l["up"] == true)
        .filter(|l| l["t_us"].as_u64().unwrap() >= 11_000_000)
        .count();
    assert!(downs >= 2, "{downs} links dropped");
    assert_eq!(ups_after, downs, "every dropped link came back");
}

#[test]
fn a_partition_on_the_real_broker_holds_the_chosen_chargers_down_then_they_reconnect() {
    let dir = tempdir("partition");
    let toml = variant(
        "faults/network-partition",
        &[
            ("duration = \"12m\"", "duration = \"25s\""),
            ("at = \"2m\"", "at = \"5s\""),
            ("duration = \"60s\"", "duration = \"5s\""),
            ("fraction = 0.2", "fraction = 0.4"),
            ("max_s = 180", "max_s = 15"),
        ],
    );
    let (out, report, wall) = run_realtime(&dir, &toml);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wall < std::time::Duration::from_secs(40), "took {wall:?}");
    let lines = trace(&dir.join("t.jsonl"));
    let fired = lines
        .iter()
        .find(|l| l["event"] == "action_fired")
        .expect("the action is traced");
    assert_eq!(fired["action"], "mqtt_disconnect");
    let reached = fired["reached"].as_u64().unwrap();
    assert!(reached >= 1, "some chargers were cut: {fired}");
    let injected = report["details"]["injected_faults"].as_array().unwrap();
    assert!(
        injected
            .iter()
            .any(|f| f["fault"] == "mqtt_disconnect" && f["reached"] == reached),
        "{injected:?}"
    );
    let link = |up: bool| {
        lines
            .iter()
            .filter(move |l| l["event"] == "mqtt_link" && l["up"] == up)
    };
    // The cut chargers' links dropped when the action fired, and only theirs.
    let cut: Vec<&serde_json::Value> = link(false)
        .filter(|l| (5_000_000..6_000_000).contains(&l["t_us"].as_u64().unwrap()))
        .map(|l| &l["entity"])
        .collect();
    assert_eq!(cut.len() as u64, reached, "{cut:?}");
    for charger in cut {
        // Held down for the partition's 5 s, then reconnected: a second link-up.
        let ups: Vec<u64> = link(true)
            .filter(|l| &l["entity"] == charger)
            .map(|l| l["t_us"].as_u64().unwrap())
            .collect();
        assert_eq!(
            ups.len(),
            2,
            "{charger} connected, then reconnected: {ups:?}"
        );
        assert!(
            ups[1] >= 10_000_000,
            "{charger} stayed down for the partition: {ups:?}"
        );
    }
    assert_eq!(assertion(&report, "partition.heals")["passed"], true);
}

/// A short platform outage with an alarm raised during it, on the served reference
/// monitoring platform.
const PLATFORM_OUTAGE: &str = r#"
[scenario]
name = "faults/platform-outage-realtime"
description = "A short platform outage on the served reference platform"
seed = 7008
duration = "20s"

[[fleet.groups]]
name = "dc"
charger = "dc-120kw-dual"
count = 2
chargers_per_station = 2

[traffic]
arrivals_per_connector_per_h = 0.5
initial_occupancy = 1.0
arrival_soc_pct = { min = 20.0, max = 30.0 }
target_soc_pct = { min = 80.0, max = 90.0 }
dwell_min = { min = 60.0, max = 90.0 }
plug_to_start_s = { min = 1.0, max = 3.0 }

[mqtt]
enabled = true

[http]
enabled = true

[[timeline]]
name = "outage"
at = "4s"
action = "platform_500"
duration = "6s"

[[timeline]]
name = "hot_gun"
at = "6s"
connector = 2
action = "over_temperature"
"#;

#[test]
fn a_platform_outage_on_the_served_reference_platform_refuses_pushes_until_it_ends() {
    platform_outage(&[]);
}

#[test]
fn a_platform_outage_refuses_pipelined_pushes_too_and_the_alarm_arrives_after() {
    platform_outage(&["--http-pipeline", "4"]);
}

fn platform_outage(extra: &[&str]) {
    let dir = tempdir(if extra.is_empty() {
        "platform"
    } else {
        "platform-pipelined"
    });
    let (out, report, wall) = run_realtime_with(&dir, PLATFORM_OUTAGE, extra);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wall < std::time::Duration::from_secs(40), "took {wall:?}");
    let lines = trace(&dir.join("t.jsonl"));
    let outage = lines
        .iter()
        .find(|l| l["event"] == "action_fired" && l["label"] == "outage")
        .expect("the outage is traced");
    assert_eq!(outage["reached"], 1, "the served platform took it");
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "action_ended" && l["label"] == "outage")
    );
    let refused: u64 = report["errors"]
        .as_object()
        .expect("the report counts errors")
        .iter()
        .filter(|(k, _)| k.ends_with("http_500"))
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum();
    assert!(
        refused > 0,
        "the operator saw HTTP 500s: {}",
        report["errors"]
    );
    let alarm = assertion(&report, "tcec.response_time.http.notification_alarmInfo");
    assert_eq!(
        alarm["passed"], true,
        "the alarm arrived after the outage: {alarm}"
    );
}

/// Every network fault of the proxy on a short real-time run with a 2 s keep-alive.
const NETWORK_FAULTS: &str = r#"
[scenario]
name = "faults/network-degradation-realtime"
description = "The TCP fault proxy between ten chargers and the embedded broker"
seed = 7010
duration = "32s"

[[fleet.groups]]
name = "dc"
charger = "dc-60kw-single"
count = 10
chargers_per_station = 5

[traffic]
arrivals_per_connector_per_h = 3.0
initial_occupancy = 1.0
arrival_soc_pct = { min = 20.0, max = 40.0 }
target_soc_pct = { min = 50.0, max = 60.0 }
dwell_min = { min = 3.0, max = 8.0 }
plug_to_start_s = { min = 1.0, max = 3.0 }

[mqtt]
enabled = true
heartbeat_interval_s = 2
response_timeout_s = 5

[[timeline]]
name = "slow_links"
at = "3s"
fraction = 0.5
action = "net_latency"
delay_ms = 100.0
jitter_ms = 10.0
duration = "4s"

[[timeline]]
name = "thin_links"
at = "4s"
all = true
action = "net_bandwidth"
kbit_per_s = 32.0
duration = "3s"

[[timeline]]
name = "stall"
at = "9s"
charger = 1
action = "net_stall"
duration = "1s"

[[timeline]]
name = "dead_link"
at = "12s"
charger = 0
action = "net_half_open"
duration = "8s"

[[timeline]]
name = "resets"
at = "24s"
charger = 2
action = "net_reset"

[[expect]]
name = "links.heal"
kind = "no_stuck_state"
state = "offline"
max_s = 20
"#;

#[test]
fn network_faults_go_through_the_fault_proxy_and_dead_links_are_noticed_by_keep_alive() {
    let dir = tempdir("netproxy");
    let (out, report, wall) = run_realtime(&dir, NETWORK_FAULTS);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wall < std::time::Duration::from_secs(50), "took {wall:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("network fault proxy"), "{stderr}");
    let proxy = &report["details"]["net_proxy"];
    assert!(proxy["accepted"].as_u64().unwrap() >= 10, "{proxy}");
    assert!(proxy["injected_resets"].as_u64().unwrap() >= 1, "{proxy}");
    let lines = trace(&dir.join("t.jsonl"));
    for label in ["slow_links", "thin_links", "stall", "dead_link", "resets"] {
        let fired = lines
            .iter()
            .find(|l| l["event"] == "action_fired" && l["label"] == label)
            .unwrap_or_else(|| panic!("{label} fired"));
        assert!(fired["reached"].as_u64().unwrap() >= 1, "{fired}");
    }
    let links = |entity: &str| links_of(&lines, entity);
    // The dead link: noticed within twice the keep-alive (2 s), back only after the heal.
    let ch0 = links("ch0");
    let down = ch0
        .iter()
        .find(|(t, up)| !up && *t >= 12_000_000)
        .unwrap_or_else(|| panic!("ch0's dead link was noticed: {ch0:?}"));
    assert!(down.0 <= 16_000_000, "noticed at {} µs: {ch0:?}", down.0);
    let back = ch0.iter().find(|(t, up)| *up && *t > down.0);
    assert!(
        back.is_some_and(|(t, _)| *t >= 20_000_000),
        "ch0 reconnected after the heal: {ch0:?}"
    );
    // A 1 s stall is shorter than the keep-alive: the link survives.
    let ch1 = links("ch1");
    assert!(
        !ch1.iter()
            .any(|(t, up)| !up && (9_000_000..14_000_000).contains(t)),
        "{ch1:?}"
    );
    // The reset drops the link at once; the charger comes back.
    let ch2 = links("ch2");
    let reset = ch2
        .iter()
        .find(|(t, up)| !up && *t >= 24_000_000)
        .unwrap_or_else(|| panic!("ch2 was reset: {ch2:?}"));
    assert!(reset.0 < 25_000_000, "{ch2:?}");
    assert!(ch2.iter().any(|(t, up)| *up && *t > reset.0), "{ch2:?}");
    assert_eq!(assertion(&report, "links.heal")["passed"], true);
}

#[test]
fn reboot_and_firmware_update_reach_the_real_chargers_through_the_reference_backend() {
    let dir = tempdir("reboot");
    let toml = variant(
        "faults/firmware-update-storm",
        &[
            ("duration = \"15m\"", "duration = \"20s\""),
            ("at = \"30s\"", "at = \"8s\""),
            (
                "action = \"firmware_update\"\nfail = true",
                "action = \"reboot\"",
            ),
            ("at = \"1m\"", "at = \"9s\""),
            ("all = true", "charger = 1"),
            ("max_s = 180", "max_s = 60"),
        ],
    );
    let (out, report, _) = run_realtime(&dir, &toml);
    assert!(out.status.success(), "{}", text(&out));
    let lines = trace(&dir.join("t.jsonl"));
    for (label, action) in [("bad_image", "reboot"), ("storm", "firmware_update")] {
        let fired = lines
            .iter()
            .find(|l| l["event"] == "action_fired" && l["label"] == label)
            .unwrap_or_else(|| panic!("{label} fired"));
        assert_eq!(fired["action"], action);
        assert_eq!(
            fired["reached"], 1,
            "the reference backend sent it: {fired}"
        );
    }
    let injected = report["details"]["injected_faults"].as_array().unwrap();
    assert!(
        injected
            .iter()
            .any(|f| f["fault"] == "reboot" && f["reached"] == 1),
        "{injected:?}"
    );
    // The rebooted charger dropped its link and logged in again.
    let ch0 = links_of(&lines, "ch0");
    let down = ch0
        .iter()
        .find(|(t, up)| !up && *t >= 8_000_000)
        .unwrap_or_else(|| panic!("ch0 rebooted: {ch0:?}"));
    assert!(ch0.iter().any(|(t, up)| *up && *t > down.0), "{ch0:?}");
}
