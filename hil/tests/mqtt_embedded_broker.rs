//! chargestorm's embedded MQTT broker against rumqttc clients and raw sockets: wildcard
//! routing, QoS 0/1/2 both ways, session takeover, keep-alive, non-clean sessions, restart,
//! backpressure and malformed input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::BytesMut;
use hil::mqtt::embedded::{Broker, BrokerConfig};
use rumqttc::mqttbytes::v4::{Connect, Packet as RawPacket};
use rumqttc::{
    AsyncClient, ConnAck, Event, EventLoop, Incoming, MqttOptions, NetworkOptions, Publish, QoS,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// A rumqttc client whose event loop runs in a task until the first connection error (no
/// automatic reconnect, so a closed connection stays closed).
struct Peer {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Event, String>>,
    connack: ConnAck,
}

fn options(broker: &Broker, id: &str, clean: bool) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", broker.addr().port());
    o.set_clean_session(clean);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

async fn peer(o: MqttOptions) -> Peer {
    let (client, mut eventloop) = AsyncClient::new(o, 1_000);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    let (tx, mut events) = mpsc::unbounded_channel();
    tokio::spawn(drive(eventloop, tx));
    let connack = timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await {
                Some(Ok(Event::Incoming(Incoming::ConnAck(c)))) => return c,
                Some(Ok(_)) => {}
                other => panic!("no CONNACK: {other:?}"),
            }
        }
    })
    .await
    .expect("CONNACK within 5 s");
    Peer {
        client,
        events,
        connack,
    }
}

async fn drive(mut eventloop: EventLoop, tx: mpsc::UnboundedSender<Result<Event, String>>) {
    loop {
        match eventloop.poll().await {
            Ok(e) => {
                if tx.send(Ok(e)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        }
    }
}

impl Peer {
    /// The next incoming PUBLISH, failing after `within`.
    async fn publish(&mut self, within: Duration) -> Publish {
        timeout(within, async {
            loop {
                match self.events.recv().await {
                    Some(Ok(Event::Incoming(Incoming::Publish(p)))) => return p,
                    Some(Ok(_)) => {}
                    other => panic!("connection ended: {other:?}"),
                }
            }
        })
        .await
        .expect("a PUBLISH arrives")
    }

    /// Waits for the SUBACK of the subscription just sent.
    async fn subscribed(&mut self) {
        timeout(Duration::from_secs(5), async {
            loop {
                match self.events.recv().await {
                    Some(Ok(Event::Incoming(Incoming::SubAck(_)))) => return,
                    Some(Ok(_)) => {}
                    other => panic!("no SUBACK: {other:?}"),
                }
            }
        })
        .await
        .expect("SUBACK within 5 s");
    }

    async fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.client.subscribe(filter, qos).await.unwrap();
        self.subscribed().await;
    }

    /// Whether the connection ends (an error from the event loop) within `within`.
    async fn closed_within(&mut self, within: Duration) -> bool {
        timeout(within, async {
            loop {
                match self.events.recv().await {
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                }
            }
        })
        .await
        .is_ok()
    }

    /// Receives PUBLISH packets until `within` passes without one.
    async fn drain(&mut self, within: Duration) -> Vec<Publish> {
        let mut got = Vec::new();
        while let Ok(Some(Ok(e))) = timeout(within, self.events.recv()).await {
            if let Event::Incoming(Incoming::Publish(p)) = e {
                got.push(p);
            }
        }
        got
    }
}

fn broker() -> Broker {
    Broker::start(BrokerConfig::default()).expect("broker starts")
}

/// The protocol's shape: a backend with `+` subscriptions on the three uplink classes at
/// QoS 2/1/0, chargers on their exact downlink topics; every delivery at min(publish QoS,
/// subscription QoS), both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_and_exact_subscribers_exchange_every_qos_both_ways() {
    let broker = broker();
    let mut backend = peer(options(&broker, "backend", true)).await;
    backend.subscribe("/U/R/+", QoS::ExactlyOnce).await;
    backend.subscribe("/U/C/+", QoS::AtLeastOnce).await;
    backend.subscribe("/U/M/+", QoS::AtMostOnce).await;
    let mut chargers = Vec::new();
    for i in 0..3 {
        let mut c = peer(options(&broker, &format!("CS{i}"), true)).await;
        c.subscribe(&format!("/D/R/CS{i}"), QoS::ExactlyOnce).await;
        c.subscribe(&format!("/D/C/CS{i}"), QoS::AtLeastOnce).await;
        chargers.push(c);
    }
    for (i, c) in chargers.iter().enumerate() {
        for (class, qos) in [
            ("R", QoS::ExactlyOnce),
            ("C", QoS::ExactlyOnce),
            ("M", QoS::ExactlyOnce),
        ] {
            let topic = format!("/U/{class}/CS{i}");
            c.client
                .publish(topic, qos, false, vec![i as u8])
                .await
                .unwrap();
        }
    }
    let mut got: Vec<(String, QoS)> = Vec::new();
    for _ in 0..9 {
        let p = backend.publish(Duration::from_secs(5)).await;
        got.push((p.topic, p.qos));
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<(String, QoS)> = ["C", "M", "R"]
        .iter()
        .flat_map(|class| {
            let qos = match *class {
                "R" => QoS::ExactlyOnce,
                "C" => QoS::AtLeastOnce,
                _ => QoS::AtMostOnce,
            };
            (0..3).map(move |i| (format!("/U/{class}/CS{i}"), qos))
        })
        .collect();
    assert_eq!(
        got, expected,
        "uplink delivered once each at min(2, granted)"
    );
    // Downlink: QoS 2 to /D/R, QoS 2 to /D/C (granted 1), QoS 0 to /D/R.
    for i in 0..3 {
        let b = &backend.client;
        b.publish(format!("/D/R/CS{i}"), QoS::ExactlyOnce, false, vec![1])
            .await
            .unwrap();
        b.publish(format!("/D/C/CS{i}"), QoS::ExactlyOnce, false, vec![2])
            .await
            .unwrap();
        b.publish(format!("/D/R/CS{i}"), QoS::AtMostOnce, false, vec![3])
            .await
            .unwrap();
    }
    for (i, c) in chargers.iter_mut().enumerate() {
        let mut got = Vec::new();
        for _ in 0..3 {
            let p = c.publish(Duration::from_secs(5)).await;
            got.push((p.topic, p.qos, p.payload.to_vec()));
        }
        got.sort_by_key(|g| g.2.clone());
        assert_eq!(
            got,
            [
                (format!("/D/R/CS{i}"), QoS::ExactlyOnce, vec![1]),
                (format!("/D/C/CS{i}"), QoS::AtLeastOnce, vec![2]),
                (format!("/D/R/CS{i}"), QoS::AtMostOnce, vec![3]),
            ]
        );
    }
    // Let the last QoS 2 flows complete before reading the counters.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = broker.stats();
    assert_eq!(s.messages_in, [3, 0, 15]);
    assert_eq!(s.messages_out, [6, 6, 6]);
    assert_eq!((s.connections, s.subscriptions, s.unrouted), (4, 9, 0));
    assert_eq!(
        (s.dropped_qos0, s.protocol_errors, s.connection_panics),
        (0, 0, 0)
    );
}

/// A second CONNECT with the same client id closes the first connection (§3.1.4); the new
/// one works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connect_with_the_same_id_takes_the_session_over() {
    let broker = broker();
    let mut first = peer(options(&broker, "CS-dup", true)).await;
    first.subscribe("/D/R/CS-dup", QoS::AtLeastOnce).await;
    let mut second = peer(options(&broker, "CS-dup", true)).await;
    assert!(!second.connack.session_present);
    assert!(
        first.closed_within(Duration::from_secs(2)).await,
        "the first connection is closed"
    );
    second.subscribe("/D/R/CS-dup", QoS::AtLeastOnce).await;
    second
        .client
        .publish("/D/R/CS-dup", QoS::AtLeastOnce, false, "x")
        .await
        .unwrap();
    let p = second.publish(Duration::from_secs(5)).await;
    assert_eq!(p.topic, "/D/R/CS-dup");
    let s = broker.stats();
    assert_eq!((s.takeovers, s.connections, s.subscriptions), (1, 1, 1));
}

/// Raw CONNECT bytes with keep-alive `keep_alive_s`.
fn raw_connect(id: &str, keep_alive_s: u16) -> BytesMut {
    let mut c = Connect::new(id);
    c.keep_alive = keep_alive_s;
    let mut buf = BytesMut::new();
    RawPacket::Connect(c).write(&mut buf, 1 << 20).unwrap();
    buf
}

/// Reads until EOF or error; the time it took, `None` if the socket stayed open `within`.
async fn eof_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    let mut buf = [0u8; 256];
    timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return t0.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// A silent client is dropped at 1.5 × its keep-alive; one that pings is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_is_enforced_at_one_and_a_half_times_its_value() {
    let broker = broker();
    let mut silent = TcpStream::connect(broker.addr()).await.unwrap();
    silent.write_all(&raw_connect("silent", 1)).await.unwrap();
    let mut pinging = TcpStream::connect(broker.addr()).await.unwrap();
    pinging.write_all(&raw_connect("pinging", 1)).await.unwrap();
    let pinger = tokio::spawn(async move {
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            pinging.write_all(&[0xC0, 0x00]).await.unwrap(); // PINGREQ
        }
        pinging
    });
    let closed = eof_within(&mut silent, Duration::from_secs(5))
        .await
        .expect("silent client closed");
    assert!(
        closed >= Duration::from_millis(1_400) && closed < Duration::from_millis(2_500),
        "closed after {closed:?}, expected 1.5 s"
    );
    let mut pinging = pinger.await.unwrap();
    // CONNACK (4 bytes) and six PINGRESP (2 bytes each), still open.
    let mut buf = [0u8; 16];
    pinging.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf[..4], &[0x20, 0x02, 0x00, 0x00]);
    assert!(buf[4..].chunks(2).all(|p| p == [0xD0, 0x00]), "{buf:?}");
    let s = broker.stats();
    assert_eq!((s.keepalive_timeouts, s.connections), (1, 1));
}

/// A client with clean session false gets, on its return, the QoS 1/2 messages published
/// while it was away, in order and without subscribing again; QoS 0 is not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_clean_session_receives_what_was_queued_while_offline() {
    let broker = broker();
    let mut sub = peer(options(&broker, "CS-away", false)).await;
    sub.subscribe("/D/R/CS-away", QoS::ExactlyOnce).await;
    sub.client.disconnect().await.unwrap();
    assert!(sub.closed_within(Duration::from_secs(2)).await);
    let publisher = peer(options(&broker, "backend", true)).await;
    for i in 0..10u8 {
        let qos = if i % 2 == 0 {
            QoS::ExactlyOnce
        } else {
            QoS::AtLeastOnce
        };
        publisher
            .client
            .publish("/D/R/CS-away", qos, false, vec![i])
            .await
            .unwrap();
    }
    publisher
        .client
        .publish("/D/R/CS-away", QoS::AtMostOnce, false, vec![99])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut back = peer(options(&broker, "CS-away", false)).await;
    assert!(back.connack.session_present, "the session was kept");
    let got = back.drain(Duration::from_millis(500)).await;
    let payloads: Vec<u8> = got.iter().map(|p| p.payload[0]).collect();
    assert_eq!(payloads, (0..10).collect::<Vec<u8>>());
    let s = broker.stats();
    assert_eq!((s.dropped_offline, s.sessions), (1, 2));
}

/// A restart forgets every session and subscription and closes every connection; the port
/// is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_drops_every_session_and_connection() {
    let mut broker = broker();
    let addr = broker.addr();
    let mut sub = peer(options(&broker, "CS-r", false)).await;
    sub.subscribe("/D/R/CS-r", QoS::ExactlyOnce).await;
    broker.restart().await.expect("restarts");
    assert_eq!(broker.addr(), addr);
    assert!(
        sub.closed_within(Duration::from_secs(2)).await,
        "the connection was dropped"
    );
    assert_eq!(broker.stats().connects, 0, "counters start again");
    let mut back = peer(options(&broker, "CS-r", false)).await;
    assert!(
        !back.connack.session_present,
        "no session survives a restart"
    );
    let publisher = peer(options(&broker, "backend", true)).await;
    publisher
        .client
        .publish("/D/R/CS-r", QoS::ExactlyOnce, false, "x")
        .await
        .unwrap();
    assert!(
        back.drain(Duration::from_millis(500)).await.is_empty(),
        "no subscription survives"
    );
    assert_eq!(broker.stats().unrouted, 1);
    broker.stop().await;
    assert!(!broker.is_running());
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "stopped means closed"
    );
}

/// A subscriber that stops acknowledging: QoS 0 to its full queue is dropped and counted,
/// QoS 1 publishers are held back (their PUBACKs withheld) and nothing QoS 1 is lost once
/// it acknowledges again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_holds_qos1_publishers_back_and_drops_qos0() {
    let config = BrokerConfig {
        queue_capacity: 10,
        inflight: 2,
        ..BrokerConfig::default()
    };
    let broker = Broker::start(config).unwrap();
    let mut o = options(&broker, "slow", true);
    o.set_manual_acks(true);
    let mut slow = peer(o).await;
    slow.subscribe("/D/R/slow", QoS::AtLeastOnce).await;
    let mut po = options(&broker, "fast", true);
    po.set_inflight(5);
    let fast = peer(po).await;
    for i in 0..30u8 {
        fast.client
            .publish("/D/R/slow", QoS::AtLeastOnce, false, vec![i])
            .await
            .unwrap();
    }
    // The slow client receives its window (2) and nothing more while it does not ack.
    let first = slow.drain(Duration::from_millis(500)).await;
    assert_eq!(first.len(), 2);
    // 2 in flight + 10 queued were acknowledged; the 13th is held without PUBACK, so the
    // publisher's own window (5) stops it at the 17th.
    let s = broker.stats();
    assert_eq!(s.messages_in[1], 17, "{s:?}");
    assert!(s.backpressure_waits >= 1, "{s:?}");
    assert_eq!(s.queue_high_water, 10);
    // QoS 0 from another publisher meets the full queue and is dropped.
    let other = peer(options(&broker, "other", true)).await;
    for _ in 0..5 {
        other
            .client
            .publish("/D/R/slow", QoS::AtMostOnce, false, vec![200])
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(broker.stats().dropped_qos0, 5);
    // Acknowledge everything from now on: all 30 QoS 1 messages arrive, in order.
    let mut got: Vec<Publish> = first;
    for p in &got {
        slow.client.ack(p).await.unwrap();
    }
    while got.iter().filter(|p| p.qos == QoS::AtLeastOnce).count() < 30 {
        let p = slow.publish(Duration::from_secs(5)).await;
        slow.client.ack(&p).await.unwrap();
        got.push(p);
    }
    let qos1: Vec<u8> = got
        .iter()
        .filter(|p| p.qos == QoS::AtLeastOnce)
        .map(|p| p.payload[0])
        .collect();
    assert_eq!(qos1, (0..30).collect::<Vec<u8>>());
    let s = broker.stats();
    assert_eq!(
        (s.messages_out[1], s.messages_out[0], s.dropped_qos0),
        (30, 0, 5)
    );
}

/// Malformed or forbidden packets close their own connection and nothing else; the broker
/// keeps serving and no connection task panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_close_only_their_connection() {
    let broker = broker();
    let mut backend = peer(options(&broker, "backend", true)).await;
    backend.subscribe("/U/R/+", QoS::ExactlyOnce).await;
    let charger = peer(options(&broker, "CS-ok", true)).await;
    let connect = raw_connect("bad", 30).to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not a CONNECT first", vec![0x30, 0x03, 0x00, 0x01, b'a']),
        (
            "reserved packet type 15",
            [&connect[..], &[0xF0, 0x00]].concat(),
        ),
        (
            "PUBLISH with QoS 3",
            [&connect[..], &[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]].concat(),
        ),
        (
            "five-byte remaining length",
            [&connect[..], &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]].concat(),
        ),
        (
            "string longer than the packet",
            [&connect[..], &[0x30, 0x03, 0x00, 0x09, b'a']].concat(),
        ),
        (
            "PUBLISH to a wildcard",
            [&connect[..], &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+']].concat(),
        ),
        ("a second CONNECT", [&connect[..], &connect[..]].concat()),
        (
            "SUBSCRIBE without filters",
            [&connect[..], &[0x82, 0x02, 0x00, 0x01]].concat(),
        ),
        (
            "QoS 1 PUBLISH with packet id 0",
            [&connect[..], &[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00]].concat(),
        ),
        (
            "MQTT 3.1 (MQIsdp)",
            vec![
                0x10, 0x0C, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x02, 0x00, 0x3C,
            ],
        ),
    ];
    for (what, bytes) in &cases {
        let mut s = TcpStream::connect(broker.addr()).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let closed = eof_within(&mut s, Duration::from_secs(3)).await;
        assert!(closed.is_some(), "{what}: the connection is closed");
    }
    // Random bytes after a valid CONNECT, many times over.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..200 {
        let mut bytes = connect.clone();
        let n = (seed % 64) as usize + 1;
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(seed as u8);
        }
        let mut s = TcpStream::connect(broker.addr()).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        s.shutdown().await.unwrap();
        let _ = eof_within(&mut s, Duration::from_secs(3)).await;
    }
    // The well-behaved pair never noticed.
    charger
        .client
        .publish("/U/R/CS-ok", QoS::ExactlyOnce, false, "still here")
        .await
        .unwrap();
    let p = backend.publish(Duration::from_secs(5)).await;
    assert_eq!(&p.payload[..], b"still here");
    let s = broker.stats();
    assert_eq!(s.connection_panics, 0);
    assert!(s.protocol_errors >= cases.len() as u64 - 1, "{s:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(broker.stats().connections, 2, "only the good pair is left");
}
