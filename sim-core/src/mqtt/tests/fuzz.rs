//! Arbitrary payloads to both sides: never a panic, every reply still decodes.

use proptest::prelude::*;
use proto::mqtt::apdu::Apdu;
use proto::mqtt::pb;
use proto::mqtt::topic::TopicClass;
use proto::mqtt::{Message, MessageCode};

use super::*;
use crate::mqtt::backend::Backend;
use crate::mqtt::charger::{ChargerClient, IdToken, Phase};
use crate::time::Instant;

const CLASSES: [TopicClass; 3] = [
    TopicClass::Registration,
    TopicClass::Command,
    TopicClass::Telemetry,
];

/// A charger logged in by hand, with a running transaction.
fn online_client() -> ChargerClient {
    let mut ident = identity(0);
    ident.device_id = Some("D1".into());
    let mut c = ChargerClient::new(ident, ClientConfig::default(), 1);
    let t = Instant::from_secs(1);
    assert_eq!(
        c.poll_transport(),
        Some(crate::mqtt::charger::TransportCommand::Connect)
    );
    c.handle_connected(t);
    let boot = c.poll_publish().unwrap();
    assert_eq!(boot.code, MessageCode::BootNotificationReq);
    let mut conf = Vec::new();
    Message::from(pb::BootNotificationConf {
        status: pb::BootStatus::Accepted as i32,
        ..Default::default()
    })
    .encode_apdu(boot.seq, &mut conf)
    .unwrap();
    c.handle_publish(t, TopicClass::Command, &conf);
    assert_eq!(c.phase(), Phase::Online);
    c.start_transaction(
        t,
        1,
        IdToken::App("u".into()),
        0.0,
        pb::ChargingPlan::default(),
    )
    .unwrap();
    while c.poll_publish().is_some() {}
    while c.poll_event().is_some() {}
    c
}

/// A backend with one registered, logged-in charger `D…` (returned).
fn online_backend() -> (Backend, String) {
    let mut b = Backend::new(BackendConfig::default(), BackendFaults::default(), 3);
    let t = Instant::from_secs(1);
    let mut buf = Vec::new();
    Message::from(pb::DeviceRegistrationReq {
        serial_number: "SN1".into(),
        ..Default::default()
    })
    .encode_apdu(1, &mut buf)
    .unwrap();
    b.handle_publish(t, "SN1", TopicClass::Registration, &buf);
    let id = b.device_id("SN1").unwrap().to_string();
    Message::from(pb::BootNotificationReq::default())
        .encode_apdu(2, &mut buf)
        .unwrap();
    b.handle_publish(t, &id, TopicClass::Command, &buf);
    assert!(b.is_logged_in(&id));
    while b.poll_publish().is_some() {}
    (b, id)
}

fn all_replies_decode_charger(c: &mut ChargerClient) -> Result<(), TestCaseError> {
    while let Some(out) = c.poll_publish() {
        let apdu = Apdu::decode(&out.payload);
        prop_assert!(apdu.is_ok(), "{:?}", apdu);
        prop_assert!(Message::decode_apdu(&out.payload).is_ok());
    }
    while c.poll_event().is_some() {}
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn charger_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300), class in 0usize..3) {
        let mut c = online_client();
        c.handle_publish(Instant::from_secs(2), CLASSES[class], &bytes);
        c.handle_timeout(Instant::from_secs(100));
        all_replies_decode_charger(&mut c)?;
    }

    #[test]
    fn charger_survives_valid_frames_with_arbitrary_payloads(
        code in 0usize..MessageCode::ALL.len(),
        seq in any::<u32>(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        class in 0usize..3,
    ) {
        let mut c = online_client();
        let code = MessageCode::ALL[code];
        let mut buf = Vec::new();
        Apdu { code, seq, payload: &payload }.encode(&mut buf).unwrap();
        c.handle_publish(Instant::from_secs(2), CLASSES[class], &buf);
        c.handle_timeout(Instant::from_secs(3));
        all_replies_decode_charger(&mut c)?;
        // Still usable afterwards.
        let _ = c.authorize(Instant::from_secs(4), 1, IdToken::Card("x".into()));
        all_replies_decode_charger(&mut c)?;
    }

    #[test]
    fn backend_survives_arbitrary_payloads(
        code in 0usize..MessageCode::ALL.len(),
        seq in any::<u32>(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        raw in proptest::collection::vec(any::<u8>(), 0..100),
        class in 0usize..3,
    ) {
        let (mut b, id) = online_backend();
        let t = Instant::from_secs(2);
        b.handle_publish(t, &id, CLASSES[class], &raw);
        let mut buf = Vec::new();
        Apdu { code: MessageCode::ALL[code], seq, payload: &payload }.encode(&mut buf).unwrap();
        b.handle_publish(t, &id, CLASSES[class], &buf);
        b.handle_publish(t, "SN1", TopicClass::Registration, &buf);
        b.handle_publish(t, "no/such id", CLASSES[class], &buf);
        b.handle_timeout(Instant::from_secs(100));
        while let Some(d) = b.poll_publish() {
            prop_assert!(Message::decode_apdu(&d.payload).is_ok());
        }
        while b.poll_event().is_some() {}
    }
}
