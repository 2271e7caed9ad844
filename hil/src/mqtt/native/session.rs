//! One connection's MQTT 3.1.1 client state, without the socket: the queue of requests not
//! yet on the wire, the in-flight window of QoS 1/2 publishes, packet ids, the QoS 2
//! handshakes in both directions. Packets are encoded straight into the connection's write
//! buffer with rumqttc's codec (`rumqttc::mqttbytes::v4`).
//!
//! Requests that were queued or in flight when the link dropped are kept aside and, as in
//! rumqttc, re-sent after the next CONNACK only if the broker kept the session; otherwise
//! they are dropped (the charger's outbox re-sends what matters). Requests made while the
//! link is down wait for the next connection.

use std::collections::VecDeque;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    Packet, PingReq, PubAck, PubComp, PubRec, PubRel, Publish, Subscribe, SubscribeFilter,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};

/// A request waiting to go on the wire.
#[derive(Debug)]
pub(super) enum Request {
    /// A publish (its packet id is assigned when it enters the window).
    Publish(Publish),
    /// A subscription.
    Subscribe(Vec<SubscribeFilter>),
}

/// What an incoming packet asks of the connection.
#[derive(Debug)]
pub(super) enum Incoming {
    /// Nothing more.
    Nothing,
    /// Deliver this publish to the charger.
    Deliver(Publish),
    /// The window has room again: more queued requests may go.
    WindowOpened,
    /// A PINGRESP.
    PingResp,
    /// A packet a client must never receive (CONNECT, SUBSCRIBE, a second CONNACK, ...).
    Unexpected(&'static str),
}

/// Requests of a lost link, and what was in flight on it.
#[derive(Debug, Default)]
struct Carried {
    /// Publishes sent but not acknowledged (re-sent with DUP when the session survives).
    publishes: Vec<Publish>,
    /// Packet ids whose PUBREL was sent but not completed.
    releases: Vec<u16>,
    /// Requests that never reached the wire.
    queued: VecDeque<Request>,
}

/// The client side of one connection. See the module documentation.
#[derive(Debug, Default)]
pub(super) struct Session {
    queue: VecDeque<Request>,
    /// QoS 1/2 publishes sent and waiting for PUBACK / PUBREC.
    inflight: Vec<Publish>,
    /// QoS 2 publishes past PUBREC, waiting for PUBCOMP.
    releases: Vec<u16>,
    /// SUBSCRIBE packet ids waiting for SUBACK.
    subacks: Vec<u16>,
    /// Incoming QoS 2 packet ids past PUBREC, waiting for PUBREL (duplicates are not
    /// delivered twice).
    incoming: Vec<u16>,
    carried: Option<Box<Carried>>,
    next_pkid: u16,
}

impl Session {
    /// Queues a request.
    pub(super) fn push(&mut self, request: Request) {
        self.queue.push_back(request);
    }

    /// Requests waiting for the wire.
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Publishes in the window (sent, not completed).
    pub(super) fn in_window(&self) -> usize {
        self.inflight.len() + self.releases.len()
    }

    /// Moves queued requests onto the wire, in order, while the window of `window` QoS 1/2
    /// publishes has room; returns how many left the queue. An outgoing packet larger than
    /// `max_packet` is dropped with the codec's error (the caller reports it).
    pub(super) fn fill(
        &mut self,
        out: &mut BytesMut,
        window: usize,
        max_packet: usize,
    ) -> (usize, Option<CodecError>) {
        let mut moved = 0;
        let mut failure = None;
        // As in rumqttc, a full window holds back every request, QoS 0 and subscriptions
        // included, so that requests leave in the order they were made.
        while self.in_window() < window {
            let Some(request) = self.queue.pop_front() else {
                break;
            };
            moved += 1;
            let written = match request {
                Request::Publish(mut p) => {
                    let size = p.size();
                    if size > max_packet {
                        Err(CodecError::OutgoingPacketTooLarge {
                            pkt_size: size,
                            max: max_packet,
                        })
                    } else {
                        if p.qos != QoS::AtMostOnce {
                            p.pkid = self.alloc_pkid();
                        }
                        let w = p.write(out);
                        if p.qos != QoS::AtMostOnce && w.is_ok() {
                            self.inflight.push(p);
                        }
                        w
                    }
                }
                Request::Subscribe(filters) => {
                    let pkid = self.alloc_pkid();
                    let w = Packet::Subscribe(Subscribe { pkid, filters }).write(out, max_packet);
                    if w.is_ok() {
                        self.subacks.push(pkid);
                    }
                    w
                }
            };
            if let Err(e) = written {
                failure = Some(e);
            }
        }
        (moved, failure)
    }

    /// Handles one packet received after the CONNACK; acknowledgements go into `out`.
    pub(super) fn on_packet(
        &mut self,
        packet: Packet,
        out: &mut BytesMut,
    ) -> Result<Incoming, CodecError> {
        Ok(match packet {
            Packet::Publish(p) => match p.qos {
                QoS::AtMostOnce => Incoming::Deliver(p),
                QoS::AtLeastOnce => {
                    PubAck::new(p.pkid).write(out)?;
                    Incoming::Deliver(p)
                }
                QoS::ExactlyOnce => {
                    PubRec::new(p.pkid).write(out)?;
                    if self.incoming.contains(&p.pkid) {
                        Incoming::Nothing
                    } else {
                        self.incoming.push(p.pkid);
                        Incoming::Deliver(p)
                    }
                }
            },
            Packet::PubRel(rel) => {
                self.incoming.retain(|&id| id != rel.pkid);
                PubComp::new(rel.pkid).write(out)?;
                Incoming::Nothing
            }
            Packet::PubAck(ack) => self.complete(ack.pkid, QoS::AtLeastOnce),
            Packet::PubRec(rec) => {
                let before = self.inflight.len();
                self.inflight
                    .retain(|p| !(p.pkid == rec.pkid && p.qos == QoS::ExactlyOnce));
                if self.inflight.len() < before && !self.releases.contains(&rec.pkid) {
                    self.releases.push(rec.pkid);
                }
                // A PUBREC of a publish already released is answered again (MQTT-4.3.3).
                PubRel::new(rec.pkid).write(out)?;
                Incoming::Nothing
            }
            Packet::PubComp(comp) => {
                let before = self.releases.len();
                self.releases.retain(|&id| id != comp.pkid);
                if self.releases.len() < before {
                    Incoming::WindowOpened
                } else {
                    Incoming::Nothing
                }
            }
            Packet::SubAck(ack) => {
                self.subacks.retain(|&id| id != ack.pkid);
                Incoming::Nothing
            }
            Packet::UnsubAck(_) => Incoming::Nothing,
            Packet::PingResp => Incoming::PingResp,
            Packet::Connect(_) => Incoming::Unexpected("CONNECT"),
            Packet::ConnAck(_) => Incoming::Unexpected("a second CONNACK"),
            Packet::Subscribe(_) => Incoming::Unexpected("SUBSCRIBE"),
            Packet::Unsubscribe(_) => Incoming::Unexpected("UNSUBSCRIBE"),
            Packet::PingReq => Incoming::Unexpected("PINGREQ"),
            Packet::Disconnect => Incoming::Unexpected("DISCONNECT"),
        })
    }

    /// A PUBACK: the publish leaves the window. An acknowledgement of an unknown packet id
    /// (a retransmission the broker answered twice) is ignored.
    fn complete(&mut self, pkid: u16, qos: QoS) -> Incoming {
        let before = self.inflight.len();
        self.inflight.retain(|p| !(p.pkid == pkid && p.qos == qos));
        if self.inflight.len() < before {
            Incoming::WindowOpened
        } else {
            Incoming::Nothing
        }
    }

    /// Writes a PINGREQ.
    pub(super) fn ping(out: &mut BytesMut) -> Result<(), CodecError> {
        PingReq.write(out).map(|_| ())
    }

    /// The link dropped: everything in flight or queued is set aside until the next
    /// CONNACK says whether the session survived.
    pub(super) fn link_lost(&mut self) {
        let carried = Carried {
            publishes: std::mem::take(&mut self.inflight),
            releases: std::mem::take(&mut self.releases),
            queued: std::mem::take(&mut self.queue),
        };
        self.subacks.clear();
        self.incoming.clear();
        if !(carried.publishes.is_empty()
            && carried.releases.is_empty()
            && carried.queued.is_empty())
        {
            self.carried = Some(Box::new(carried));
        }
        self.shrink();
    }

    /// A CONNACK arrived: with the session kept, the carried publishes go again first (DUP
    /// set, same packet ids) and the carried PUBRELs are re-sent; otherwise they are
    /// dropped. Returns how many carried requests were dropped.
    pub(super) fn connected(
        &mut self,
        session_present: bool,
        out: &mut BytesMut,
    ) -> Result<usize, CodecError> {
        let Some(carried) = self.carried.take() else {
            return Ok(0);
        };
        let Carried {
            publishes,
            releases,
            mut queued,
        } = *carried;
        if !session_present {
            return Ok(queued.len());
        }
        for mut p in publishes {
            p.dup = true;
            p.write(out)?;
            self.inflight.push(p);
        }
        for pkid in releases {
            PubRel::new(pkid).write(out)?;
            self.releases.push(pkid);
        }
        queued.append(&mut self.queue);
        self.queue = queued;
        Ok(0)
    }

    /// Requests carried over a lost link that are not yet on the wire.
    #[cfg(test)]
    pub(super) fn carried_queued(&self) -> usize {
        self.carried.as_ref().map_or(0, |c| c.queued.len())
    }

    /// Drops every queue's spare capacity once empty (thousands of idle sessions).
    fn shrink(&mut self) {
        if self.queue.is_empty() {
            self.queue = VecDeque::new();
        }
        if self.inflight.is_empty() {
            self.inflight = Vec::new();
        }
    }

    /// The next free packet id (1..=65535; 0 is not a packet id).
    fn alloc_pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            let id = self.next_pkid;
            let used = self.inflight.iter().any(|p| p.pkid == id)
                || self.releases.contains(&id)
                || self.subacks.contains(&id);
            if !used {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(out: &mut BytesMut) -> Vec<Packet> {
        let mut packets = Vec::new();
        while !out.is_empty() {
            packets.push(Packet::read(out, 1 << 20).unwrap());
        }
        packets
    }

    fn publish(qos: QoS, n: u8) -> Request {
        Request::Publish(Publish::new("/U/T/1", qos, vec![n]))
    }

    #[test]
    fn the_window_holds_qos2_publishes_until_pubcomp_and_keeps_order() {
        let mut s = Session::default();
        let mut out = BytesMut::new();
        s.push(publish(QoS::ExactlyOnce, 1));
        s.push(publish(QoS::ExactlyOnce, 2));
        s.push(publish(QoS::AtMostOnce, 3));
        let (moved, err) = s.fill(&mut out, 1, 1 << 20);
        assert_eq!((moved, err.is_none()), (1, true));
        let sent = decode_all(&mut out);
        let Packet::Publish(first) = &sent[0] else {
            panic!("{sent:?}")
        };
        assert_eq!((first.pkid, &first.payload[..]), (1, &[1][..]));
        // PUBREC: the publish moves to the release stage, still holding the window.
        let r = s
            .on_packet(Packet::PubRec(PubRec::new(1)), &mut out)
            .unwrap();
        assert!(matches!(r, Incoming::Nothing));
        assert_eq!(decode_all(&mut out), [Packet::PubRel(PubRel::new(1))]);
        assert_eq!(s.fill(&mut out, 1, 1 << 20).0, 0);
        let r = s
            .on_packet(Packet::PubComp(PubComp::new(1)), &mut out)
            .unwrap();
        assert!(matches!(r, Incoming::WindowOpened));
        // The second QoS 2 publish takes the window; the QoS 0 one behind it waits its turn.
        assert_eq!(s.fill(&mut out, 1, 1 << 20).0, 1);
        assert_eq!(s.queued(), 1);
        s.on_packet(Packet::PubRec(PubRec::new(2)), &mut out)
            .unwrap();
        s.on_packet(Packet::PubComp(PubComp::new(2)), &mut out)
            .unwrap();
        out.clear();
        assert_eq!(s.fill(&mut out, 1, 1 << 20).0, 1);
        assert!(matches!(&decode_all(&mut out)[..], [Packet::Publish(p)] if p.payload[..] == [3]));
    }

    #[test]
    fn incoming_qos_flows_are_acknowledged_and_duplicates_not_delivered_twice() {
        let mut s = Session::default();
        let mut out = BytesMut::new();
        let mut p1 = Publish::new("/D/C/1", QoS::AtLeastOnce, vec![1]);
        p1.pkid = 7;
        assert!(matches!(
            s.on_packet(Packet::Publish(p1), &mut out).unwrap(),
            Incoming::Deliver(_)
        ));
        assert_eq!(decode_all(&mut out), [Packet::PubAck(PubAck::new(7))]);
        let mut p2 = Publish::new("/D/C/1", QoS::ExactlyOnce, vec![2]);
        p2.pkid = 9;
        assert!(matches!(
            s.on_packet(Packet::Publish(p2.clone()), &mut out).unwrap(),
            Incoming::Deliver(_)
        ));
        p2.dup = true;
        assert!(matches!(
            s.on_packet(Packet::Publish(p2), &mut out).unwrap(),
            Incoming::Nothing
        ));
        s.on_packet(Packet::PubRel(PubRel::new(9)), &mut out)
            .unwrap();
        assert_eq!(
            decode_all(&mut out),
            [
                Packet::PubRec(PubRec::new(9)),
                Packet::PubRec(PubRec::new(9)),
                Packet::PubComp(PubComp::new(9))
            ]
        );
    }

    #[test]
    fn carried_requests_resend_only_when_the_session_survives() {
        for session_present in [false, true] {
            let mut s = Session::default();
            let mut out = BytesMut::new();
            s.push(publish(QoS::AtLeastOnce, 1));
            s.push(publish(QoS::AtLeastOnce, 2));
            s.fill(&mut out, 1, 1 << 20);
            out.clear();
            s.link_lost();
            assert_eq!(s.carried_queued(), 1);
            s.push(publish(QoS::AtMostOnce, 3));
            let dropped = s.connected(session_present, &mut out).unwrap();
            s.fill(&mut out, 1, 1 << 20);
            let sent = decode_all(&mut out);
            if session_present {
                assert_eq!(dropped, 0);
                assert!(matches!(&sent[..], [Packet::Publish(p)] if p.dup && p.pkid == 1));
                assert_eq!(s.queued(), 2);
            } else {
                assert_eq!(dropped, 1);
                assert!(matches!(&sent[..], [Packet::Publish(p)] if p.payload[..] == [3]));
            }
        }
    }

    #[test]
    fn packet_ids_skip_the_ones_in_use_and_never_use_zero() {
        let mut s = Session {
            next_pkid: u16::MAX - 1,
            ..Session::default()
        };
        let mut out = BytesMut::new();
        for n in 0..3 {
            s.push(publish(QoS::AtLeastOnce, n));
        }
        s.fill(&mut out, 10, 1 << 20);
        let ids: Vec<u16> = s.inflight.iter().map(|p| p.pkid).collect();
        assert_eq!(ids, [u16::MAX, 1, 2]);
        // A too-large packet is refused by the codec and reported, not sent.
        s.push(Request::Publish(Publish::new(
            "t",
            QoS::AtMostOnce,
            vec![0; 64],
        )));
        out.clear();
        let (moved, err) = s.fill(&mut out, 10, 16);
        assert_eq!(moved, 1);
        assert!(err.is_some() && out.is_empty());
    }
}
