//! The native MQTT engine (`MqttTransport::Native`, one `mio` I/O thread for every
//! connection) against real brokers: chargestorm's embedded broker and Mosquitto. QoS 0/1/2
//! in both directions with exact counts, a silent peer caught by the keep-alive (through
//! hil's fault proxy), a broker restart, a refused CONNECT, and 2,000 connections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use hil::mqtt::embedded::BrokerConfig;
use hil::mqtt::{
    BrokerUrl, EmbeddedBroker, Mosquitto, MqttFleet, MqttSettings, MqttTransport, TransportEvent,
};
use hil::proxy::{FaultProxy, LinkFaults, ProxyConfig, Target};
use rumqttc::{QoS, SubscribeFilter};

/// Collects events until `done` holds over everything collected, or panics after `limit`.
async fn collect_until(
    fleet: &MqttFleet,
    seen: &mut Vec<TransportEvent>,
    limit: Duration,
    mut done: impl FnMut(&[TransportEvent]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut batch = Vec::new();
    while !done(seen) {
        fleet.drain(&mut batch);
        if batch.is_empty() {
            let waited = tokio::time::timeout_at(deadline, fleet.wait()).await;
            assert!(
                waited.is_ok(),
                "condition not met within {limit:?}; last events: {:?}",
                &seen[seen.len().saturating_sub(5)..]
            );
        }
        seen.append(&mut batch);
    }
}

/// Appends the queued events to `seen` (`drain` swaps buffers, so it needs an empty one).
fn drain_into(fleet: &MqttFleet, seen: &mut Vec<TransportEvent>) {
    let mut batch = Vec::new();
    fleet.drain(&mut batch);
    seen.append(&mut batch);
}

fn count(seen: &[TransportEvent], f: impl Fn(&TransportEvent) -> bool) -> usize {
    seen.iter().filter(|e| f(e)).count()
}

fn connected(conn: usize) -> impl Fn(&TransportEvent) -> bool {
    move |e| matches!(e, TransportEvent::Connected { conn: c, .. } if *c == conn)
}

fn native(url: BrokerUrl) -> MqttSettings {
    let mut s = MqttSettings::new(url);
    s.transport = MqttTransport::Native;
    s
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Connects every connection of `fleet` and waits for the CONNACKs.
async fn connect_all(fleet: &MqttFleet, seen: &mut Vec<TransportEvent>) {
    for i in 0..fleet.len() {
        fleet.connect(i);
    }
    let n = fleet.len();
    collect_until(fleet, seen, Duration::from_secs(30), |s| {
        count(s, |e| matches!(e, TransportEvent::Connected { .. })) == n
    })
    .await;
}

/// Connection 0 subscribes to `q0`, `q1`, `q2` at QoS 0/1/2; connection 1 publishes `n`
/// messages on each at the same QoS. Every message arrives exactly once, in order.
async fn qos_flows(settings: &MqttSettings, prefix: &str, n: usize) {
    assert_eq!(settings.engine(), MqttTransport::Native);
    let fleet = MqttFleet::start(settings, &ids(prefix, 2)).unwrap();
    assert_eq!(fleet.transport(), MqttTransport::Native);
    let mut seen = Vec::new();
    connect_all(&fleet, &mut seen).await;
    let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    let filters = qos
        .iter()
        .enumerate()
        .map(|(k, q)| SubscribeFilter::new(format!("{prefix}/q{k}"), *q))
        .collect();
    fleet.subscribe(0, filters).unwrap();
    // The subscription is in place once connection 0 hears its own probe.
    fleet
        .publish(
            0,
            format!("{prefix}/q2"),
            QoS::ExactlyOnce,
            b"probe".to_vec(),
        )
        .unwrap();
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| {
        count(s, |e| matches!(e, TransportEvent::Publish { .. })) == 1
    })
    .await;
    seen.clear();
    for m in 0..n {
        for (k, q) in qos.iter().enumerate() {
            let payload = (m as u32).to_be_bytes().to_vec();
            // A full request queue is "retry later", as with rumqttc.
            let mut p = payload;
            loop {
                match fleet.publish(1, format!("{prefix}/q{k}"), *q, p) {
                    Ok(()) => break,
                    Err(refused) => {
                        assert!(!refused.payload.is_empty(), "{}", refused.error);
                        p = refused.payload;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            }
        }
    }
    collect_until(&fleet, &mut seen, Duration::from_secs(60), |s| {
        count(s, |e| matches!(e, TransportEvent::Publish { .. })) >= 3 * n
    })
    .await;
    // Late duplicates would show up now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut late = Vec::new();
    fleet.drain(&mut late);
    seen.append(&mut late);
    for (k, q) in qos.iter().enumerate() {
        let topic = format!("{prefix}/q{k}");
        let got: Vec<u32> = seen
            .iter()
            .filter_map(|e| match e {
                TransportEvent::Publish { conn: 0, publish } if publish.topic == topic => {
                    assert_eq!(publish.qos, *q);
                    Some(u32::from_be_bytes(publish.payload[..4].try_into().unwrap()))
                }
                _ => None,
            })
            .collect();
        let want: Vec<u32> = (0..n as u32).collect();
        assert_eq!(got, want, "QoS {q:?}: every message once, in order");
    }
    let stats = fleet.stats();
    assert_eq!(stats.received, 3 * n as u64 + 1);
    assert_eq!((stats.connects, stats.disconnects), (2, 0));
    fleet.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_0_1_2_both_ways_on_the_embedded_broker() {
    let broker = EmbeddedBroker::start().unwrap();
    qos_flows(&native(broker.url()), "emb", 2_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_0_1_2_both_ways_on_mosquitto() {
    let broker = Mosquitto::start().await.expect("mosquitto is installed");
    qos_flows(&native(broker.url()), "mosq", 2_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_caught_by_the_keep_alive() {
    let broker = EmbeddedBroker::start().unwrap();
    let config = ProxyConfig {
        sniff_mqtt_client_id: true,
        ..ProxyConfig::default()
    };
    let proxy = FaultProxy::start("127.0.0.1:0".parse().unwrap(), broker.addr(), config)
        .await
        .unwrap();
    let mut settings = native(BrokerUrl::loopback(proxy.local_addr().port()));
    settings.keep_alive = Duration::from_secs(1);
    let fleet = MqttFleet::start(&settings, &ids("ka", 1)).unwrap();
    let mut seen = Vec::new();
    connect_all(&fleet, &mut seen).await;
    assert!(
        proxy
            .wait_for_tag("ka-0", Duration::from_secs(2))
            .await
            .is_some()
    );
    // Pings flow for a few keep-alive periods without trouble.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    drain_into(&fleet, &mut seen);
    assert_eq!(fleet.stats().disconnects, 0, "{seen:?}");
    proxy.set_faults(Target::Tag("ka-0".into()), LinkFaults::half_open());
    let t0 = tokio::time::Instant::now();
    seen.clear();
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| {
        !s.is_empty()
    })
    .await;
    let detected = t0.elapsed();
    match &seen[0] {
        TransportEvent::Disconnected { error: Some(e), .. } => {
            assert!(e.contains("PINGRESP"), "{e}");
        }
        other => panic!("expected a dead link: {other:?}"),
    }
    assert!(detected <= Duration::from_millis(2_400), "{detected:?}");
    // Healed, the connection comes back when permitted.
    proxy.clear_all();
    seen.clear();
    fleet.connect(0);
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| {
        count(s, connected(0)) == 1
    })
    .await;
    fleet.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_drops_the_links_and_they_reconnect_when_permitted() {
    let first = EmbeddedBroker::start().unwrap();
    let addr = first.addr();
    let fleet = MqttFleet::start(&native(first.url()), &ids("rs", 3)).unwrap();
    let mut seen = Vec::new();
    connect_all(&fleet, &mut seen).await;
    drop(first);
    seen.clear();
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| {
        count(s, |e| {
            matches!(e, TransportEvent::Disconnected { error: Some(_), .. })
        }) == 3
    })
    .await;
    // Nothing reconnects by itself; an attempt while the broker is down fails.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drain_into(&fleet, &mut seen);
    assert_eq!(seen.len(), 3, "{seen:?}");
    fleet.connect(0);
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| {
        count(s, |e| {
            matches!(e, TransportEvent::ConnectFailed { conn: 0, .. })
        }) == 1
    })
    .await;
    let _second = start_at(addr).await;
    seen.clear();
    connect_all(&fleet, &mut seen).await;
    let stats = fleet.stats();
    assert_eq!(
        (stats.connects, stats.disconnects, stats.connect_failures),
        (6, 3, 1)
    );
    fleet.shutdown();
}

/// The embedded broker on `addr` again (the port may take a moment to be free).
async fn start_at(addr: SocketAddr) -> EmbeddedBroker {
    for _ in 0..100 {
        let config = BrokerConfig {
            addr,
            ..BrokerConfig::default()
        };
        if let Ok(b) = EmbeddedBroker::start_with(config) {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot restart the broker on {addr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connect_is_a_connect_failure_with_its_return_code() {
    // A broker that answers every CONNECT with "not authorised" (return code 5).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 256];
            if s.read(&mut buf).unwrap_or(0) > 0 {
                // CONNACK, remaining length 2, no session, return code 5.
                let _ = s.write_all(&[0x20, 0x02, 0x00, 0x05]);
            }
            // Hold the socket until the client closes it.
            let _ = s.read(&mut buf);
        }
    });
    let mut settings = native(BrokerUrl::loopback(port));
    settings.credentials = Some(("user".to_owned(), "wrong".to_owned()));
    let fleet = MqttFleet::start(&settings, &ids("ref", 1)).unwrap();
    fleet.connect(0);
    let mut seen = Vec::new();
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| {
        !s.is_empty()
    })
    .await;
    match &seen[0] {
        TransportEvent::ConnectFailed { error, .. } => {
            assert!(
                error.contains("refused") && error.contains("NotAuthorized"),
                "{error}"
            );
        }
        other => panic!("expected a refusal: {other:?}"),
    }
    assert_eq!(fleet.stats().connect_failures, 1);
    assert_eq!(fleet.stats().connects, 0);
    // Nothing retries by itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drain_into(&fleet, &mut seen);
    assert_eq!(seen.len(), 1, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_connections_each_deliver_one_message() {
    let n = 2_000;
    let broker = EmbeddedBroker::start().unwrap();
    let fleet = MqttFleet::start(&native(broker.url()), &ids("many", n)).unwrap();
    let mut seen = Vec::new();
    connect_all(&fleet, &mut seen).await;
    fleet
        .subscribe(
            0,
            vec![SubscribeFilter::new("many/#".to_owned(), QoS::AtLeastOnce)],
        )
        .unwrap();
    fleet
        .publish(0, "many/probe".to_owned(), QoS::AtLeastOnce, vec![0])
        .unwrap();
    seen.clear();
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| s.len() == 1).await;
    seen.clear();
    // One batch scope: the 2,000 publishes reach the I/O thread with one wake-up, when the
    // scope ends.
    let hold = fleet.batch();
    for i in 0..n {
        fleet
            .publish(i, format!("many/{i}"), QoS::AtLeastOnce, vec![1; 64])
            .unwrap();
    }
    drop(hold);
    collect_until(&fleet, &mut seen, Duration::from_secs(60), |s| s.len() >= n).await;
    let mut from: Vec<usize> = seen
        .iter()
        .map(|e| match e {
            TransportEvent::Publish { conn: 0, publish } => {
                publish.topic["many/".len()..].parse().unwrap()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    from.sort_unstable();
    assert_eq!(from, (0..n).collect::<Vec<_>>());
    assert!(seen.iter().all(|e| e.conn() == 0));
    assert_eq!(fleet.stats().connects, n as u64);
    fleet.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_cross_full_socket_buffers_whole_and_in_order() {
    let broker = EmbeddedBroker::start().unwrap();
    let fleet = MqttFleet::start(&native(broker.url()), &ids("big", 2)).unwrap();
    let mut seen = Vec::new();
    connect_all(&fleet, &mut seen).await;
    fleet
        .subscribe(
            0,
            vec![SubscribeFilter::new("big/t".to_owned(), QoS::AtLeastOnce)],
        )
        .unwrap();
    // The subscription is in place once connection 0 hears its own probe (a probe from
    // connection 1 could reach the broker before the SUBSCRIBE).
    fleet
        .publish(0, "big/t".to_owned(), QoS::AtLeastOnce, vec![0xFF])
        .unwrap();
    seen.clear();
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| s.len() == 1).await;
    seen.clear();
    // 60 × 200 KiB in one batch: far more than a socket buffer takes at once, and each
    // packet spans several reads on the receiving side.
    let n = 60u8;
    let hold = fleet.batch();
    for k in 0..n {
        // QoS 1: ordered and never dropped (the broker may shed QoS 0 under backpressure).
        let qos = QoS::AtLeastOnce;
        fleet
            .publish(1, "big/t".to_owned(), qos, vec![k; 200 * 1024])
            .unwrap();
    }
    drop(hold);
    collect_until(&fleet, &mut seen, Duration::from_secs(60), |s| {
        s.len() >= usize::from(n)
    })
    .await;
    for (k, e) in seen.iter().enumerate() {
        match e {
            TransportEvent::Publish { conn: 0, publish } => {
                assert_eq!(publish.payload.len(), 200 * 1024);
                assert!(
                    publish.payload.iter().all(|&b| usize::from(b) == k),
                    "message {k}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    fleet.shutdown();
}

/// At most 64 connections wait for a CONNACK at once: the others wait in the engine for a
/// slot, not in the broker's listen backlog (Mosquitto's is 100; past it the kernel
/// retries handshakes after seconds). A slot frees when a handshake ends either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_past_64_handshakes_wait_in_the_engine_for_a_slot() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    // A "broker" that accepts TCP and never answers CONNECT.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (h, a) = (held.clone(), accepted.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            a.fetch_add(1, Ordering::SeqCst);
            h.lock().unwrap().push(stream);
        }
    });
    let fleet = MqttFleet::start(&native(BrokerUrl::loopback(port)), &ids("slots", 200)).unwrap();
    for i in 0..200 {
        fleet.connect(i);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 64, "64 handshakes at once");
    // The server drops them: 64 failed attempts, and 64 waiting ones take their slots.
    held.lock().unwrap().clear();
    let mut seen = Vec::new();
    collect_until(&fleet, &mut seen, Duration::from_secs(10), |s| {
        count(s, |e| matches!(e, TransportEvent::ConnectFailed { .. })) >= 64
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 128, "the next 64 started");
    fleet.shutdown();
}

/// A shutdown writes what the fleet was handed before it stops: 2,000 QoS 2 publishes
/// queued at once (a hundred times the in-flight window of 20, so most wait for the
/// broker's acknowledgements) all reach a subscriber on Mosquitto although the fleet shuts
/// down right after handing them over; a publish on a connection that never connected
/// cannot be written and is counted as abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_drains_what_was_handed_over_and_counts_the_rest() {
    let broker = Mosquitto::start().await.expect("mosquitto is installed");
    let settings = native(broker.url());
    let receiver = MqttFleet::start(&settings, &ids("drain-rx", 1)).unwrap();
    let mut seen = Vec::new();
    connect_all(&receiver, &mut seen).await;
    receiver
        .subscribe(
            0,
            vec![SubscribeFilter::new("drain/t".to_owned(), QoS::ExactlyOnce)],
        )
        .unwrap();
    receiver
        .publish(0, "drain/t".to_owned(), QoS::ExactlyOnce, vec![0xFF; 4])
        .unwrap();
    collect_until(&receiver, &mut seen, Duration::from_secs(10), |s| {
        count(s, |e| matches!(e, TransportEvent::Publish { .. })) == 1
    })
    .await;
    seen.clear();

    let mut sender_settings = settings.clone();
    sender_settings.request_capacity = 10_000;
    let sender = MqttFleet::start(&sender_settings, &ids("drain-tx", 2)).unwrap();
    let mut up = Vec::new();
    sender.connect(0);
    collect_until(&sender, &mut up, Duration::from_secs(10), |s| {
        count(s, connected(0)) == 1
    })
    .await;
    let n = 2_000u32;
    let hold = sender.batch();
    for k in 0..n {
        sender
            .publish(
                0,
                "drain/t".to_owned(),
                QoS::ExactlyOnce,
                k.to_be_bytes().to_vec(),
            )
            .unwrap();
    }
    // Connection 1 never connects: its publish can never be written.
    sender
        .publish(1, "drain/t".to_owned(), QoS::ExactlyOnce, vec![1; 4])
        .unwrap();
    drop(hold);
    sender.shutdown();
    assert_eq!(sender.stats().abandoned, 1, "only the unconnected one");

    collect_until(&receiver, &mut seen, Duration::from_secs(30), |s| {
        count(s, |e| matches!(e, TransportEvent::Publish { .. })) >= n as usize
    })
    .await;
    let got: Vec<u32> = seen
        .iter()
        .filter_map(|e| match e {
            TransportEvent::Publish { publish, .. } => {
                Some(u32::from_be_bytes(publish.payload[..4].try_into().unwrap()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        (0..n).collect::<Vec<_>>(),
        "every publish once, in order"
    );
    receiver.shutdown();
}
