//! Timing of the default embedded broker ([`EmbeddedBroker::start`]) with rumqttc clients on
//! loopback: QoS 2 request/response round trips through a `+` subscriber, and a ramp of
//! 2,000 connections. Only correctness and a loose latency bound are asserted (the bound
//! catches the Nagle/delayed-ACK stall of ~40 ms per exchange); the figures are printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hdrhistogram::Histogram;
use hil::mqtt::EmbeddedBroker;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, MqttOptions, NetworkOptions, QoS};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// The two tests run one after the other: the ramp's 2,000 handshakes on two cores would
/// otherwise show up in the latency figures.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn client(broker: &EmbeddedBroker, id: &str) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", broker.addr().port());
    o.set_keep_alive(Duration::from_secs(60));
    o.set_inflight(20);
    let (c, mut el) = AsyncClient::new(o, 1_000);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(30);
    el.set_network_options(net);
    (c, el)
}

/// Polls until CONNACK.
async fn connected(el: &mut EventLoop) {
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => return,
            Ok(_) => {}
            Err(e) => panic!("connection failed: {e}"),
        }
    }
}

/// The "backend": subscribes `/U/R/+` at QoS 2 and answers every request on `/D/R/<id>` at
/// QoS 2 with the same payload.
async fn responder(broker: &EmbeddedBroker) {
    let (c, mut el) = client(broker, "backend");
    c.subscribe("/U/R/+", QoS::ExactlyOnce).await.unwrap();
    loop {
        match el.poll().await.unwrap() {
            Event::Incoming(Incoming::SubAck(_)) => break,
            _ => continue,
        }
    }
    tokio::spawn(async move {
        while let Ok(event) = el.poll().await {
            if let Event::Incoming(Incoming::Publish(p)) = event {
                let Some(id) = p.topic.strip_prefix("/U/R/") else {
                    continue;
                };
                let reply = format!("/D/R/{id}");
                c.try_publish(reply, QoS::ExactlyOnce, false, p.payload)
                    .unwrap();
            }
        }
    });
}

/// 2,000 QoS 2 request/response round trips (client → `+` subscriber → client) through the
/// default embedded broker; p99 under 10 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos2_request_response_round_trips_are_not_stalled_by_nagle() {
    let _serial = SERIAL.lock().await;
    let broker = EmbeddedBroker::start().expect("broker starts");
    responder(&broker).await;
    let (c, mut el) = client(&broker, "CS-rtt");
    connected(&mut el).await;
    c.subscribe("/D/R/CS-rtt", QoS::ExactlyOnce).await.unwrap();
    let (tx, mut replies) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = el.poll().await {
            match event {
                Event::Incoming(Incoming::Publish(_)) | Event::Incoming(Incoming::SubAck(_)) => {
                    let _ = tx.send(Instant::now());
                }
                _ => {}
            }
        }
    });
    timeout(Duration::from_secs(5), replies.recv())
        .await
        .unwrap();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).unwrap();
    let warmup = 100;
    for i in 0..(warmup + 2_000u32) {
        let t0 = Instant::now();
        c.publish(
            "/U/R/CS-rtt",
            QoS::ExactlyOnce,
            false,
            i.to_be_bytes().to_vec(),
        )
        .await
        .unwrap();
        let t1 = timeout(Duration::from_secs(5), replies.recv())
            .await
            .expect("reply within 5 s")
            .unwrap();
        if i >= warmup {
            hist.record((t1 - t0).as_micros().max(1) as u64).unwrap();
        }
    }
    let (p50, p99, max) = (
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.max(),
    );
    eprintln!(
        "embedded broker QoS 2 request/response over {} round trips: p50 {p50} µs, p99 {p99} µs, max {max} µs",
        hist.len()
    );
    assert_eq!(hist.len(), 2_000);
    assert!(p99 < 10_000, "p99 {p99} µs: a delayed-ACK stall is back");
    let s = broker.stats().unwrap();
    assert_eq!(s.messages_in[2], 2 * u64::from(warmup + 2_000));
    assert_eq!(s.messages_out[2], 2 * u64::from(warmup + 2_000));
}

/// 2,000 clients connect at once; every one gets its CONNACK. The time is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_clients_connect_at_once() {
    let _serial = SERIAL.lock().await;
    let n: u32 = 2_000;
    let broker = EmbeddedBroker::start().expect("broker starts");
    let t0 = Instant::now();
    let (tx, mut done) = mpsc::unbounded_channel();
    for i in 0..n {
        let (c, mut el) = client(&broker, &format!("CS{i:05}"));
        let tx = tx.clone();
        tokio::spawn(async move {
            connected(&mut el).await;
            let _ = tx.send(Instant::now());
            // Keep the connection (and its client) open until the test ends.
            let _keep = c;
            while el.poll().await.is_ok() {}
        });
    }
    drop(tx);
    let mut last = t0;
    for _ in 0..n {
        let at = timeout(Duration::from_secs(60), done.recv())
            .await
            .expect("every client connects within 60 s")
            .expect("no client task failed");
        last = last.max(at);
    }
    let took = last - t0;
    let s = broker.stats().unwrap();
    eprintln!(
        "embedded broker: {n} clients connected in {:.0} ms ({:.0} connects/s); peak {} connects in one second",
        took.as_secs_f64() * 1e3,
        f64::from(n) / took.as_secs_f64(),
        s.connects_per_second_peak
    );
    assert_eq!((s.connects, s.connections), (u64::from(n), u64::from(n)));
    assert_eq!((s.protocol_errors, s.connects_refused), (0, 0));
}
