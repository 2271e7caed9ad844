use super::*;
use crate::scenario::Scenario;

fn scenario(extra: &str) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"t\"\nduration = \"10m\"\n[fleet]\nuse = \"small-mixed\"\n{extra}"
    );
    toml::from_str(&text).unwrap()
}

fn problems(extra: &str) -> Vec<String> {
    let mut e = Errors::new("");
    scenario(extra).validate(&mut e);
    e.list.iter().map(ToString::to_string).collect()
}

#[test]
fn a_full_timeline_with_expectations_is_valid() {
    let text = r#"
[[timeline]]
name = "trip"
when = "connector 3 charging"
connector = 3
action = "insulation_fault"
resistance_kohm = 20.0

[[timeline]]
at = "2m"
action = "restart_broker"
duration = "10s"

[[timeline]]
at = "1m"
fraction = 0.2
action = "mqtt_disconnect"

[[timeline]]
at = "3m"
action = "load_ramp"
factor = 4.0
duration = "1m"

[[expect]]
kind = "stop_transaction"
reason = "insulation_fault"
within_s = 30
after = "trip"

[[expect]]
kind = "alarm"
code = 4
within_s = 60
after = "trip"

[[expect]]
kind = "transactions_confirmed_once"

[[expect]]
kind = "latency"
message = "BootNotification"
p99_ms = 500

[[expect]]
kind = "error_rate"
max_percent = 0.1
protocol = "mqtt"

[[expect]]
kind = "no_stuck_state"
state = "plugged"
max_s = 300
"#;
    assert_eq!(problems(text), Vec::<String>::new());
    let s = scenario(text);
    assert_eq!(s.timeline.len(), 4);
    assert_eq!(s.timeline[2].label(), "mqtt_disconnect");
    assert_eq!(
        s.timeline[0].condition(),
        Some(Condition {
            subject: Subject::Connector(3),
            state: "charging"
        })
    );
    assert_eq!(s.expect[1].kind, ExpectKind::Alarm);
}

#[test]
fn conditions_parse_every_subject_and_reject_garbage() {
    let c = |t: &str| Condition::parse(t).map(|c| (c.subject, c.state));
    assert_eq!(c("any connector plugged"), Ok((Subject::Any, "plugged")));
    assert_eq!(c("all connectors idle"), Ok((Subject::All, "idle")));
    assert_eq!(
        c("5 connectors charging"),
        Ok((Subject::AtLeast(5), "charging"))
    );
    assert_eq!(
        c("connector 0 offline"),
        Ok((Subject::Connector(0), "offline"))
    );
    for bad in [
        "",
        "connector x charging",
        "connector 3 sleeping",
        "some connectors idle",
        "connector 3",
    ] {
        assert!(Condition::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let text = r#"
[[timeline]]
action = "insulation_fault"
delay_ms = 5.0

[[timeline]]
at = "1m"
connector = 2
action = "restart_broker"

[[timeline]]
at = "1m"
when = "connector 1 dancing"
all = true
connector = 1
action = "can_delay"
message = "BCL"

[[timeline]]
at = "1m"
fraction = 1.5
action = "emergency_stop"

[[expect]]
kind = "stop_transaction"
reason = "tired"
after = "nothing"

[[expect]]
kind = "no_stuck_state"
state = "dreaming"
max_s = -1
"#;
    let p = problems(text);
    let has = |needle: &str| p.iter().any(|x| x.contains(needle));
    assert!(has("timeline[0]: needs `at"), "{p:#?}");
    assert!(
        has("timeline[0].action: insulation_fault needs a target"),
        "{p:#?}"
    );
    assert!(has(
        "timeline[0].delay_ms: is not a parameter of insulation_fault"
    ));
    assert!(has(
        "timeline[1].action: restart_broker acts on the whole fleet"
    ));
    assert!(has(
        "timeline[2].when: \"connector 1 dancing\" is not a condition"
    ));
    assert!(has("timeline[2]: give exactly one target"));
    assert!(has("timeline[2].delay_ms: can_delay needs it"));
    assert!(has("timeline[3].fraction: 1.5 is out of range"));
    assert!(has("expect[0].reason: \"tired\" is not one of"));
    assert!(has("expect[0].within_s: StopTransaction needs it"));
    assert!(has(
        "expect[0].after: no timeline entry is named \"nothing\""
    ));
    assert!(has("expect[1].state: \"dreaming\" is not one of"));
    assert!(has("expect[1].max_s: -1 is out of range"));
    assert_eq!(p.len(), 13, "{p:#?}");
}

#[test]
fn ambiguous_labels_and_unknown_keys_are_rejected() {
    let text = r#"
[[timeline]]
at = "1m"
all = true
action = "emergency_stop"

[[timeline]]
at = "2m"
all = true
action = "emergency_stop"

[[expect]]
kind = "stop_transaction"
reason = "emergency_stop"
within_s = 10
after = "emergency_stop"
"#;
    assert!(problems(text)[0].contains("2 timeline entries are labelled"));
    let unknown = "[scenario]\nname = \"t\"\n[fleet]\nuse = \"x\"\n[[timeline]]\nat = \"1s\"\naction = \"load_step\"\nfactor = 2.0\nspeed = 3\n";
    let err = toml::from_str::<Scenario>(unknown).unwrap_err().to_string();
    assert!(err.contains("speed"), "{err}");
    let bad_action = "[scenario]\nname = \"t\"\n[fleet]\nuse = \"x\"\n[[timeline]]\nat = \"1s\"\naction = \"explode\"\n";
    assert!(toml::from_str::<Scenario>(bad_action).is_err());
}

#[test]
fn bundled_fault_scenarios_keep_their_folder_in_the_name_and_expect_something() {
    let lib = crate::Library::bundled().unwrap();
    let faults: Vec<&String> = lib
        .scenarios
        .keys()
        .filter(|k| k.starts_with("faults/"))
        .collect();
    for name in [
        "faults/broker-restart",
        "faults/network-partition",
        "faults/network-degradation",
        "faults/bms-comm-loss",
        "faults/insulation-fault",
        "faults/meter-failure",
        "faults/firmware-update-storm",
        "faults/blackout-reconnect-storm",
        "faults/platform-outage",
        "faults/slow-backend",
    ] {
        assert!(faults.iter().any(|k| *k == name), "{name} is not bundled");
        let s = lib.load_scenario(name).unwrap().scenario;
        assert_eq!(s.scenario.name, name);
        assert!(!s.timeline.is_empty() && !s.expect.is_empty(), "{name}");
    }
    assert!(lib.scenarios.contains_key("ci-smoke"));
}

#[test]
fn data_completed_needs_the_outage_it_follows_and_a_time() {
    let ok = problems(
        "[[timeline]]\nname = \"outage\"\nat = \"1m\"\naction = \"platform_500\"\nduration = \"10s\"\n\
         [[expect]]\nkind = \"data_completed\"\nafter = \"outage\"\nwithin_s = 30\n",
    );
    assert!(ok.is_empty(), "{ok:?}");
    let missing = problems("[[expect]]\nkind = \"data_completed\"\n");
    assert!(
        missing.iter().any(|p| p.contains("expect[0].within_s"))
            && missing.iter().any(|p| p.contains("expect[0].after")),
        "{missing:?}"
    );
}

#[test]
fn meter_actions_take_their_parameters_and_meter_mismatch_needs_a_limit() {
    let ok = problems(
        "[[timeline]]\nat = \"1m\"\nconnector = 1\naction = \"meter_drift\"\nwh_per_h = 500\n\
         [[timeline]]\nat = \"1m\"\nconnector = 2\naction = \"meter_stuck\"\nduration = \"1m\"\n\
         [[expect]]\nkind = \"meter_mismatch\"\nmax_percent = 1\n",
    );
    assert!(ok.is_empty(), "{ok:?}");
    let bad = problems(
        "[[timeline]]\nat = \"1m\"\nconnector = 1\naction = \"meter_drift\"\n\
         [[timeline]]\nat = \"1m\"\nconnector = 2\naction = \"meter_stuck\"\nwh_per_h = -5\n\
         [[expect]]\nkind = \"meter_mismatch\"\n",
    );
    for want in [
        "timeline[0].wh_per_h",
        "timeline[1].wh_per_h",
        "expect[0].max_percent",
    ] {
        assert!(bad.iter().any(|p| p.contains(want)), "{want}: {bad:?}");
    }
}

#[test]
fn network_faults_take_their_parameters_and_a_charger_target() {
    let ok = problems(
        "[[timeline]]\nat = \"1m\"\nfraction = 0.2\naction = \"net_latency\"\ndelay_ms = 100.0\njitter_ms = 10.0\nduration = \"30s\"\n\
         [[timeline]]\nat = \"1m\"\nall = true\naction = \"net_bandwidth\"\nkbit_per_s = 64.0\n\
         [[timeline]]\nat = \"1m\"\ncharger = 0\naction = \"net_stall\"\nduration = \"5s\"\n\
         [[timeline]]\nat = \"1m\"\ncharger = 0\naction = \"net_half_open\"\n\
         [[timeline]]\nat = \"1m\"\ncharger = 0\naction = \"net_reset\"\n\
         [[timeline]]\nat = \"1m\"\ncharger = 0\naction = \"net_cut\"\nduration = \"5s\"\n",
    );
    assert!(ok.is_empty(), "{ok:?}");
    let bad = problems(
        "[[timeline]]\nat = \"1m\"\naction = \"net_latency\"\njitter_ms = 10.0\n\
         [[timeline]]\nat = \"1m\"\nall = true\naction = \"net_bandwidth\"\nkbit_per_s = 0.0\n\
         [[timeline]]\nat = \"1m\"\ncharger = 0\naction = \"net_stall\"\n\
         [[timeline]]\nat = \"1m\"\ncharger = 0\naction = \"net_reset\"\nduration = \"5s\"\n",
    );
    for expected in [
        "timeline[0].delay_ms",
        "timeline[0].action",
        "timeline[1].kbit_per_s",
        "timeline[2].duration",
        "timeline[3].duration",
    ] {
        assert!(
            bad.iter().any(|p| p.contains(expected)),
            "{expected}: {bad:?}"
        );
    }
    assert!(Action::NetHalfOpen.is_network() && !Action::MqttDisconnect.is_network());
    assert_eq!(Action::NetCut.scope(), Scope::Charger);
}
