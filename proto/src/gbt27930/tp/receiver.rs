//! The responder side of J1939-21 connection-mode transport (the GB/T charger's role).

use super::frames::{
    AbortReason, TP_BYTES_PER_PACKET, TP_MAX_MESSAGE_SIZE, TP_MIN_MESSAGE_SIZE, TpCm, TpDt, TpKind,
    tp_frame, tp_kind,
};
use super::{
    AbortCause, FixedQueue, FrameUse, PacketSet, RtsWhileOpen, TpConfig, TpError, TpEvent, TpStats,
};
use crate::can::CanFrame;
use crate::time::Instant;

/// An event waiting to be polled; `Received` refers to the buffer by length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RxEvent {
    Received { pgn: u32, len: usize },
    Aborted { pgn: u32, cause: AbortCause },
}

/// One message being reassembled.
#[derive(Debug, Clone, Copy)]
struct RxSession {
    pgn: u32,
    size: usize,
    packets: u8,
    /// Most packets the originator wants per CTS (RTS byte 5; 0xFF or 0 = no limit).
    originator_limit: u8,
    received: PacketSet,
    /// The packets the last CTS asked for.
    window_start: u8,
    window_end: u8,
    /// The highest packet number any CTS has allowed; later ones are a bad sequence.
    granted_end: u8,
    /// The highest packet number stored so far.
    highest_received: u8,
    /// How many distinct packets are stored: the message is complete when it reaches
    /// `packets` (only numbers 1..=`packets` are stored, each once).
    received_count: u8,
    retransmit_requests: u8,
    /// T2 after a CTS, T1 after a DT.
    deadline: Instant,
}

/// Reassembles messages sent with RTS/CTS: answers RTS with CTS, stores TP.DT packets in
/// a fixed buffer, asks again for missing packets, acknowledges with EndOfMsgAck.
///
/// Packet handling:
/// - duplicates (a packet already stored) are counted and ignored;
/// - packets out of order but inside what a CTS allowed are stored in place;
/// - when the last packet of a window arrives with gaps, a CTS asks for the first missing
///   run; each CTS for a packet below the highest one received counts as a retransmission
///   request, and more than `max_retransmit_requests` of them abort with reason 5;
/// - sequence 0, beyond the message, or beyond anything granted: Abort reason 7;
/// - TP.DT with no session open: ignored.
///
/// RTS checks: size 9..=buffer and packets = ⌈size / 7⌉, else Abort (reason 9 above 1785
/// bytes, 2 above the configured buffer, 250 otherwise).
#[derive(Debug, Clone)]
pub struct TpReceiver {
    config: TpConfig,
    buffer: Box<[u8]>,
    session: Option<RxSession>,
    transmit: FixedQueue<CanFrame, 4>,
    events: FixedQueue<RxEvent, 4>,
    stats: TpStats,
}

impl TpReceiver {
    /// A receiver with a buffer of `config.max_message_size` (clamped to 9..=1785) bytes.
    pub fn new(config: TpConfig) -> TpReceiver {
        TpReceiver {
            config,
            buffer: vec![0u8; config.buffer_size()].into_boxed_slice(),
            session: None,
            transmit: FixedQueue::new(),
            events: FixedQueue::new(),
            stats: TpStats::default(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &TpConfig {
        &self.config
    }

    /// Counters since construction.
    pub fn stats(&self) -> &TpStats {
        &self.stats
    }

    /// The PGN being received, if a session is open.
    pub fn active_pgn(&self) -> Option<u32> {
        self.session.map(|s| s.pgn)
    }

    /// Feeds one received frame. Frames that are not TP traffic from the peer to this node,
    /// and TP.CM types that concern the sender (CTS, EndOfMsgAck), return `Ignored`.
    pub fn handle_frame(&mut self, now: Instant, frame: &CanFrame) -> Result<FrameUse, TpError> {
        let local = self.config.local_address;
        let remote = self.config.remote_address;
        match tp_kind(frame, local, remote) {
            None => Ok(FrameUse::Ignored),
            Some(TpKind::Cm) => Ok(match TpCm::decode(frame.data())? {
                TpCm::Rts {
                    total_size,
                    total_packets,
                    max_packets_per_cts,
                    pgn,
                } => {
                    self.on_rts(now, total_size, total_packets, max_packets_per_cts, pgn);
                    FrameUse::Consumed
                }
                TpCm::Abort { reason, pgn } => self.on_peer_abort(reason, pgn),
                TpCm::Cts { .. } | TpCm::EndOfMsgAck { .. } | TpCm::Bam { .. } => FrameUse::Ignored,
            }),
            Some(TpKind::Dt) => {
                let dt = TpDt::decode(frame.data())?;
                Ok(self.on_dt(now, dt))
            }
        }
    }

    /// Fires an expired T1/T2 timer: aborts the session with reason 3 (timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(s) = self.session
            && now >= s.deadline
        {
            self.abort_session(AbortReason::Timeout);
        }
    }

    /// The next deadline (T1 or T2) while a session is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.session.map(|s| s.deadline)
    }

    /// The next frame to send (CTS, EndOfMsgAck or Abort), oldest first.
    pub fn poll_transmit(&mut self, _now: Instant) -> Option<CanFrame> {
        self.transmit.pop()
    }

    /// The next event. A `Received` payload borrows the buffer: poll it before feeding the
    /// next RTS, which would discard an unpolled message (counted in `stats().dropped`).
    pub fn poll_event(&mut self) -> Option<TpEvent<'_>> {
        Some(match self.events.pop()? {
            RxEvent::Received { pgn, len } => TpEvent::Received {
                pgn,
                data: self.buffer.get(..len).unwrap_or(&[]),
            },
            RxEvent::Aborted { pgn, cause } => TpEvent::Aborted { pgn, cause },
        })
    }

    /// Aborts the open session from this side (e.g. fault injection), sending `reason`.
    pub fn abort(&mut self, _now: Instant, reason: AbortReason) {
        if self.session.is_some() {
            self.abort_session(reason);
        }
    }

    fn on_rts(&mut self, now: Instant, size: u16, packets: u8, limit: u8, pgn: u32) {
        let size = usize::from(size);
        if let Some(open) = self.session {
            match self.config.rts_while_open {
                RtsWhileOpen::Restart => {
                    self.session = None;
                    self.stats.superseded += 1;
                    self.push_event(RxEvent::Aborted {
                        pgn: open.pgn,
                        cause: AbortCause::Superseded,
                    });
                }
                RtsWhileOpen::Abort => {
                    self.abort_session(AbortReason::AlreadyInSession);
                    return;
                }
            }
        }
        if let Some(reason) = self.rts_problem(size, packets) {
            self.send_abort(pgn, reason);
            self.stats.aborted_local += 1;
            self.push_event(RxEvent::Aborted {
                pgn,
                cause: AbortCause::Local(reason),
            });
            return;
        }
        // The buffer is about to be overwritten: an unpolled message is lost.
        let dropped = self
            .events
            .retain(|e| !matches!(e, RxEvent::Received { .. }));
        self.stats.dropped += dropped as u64;
        self.stats.sessions_started += 1;
        let mut session = RxSession {
            pgn,
            size,
            packets,
            originator_limit: limit,
            received: PacketSet::default(),
            window_start: 1,
            window_end: 0,
            granted_end: 0,
            highest_received: 0,
            received_count: 0,
            retransmit_requests: 0,
            deadline: now,
        };
        self.send_cts(now, &mut session, 1);
        self.session = Some(session);
    }

    /// Why an RTS cannot be accepted, if it cannot.
    fn rts_problem(&self, size: usize, packets: u8) -> Option<AbortReason> {
        if size > TP_MAX_MESSAGE_SIZE {
            Some(AbortReason::MessageTooLarge)
        } else if size > self.buffer.len() {
            Some(AbortReason::ResourcesNeeded)
        } else if size < TP_MIN_MESSAGE_SIZE || usize::from(packets) != size.div_ceil(7) {
            Some(AbortReason::Other)
        } else {
            None
        }
    }

    fn on_peer_abort(&mut self, reason: AbortReason, pgn: u32) -> FrameUse {
        match self.session {
            Some(s) if s.pgn == pgn => {
                self.session = None;
                self.stats.aborted_by_peer += 1;
                self.push_event(RxEvent::Aborted {
                    pgn,
                    cause: AbortCause::Peer(reason),
                });
                FrameUse::Consumed
            }
            _ => FrameUse::Ignored,
        }
    }

    fn on_dt(&mut self, now: Instant, dt: TpDt) -> FrameUse {
        let Some(mut s) = self.session else {
            self.stats.frames_ignored += 1;
            return FrameUse::Ignored;
        };
        let seq = dt.sequence;
        if seq == 0 || seq > s.packets || seq > s.granted_end {
            self.abort_session(AbortReason::BadSequence);
            return FrameUse::Consumed;
        }
        if s.received.contains(seq) {
            self.stats.duplicate_packets += 1;
            return FrameUse::Consumed;
        }
        if s.received.first_missing(seq) != Some(seq) {
            self.stats.out_of_order_packets += 1;
        }
        self.store(&s, seq, &dt.data);
        s.received.insert(seq);
        s.received_count = s.received_count.saturating_add(1);
        s.highest_received = s.highest_received.max(seq);
        s.deadline = now + self.config.t1;
        if s.received_count >= s.packets {
            self.complete(&s);
            return FrameUse::Consumed;
        }
        // Ask for more when the window is complete, or when its last packet arrived with
        // gaps (the sender has moved past them).
        let window_done = s.received.contains_all(s.window_start, s.window_end);
        if (window_done || seq >= s.window_end)
            && let Some(next) = s.received.first_missing(s.packets)
        {
            if next < s.highest_received {
                // Asking again for a packet the sender already sent: a retransmission.
                s.retransmit_requests = s.retransmit_requests.saturating_add(1);
                if s.retransmit_requests > self.config.max_retransmit_requests {
                    self.session = Some(s);
                    self.abort_session(AbortReason::MaxRetransmit);
                    return FrameUse::Consumed;
                }
                self.stats.retransmit_requests += 1;
            }
            self.send_cts(now, &mut s, next);
        }
        self.session = Some(s);
        FrameUse::Consumed
    }

    /// Copies one packet's payload to its place in the buffer (the last packet is partial).
    fn store(&mut self, s: &RxSession, seq: u8, data: &[u8; 7]) {
        let offset = (usize::from(seq) - 1) * TP_BYTES_PER_PACKET;
        let len = s.size.saturating_sub(offset).min(TP_BYTES_PER_PACKET);
        if len == TP_BYTES_PER_PACKET {
            // A whole packet: a fixed-size copy.
            if let Some(dst) = self
                .buffer
                .get_mut(offset..)
                .and_then(<[u8]>::first_chunk_mut::<7>)
            {
                *dst = *data;
            }
        } else if let (Some(dst), Some(src)) =
            (self.buffer.get_mut(offset..offset + len), data.get(..len))
        {
            dst.copy_from_slice(src);
        }
    }

    fn complete(&mut self, s: &RxSession) {
        let ack = TpCm::EndOfMsgAck {
            total_size: s.size as u16,
            total_packets: s.packets,
            pgn: s.pgn,
        };
        self.queue_cm(&ack);
        self.session = None;
        self.stats.sessions_completed += 1;
        self.push_event(RxEvent::Received {
            pgn: s.pgn,
            len: s.size,
        });
    }

    /// Sends a CTS for the missing run starting at `next`, capped by both sides' limits.
    fn send_cts(&mut self, now: Instant, s: &mut RxSession, next: u8) {
        let originator = match s.originator_limit {
            0 => 0xFF,
            n => n,
        };
        let limit = originator.min(self.config.max_packets_per_cts.max(1));
        let count = s.received.missing_run(next, s.packets).min(limit).max(1);
        s.window_start = next;
        s.window_end = next.saturating_add(count - 1);
        s.granted_end = s.granted_end.max(s.window_end);
        s.deadline = now + self.config.t2;
        self.queue_cm(&TpCm::Cts {
            packets: count,
            next_packet: next,
            pgn: s.pgn,
        });
    }

    fn abort_session(&mut self, reason: AbortReason) {
        if let Some(s) = self.session.take() {
            self.send_abort(s.pgn, reason);
            self.stats.aborted_local += 1;
            self.push_event(RxEvent::Aborted {
                pgn: s.pgn,
                cause: AbortCause::Local(reason),
            });
        }
    }

    fn send_abort(&mut self, pgn: u32, reason: AbortReason) {
        let reason = self.config.wire_reason(reason);
        self.queue_cm(&TpCm::Abort { reason, pgn });
    }

    fn queue_cm(&mut self, cm: &TpCm) {
        let frame = tp_frame(
            TpKind::Cm,
            self.config.local_address,
            self.config.remote_address,
            cm.encode(),
        );
        if !self.transmit.push(frame) {
            self.stats.dropped += 1;
        }
    }

    fn push_event(&mut self, event: RxEvent) {
        if !self.events.push(event) {
            self.stats.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbt27930::id::Node;
    use crate::time::Duration;

    const T0: Instant = Instant::from_millis(1000);

    fn bms_cm(data: [u8; 8]) -> CanFrame {
        CanFrame::new(0x1CEC56F4, &data).unwrap()
    }

    fn bms_dt(data: &[u8]) -> CanFrame {
        CanFrame::new(0x1CEB56F4, data).unwrap()
    }

    fn charger() -> TpReceiver {
        TpReceiver::new(TpConfig::new(Node::Charger))
    }

    fn sent(rx: &mut TpReceiver) -> Vec<[u8; 8]> {
        std::iter::from_fn(|| rx.poll_transmit(T0))
            .map(|f| {
                assert_eq!(f.id(), 0x1CECF456);
                f.data_padded()
            })
            .collect()
    }

    /// The real \[T2\] BCS session: RTS 9 bytes / 2 packets, CTS 2 from #1, two DTs, EOMA.
    #[test]
    fn real_bcs_session_reassembles() {
        let mut rx = charger();
        let rts = bms_cm([0x10, 0x09, 0x00, 0x02, 0xFF, 0x00, 0x11, 0x00]);
        assert_eq!(rx.handle_frame(T0, &rts), Ok(FrameUse::Consumed));
        assert_eq!(
            sent(&mut rx),
            vec![[0x11, 0x02, 0x01, 0xFF, 0xFF, 0x00, 0x11, 0x00]]
        );
        assert_eq!(rx.poll_timeout(), Some(T0 + Duration::from_millis(1250)));
        let dt1 = bms_dt(&[0x01, 0xDD, 0x0D, 0x1C, 0x0B, 0x73, 0x41, 0x23]);
        let dt2 = bms_dt(&[0x02, 0x56, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        rx.handle_frame(T0, &dt1).unwrap();
        assert_eq!(rx.poll_timeout(), Some(T0 + Duration::from_millis(750)));
        rx.handle_frame(T0, &dt2).unwrap();
        assert_eq!(
            sent(&mut rx),
            vec![[0x13, 0x09, 0x00, 0x02, 0xFF, 0x00, 0x11, 0x00]]
        );
        assert_eq!(
            rx.poll_event(),
            Some(TpEvent::Received {
                pgn: 0x1100,
                data: &[0xDD, 0x0D, 0x1C, 0x0B, 0x73, 0x41, 0x23, 0x56, 0x00],
            })
        );
        assert_eq!(rx.poll_timeout(), None);
        assert_eq!(rx.stats().sessions_completed, 1);
    }

    #[test]
    fn bad_rts_is_refused_with_an_abort() {
        let mut rx = TpReceiver::new(TpConfig {
            max_message_size: 64,
            ..TpConfig::new(Node::Charger)
        });
        // 8 bytes is not a TP message; 100 bytes exceeds the 64-byte buffer; 1786 > 1785;
        // 49 bytes in 6 packets is inconsistent.
        for (rts, reason) in [
            ([0x10, 0x08, 0x00, 0x02, 0xFF, 0x00, 0x11, 0x00], 250),
            ([0x10, 0x64, 0x00, 0x0F, 0xFF, 0x00, 0x15, 0x00], 2),
            ([0x10, 0xFA, 0x06, 0xFF, 0xFF, 0x00, 0x15, 0x00], 9),
            ([0x10, 0x31, 0x00, 0x06, 0xFF, 0x00, 0x02, 0x00], 250),
        ] {
            rx.handle_frame(T0, &bms_cm(rts)).unwrap();
            let out = sent(&mut rx);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0][..2], [0xFF, reason]);
            assert_eq!(out[0][5..], rts[5..]);
            assert!(matches!(
                rx.poll_event(),
                Some(TpEvent::Aborted {
                    cause: AbortCause::Local(_),
                    ..
                })
            ));
            assert_eq!(rx.active_pgn(), None);
        }
    }

    #[test]
    fn frames_for_others_are_ignored_and_malformed_ones_rejected() {
        let mut rx = charger();
        let foreign = CanFrame::new(0x1CEC57F4, &[0x10, 9, 0, 2, 0xFF, 0, 0x11, 0]).unwrap();
        assert_eq!(rx.handle_frame(T0, &foreign), Ok(FrameUse::Ignored));
        let cts = bms_cm([0x11, 1, 1, 0xFF, 0xFF, 0, 2, 0]);
        assert_eq!(rx.handle_frame(T0, &cts), Ok(FrameUse::Ignored));
        let short = CanFrame::new(0x1CEC56F4, &[0x10, 9]).unwrap();
        assert!(rx.handle_frame(T0, &short).is_err());
        let stray_dt = bms_dt(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(rx.handle_frame(T0, &stray_dt), Ok(FrameUse::Ignored));
        assert_eq!(rx.stats().frames_ignored, 1);
        assert!(sent(&mut rx).is_empty());
    }
}
