//! Device management, configuration, remote control, firmware, diagnostics, reservations,
//! monitoring and tariff flows.

use proto::mqtt::control::ResetKind;
use proto::mqtt::pb;
use proto::mqtt::{Message, MessageCode};

use super::*;
use crate::mqtt::charger::{IdToken, Phase};
use crate::time::Instant;

#[test]
fn registers_once_then_logs_in_on_every_reconnect() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    assert!(id.starts_with('D'));
    let ev = events(&h, 0);
    assert_eq!(
        ev[0],
        ClientEvent::Registered {
            device_id: id.clone()
        }
    );
    assert_eq!(ev[1], ClientEvent::BootAccepted);
    h.cut_link(0);
    h.run_for(Duration::from_secs(120));
    assert_eq!(h.charger(0).phase(), Phase::Online);
    let boots: Vec<(bool, pb::BootReason)> = h
        .backend_events()
        .filter_map(|e| match e {
            BackendEvent::Booted {
                accepted, reason, ..
            } => Some((*accepted, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        boots,
        [
            (true, pb::BootReason::PowerUp),
            (true, pb::BootReason::Reconnect)
        ]
    );
    let registrations = h
        .backend_events()
        .filter(|e| matches!(e, BackendEvent::Registered { .. }))
        .count();
    assert_eq!(registrations, 1, "identity is kept");
    assert_eq!(h.device_id(0).unwrap(), id);
}

#[test]
fn wrong_registration_code_is_refused_and_retried() {
    let mut cfg = config(1, None);
    cfg.chargers[0].0.registration_code = "WRONG".into();
    let mut h = SimHarness::new(cfg);
    h.run_for(Duration::from_secs(130));
    assert_eq!(h.charger(0).phase(), Phase::Registering);
    assert!(h.device_id(0).is_none());
    let refusals = h
        .backend_events()
        .filter(|e| {
            matches!(
                e,
                BackendEvent::RegistrationRefused {
                    status: pb::RegistrationStatus::InvalidRegistrationCode,
                    ..
                }
            )
        })
        .count();
    // At 0 s, 60 s and 120 s.
    assert_eq!(refusals, 3);
    assert!(
        events(&h, 0)
            .iter()
            .all(|e| matches!(e, ClientEvent::RegistrationRejected { .. }))
    );
}

#[test]
fn rejected_login_is_retried_at_the_given_interval() {
    let mut cfg = config(1, None);
    cfg.faults.reject_boot_ratio = 1.0;
    let mut h = SimHarness::new(cfg);
    h.run_for(Duration::from_secs(5));
    assert_eq!(h.charger(0).phase(), Phase::Booting);
    assert!(events(&h, 0).contains(&ClientEvent::BootRejected {
        status: pb::BootStatus::Rejected,
        retry_in: Duration::from_secs(10),
    }));
    h.with_backend(|b, _| b.set_faults(BackendFaults::default()));
    h.run_for(Duration::from_secs(11));
    assert_eq!(h.charger(0).phase(), Phase::Online);
    let rejected = h.backend().stats().rejected_boots;
    assert_eq!(rejected, 1);
    // Business messages wait for the login: nothing was refused as "not logged in".
    assert_eq!(error_count(&h, "mqtt.backend.unexpected"), 0);
}

#[test]
fn change_and_get_configuration_with_readonly_refusal() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    h.with_backend(|b, now| {
        b.change_configuration(
            now,
            &id,
            &[
                ("HeartbeatInterval", "10"),
                ("SerialNumber", "X"),
                ("NoSuchKey", "1"),
            ],
        )
    })
    .unwrap();
    h.run_for(Duration::from_secs(1));
    let [Message::ChangeConfigurationConf(conf)] =
        &responses(&h, MessageCode::ChangeConfigurationReq)[..]
    else {
        panic!("no ChangeConfigurationConf");
    };
    assert_eq!(conf.status(), pb::ConfigurationStatus::Rejected);
    let statuses: Vec<_> = conf.results.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses,
        [
            pb::ConfigurationStatus::Accepted,
            pb::ConfigurationStatus::Rejected,
            pb::ConfigurationStatus::NotSupported
        ]
    );
    assert_eq!(
        h.charger(0).config().heartbeat_interval,
        Duration::from_secs(10)
    );
    // Seed example 2: server address and credentials at once.
    h.with_backend(|b, now| {
        b.change_configuration(
            now,
            &id,
            &[
                ("ServerAddress", "test.com:1884"),
                ("Username", "test"),
                ("Password", "test"),
            ],
        )
    })
    .unwrap();
    h.with_backend(|b, now| {
        b.get_configuration(
            now,
            &id,
            &[
                "HeartbeatInterval",
                "ServerAddress",
                "Password",
                "SerialNumber",
                "Bogus",
            ],
        )
    })
    .unwrap();
    h.run_for(Duration::from_secs(1));
    let got = responses(&h, MessageCode::GetConfigurationReq);
    let [Message::GetConfigurationConf(conf)] = &got[..] else {
        panic!("{got:?}")
    };
    let kv: Vec<(&str, &str, bool)> = conf
        .configuration_key
        .iter()
        .map(|k| (k.key.as_str(), k.value.as_str(), k.readonly))
        .collect();
    assert_eq!(
        kv,
        [
            ("HeartbeatInterval", "10", false),
            ("ServerAddress", "test.com:1884", false),
            ("Password", "********", false),
            ("SerialNumber", "SN00000", true),
        ]
    );
    assert_eq!(conf.unknown_key, ["Bogus"]);
}

#[test]
fn reset_reboots_and_logs_in_again_without_losing_the_session() {
    let mut h = online(1, Some(AutoPilot::default()));
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::App("user-1".into()))
    })
    .unwrap();
    h.run_for(Duration::from_secs(60));
    assert!(
        h.charger(0).active_transaction(1).is_some(),
        "{:?}",
        events(&h, 0)
    );
    let id = dev(&h, 0);
    h.with_backend(|b, now| b.reset(now, &id, ResetKind::System))
        .unwrap();
    h.run_for(Duration::from_secs(60));
    let ev = events(&h, 0);
    assert!(ev.contains(&ClientEvent::Reset {
        kind: ResetKind::System
    }));
    assert!(ev.contains(&ClientEvent::Rebooted {
        reason: pb::BootReason::Reboot
    }));
    assert_eq!(h.charger(0).phase(), Phase::Online);
    let reasons: Vec<pb::BootReason> = h
        .backend_events()
        .filter_map(|e| match e {
            BackendEvent::Booted { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [pb::BootReason::PowerUp, pb::BootReason::Reboot]);
    let ledger = h.backend().ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        ledger.entries().next().unwrap().reason,
        pb::StopReason::HardReset
    );
    assert_eq!(h.charger(0).outbox().count(), 0);
}

#[test]
fn firmware_update_downloads_installs_reboots_and_reports_the_new_version() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    h.with_backend(|b, now| b.update_firmware(now, &id, "cs-ac7.bin", "2.0.0", None))
        .unwrap();
    h.run_for(Duration::from_secs(120));
    let steps: Vec<pb::FirmwareStatus> = notifications(&h)
        .into_iter()
        .filter_map(|m| match m {
            Message::FirmwareStatusNotificationReq(r) => Some(r.status()),
            _ => None,
        })
        .collect();
    use pb::FirmwareStatus::*;
    assert_eq!(
        steps,
        [Accepted, Downloading, Downloaded, Installing, Installed]
    );
    let boot = h.backend_events().filter_map(|e| match e {
        BackendEvent::Booted {
            reason,
            firmware_version,
            ..
        } => Some((*reason, firmware_version.clone())),
        _ => None,
    });
    assert_eq!(
        boot.last(),
        Some((pb::BootReason::FirmwareUpdate, "2.0.0".to_owned()))
    );
    assert_eq!(h.backend().firmware_version(&id), Some("2.0.0"));
    assert_eq!(h.charger(0).identity().firmware_version, "2.0.0");
}

#[test]
fn firmware_with_a_bad_md5_fails_the_download_and_keeps_the_version() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    let bad = "0123456789abcdef0123456789abcdef";
    h.with_backend(|b, now| b.update_firmware(now, &id, "cs-ac7.bin", "2.0.0", Some(bad)))
        .unwrap();
    h.run_for(Duration::from_secs(120));
    let last = notifications(&h).into_iter().rev().find_map(|m| match m {
        Message::FirmwareStatusNotificationReq(r) => Some(r),
        _ => None,
    });
    let last = last.unwrap();
    assert_eq!(last.status(), pb::FirmwareStatus::DownloadFailed);
    assert!(last.info.contains("md5 mismatch"), "{}", last.info);
    assert_eq!(h.charger(0).identity().firmware_version, "1.0.0");
    let boots = h
        .backend_events()
        .filter(|e| matches!(e, BackendEvent::Booted { .. }))
        .count();
    assert_eq!(boots, 1, "no reboot after a failed download");
}

#[test]
fn diagnostics_upload_reports_its_steps() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    let req = |url: &str| pb::GetDiagnosticsReq {
        location_url: url.into(),
        ..Default::default()
    };
    h.with_backend(|b, now| b.send_request(now, &id, req("ftp://logs.invalid/").into()))
        .unwrap();
    h.run_for(Duration::from_secs(10));
    h.with_backend(|b, now| b.send_request(now, &id, req("smb://logs.invalid/").into()))
        .unwrap();
    h.run_for(Duration::from_secs(10));
    let files: Vec<String> = responses(&h, MessageCode::GetDiagnosticsReq)
        .into_iter()
        .filter_map(|m| match m {
            Message::GetDiagnosticsConf(c) => Some(c.file_name),
            _ => None,
        })
        .collect();
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.starts_with("diag-SN00000-")));
    let steps: Vec<pb::DiagnosticsStatus> = notifications(&h)
        .into_iter()
        .filter_map(|m| match m {
            Message::DiagnosticsStatusNotificationReq(r) => Some(r.status()),
            _ => None,
        })
        .collect();
    use pb::DiagnosticsStatus::*;
    assert_eq!(steps, [Uploading, Uploaded, Uploading, UploadFailed]);
}

#[test]
fn reservation_holds_the_connector_until_cancelled_or_expired() {
    let mut h = online(1, Some(AutoPilot::default()));
    let id = dev(&h, 0);
    h.with_backend(|b, _| b.add_card("CARD-R", pb::AuthorizationStatus::Accepted, 0));
    h.with_backend(|b, _| b.add_card("CARD-X", pb::AuthorizationStatus::Accepted, 0));
    let expiry =
        |h: &SimHarness, s: i64| crate::mqtt::clock::WallClock::default().unix_s(h.now()) + s;
    let reserve = |id_tag: &str, reservation_id, expiry| pb::ReserveNowReq {
        connector_id: 1,
        expiry_unix_s: expiry,
        id_tag: id_tag.into(),
        parent_id_tag: String::new(),
        reservation_id,
    };
    let e = expiry(&h, 300);
    h.with_backend(|b, now| b.send_request(now, &id, reserve("CARD-R", 7, e).into()))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(
        h.charger(0).connector_status(1),
        Some(pb::ConnectorStatus::Reserved)
    );
    // Another card is refused at the reserved connector.
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::Card("CARD-X".into()))
    })
    .unwrap();
    h.run_for(Duration::from_secs(1));
    assert!(events(&h, 0).iter().any(|e| matches!(e, ClientEvent::Authorized { id_tag, accepted: false, .. } if id_tag == "CARD-X")));
    h.with_backend(|b, now| {
        b.send_request(
            now,
            &id,
            pb::CancelReservationReq { reservation_id: 7 }.into(),
        )
    })
    .unwrap();
    h.with_backend(|b, now| {
        b.send_request(
            now,
            &id,
            pb::CancelReservationReq { reservation_id: 99 }.into(),
        )
    })
    .unwrap();
    h.run_for(Duration::from_secs(1));
    let cancels: Vec<pb::RequestStatus> = responses(&h, MessageCode::CancelReservationReq)
        .into_iter()
        .filter_map(|m| match m {
            Message::CancelReservationConf(c) => Some(c.status()),
            _ => None,
        })
        .collect();
    assert_eq!(
        cancels,
        [pb::RequestStatus::Accepted, pb::RequestStatus::Rejected]
    );
    assert_eq!(
        h.charger(0).connector_status(1),
        Some(pb::ConnectorStatus::Available)
    );
    // A reservation that nobody uses expires.
    let e = expiry(&h, 60);
    h.with_backend(|b, now| b.send_request(now, &id, reserve("CARD-R", 8, e).into()))
        .unwrap();
    h.run_for(Duration::from_secs(61));
    assert!(events(&h, 0).contains(&ClientEvent::ReservationEnded {
        connector: 1,
        reservation_id: 8,
        expired: true
    }));
    // The holder's own card starts and consumes the reservation.
    let e = expiry(&h, 300);
    h.with_backend(|b, now| b.send_request(now, &id, reserve("CARD-R", 9, e).into()))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::Card("CARD-R".into()))
    })
    .unwrap();
    h.run_for(Duration::from_secs(700));
    let entry = h.backend().ledger().entries().next().cloned().unwrap();
    assert_eq!(entry.id_tag, "CARD-R");
    let conf_statuses: Vec<pb::ReservationStatus> = responses(&h, MessageCode::ReserveNowReq)
        .into_iter()
        .filter_map(|m| match m {
            Message::ReserveNowConf(c) => Some(c.status()),
            _ => None,
        })
        .collect();
    assert_eq!(conf_statuses, [pb::ReservationStatus::Accepted; 3]);
}

#[test]
fn warnings_are_reported_listed_and_mirrored_in_telemetry() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    h.with_charger(0, |c, now| {
        c.set_warning(
            now,
            1,
            pb::WarningCode::HighTemperature,
            true,
            pb::WarningLevel::EquipmentSafety,
        )
    })
    .unwrap();
    h.with_charger(0, |c, now| {
        c.set_warning(
            now,
            1,
            pb::WarningCode::ConnectorLockFailure,
            true,
            pb::WarningLevel::Notice,
        )
    })
    .unwrap();
    h.with_charger(0, |c, now| {
        c.set_warning(
            now,
            1,
            pb::WarningCode::ConnectorLockFailure,
            false,
            pb::WarningLevel::Notice,
        )
    })
    .unwrap();
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.backend().warnings(&id).len(), 3);
    let req = pb::GetWarningReq {
        active_only: true,
        ..Default::default()
    };
    h.with_backend(|b, now| b.send_request(now, &id, req.into()))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    let [Message::GetWarningConf(conf)] = &responses(&h, MessageCode::GetWarningReq)[..] else {
        panic!("no GetWarningConf")
    };
    let codes: Vec<pb::WarningCode> = conf.warnings.iter().map(|w| w.code()).collect();
    assert_eq!(codes, [pb::WarningCode::HighTemperature]);
}

#[test]
fn trigger_message_sends_what_was_asked_or_says_not_implemented() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    let before = h.backend().stats().telemetry;
    let trigger = |code: MessageCode| pb::TriggerMessageReq {
        requested_code: i32::from(code.value()),
        connector_id: 0,
    };
    h.with_backend(|b, now| b.send_request(now, &id, trigger(MessageCode::TelemetryReq).into()))
        .unwrap();
    h.with_backend(|b, now| {
        b.send_request(now, &id, trigger(MessageCode::StartTransactionReq).into())
    })
    .unwrap();
    h.with_backend(|b, now| {
        b.send_request(
            now,
            &id,
            trigger(MessageCode::FirmwareStatusNotificationReq).into(),
        )
    })
    .unwrap();
    h.run_for(Duration::from_secs(1));
    let statuses: Vec<pb::TriggerMessageStatus> = responses(&h, MessageCode::TriggerMessageReq)
        .into_iter()
        .filter_map(|m| match m {
            Message::TriggerMessageConf(c) => Some(c.status()),
            _ => None,
        })
        .collect();
    use pb::TriggerMessageStatus::*;
    assert_eq!(statuses, [Accepted, NotImplemented, Accepted]);
    assert!(h.backend().stats().telemetry > before);
    assert!(
        notifications(&h)
            .iter()
            .any(|m| matches!(m, Message::FirmwareStatusNotificationReq(_)))
    );
}

#[test]
fn tariffs_are_requested_at_login_pushed_and_validated() {
    let mut h = online(1, None);
    let id = dev(&h, 0);
    // Seed way 1: the charger asked after login and got the backend's template.
    assert_eq!(h.charger(0).tariff().map(|t| t.id), Some(1));
    assert!(
        h.metrics()
            .latency_series()
            .any(|(name, _)| name == "mqtt.SetTariffReq")
    );
    // Seed way 2: the backend pushes example 2.
    let mut example2 = pb::SetTariffReq {
        tariff_id: 2,
        ..Default::default()
    };
    for (s, e, tag, p) in [
        (0, 420, "valley", 255),
        (420, 1380, "flat", 699),
        (1380, 1440, "valley", 255),
    ] {
        example2.tariff_charge.push(pb::TariffCharge {
            time_start_min_of_day: s,
            time_end_min_of_day: e,
            tag: tag.into(),
            elec_price_milliyuan_per_kwh: p,
            service_price_milliyuan_per_kwh: 1000,
        });
    }
    let t2 = Tariff::from_pb(&example2).unwrap();
    h.with_backend(|b, now| b.push_tariff(now, &id, &t2))
        .unwrap();
    let mut gap = example2.clone();
    gap.tariff_id = 3;
    gap.tariff_charge.remove(1);
    h.with_backend(|b, now| b.send_request(now, &id, gap.into()))
        .unwrap();
    h.run_for(Duration::from_secs(1));
    let confs: Vec<(pb::RequestStatus, u32)> = responses(&h, MessageCode::SetTariffReq)
        .into_iter()
        .filter_map(|m| match m {
            Message::SetTariffConf(c) => Some((c.status(), c.tariff_id)),
            _ => None,
        })
        .collect();
    // The first is the confirmation of the login's tariff answer.
    assert_eq!(
        confs,
        [
            (pb::RequestStatus::Accepted, 1),
            (pb::RequestStatus::Accepted, 2),
            (pb::RequestStatus::Rejected, 3)
        ]
    );
    assert_eq!(h.charger(0).tariff().map(|t| t.id), Some(2));
    assert!(events(&h, 0).contains(&ClientEvent::TariffChanged { tariff_id: 2 }));
}

#[test]
fn card_authorization_online_accepts_known_and_refuses_unknown_cards() {
    let mut h = online(1, Some(AutoPilot::default()));
    h.with_backend(|b, _| b.add_card("CARD-1", pb::AuthorizationStatus::Accepted, 0));
    h.with_backend(|b, _| b.add_card("CARD-B", pb::AuthorizationStatus::Blocked, 0));
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::Card("NOPE".into()))
    })
    .unwrap();
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::Card("CARD-B".into()))
    })
    .unwrap();
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::Card("CARD-1".into()))
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
            ("NOPE".into(), false, false),
            ("CARD-B".into(), false, false),
            ("CARD-1".into(), true, false)
        ]
    );
    assert_eq!(h.backend().ledger().len(), 1);
    // Every swipe refreshed the cache.
    assert!(h.charger(0).card_cache().accepts("CARD-1", 0));
    assert!(!h.charger(0).card_cache().accepts("CARD-B", 0));
    assert!(
        h.metrics()
            .latency_series()
            .any(|(name, _)| name == "mqtt.AuthorizeReq")
    );
    let _ = Instant::ZERO;
}

#[test]
fn vin_start_authorizes_the_vehicle_identity() {
    let mut h = online(1, Some(AutoPilot::default()));
    h.with_backend(|b, _| b.add_card("LSVAU2180N2183294", pb::AuthorizationStatus::Accepted, 0));
    h.with_charger(0, |c, now| {
        c.authorize(now, 1, IdToken::Vin("LSVAU2180N2183294".into()))
    })
    .unwrap();
    h.run_for(Duration::from_secs(1));
    assert!(
        events(&h, 0)
            .iter()
            .any(|e| matches!(e, ClientEvent::Authorized { accepted: true, .. }))
    );
    let record = h.charger(0).active_transaction(1).unwrap();
    h.with_charger(0, |c, now| {
        c.stop_transaction(now, record, 10.0, pb::StopReason::Local)
    })
    .unwrap();
    h.run_for(Duration::from_secs(2));
    assert_eq!(
        h.backend().ledger().entries().next().unwrap().id_tag,
        "LSVAU2180N2183294"
    );
}

#[test]
fn command_load_runs_at_its_rate_round_robin_and_every_charger_answers() {
    let mut h = online(3, None);
    h.with_backend(|b, _| b.set_command_load(200.0));
    h.run_for(Duration::from_secs(2));
    // 2 s at 200/s from the first timer call: 400 commands, the one due at the end included.
    let scheduled = h.backend().load_commands_scheduled();
    assert!((400..=401).contains(&scheduled), "{scheduled}");
    // Every command is answered except those still on the simulated links (≤ 20 ms).
    let answered = responses(&h, MessageCode::GetConfigurationReq).len() as u64;
    assert!(
        answered <= scheduled && answered + 5 >= scheduled,
        "{answered}"
    );
    // Round-robin: each of the three chargers got a third.
    for i in 0..3 {
        let id = dev(&h, i);
        let n = h
            .backend_events()
            .filter(|e| {
                matches!(e, BackendEvent::Response { charger, request: MessageCode::GetConfigurationReq, .. }
                    if **charger == *id)
            })
            .count() as u64;
        assert!(
            n * 3 + 6 >= answered && n * 3 <= answered + 6,
            "charger {i}: {n}"
        );
    }
    let (_, latency) = h
        .metrics()
        .latency_series()
        .find(|(name, _)| *name == "mqtt.GetConfigurationReq")
        .unwrap();
    assert_eq!(latency.corrected_us.len(), answered);
    // Two simulated one-way trips of 5–7 ms each.
    assert!(latency.corrected_us.value_at_quantile(0.5) >= 10_000);
    h.with_backend(|b, _| b.set_command_load(0.0));
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.backend().load_commands_scheduled(), 0);
}
