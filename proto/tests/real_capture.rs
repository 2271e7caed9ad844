//! Replays an excerpt of a real charging session through the whole wire layer.
//!
//! The excerpt is 82 lines of the \[T1\] capture (sut4nd0/gbt27930-2015,
//! `candump-2023-12-25_220841.log`; LFP car, 950 V / 250 A charger): handshake, the BRM and
//! BCP transfers, parameter configuration, the start of charging with two BCS transfers,
//! and the end of the session, plus frames from an unrelated ECU at 0xB5.
//!
//! A charger-side [`TpReceiver`] is fed the BMS's frames; the CTS and EndOfMsgAck frames it
//! produces must equal, byte for byte, what the real charger sent.

// Test code: a panic is how a failure is reported (style.md allows unwrap in tests).
#![allow(clippy::unwrap_used)]

use proto::can::CanFrame;
use proto::gbt27930::candump::parse_log;
use proto::gbt27930::id::{Foreign, Inbound, Node, Pgn, classify};
use proto::gbt27930::msg::{
    BatteryType, ChargingMode, ChargingPermit, Message, Readiness, Recognition, Status2,
};
use proto::gbt27930::tp::{FrameUse, TpConfig, TpEvent, TpReceiver};
use proto::time::Instant;

const EXCERPT: &str = "\
(1703560126.748033) can0 0070F4B5#0000B5
(1703560127.487397) can0 1826F456#010100
(1703560127.502088) can0 182756F4#A510
(1703560127.737393) can0 1826F456#010100
(1703560143.251243) can0 182756F4#A510
(1703560143.486454) can0 1826F456#010100
(1703560143.501368) can0 182756F4#A510
(1703560143.736679) can0 1826F456#010100
(1703560143.751569) can0 182756F4#A510
(1703560143.987524) can0 1801F456#0001010101313233
(1703560144.001411) can0 182756F4#A510
(1703560144.012829) can0 1CEC56F4#10310007FF000200
(1703560144.013256) can0 1CECF456#110701FFFF000200
(1703560144.021202) can0 1CEB56F4#0101010003F00540
(1703560144.031198) can0 1CEB56F4#020E010000000100
(1703560144.040964) can0 1CEB56F4#030000630B089500
(1703560144.057205) can0 1CEB56F4#040001FF4C314E53
(1703560144.065088) can0 1CEB56F4#0550474839384E41
(1703560144.070972) can0 1CEB56F4#0631393632303200
(1703560144.080982) can0 1CEB56F4#070104E707FFFF00
(1703560144.081723) can0 1CECF456#13310007FF000200
(1703560144.083267) can0 1801F456#AA01010101313233
(1703560144.091660) can0 1CEC56F4#100D0002FF000600
(1703560144.092500) can0 1CECF456#110201FFFF000600
(1703560144.103141) can0 1CEB56F4#017201DA052A02A5
(1703560144.111734) can0 1CEB56F4#0210730803C60EFF
(1703560144.112622) can0 1CECF456#130D0002FF000600
(1703560144.117038) can0 1807F456#FFFFFFFFFFFFFF
(1703560144.117287) can0 1808F456#1C257C01DC05A00F
(1703560144.131453) can0 100956F4#00
(1703560144.367259) can0 1808F456#1C257C01DC05A00F
(1703560144.382566) can0 100956F4#00
(1703560144.616901) can0 1807F456#FFFFFFFFFFFFFF
(1703560144.628336) can0 1808F456#1C257C01DC05A00F
(1703560144.631383) can0 100956F4#00
(1703560144.881372) can0 100956F4#00
(1703560144.889029) can0 1808F456#1C257C01DC05A00F
(1703560145.142951) can0 1807F456#FFFFFFFFFFFFFF
(1703560145.143039) can0 100956F4#00
(1703560145.148399) can0 1808F456#1C257C01DC05A00F
(1703560145.381347) can0 100956F4#AA
(1703560145.386861) can0 100AF456#00
(1703560145.456621) can0 100AF456#AA
(1703560145.482817) can0 181056F4#A510D80E02
(1703560145.491600) can0 1CEC56F4#10090002FF001100
(1703560145.492794) can0 1CECF456#110201FFFF001100
(1703560145.501067) can0 1CEB56F4#01C50EA00F4C614D
(1703560145.511256) can0 1CEB56F4#020000FFFFFFFFFF
(1703560145.513943) can0 1CECF456#13090002FF001100
(1703560145.533094) can0 181056F4#A510D80E02
(1703560145.551160) can0 1812F456#240BA00F0000FD
(1703560145.581512) can0 181056F4#A510D80E02
(1703560145.621858) can0 1812F456#240BA00F0000FD
(1703560145.632671) can0 181056F4#A510D80E02
(1703560145.682757) can0 181056F4#A510D80E02
(1703560145.688873) can0 1812F456#240BA00F0000FD
(1703560145.731563) can0 181056F4#A510D80E02
(1703560145.741487) can0 1CEC56F4#10090002FF001100
(1703560145.742849) can0 1CECF456#110201FFFF001100
(1703560145.751823) can0 1CEB56F4#01C50EA00F4C114D
(1703560145.766316) can0 1812F456#240BA00F0000FD
(1703560145.766800) can0 1CEB56F4#020000FFFFFFFFFF
(1703560145.767185) can0 1CECF456#13090002FF001100
(1703560145.781789) can0 181056F4#A510D80E02
(1703560145.812828) can0 181356F4#1E3606350F0010
(1703560172.811262) can0 181356F4#533606350F0010
(1703560172.832190) can0 181056F4#A510580E02
(1703560172.856978) can0 0073F4B5#5500
(1703560172.857156) can0 101AF456#0400F0F0
(1703560172.863981) can0 101AF456#0400F0F0
(1703560172.875004) can0 101956F4#40000000
(1703560172.882870) can0 101AF456#0400F0F0
(1703560172.883062) can0 101956F4#40000000
(1703560172.890817) can0 101956F4#40000000
(1703560172.893935) can0 101AF456#0400F0F0
(1703560172.902376) can0 101956F4#40000000
(1703560173.199670) can0 101AF456#0400F0F0
(1703560173.213584) can0 101AF456#0400F0F0
(1703560173.221064) can0 181C56F4#4D4D014E013536
(1703560173.223061) can0 181DF456#0000010001010101
(1703560173.247392) can0 0070F4B5#0000B5
(1703560173.475078) can0 181C56F4#4D4D014E013536
";

/// One decoded message with the time it completed on the bus.
struct Seen {
    at_us: u64,
    message: Message,
}

/// Replays the excerpt; returns every message the charger and the BMS would decode.
fn replay() -> (Vec<Seen>, usize) {
    let records: Vec<_> = parse_log(EXCERPT)
        .map(|(n, r)| r.unwrap_or_else(|e| panic!("line {n}: {e}")))
        .collect();
    assert_eq!(records.len(), 82);
    let t0 = records[0].timestamp_us.unwrap();
    let mut rx = TpReceiver::new(TpConfig::new(Node::Charger));
    let mut expected_charger_tp: Vec<CanFrame> = Vec::new();
    let mut produced_charger_tp: Vec<CanFrame> = Vec::new();
    let mut seen = Vec::new();
    let mut foreign = 0;
    for rec in &records {
        let at_us = rec.timestamp_us.unwrap() - t0;
        let now = Instant::from_micros(at_us);
        let frame = rec.frame;
        rx.handle_timeout(now);
        // The charger's view of BMS frames.
        match classify(&frame, Node::Charger).unwrap() {
            Inbound::Accepted(id) if id.pgn().is_transport() => {
                assert_eq!(rx.handle_frame(now, &frame), Ok(FrameUse::Consumed));
            }
            Inbound::Accepted(id) => seen.push(Seen {
                at_us,
                message: Message::decode(id.pgn(), frame.data()).unwrap(),
            }),
            Inbound::Foreign(Foreign::OtherSource { raw }) if raw as u8 == 0x56 => {}
            Inbound::Foreign(_) => foreign += 1,
        }
        // The BMS's view of charger frames.
        match classify(&frame, Node::Bms).unwrap() {
            Inbound::Accepted(id) if id.pgn() == Pgn::TpCm => expected_charger_tp.push(frame),
            Inbound::Accepted(id) => seen.push(Seen {
                at_us,
                message: Message::decode(id.pgn(), frame.data()).unwrap(),
            }),
            Inbound::Foreign(_) => {}
        }
        while let Some(f) = rx.poll_transmit(now) {
            produced_charger_tp.push(f);
        }
        while let Some(event) = rx.poll_event() {
            match event {
                TpEvent::Received { pgn, data } => {
                    let pgn = Pgn::from_value(pgn).unwrap();
                    seen.push(Seen {
                        at_us,
                        message: Message::decode(pgn, data).unwrap(),
                    });
                }
                other => panic!("unexpected TP event {other:?}"),
            }
        }
    }
    assert_eq!(produced_charger_tp, expected_charger_tp);
    assert_eq!(
        produced_charger_tp.len(),
        8,
        "4 transfers × (CTS + EndOfMsgAck)"
    );
    (seen, foreign)
}

fn count(seen: &[Seen], pgn: Pgn) -> usize {
    seen.iter().filter(|s| s.message.pgn() == pgn).count()
}

#[test]
fn every_frame_of_the_session_decodes_and_tp_matches_the_real_charger() {
    let (seen, foreign) = replay();
    assert_eq!(foreign, 3, "0x0070F4B5 twice and 0x0073F4B5 once");
    let expected = [
        (Pgn::Chm, 4),
        (Pgn::Bhm, 5),
        (Pgn::Crm, 2),
        (Pgn::Brm, 1),
        (Pgn::Bcp, 1),
        (Pgn::Cts, 3),
        (Pgn::Cml, 5),
        (Pgn::Bro, 6),
        (Pgn::Cro, 2),
        (Pgn::Bcl, 8),
        (Pgn::Bcs, 2),
        (Pgn::Ccs, 4),
        (Pgn::Bsm, 2),
        (Pgn::Cst, 6),
        (Pgn::Bst, 4),
        (Pgn::Bsd, 2),
        (Pgn::Csd, 1),
    ];
    for (pgn, n) in expected {
        assert_eq!(count(&seen, pgn), n, "{pgn}");
    }
    assert_eq!(seen.len(), expected.iter().map(|(_, n)| n).sum::<usize>());
    // Every message has a JSON view.
    for s in &seen {
        let json = serde_json::to_value(&s.message).unwrap();
        assert_eq!(json["msg"], s.message.pgn().code());
    }
}

#[test]
fn decoded_values_match_the_reference() {
    let (seen, _) = replay();
    let find = |pgn: Pgn| seen.iter().find(|s| s.message.pgn() == pgn).unwrap();
    let Message::Brm(brm) = &find(Pgn::Brm).message else {
        unreachable!()
    };
    assert_eq!(brm.battery_type, BatteryType::LithiumIronPhosphate);
    assert_eq!((brm.rated_capacity_ah, brm.rated_voltage_v), (152.0, 364.8));
    assert_eq!(brm.details.unwrap().vin.to_string(), "L1NSPGH98NA196202");
    // The BRM completes with its last DT, 93.5 ms after the CRM(0x00) that asked for it.
    assert_eq!(find(Pgn::Brm).at_us - find(Pgn::Crm).at_us, 93_458);
    let Message::Bcp(bcp) = &find(Pgn::Bcp).message else {
        unreachable!()
    };
    assert_eq!(bcp.max_current_a, 250.2);
    assert_eq!(bcp.soc_pct, 77.6);
    let Message::Crm(crm) = &seen
        .iter()
        .filter(|s| s.message.pgn() == Pgn::Crm)
        .nth(1)
        .unwrap()
        .message
    else {
        unreachable!()
    };
    assert_eq!(crm.recognition, Recognition::Recognized);
    let Message::Bcs(bcs) = &find(Pgn::Bcs).message else {
        unreachable!()
    };
    assert_eq!(
        (
            bcs.voltage_v,
            bcs.current_a,
            bcs.max_cell_voltage_v,
            bcs.max_cell_group,
            bcs.soc_pct
        ),
        (378.1, 0.0, 3.32, 6, 77)
    );
    let Message::Bcl(bcl) = &find(Pgn::Bcl).message else {
        unreachable!()
    };
    assert_eq!((bcl.voltage_demand_v, bcl.current_demand_a), (426.1, 20.0));
    assert_eq!(bcl.mode, ChargingMode::ConstantCurrent);
    let Message::Ccs(ccs) = &find(Pgn::Ccs).message else {
        unreachable!()
    };
    assert_eq!(ccs.voltage_v, 285.2);
    assert_eq!(ccs.charging_permitted, Some(ChargingPermit::Permitted));
    let Message::Bro(bro) = &seen
        .iter()
        .rev()
        .find(|s| s.message.pgn() == Pgn::Bro)
        .unwrap()
        .message
    else {
        unreachable!()
    };
    assert_eq!(bro.readiness, Readiness::Ready);
    let Message::Cst(cst) = &find(Pgn::Cst).message else {
        unreachable!()
    };
    assert_eq!(cst.reason.manual_stop, Status2::Active);
    let Message::Bst(bst) = &find(Pgn::Bst).message else {
        unreachable!()
    };
    assert_eq!(bst.reason.charger_stopped, Status2::Active);
    let Message::Csd(csd) = &find(Pgn::Csd).message else {
        unreachable!()
    };
    assert_eq!(csd.charger_number, 0x0101_0101);
}
