//! Property tests: arbitrary frames and TP sequences never panic the machines, and
//! `step` always leaves the next deadline in the future.

use proptest::prelude::*;
use proto::can::CanFrame;
use proto::gbt27930::id::{GbtId, Node, Pgn};
use proto::time::{Duration, Instant};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::gbt::bms::BmsConfig;
use crate::gbt::charger::ChargerConfig;
use crate::gbt::pair::Pair;
use crate::gbt::segment::SegmentConfig;

/// Identifiers: any 29-bit value, or a real GB/T identifier in either direction.
fn ids() -> impl Strategy<Value = u32> {
    let real: Vec<u32> = Pgn::MESSAGES
        .iter()
        .chain([Pgn::TpCm, Pgn::TpDt].iter())
        .flat_map(|&p| {
            [
                GbtId::new(p, Node::Charger).raw(),
                GbtId::new(p, Node::Bms).raw(),
            ]
        })
        .collect();
    prop_oneof![
        1 => 0u32..=0x1FFF_FFFF,
        4 => proptest::sample::select(real),
    ]
}

/// TP.CM payloads with meaningful control bytes and GB/T PGNs.
fn tp_cm() -> impl Strategy<Value = [u8; 8]> {
    (
        proptest::sample::select(vec![0x10u8, 0x11, 0x13, 0x20, 0xFF, 0x42]),
        any::<[u8; 4]>(),
        proptest::sample::select(vec![0x02u8, 0x06, 0x11, 0x15, 0x16, 0x17, 0x99]),
    )
        .prop_map(|(c, mid, pf)| [c, mid[0], mid[1], mid[2], mid[3], 0x00, pf, 0x00])
}

fn frames() -> impl Strategy<Value = (u32, Vec<u8>, u16)> {
    prop_oneof![
        3 => (ids(), proptest::collection::vec(any::<u8>(), 0..=8), 0u16..300),
        2 => (
            Just(GbtId::new(Pgn::TpCm, Node::Bms).raw()),
            tp_cm().prop_map(|d| d.to_vec()),
            0u16..300,
        ),
        2 => (
            Just(GbtId::new(Pgn::TpDt, Node::Bms).raw()),
            proptest::collection::vec(any::<u8>(), 0..=8),
            0u16..50,
        ),
    ]
}

fn pair() -> Pair {
    Pair::new(
        ChargerConfig::default(),
        BmsConfig::lfp(),
        SegmentConfig::default(),
        ChaCha8Rng::seed_from_u64(1),
    )
}

/// Runs the pair to `until`, stepping at each deadline.
fn run(p: &mut Pair, now: &mut Instant, until: Instant) {
    p.step(*now);
    while let Some(t) = p.poll_timeout() {
        assert!(t > *now, "deadline {t} not after {now}");
        if t > until {
            break;
        }
        *now = t;
        p.step(*now);
        while p.poll_event().is_some() {}
    }
    *now = until.max(*now);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_frames_in_any_phase_never_panic(
        start_ms in 0u64..40_000,
        input in proptest::collection::vec(frames(), 1..60),
    ) {
        let mut p = pair();
        let mut now = Instant::ZERO;
        p.plug_in(now);
        run(&mut p, &mut now, Instant::from_millis(start_ms));
        for (id, data, gap_ms) in input {
            let Ok(frame) = CanFrame::new(id, &data) else { continue };
            p.charger.handle_frame(now, &frame);
            p.bms.handle_frame(now, &frame);
            let next = now + Duration::from_millis(u64::from(gap_ms));
            run(&mut p, &mut now, next);
        }
        prop_assert_eq!(p.stalls(), 0);
        // Standard frames and foreign frames are filtered, never fatal.
        let std = CanFrame::new_standard(0x123, &[1, 2]).unwrap();
        p.charger.handle_frame(now, &std);
        p.bms.handle_frame(now, &std);
        p.step(now);
    }
}
