//! HTTPS: the reference platform serves TLS with a certificate from PEM files; the operator
//! trusts it through a custom CA, and refuses it without.

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

mod http_common;

use std::time::Duration as StdDuration;

use hil::http::ClientTls;
use hil::http::ServerTls;
use hil::http::loopback::{Loopback, LoopbackConfig};
use sim_core::tcec::demo;
use sim_core::tcec::harness::OPERATOR_ID;

/// A CA and a server certificate for 127.0.0.1 and localhost, written to a fresh directory;
/// returns the server files, the CA PEM and the directory (which goes when dropped).
fn certificates(tag: &str) -> (ServerTls, Vec<u8>, Scratch) {
    let ca_key = rcgen::KeyPair::generate().expect("test certificate setup");
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).expect("test certificate setup");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "chargestorm test CA");
    let ca = ca_params
        .self_signed(&ca_key)
        .expect("test certificate setup");
    let key = rcgen::KeyPair::generate().expect("test certificate setup");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("test certificate setup");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params
        .signed_by(&key, &issuer)
        .expect("test certificate setup");
    let dir = Scratch::new(&format!("chargestorm-tls-{tag}"));
    let cert_path = dir.join("platform.pem");
    let key_path = dir.join("platform.key");
    std::fs::write(&cert_path, cert.pem()).expect("test certificate setup");
    std::fs::write(&key_path, key.serialize_pem()).expect("test certificate setup");
    let files = ServerTls {
        cert_chain_pem: cert_path,
        private_key_pem: key_path,
    };
    (files, ca.pem().into_bytes(), dir)
}

fn station_pushes(lb: &Loopback) -> u64 {
    lb.platform.shared().with(|p, _, _| p.counts().station_info)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_go_over_https_to_a_platform_with_a_private_ca() {
    let (files, ca_pem, _dir) = certificates("ok");
    let config = LoopbackConfig {
        platform_tls: Some(files),
        operator_client_tls: ClientTls {
            native_roots: false,
            ca_pem: Some(ca_pem),
        },
        ..Default::default()
    };
    let lb = Loopback::start(config).await.unwrap();
    assert!(lb.platform.base_url().starts_with("https://"));
    lb.operator
        .shared()
        .with(|op, _, now| op.add_station(now, demo::station(OPERATOR_ID, 0, 1, 1, true)));
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    while station_pushes(&lb) < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no push over HTTPS");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_connect_error() {
    let (files, _, _dir) = certificates("untrusted");
    let config = LoopbackConfig {
        platform_tls: Some(files),
        ..Default::default()
    };
    let lb = Loopback::start(config).await.unwrap();
    lb.operator
        .shared()
        .with(|op, _, now| op.add_station(now, demo::station(OPERATOR_ID, 0, 1, 1, true)));
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    loop {
        let errors = lb.operator.shared().with(|_, m, _| m.errors());
        if let Some((_, e)) = errors
            .iter()
            .find(|(k, _)| k.ends_with("query_token.connect"))
        {
            assert!(
                e.last_text.contains("certificate") || e.last_text.contains("UnknownIssuer"),
                "{}",
                e.last_text
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{errors:?}");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    assert_eq!(station_pushes(&lb), 0);
    lb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_go_over_https() {
    use hil::http::{HttpClient, PlatformServerConfig, Routes, serve_platform};
    use sim_core::tcec::PeerId;
    use sim_core::time::Duration;

    let (files, ca_pem, _dir) = certificates("pipelined");
    let spec = profiles::scenario::HttpSpec {
        operator_id: OPERATOR_ID.to_owned(),
        ..Default::default()
    };
    let (_, platform) =
        sim_core::fleet::http_configs(&spec, 7, sim_core::tcec::wire::CivilEpoch::beijing(0))
            .expect("test set-up");
    let server = serve_platform(
        "127.0.0.1:0".parse().expect("test set-up"),
        PlatformServerConfig {
            platform,
            operator_urls: vec![],
            tls: Some(files),
            client_tls: ClientTls::default(),
        },
    )
    .await
    .expect("test set-up");
    let tls = ClientTls {
        native_roots: false,
        ca_pem: Some(ca_pem),
    };
    let client = HttpClient::pipelined(&tls, 8).expect("test set-up");
    let routes = Routes::new()
        .with(PeerId(0), &server.base_url())
        .expect("test set-up");
    let tasks: Vec<_> = (0..8u64)
        .map(|id| {
            let (client, routes) = (client.clone(), routes.clone());
            tokio::spawn(async move {
                let request = http_common::query_token(id, Duration::from_secs(5));
                client.send(&routes, request).await
            })
        })
        .collect();
    for task in tasks {
        // The envelope is refused, but over TLS and with an HTTP answer of its own.
        let response = task.await.expect("test set-up").expect("an HTTP answer");
        assert!(!response.body.is_empty(), "{response:?}");
    }
    assert_eq!(client.pool_stats().opened, 1);
    server.shutdown().await;
}
