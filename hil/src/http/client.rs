//! The HTTP client that executes a machine's outbound requests: hyper-util's pooled client
//! over rustls (HTTP/1.1, keep-alive; `http://` and `https://` peers).

use std::collections::BTreeMap;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sim_core::tcec::wire::envelope::CONTENT_TYPE as TCEC_CONTENT_TYPE;
use sim_core::tcec::{HttpResponse, OutboundRequest, PeerId, TransportError};

use super::HttpError;
use super::tls;

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

/// Base URLs of a machine's peers: `http(s)://host[:port][/base/path]`; a request's path
/// (`/shevcs/v1.0/…`) is appended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    bases: BTreeMap<PeerId, String>,
}

impl Routes {
    /// No routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `peer` to `base_url`.
    pub fn with(mut self, peer: PeerId, base_url: &str) -> Result<Self, HttpError> {
        let url = base_url.trim_end_matches('/');
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && url.parse::<hyper::Uri>().is_ok_and(|u| u.host().is_some());
        if !ok {
            return Err(HttpError::Url {
                url: base_url.to_owned(),
                reason: "expected http(s)://host[:port][/path]".to_owned(),
            });
        }
        self.bases.insert(peer, url.to_owned());
        Ok(self)
    }

    /// The full URL of `request`.
    pub fn url(&self, request: &OutboundRequest) -> Option<String> {
        self.bases
            .get(&request.peer)
            .map(|base| format!("{base}{}", request.path))
    }
}

/// A pooled HTTP(S) client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// A client trusting what `tls` says.
    pub fn new(tls: &ClientTls) -> Result<Self, HttpError> {
        let config = tls::client_config(tls.native_roots, tls.ca_pem.as_deref())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .build(https);
        Ok(HttpClient { client })
    }

    /// Sends `request` to its peer's base URL and reads the answer, within the request's
    /// timeout. The request's body and header strings move into the HTTP request uncopied.
    pub async fn send(
        &self,
        routes: &Routes,
        request: OutboundRequest,
    ) -> Result<HttpResponse, TransportError> {
        let url = routes
            .url(&request)
            .ok_or(TransportError::NoRoute(request.peer.0))?;
        let mut builder = hyper::Request::post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static(TCEC_CONTENT_TYPE));
        if let Some(auth) = request.authorization {
            builder = builder.header(AUTHORIZATION, auth);
        }
        let http_request = builder
            .body(Full::new(Bytes::from(request.body)))
            .map_err(|e| TransportError::Connect(format!("bad request: {e}")))?;
        let exchange = async {
            let response = self.client.request(http_request).await.map_err(|e| {
                if e.is_connect() {
                    TransportError::Connect(error_chain(&e))
                } else {
                    TransportError::Io(error_chain(&e))
                }
            })?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| TransportError::Io(format!("reading body: {e}")))?
                .to_bytes();
            Ok(HttpResponse {
                status,
                body: body.to_vec(),
            })
        };
        match tokio::time::timeout(request.timeout.to_std(), exchange).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout),
        }
    }
}

/// An error and its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
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
