//! The inbound pipeline every machine shares, and the metric names of a machine.
//!
//! Order of checks, each answered with the `Ret` of DB4403 表81 / T/CEC 102.4:
//! 1. the path names an interface this machine serves, else HTTP 404;
//! 2. the body is an envelope with all five fields, else `4003`;
//! 3. the envelope's OperatorID is a configured peer, else `4003` (unsigned: we hold no key
//!    to sign with);
//! 4. the bearer token was issued to that peer and is unexpired, else `4002` (not for
//!    `query_token` itself);
//! 5. the Sig verifies with the peer's inbound SigSecret, else `4001`;
//! 6. Data decrypts, else `4003` (tcec-http.md: Data is an envelope parameter);
//! 7. the business JSON decodes into the interface's type and passes validation, else `4004`.
//!
//! Responses are signed and encrypted with the peer's inbound keys. Nothing is stored before
//! step 7 succeeds.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::metrics::Metrics;
use crate::tcec::exchange::{InboundRequest, ServerResponse};
use crate::tcec::peer::{PeerConfig, TokenIssuer};
use crate::time::Instant;
use proto::tcec::envelope::{RequestEnvelope, ResponseEnvelope, bearer_token, decode_data};
use proto::tcec::interfaces::parse_path;
use proto::tcec::objects::{QueryTokenRequest, QueryTokenResponse, SuccStat, TokenFailReason};
use proto::tcec::{
    Dialect, Interface, Ret, TcecKeys, Validate, seal_error_response, seal_response,
};

/// The `Msg` of a successful response (表81 asks for a success message).
pub const SUCCESS_MSG: &str = "请求成功";

/// A request that passed steps 1–6: who sent it, what it calls, and the decrypted Data.
#[derive(Debug)]
pub struct Opened {
    /// Index of the sending peer in the machine's peer list.
    pub peer: usize,
    /// The interface called.
    pub interface: Interface,
    /// The dialect named by the path prefix, when there is one.
    pub dialect: Option<Dialect>,
    /// The decrypted business JSON.
    pub plaintext: Vec<u8>,
}

/// A handler's refusal: the `Ret` and the `Msg` to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code.
    pub ret: Ret,
    /// What was wrong (never secrets).
    pub msg: String,
}

impl Refusal {
    /// A refusal with `ret` and `msg`.
    pub fn new(ret: Ret, msg: impl Into<String>) -> Self {
        Refusal {
            ret,
            msg: msg.into(),
        }
    }
}

/// Metric names of one machine: `{prefix}.{interface}` for latency and sent messages,
/// `{prefix}.in.{interface}` for served requests, `…ret_{code}` / `….{transport kind}` for
/// errors. Names are built once; lookups scan the registry, so any `Metrics` works.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
    out: Vec<String>,
    inbound: Vec<String>,
}

impl Names {
    /// Names under `prefix` (e.g. `http`, `platform`, `emsp`).
    pub fn new(prefix: &str) -> Self {
        Names {
            prefix: prefix.to_owned(),
            out: Interface::ALL
                .iter()
                .map(|i| format!("{prefix}.{}", i.name()))
                .collect(),
            inbound: Interface::ALL
                .iter()
                .map(|i| format!("{prefix}.in.{}", i.name()))
                .collect(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The latency/message name of outbound calls to `interface`.
    pub fn outbound(&self, interface: Interface) -> &str {
        self.out
            .get(interface as usize)
            .map_or("http.unknown", String::as_str)
    }

    fn inbound(&self, interface: Interface) -> &str {
        self.inbound
            .get(interface as usize)
            .map_or("http.in.unknown", String::as_str)
    }

    /// Records one completed outbound exchange.
    pub fn record_latency(
        &self,
        metrics: &mut Metrics,
        interface: Interface,
        intended: Instant,
        sent: Instant,
        done: Instant,
    ) {
        let id = metrics.latency_id(self.outbound(interface));
        metrics.record_latency(id, intended, sent, done);
    }

    /// Counts one outbound attempt.
    pub fn count_sent(&self, metrics: &mut Metrics, interface: Interface) {
        let id = metrics.message_id("http", self.outbound(interface));
        metrics.count_message(id);
    }

    /// Counts one outbound error of `kind` (`ret_4002`, `timeout`, `http_500`…).
    pub fn count_error(
        &self,
        metrics: &mut Metrics,
        interface: Interface,
        kind: &str,
        now: Instant,
        text: &str,
    ) {
        let id = metrics.error_id(&format!("{}.{kind}", self.outbound(interface)));
        metrics.count_error(id, now, text);
    }

    /// Counts one served request and, when it was refused, its `Ret`.
    pub fn count_served(
        &self,
        metrics: &mut Metrics,
        interface: Option<Interface>,
        ret: Ret,
        now: Instant,
        text: &str,
    ) {
        let name = interface.map_or_else(
            || format!("{}.in.unknown_path", self.prefix),
            |i| self.inbound(i).to_owned(),
        );
        let id = metrics.message_id("http", &name);
        metrics.count_message(id);
        if !ret.is_success() {
            let id = metrics.error_id(&format!("{name}.ret_{}", ret.code()));
            metrics.count_error(id, now, text);
        }
    }
}

/// Steps 1–6 of the pipeline. `serves` says which interfaces this machine implements.
/// The error is the complete response to send.
pub fn open_inbound(
    now: Instant,
    request: InboundRequest<'_>,
    peers: &[PeerConfig],
    issuer: &TokenIssuer,
    serves: impl Fn(Interface) -> bool,
) -> Result<Opened, (Option<Interface>, ServerResponse)> {
    let parsed = match parse_path(request.path) {
        Ok(p) if serves(p.interface) => p,
        Ok(p) => {
            let body = format!("interface {} is not served here", p.interface);
            return Err((None, ServerResponse::now(now, 404, body.into_bytes())));
        }
        Err(e) => {
            return Err((
                None,
                ServerResponse::now(now, 404, e.to_string().into_bytes()),
            ));
        }
    };
    let interface = parsed.interface;
    let fail = |keys: Option<&TcecKeys>, ret: Ret, msg: &str| {
        (Some(interface), error_response(now, keys, ret, msg))
    };
    let envelope = match RequestEnvelope::parse(request.body) {
        Ok(e) => e,
        Err(e) => {
            let keys = sender_of(request.body).and_then(|id| find_peer(peers, &id));
            let keys = keys.and_then(|i| peers.get(i)).map(|p| &p.inbound);
            return Err(fail(keys, e.ret(), &e.to_string()));
        }
    };
    let Some(peer) = find_peer(peers, &envelope.operator_id) else {
        let msg = format!("unknown OperatorID {:?}", truncated(&envelope.operator_id));
        return Err(fail(None, Ret::PostParamInvalid, &msg));
    };
    let keys = peers.get(peer).map(|p| &p.inbound);
    if interface != Interface::QueryToken {
        let token = request.authorization.and_then(bearer_token);
        match token {
            Some(t) if issuer.check(now, peer, t) => {}
            Some(_) => return Err(fail(keys, Ret::TokenError, "token invalid or expired")),
            None => {
                return Err(fail(
                    keys,
                    Ret::TokenError,
                    "Authorization: Bearer token missing",
                ));
            }
        }
    }
    let Some(keys) = keys else {
        return Err(fail(None, Ret::SystemError, "peer table changed"));
    };
    match envelope.open_bytes(keys) {
        Ok(plaintext) => Ok(Opened {
            peer,
            interface,
            dialect: parsed.dialect,
            plaintext,
        }),
        Err(e) => Err(fail(Some(keys), e.ret(), &e.to_string())),
    }
}

fn truncated(s: &str) -> String {
    s.chars().take(32).collect()
}

fn find_peer(peers: &[PeerConfig], operator_id: &str) -> Option<usize> {
    peers
        .iter()
        .position(|p| p.inbound.operator_id == operator_id)
}

/// The OperatorID of a body that failed envelope parsing, to sign the error with its keys.
fn sender_of(body: &[u8]) -> Option<String> {
    match proto::tcec::lenient::parse_json(body).ok()? {
        Value::Object(obj) => obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("OperatorID"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned)),
        _ => None,
    }
}

/// Step 7: decodes Data into `T` and validates it under `dialect`.
pub fn decode<T: DeserializeOwned + Validate>(
    plaintext: &[u8],
    dialect: Dialect,
) -> Result<T, Refusal> {
    let value: T = decode_data(plaintext)
        .map_err(|e| Refusal::new(Ret::BusinessParamInvalid, e.to_string()))?;
    value
        .validate_for(dialect)
        .map_err(|e| Refusal::new(e.ret(), e.to_string()))?;
    Ok(value)
}

/// A signed error response; unsigned (`Sig: ""`) when no key is known.
pub fn error_response(
    now: Instant,
    keys: Option<&TcecKeys>,
    ret: Ret,
    msg: &str,
) -> ServerResponse {
    let envelope = match keys {
        Some(k) => seal_error_response(k, ret, msg),
        None => ResponseEnvelope {
            ret,
            msg: msg.to_owned(),
            data: String::new(),
            sig: String::new(),
            msg_was_null: false,
        },
    };
    ServerResponse::now(now, 200, envelope.to_json().into_bytes())
}

/// A signed success response carrying `data`, or a refusal.
pub fn respond<T: Serialize>(
    now: Instant,
    keys: &TcecKeys,
    result: Result<T, Refusal>,
) -> (Ret, ServerResponse) {
    match result.and_then(|data| {
        seal_response(keys, Ret::Success, SUCCESS_MSG, &data)
            .map_err(|e| Refusal::new(Ret::SystemError, e.to_string()))
    }) {
        Ok(envelope) => (
            Ret::Success,
            ServerResponse::now(now, 200, envelope.to_json().into_bytes()),
        ),
        Err(r) => (r.ret, error_response(now, Some(keys), r.ret, &r.msg)),
    }
}

/// Serves `query_token`: checks the OperatorSecret against the peer's inbound secret and
/// issues a token. A wrong secret is `SuccStat 1, FailReason 2` (表C.2), an OperatorID in
/// Data that is not the sender's `FailReason 1`.
pub fn serve_query_token(
    now: Instant,
    opened: &Opened,
    peer: &PeerConfig,
    issuer: &mut TokenIssuer,
) -> Result<QueryTokenResponse, Refusal> {
    let dialect = opened.dialect.unwrap_or(peer.dialect);
    let request: QueryTokenRequest = decode(&opened.plaintext, dialect)?;
    let refuse = |reason| QueryTokenResponse {
        operator_id: request.operator_id.clone(),
        succ_stat: SuccStat::Failure,
        access_token: Default::default(),
        token_available_time_s: 0,
        fail_reason: reason,
    };
    if request.operator_id != peer.inbound.operator_id {
        return Ok(refuse(TokenFailReason::NoSuchOperator));
    }
    if !request.operator_secret.ct_eq(&peer.inbound.operator_secret) {
        return Ok(refuse(TokenFailReason::WrongSecret));
    }
    let (token, secs) = issuer.issue(now, opened.peer, peer.token_lifetime);
    Ok(QueryTokenResponse {
        operator_id: request.operator_id.clone(),
        succ_stat: SuccStat::Success,
        access_token: token,
        token_available_time_s: secs,
        fail_reason: TokenFailReason::NoFailure,
    })
}
