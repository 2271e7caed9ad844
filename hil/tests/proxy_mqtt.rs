//! The fault proxy between an MQTT client (rumqttc 0.25) and a broker (rumqttd 0.20,
//! embedded in the test on a free loopback port): dead links and cuts are detected within
//! twice the keep-alive, links are tagged by the MQTT client identifier, and a tag can be
//! refused.

// Test code: a panic is how a failure is reported (style.md allows unwrap in tests).
#![allow(clippy::unwrap_used)]

use hil::proxy::{FaultProxy, LinkFaults, ProxyConfig, ProxyHandle, Target};
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS};
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::{Instant, timeout};

const KEEP_ALIVE: Duration = Duration::from_secs(2);

/// Starts rumqttd on a free loopback port (its own threads) and waits until it listens.
async fn start_broker() -> SocketAddr {
    // rumqttd cannot report the port it bound, so take a free one and hand it over.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = broker_config(addr);
    std::thread::spawn(move || {
        if let Err(e) = Broker::new(config).start() {
            eprintln!("rumqttd stopped: {e}");
        }
    });
    for _ in 0..250 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return addr;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("rumqttd did not start listening on {addr}");
}

#[expect(
    clippy::disallowed_types,
    reason = "rumqttd's Config takes a std HashMap of listeners"
)]
fn broker_config(listen: SocketAddr) -> Config {
    let server = ServerSettings {
        name: "v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 5_000,
            max_payload_size: 20_480,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let mut v4 = std::collections::HashMap::new();
    v4.insert("v4".to_string(), server);
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 100,
            max_outgoing_packet_count: 200,
            max_segment_size: 1024 * 1024,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: Some(v4),
        ..Config::default()
    }
}

async fn proxy_to(broker: SocketAddr) -> ProxyHandle {
    let config = ProxyConfig {
        sniff_mqtt_client_id: true,
        ..ProxyConfig::default()
    };
    FaultProxy::start("127.0.0.1:0".parse().unwrap(), broker, config)
        .await
        .unwrap()
}

fn client(id: &str, addr: SocketAddr) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    options.set_keep_alive(KEEP_ALIVE);
    AsyncClient::new(options, 10)
}

/// Polls until the broker's CONNACK arrives.
async fn connected(eventloop: &mut EventLoop) {
    loop {
        if let Event::Incoming(Packet::ConnAck(_)) = eventloop.poll().await.unwrap() {
            return;
        }
    }
}

/// Polls until the connection fails; returns the error.
async fn until_error(eventloop: &mut EventLoop) -> ConnectionError {
    loop {
        if let Err(e) = eventloop.poll().await {
            return e;
        }
    }
}

/// Polls for `d`, answering pings as usual; panics if the connection fails.
async fn keep_polling(eventloop: &mut EventLoop, d: Duration) {
    let _ = timeout(d, async {
        loop {
            eventloop.poll().await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_link_is_detected_within_twice_the_keep_alive() {
    timeout(Duration::from_secs(30), async {
        let proxy = proxy_to(start_broker().await).await;
        let (_client, mut eventloop) = client("cp-dead", proxy.local_addr());
        connected(&mut eventloop).await;
        let link = proxy.wait_for_tag("cp-dead", Duration::from_secs(2)).await;
        assert!(link.is_some(), "link not tagged by its MQTT client id");
        // Mid-way through a ping cycle, the link dies silently.
        keep_polling(&mut eventloop, Duration::from_secs(1)).await;
        proxy.set_faults(Target::Tag("cp-dead".into()), LinkFaults::half_open());
        let t0 = Instant::now();
        let err = until_error(&mut eventloop).await;
        let detected = t0.elapsed();
        println!("half-open: detected after {detected:?} (keep-alive {KEEP_ALIVE:?}): {err}");
        assert!(
            matches!(
                err,
                ConnectionError::MqttState(rumqttc::StateError::AwaitPingResp)
            ),
            "detected by {err:?}, not by the missing ping response"
        );
        assert!(detected <= 2 * KEEP_ALIVE, "detected after {detected:?}");
        // Nothing reached the client: both sockets stayed open, so only the keep-alive
        // could tell. Heal, and the client reconnects through the proxy.
        proxy.clear_all();
        connected(&mut eventloop).await;
        assert_eq!(
            proxy
                .wait_for_tag("cp-dead", Duration::from_secs(2))
                .await
                .map(|l| l.tag),
            Some(Some("cp-dead".into()))
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_link_is_detected_within_twice_the_keep_alive() {
    timeout(Duration::from_secs(30), async {
        let proxy = proxy_to(start_broker().await).await;
        let (_client, mut eventloop) = client("cp-cut", proxy.local_addr());
        connected(&mut eventloop).await;
        proxy
            .wait_for_tag("cp-cut", Duration::from_secs(2))
            .await
            .unwrap();
        keep_polling(&mut eventloop, Duration::from_secs(1)).await;
        assert_eq!(proxy.cut(Target::Tag("cp-cut".into())), 1);
        let t0 = Instant::now();
        let err = until_error(&mut eventloop).await;
        let detected = t0.elapsed();
        println!("cut: detected after {detected:?} (keep-alive {KEEP_ALIVE:?}): {err}");
        assert!(detected <= 2 * KEEP_ALIVE, "detected after {detected:?}");
        // A cut is seen at once (the FIN), not by the keep-alive.
        assert!(detected < KEEP_ALIVE / 2, "detected after {detected:?}");
        connected(&mut eventloop).await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagged_by_client_id_and_relayed_unchanged() {
    timeout(Duration::from_secs(30), async {
        let broker = start_broker().await;
        let proxy = proxy_to(broker).await;
        // The subscriber goes straight to the broker; the publisher through the proxy.
        let (sub, mut sub_loop) = client("backend", broker);
        connected(&mut sub_loop).await;
        sub.subscribe("cs/+/status", QoS::AtLeastOnce)
            .await
            .unwrap();
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = sub_loop.poll().await.unwrap() {
                break;
            }
        }
        let (publisher, mut pub_loop) = client("cp-0042", proxy.local_addr());
        connected(&mut pub_loop).await;
        let link = proxy
            .wait_for_tag("cp-0042", Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(link.tag.as_deref(), Some("cp-0042"));
        publisher
            .publish(
                "cs/cp-0042/status",
                QoS::AtLeastOnce,
                false,
                b"charging".to_vec(),
            )
            .await
            .unwrap();
        let pump =
            tokio::spawn(async move { keep_polling(&mut pub_loop, Duration::from_secs(5)).await });
        loop {
            if let Event::Incoming(Packet::Publish(p)) = sub_loop.poll().await.unwrap() {
                assert_eq!(p.topic, "cs/cp-0042/status");
                assert_eq!(&p.payload[..], b"charging");
                break;
            }
        }
        pump.abort();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_tag_cannot_connect_while_others_can() {
    timeout(Duration::from_secs(30), async {
        let proxy = proxy_to(start_broker().await).await;
        proxy.set_faults(Target::Tag("cp-banned".into()), LinkFaults::refuse_new());
        let (_banned, mut banned_loop) = client("cp-banned", proxy.local_addr());
        let err = until_error(&mut banned_loop).await;
        println!("refused tag: {err}");
        // rumqttc wraps the reset at several depths depending on when it is read.
        assert!(format!("{err:?}").contains("ConnectionReset"), "{err:?}");
        assert_eq!(proxy.stats().refused, 1);
        let (_ok, mut ok_loop) = client("cp-welcome", proxy.local_addr());
        connected(&mut ok_loop).await;
        // Lift the ban: the charger gets in.
        proxy.clear(Target::Tag("cp-banned".into()));
        connected(&mut banned_loop).await;
    })
    .await
    .unwrap();
}
