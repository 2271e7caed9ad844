//! Cross-message tests: golden frames from the real captures through [`Message`], JSON
//! shape, and property tests over every decoder.

use proptest::prelude::*;

use super::*;
use crate::gbt27930::id::{Inbound, classify};

/// Real single frames from \[T1\] (sut4nd0 candump) and \[T2\] (ru5t candump2/3), with the bytes
/// a standard-compliant encoder writes for the same content (reserved bits filled with 1).
const REAL_FRAMES: &[(u32, &[u8], &[u8])] = &[
    // CHM V1.1 [T1][T2].
    (0x1826F456, &[0x01, 0x01, 0x00], &[0x01, 0x01, 0x00]),
    // BHM 426.1 V [T1], 405.6 V [T2], 495.1 V [T2 candump2].
    (0x182756F4, &[0xA5, 0x10], &[0xA5, 0x10]),
    (0x182756F4, &[0xD8, 0x0F], &[0xD8, 0x0F]),
    (0x182756F4, &[0x57, 0x13], &[0x57, 0x13]),
    // CRM 0x00 and 0xAA [T1][T2].
    (
        0x1801F456,
        &[0xAA, 0x01, 0x01, 0x01, 0x01, 0x31, 0x32, 0x33],
        &[0xAA, 0x01, 0x01, 0x01, 0x01, 0x31, 0x32, 0x33],
    ),
    (
        0x1801F456,
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x55, 0x41, 0x20],
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x55, 0x41, 0x20],
    ),
    // CTS all FF [T1] and garbage [T2 candump2], both kept byte for byte.
    (0x1807F456, &[0xFF; 7], &[0xFF; 7]),
    (
        0x1807F456,
        &[0x1A, 0x06, 0x14, 0x14, 0x15, 0x00, 0x00],
        &[0x1A, 0x06, 0x14, 0x14, 0x15, 0x00, 0x00],
    ),
    // CML [T1] and the swapped one [T2 candump2].
    (
        0x1808F456,
        &[0x1C, 0x25, 0x7C, 0x01, 0xDC, 0x05, 0xA0, 0x0F],
        &[0x1C, 0x25, 0x7C, 0x01, 0xDC, 0x05, 0xA0, 0x0F],
    ),
    (
        0x1808F456,
        &[0x64, 0x19, 0xD0, 0x07, 0xAC, 0x0D, 0xB0, 0x04],
        &[0x64, 0x19, 0xD0, 0x07, 0xAC, 0x0D, 0xB0, 0x04],
    ),
    // BRO / CRO.
    (0x100956F4, &[0x00], &[0x00]),
    (0x100956F4, &[0xAA], &[0xAA]),
    (0x100AF456, &[0xAA], &[0xAA]),
    // BCL [T2] and [T1].
    (
        0x181056F4,
        &[0xD8, 0x0F, 0xD0, 0x07, 0x02],
        &[0xD8, 0x0F, 0xD0, 0x07, 0x02],
    ),
    (
        0x181056F4,
        &[0xA5, 0x10, 0x3A, 0x0E, 0x02],
        &[0xA5, 0x10, 0x3A, 0x0E, 0x02],
    ),
    // CCS, DLC 7: [T2] with reserved bits 0 (re-encoded FD + 8th byte FF), [T1] already FD.
    (
        0x1812F456,
        &[0xC0, 0x0D, 0x0E, 0x0B, 0x00, 0x00, 0x01],
        &[0xC0, 0x0D, 0x0E, 0x0B, 0x00, 0x00, 0xFD, 0xFF],
    ),
    (
        0x1812F456,
        &[0xF0, 0x0E, 0x76, 0x0E, 0x00, 0x00, 0xFD],
        &[0xF0, 0x0E, 0x76, 0x0E, 0x00, 0x00, 0xFD, 0xFF],
    ),
    // BSM [T2] (filled) and [T1] (top bits 0).
    (
        0x181356F4,
        &[0x28, 0x4F, 0x03, 0x4D, 0x1A, 0x00, 0xD0],
        &[0x28, 0x4F, 0x03, 0x4D, 0x1A, 0x00, 0xD0],
    ),
    (
        0x181356F4,
        &[0x1E, 0x36, 0x06, 0x35, 0x0F, 0x00, 0x10],
        &[0x1E, 0x36, 0x06, 0x35, 0x0F, 0x00, 0xD0],
    ),
    // BST [T1] with reserved 0; CST manual stop [T1][T2].
    (
        0x101956F4,
        &[0x40, 0x00, 0x00, 0x00],
        &[0x40, 0x00, 0x00, 0xF0],
    ),
    (
        0x101AF456,
        &[0x04, 0x00, 0xF0, 0xF0],
        &[0x04, 0x00, 0xF0, 0xF0],
    ),
    // BSD / CSD [T1].
    (
        0x181C56F4,
        &[0x4D, 0x4D, 0x01, 0x4E, 0x01, 0x35, 0x36],
        &[0x4D, 0x4D, 0x01, 0x4E, 0x01, 0x35, 0x36],
    ),
    (
        0x181DF456,
        &[0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x01],
        &[0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x01],
    ),
    // BEM [T2 candump2].
    (
        0x081E56F4,
        &[0xF4, 0xF0, 0xF0, 0xFC],
        &[0xF4, 0xF0, 0xF0, 0xFC],
    ),
    (
        0x081E56F4,
        &[0xF0, 0xF1, 0xF0, 0xFC],
        &[0xF0, 0xF1, 0xF0, 0xFC],
    ),
];

#[test]
fn real_frames_classify_decode_and_re_encode() {
    for &(raw, data, canonical) in REAL_FRAMES {
        let frame = CanFrame::new(raw, data).unwrap();
        let sender = Node::from_address(raw as u8).unwrap();
        let Ok(Inbound::Accepted(id)) = classify(&frame, sender.peer()) else {
            panic!("{raw:08X} not accepted");
        };
        let msg = Message::decode(id.pgn(), frame.data()).unwrap();
        assert_eq!(msg.pgn(), id.pgn());
        assert_eq!(msg.priority(), id.priority(), "{raw:08X}");
        let out = msg.to_frame(sender).unwrap();
        assert_eq!(out.id(), raw);
        assert_eq!(out.data(), canonical, "{raw:08X}");
        // The canonical bytes decode to the same message.
        assert_eq!(Message::decode(id.pgn(), canonical).unwrap(), msg);
    }
}

#[test]
fn multi_packet_messages_refuse_a_single_frame() {
    let bcs = Message::decode(
        Pgn::Bcs,
        &[0xDD, 0x0D, 0x1C, 0x0B, 0x73, 0x41, 0x23, 0x56, 0x00],
    )
    .unwrap();
    assert_eq!(
        bcs.to_frame(Node::Bms),
        Err(GbtEncodeError::NeedsTransport {
            pgn: Pgn::Bcs,
            len: 9
        })
    );
    assert_eq!(
        Message::decode(Pgn::TpCm, &[0; 8]),
        Err(GbtDecodeError::TransportPgn { pgn: Pgn::TpCm })
    );
}

#[test]
fn json_view_is_one_object_per_message_with_units() {
    let bcl = Message::decode(Pgn::Bcl, &[0xD8, 0x0F, 0xD0, 0x07, 0x02]).unwrap();
    assert_eq!(
        serde_json::to_string(&bcl).unwrap(),
        r#"{"msg":"BCL","voltage_demand_v":405.6,"current_demand_a":200.0,"mode":"constant_current"}"#
    );
    let cst = Message::decode(Pgn::Cst, &[0x04, 0x00, 0xF0, 0xF0]).unwrap();
    let v = serde_json::to_value(&cst).unwrap();
    assert_eq!(v["msg"], "CST");
    assert_eq!(v["reason"]["manual_stop"], "active");
    assert_eq!(v["fault"]["emergency_stop"], "normal");
    let crm = Message::decode(Pgn::Crm, &[0xAA, 1, 1, 1, 1, 0x31, 0x32, 0x33]).unwrap();
    let v = serde_json::to_value(&crm).unwrap();
    assert_eq!(v["recognition"], "recognized");
    assert_eq!(v["region_code"], "123");
    let brm = Message::decode(Pgn::Brm, &[0x01, 0x01, 0x00, 0x42, 0, 0, 0, 0]).unwrap();
    let v = serde_json::to_value(&brm).unwrap();
    assert_eq!(v["battery_type"], serde_json::json!({"unknown": 0x42}));
    assert_eq!(v["version"], serde_json::json!({"major": 1, "minor": 1}));
}

/// The periodic and fixed-size messages are `Copy`, so they cannot own heap memory:
/// decoding them into a value never allocates. Only BMV/BMT/BSP (10 s, optional) hold a Vec.
#[test]
fn fixed_size_messages_are_copy_and_small() {
    fn copy<T: Copy>() -> usize {
        core::mem::size_of::<T>()
    }
    let sizes = [
        copy::<Chm>(),
        copy::<Bhm>(),
        copy::<Crm>(),
        copy::<Brm>(),
        copy::<Bcp>(),
        copy::<Cts>(),
        copy::<Cml>(),
        copy::<Bro>(),
        copy::<Cro>(),
        copy::<Bcl>(),
        copy::<Bcs>(),
        copy::<Ccs>(),
        copy::<Bsm>(),
        copy::<Bst>(),
        copy::<Cst>(),
        copy::<Bsd>(),
        copy::<Csd>(),
        copy::<Bem>(),
        copy::<Cem>(),
        copy::<CanFrame>(),
    ];
    assert!(sizes.iter().all(|&s| s <= 96), "{sizes:?}");
    assert!(core::mem::size_of::<Message>() <= 96);
}

/// Random payloads of the defined length with the reserved bits set, i.e. exactly the byte
/// strings a compliant encoder can produce.
fn canonical_payload(pgn: Pgn) -> BoxedStrategy<Vec<u8>> {
    let Some(s) = spec(pgn) else {
        return Just(Vec::new()).boxed();
    };
    let fixed = |len: usize| proptest::collection::vec(any::<u8>(), len);
    match pgn {
        // Every 16-bit cell value is canonical (12-bit voltage, 4-bit group).
        Pgn::Bmv => proptest::collection::vec(any::<[u8; 2]>(), 0..=256)
            .prop_map(|v| v.concat())
            .boxed(),
        Pgn::Bmt => proptest::collection::vec(any::<u8>(), 0..=128).boxed(),
        Pgn::Bsp => proptest::collection::vec(any::<u8>(), 0..=16).boxed(),
        _ => fixed(s.length_bytes)
            .prop_map(move |mut b| {
                set_reserved_bits(pgn, &mut b);
                b
            })
            .boxed(),
    }
}

/// ORs the reserved bits of `pgn` into `b` (their fill value is 1).
fn set_reserved_bits(pgn: Pgn, b: &mut [u8]) {
    let masks: &[(usize, u8)] = match pgn {
        Pgn::Brm => &[(23, 0xFF)],
        Pgn::Ccs => &[(6, 0xFC), (7, 0xFF)],
        Pgn::Bsm => &[(6, 0xC0)],
        Pgn::Bst => &[(3, 0xF0)],
        Pgn::Cst => &[(2, 0xF0), (3, 0xF0)],
        Pgn::Bem => &[(0, 0xF0), (1, 0xF0), (2, 0xF0)],
        Pgn::Cem => &[(0, 0xFC), (1, 0xF0), (2, 0xC0)],
        _ => &[],
    };
    for &(i, m) in masks {
        if let Some(x) = b.get_mut(i) {
            *x |= m;
        }
    }
}

fn any_message_pgn() -> impl Strategy<Value = Pgn> {
    proptest::sample::select(Pgn::MESSAGES.to_vec())
}

proptest! {
    #[test]
    fn every_decoder_survives_arbitrary_bytes(
        pgn in proptest::sample::select(
            Pgn::MESSAGES.iter().copied().chain([Pgn::TpCm, Pgn::TpDt]).collect::<Vec<_>>()
        ),
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        if let Ok(msg) = Message::decode(pgn, &bytes) {
            // Whatever decodes re-encodes, and the re-encoding decodes to the same value.
            let mut out = [0u8; 600];
            let n = msg.encode(&mut out).unwrap();
            prop_assert_eq!(n, msg.encoded_len());
            prop_assert_eq!(Message::decode(pgn, &out[..n]).unwrap(), msg);
        }
    }

    #[test]
    fn canonical_payloads_round_trip_byte_for_byte(
        (pgn, bytes) in any_message_pgn().prop_flat_map(|p| (Just(p), canonical_payload(p)))
    ) {
        let msg = Message::decode(pgn, &bytes).unwrap();
        let mut out = [0u8; 512];
        let n = msg.encode(&mut out).unwrap();
        prop_assert_eq!(&out[..n], &bytes[..]);
        if n <= 8 {
            let frame = msg.to_frame(pgn.sender().unwrap()).unwrap();
            prop_assert_eq!(frame.data(), &bytes[..]);
        }
    }

    #[test]
    fn physical_values_round_trip_on_the_wire_grid(
        v in 0u16..=u16::MAX, a in 0u16..=u16::MAX, cell in 0u16..0x1000, group in 0u8..16,
        soc in any::<u8>(), minutes in any::<u16>(), mode in any::<u8>(),
    ) {
        let bcl = Bcl {
            voltage_demand_v: f64::from(v) / 10.0,
            current_demand_a: f64::from(4000 - i32::from(a)) / 10.0,
            mode: ChargingMode::from_u8(mode),
        };
        let mut out = [0u8; 9];
        bcl.encode(&mut out).unwrap();
        prop_assert_eq!(Bcl::decode(&out).unwrap(), bcl);
        let bcs = Bcs {
            voltage_v: f64::from(v) / 10.0,
            current_a: f64::from(4000 - i32::from(a)) / 10.0,
            max_cell_voltage_v: f64::from(cell) / 100.0,
            max_cell_group: group,
            soc_pct: soc,
            remaining_min: minutes,
        };
        bcs.encode(&mut out).unwrap();
        prop_assert_eq!(Bcs::decode(&out).unwrap(), bcs);
    }
}
