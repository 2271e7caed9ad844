//! The HTTP client that executes a machine's outbound requests: keep-alive HTTP/1.1
//! connections of our own [`Pool`] on hyper's connection-level API (`http://` and
//! `https://` peers, rustls), with every in-flight request's timeout kept by one
//! [`Watchdog`] instead of a timer each.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use sim_core::tcec::wire::envelope::CONTENT_TYPE as TCEC_CONTENT_TYPE;
use sim_core::tcec::{HttpResponse, OutboundRequest, PeerId, TransportError};

use super::HttpError;
use super::pipeline::PipelinePool;
use super::pool::{Pool, PoolStats};
use super::tls;
use super::watchdog::Watchdog;

/// Largest response body read (larger answers are a transport error).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Which servers the client trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// Trust the operating system's roots.
    pub native_roots: bool,
    /// Also trust the certificates of this PEM document (a test platform's private CA).
    pub ca_pem: Option<Vec<u8>>,
}

/// Where one peer is reached, parsed once from its base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The base URL as configured, without a trailing `/`.
    pub base: String,
    /// `https://`.
    pub https: bool,
    /// Host name or IP literal (IPv6 in brackets).
    pub host: String,
    /// Port (the scheme's default when the URL has none).
    pub port: u16,
    /// `scheme://host:port`: the pool's key.
    pub origin: String,
    /// The `Host` header value, prebuilt.
    pub authority: HeaderValue,
    /// The base path before a request's path (`""` for none).
    pub base_path: String,
}

impl Target {
    fn parse(base_url: &str) -> Option<Self> {
        let url = base_url.trim_end_matches('/');
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            return None;
        }
        let uri = url.parse::<hyper::Uri>().ok()?;
        let authority = uri.authority()?;
        let host = authority.host().to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let scheme = if https { "https" } else { "http" };
        Some(Target {
            base: url.to_owned(),
            https,
            origin: format!("{scheme}://{host}:{port}"),
            authority: HeaderValue::from_str(authority.as_str()).ok()?,
            host,
            port,
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

/// Base URLs of a machine's peers: `http(s)://host[:port][/base/path]`; a request's path
/// (`/shevcs/v1.0/…`) is appended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    targets: BTreeMap<PeerId, Target>,
}

impl Routes {
    /// No routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `peer` to `base_url`.
    pub fn with(mut self, peer: PeerId, base_url: &str) -> Result<Self, HttpError> {
        let target = Target::parse(base_url).ok_or_else(|| HttpError::Url {
            url: base_url.to_owned(),
            reason: "expected http(s)://host[:port][/path]".to_owned(),
        })?;
        self.targets.insert(peer, target);
        Ok(self)
    }

    /// Where `peer` is reached.
    pub fn target(&self, peer: PeerId) -> Option<&Target> {
        self.targets.get(&peer)
    }

    /// The full URL of `request`.
    pub fn url(&self, request: &OutboundRequest) -> Option<String> {
        self.target(request.peer)
            .map(|t| format!("{}{}", t.base, request.path))
    }
}

/// A client of keep-alive connections; clones share the connections and the watchdog.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pool: Arc<Pool>,
    /// Set when requests are pipelined (see [`HttpClient::pipelined`]).
    pipeline: Option<Arc<PipelinePool>>,
    watchdog: Arc<Watchdog>,
}

impl HttpClient {
    /// A client trusting what `tls` says. Must be called within a tokio runtime (it starts
    /// the timeout sweeper).
    pub fn new(tls: &ClientTls) -> Result<Self, HttpError> {
        let config = tls::client_config(tls.native_roots, tls.ca_pem.as_deref())?;
        Ok(HttpClient {
            pool: Arc::new(Pool::new(config)),
            pipeline: None,
            watchdog: Watchdog::start(),
        })
    }

    /// A client that pipelines up to `depth` requests on each connection (HTTP/1.1
    /// pipelining, [`super::pipeline`]); `depth` 0 is [`HttpClient::new`]'s one request at
    /// a time on hyper's connections. Must be called within a tokio runtime.
    pub fn pipelined(tls: &ClientTls, depth: usize) -> Result<Self, HttpError> {
        let mut client = Self::new(tls)?;
        if depth > 0 {
            let config = tls::client_config(tls.native_roots, tls.ca_pem.as_deref())?;
            client.pipeline = Some(Arc::new(PipelinePool::new(config, depth)));
        }
        Ok(client)
    }

    /// Connections opened so far and idle now.
    pub fn pool_stats(&self) -> PoolStats {
        match &self.pipeline {
            Some(p) => p.stats(),
            None => self.pool.stats(),
        }
    }

    /// Sends `request` to its peer's base URL and reads the answer, within the request's
    /// timeout. The request's body and header strings move into the HTTP request uncopied.
    pub async fn send(
        &self,
        routes: &Routes,
        request: OutboundRequest,
    ) -> Result<HttpResponse, TransportError> {
        let target = routes
            .target(request.peer)
            .ok_or(TransportError::NoRoute(request.peer.0))?;
        let timeout = request.timeout.to_std();
        if let Some(pipeline) = &self.pipeline {
            return self
                .watchdog
                .run(timeout, pipeline.exchange(target, &request))
                .await
                .unwrap_or(Err(TransportError::Timeout));
        }
        let http_request = http_request(target, request)?;
        self.watchdog
            .run(timeout, self.pool.exchange(target, http_request))
            .await
            .unwrap_or(Err(TransportError::Timeout))
    }
}

/// The HTTP request for `request` in origin form, with `Host` (hyper's connection API adds
/// none).
fn http_request(
    target: &Target,
    request: OutboundRequest,
) -> Result<hyper::Request<Full<Bytes>>, TransportError> {
    let bad = |e: &dyn std::fmt::Display| TransportError::Connect(format!("bad request: {e}"));
    let uri = if target.base_path.is_empty() {
        hyper::Uri::try_from(request.path)
    } else {
        hyper::Uri::try_from(format!("{}{}", target.base_path, request.path))
    }
    .map_err(|e| bad(&e))?;
    let mut builder = hyper::Request::post(uri)
        .header(HOST, target.authority.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static(TCEC_CONTENT_TYPE));
    if let Some(auth) = request.authorization {
        builder = builder.header(AUTHORIZATION, auth);
    }
    builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| bad(&e))
}

/// An error and its sources, `a: b: c`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::tcec::RequestId;
    use sim_core::tcec::wire::Interface;
    use sim_core::time::{Duration, Instant};

    #[test]
    fn routes_build_urls_and_reject_bad_bases() {
        let routes = Routes::new()
            .with(PeerId(1), "http://127.0.0.1:9/api/")
            .unwrap();
        let req = OutboundRequest {
            id: RequestId(1),
            peer: PeerId(1),
            interface: Interface::QueryToken,
            path: "/shevcs/v1.0/query_token".into(),
            authorization: None,
            body: vec![],
            intended_send: Instant::ZERO,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            routes.url(&req).unwrap(),
            "http://127.0.0.1:9/api/shevcs/v1.0/query_token"
        );
        assert!(Routes::new().with(PeerId(0), "ftp://x").is_err());
        assert!(Routes::new().with(PeerId(0), "127.0.0.1:80").is_err());
        assert!(
            routes
                .url(&OutboundRequest {
                    peer: PeerId(2),
                    ..req
                })
                .is_none()
        );
    }
}
