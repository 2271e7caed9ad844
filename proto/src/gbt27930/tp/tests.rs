//! Sender ↔ receiver scenarios: windows, loss, reordering, duplicates, aborts, timeouts,
//! and property tests that no frame sequence panics or delivers wrong data.

use proptest::prelude::*;

use super::*;
use crate::can::CanFrame;
use crate::time::{Duration, Instant};

const BCS: u32 = 0x1100;
const BMV: u32 = 0x1500;

/// A BMS-side sender and a charger-side receiver joined by a scripted link.
struct Pair {
    tx: TpSender,
    rx: TpReceiver,
    now: Instant,
    /// Frames from the sender, in order of transmission (including dropped ones).
    sent_by_tx: Vec<CanFrame>,
    /// Frames from the receiver.
    sent_by_rx: Vec<CanFrame>,
    received: Vec<(u32, Vec<u8>)>,
    delivered: Vec<u32>,
    rx_aborts: Vec<(u32, AbortCause)>,
    tx_aborts: Vec<(u32, AbortCause)>,
}

impl Pair {
    fn new(tx_config: TpConfig, rx_config: TpConfig) -> Pair {
        Pair {
            tx: TpSender::new(tx_config),
            rx: TpReceiver::new(rx_config),
            now: Instant::ZERO,
            sent_by_tx: Vec::new(),
            sent_by_rx: Vec::new(),
            received: Vec::new(),
            delivered: Vec::new(),
            rx_aborts: Vec::new(),
            tx_aborts: Vec::new(),
        }
    }

    fn gbt() -> Pair {
        Pair::new(TpConfig::new(Node::Bms), TpConfig::new(Node::Charger))
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.rx.poll_event() {
            match e {
                TpEvent::Received { pgn, data } => self.received.push((pgn, data.to_vec())),
                TpEvent::Aborted { pgn, cause } => self.rx_aborts.push((pgn, cause)),
                TpEvent::Delivered { .. } => panic!("receiver reported delivery"),
            }
        }
        while let Some(e) = self.tx.poll_event() {
            match e {
                TpEvent::Delivered { pgn } => self.delivered.push(pgn),
                TpEvent::Aborted { pgn, cause } => self.tx_aborts.push((pgn, cause)),
                TpEvent::Received { .. } => panic!("sender reported a reception"),
            }
        }
    }

    /// Runs until both sides are idle or `limit` passes; `deliver(i, frame)` decides whether
    /// the i-th sender frame reaches the receiver.
    fn run(&mut self, limit: Duration, mut deliver: impl FnMut(usize, &CanFrame) -> bool) {
        let end = self.now + limit;
        loop {
            let mut progressed = false;
            while let Some(f) = self.tx.poll_transmit(self.now) {
                let i = self.sent_by_tx.len();
                self.sent_by_tx.push(f);
                if deliver(i, &f) {
                    self.rx.handle_frame(self.now, &f).unwrap();
                }
                progressed = true;
            }
            while let Some(f) = self.rx.poll_transmit(self.now) {
                self.sent_by_rx.push(f);
                self.tx.handle_frame(self.now, &f).unwrap();
                progressed = true;
            }
            self.drain_events();
            if progressed {
                continue;
            }
            let next = [self.tx.poll_timeout(), self.rx.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.tx.handle_timeout(self.now);
                    self.rx.handle_timeout(self.now);
                    self.drain_events();
                }
                _ => break,
            }
        }
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn cm_bytes(frames: &[CanFrame]) -> Vec<[u8; 8]> {
    frames
        .iter()
        .filter(|f| (f.id() >> 16) & 0xFF == 0xEC)
        .map(|f| f.data_padded())
        .collect()
}

#[test]
fn transfers_every_size_in_one_window() {
    for len in [9, 13, 49, 512, 1785] {
        let mut p = Pair::gbt();
        p.tx.start(p.now, BMV, &payload(len)).unwrap();
        p.run(Duration::from_secs(10), |_, _| true);
        assert_eq!(p.received, vec![(BMV, payload(len))], "len {len}");
        assert_eq!(p.delivered, vec![BMV]);
        // One CTS for everything, then EndOfMsgAck.
        assert_eq!(cm_bytes(&p.sent_by_rx).len(), 2);
        // DT spacing is the configured 10 ms.
        let packets = len.div_ceil(7) as u64;
        assert_eq!(p.now.as_millis(), 10 * (packets - 1));
    }
}

#[test]
fn windowed_cts_limits_from_both_sides() {
    // The receiver grants at most 3 per CTS; the sender announces at most 2 per CTS.
    let rx_cfg = TpConfig {
        max_packets_per_cts: 3,
        ..TpConfig::new(Node::Charger)
    };
    let tx_cfg = TpConfig {
        max_packets_per_cts: 2,
        dt_interval: Duration::ZERO,
        ..TpConfig::new(Node::Bms)
    };
    let mut p = Pair::new(tx_cfg, rx_cfg);
    p.tx.start(p.now, BMV, &payload(50)).unwrap(); // 8 packets
    p.run(Duration::from_secs(10), |_, _| true);
    assert_eq!(p.received, vec![(BMV, payload(50))]);
    let ctss: Vec<(u8, u8)> = cm_bytes(&p.sent_by_rx)
        .iter()
        .filter(|b| b[0] == 0x11)
        .map(|b| (b[1], b[2]))
        .collect();
    assert_eq!(ctss, vec![(2, 1), (2, 3), (2, 5), (2, 7)]);
}

#[test]
fn a_lost_packet_is_requested_again() {
    let mut p = Pair::gbt();
    p.tx.start(p.now, BMV, &payload(49)).unwrap();
    // Frame 0 is the RTS, frames 1..=7 the DTs: lose DT #3 once.
    p.run(Duration::from_secs(10), |i, _| i != 3);
    assert_eq!(p.received, vec![(BMV, payload(49))]);
    assert_eq!(p.delivered, vec![BMV]);
    let ctss: Vec<[u8; 8]> = cm_bytes(&p.sent_by_rx)
        .into_iter()
        .filter(|b| b[0] == 0x11)
        .collect();
    assert_eq!(ctss.len(), 2);
    assert_eq!(ctss[1][..3], [0x11, 0x01, 0x03], "CTS asks for #3 only");
    assert_eq!(p.rx.stats().retransmit_requests, 1);
}

#[test]
fn too_many_retransmission_requests_abort() {
    let mut p = Pair::gbt();
    p.tx.start(p.now, BMV, &payload(49)).unwrap();
    // Frames 2, 4 and 6 are DT #2, #4 and #6 of the first window: three gaps, so three
    // retransmission requests, one more than the default limit of 2.
    p.run(Duration::from_secs(10), |i, _| ![2, 4, 6].contains(&i));
    assert!(p.received.is_empty());
    assert_eq!(
        p.rx_aborts,
        vec![(BMV, AbortCause::Local(AbortReason::MaxRetransmit))]
    );
    assert_eq!(
        p.tx_aborts,
        vec![(BMV, AbortCause::Peer(AbortReason::MaxRetransmit))]
    );
    assert_eq!(p.rx.stats().retransmit_requests, 2);
}

#[test]
fn a_packet_lost_every_time_ends_in_a_timeout() {
    let mut p = Pair::gbt();
    p.tx.start(p.now, BMV, &payload(49)).unwrap();
    p.run(Duration::from_secs(10), |_, f| {
        !(f.id() == 0x1CEB56F4 && f.data()[0] == 3)
    });
    assert!(p.received.is_empty());
    // After the one retransmission request, T2 (receiver) and T3 (sender) expire together.
    assert!(
        p.tx_aborts
            .contains(&(BMV, AbortCause::Local(AbortReason::Timeout)))
    );
    assert!(
        p.rx_aborts
            .contains(&(BMV, AbortCause::Local(AbortReason::Timeout)))
            || p.rx_aborts
                .contains(&(BMV, AbortCause::Peer(AbortReason::Timeout)))
    );
    assert_eq!(p.now.as_millis(), 60 + 1250);
}

/// Feeds hand-made DT frames to a charger receiver after an RTS for `len` bytes.
fn receiver_after_rts(len: usize) -> (TpReceiver, Instant) {
    let now = Instant::from_secs(1);
    let mut rx = TpReceiver::new(TpConfig::new(Node::Charger));
    let n = len.div_ceil(7) as u8;
    let size = (len as u16).to_le_bytes();
    let rts = CanFrame::new(
        0x1CEC56F4,
        &[0x10, size[0], size[1], n, 0xFF, 0x00, 0x15, 0x00],
    )
    .unwrap();
    rx.handle_frame(now, &rts).unwrap();
    assert!(rx.poll_transmit(now).is_some(), "CTS");
    (rx, now)
}

fn dt(seq: u8, data: &[u8]) -> CanFrame {
    let mut b = [0xFF; 8];
    b[0] = seq;
    let start = (usize::from(seq) - 1) * 7;
    for (i, x) in data.iter().skip(start).take(7).enumerate() {
        b[i + 1] = *x;
    }
    CanFrame::new(0x1CEB56F4, &b).unwrap()
}

#[test]
fn out_of_order_and_duplicate_packets_still_reassemble() {
    let data = payload(30); // 5 packets
    let (mut rx, now) = receiver_after_rts(30);
    for seq in [1, 3, 2, 2, 5, 4, 1] {
        rx.handle_frame(now, &dt(seq, &data)).unwrap();
    }
    // #5 arrived with #4 missing: one retransmission request, then #4 completed it.
    let out: Vec<[u8; 8]> = std::iter::from_fn(|| rx.poll_transmit(now))
        .map(|f| f.data_padded())
        .collect();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0][..3], [0x11, 0x01, 0x04]);
    assert_eq!(out[1][0], 0x13);
    assert_eq!(
        rx.poll_event(),
        Some(TpEvent::Received {
            pgn: BMV,
            data: &data
        })
    );
    assert_eq!(
        rx.stats().duplicate_packets,
        1,
        "the second #2; #1 came after the end"
    );
    assert_eq!(rx.stats().out_of_order_packets, 2);
    assert_eq!(rx.stats().frames_ignored, 1, "#1 after completion");
}

#[test]
fn bad_sequence_numbers_abort() {
    for seq in [0u8, 6, 200] {
        let (mut rx, now) = receiver_after_rts(30);
        let mut b = [0xFF; 8];
        b[0] = seq;
        rx.handle_frame(now, &CanFrame::new(0x1CEB56F4, &b).unwrap())
            .unwrap();
        let abort = rx.poll_transmit(now).unwrap();
        assert_eq!(abort.data()[..2], [0xFF, 7], "seq {seq}");
    }
}

#[test]
fn receiver_timeouts_t2_and_t1() {
    // T2: no DT after the CTS.
    let (mut rx, now) = receiver_after_rts(30);
    let t2 = rx.poll_timeout().unwrap();
    assert_eq!(t2, now + Duration::from_millis(1250));
    rx.handle_timeout(t2 - Duration::from_micros(1));
    assert!(rx.poll_transmit(t2).is_none(), "not yet");
    rx.handle_timeout(t2);
    assert_eq!(rx.poll_transmit(t2).unwrap().data()[..2], [0xFF, 3]);
    assert_eq!(
        rx.poll_event(),
        Some(TpEvent::Aborted {
            pgn: BMV,
            cause: AbortCause::Local(AbortReason::Timeout)
        })
    );
    // T1: the stream stops after #1.
    let (mut rx, now) = receiver_after_rts(30);
    rx.handle_frame(now, &dt(1, &payload(30))).unwrap();
    assert_eq!(rx.poll_timeout(), Some(now + Duration::from_millis(750)));
    rx.handle_timeout(now + Duration::from_millis(750));
    assert_eq!(rx.poll_transmit(now).unwrap().data()[..2], [0xFF, 3]);
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn sender_timeouts_t3_and_t4() {
    let mut tx = TpSender::new(TpConfig::new(Node::Bms));
    let t0 = Instant::ZERO;
    tx.start(t0, BCS, &payload(9)).unwrap();
    tx.poll_transmit(t0).unwrap();
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(1250)));
    tx.handle_timeout(t0 + Duration::from_millis(1250));
    let abort = tx.poll_transmit(t0).unwrap();
    assert_eq!(abort.id(), 0x1CEC56F4);
    assert_eq!(abort.data(), [0xFF, 3, 0xFF, 0xFF, 0xFF, 0x00, 0x11, 0x00]);
    // Hold with CTS(0), then silence: T4.
    tx.start(t0, BCS, &payload(9)).unwrap();
    tx.poll_transmit(t0).unwrap();
    let hold = CanFrame::new(0x1CECF456, &[0x11, 0, 0xFF, 0xFF, 0xFF, 0x00, 0x11, 0x00]).unwrap();
    assert_eq!(tx.handle_frame(t0, &hold), Ok(FrameUse::Consumed));
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(1050)));
    assert_eq!(tx.poll_transmit(t0), None, "no data while held");
    tx.handle_timeout(t0 + Duration::from_millis(1050));
    assert_eq!(tx.poll_transmit(t0).unwrap().data()[..2], [0xFF, 3]);
    assert_eq!(tx.stats().aborted_local, 2);
}

#[test]
fn hold_then_resume() {
    let mut tx = TpSender::new(TpConfig::new(Node::Bms));
    let t0 = Instant::ZERO;
    tx.start(t0, BCS, &payload(9)).unwrap();
    tx.poll_transmit(t0).unwrap();
    let hold = CanFrame::new(0x1CECF456, &[0x11, 0, 0xFF, 0xFF, 0xFF, 0x00, 0x11, 0x00]).unwrap();
    tx.handle_frame(t0, &hold).unwrap();
    let t1 = t0 + Duration::from_millis(500);
    let go = CanFrame::new(0x1CECF456, &[0x11, 2, 1, 0xFF, 0xFF, 0x00, 0x11, 0x00]).unwrap();
    tx.handle_frame(t1, &go).unwrap();
    assert_eq!(tx.poll_transmit(t1).unwrap().data()[0], 1);
}

#[test]
fn aborts_from_the_peer_end_both_machines() {
    // [T2] candump2: the BMS aborts BRM with FF FF FF FF FF 00 02 00.
    let mut rx = TpReceiver::new(TpConfig::new(Node::Charger));
    let now = Instant::ZERO;
    let rts = CanFrame::new(
        0x1CEC56F4,
        &[0x10, 0x31, 0x00, 0x07, 0x07, 0x00, 0x02, 0x00],
    )
    .unwrap();
    rx.handle_frame(now, &rts).unwrap();
    rx.poll_transmit(now).unwrap();
    let abort = CanFrame::new(
        0x1CEC56F4,
        &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x02, 0x00],
    )
    .unwrap();
    assert_eq!(rx.handle_frame(now, &abort), Ok(FrameUse::Consumed));
    assert_eq!(
        rx.poll_event(),
        Some(TpEvent::Aborted {
            pgn: 0x0200,
            cause: AbortCause::Peer(AbortReason::Unspecified)
        })
    );
    assert_eq!(rx.poll_timeout(), None);
    // The charger aborts a BMS transfer.
    let mut tx = TpSender::new(TpConfig::new(Node::Bms));
    tx.start(now, 0x0600, &payload(13)).unwrap();
    let charger_abort = CanFrame::new(
        0x1CECF456,
        &[0xFF, 0x02, 0xFF, 0xFF, 0xFF, 0x00, 0x06, 0x00],
    )
    .unwrap();
    // An abort for another PGN does not concern this session.
    let other = CanFrame::new(
        0x1CECF456,
        &[0xFF, 0x02, 0xFF, 0xFF, 0xFF, 0x00, 0x11, 0x00],
    )
    .unwrap();
    assert_eq!(tx.handle_frame(now, &other), Ok(FrameUse::Ignored));
    assert_eq!(tx.handle_frame(now, &charger_abort), Ok(FrameUse::Consumed));
    assert_eq!(
        tx.poll_event(),
        Some(TpEvent::Aborted {
            pgn: 0x0600,
            cause: AbortCause::Peer(AbortReason::ResourcesNeeded)
        })
    );
}

#[test]
fn rts_while_open_restarts_or_aborts_by_policy() {
    let data = payload(13);
    let rts =
        |pgn: u8| CanFrame::new(0x1CEC56F4, &[0x10, 13, 0, 2, 0xFF, 0x00, pgn, 0x00]).unwrap();
    let now = Instant::ZERO;
    // Restart ([SK]): the new session replaces the old one.
    let mut rx = TpReceiver::new(TpConfig::new(Node::Charger));
    rx.handle_frame(now, &rts(0x06)).unwrap();
    rx.handle_frame(now, &dt(1, &data)).unwrap();
    rx.handle_frame(now, &rts(0x11)).unwrap();
    assert_eq!(
        rx.poll_event(),
        Some(TpEvent::Aborted {
            pgn: 0x0600,
            cause: AbortCause::Superseded
        })
    );
    rx.handle_frame(now, &dt(1, &data)).unwrap();
    rx.handle_frame(now, &dt(2, &data)).unwrap();
    assert_eq!(
        rx.poll_event(),
        Some(TpEvent::Received {
            pgn: 0x1100,
            data: &data
        })
    );
    // Abort ([LK]): reason 1 for the open session, the new RTS is not answered.
    let mut rx = TpReceiver::new(TpConfig {
        rts_while_open: RtsWhileOpen::Abort,
        ..TpConfig::new(Node::Charger)
    });
    rx.handle_frame(now, &rts(0x06)).unwrap();
    rx.poll_transmit(now).unwrap();
    rx.handle_frame(now, &rts(0x11)).unwrap();
    let out: Vec<CanFrame> = std::iter::from_fn(|| rx.poll_transmit(now)).collect();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].data(), [0xFF, 1, 0xFF, 0xFF, 0xFF, 0x00, 0x06, 0x00]);
    assert_eq!(rx.active_pgn(), None);
}

#[test]
fn unpolled_message_is_dropped_when_a_new_rts_arrives() {
    let data = payload(13);
    let now = Instant::ZERO;
    let mut rx = TpReceiver::new(TpConfig::new(Node::Charger));
    let rts = CanFrame::new(0x1CEC56F4, &[0x10, 13, 0, 2, 0xFF, 0x00, 0x06, 0x00]).unwrap();
    rx.handle_frame(now, &rts).unwrap();
    rx.handle_frame(now, &dt(1, &data)).unwrap();
    rx.handle_frame(now, &dt(2, &data)).unwrap();
    rx.handle_frame(now, &rts).unwrap();
    assert_eq!(rx.poll_event(), None);
    assert_eq!(rx.stats().dropped, 1);
}

#[test]
fn cts_during_a_window_aborts_the_sender() {
    let mut tx = TpSender::new(TpConfig::new(Node::Bms));
    let t0 = Instant::ZERO;
    tx.start(t0, BMV, &payload(49)).unwrap();
    tx.poll_transmit(t0).unwrap();
    let cts = CanFrame::new(0x1CECF456, &[0x11, 7, 1, 0xFF, 0xFF, 0x00, 0x15, 0x00]).unwrap();
    tx.handle_frame(t0, &cts).unwrap();
    tx.poll_transmit(t0).unwrap();
    tx.handle_frame(t0, &cts).unwrap();
    assert_eq!(tx.poll_transmit(t0).unwrap().data()[..2], [0xFF, 4]);
    // A CTS asking for a packet beyond the message aborts with reason 7.
    tx.start(t0, BMV, &payload(49)).unwrap();
    tx.poll_transmit(t0).unwrap();
    let bad = CanFrame::new(0x1CECF456, &[0x11, 1, 8, 0xFF, 0xFF, 0x00, 0x15, 0x00]).unwrap();
    tx.handle_frame(t0, &bad).unwrap();
    assert_eq!(tx.poll_transmit(t0).unwrap().data()[..2], [0xFF, 7]);
}

#[test]
fn early_end_of_message_ack_is_ignored() {
    let mut tx = TpSender::new(TpConfig::new(Node::Bms));
    let t0 = Instant::ZERO;
    tx.start(t0, BCS, &payload(9)).unwrap();
    tx.poll_transmit(t0).unwrap();
    let eoma = CanFrame::new(0x1CECF456, &[0x13, 9, 0, 2, 0xFF, 0x00, 0x11, 0x00]).unwrap();
    tx.handle_frame(t0, &eoma).unwrap();
    assert_eq!(tx.poll_event(), None);
    assert_eq!(tx.active_pgn(), Some(BCS));
    assert_eq!(tx.stats().frames_ignored, 1);
}

#[test]
fn abort_reason_override_sends_ff_like_real_devices() {
    let mut tx = TpSender::new(TpConfig {
        abort_reason_override: Some(AbortReason::Unspecified),
        ..TpConfig::new(Node::Bms)
    });
    tx.start(Instant::ZERO, 0x0200, &payload(49)).unwrap();
    tx.poll_transmit(Instant::ZERO).unwrap();
    tx.abort(Instant::ZERO, AbortReason::Timeout);
    assert_eq!(
        tx.poll_transmit(Instant::ZERO).unwrap().data(),
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x02, 0x00]
    );
    assert_eq!(
        tx.poll_event(),
        Some(TpEvent::Aborted {
            pgn: 0x0200,
            cause: AbortCause::Local(AbortReason::Timeout)
        })
    );
}

/// Any frame the bus could carry, biased towards TP traffic between the two GB/T nodes.
fn arbitrary_frame() -> impl Strategy<Value = CanFrame> {
    let id = prop_oneof![
        Just(0x1CEC56F4u32),
        Just(0x1CEB56F4),
        Just(0x1CECF456),
        Just(0x1CEBF456),
        0u32..=0x1FFF_FFFF,
    ];
    let control = prop_oneof![
        Just(0x10u8),
        Just(0x11),
        Just(0x13),
        Just(0xFF),
        any::<u8>()
    ];
    (id, control, proptest::collection::vec(any::<u8>(), 0..=7)).prop_map(|(id, c, rest)| {
        let mut data = vec![c];
        data.extend(rest);
        CanFrame::new(id, &data).unwrap()
    })
}

proptest! {
    #[test]
    fn receiver_and_sender_never_panic_on_arbitrary_frames(
        frames in proptest::collection::vec((arbitrary_frame(), 0u64..2_000_000), 0..200),
        start_len in 0usize..2000,
    ) {
        let mut rx = TpReceiver::new(TpConfig::new(Node::Charger));
        let mut tx = TpSender::new(TpConfig::new(Node::Bms));
        let mut now = Instant::ZERO;
        let _ = tx.start(now, BMV, &payload(start_len));
        for (frame, dt_us) in frames {
            now += Duration::from_micros(dt_us);
            rx.handle_timeout(now);
            tx.handle_timeout(now);
            let _ = rx.handle_frame(now, &frame);
            let _ = tx.handle_frame(now, &frame);
            while rx.poll_transmit(now).is_some() {}
            while tx.poll_transmit(now).is_some() {}
            while let Some(e) = rx.poll_event() {
                if let TpEvent::Received { data, .. } = e {
                    prop_assert!(data.len() >= 9 && data.len() <= 1785);
                }
            }
            while tx.poll_event().is_some() {}
            // Once all output is drained, every pending deadline lies in the future.
            for t in [rx.poll_timeout(), tx.poll_timeout()].into_iter().flatten() {
                prop_assert!(t > now);
            }
        }
    }

    #[test]
    fn lossy_link_delivers_exact_data_or_aborts(
        len in 9usize..=600,
        losses in proptest::collection::btree_set(1usize..120, 0..4),
        window in 1u8..=255,
    ) {
        let rx_cfg = TpConfig { max_packets_per_cts: window, ..TpConfig::new(Node::Charger) };
        let mut p = Pair::new(TpConfig::new(Node::Bms), rx_cfg);
        p.tx.start(p.now, BMV, &payload(len)).unwrap();
        p.run(Duration::from_secs(60), |i, _| !losses.contains(&i));
        // Whatever happens, a delivered message is exactly what was sent, and each side
        // ends in exactly one outcome.
        for (pgn, data) in &p.received {
            prop_assert_eq!(*pgn, BMV);
            prop_assert_eq!(data, &payload(len));
        }
        prop_assert_eq!(p.delivered.len() + p.tx_aborts.len(), 1);
        prop_assert!(p.received.len() + p.rx_aborts.len() <= 1);
        if p.delivered.len() == 1 {
            prop_assert_eq!(p.received.len(), 1);
        }
        prop_assert_eq!(p.tx.active_pgn(), None);
        prop_assert_eq!(p.rx.active_pgn(), None);
    }
}
