//! The protocol over a real Mosquitto started by the test: core flows, 1,000 chargers, and a
//! SIGKILL restart without persistence. A machine without mosquitto fails these tests
//! (install it with `apt-get install -y mosquitto`).

mod mqtt_common;

use std::time::Duration;

use hil::mqtt::MqttSettings;
use mqtt_common::{Rig, assert_ledger_complete, mosquitto};
use proto::mqtt::pb;
use sim_core::mqtt::autopilot::AutoPilot;
use sim_core::mqtt::backend::BackendEvent;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_flows_over_mosquitto() {
    let broker = mosquitto().await;
    mqtt_common::core_flows(&MqttSettings::new(broker.url())).await;
}

/// 1,000 chargers connect, register, log in and each complete a remote-started session
/// against Mosquitto on loopback; every transaction is booked once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_chargers_complete_sessions_against_mosquitto() {
    let n = 1_000;
    let broker = mosquitto().await;
    let settings = MqttSettings::new(broker.url());
    let pilot = AutoPilot {
        session_duration: Some(sim_core::time::Duration::from_secs(3)),
        sample_interval: sim_core::time::Duration::from_secs(1),
        ..AutoPilot::default()
    };
    let mut rig = Rig::start(&settings, n, Some(pilot), false).await;
    let login = rig.wait_online(Duration::from_secs(90)).await;
    let ids: Vec<String> = (0..n).map(|i| rig.device(i)).collect();
    let t0 = rig.clock.now();
    let before = rig.driver.stats();
    rig.backend
        .call(move |b, now| {
            ids.iter()
                .filter(|id| {
                    b.remote_start(now, id, 1, "u", pb::ChargingPlan::default(), 30)
                        .is_ok()
                })
                .count()
        })
        .await
        .unwrap();
    assert!(
        rig.wait_ledger(n, Duration::from_secs(120)).await,
        "all sessions booked"
    );
    let session_phase = (rig.clock.now() - t0).as_secs_f64();
    let up = rig.driver.stats().published - before.published;
    assert!(
        rig.wait_outboxes_empty(Duration::from_secs(60)).await,
        "every booked transaction's confirmation reaches its charger"
    );
    let (backend, runner, driver) = rig.finish().await;
    assert_ledger_complete(&backend, &driver);
    let down = runner.published;
    eprintln!(
        "mosquitto 1000 chargers: all logged in after {:.2} s ({:.0} logins/s); sessions phase {:.2} s: \
         {up} uplink + {down} downlink APDUs ({:.0} msg/s); backend received {} uplink in total",
        login.as_secs_f64(),
        n as f64 / login.as_secs_f64(),
        session_phase,
        (up + down) as f64 / session_phase,
        runner.received,
    );
    assert_eq!(driver.stats().foreign, 0);
}

/// Mosquitto is killed (SIGKILL) mid-run and restarted without persistence: zero transactions
/// lost, none booked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_killed_mid_run_loses_no_transaction() {
    let n = 150;
    let mut broker = mosquitto().await;
    let settings = MqttSettings::new(broker.url());
    let pilot = AutoPilot {
        session_duration: None,
        sample_interval: sim_core::time::Duration::from_millis(500),
        ..AutoPilot::default()
    };
    let mut rig = Rig::start(&settings, n, Some(pilot), false).await;
    rig.wait_online(Duration::from_secs(30)).await;
    let ids: Vec<String> = (0..n).map(|i| rig.device(i)).collect();
    let starts = ids.clone();
    // Time-mode sessions: a third end before the kill, a third while the broker is down
    // (offline orders), a third run across the restart (their start is re-sent).
    rig.backend
        .call(move |b, now| {
            for (i, id) in starts.iter().enumerate() {
                let plan = pb::ChargingPlan {
                    mode: pb::ChargingMode::Time as i32,
                    duration_s: [2, 4, 8][i % 3],
                    ..Default::default()
                };
                let _ = b.remote_start(now, id, 1, "u", plan, 30);
            }
        })
        .await
        .unwrap();
    rig.driver.run_for(Duration::from_millis(3_500)).await;
    broker.kill();
    rig.driver.run_for(Duration::from_millis(1_500)).await;
    broker.restart().await.expect("mosquitto restarts");
    assert!(
        rig.wait_ledger(n, Duration::from_secs(60)).await,
        "every session booked after the restart"
    );
    assert!(
        rig.wait_outboxes_empty(Duration::from_secs(60)).await,
        "every booked transaction's confirmation reaches its charger"
    );
    let repeated_starts = rig
        .backend
        .take_events()
        .await
        .iter()
        .filter(|e| matches!(e, BackendEvent::TransactionStarted { repeat: true, .. }))
        .count();
    let (backend, runner, driver) = rig.finish().await;
    assert_ledger_complete(&backend, &driver);
    let offline_orders = backend
        .ledger()
        .entries()
        .filter(|e| e.offline_order)
        .count();
    let failures: u64 = driver
        .clients()
        .iter()
        .map(|c| c.outbox_stats().failures)
        .sum();
    eprintln!(
        "mosquitto SIGKILL: {} transactions booked ({offline_orders} as offline orders, {} duplicate \
         reports answered, {repeated_starts} starts re-sent after reconnect, {failures} transaction \
         messages failed and were re-sent); transport {:?}",
        backend.ledger().len(),
        backend.ledger().duplicates(),
        driver.transport_stats()
    );
    assert!(
        driver.transport_stats().disconnects >= n as u64,
        "{:?}",
        driver.transport_stats()
    );
    assert!(runner.connects >= 2);
    assert_eq!(backend.stats().charging_info_before_start, 0);
}
