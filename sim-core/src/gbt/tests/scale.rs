//! 100 connectors at once on virtual time, as fast as the machine goes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use proto::time::Instant;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::gbt::bms::{BmsConfig, BmsPhase};
use crate::gbt::charger::{ChargerConfig, ChargerPhase, ChargerStopCause};
use crate::gbt::pair::Pair;
use crate::gbt::segment::SegmentConfig;

/// The cost per session-second is measured by `cargo bench -p sim-core --bench gbt`, not
/// here: this test checks that 100 sessions at once all complete at the standard's cadence.
#[test]
fn hundred_connectors_complete_their_sessions() {
    const N: usize = 100;
    let stop_at = Instant::from_secs(120);
    let mut pairs: Vec<Pair> = (0..N)
        .map(|i| {
            let bms = if i % 2 == 0 {
                BmsConfig::lfp()
            } else {
                BmsConfig::ncm()
            };
            Pair::new(
                ChargerConfig::default(),
                bms,
                SegmentConfig::default(),
                ChaCha8Rng::seed_from_u64(i as u64),
            )
        })
        .collect();
    let mut heap = BinaryHeap::new();
    for (i, p) in pairs.iter_mut().enumerate() {
        // Staggered plug-in over the first second.
        let t = Instant::from_millis(i as u64 * 10);
        p.plug_in(t);
        if let Some(next) = p.poll_timeout() {
            heap.push(Reverse((next, i)));
        }
    }
    let mut stopped = [false; N];
    let mut steps = 0u64;
    while let Some(Reverse((t, i))) = heap.pop() {
        let Some(p) = pairs.get_mut(i) else { continue };
        if t >= stop_at && !stopped[i] {
            stopped[i] = true;
            p.charger
                .request_stop(t, ChargerStopCause::ConditionReached);
        }
        p.step(t);
        steps += 1;
        while p.poll_event().is_some() {}
        if let Some(next) = p.poll_timeout() {
            heap.push(Reverse((next, i)));
        }
        assert!(t < Instant::from_secs(300), "sessions did not end");
    }
    let frames: u64 = pairs
        .iter()
        .map(|p| {
            p.segment
                .stats()
                .frames
                .iter()
                .map(|c| c.total())
                .sum::<u64>()
        })
        .sum();
    for p in &pairs {
        assert_eq!(p.charger.phase(), ChargerPhase::Ended);
        assert_eq!(p.bms.report().furthest_phase, BmsPhase::Ended);
        assert!(matches!(p.bms.phase(), BmsPhase::Off | BmsPhase::Ended));
        assert_eq!(p.charger.report().cem_sent, 0);
        assert_eq!(p.stalls(), 0);
    }
    let virtual_s = 120.0 * N as f64;
    println!(
        "{N} pairs, {steps} steps, {frames} frames: {:.0} frames per virtual session-second",
        frames as f64 / virtual_s,
    );
    assert!(
        frames as f64 / virtual_s > 40.0,
        "a charging session is ~50-60 frames/s"
    );
}
