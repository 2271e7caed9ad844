//! An in-memory HTTP network on virtual time, for `--speed max` and tests.
//!
//! Nodes are [`HttpMachine`]s indexed by their position in the slice passed to each call.
//! [`SimNet::connect`] routes one node's peer to another node over a link with a seeded
//! latency model; a request takes one link delay to arrive, the server's `respond_at` is
//! honoured, and the response takes another link delay back. A response that would arrive
//! after the request's timeout is replaced by [`TransportError::Timeout`] at the deadline
//! (the server still processed the request, as over a real network). A lost request also
//! times out.
//!
//! Events are ordered by `(time, sequence)`, nodes are visited in index order and every link
//! draws from its own stream, so a run is reproducible from its seeds.

use std::collections::BTreeMap;

use rand::RngExt as _;

use crate::metrics::Metrics;
use crate::rng::EntityRng;
use crate::tcec::exchange::{
    Exchange, HttpMachine, HttpResponse, InboundRequest, OutboundRequest, RequestId, TransportError,
};
use crate::time::{Duration, Instant};

/// A link's latency and loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkModel {
    /// One-way delay.
    pub base: Duration,
    /// A further uniform one-way delay in `0..=jitter`.
    pub jitter: Duration,
    /// Probability that a request is lost (it then times out).
    pub loss: f64,
}

impl LinkModel {
    /// A fixed one-way delay, no loss.
    pub const fn fixed(delay: Duration) -> Self {
        LinkModel {
            base: delay,
            jitter: Duration::ZERO,
            loss: 0.0,
        }
    }
}

#[derive(Debug)]
struct Link {
    model: LinkModel,
    rng: EntityRng,
}

impl Link {
    fn delay(&mut self) -> Duration {
        let j = self.model.jitter.as_micros();
        let extra = if j > 0 {
            self.rng.random_range(0..=j)
        } else {
            0
        };
        self.model.base + Duration::from_micros(extra)
    }

    fn lost(&mut self) -> bool {
        let p = self.model.loss;
        p > 0.0 && !p.is_nan() && self.rng.random_bool(p.min(1.0))
    }
}

#[derive(Debug)]
enum Event {
    Request {
        to: usize,
        from: usize,
        link: usize,
        request: OutboundRequest,
        sent: Instant,
        deadline: Instant,
    },
    Response {
        to: usize,
        id: RequestId,
        sent: Instant,
        result: Result<HttpResponse, TransportError>,
    },
}

/// Counters of the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Requests delivered to a server.
    pub requests: u64,
    /// Responses delivered to a client.
    pub responses: u64,
    /// Requests that timed out (lost or answered too late).
    pub timeouts: u64,
    /// Requests to an unrouted peer.
    pub unrouted: u64,
}

/// The network.
#[derive(Debug, Default)]
pub struct SimNet {
    routes: BTreeMap<(usize, u16), (usize, usize)>,
    links: Vec<Link>,
    queue: BTreeMap<(Instant, u64), Event>,
    sequence: u64,
    now: Instant,
    stats: NetStats,
}

impl SimNet {
    /// An empty network at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes peer `peer` of node `from` to node `to` over a link modelled by `model`,
    /// drawing its randomness from `rng`.
    pub fn connect(
        &mut self,
        from: usize,
        peer: crate::tcec::PeerId,
        to: usize,
        model: LinkModel,
        rng: EntityRng,
    ) {
        self.links.push(Link { model, rng });
        self.routes
            .insert((from, peer.0), (to, self.links.len() - 1));
    }

    /// The network's current time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Counters.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Requests and responses in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    fn schedule(&mut self, at: Instant, event: Event) {
        self.sequence += 1;
        self.queue.insert((at, self.sequence), event);
    }

    /// Moves the clock forward to `now` (never back). A driver whose nodes receive input
    /// between runs calls it first, so requests queued since the last run leave at `now`
    /// rather than at the time the previous run ended.
    pub fn advance_to(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Takes every node's pending requests and puts them on the wire at the current time.
    pub fn collect(&mut self, nodes: &mut [&mut dyn HttpMachine]) {
        let now = self.now;
        for (from, node) in nodes.iter_mut().enumerate() {
            while let Some(request) = node.poll_request() {
                let deadline = now + request.timeout;
                let Some(&(to, link)) = self.routes.get(&(from, request.peer.0)) else {
                    self.stats.unrouted += 1;
                    let result = Err(TransportError::NoRoute(request.peer.0));
                    self.schedule(
                        now,
                        Event::Response {
                            to: from,
                            id: request.id,
                            sent: now,
                            result,
                        },
                    );
                    continue;
                };
                let Some(l) = self.links.get_mut(link) else {
                    continue;
                };
                if l.lost() {
                    self.stats.timeouts += 1;
                    let result = Err(TransportError::Timeout);
                    self.schedule(
                        deadline,
                        Event::Response {
                            to: from,
                            id: request.id,
                            sent: now,
                            result,
                        },
                    );
                    continue;
                }
                let arrive = now + l.delay();
                let event = Event::Request {
                    to,
                    from,
                    link,
                    request,
                    sent: now,
                    deadline,
                };
                self.schedule(arrive, event);
            }
        }
    }

    fn deliver(
        &mut self,
        at: Instant,
        event: Event,
        nodes: &mut [&mut dyn HttpMachine],
        metrics: &mut Metrics,
    ) {
        match event {
            Event::Request {
                to,
                from,
                link,
                request,
                sent,
                deadline,
            } => {
                let Some(node) = nodes.get_mut(to) else {
                    return;
                };
                self.stats.requests += 1;
                let inbound = InboundRequest {
                    path: &request.path,
                    authorization: request.authorization.as_deref(),
                    body: &request.body,
                };
                let response = node.handle_request(at, inbound, metrics);
                let back = self.links.get_mut(link).map_or(Duration::ZERO, Link::delay);
                let arrive = response.respond_at.max(at) + back;
                let id = request.id;
                if arrive > deadline {
                    self.stats.timeouts += 1;
                    let result = Err(TransportError::Timeout);
                    self.schedule(
                        deadline.max(at),
                        Event::Response {
                            to: from,
                            id,
                            sent,
                            result,
                        },
                    );
                } else {
                    let result = Ok(HttpResponse {
                        status: response.status,
                        body: response.body,
                    });
                    self.schedule(
                        arrive,
                        Event::Response {
                            to: from,
                            id,
                            sent,
                            result,
                        },
                    );
                }
            }
            Event::Response {
                to,
                id,
                sent,
                result,
            } => {
                if let Some(node) = nodes.get_mut(to) {
                    self.stats.responses += 1;
                    node.handle_response(at, id, Exchange { sent, result }, metrics);
                }
            }
        }
    }

    /// The next instant anything is due: a delivery or a node's timer.
    pub fn next_due(&self, nodes: &[&mut dyn HttpMachine]) -> Option<Instant> {
        let net = self.queue.keys().next().map(|(t, _)| *t);
        nodes
            .iter()
            .filter_map(|n| n.poll_timeout())
            .chain(net)
            .min()
    }

    /// Runs every node and the network up to `until` (inclusive), then sets the clock to
    /// `until`. Returns the number of events processed. `max_events` bounds the work so a
    /// misbehaving machine cannot spin forever.
    pub fn run_until(
        &mut self,
        until: Instant,
        nodes: &mut [&mut dyn HttpMachine],
        metrics: &mut Metrics,
        max_events: u64,
    ) -> u64 {
        let mut events = 0;
        self.collect(nodes);
        while events < max_events {
            let Some(next) = self.next_due(nodes).filter(|t| *t <= until) else {
                break;
            };
            self.now = self.now.max(next);
            let now = self.now;
            for node in nodes.iter_mut() {
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now, metrics);
                    events += 1;
                }
            }
            while let Some(entry) = self.queue.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let event = entry.remove();
                self.deliver(now, event, nodes, metrics);
                events += 1;
            }
            self.collect(nodes);
        }
        self.now = self.now.max(until);
        events
    }
}
