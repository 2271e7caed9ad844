//! The seam between the sans-IO machines and whatever carries their HTTP traffic.
//!
//! A machine hands out [`OutboundRequest`]s (already sealed: the body is the signed,
//! encrypted envelope and the `Authorization` header holds the token), and gets back an
//! [`Exchange`] that says when the request actually left and what came back. Inbound requests
//! arrive as [`InboundRequest`] and are answered with a [`ServerResponse`] whose `respond_at`
//! may lie in the future (a platform with a slow-response fault); the transport holds the
//! answer until then.
//!
//! Transports enforce [`OutboundRequest::timeout`] themselves and report
//! [`TransportError::Timeout`], so machines keep no per-request timers.

use core::fmt;

use crate::metrics::Metrics;
use crate::time::{Duration, Instant};
use proto::tcec::Interface;

/// A configured peer of a machine (the index into its peer list). Transports map it to a
/// base URL (real HTTP) or to another machine (the in-memory network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u16);

/// Identifies one outbound request of one machine, unique for the machine's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

impl RequestId {
    /// Bits of the id that number requests within one peer.
    const COUNTER_BITS: u32 = 48;

    /// The id of the `counter`th request to `peer`.
    pub const fn new(peer: PeerId, counter: u64) -> Self {
        RequestId(((peer.0 as u64) << Self::COUNTER_BITS) | (counter & ((1 << 48) - 1)))
    }

    /// The peer the request went to.
    pub const fn peer(self) -> PeerId {
        PeerId((self.0 >> Self::COUNTER_BITS) as u16)
    }
}

/// An HTTP POST a machine wants sent.
#[derive(Clone)]
pub struct OutboundRequest {
    /// The machine's id for the request; quote it in [`HttpMachine::handle_response`].
    pub id: RequestId,
    /// Where it goes.
    pub peer: PeerId,
    /// Which interface it calls.
    pub interface: Interface,
    /// The URL path, e.g. `/shevcs/v1.0/notification_stationStatus`; the transport prepends
    /// the peer's scheme, host and any base path.
    pub path: String,
    /// The `Authorization` header value (`Bearer <token>`), `None` for `query_token`.
    pub authorization: Option<String>,
    /// The JSON request envelope.
    pub body: Vec<u8>,
    /// When the schedule wanted it sent: latency is measured from here, so a slow peer that
    /// holds the sender back still shows up (no coordinated omission).
    pub intended_send: Instant,
    /// How long the transport waits for the response before reporting a timeout.
    pub timeout: Duration,
}

impl fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Authorization header carries a bearer token: never print it.
        f.debug_struct("OutboundRequest")
            .field("id", &self.id)
            .field("peer", &self.peer)
            .field("interface", &self.interface)
            .field("path", &self.path)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "[REDACTED]"),
            )
            .field("body_len", &self.body.len())
            .field("intended_send", &self.intended_send)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An HTTP response as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// The request never got an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No response within [`OutboundRequest::timeout`].
    #[error("no response within the timeout")]
    Timeout,
    /// The connection could not be opened (refused, DNS, TLS handshake).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection broke while sending or receiving.
    #[error("I/O error: {0}")]
    Io(String),
    /// The transport has no route to the peer (unconfigured peer id).
    #[error("no route to peer {0}")]
    NoRoute(u16),
}

impl TransportError {
    /// A short stable name for error counters (`timeout`, `connect`, `io`, `no_route`).
    pub const fn kind(&self) -> &'static str {
        match self {
            TransportError::Timeout => "timeout",
            TransportError::Connect(_) => "connect",
            TransportError::Io(_) => "io",
            TransportError::NoRoute(_) => "no_route",
        }
    }
}

/// What became of an [`OutboundRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// When the request actually left (for the service-time histogram).
    pub sent: Instant,
    /// The response, or why there is none.
    pub result: Result<HttpResponse, TransportError>,
}

/// An HTTP request a machine serves.
#[derive(Debug, Clone, Copy)]
pub struct InboundRequest<'a> {
    /// The request path (a full URL is accepted too).
    pub path: &'a str,
    /// The `Authorization` header value, if any.
    pub authorization: Option<&'a str>,
    /// The body bytes.
    pub body: &'a [u8],
}

/// The answer to an [`InboundRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerResponse {
    /// HTTP status: 200 for every envelope answer (the `Ret` code says what happened), 404
    /// for a path that names no interface served here, 500 for an injected server fault.
    pub status: u16,
    /// The JSON response envelope (or a short plain-text reason for a 404).
    pub body: Vec<u8>,
    /// When to send it: `now` normally, later when the machine simulates a slow server.
    pub respond_at: Instant,
}

impl ServerResponse {
    /// A response sent at once.
    pub fn now(now: Instant, status: u16, body: Vec<u8>) -> Self {
        ServerResponse {
            status,
            body,
            respond_at: now,
        }
    }
}

/// A protocol machine that serves and sends HTTP, driven by a transport.
///
/// Call order per step (as in quinn-proto): deliver inputs (`handle_request`,
/// `handle_response`, `handle_timeout` when `poll_timeout` is due), then drain
/// `poll_request` until it returns `None`, then re-read `poll_timeout`. Time passed in must
/// never run backwards.
pub trait HttpMachine {
    /// Serves one inbound request.
    fn handle_request(
        &mut self,
        now: Instant,
        request: InboundRequest<'_>,
        metrics: &mut Metrics,
    ) -> ServerResponse;

    /// The next request to send, if any.
    fn poll_request(&mut self) -> Option<OutboundRequest>;

    /// Delivers the outcome of request `id`.
    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        exchange: Exchange,
        metrics: &mut Metrics,
    );

    /// When [`HttpMachine::handle_timeout`] should next be called.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Fires every timer due at or before `now`.
    fn handle_timeout(&mut self, now: Instant, metrics: &mut Metrics);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_carry_their_peer() {
        let id = RequestId::new(PeerId(3), 77);
        assert_eq!(id.peer(), PeerId(3));
        assert_ne!(id, RequestId::new(PeerId(2), 77));
        assert_eq!(RequestId::new(PeerId(0), 5).0, 5);
    }

    #[test]
    fn debug_never_prints_the_token() {
        let r = OutboundRequest {
            id: RequestId(1),
            peer: PeerId(0),
            interface: Interface::QueryToken,
            path: "/x".into(),
            authorization: Some("Bearer secret-token".into()),
            body: vec![],
            intended_send: Instant::ZERO,
            timeout: Duration::from_secs(1),
        };
        let text = format!("{r:?}");
        assert!(!text.contains("secret-token"), "{text}");
        assert!(text.contains("REDACTED"));
    }
}
