//! The originator side of J1939-21 connection-mode transport (the GB/T BMS's role).

use super::frames::{
    AbortReason, TP_BYTES_PER_PACKET, TP_MIN_MESSAGE_SIZE, TpCm, TpDt, TpKind, tp_frame, tp_kind,
};
use super::{AbortCause, FixedQueue, FrameUse, TpConfig, TpError, TpEvent, TpStats};
use crate::can::CanFrame;
use crate::time::Instant;

/// What the originator is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxPhase {
    /// RTS or a window's last DT sent; waiting for CTS or EndOfMsgAck (T3).
    AwaitResponse { deadline: Instant },
    /// The receiver sent CTS(0); waiting for the next CTS (T4).
    Hold { deadline: Instant },
    /// Sending packets `next..=last` of the current CTS window, one per `dt_interval`.
    Sending {
        next: u8,
        last: u8,
        next_at: Instant,
    },
}

/// One message being sent.
#[derive(Debug, Clone, Copy)]
struct TxSession {
    pgn: u32,
    size: usize,
    packets: u8,
    /// The highest packet sent so far; EndOfMsgAck is accepted once it reaches `packets`.
    highest_sent: u8,
    phase: TxPhase,
}

/// An event waiting to be polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxEvent {
    Delivered { pgn: u32 },
    Aborted { pgn: u32, cause: AbortCause },
}

/// Sends one message of 9..=1785 bytes with RTS/CTS: RTS, then the TP.DT packets of each
/// CTS window spaced by `dt_interval`, until EndOfMsgAck.
///
/// - CTS(0) holds the transfer (T4); any CTS may ask for earlier packets again.
/// - A CTS while a window is still being sent aborts with reason 4 (J1939-21).
/// - A CTS asking for packet 0 or beyond the message aborts with reason 7.
/// - EndOfMsgAck before every packet was sent once is ignored (counted).
/// - No CTS/EndOfMsgAck within T3, or no CTS within T4 of a hold: abort with reason 3.
///
/// Retrying a failed message is the owner's decision (GB/T BMSs resend on their next
/// period, \[T2\]).
#[derive(Debug, Clone)]
pub struct TpSender {
    config: TpConfig,
    buffer: Box<[u8]>,
    session: Option<TxSession>,
    /// `poll_timeout` of `session`, kept with it: the owner asks on every poll.
    timeout: Option<Instant>,
    transmit: FixedQueue<CanFrame, 4>,
    events: FixedQueue<TxEvent, 4>,
    stats: TpStats,
}

impl TpSender {
    /// A sender with a buffer of `config.max_message_size` (clamped to 9..=1785) bytes.
    pub fn new(config: TpConfig) -> TpSender {
        TpSender {
            config,
            buffer: vec![0u8; config.buffer_size()].into_boxed_slice(),
            session: None,
            timeout: None,
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

    /// The PGN being sent, if a session is open.
    pub fn active_pgn(&self) -> Option<u32> {
        self.session.map(|s| s.pgn)
    }

    /// Whether frames are queued for [`poll_transmit`](Self::poll_transmit) whatever the
    /// time (RTS, aborts); a TP.DT falls due at [`poll_timeout`](Self::poll_timeout) instead.
    pub fn has_queued_frames(&self) -> bool {
        !self.transmit.is_empty()
    }

    /// Replaces the session and the deadline kept with it.
    fn set_session(&mut self, session: Option<TxSession>) {
        self.session = session;
        self.timeout = session.map(|s| match s.phase {
            TxPhase::AwaitResponse { deadline } | TxPhase::Hold { deadline } => deadline,
            TxPhase::Sending { next_at, .. } => next_at,
        });
    }

    /// Starts sending `data` as PGN `pgn`: copies it and queues the RTS.
    pub fn start(&mut self, now: Instant, pgn: u32, data: &[u8]) -> Result<(), TpError> {
        if let Some(s) = self.session {
            return Err(TpError::Busy { pgn: s.pgn });
        }
        let size = data.len();
        let max = self.buffer.len();
        let Some(dst) = self
            .buffer
            .get_mut(..size)
            .filter(|_| size >= TP_MIN_MESSAGE_SIZE)
        else {
            return Err(TpError::SizeOutOfRange {
                size,
                min: TP_MIN_MESSAGE_SIZE,
                max,
            });
        };
        dst.copy_from_slice(data);
        // 9..=1785 bytes is 2..=255 packets, so the casts below are exact.
        let packets = size.div_ceil(TP_BYTES_PER_PACKET) as u8;
        self.queue_cm(&TpCm::Rts {
            total_size: size as u16,
            total_packets: packets,
            max_packets_per_cts: self.config.max_packets_per_cts,
            pgn,
        });
        self.set_session(Some(TxSession {
            pgn,
            size,
            packets,
            highest_sent: 0,
            phase: TxPhase::AwaitResponse {
                deadline: now + self.config.t3,
            },
        }));
        self.stats.sessions_started += 1;
        Ok(())
    }

    /// Feeds one received frame. Only TP.CM CTS, EndOfMsgAck and Abort from the peer about
    /// the open session are consumed; everything else returns `Ignored`.
    pub fn handle_frame(&mut self, now: Instant, frame: &CanFrame) -> Result<FrameUse, TpError> {
        let local = self.config.local_address;
        let remote = self.config.remote_address;
        if tp_kind(frame, local, remote) != Some(TpKind::Cm) {
            return Ok(FrameUse::Ignored);
        }
        let cm = TpCm::decode(frame.data())?;
        let Some(s) = self.session.filter(|s| s.pgn == cm.pgn()) else {
            if !matches!(cm, TpCm::Rts { .. } | TpCm::Bam { .. }) {
                self.stats.frames_ignored += 1;
            }
            return Ok(FrameUse::Ignored);
        };
        match cm {
            TpCm::Cts {
                packets,
                next_packet,
                ..
            } => self.on_cts(now, s, packets, next_packet),
            TpCm::EndOfMsgAck { .. } if s.highest_sent >= s.packets => {
                self.set_session(None);
                self.stats.sessions_completed += 1;
                self.push_event(TxEvent::Delivered { pgn: s.pgn });
            }
            TpCm::EndOfMsgAck { .. } => self.stats.frames_ignored += 1,
            TpCm::Abort { reason, pgn } => {
                self.set_session(None);
                self.stats.aborted_by_peer += 1;
                self.push_event(TxEvent::Aborted {
                    pgn,
                    cause: AbortCause::Peer(reason),
                });
            }
            TpCm::Rts { .. } | TpCm::Bam { .. } => return Ok(FrameUse::Ignored),
        }
        Ok(FrameUse::Consumed)
    }

    fn on_cts(&mut self, now: Instant, mut s: TxSession, packets: u8, next: u8) {
        if matches!(s.phase, TxPhase::Sending { .. }) {
            self.abort_session(AbortReason::CtsDuringTransfer);
            return;
        }
        if packets == 0 {
            s.phase = TxPhase::Hold {
                deadline: now + self.config.t4,
            };
        } else if next == 0 || next > s.packets {
            self.abort_session(AbortReason::BadSequence);
            return;
        } else {
            let last = next.saturating_add(packets - 1).min(s.packets);
            s.phase = TxPhase::Sending {
                next,
                last,
                next_at: now,
            };
        }
        self.set_session(Some(s));
    }

    /// Fires an expired T3/T4 timer: aborts the session with reason 3 (timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(s) = self.session {
            match s.phase {
                TxPhase::AwaitResponse { deadline } | TxPhase::Hold { deadline }
                    if now >= deadline =>
                {
                    self.abort_session(AbortReason::Timeout);
                }
                _ => {}
            }
        }
    }

    /// The next deadline: the time of the next TP.DT while sending, else T3/T4.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timeout
    }

    /// The next frame to send: queued TP.CM frames first, then the next TP.DT once its time
    /// has come.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<CanFrame> {
        if let Some(frame) = self.transmit.pop() {
            return Some(frame);
        }
        let mut s = self.session?;
        let TxPhase::Sending {
            next,
            last,
            next_at,
        } = s.phase
        else {
            return None;
        };
        if now < next_at {
            return None;
        }
        let frame = self.data_frame(&s, next);
        s.highest_sent = s.highest_sent.max(next);
        s.phase = if next >= last {
            TxPhase::AwaitResponse {
                deadline: now + self.config.t3,
            }
        } else {
            TxPhase::Sending {
                next: next + 1,
                last,
                next_at: now + self.config.dt_interval,
            }
        };
        self.set_session(Some(s));
        self.stats.data_packets_sent += 1;
        Some(frame)
    }

    /// The next event (delivered or aborted).
    pub fn poll_event(&mut self) -> Option<TpEvent<'static>> {
        Some(match self.events.pop()? {
            TxEvent::Delivered { pgn } => TpEvent::Delivered { pgn },
            TxEvent::Aborted { pgn, cause } => TpEvent::Aborted { pgn, cause },
        })
    }

    /// Aborts the open session from this side (e.g. fault injection), sending `reason`.
    pub fn abort(&mut self, _now: Instant, reason: AbortReason) {
        self.abort_session(reason);
    }

    /// TP.DT packet `seq` of the session; the tail of the last packet is 0xFF.
    fn data_frame(&self, s: &TxSession, seq: u8) -> CanFrame {
        let offset = (usize::from(seq) - 1) * TP_BYTES_PER_PACKET;
        let end = (offset + TP_BYTES_PER_PACKET).min(s.size);
        let mut data = [0xFF; 7];
        if let Some(full) = self
            .buffer
            .get(offset..)
            .and_then(<[u8]>::first_chunk::<7>)
            .filter(|_| end.saturating_sub(offset) == TP_BYTES_PER_PACKET)
        {
            data = *full;
        } else if let Some(src) = self.buffer.get(offset..end) {
            for (dst, b) in data.iter_mut().zip(src) {
                *dst = *b;
            }
        }
        let dt = TpDt {
            sequence: seq,
            data,
        };
        tp_frame(
            TpKind::Dt,
            self.config.local_address,
            self.config.remote_address,
            dt.encode(),
        )
    }

    fn abort_session(&mut self, reason: AbortReason) {
        if let Some(s) = self.session {
            self.set_session(None);
            let wire = self.config.wire_reason(reason);
            self.queue_cm(&TpCm::Abort {
                reason: wire,
                pgn: s.pgn,
            });
            self.stats.aborted_local += 1;
            self.push_event(TxEvent::Aborted {
                pgn: s.pgn,
                cause: AbortCause::Local(reason),
            });
        }
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

    fn push_event(&mut self, event: TxEvent) {
        if !self.events.push(event) {
            self.stats.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbt27930::id::Node;
    use crate::gbt27930::msg::Brm;
    use crate::time::Duration;

    fn charger_cm(data: [u8; 8]) -> CanFrame {
        CanFrame::new(0x1CECF456, &data).unwrap()
    }

    /// Reproduces the BMS side of the real \[T1\] BRM exchange byte for byte.
    #[test]
    fn real_brm_session_frames() {
        let t0 = Instant::from_millis(144_012);
        let mut tx = TpSender::new(TpConfig::new(Node::Bms));
        let brm = crate::gbt27930::msg::Message::decode(
            crate::gbt27930::id::Pgn::Brm,
            &[
                0x01, 0x01, 0x00, 0x03, 0xF0, 0x05, 0x40, 0x0E, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
                0x00, 0x00, 0x63, 0x0B, 0x08, 0x95, 0x00, 0x00, 0x01, 0xFF, b'L', b'1', b'N', b'S',
                b'P', b'G', b'H', b'9', b'8', b'N', b'A', b'1', b'9', b'6', b'2', b'0', b'2', 0x00,
                0x01, 0x04, 0xE7, 0x07, 0xFF, 0xFF, 0x00,
            ],
        )
        .unwrap();
        let mut payload = [0u8; Brm::LEN];
        let n = brm.encode(&mut payload).unwrap();
        tx.start(t0, 0x0200, &payload[..n]).unwrap();
        let rts = tx.poll_transmit(t0).unwrap();
        assert_eq!(rts.id(), 0x1CEC56F4);
        assert_eq!(rts.data(), [0x10, 0x31, 0x00, 0x07, 0xFF, 0x00, 0x02, 0x00]);
        assert_eq!(tx.poll_transmit(t0), None);
        let cts = charger_cm([0x11, 0x07, 0x01, 0xFF, 0xFF, 0x00, 0x02, 0x00]);
        assert_eq!(tx.handle_frame(t0, &cts), Ok(FrameUse::Consumed));
        let expected: [[u8; 8]; 7] = [
            [0x01, 0x01, 0x01, 0x00, 0x03, 0xF0, 0x05, 0x40],
            [0x02, 0x0E, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00],
            [0x03, 0x00, 0x00, 0x63, 0x0B, 0x08, 0x95, 0x00],
            [0x04, 0x00, 0x01, 0xFF, 0x4C, 0x31, 0x4E, 0x53],
            [0x05, 0x50, 0x47, 0x48, 0x39, 0x38, 0x4E, 0x41],
            [0x06, 0x31, 0x39, 0x36, 0x32, 0x30, 0x32, 0x00],
            [0x07, 0x01, 0x04, 0xE7, 0x07, 0xFF, 0xFF, 0x00],
        ];
        let mut now = t0;
        for (i, packet) in expected.iter().enumerate() {
            let due = tx.poll_timeout().unwrap();
            assert_eq!(due, t0 + Duration::from_millis(10 * i as u64));
            assert_eq!(tx.poll_transmit(due - Duration::from_micros(1)), None);
            now = due;
            let dt = tx.poll_transmit(now).unwrap();
            assert_eq!(dt.id(), 0x1CEB56F4);
            assert_eq!(dt.data(), packet);
        }
        assert_eq!(tx.poll_timeout(), Some(now + Duration::from_millis(1250)));
        let eoma = charger_cm([0x13, 0x31, 0x00, 0x07, 0xFF, 0x00, 0x02, 0x00]);
        assert_eq!(tx.handle_frame(now, &eoma), Ok(FrameUse::Consumed));
        assert_eq!(tx.poll_event(), Some(TpEvent::Delivered { pgn: 0x0200 }));
        assert_eq!(tx.active_pgn(), None);
    }

    /// `has_queued_frames` tells about the RTS and aborts only; the deadline kept with the
    /// session follows every phase change.
    #[test]
    fn queued_frames_and_the_kept_deadline() {
        let t0 = Instant::from_millis(5);
        let mut tx = TpSender::new(TpConfig::new(Node::Bms));
        assert!(!tx.has_queued_frames());
        assert_eq!(tx.poll_timeout(), None);
        tx.start(t0, 0x1100, &[7; 9]).unwrap();
        assert!(tx.has_queued_frames());
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(1250)));
        tx.poll_transmit(t0).unwrap();
        assert!(!tx.has_queued_frames());
        let t1 = t0 + Duration::from_millis(3);
        tx.handle_frame(t1, &charger_cm([0x11, 2, 1, 0xFF, 0xFF, 0, 0x11, 0]))
            .unwrap();
        // A TP.DT is due at once: a deadline, not a queued frame.
        assert!(!tx.has_queued_frames());
        assert_eq!(tx.poll_timeout(), Some(t1));
        tx.poll_transmit(t1).unwrap();
        assert_eq!(tx.poll_timeout(), Some(t1 + Duration::from_millis(10)));
        // A CTS while sending aborts: the abort is queued and the session is gone.
        tx.handle_frame(t1, &charger_cm([0x11, 2, 1, 0xFF, 0xFF, 0, 0x11, 0]))
            .unwrap();
        assert!(tx.has_queued_frames());
        assert_eq!(tx.poll_timeout(), None);
        let abort = tx.poll_transmit(t1).unwrap();
        assert_eq!(abort.data()[0], 0xFF);
        assert!(!tx.has_queued_frames());
    }

    #[test]
    fn start_checks_size_and_busy() {
        let t0 = Instant::ZERO;
        let mut tx = TpSender::new(TpConfig::new(Node::Bms));
        assert_eq!(
            tx.start(t0, 0x1100, &[0; 8]),
            Err(TpError::SizeOutOfRange {
                size: 8,
                min: 9,
                max: 1785
            })
        );
        assert!(tx.start(t0, 0x1500, &[0; 1786]).is_err());
        tx.start(t0, 0x1100, &[0; 9]).unwrap();
        assert_eq!(
            tx.start(t0, 0x0600, &[0; 13]),
            Err(TpError::Busy { pgn: 0x1100 })
        );
        // The last packet of a 9-byte message is padded with 0xFF.
        tx.poll_transmit(t0).unwrap();
        tx.handle_frame(t0, &charger_cm([0x11, 2, 1, 0xFF, 0xFF, 0, 0x11, 0]))
            .unwrap();
        tx.poll_transmit(t0).unwrap();
        let t1 = t0 + Duration::from_millis(10);
        let last = tx.poll_transmit(t1).unwrap();
        assert_eq!(last.data(), [2, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
}
