//! One task per client connection: reads and decodes packets, runs the QoS flows, routes the
//! client's publishes into the subscribers' queues, and writes everything queued for the
//! client in one `write` per wake-up.
//!
//! The task never blocks on one thing: reading, writing, new deliveries, room at a full
//! subscriber and the keep-alive deadline are all branches of one `select!`, so a publisher
//! held back by a slow subscriber still reads its own acknowledgements and answers pings.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rumqttc::mqttbytes::Error as CodecError;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, LastWill, Packet, PingResp, PubAck, PubComp, PubRec, Publish,
    SubAck, Subscribe, SubscribeReasonCode, UnsubAck, Unsubscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, sleep_until};

use super::router::{Attach, Shared, Target};
use super::session::{Admission, ConnSignals, Fill, Message, Offer, Session, to_qos};
use super::stats::bump;

/// Stop moving queued deliveries into the write buffer beyond this many bytes: the rest
/// waits in the session queue, where the queue bound applies.
const OUT_SOFT_LIMIT: usize = 64 * 1024;
/// Stop reading from a client that does not read its own acknowledgements beyond this.
const OUT_HARD_LIMIT: usize = 4 * 1024 * 1024;
/// Read buffer headroom reserved before each read.
const READ_CHUNK: usize = 2 * 1024;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The client sent DISCONNECT (its will is discarded).
    Disconnect,
    /// The client closed the socket, or it failed.
    Network,
    /// Nothing arrived within 1.5 × keep-alive.
    KeepAlive,
    /// A malformed or forbidden packet.
    Protocol,
    /// Another CONNECT took the client id.
    TakenOver,
}

/// A QoS 1/2 publish from the client, routed to some of its subscribers so far.
#[derive(Debug)]
struct Pending {
    msg: Arc<Message>,
    pkid: u16,
    targets: Vec<Target>,
    /// Targets before this index have it queued.
    next: usize,
}

/// A connection past its CONNACK.
struct Conn {
    shared: Arc<Shared>,
    signals: Arc<ConnSignals>,
    session: Arc<Session>,
    inbuf: BytesMut,
    out: BytesMut,
    /// 1.5 × the client's keep-alive; `None` when it asked for none.
    keep_alive: Option<Duration>,
    last_rx: Instant,
    timer: std::pin::Pin<Box<Sleep>>,
    pending: VecDeque<Pending>,
    will: Option<LastWill>,
}

/// What woke the connection.
enum Event {
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
    Wake,
    Timer,
}

/// Serves one accepted socket until it closes.
pub(crate) async fn serve(shared: Arc<Shared>, mut stream: TcpStream) {
    let signals = Arc::new(ConnSignals::new(shared.next_conn_id()));
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let timeout = shared.config.connect_timeout;
    let connect =
        match tokio::time::timeout(timeout, read_first(&shared, &mut stream, &mut inbuf)).await {
            Ok(Some(Packet::Connect(c))) => c,
            Ok(Some(_)) => {
                bump(&shared.counters.protocol_errors);
                return;
            }
            Ok(None) | Err(_) => return,
        };
    let (session, present) = match shared.attach(&connect, &signals) {
        Attach::Accepted { session, present } => (session, present),
        Attach::Refused(code) => {
            bump(&shared.counters.connects_refused);
            let mut out = BytesMut::new();
            let _ = ConnAck::new(code, false).write(&mut out);
            let _ = stream.write_all(&out).await;
            return;
        }
    };
    shared.counters.connected(Instant::now());
    let mut out = BytesMut::new();
    let _ = ConnAck::new(ConnectReturnCode::Success, present).write(&mut out);
    if present {
        session.lock().resend(&mut out, &shared.counters);
    }
    let keep_alive = (connect.keep_alive > 0)
        .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1_500));
    let now = Instant::now();
    let mut conn = Conn {
        timer: Box::pin(sleep_until(
            now + keep_alive.unwrap_or(Duration::from_secs(3_600)),
        )),
        shared,
        signals,
        session,
        inbuf,
        out,
        keep_alive,
        last_rx: now,
        pending: VecDeque::new(),
        will: connect.last_will,
    };
    // Packets that arrived right behind the CONNECT.
    let close = match conn.handle_input() {
        Ok(()) => conn.run(&mut stream).await,
        Err(close) => close,
    };
    conn.finish(close);
}

/// The next complete packet in `inbuf`, `None` when more bytes are needed (room for them
/// is reserved), or the codec's error for a malformed one.
fn decode_next(inbuf: &mut BytesMut, max_packet_size: usize) -> Result<Option<Packet>, CodecError> {
    match Packet::read(inbuf, max_packet_size) {
        Ok(p) => Ok(Some(p)),
        Err(CodecError::InsufficientBytes(n)) => {
            inbuf.reserve(n.min(max_packet_size));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Reads until the first packet is complete; `None` on EOF, error or a malformed packet.
async fn read_first(
    shared: &Shared,
    stream: &mut TcpStream,
    inbuf: &mut BytesMut,
) -> Option<Packet> {
    loop {
        match decode_next(inbuf, shared.config.max_packet_size) {
            Ok(Some(p)) => return Some(p),
            Ok(None) => {}
            Err(_) => {
                bump(&shared.counters.protocol_errors);
                return None;
            }
        }
        match stream.read_buf(inbuf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

impl Conn {
    /// The main loop; returns why it ended.
    async fn run(&mut self, stream: &mut TcpStream) -> Close {
        loop {
            if self.signals.kicked() {
                return Close::TakenOver;
            }
            self.route_pending();
            let fill = self.session.lock().fill(
                &self.signals,
                &mut self.out,
                OUT_SOFT_LIMIT,
                &self.shared.limits,
                &self.shared.counters,
            );
            if fill == Fill::NotOwner {
                return Close::TakenOver;
            }
            let may_read = self.pending.len() < self.shared.config.max_pending_publishes
                && self.out.len() < OUT_HARD_LIMIT;
            if may_read && self.inbuf.capacity() - self.inbuf.len() < READ_CHUNK / 2 {
                self.inbuf.reserve(READ_CHUNK);
            }
            let (mut rd, mut wr) = stream.split();
            let event = tokio::select! {
                biased;
                r = wr.write(&self.out), if !self.out.is_empty() => Event::Wrote(r),
                r = rd.read_buf(&mut self.inbuf), if may_read => Event::Read(r),
                () = self.signals.wake.notified() => Event::Wake,
                () = self.timer.as_mut() => Event::Timer,
            };
            match event {
                Event::Wrote(Ok(n)) if n > 0 => self.out.advance(n),
                Event::Wrote(_) | Event::Read(Err(_)) | Event::Read(Ok(0)) => {
                    return Close::Network;
                }
                Event::Read(Ok(_)) => {
                    self.last_rx = Instant::now();
                    if let Err(close) = self.handle_input() {
                        return close;
                    }
                }
                Event::Wake => {}
                Event::Timer => {
                    if let Err(close) = self.keep_alive_check() {
                        return close;
                    }
                }
            }
        }
    }

    /// The keep-alive timer fired: close if nothing arrived within 1.5 × keep-alive (§3.1.2.10),
    /// otherwise re-arm it from the last packet.
    fn keep_alive_check(&mut self) -> Result<(), Close> {
        let now = Instant::now();
        let Some(ka) = self.keep_alive else {
            self.timer.as_mut().reset(now + Duration::from_secs(3_600));
            return Ok(());
        };
        let deadline = self.last_rx + ka;
        if now >= deadline {
            bump(&self.shared.counters.keepalive_timeouts);
            return Err(Close::KeepAlive);
        }
        self.timer.as_mut().reset(deadline);
        Ok(())
    }

    /// Decodes and handles every complete packet in the read buffer.
    fn handle_input(&mut self) -> Result<(), Close> {
        loop {
            match decode_next(&mut self.inbuf, self.shared.config.max_packet_size) {
                Ok(Some(packet)) => self.handle(packet)?,
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::debug!(client = %self.session.client_id, error = %e, "malformed packet");
                    bump(&self.shared.counters.protocol_errors);
                    return Err(Close::Protocol);
                }
            }
        }
    }

    /// Handles one packet from the client.
    fn handle(&mut self, packet: Packet) -> Result<(), Close> {
        match packet {
            Packet::Publish(p) => self.publish(p)?,
            Packet::PubAck(a) => self.session.lock().puback(a.pkid),
            Packet::PubRec(r) => {
                if self.session.lock().pubrec(r.pkid) {
                    super::session::write_pubrel(&mut self.out, r.pkid);
                }
            }
            Packet::PubRel(r) => {
                self.session.lock().incoming_released(r.pkid);
                let _ = PubComp::new(r.pkid).write(&mut self.out);
            }
            Packet::PubComp(c) => self.session.lock().pubcomp(c.pkid),
            Packet::Subscribe(s) => self.subscribe(s),
            Packet::Unsubscribe(u) => self.unsubscribe(u),
            Packet::PingReq => {
                let _ = PingResp.write(&mut self.out);
            }
            Packet::Disconnect => return Err(Close::Disconnect),
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => {
                // A second CONNECT (§3.1.0) and server-to-client packets are protocol
                // violations.
                bump(&self.shared.counters.protocol_errors);
                return Err(Close::Protocol);
            }
        }
        Ok(())
    }

    /// A PUBLISH from the client: QoS 0 goes out at once; QoS 1/2 joins the pending queue
    /// and is acknowledged once every subscriber has it queued.
    fn publish(&mut self, p: Publish) -> Result<(), Close> {
        if !super::topic::valid_topic_name(&p.topic) {
            bump(&self.shared.counters.protocol_errors);
            return Err(Close::Protocol);
        }
        let qos = p.qos as u8;
        if let Some(c) = self.shared.counters.messages_in.get(usize::from(qos)) {
            bump(c);
        }
        if qos == 2 {
            if self.session.lock().incoming_seen(p.pkid) {
                // A re-sent PUBLISH of a message already routed: acknowledge only.
                let _ = PubRec::new(p.pkid).write(&mut self.out);
                return Ok(());
            }
            if self
                .pending
                .iter()
                .any(|x| x.pkid == p.pkid && x.msg.qos == 2)
            {
                return Ok(());
            }
        }
        let msg = Arc::new(Message {
            topic: p.topic,
            payload: p.payload,
            qos,
        });
        let mut targets = Vec::new();
        self.shared.targets(&msg.topic, &mut targets);
        if targets.is_empty() {
            bump(&self.shared.counters.unrouted);
        }
        if qos == 0 {
            for t in &targets {
                t.value.offer(
                    &msg,
                    0,
                    Admission::Force,
                    &self.shared.limits,
                    &self.shared.counters,
                );
            }
            return Ok(());
        }
        self.pending.push_back(Pending {
            msg,
            pkid: p.pkid,
            targets,
            next: 0,
        });
        Ok(())
    }

    /// Offers pending publishes to their subscribers in order, acknowledging each one that
    /// every subscriber took; stops at the first full subscriber (which wakes us later).
    fn route_pending(&mut self) {
        while let Some(p) = self.pending.front_mut() {
            while let Some(t) = p.targets.get(p.next) {
                let qos = p.msg.qos.min(t.qos);
                let admission = Admission::Wait(&self.signals);
                let offer = t.value.offer(
                    &p.msg,
                    qos,
                    admission,
                    &self.shared.limits,
                    &self.shared.counters,
                );
                if offer == Offer::Full {
                    return;
                }
                p.next += 1;
            }
            let Some(done) = self.pending.pop_front() else {
                return;
            };
            self.acknowledge(&done);
        }
    }

    /// PUBACK or PUBREC for a publish that every subscriber took.
    fn acknowledge(&mut self, p: &Pending) {
        if p.msg.qos == 2 {
            self.session.lock().incoming_routed(p.pkid);
            let _ = PubRec::new(p.pkid).write(&mut self.out);
        } else {
            let _ = PubAck::new(p.pkid).write(&mut self.out);
        }
    }

    /// SUBSCRIBE: every valid filter is granted the QoS asked for; an invalid one gets the
    /// failure code (§3.9.3). Retained messages are not kept, so nothing is sent back.
    fn subscribe(&mut self, s: Subscribe) {
        let mut codes = Vec::with_capacity(s.filters.len());
        for f in &s.filters {
            let qos = f.qos as u8;
            let ok = super::topic::valid_topic_filter(&f.path)
                && self.shared.subscribe(&self.session, &f.path, qos);
            codes.push(if ok {
                SubscribeReasonCode::Success(to_qos(qos))
            } else {
                SubscribeReasonCode::Failure
            });
        }
        let _ = SubAck::new(s.pkid, codes).write(&mut self.out);
    }

    /// UNSUBSCRIBE: removes the filters the session has; UNSUBACK either way.
    fn unsubscribe(&mut self, u: Unsubscribe) {
        for f in &u.topics {
            self.shared.unsubscribe(&self.session, f);
        }
        let _ = UnsubAck::new(u.pkid).write(&mut self.out);
    }

    /// Ends the connection: pending publishes are queued everywhere they were promised, the
    /// will is published unless the client said DISCONNECT, and the session is detached.
    fn finish(mut self, close: Close) {
        let counters = &self.shared.counters;
        for p in std::mem::take(&mut self.pending) {
            for t in p.targets.get(p.next..).unwrap_or_default() {
                let qos = p.msg.qos.min(t.qos);
                t.value
                    .offer(&p.msg, qos, Admission::Force, &self.shared.limits, counters);
            }
            // A re-sent copy after a reconnect must not be delivered twice.
            if p.msg.qos == 2 {
                self.session.lock().incoming_routed(p.pkid);
            }
        }
        if close != Close::Disconnect
            && let Some(will) = self.will.take()
        {
            self.publish_will(will);
        }
        self.shared.detach(&self.session, &self.signals);
        counters.disconnected();
        tracing::trace!(client = %self.session.client_id, ?close, "connection closed");
    }

    /// Publishes the will message (§3.1.2.5) to its subscribers; the retain flag is ignored
    /// like every retain flag here.
    fn publish_will(&self, will: LastWill) {
        if !super::topic::valid_topic_name(&will.topic) {
            return;
        }
        let msg = Arc::new(Message {
            topic: will.topic,
            payload: will.message,
            qos: will.qos as u8,
        });
        let mut targets = Vec::new();
        self.shared.targets(&msg.topic, &mut targets);
        for t in &targets {
            let qos = msg.qos.min(t.qos);
            t.value.offer(
                &msg,
                qos,
                Admission::Force,
                &self.shared.limits,
                &self.shared.counters,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a client sends, decoding returns a packet, "more bytes" or an error.
        #[test]
        fn decoding_never_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..8)) {
            let mut inbuf = BytesMut::new();
            for chunk in chunks {
                inbuf.extend_from_slice(&chunk);
                while let Ok(Some(_)) = decode_next(&mut inbuf, 1024) {}
            }
        }

        /// Random bytes behind a valid fixed header of every packet type decode or fail
        /// cleanly too (the fully random case rarely gets past the header).
        #[test]
        fn framed_garbage_never_panics(kind in 1u8..16, flags in 0u8..16, body in prop::collection::vec(any::<u8>(), 0..100)) {
            let mut inbuf = BytesMut::new();
            inbuf.extend_from_slice(&[(kind << 4) | flags, body.len() as u8]);
            inbuf.extend_from_slice(&body);
            let _ = decode_next(&mut inbuf, 1024);
        }
    }

    #[test]
    fn oversized_packets_are_refused_before_they_arrive() {
        // PUBLISH with a remaining length of 2 MiB (0x80 0x80 0x80 0x01).
        let mut inbuf = BytesMut::from(&[0x30, 0x80, 0x80, 0x80, 0x01][..]);
        assert!(matches!(
            decode_next(&mut inbuf, 1024 * 1024),
            Err(CodecError::PayloadSizeLimitExceeded(_))
        ));
        // A five-byte remaining length is malformed.
        let mut inbuf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F][..]);
        assert!(decode_next(&mut inbuf, 1024 * 1024).is_err());
    }
}
