//! MessageError both ways and the backend's fault modes.

use proto::mqtt::pb;
use proto::mqtt::topic::TopicClass;
use proto::mqtt::{Message, MessageCode};

use super::*;
use crate::mqtt::charger::IdToken;

fn charger_errors_received(h: &SimHarness) -> Vec<pb::ErrorCode> {
    h.backend_events()
        .filter_map(|e| match e {
            BackendEvent::MessageErrorReceived { error, .. } => Some(error.error_code()),
            _ => None,
        })
        .collect()
}

#[test]
fn garbage_unknown_codes_wrong_seqs_and_oversized_payloads_get_message_error() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    let raw = |h: &mut SimHarness, bytes: Vec<u8>| {
        h.with_backend(|b, now| b.send_raw(now, &id, TopicClass::Command, bytes))
            .unwrap();
        h.run_for(Duration::from_secs(1));
    };
    // Not protobuf at all.
    raw(&mut h, vec![0xFF, 0xFF, 0xFF]);
    // Unknown message code 0x02.
    raw(&mut h, vec![0x08, 0x02, 0x10, 0x05]);
    // A BootNotificationConf for a seq the charger never used.
    let mut wrong_seq = Vec::new();
    Message::from(pb::BootNotificationConf::default())
        .encode_apdu(4242, &mut wrong_seq)
        .unwrap();
    raw(&mut h, wrong_seq);
    // A 300 KiB payload.
    let mut big = vec![0x08, 0x03, 0x10, 0x09, 0x1A, 0x80, 0xC0, 0x12];
    big.resize(big.len() + 300 * 1024, 0);
    raw(&mut h, big);
    // A valid code with a payload that is not its protobuf.
    raw(&mut h, vec![0x08, 0x03, 0x10, 0x06, 0x1A, 0x02, 0x0A, 0x7F]);
    // A charger-only request sent down.
    let mut wrong_way = Vec::new();
    Message::from(pb::BootNotificationReq::default())
        .encode_apdu(7, &mut wrong_way)
        .unwrap();
    raw(&mut h, wrong_way);
    use pb::ErrorCode::*;
    assert_eq!(
        charger_errors_received(&h),
        [
            FormationViolation,
            NotImplemented,
            ProtocolError,
            PropertyConstraintViolation,
            FormationViolation,
            ProtocolError
        ]
    );
    assert_eq!(error_count(&h, "mqtt.charger.decode_error"), 5);
    assert_eq!(error_count(&h, "mqtt.charger.unexpected"), 1);
    assert_eq!(h.charger(0).stats().errors_sent, 6);
    // The charger still works.
    h.with_charger(0, |c, now| c.authorize(now, 1, IdToken::App("u".into())))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    assert!(events(&h, 0).iter().any(|e| matches!(
        e,
        ClientEvent::Authorized {
            accepted: true,
            offline: false,
            ..
        }
    )));
}

#[test]
fn the_backend_answers_garbage_with_message_error_and_the_charger_counts_it() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    let before = h.backend().stats().errors_sent;
    h.with_backend(|b, now| {
        b.handle_publish(now, &id, TopicClass::Command, &[0x0A, 0x05]);
        b.handle_publish(now, &id, TopicClass::Command, &[0x08, 0x7E]);
        b.handle_publish(now, "DNOTREGISTERED", TopicClass::Telemetry, &[0x08, 0x21]);
    });
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.backend().stats().errors_sent - before, 3);
    assert_eq!(
        error_count(&h, "mqtt.backend.decode_error"),
        2,
        "{:?}",
        h.metrics().errors()
    );
    assert_eq!(error_count(&h, "mqtt.backend.unexpected"), 1);
    // The MessageError for the device's own garbage reached the charger and was counted
    // (it answers no pending request of the charger).
    assert_eq!(
        error_count(&h, "mqtt.charger.message_error"),
        2,
        "{:?}",
        h.metrics().errors()
    );
    // A MessageError is never answered with a MessageError.
    assert_eq!(h.charger(0).stats().errors_sent, 0);
}

#[test]
fn slow_responses_show_in_latency_from_the_intended_send_time() {
    let mut h = online(1, None);
    h.with_backend(|b, _| {
        b.set_faults(BackendFaults {
            response_delay: Duration::from_secs(2),
            ..Default::default()
        })
    });
    for _ in 0..5 {
        h.with_charger(0, |c, now| c.authorize(now, 1, IdToken::App("u".into())))
            .unwrap();
        h.run_for(Duration::from_secs(5));
    }
    let (_, series) = h
        .metrics()
        .latency_series()
        .find(|(n, _)| *n == "mqtt.AuthorizeReq")
        .unwrap();
    assert_eq!(series.corrected_us.len(), 5);
    assert!(series.corrected_us.min() >= 2_000_000);
    assert!(series.corrected_us.max() < 2_100_000);
}

#[test]
fn unanswered_authorize_falls_back_to_the_cache_after_the_timeout() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    let cache = pb::UpdateIdCardCacheReq {
        list_version: 4,
        update_type: pb::CacheUpdateType::Differential as i32,
        entries: vec![pb::IdCardEntry {
            id_tag: "C1".into(),
            action: pb::CacheEntryAction::Add as i32,
            id_tag_info: Some(pb::IdTagInfo {
                status: pb::AuthorizationStatus::Accepted as i32,
                ..Default::default()
            }),
        }],
    };
    h.with_backend(|b, now| b.send_request(now, &id, cache.into()))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    let [Message::UpdateIdCardCacheConf(conf)] =
        &responses(&h, MessageCode::UpdateIdCardCacheReq)[..]
    else {
        panic!()
    };
    assert_eq!(
        (conf.status(), conf.list_version),
        (pb::CacheUpdateStatus::Accepted, 4)
    );
    h.with_backend(|b, _| {
        b.set_faults(BackendFaults {
            never_answer: vec![MessageCode::AuthorizeReq],
            ..Default::default()
        })
    });
    h.with_charger(0, |c, now| c.authorize(now, 1, IdToken::Card("C1".into())))
        .unwrap();
    h.run_for(Duration::from_secs(29));
    assert!(
        !events(&h, 0)
            .iter()
            .any(|e| matches!(e, ClientEvent::Authorized { .. }))
    );
    h.run_for(Duration::from_secs(2));
    assert!(events(&h, 0).contains(&ClientEvent::Authorized {
        connector: 1,
        id_tag: "C1".into(),
        kind: pb::IdTagKind::Card,
        accepted: true,
        offline: true
    }));
    assert_eq!(error_count(&h, "mqtt.charger.timeout"), 1);
}

/// Dropped and malformed responses: the outbox retries until every transaction is booked once.
#[test]
fn dropped_and_malformed_responses_lose_no_transaction() {
    let n = 12;
    let auto = AutoPilot {
        session_duration: Some(Duration::from_secs(300)),
        sample_interval: Duration::from_secs(30),
        ..AutoPilot::default()
    };
    let mut cfg = config(n, Some(auto));
    cfg.keep_events = false;
    let mut h = online_with(cfg);
    h.with_backend(|b, _| {
        b.set_faults(BackendFaults {
            drop_response_ratio: 0.2,
            malformed_ratio: 0.2,
            response_delay: Duration::from_millis(300),
            response_jitter: Duration::from_millis(500),
            ..Default::default()
        })
    });
    for round in 0..4 {
        for i in 0..n {
            let id = dev(&h, i);
            h.with_backend(|b, now| {
                b.remote_start(
                    now,
                    &id,
                    1,
                    &format!("u{round}"),
                    pb::ChargingPlan::default(),
                    60,
                )
            })
            .unwrap();
        }
        h.run_for(Duration::from_secs(400));
    }
    h.with_backend(|b, _| b.set_faults(BackendFaults::default()));
    h.run_for(Duration::from_secs(1_800));
    let created: u64 = (0..n).map(|i| h.charger(i).outbox_stats().created).sum();
    assert!(created >= 20, "{created}");
    for i in 0..n {
        let left: Vec<_> = h
            .charger(i)
            .outbox()
            .map(|r| {
                (
                    r.record_id,
                    r.stop.is_some(),
                    r.offline_order,
                    r.transaction_id,
                )
            })
            .collect();
        assert!(
            left.is_empty(),
            "charger {i}: {left:?} {:?} {:?}",
            h.charger(i).outbox_stats(),
            h.charger(i).phase()
        );
    }
    assert_eq!(h.backend().ledger().len() as u64, created);
    let stats = h.backend().stats();
    assert!(
        stats.dropped_responses > 0 && stats.malformed_responses > 0,
        "{stats:?}"
    );
    assert!(error_count(&h, "mqtt.charger.decode_error") > 0);
    assert!(error_count(&h, "mqtt.charger.timeout") > 0);
    assert!(h.charger(0).stats().errors_sent > 0);
}

#[test]
fn qos2_duplicates_from_the_transport_are_acted_on_once() {
    let mut cfg = config(1, Some(AutoPilot::default()));
    cfg.broker.link.qos2_duplicate = 1.0;
    let mut h = online_with(cfg);
    let id = dev(&h, 0);
    h.with_backend(|b, now| b.remote_start(now, &id, 1, "u", pb::ChargingPlan::default(), 60))
        .unwrap();
    h.run_for(Duration::from_secs(900));
    // Every downlink arrived twice; the remote start ran once, the ledger has one entry.
    assert_eq!(h.charger(0).outbox_stats().created, 1);
    assert_eq!(h.backend().ledger().len(), 1);
    assert!(error_count(&h, "mqtt.charger.duplicate") > 0);
    assert!(h.broker.stats().duplicated > 0);
}
