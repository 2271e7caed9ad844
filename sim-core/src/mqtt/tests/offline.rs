//! Offline operation (seed 离线约定), offline authorization, offline orders, and broker
//! restarts without persistence: zero transactions lost, none booked twice.

use proto::mqtt::pb;
use proto::mqtt::{Message, MessageCode};

use super::*;
use crate::mqtt::charger::{IdToken, Phase};
use crate::mqtt::simnet::LinkModel;

fn full_cache(tags: &[&str]) -> pb::UpdateIdCardCacheReq {
    pb::UpdateIdCardCacheReq {
        list_version: 1,
        update_type: pb::CacheUpdateType::Full as i32,
        entries: tags
            .iter()
            .map(|t| pb::IdCardEntry {
                id_tag: (*t).into(),
                action: pb::CacheEntryAction::Add as i32,
                id_tag_info: Some(pb::IdTagInfo {
                    status: pb::AuthorizationStatus::Accepted as i32,
                    ..Default::default()
                }),
            })
            .collect(),
    }
}

#[test]
fn a_running_session_resends_its_start_before_any_charging_info_after_reconnect() {
    let auto = AutoPilot {
        session_duration: Some(Duration::from_secs(1_800)),
        ..AutoPilot::default()
    };
    let mut h = online(1, Some(auto));
    h.with_charger(0, |c, now| c.authorize(now, 1, IdToken::App("u".into())))
        .unwrap();
    h.run_for(Duration::from_secs(300));
    let starts_before = h
        .backend_events()
        .filter(|e| matches!(e, BackendEvent::TransactionStarted { .. }))
        .count();
    assert_eq!(starts_before, 1);
    h.restart_broker(Duration::from_secs(120));
    h.run_for(Duration::from_secs(400));
    assert_eq!(h.charger(0).phase(), Phase::Online);
    let repeats: Vec<bool> = h
        .backend_events()
        .filter_map(|e| match e {
            BackendEvent::TransactionStarted { repeat, .. } => Some(*repeat),
            _ => None,
        })
        .collect();
    assert_eq!(
        repeats,
        [false, true],
        "the start was re-sent and recognised"
    );
    assert_eq!(h.backend().stats().charging_info_before_start, 0);
    h.run_for(Duration::from_secs(1_200));
    assert_eq!(h.backend().ledger().len(), 1);
    assert_eq!(h.backend().ledger().duplicates(), 0);
    let e = h.backend().ledger().entries().next().unwrap();
    assert!(!e.offline_order);
    assert_eq!(e.energy_wh(), 3_600);
}

#[test]
fn offline_card_start_uses_the_cache_and_is_reported_as_an_offline_order() {
    let auto = AutoPilot {
        session_duration: Some(Duration::from_secs(600)),
        ..AutoPilot::default()
    };
    let mut h = online(1, Some(auto));
    let id = dev(&h, 0);
    h.with_backend(|b, now| b.send_request(now, &id, full_cache(&["CARD-OFF"]).into()))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.charger(0).card_cache().list_version(), 1);
    // The broker goes away for 20 minutes; the whole session happens offline.
    h.restart_broker(Duration::from_secs(1_200));
    h.run_for(Duration::from_secs(1));
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::Card("UNKNOWN".into()))
    })
    .unwrap();
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::Card("CARD-OFF".into()))
    })
    .unwrap();
    h.run_for(Duration::from_secs(700));
    let auth: Vec<(String, bool, bool)> = events(&h, 0)
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::Authorized {
                id_tag,
                accepted,
                offline,
                ..
            } => Some((id_tag, accepted, offline)),
            _ => None,
        })
        .collect();
    assert_eq!(
        auth,
        [
            ("UNKNOWN".into(), false, true),
            ("CARD-OFF".into(), true, true)
        ]
    );
    let record = h.charger(0).outbox().next().cloned().unwrap();
    assert!(record.offline_start && record.offline_order && record.stop.is_some());
    h.run_for(Duration::from_secs(900));
    assert_eq!(h.charger(0).phase(), Phase::Online);
    assert_eq!(h.charger(0).outbox().count(), 0);
    let e = h.backend().ledger().entries().next().cloned().unwrap();
    assert!(e.offline_order && e.offline_start);
    assert_eq!(e.id_tag, "CARD-OFF");
    assert_eq!(e.energy_wh(), 1_200);
    assert!(events(&h, 0).iter().any(|e| matches!(
        e,
        ClientEvent::TransactionConfirmed {
            offline_order: true,
            ..
        }
    )));
}

#[test]
fn local_authorize_offline_off_refuses_every_card_offline() {
    let mut cfg = config(1, None);
    cfg.chargers[0].1.local_authorize_offline = false;
    let mut h = online_with(cfg);
    let id = dev(&h, 0);
    h.with_backend(|b, now| b.send_request(now, &id, full_cache(&["C"]).into()))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    h.restart_broker(Duration::from_secs(600));
    h.with_charger(0, |c, now| c.authorize(now, 1, IdToken::Card("C".into())))
        .unwrap();
    assert!(events(&h, 0).contains(&ClientEvent::Authorized {
        connector: 1,
        id_tag: "C".into(),
        kind: pb::IdTagKind::Card,
        accepted: false,
        offline: true
    }));
}

#[test]
fn unanswered_offline_orders_are_listed_by_get_transactions() {
    let auto = AutoPilot {
        session_duration: Some(Duration::from_secs(120)),
        ..AutoPilot::default()
    };
    let mut h = online(1, Some(auto));
    let id = dev(&h, 0);
    h.with_backend(|b, _| {
        b.set_faults(BackendFaults {
            never_answer: vec![MessageCode::StopTransactionReq, MessageCode::TransactionReq],
            ..Default::default()
        })
    });
    h.with_charger(0, |c, now| c.authorize(now, 1, IdToken::App("u".into())))
        .unwrap();
    h.run_for(Duration::from_secs(200));
    // The stop was never confirmed: after a reconnect it is an offline order.
    h.cut_link(0);
    h.run_for(Duration::from_secs(30));
    assert_eq!(h.charger(0).phase(), Phase::Online);
    h.with_backend(|b, now| b.send_request(now, &id, pb::GetTransactionsReq::default().into()))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    let [Message::GetTransactionsConf(conf)] = &responses(&h, MessageCode::GetTransactionsReq)[..]
    else {
        panic!("no GetTransactionsConf");
    };
    assert_eq!(conf.transactions.len(), 1);
    assert!(!conf.more);
    assert_eq!(
        conf.transactions[0].meter_stop_wh - conf.transactions[0].meter_start_wh,
        240
    );
    // The backend recovers: the order is booked once.
    h.with_backend(|b, _| b.set_faults(BackendFaults::default()));
    h.cut_link(0);
    h.run_for(Duration::from_secs(60));
    assert_eq!(h.backend().ledger().len(), 1);
    assert!(h.backend().ledger().entries().next().unwrap().offline_order);
    assert_eq!(h.charger(0).outbox().count(), 0);
    assert!(
        h.charger(0).outbox_stats().failures >= 1,
        "{:?}",
        h.charger(0).outbox_stats()
    );
}

/// Many chargers, sessions starting all the time, the broker killed twice mid-run without
/// persistence and one flaky link: every transaction the chargers started ends up in the
/// ledger exactly once.
#[test]
fn broker_restarts_lose_no_transaction_and_book_none_twice() {
    let n = 40;
    let auto = AutoPilot {
        session_duration: Some(Duration::from_secs(900)),
        sample_interval: Duration::from_secs(30),
        ..AutoPilot::default()
    };
    let mut cfg = config(n, Some(auto));
    cfg.keep_events = false;
    cfg.broker.link = LinkModel {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(30),
        qos0_loss: 0.05,
        ..LinkModel::default()
    };
    let mut h = online_with(cfg);
    let ids: Vec<String> = (0..n).map(|i| dev(&h, i)).collect();
    let mut started_orders = 0;
    for round in 0..6u64 {
        for (i, id) in ids.iter().enumerate() {
            if (i as u64 + round).is_multiple_of(3) {
                let r = h.with_backend(|b, now| {
                    b.remote_start(
                        now,
                        id,
                        1,
                        &format!("u{i}"),
                        pb::ChargingPlan::default(),
                        60,
                    )
                });
                started_orders += usize::from(r.is_ok());
            }
        }
        h.run_for(Duration::from_secs(300));
        if round == 1 || round == 3 {
            h.restart_broker(Duration::from_secs(20 + 10 * round));
        }
        if round == 2 {
            h.cut_link(5);
        }
    }
    h.run_for(Duration::from_secs(3_600));
    let created: u64 = (0..n).map(|i| h.charger(i).outbox_stats().created).sum();
    let confirmed: u64 = (0..n).map(|i| h.charger(i).outbox_stats().confirmed).sum();
    assert!(
        created >= 40,
        "only {created} sessions of {started_orders} orders"
    );
    assert_eq!(confirmed, created, "every record confirmed");
    assert!((0..n).all(|i| h.charger(i).outbox().count() == 0));
    let ledger = h.backend().ledger();
    assert_eq!(ledger.len() as u64, created, "zero lost");
    for (i, id) in ids.iter().enumerate() {
        let records: Vec<u32> = ledger.of_charger(id).map(|e| e.record_id).collect();
        let mut unique = records.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            records.len(),
            unique.len(),
            "charger {i} booked a record twice"
        );
    }
    assert_eq!(h.broker.stats().restarts, 2);
    assert!(h.broker.stats().dropped_in_flight > 0 || h.broker.stats().dropped_offline > 0);
    assert_eq!(h.backend().stats().charging_info_before_start, 0);
    assert_eq!(h.unroutable(), 0);
}

#[test]
fn same_seed_same_run() {
    let run = || {
        let auto = AutoPilot::default();
        let mut cfg = config(8, Some(auto));
        cfg.keep_events = false;
        cfg.broker.link.qos0_loss = 0.1;
        let mut h = online_with(cfg);
        for i in 0..8 {
            let id = dev(&h, i);
            h.with_backend(|b, now| {
                b.remote_start(now, &id, 1, "u", pb::ChargingPlan::default(), 60)
            })
            .unwrap();
            h.run_for(Duration::from_secs(37));
        }
        h.restart_broker(Duration::from_secs(15));
        h.run_for(Duration::from_secs(2_000));
        let ledger: Vec<(String, u32, u64, u32)> = h
            .backend()
            .ledger()
            .entries()
            .map(|e| {
                (
                    e.charger.to_string(),
                    e.transaction_id,
                    e.energy_wh(),
                    e.cost.total_cost_milliyuan,
                )
            })
            .collect();
        (
            ledger,
            h.broker.stats(),
            h.backend().stats(),
            h.metrics().message_total(),
        )
    };
    let a = run();
    assert_eq!(a.0.len(), 8);
    assert_eq!(a, run());
}

/// A thousand chargers on virtual time: every one registers, logs in and completes a session;
/// the broker restarts once in the middle.
#[test]
fn a_thousand_chargers_on_virtual_time() {
    let n = 1_000;
    let auto = AutoPilot {
        session_duration: Some(Duration::from_secs(1_200)),
        sample_interval: Duration::from_secs(60),
        ..AutoPilot::default()
    };
    let mut cfg = config(n, Some(auto));
    cfg.keep_events = false;
    for (_, c) in &mut cfg.chargers {
        c.charging_info_interval = Duration::from_secs(120);
        c.telemetry_interval = Duration::from_secs(600);
    }
    let mut h = online_with(cfg);
    for i in 0..n {
        let id = dev(&h, i);
        h.with_backend(|b, now| b.remote_start(now, &id, 1, "u", pb::ChargingPlan::default(), 60))
            .unwrap();
    }
    h.run_for(Duration::from_secs(600));
    h.restart_broker(Duration::from_secs(30));
    h.run_for(Duration::from_secs(1_800));
    assert_eq!(h.backend().ledger().len(), n);
    assert!((0..n).all(|i| h.charger(i).outbox().count() == 0));
    assert_eq!(h.backend().stats().charging_info_before_start, 0);
}
