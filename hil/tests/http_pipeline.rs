//! The pipelining client (`HttpClient::pipelined`) over real sockets on 127.0.0.1, against
//! scripted servers that hold their answers until several requests have arrived on one
//! connection: responses matched to requests in order, the depth limit opening further
//! connections, a dropped connection failing every request on it with its reason, the
//! requests the server cannot have acted on sent again on a new connection, and a
//! timed-out request not shifting the answers of the ones behind it.

use std::time::Duration as StdDuration;

use hil::http::{ClientTls, HttpClient, Routes};
use sim_core::tcec::wire::Interface;
use sim_core::tcec::{HttpResponse, OutboundRequest, PeerId, RequestId, TransportError};
use sim_core::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Request `id`, whose body `{"i":id}` the scripted servers echo.
fn request(id: u64, timeout: Duration) -> OutboundRequest {
    OutboundRequest {
        id: RequestId(id),
        peer: PeerId(0),
        interface: Interface::QueryToken,
        path: "/shevcs/v1.0/query_token".into(),
        authorization: Some("Bearer t".into()),
        body: format!("{{\"i\":{id}}}").into_bytes(),
        intended_send: Instant::ZERO,
        timeout,
    }
}

/// What a scripted connection does once `batch` requests have arrived: the bodies of the
/// answers it writes in one go (echoing request bodies by their arrival index), whether
/// it answers chunked, how long it waits first, and whether it closes afterwards.
#[derive(Clone, Copy)]
struct Script {
    batch: usize,
    answer: &'static [usize],
    chunked: bool,
    delay_ms: u64,
    close: bool,
}

/// Reads requests until `n` whole ones arrived; their bodies in order.
async fn read_requests(sock: &mut TcpStream, n: usize, have: &mut Vec<u8>) -> Option<Vec<Vec<u8>>> {
    let mut bodies = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        while bodies.len() < n {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            let Ok(httparse::Status::Complete(head)) = req.parse(have) else {
                break;
            };
            let len: usize = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                .expect("the client sends a content-length");
            if have.len() < head + len {
                break;
            }
            bodies.push(have[head..head + len].to_vec());
            have.drain(..head + len);
        }
        if bodies.len() == n {
            return Some(bodies);
        }
        let read = sock.read(&mut buf).await.ok()?;
        if read == 0 {
            return None;
        }
        have.extend_from_slice(&buf[..read]);
    }
}

fn answer(body: &[u8], chunked: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if chunked {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
        for part in body.chunks(3) {
            out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).as_bytes(),
        );
        out.extend_from_slice(body);
    }
    out
}

/// A server running `script` on every connection, over and over; its base URL.
async fn scripted_server(script: Script) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut have = Vec::new();
                while let Some(bodies) = read_requests(&mut sock, script.batch, &mut have).await {
                    tokio::time::sleep(StdDuration::from_millis(script.delay_ms)).await;
                    let out: Vec<u8> = script
                        .answer
                        .iter()
                        .flat_map(|&k| answer(&bodies[k], script.chunked))
                        .collect();
                    if sock.write_all(&out).await.is_err() || script.close {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Sends requests `ids` at once (each in a task of its own); their answers by id.
async fn send_all(
    client: &HttpClient,
    url: &str,
    ids: &[(u64, u64)],
) -> Vec<(u64, Result<HttpResponse, TransportError>)> {
    let routes = Routes::new().with(PeerId(0), url).expect("test set-up");
    let tasks: Vec<_> = ids
        .iter()
        .map(|&(id, timeout_ms)| {
            let (client, routes) = (client.clone(), routes.clone());
            tokio::spawn(async move {
                let r = request(id, Duration::from_millis(timeout_ms));
                (id, client.send(&routes, r).await)
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("test set-up"));
    }
    out
}

fn echoed(id: u64) -> Vec<u8> {
    format!("{{\"i\":{id}}}").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_responses_are_matched_to_their_requests_in_order() {
    for chunked in [false, true] {
        let url = scripted_server(Script {
            batch: 8,
            answer: &[0, 1, 2, 3, 4, 5, 6, 7],
            chunked,
            delay_ms: 0,
            close: false,
        })
        .await;
        let client = HttpClient::pipelined(&ClientTls::default(), 8).expect("test set-up");
        let ids: Vec<(u64, u64)> = (0..8).map(|i| (i, 5_000)).collect();
        // The server answers only once all 8 are on its one connection, in one write.
        for (id, result) in send_all(&client, &url, &ids).await {
            let r = result.expect("answered");
            assert_eq!((r.status, r.body), (200, echoed(id)), "chunked {chunked}");
        }
        assert_eq!(client.pool_stats().opened, 1);
        assert_eq!(client.pool_stats().idle, 1);
        // The connection is reused for the next round.
        for (id, result) in send_all(&client, &url, &ids).await {
            assert_eq!(result.expect("answered").body, echoed(id));
        }
        assert_eq!(client.pool_stats().opened, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_connection_sends_further_requests_on_a_new_one() {
    let url = scripted_server(Script {
        batch: 2,
        answer: &[0, 1],
        chunked: false,
        delay_ms: 0,
        close: false,
    })
    .await;
    let client = HttpClient::pipelined(&ClientTls::default(), 2).expect("test set-up");
    let ids: Vec<(u64, u64)> = (0..4).map(|i| (i, 5_000)).collect();
    for (id, result) in send_all(&client, &url, &ids).await {
        assert_eq!(result.expect("answered").body, echoed(id));
    }
    // Each connection held two unanswered requests: the other two needed a second one.
    assert_eq!(client.pool_stats().opened, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_fails_every_request_on_it_with_a_reason() {
    let url = scripted_server(Script {
        batch: 4,
        answer: &[0],
        chunked: false,
        delay_ms: 0,
        close: true,
    })
    .await;
    let client = HttpClient::pipelined(&ClientTls::default(), 8).expect("test set-up");
    let ids: Vec<(u64, u64)> = (0..4).map(|i| (i, 5_000)).collect();
    let results = send_all(&client, &url, &ids).await;
    let answered = results.iter().filter(|(_, r)| r.is_ok()).count();
    assert_eq!(answered, 1, "{results:?}");
    for (id, result) in &results {
        match result {
            Ok(r) => assert_eq!(r.body, echoed(*id)),
            Err(TransportError::Io(reason)) => {
                assert!(reason.contains("closed the connection"), "{reason}")
            }
            Err(e) => panic!("request {id}: unexpected {e:?}"),
        }
    }
    // Nothing was sent twice: the next request opens a second connection.
    let results = send_all(&client, &url, &[(9, 300)]).await;
    assert!(
        matches!(results[0].1, Err(TransportError::Timeout)),
        "{results:?}"
    );
    assert_eq!(client.pool_stats().opened, 2);
}

/// A server that answers only the first request of every connection, `close_header`
/// saying so or not, after waiting `linger_ms`, then closes; the bodies it answered.
async fn one_per_connection_server(
    close_header: bool,
    linger_ms: u64,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut have = Vec::new();
                let Some(bodies) = read_requests(&mut sock, 1, &mut have).await else {
                    return;
                };
                let mut out = answer(&bodies[0], false);
                if close_header {
                    let at = out
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .expect("status line");
                    out.splice(at + 2..at + 2, b"connection: close\r\n".iter().copied());
                }
                let _ = sock.write_all(&out).await;
                let _ = tx.send(bodies[0].clone());
                tokio::time::sleep(StdDuration::from_millis(linger_ms)).await;
            });
        }
    });
    (format!("http://{addr}"), rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_behind_a_connection_close_answer_are_sent_again() {
    // The server ends every connection after one answer, saying so (a keep-alive request
    // limit): it acted on none of the requests pipelined behind it.
    let (url, mut served) = one_per_connection_server(true, 0).await;
    let client = HttpClient::pipelined(&ClientTls::default(), 8).expect("test set-up");
    let ids: Vec<(u64, u64)> = (0..4).map(|i| (i, 5_000)).collect();
    for (id, result) in send_all(&client, &url, &ids).await {
        assert_eq!(result.expect("answered").body, echoed(id));
    }
    // One connection per answer, each request acted on once.
    assert_eq!(client.pool_stats().opened, 4);
    let mut bodies = Vec::new();
    while let Ok(b) = served.try_recv() {
        bodies.push(b);
    }
    // The senders' tasks race to the queue, so the order varies; each was served once.
    bodies.sort();
    assert_eq!(bodies, (0..4).map(echoed).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_not_wholly_written_when_a_connection_drops_are_sent_again() {
    // Requests of 4 MiB: when the server stops reading and drops the connection after its
    // first answer, the socket buffers cannot have taken them all.
    let (url, _served) = one_per_connection_server(false, 300).await;
    let client = HttpClient::pipelined(&ClientTls::default(), 8).expect("test set-up");
    let routes = Routes::new().with(PeerId(0), &url).expect("test set-up");
    let tasks: Vec<_> = (0..8u64)
        .map(|id| {
            let (client, routes) = (client.clone(), routes.clone());
            tokio::spawn(async move {
                let mut r = request(id, Duration::from_secs(20));
                let pad = " ".repeat(4 << 20);
                r.body = format!("{{\"i\":{id}{pad}}}").into_bytes();
                let result = client.send(&routes, r).await;
                (id, pad.len(), result)
            })
        })
        .collect();
    let mut answered = Vec::new();
    for t in tasks {
        let (id, pad, result) = t.await.expect("test set-up");
        match result {
            Ok(r) => {
                assert_eq!(r.body.len(), format!("{{\"i\":{id}}}").len() + pad);
                answered.push(id);
            }
            // Wholly written and unanswered: the server may have acted on it.
            Err(TransportError::Io(_)) => {}
            Err(e) => panic!("request {id}: unexpected {e:?}"),
        }
    }
    // The first request queued (the senders' tasks race, so not always request 0) was
    // answered on the first connection, and at least one of those the first connection
    // had not wholly written was answered on a later one.
    assert!(answered.len() >= 2, "{answered:?}");
    assert!(client.pool_stats().opened >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_does_not_shift_the_answers_behind_it() {
    // Both requests arrive, the answers come 300 ms later: the first has given up by then.
    let url = scripted_server(Script {
        batch: 2,
        answer: &[0, 1],
        chunked: false,
        delay_ms: 300,
        close: false,
    })
    .await;
    let client = HttpClient::pipelined(&ClientTls::default(), 8).expect("test set-up");
    let routes = Routes::new().with(PeerId(0), &url).expect("test set-up");
    let first = client.send(&routes, request(1, Duration::from_millis(100)));
    let second = async {
        // Queued behind the first on the same connection.
        tokio::time::sleep(StdDuration::from_millis(20)).await;
        client
            .send(&routes, request(2, Duration::from_secs(5)))
            .await
    };
    let start = tokio::time::Instant::now();
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first, Err(TransportError::Timeout));
    assert!(start.elapsed() >= StdDuration::from_millis(300));
    assert_eq!(second.expect("answered").body, echoed(2));
    assert_eq!(client.pool_stats().opened, 1);
}

#[tokio::test]
async fn an_unreachable_peer_fails_with_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("test set-up");
    let url = format!("http://{}", listener.local_addr().expect("test set-up"));
    drop(listener);
    let client = HttpClient::pipelined(&ClientTls::default(), 4).expect("test set-up");
    let results = send_all(&client, &url, &[(1, 5_000), (2, 5_000)]).await;
    for (_, r) in results {
        assert!(matches!(r, Err(TransportError::Connect(_))), "{r:?}");
    }
}
