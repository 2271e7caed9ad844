//! Tests of the APDU framing: golden bytes, every error, compatibility with prost's encoding of
//! `pb::Apdu`, and never-panic properties.

use super::*;
use crate::mqtt::pb;
use proptest::prelude::*;

fn encode(code: MessageCode, seq: Seq, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xEE; 3]; // stale bytes: encode must clear them
    Apdu { code, seq, payload }.encode(&mut out).unwrap();
    out
}

#[test]
fn golden_headers() {
    // 08 01: field 1 (code) = 0x01 BootNotificationReq; 10 01: field 2 (seq) = 1; no payload.
    assert_eq!(
        encode(MessageCode::BootNotificationReq, 1, &[]),
        [0x08, 0x01, 0x10, 0x01]
    );
    // 08 34: code 0x34 SetTariffReq; 10 B4 24: seq 0x1234 = 0x34 | 0x80, 0x1234 >> 7 = 0x24.
    // A charger's SetTariffReq has an empty payload (seed "payload为空"), so no field 3.
    assert_eq!(
        encode(MessageCode::SetTariffReq, 0x1234, &[]),
        [0x08, 0x34, 0x10, 0xB4, 0x24]
    );
    // 08 81 01: code 0x81 needs a 2-byte varint; seq 0 is omitted (proto3 default).
    assert_eq!(
        encode(MessageCode::BootNotificationConf, 0, &[]),
        [0x08, 0x81, 0x01]
    );
    assert_eq!(
        encode(MessageCode::MessageError, 300, &[0x08, 0x01]),
        [
            0x08, 0xFF, 0x01, // code 0xFF MessageError
            0x10, 0xAC, 0x02, // seq 300
            0x1A, 0x02, // field 3 (payload), 2 bytes
            0x08, 0x01, // the payload: MessageError.error_code = 1
        ]
    );
}

#[test]
fn decodes_golden_bytes() {
    let apdu = Apdu::decode(&[0x08, 0x34, 0x10, 0xB4, 0x24]).unwrap();
    assert_eq!(
        apdu,
        Apdu {
            code: MessageCode::SetTariffReq,
            seq: 0x1234,
            payload: &[]
        }
    );
    let bytes = [0x1A, 0x01, 0x2A, 0x10, 0x07, 0x08, 0x12]; // fields out of order
    let apdu = Apdu::decode(&bytes).unwrap();
    assert_eq!(
        apdu,
        Apdu {
            code: MessageCode::StartTransactionReq,
            seq: 7,
            payload: &[0x2A]
        }
    );
}

#[test]
fn last_occurrence_wins_and_unknown_fields_are_skipped() {
    let bytes = [
        0x08, 0x01, // code 0x01
        0x20, 0x96, 0x01, // field 4, varint 150: unknown, skipped
        0x29, 1, 2, 3, 4, 5, 6, 7, 8, // field 5, 64-bit: skipped
        0x32, 0x02, 0xAA, 0xBB, // field 6, 2 bytes: skipped
        0x3D, 1, 2, 3, 4, // field 7, 32-bit: skipped
        0x08, 0x03, // code again: 0x03 wins
    ];
    let apdu = Apdu::decode(&bytes).unwrap();
    assert_eq!(apdu.code, MessageCode::ChangeConfigurationReq);
    assert_eq!(apdu.seq, 0);
}

#[test]
fn typed_errors() {
    use MqttWireError::*;
    assert_eq!(Apdu::decode(&[]), Err(MissingCode));
    assert_eq!(Apdu::decode(&[0x10, 0x05]), Err(MissingCode));
    assert_eq!(Apdu::decode(&[0x08]), Err(Truncated { offset: 1, len: 1 }));
    assert_eq!(
        Apdu::decode(&[0x08, 0x81]),
        Err(Truncated { offset: 1, len: 2 })
    );
    assert_eq!(
        Apdu::decode(&[0x08, 0x01, 0x1A, 0x05, 1, 2]),
        Err(Truncated { offset: 3, len: 6 })
    );
    assert_eq!(
        Apdu::decode(&[0x08, 0x01, 0x25, 1, 2]),
        Err(Truncated { offset: 2, len: 5 })
    );
    assert_eq!(Apdu::decode(&[0x08, 0x02]), Err(UnknownCode { code: 2 }));
    assert_eq!(
        Apdu::decode(&[0x08, 0x80, 0x02]),
        Err(UnknownCode { code: 0x100 })
    );
    assert!(matches!(
        Apdu::decode(&[0x0A, 0x00]),
        Err(Malformed { offset: 0, .. })
    ));
    assert!(matches!(
        Apdu::decode(&[0x00, 0x01]),
        Err(Malformed { offset: 0, .. })
    ));
    assert!(matches!(
        Apdu::decode(&[0x08, 0x01, 0x23]),
        Err(Malformed { offset: 2, .. })
    ));
    assert!(matches!(
        Apdu::decode(&[0x08, 0x01, 0x26]),
        Err(Malformed { offset: 2, .. })
    ));
    let overflow = [
        0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02,
    ];
    assert!(matches!(
        Apdu::decode(&overflow),
        Err(Malformed { offset: 1, .. })
    ));
    // seq = 2^32 does not fit the uint32 field.
    let big_seq = [0x08, 0x01, 0x10, 0x80, 0x80, 0x80, 0x80, 0x10];
    assert!(matches!(
        Apdu::decode(&big_seq),
        Err(Malformed { offset: 3, .. })
    ));
}

#[test]
fn oversized_payloads_are_rejected_both_ways() {
    let payload = vec![0u8; 5];
    let bytes = encode(MessageCode::WarningReq, 1, &payload);
    assert_eq!(
        Apdu::decode_with_limit(&bytes, 4),
        Err(MqttWireError::Oversized { len: 5, max: 4 })
    );
    assert!(Apdu::decode_with_limit(&bytes, 5).is_ok());
    // The whole input is checked before parsing.
    let huge = vec![0u8; DEFAULT_MAX_PAYLOAD_LEN + INPUT_SLACK + 1];
    assert_eq!(
        Apdu::decode(&huge),
        Err(MqttWireError::Oversized {
            len: huge.len(),
            max: DEFAULT_MAX_PAYLOAD_LEN + INPUT_SLACK
        })
    );
    // A declared length over the limit fails without reading the bytes.
    let lying = [0x08, 0x01, 0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
    assert_eq!(
        Apdu::decode(&lying),
        Err(MqttWireError::Oversized {
            len: 0xFFFF_FFFF,
            max: DEFAULT_MAX_PAYLOAD_LEN
        })
    );
    let too_big = vec![0u8; DEFAULT_MAX_PAYLOAD_LEN + 1];
    let apdu = Apdu {
        code: MessageCode::WarningReq,
        seq: 1,
        payload: &too_big,
    };
    let mut out = Vec::new();
    assert_eq!(
        apdu.encode(&mut out),
        Err(MqttWireError::Oversized {
            len: too_big.len(),
            max: DEFAULT_MAX_PAYLOAD_LEN
        })
    );
}

#[test]
fn varint_len_matches_put_varint() {
    for value in [
        0,
        1,
        127,
        128,
        16_383,
        16_384,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let mut out = Vec::new();
        put_varint(value, &mut out);
        assert_eq!(out.len(), varint_len(value), "{value}");
    }
}

fn any_code() -> impl Strategy<Value = MessageCode> {
    proptest::sample::select(MessageCode::ALL)
}

proptest! {
    #[test]
    fn matches_prost_encoding(code in any_code(), seq: u32, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        use prost::Message as _;
        let ours = encode(code, seq, &payload);
        let apdu = pb::Apdu { code: i32::from(code.value()), seq, payload: payload.clone() };
        prop_assert_eq!(&ours, &apdu.encode_to_vec());
        prop_assert_eq!(pb::Apdu::decode(ours.as_slice()).unwrap(), apdu);
        prop_assert_eq!(Apdu { code, seq, payload: &payload }.encoded_len(), ours.len());
        let decoded = Apdu::decode(&ours).unwrap();
        prop_assert_eq!(decoded, Apdu { code, seq, payload: &payload });
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(apdu) = Apdu::decode(&bytes) {
            // Whatever decodes re-encodes canonically and decodes to the same APDU.
            let again = encode(apdu.code, apdu.seq, apdu.payload);
            prop_assert_eq!(Apdu::decode(&again).unwrap(), apdu);
        }
    }

    #[test]
    fn every_truncation_of_a_valid_apdu_is_an_error_or_a_prefix(
        code in any_code(), seq: u32, payload in proptest::collection::vec(any::<u8>(), 1..50)
    ) {
        let bytes = encode(code, seq, &payload);
        for cut in 0..bytes.len() {
            // A cut inside the payload or a varint is Truncated; a cut between fields may leave
            // a shorter valid APDU or one with no code; nothing panics.
            if let Ok(apdu) = Apdu::decode(&bytes[..cut]) {
                prop_assert!(apdu.payload.is_empty());
            }
        }
    }
}
