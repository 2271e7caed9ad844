//! The HTTP client's own connection pool and timeout watchdog, over real sockets on
//! 127.0.0.1: reconnecting after the server drops a connection, timeouts reported (and
//! counted by the operator as failures with their reason), and no push lost when the
//! platform restarts in the middle of a load.

mod http_common;

use http_common::{query_token as request, wait_for};
use std::time::Duration as StdDuration;

use hil::http::{
    ClientTls, HttpClient, PlatformServerConfig, Routes, serve_machine, serve_platform,
};
use sim_core::tcec::demo;
use sim_core::tcec::harness::OPERATOR_ID;
use sim_core::tcec::operator::{ConnectorIdx, OperatorConfig, OperatorPlatform};
use sim_core::tcec::platform::PlatformConfig;
use sim_core::tcec::wire::objects::ConnectorStatus;
use sim_core::tcec::{ConnectorSnapshot, PeerId, TransportError};
use sim_core::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// A server that answers each request with `{"n":k}` and, if `close_after_each`, closes
/// the connection right after the answer (as a server ending idle keep-alive does).
async fn raw_server(close_after_each: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    tokio::spawn(async move {
        let mut k = 0u32;
        loop {
            let (mut sock, _) = listener.accept().await.expect("test set-up");
            k += 1;
            let n = k;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut have = Vec::new();
                loop {
                    let Ok(read) = sock.read(&mut buf).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    have.extend_from_slice(&buf[..read]);
                    // Requests here are small: headers and the 2-byte body in one read.
                    if let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                        have.drain(..end + 4 + 2);
                        let body = format!("{{\"n\":{n}}}");
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        sock.write_all(answer.as_bytes())
                            .await
                            .expect("test set-up");
                        if close_after_each {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_for_sequential_requests() {
    let addr = raw_server(false).await;
    let client = HttpClient::new(&ClientTls::default()).expect("test set-up");
    let routes = Routes::new()
        .with(PeerId(0), &format!("http://{addr}"))
        .expect("test set-up");
    for i in 0..20 {
        let r = client
            .send(&routes, request(i, Duration::from_secs(5)))
            .await
            .expect("test set-up");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{\"n\":1}"[..]));
    }
    assert_eq!(client.pool_stats().opened, 1);
    assert_eq!(client.pool_stats().idle, 1);
}

#[tokio::test]
async fn the_pool_reconnects_after_the_server_drops_a_connection() {
    let addr = raw_server(true).await;
    let client = HttpClient::new(&ClientTls::default()).expect("test set-up");
    let routes = Routes::new()
        .with(PeerId(0), &format!("http://{addr}"))
        .expect("test set-up");
    for i in 0..5u32 {
        let r = client
            .send(&routes, request(u64::from(i), Duration::from_secs(5)))
            .await
            .expect("test set-up");
        // Each answer comes from a new connection: the closed one was not reused.
        assert_eq!(r.body, format!("{{\"n\":{}}}", i + 1).into_bytes());
        // Let the client see the close before the next request takes a connection.
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    assert_eq!(client.pool_stats().opened, 5);
}

/// A server that accepts connections and never answers; its address.
async fn silent_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    addr
}

#[tokio::test]
async fn a_silent_server_times_out_after_the_requests_timeout() {
    let addr = silent_server().await;
    let client = HttpClient::new(&ClientTls::default()).expect("test set-up");
    let routes = Routes::new()
        .with(PeerId(0), &format!("http://{addr}"))
        .expect("test set-up");
    let start = tokio::time::Instant::now();
    let (a, b) = tokio::join!(
        client.send(&routes, request(1, Duration::from_millis(200))),
        client.send(&routes, request(2, Duration::from_millis(400))),
    );
    let took = start.elapsed();
    assert!(matches!(a, Err(TransportError::Timeout)), "{a:?}");
    assert!(matches!(b, Err(TransportError::Timeout)), "{b:?}");
    assert!(took >= StdDuration::from_millis(400), "{took:?}");
    assert!(took < StdDuration::from_millis(1500), "{took:?}");
    // A connection that timed out is not reused (its answer may still come).
    assert_eq!(client.pool_stats().idle, 0);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    drop(listener);
    let client = HttpClient::new(&ClientTls::default()).expect("test set-up");
    let routes = Routes::new()
        .with(PeerId(0), &format!("http://{addr}/base/"))
        .expect("test set-up");
    let r = client
        .send(&routes, request(1, Duration::from_secs(5)))
        .await;
    assert!(matches!(r, Err(TransportError::Connect(_))), "{r:?}");
}

/// The operator and platform configurations both sides derive from one seed.
fn configs(peers: usize) -> (OperatorConfig, PlatformConfig) {
    let seed = 11;
    let spec = profiles::scenario::HttpSpec {
        operator_id: OPERATOR_ID.to_owned(),
        ..Default::default()
    };
    let (mut op, mut pc) =
        sim_core::fleet::http_configs(&spec, seed, sim_core::tcec::wire::CivilEpoch::beijing(0))
            .expect("test set-up");
    demo::add_operator_identities(&mut op, peers, seed).expect("test set-up");
    demo::add_platform_identities(&mut pc, peers, seed).expect("test set-up");
    (op, pc)
}

async fn platform_on(
    addr: std::net::SocketAddr,
    pc: &PlatformConfig,
) -> hil::http::RunningServer<sim_core::tcec::platform::MonitoringPlatform> {
    serve_platform(
        addr,
        PlatformServerConfig {
            platform: pc.clone(),
            operator_urls: vec![],
            tls: None,
            client_tls: ClientTls::default(),
        },
    )
    .await
    .expect("test set-up")
}

fn occupied() -> ConnectorSnapshot {
    ConnectorSnapshot {
        status: ConnectorStatus::OccupiedNotCharging,
        ..ConnectorSnapshot::idle()
    }
}

async fn operator_to(url: &str, op: OperatorConfig) -> hil::http::RunningServer<OperatorPlatform> {
    let peers = op.peers.len();
    let routes = (0..peers).fold(Routes::new(), |r, i| {
        r.with(PeerId(i as u16), url).expect("test set-up")
    });
    let clock = hil::http::WallClock::start();
    let op = OperatorConfig {
        epoch: clock.beijing_epoch(),
        ..op
    };
    let machine = OperatorPlatform::new(op).expect("test set-up");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("test set-up");
    serve_machine(
        listener,
        machine,
        clock,
        routes,
        None,
        &ClientTls::default(),
    )
    .expect("test set-up")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_counted_as_failures_with_their_reason() {
    let addr = silent_server().await;
    let (mut op, _) = configs(1);
    op.policy.timeout = Duration::from_millis(100);
    op.policy.max_attempts = 2;
    op.policy.initial_backoff = Duration::from_millis(10);
    let operator = operator_to(&format!("http://{addr}"), op).await;
    operator.shared().with(|op, _, now| {
        op.add_station(now, demo::station(OPERATOR_ID, 0, 1, 1, true));
    });
    let shared = operator.shared().clone();
    let timeouts = || -> u64 {
        shared
            .lock()
            .metrics
            .errors()
            .iter()
            .filter(|(name, _)| name.contains("timeout"))
            .map(|(_, e)| e.count)
            .sum()
    };
    let start = tokio::time::Instant::now();
    wait_for("two timeouts", StdDuration::from_secs(10), || {
        timeouts() >= 2
    })
    .await;
    // Two attempts of 100 ms each, at least.
    assert!(start.elapsed() >= StdDuration::from_millis(200));
    let (stats, errors) = {
        let g = shared.lock();
        (g.machine.stats(), g.metrics.errors())
    };
    operator.shutdown().await;
    assert_eq!(stats.pushes_delivered, 0, "{stats:?}");
    // A silent peer causes timeouts and nothing else, each with its text.
    assert!(
        errors
            .iter()
            .all(|(name, e)| name.contains("timeout") && e.last_text.contains("timeout")),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_push_is_lost_when_the_platform_restarts() {
    let (op, pc) = configs(2);
    let first = platform_on("127.0.0.1:0".parse().expect("test set-up"), &pc).await;
    let addr = first.local_addr();
    let operator = operator_to(&first.base_url(), op).await;
    let shared = operator.shared().clone();
    let connectors: Vec<ConnectorIdx> = shared.with(|op, _, now| {
        (0..20)
            .flat_map(|i| {
                op.add_station(now, demo::station(OPERATOR_ID, i, 1, 1, true))
                    .connectors
            })
            .collect()
    });
    let snapshots = [occupied(), ConnectorSnapshot::idle()];
    let mut changes = 0u64;
    let change_round = |round: usize| {
        shared.with(|op, _, now| {
            for c in &connectors {
                op.connector_status(now, *c, &snapshots[round % 2]);
            }
        });
        connectors.len() as u64
    };
    for round in 0..10 {
        changes += change_round(round);
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    // The platform goes away with pushes in flight and queued, and comes back on its port.
    first.shutdown().await;
    for round in 10..15 {
        changes += change_round(round);
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let second = platform_on(addr, &pc).await;
    for round in 15..25 {
        changes += change_round(round);
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let shared = operator.shared().clone();
    wait_for("every push to settle", StdDuration::from_secs(60), || {
        shared.lock().machine.is_idle()
    })
    .await;
    let (stats, errors) = {
        let g = shared.lock();
        (g.machine.stats(), g.metrics.errors())
    };
    operator.shutdown().await;
    second.shutdown().await;
    // Every status change went to both peers, after the 20 station-info pushes of each.
    let expected = 2 * (changes + 20);
    let settled = stats.pushes_delivered + stats.pushes_failed + stats.pushes_dropped;
    assert_eq!(settled, expected, "{stats:?} {errors:?}");
    // Failures, if any, carry a reason.
    let counted: u64 = errors.values().map(|e| e.count).sum();
    assert!(
        stats.pushes_failed == 0 || counted > 0,
        "{stats:?} {errors:?}"
    );
    assert!(stats.pushes_delivered > 0, "{stats:?}");
}
