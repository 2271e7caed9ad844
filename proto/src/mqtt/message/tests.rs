//! Tests of [`Message`]: every message round-trips, typed errors, routing checks, fuzzing.

use super::*;
use crate::mqtt::apdu::{DEFAULT_MAX_PAYLOAD_LEN, Sender};
use proptest::prelude::*;

#[test]
fn samples_cover_every_code_once_in_order() {
    let codes: Vec<_> = samples::all().iter().map(Message::code).collect();
    assert_eq!(codes, MessageCode::ALL);
}

#[test]
fn every_message_round_trips_through_apdu_and_protobuf() {
    let mut buf = Vec::new();
    for (index, message) in samples::all().into_iter().enumerate() {
        let seq = 0x1000 + index as Seq;
        message.encode_apdu(seq, &mut buf).unwrap();
        assert_eq!(
            buf.len(),
            message.encoded_apdu_len(seq),
            "{:?}",
            message.code()
        );
        assert_eq!(buf[0], 0x08, "APDU starts with the code field");
        assert_eq!(Message::decode_apdu(&buf).unwrap(), (seq, message.clone()));
        // Only the three empty confirmations have an empty payload.
        let empty = message.encoded_payload_len() == 0;
        let expect_empty = matches!(
            message,
            Message::FirmwareStatusNotificationConf(_)
                | Message::DiagnosticsStatusNotificationConf(_)
                | Message::WarningConf(_)
        );
        assert_eq!(empty, expect_empty, "{:?}", message.code());
    }
}

#[test]
fn encode_reuses_the_buffer() {
    let mut buf = Vec::new();
    let big = Message::from(samples::seed_tariff_example_2());
    big.encode_apdu(1, &mut buf).unwrap();
    let capacity = buf.capacity();
    let small = Message::from(pb::CancelReservationReq { reservation_id: 1 });
    small.encode_apdu(2, &mut buf).unwrap();
    assert_eq!(buf, [0x08, 0x16, 0x10, 0x02, 0x1A, 0x02, 0x08, 0x01]);
    assert_eq!(
        buf.capacity(),
        capacity,
        "no reallocation for a smaller message"
    );
}

#[test]
fn seed_charger_set_tariff_request_has_an_empty_payload() {
    // Seed: "充电站向后台发送'设置计费模版请求'消息时,APDU的消息ID为'设置计费模版请求',payload为空".
    let mut buf = Vec::new();
    Message::from(pb::SetTariffReq::default())
        .encode_apdu(5, &mut buf)
        .unwrap();
    assert_eq!(buf, [0x08, 0x34, 0x10, 0x05]);
    let topic = Topic::parse("/U/C/dev-1").unwrap();
    let (seq, message) = Message::decode_apdu_on(&topic, &buf).unwrap();
    assert_eq!((seq, message), (5, pb::SetTariffReq::default().into()));
}

#[test]
fn seed_examples_keep_their_values() {
    let tariff = samples::seed_tariff_example_2();
    let minutes: u32 = tariff
        .tariff_charge
        .iter()
        .map(|s| s.time_end_min_of_day - s.time_start_min_of_day)
        .sum();
    assert_eq!(minutes, 24 * 60, "the seed's nine segments cover the day");
    let telemetry = samples::seed_telemetry_example();
    assert_eq!(telemetry.values[1].measurand(), pb::Measurand::Voltage);
    assert_eq!(telemetry.values[1].value, 2200, "220.0 V at 0.1 V per unit");
    assert_eq!(telemetry.component(), pb::Component::Connector);
}

#[test]
fn garbage_payload_is_a_payload_error_with_its_code() {
    // code 0x01, seq 9, payload FF: a key with field number 31 and invalid wire type 7.
    let bytes = [0x08, 0x01, 0x10, 0x09, 0x1A, 0x01, 0xFF];
    match Message::decode_apdu(&bytes) {
        Err(MqttWireError::Payload { code, .. }) => {
            assert_eq!(code, MessageCode::BootNotificationReq)
        }
        other => panic!("unexpected {other:?}"),
    }
    // BootNotificationReq field 1 is a string; a varint there is a type mismatch.
    let bytes = [0x08, 0x01, 0x1A, 0x02, 0x08, 0x01];
    let err = Message::decode_apdu(&bytes).unwrap_err();
    assert!(matches!(
        err,
        MqttWireError::Payload {
            code: MessageCode::BootNotificationReq,
            ..
        }
    ));
    assert_eq!(err.error_code(), pb::ErrorCode::FormationViolation);
    // A string that is not UTF-8.
    let bytes = [0x08, 0x0A, 0x1A, 0x03, 0x0A, 0x01, 0xFF];
    assert!(matches!(
        Message::decode_apdu(&bytes),
        Err(MqttWireError::Payload {
            code: MessageCode::DeviceRegistrationReq,
            ..
        })
    ));
}

#[test]
fn framing_errors_come_through_typed() {
    assert_eq!(
        Message::decode_apdu(&[0x08, 0x02]),
        Err(MqttWireError::UnknownCode { code: 2 })
    );
    assert_eq!(Message::decode_apdu(&[]), Err(MqttWireError::MissingCode));
    assert_eq!(
        Message::decode_apdu(&[0x08, 0x01, 0x1A, 0x04, 0x0A]),
        Err(MqttWireError::Truncated { offset: 3, len: 5 })
    );
    let unknown = Message::decode_apdu(&[0x08, 0x7F]).unwrap_err();
    assert_eq!(unknown.error_code(), pb::ErrorCode::NotImplemented);
}

#[test]
fn oversized_messages_are_rejected() {
    let mut buf = vec![1, 2, 3];
    let huge = pb::WarningReq {
        warnings: vec![
            pb::WarningRecord {
                info: "x".repeat(250),
                ..Default::default()
            };
            DEFAULT_MAX_PAYLOAD_LEN / 250
        ],
    };
    let err = Message::from(huge).encode_apdu(1, &mut buf).unwrap_err();
    assert!(matches!(
        err,
        MqttWireError::Oversized {
            max: DEFAULT_MAX_PAYLOAD_LEN,
            ..
        }
    ));
    assert!(buf.is_empty());
    let tariff = Message::from(samples::seed_tariff_example_2());
    tariff.encode_apdu(1, &mut buf).unwrap();
    let len = tariff.encoded_payload_len();
    assert_eq!(
        Message::decode_apdu_with_limit(&buf, len - 1),
        Err(MqttWireError::Oversized { len, max: len - 1 })
    );
    assert!(Message::decode_apdu_with_limit(&buf, len).is_ok());
}

#[test]
fn wrong_direction_and_class_are_rejected_before_the_payload() {
    let up_command = Topic::parse("/U/C/dev-1").unwrap();
    let down_command = Topic::parse("/D/C/dev-1").unwrap();
    let up_telemetry = Topic::parse("/U/M/dev-1").unwrap();
    let down_registration = Topic::parse("/D/R/SN0001").unwrap();
    // A backend-only command published by a charger, with a payload that would not decode.
    let bytes = [0x08, 0x10, 0x1A, 0x01, 0xFF];
    assert_eq!(
        Message::decode_apdu_on(&up_command, &bytes),
        Err(MqttWireError::WrongDirection {
            code: MessageCode::RemoteStartTransactionReq,
            sender: Sender::Backend,
            direction: Direction::Up,
        })
    );
    let mut buf = Vec::new();
    Message::from(samples::seed_telemetry_example())
        .encode_apdu(3, &mut buf)
        .unwrap();
    assert!(Message::decode_apdu_on(&up_telemetry, &buf).is_ok());
    assert_eq!(
        Message::decode_apdu_on(&up_command, &buf),
        Err(MqttWireError::WrongClass {
            code: MessageCode::TelemetryReq,
            expected: TopicClass::Telemetry,
            found: TopicClass::Command,
        })
    );
    assert!(matches!(
        Message::decode_apdu_on(&down_command, &buf),
        Err(MqttWireError::WrongDirection { .. })
    ));
    // MessageError answers on any topic class, in either direction.
    let error = Message::from(pb::MessageError::default());
    error.encode_apdu(4, &mut buf).unwrap();
    assert!(Message::decode_apdu_on(&down_registration, &buf).is_ok());
    assert!(Message::decode_apdu_on(&up_telemetry, &buf).is_ok());
    let err = check_route(
        MessageCode::BootNotificationReq,
        Direction::Down,
        TopicClass::Command,
    );
    assert_eq!(err.unwrap_err().error_code(), pb::ErrorCode::ProtocolError);
}

#[test]
fn every_sample_is_accepted_on_its_own_topic() {
    let mut buf = Vec::new();
    for message in samples::all() {
        let code = message.code();
        let direction = match code.sender() {
            Sender::Charger | Sender::Both => Direction::Up,
            Sender::Backend => Direction::Down,
        };
        let topic = Topic::new(direction, code.class(), "dev-1").unwrap();
        message.encode_apdu(1, &mut buf).unwrap();
        assert_eq!(Message::decode_apdu_on(&topic, &buf).unwrap().1, message);
        let reverse = topic.reply();
        let reversed = Message::decode_apdu_on(&reverse, &buf);
        assert_eq!(reversed.is_ok(), code.sender() == Sender::Both, "{code:?}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Message::decode_apdu(&bytes);
    }

    #[test]
    fn arbitrary_payloads_under_every_code_never_panic(
        code in proptest::sample::select(MessageCode::ALL),
        seq: u32,
        payload in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut buf = Vec::new();
        Apdu { code, seq, payload: &payload }.encode(&mut buf).unwrap();
        match Message::decode_apdu(&buf) {
            Ok((got_seq, message)) => {
                prop_assert_eq!(got_seq, seq);
                prop_assert_eq!(message.code(), code);
                // What decodes re-encodes and decodes to the same message.
                let mut again = Vec::new();
                message.encode_apdu(seq, &mut again).unwrap();
                prop_assert_eq!(Message::decode_apdu(&again).unwrap(), (seq, message));
            }
            Err(MqttWireError::Payload { code: got, .. }) => prop_assert_eq!(got, code),
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn mutated_samples_never_panic(index in 0usize..49, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let samples = samples::all();
        let message = &samples[index % samples.len()];
        let mut buf = Vec::new();
        message.encode_apdu(7, &mut buf).unwrap();
        for (at, byte) in flips {
            let len = buf.len();
            buf[at % len] ^= byte;
        }
        let _ = Message::decode_apdu(&buf);
    }
}
