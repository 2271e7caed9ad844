//! Outbound requests to one peer: ordered lanes, token handling, sealing and retries.
//!
//! Requests are queued on *lanes*. A lane sends one request at a time, in order, so two
//! status pushes of one connector can never overtake each other however the network
//! reorders them; different lanes run concurrently up to [`SendPolicy::max_in_flight`].
//! One-off requests (the platform's polls) each get a lane of their own.
//!
//! Per answer:
//! - `Ret 0`: delivered; the decrypted response Data goes back to the machine.
//! - `Ret 4002`: the token is dropped, a new one fetched, and the request retried (once per
//!   token: a fresh token refused again gives the request up).
//! - `Ret -1` (busy), `Ret 500`, HTTP errors, transport failures and responses that fail
//!   their Sig: retried after 1 s, 2 s, 4 s… (capped), at most
//!   [`SendPolicy::max_attempts`] attempts.
//! - `4001`, `4003`, `4004` and unknown codes: the request is wrong; it fails at once.
//!
//! Bounds: every lane holds at most [`SendPolicy::max_queue_per_lane`] requests (the oldest
//! is dropped, and reported, when a new one arrives); in-flight requests are capped.
//! Seq (four digits per TimeStamp second) caps one peer at 9,999 requests per second: past
//! that the outbox waits for the next second rather than repeat a (TimeStamp, Seq) pair.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::metrics::Metrics;
use crate::tcec::exchange::{Exchange, OutboundRequest, PeerId, RequestId};
use crate::tcec::peer::{PeerConfig, TokenClient};
use crate::tcec::serve::Names;
use crate::time::{Duration, Instant};
use proto::tcec::envelope::{ResponseEnvelope, decode_data, seal_request_prepared};
use proto::tcec::objects::{QueryTokenRequest, QueryTokenResponse, SuccStat};
use proto::tcec::{CivilTime, Interface, PreparedKeys, ResponseOpenOptions, Ret, SeqGenerator};

/// How requests to one peer are sent and retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendPolicy {
    /// Attempts per request, the first included (default 5).
    pub max_attempts: u8,
    /// Wait before the first retry; doubles per retry (default 1 s).
    pub initial_backoff: Duration,
    /// Longest wait between retries (default 60 s, the "about one minute" of T/CEC 102.4
    /// §4.6 as paraphrased in tcec-http.md §4).
    pub max_backoff: Duration,
    /// Transport timeout per request (default 10 s).
    pub timeout: Duration,
    /// Requests in flight at once (default 256).
    pub max_in_flight: usize,
    /// Requests queued per lane before the oldest is dropped (default 256).
    pub max_queue_per_lane: usize,
}

impl Default for SendPolicy {
    fn default() -> Self {
        SendPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            max_in_flight: 256,
            max_queue_per_lane: 256,
        }
    }
}

/// What orders requests: requests on one lane are sent one at a time, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LaneKey {
    /// Everything about one connector (status, BMS, alarms, roaming notifications).
    Connector(u32),
    /// Everything about one station (station info, events).
    Station(u32),
    /// A one-off request with no ordering constraint.
    Free(u64),
}

/// A request waiting to be sent.
#[derive(Debug, Clone)]
pub struct Push<T> {
    /// The interface to call.
    pub interface: Interface,
    /// The business JSON.
    pub plaintext: Vec<u8>,
    /// The machine's note of what this is for, handed back with the outcome.
    pub tag: T,
    /// When the schedule wanted it sent.
    pub intended: Instant,
    attempts: u8,
    /// The token generation whose rejection made us re-authenticate.
    reauthed_on: Option<u64>,
}

impl<T> Push<T> {
    /// A request for `interface` carrying `plaintext`, intended to leave at `intended`.
    pub fn new(interface: Interface, plaintext: Vec<u8>, tag: T, intended: Instant) -> Self {
        Push {
            interface,
            plaintext,
            tag,
            intended,
            attempts: 0,
            reauthed_on: None,
        }
    }
}

/// Why a request was given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// The peer answered with a code that retrying cannot fix (or retries ran out).
    Ret(Ret, String),
    /// The last attempt got no response.
    Transport {
        /// The error kind ([`crate::tcec::TransportError::kind`]).
        kind: &'static str,
        /// What happened.
        text: String,
    },
    /// The last attempt got a non-200 HTTP status.
    HttpStatus(u16),
    /// The last response could not be parsed, verified or decrypted.
    BadResponse(String),
    /// The lane was full and this (oldest) request was dropped.
    QueueFull,
}

/// What became of a queued request.
#[derive(Debug, Clone)]
pub enum Outcome<T> {
    /// The peer answered `Ret 0`; `data` is the decrypted response Data (`None` when empty).
    Delivered {
        /// The interface called.
        interface: Interface,
        /// The machine's tag.
        tag: T,
        /// Decrypted response Data.
        data: Option<Vec<u8>>,
    },
    /// The request was given up.
    Failed {
        /// The interface called.
        interface: Interface,
        /// The machine's tag.
        tag: T,
        /// Why.
        reason: SendFailure,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LaneState {
    Idle,
    Ready,
    InFlight,
    Backoff,
}

#[derive(Debug)]
struct Lane<T> {
    queue: VecDeque<Push<T>>,
    state: LaneState,
}

#[derive(Debug, Clone, Copy)]
enum Flight {
    Token {
        intended: Instant,
    },
    Push {
        lane: LaneKey,
        token_generation: u64,
    },
}

/// The outbound side of one peer relationship.
#[derive(Debug)]
pub struct Outbox<T> {
    peer_id: PeerId,
    config: PeerConfig,
    /// The outbound keys' cipher and MAC states (derived once, not per request).
    prepared: PreparedKeys,
    /// The URL path of every interface (by `Interface as usize`) in the peer's dialect.
    paths: Vec<String>,
    policy: SendPolicy,
    token: TokenClient,
    token_generation: u64,
    seq: SeqGenerator,
    seq_blocked_until: Option<Instant>,
    lanes: BTreeMap<LaneKey, Lane<T>>,
    ready: VecDeque<LaneKey>,
    backoff: BTreeSet<(Instant, LaneKey)>,
    in_flight: BTreeMap<RequestId, Flight>,
    next_counter: u64,
    next_free_lane: u64,
}

/// The classified answer to one attempt.
enum Verdict {
    Delivered(Option<Vec<u8>>),
    Reauth,
    Retry(SendFailure),
    Fail(SendFailure),
}

impl<T> Outbox<T> {
    /// Moves every queued push's intended send time up to `now` at the latest: pushes
    /// queued before the outbox's clock started (a fleet built before its real-time run
    /// begins) were not late when the run started, and measuring them from their queueing
    /// time would charge the setup to the platform's latency.
    pub fn rebase(&mut self, now: Instant) {
        for lane in self.lanes.values_mut() {
            for push in &mut lane.queue {
                push.intended = push.intended.max(now);
            }
        }
    }

    /// Replaces the peer's keys (before anything was sent: queued requests are sealed with
    /// the new keys when they go out; a token obtained with the old ones is dropped).
    pub fn set_keys(&mut self, inbound: proto::tcec::TcecKeys, outbound: proto::tcec::TcecKeys) {
        self.config.inbound = inbound;
        self.prepared = PreparedKeys::new(&outbound);
        self.config.outbound = outbound;
        self.token = TokenClient::new();
        self.token_generation += 1;
    }

    /// An outbox for `config`, reached as `peer_id`.
    pub fn new(peer_id: PeerId, config: PeerConfig, policy: SendPolicy) -> Self {
        let paths = Interface::ALL
            .iter()
            .map(|i| i.path(config.dialect, &config.version))
            .collect();
        Outbox {
            peer_id,
            prepared: PreparedKeys::new(&config.outbound),
            paths,
            config,
            policy,
            token: TokenClient::new(),
            token_generation: 0,
            seq: SeqGenerator::new(),
            seq_blocked_until: None,
            lanes: BTreeMap::new(),
            ready: VecDeque::new(),
            backoff: BTreeSet::new(),
            in_flight: BTreeMap::new(),
            next_counter: 0,
            next_free_lane: 0,
        }
    }

    /// The peer's configuration.
    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    /// The peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Requests queued (not in flight) on every lane.
    pub fn queued(&self) -> usize {
        self.lanes.values().map(|l| l.queue.len()).sum::<usize>() - self.in_flight_pushes()
    }

    fn in_flight_pushes(&self) -> usize {
        self.in_flight
            .values()
            .filter(|f| matches!(f, Flight::Push { .. }))
            .count()
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether nothing is queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.lanes.values().all(|l| l.queue.is_empty())
    }

    /// Queues `push` on `lane`. Returns the request dropped to make room, if any.
    pub fn enqueue(&mut self, lane: LaneKey, push: Push<T>) -> Option<Push<T>> {
        let max = self.policy.max_queue_per_lane.max(1);
        let entry = self.lanes.entry(lane).or_insert_with(|| Lane {
            queue: VecDeque::new(),
            state: LaneState::Idle,
        });
        // The head of a busy lane is on the wire or waiting to retry: never drop it.
        let busy = matches!(entry.state, LaneState::InFlight | LaneState::Backoff);
        let dropped = if entry.queue.len() >= max {
            entry.queue.remove(usize::from(busy))
        } else {
            None
        };
        entry.queue.push_back(push);
        if entry.state == LaneState::Idle {
            entry.state = LaneState::Ready;
            self.ready.push_back(lane);
        }
        dropped
    }

    /// Queues `push` on a lane of its own.
    pub fn enqueue_free(&mut self, push: Push<T>) {
        let lane = LaneKey::Free(self.next_free_lane);
        self.next_free_lane += 1;
        // A fresh lane is empty, so nothing can be dropped.
        let _ = self.enqueue(lane, push);
    }

    /// When [`Outbox::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let backoff = self.backoff.first().map(|(t, _)| *t);
        [self.token.poll_timeout(), backoff, self.seq_blocked_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves lanes whose back-off ended back to the ready queue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.seq_blocked_until.is_some_and(|t| t <= now) {
            self.seq_blocked_until = None;
        }
        while let Some(&(at, lane)) = self.backoff.first() {
            if at > now {
                break;
            }
            self.backoff.pop_first();
            if let Some(l) = self.lanes.get_mut(&lane) {
                l.state = LaneState::Ready;
                self.ready.push_back(lane);
            }
        }
    }

    fn next_id(&mut self) -> RequestId {
        self.next_counter += 1;
        RequestId::new(self.peer_id, self.next_counter)
    }

    /// The next request to send at `now` (civil time `civil`), if any.
    pub fn poll(&mut self, now: Instant, civil: CivilTime) -> Option<OutboundRequest> {
        if self.seq_blocked_until.is_some_and(|t| now < t) {
            return None;
        }
        // A first token is fetched when there is something to send; a held one is renewed
        // before it expires whether or not traffic is waiting.
        let has_work = !self.ready.is_empty() || !self.backoff.is_empty();
        let held = self.token.token(now).is_some();
        if self.token.wants_fetch(now) && (held || has_work) {
            return self.token_request(now, civil);
        }
        self.token.token(now)?;
        if self.in_flight.len() >= self.policy.max_in_flight {
            return None;
        }
        while let Some(lane) = self.ready.pop_front() {
            let Some(l) = self.lanes.get_mut(&lane) else {
                continue;
            };
            if l.state != LaneState::Ready || l.queue.is_empty() {
                continue;
            }
            let Ok((ts, seq)) = self.seq.next(civil) else {
                // 9,999 requests this second already: resume in the next second.
                self.ready.push_front(lane);
                self.seq_blocked_until = Some(next_second(now));
                return None;
            };
            let head = l.queue.front_mut()?;
            head.attempts = head.attempts.saturating_add(1);
            let envelope = seal_request_prepared(
                &self.prepared,
                &self.config.outbound.operator_id,
                &head.plaintext,
                &ts.to_string(),
                &seq.to_string(),
            );
            let (interface, intended) = (head.interface, head.intended);
            l.state = LaneState::InFlight;
            let id = self.next_id();
            let token_generation = self.token_generation;
            self.in_flight.insert(
                id,
                Flight::Push {
                    lane,
                    token_generation,
                },
            );
            let authorization = self
                .token
                .token(now)
                .map(|t| format!("Bearer {}", t.expose()));
            return Some(self.request(
                id,
                interface,
                authorization,
                envelope.to_json_bytes(),
                intended,
            ));
        }
        None
    }

    fn request(
        &self,
        id: RequestId,
        interface: Interface,
        authorization: Option<String>,
        body: Vec<u8>,
        intended: Instant,
    ) -> OutboundRequest {
        OutboundRequest {
            id,
            peer: self.peer_id,
            interface,
            path: self
                .paths
                .get(interface as usize)
                .cloned()
                .unwrap_or_else(|| interface.path(self.config.dialect, &self.config.version)),
            authorization,
            body,
            intended_send: intended,
            timeout: self.policy.timeout,
        }
    }

    fn token_request(&mut self, now: Instant, civil: CivilTime) -> Option<OutboundRequest> {
        let keys = &self.config.outbound;
        let data = QueryTokenRequest {
            operator_id: keys.operator_id.clone(),
            operator_secret: keys.operator_secret.clone(),
        };
        let plaintext = serde_json::to_vec(&data).ok()?;
        let Ok((ts, seq)) = self.seq.next(civil) else {
            self.seq_blocked_until = Some(next_second(now));
            return None;
        };
        let envelope = seal_request_prepared(
            &self.prepared,
            &keys.operator_id,
            &plaintext,
            &ts.to_string(),
            &seq.to_string(),
        );
        self.token.fetch_started();
        let id = self.next_id();
        self.in_flight.insert(id, Flight::Token { intended: now });
        Some(self.request(
            id,
            Interface::QueryToken,
            None,
            envelope.to_json_bytes(),
            now,
        ))
    }

    /// Delivers the outcome of request `id`; returns the request's final outcome once it
    /// has one (retries and token fetches return `None`).
    pub fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        exchange: Exchange,
        names: &Names,
        metrics: &mut Metrics,
    ) -> Option<Outcome<T>> {
        match self.in_flight.remove(&id)? {
            Flight::Token { intended } => {
                self.token_response(now, intended, exchange, names, metrics);
                None
            }
            Flight::Push {
                lane,
                token_generation,
            } => self.push_response(now, lane, token_generation, exchange, names, metrics),
        }
    }

    fn token_response(
        &mut self,
        now: Instant,
        intended: Instant,
        exchange: Exchange,
        names: &Names,
        metrics: &mut Metrics,
    ) {
        let iface = Interface::QueryToken;
        names.count_sent(metrics, iface);
        let sent = exchange.sent;
        let bad = |text: String| ("bad_response".to_owned(), text);
        let response = match self.classify(exchange) {
            Verdict::Delivered(data) => {
                data.ok_or_else(|| bad("empty Data".to_owned()))
                    .and_then(|d| {
                        decode_data::<QueryTokenResponse>(&d).map_err(|e| bad(e.to_string()))
                    })
            }
            Verdict::Reauth => Err((
                "ret_4002".to_owned(),
                "4002 answering query_token".to_owned(),
            )),
            Verdict::Retry(f) | Verdict::Fail(f) => Err((failure_kind(&f), failure_text(&f))),
        };
        names.record_latency(metrics, iface, intended, sent, now);
        match response {
            Ok(r) if r.succ_stat == SuccStat::Success && !r.access_token.is_empty() => {
                self.token
                    .fetched(now, r.access_token, r.token_available_time_s);
                self.token_generation += 1;
            }
            Ok(r) => {
                let text = format!("token refused: FailReason {}", r.fail_reason);
                let kind = format!("fail_reason_{}", r.fail_reason.code());
                names.count_error(metrics, iface, &kind, now, &text);
                self.token.fetch_failed(now);
            }
            Err((kind, text)) => {
                names.count_error(metrics, iface, &kind, now, &text);
                self.token.fetch_failed(now);
            }
        }
    }

    /// Classifies one attempt's exchange.
    fn classify(&self, exchange: Exchange) -> Verdict {
        let response = match exchange.result {
            Err(e) => {
                return Verdict::Retry(SendFailure::Transport {
                    kind: e.kind(),
                    text: e.to_string(),
                });
            }
            Ok(r) => r,
        };
        if response.status != 200 {
            return Verdict::Retry(SendFailure::HttpStatus(response.status));
        }
        let envelope = match ResponseEnvelope::parse(&response.body) {
            Ok(e) => e,
            Err(e) => return Verdict::Retry(SendFailure::BadResponse(e.to_string())),
        };
        let keys = &self.prepared;
        let options = ResponseOpenOptions::default();
        if let Err(e) = envelope.verify_prepared(keys, options) {
            return Verdict::Retry(SendFailure::BadResponse(e.to_string()));
        }
        match envelope.ret {
            // The Sig was verified above: decrypt without checking it a second time.
            Ret::Success if envelope.data.trim().is_empty() => Verdict::Delivered(None),
            Ret::Success => match keys.decrypt_data(&envelope.data) {
                Ok(data) => Verdict::Delivered(Some(data)),
                Err(e) => Verdict::Retry(SendFailure::BadResponse(
                    proto::tcec::TcecError::Decrypt(e).to_string(),
                )),
            },
            Ret::TokenError => Verdict::Reauth,
            Ret::Busy | Ret::SystemError => {
                Verdict::Retry(SendFailure::Ret(envelope.ret, envelope.msg))
            }
            ret => Verdict::Fail(SendFailure::Ret(ret, envelope.msg)),
        }
    }

    fn push_response(
        &mut self,
        now: Instant,
        lane: LaneKey,
        token_generation: u64,
        exchange: Exchange,
        names: &Names,
        metrics: &mut Metrics,
    ) -> Option<Outcome<T>> {
        let sent = exchange.sent;
        let verdict = self.classify(exchange);
        let head = self.lanes.get_mut(&lane)?.queue.front_mut()?;
        let (iface, intended, attempts) = (head.interface, head.intended, head.attempts);
        names.count_sent(metrics, iface);
        let verdict = match verdict {
            // Re-authenticate once per token: a second 4002 for the same token, or running
            // out of attempts, gives the request up.
            Verdict::Reauth
                if head.reauthed_on != Some(token_generation)
                    && attempts < self.policy.max_attempts =>
            {
                head.reauthed_on = Some(token_generation);
                names.count_error(
                    metrics,
                    iface,
                    "ret_4002",
                    now,
                    "token rejected, re-authenticating",
                );
                if token_generation == self.token_generation {
                    self.token.invalidate();
                }
                return self.requeue(lane, None);
            }
            Verdict::Reauth => Verdict::Fail(SendFailure::Ret(
                Ret::TokenError,
                "token rejected after re-authenticating".into(),
            )),
            Verdict::Retry(f) if attempts < self.policy.max_attempts => {
                names.count_error(
                    metrics,
                    iface,
                    failure_kind(&f).as_str(),
                    now,
                    &failure_text(&f),
                );
                let wait = self.backoff_after(attempts);
                return self.requeue(lane, Some(now + wait));
            }
            Verdict::Retry(f) => Verdict::Fail(f),
            v => v,
        };
        let push = self.finish_head(lane)?;
        match verdict {
            Verdict::Delivered(data) => {
                names.record_latency(metrics, iface, intended, sent, now);
                Some(Outcome::Delivered {
                    interface: iface,
                    tag: push.tag,
                    data,
                })
            }
            Verdict::Fail(reason) | Verdict::Retry(reason) => {
                if matches!(reason, SendFailure::Ret(..)) {
                    names.record_latency(metrics, iface, intended, sent, now);
                }
                names.count_error(
                    metrics,
                    iface,
                    failure_kind(&reason).as_str(),
                    now,
                    &failure_text(&reason),
                );
                Some(Outcome::Failed {
                    interface: iface,
                    tag: push.tag,
                    reason,
                })
            }
            Verdict::Reauth => None,
        }
    }

    fn backoff_after(&self, attempts: u8) -> Duration {
        let factor = 1u64 << u32::from(attempts.saturating_sub(1)).min(16);
        self.policy
            .initial_backoff
            .saturating_mul(factor)
            .min(self.policy.max_backoff)
    }

    /// Puts a lane's head back: ready at once (`None`) or after a back-off.
    fn requeue(&mut self, lane: LaneKey, at: Option<Instant>) -> Option<Outcome<T>> {
        let l = self.lanes.get_mut(&lane)?;
        match at {
            None => {
                l.state = LaneState::Ready;
                self.ready.push_front(lane);
            }
            Some(at) => {
                l.state = LaneState::Backoff;
                self.backoff.insert((at, lane));
            }
        }
        None
    }

    /// Removes a lane's head after its final outcome and readies the next request.
    fn finish_head(&mut self, lane: LaneKey) -> Option<Push<T>> {
        let l = self.lanes.get_mut(&lane)?;
        let push = l.queue.pop_front();
        if l.queue.is_empty() {
            l.state = LaneState::Idle;
            if matches!(lane, LaneKey::Free(_)) {
                self.lanes.remove(&lane);
            }
        } else {
            l.state = LaneState::Ready;
            self.ready.push_back(lane);
        }
        push
    }
}

/// The first instant of the next whole second after `now` (civil seconds start on whole
/// seconds of virtual time, because the civil epoch is a whole number of seconds).
fn next_second(now: Instant) -> Instant {
    Instant::from_micros((now.as_micros() / 1_000_000 + 1) * 1_000_000)
}

fn failure_kind(f: &SendFailure) -> String {
    match f {
        SendFailure::Ret(ret, _) => format!("ret_{}", ret.code()),
        SendFailure::Transport { kind, .. } => (*kind).to_owned(),
        SendFailure::HttpStatus(s) => format!("http_{s}"),
        SendFailure::BadResponse(_) => "bad_response".to_owned(),
        SendFailure::QueueFull => "dropped_queue_full".to_owned(),
    }
}

fn failure_text(f: &SendFailure) -> String {
    match f {
        SendFailure::Ret(ret, msg) => format!("Ret {ret}: {msg}"),
        SendFailure::Transport { text, .. } | SendFailure::BadResponse(text) => text.clone(),
        SendFailure::HttpStatus(s) => format!("HTTP status {s}"),
        SendFailure::QueueFull => "lane full, oldest request dropped".to_owned(),
    }
}

/// The error-counter kind and text of a failure (for machines that count drops themselves).
pub fn describe_failure(f: &SendFailure) -> (String, String) {
    (failure_kind(f), failure_text(f))
}
