//! Peers, their keys, and tokens in both directions.
//!
//! A [`PeerConfig`] is one relationship between two platforms: the keys the peer uses for the
//! requests it sends us (`inbound`) and the keys we use for the requests we send it
//! (`outbound`). tcec-http.md §4 leaves open whether the standard wants one key set or one per
//! direction, so both are configured; [`PeerConfig::pair`] builds the two mirror-image configs
//! of a relationship for tests and the in-process demo.
//!
//! Tokens (DB4403/T 77-2020 §10.2.3, Appendix C; T/CEC 102.4 Appendix A): the serving side
//! issues them from `query_token` ([`TokenIssuer`]) with a lifetime of at most 7 days; the
//! calling side obtains one before its first request and renews it before it expires
//! ([`TokenClient`]).

use std::collections::BTreeMap;

use rand::{Rng, RngExt as _};

use crate::rng::EntityRng;
use crate::time::{Duration, Instant};
use proto::tcec::objects::MAX_TOKEN_LIFETIME_S;
use proto::tcec::{Dialect, Secret, TcecKeys};

/// One relationship with another platform.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// A label for logs and errors (never a secret).
    pub name: String,
    /// Which standard's paths and rules apply to the requests we send it.
    pub dialect: Dialect,
    /// The version path segment of the requests we send it (`v1.0`).
    pub version: String,
    /// Keys of the requests the peer sends us; `inbound.operator_id` is the peer's OperatorID
    /// and `inbound.operator_secret` what it must present to our `query_token`.
    pub inbound: TcecKeys,
    /// Keys of the requests we send the peer; `outbound.operator_id` is our OperatorID as the
    /// peer knows us and `outbound.operator_secret` what we present to its `query_token`.
    pub outbound: TcecKeys,
    /// Lifetime of the tokens we issue to this peer (capped at 7 days).
    pub token_lifetime: Duration,
}

impl PeerConfig {
    /// The two configs of one relationship: `(a's view of b, b's view of a)`. `a_keys` sign
    /// what `a` sends, `b_keys` what `b` sends; their `operator_id`s are a's and b's IDs.
    pub fn pair(
        dialect: Dialect,
        a_name: &str,
        a_keys: TcecKeys,
        b_name: &str,
        b_keys: TcecKeys,
        token_lifetime: Duration,
    ) -> (PeerConfig, PeerConfig) {
        let version = dialect.default_version().to_owned();
        let a_view = PeerConfig {
            name: b_name.to_owned(),
            dialect,
            version: version.clone(),
            inbound: b_keys.clone(),
            outbound: a_keys.clone(),
            token_lifetime,
        };
        let b_view = PeerConfig {
            name: a_name.to_owned(),
            dialect,
            version,
            inbound: a_keys,
            outbound: b_keys,
            token_lifetime,
        };
        (a_view, b_view)
    }
}

/// One issued token.
#[derive(Debug, Clone, Copy)]
struct Issued {
    peer: usize,
    expires_at: Instant,
    serial: u64,
}

/// Issues and checks the bearer tokens of the side that serves `query_token`.
///
/// Bound: at most [`TokenIssuer::MAX_PER_PEER`] live tokens per peer (a renewal keeps the
/// previous token valid until it expires, so requests in flight during a renewal still pass);
/// issuing beyond that revokes the oldest. Expired tokens are purged on every issue.
#[derive(Debug)]
pub struct TokenIssuer {
    tokens: BTreeMap<String, Issued>,
    rng: EntityRng,
    issued: u64,
}

impl TokenIssuer {
    /// Live tokens kept per peer; issuing more revokes the earliest issued.
    pub const MAX_PER_PEER: usize = 4;

    /// An issuer drawing token strings from `rng`.
    pub fn new(rng: EntityRng) -> Self {
        TokenIssuer {
            tokens: BTreeMap::new(),
            rng,
            issued: 0,
        }
    }

    /// Issues a token to `peer` valid for `lifetime` (capped at 7 days); returns the token and
    /// the lifetime in whole seconds as `TokenAvailableTime` reports it.
    pub fn issue(&mut self, now: Instant, peer: usize, lifetime: Duration) -> (Secret, u32) {
        self.tokens.retain(|_, t| t.expires_at > now);
        let mut mine: Vec<(u64, String)> = self
            .tokens
            .iter()
            .filter(|(_, t)| t.peer == peer)
            .map(|(k, t)| (t.serial, k.clone()))
            .collect();
        mine.sort();
        while mine.len() >= Self::MAX_PER_PEER {
            let (_, oldest) = mine.remove(0);
            self.tokens.remove(&oldest);
        }
        let secs = u32::try_from(lifetime.as_micros() / 1_000_000)
            .unwrap_or(u32::MAX)
            .clamp(1, MAX_TOKEN_LIFETIME_S);
        let token = random_token(&mut self.rng);
        let expires_at = now + Duration::from_secs(u64::from(secs));
        self.issued += 1;
        let serial = self.issued;
        self.tokens.insert(
            token.clone(),
            Issued {
                peer,
                expires_at,
                serial,
            },
        );
        (Secret::new(token), secs)
    }

    /// Whether `token` was issued to `peer` and has not expired at `now`.
    pub fn check(&self, now: Instant, peer: usize, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|t| t.peer == peer && now < t.expires_at)
    }

    /// Makes every token of `peer` expire at `at` if it would expire later (the
    /// `expire_tokens_after` fault of the reference platform).
    pub fn cut_lifetimes(&mut self, peer: usize, at: Instant) {
        for t in self.tokens.values_mut().filter(|t| t.peer == peer) {
            t.expires_at = t.expires_at.min(at);
        }
    }

    /// Number of live tokens (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// 32 uppercase hex characters from `rng`.
fn random_token(rng: &mut impl Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    (0..32)
        .map(|_| char::from(HEX[rng.random_range(0..16usize)]))
        .collect()
}

/// Where the calling side stands with the peer's token.
#[derive(Debug, Clone)]
enum TokenState {
    /// No token and no fetch under way: fetch at once.
    Missing,
    /// A `query_token` request is in flight; `previous` stays usable until it expires.
    Fetching { previous: Option<Held> },
    /// A token is held.
    Valid(Held),
    /// The last fetch failed; retry at `until`.
    Backoff {
        until: Instant,
        previous: Option<Held>,
    },
}

#[derive(Debug, Clone)]
struct Held {
    token: Secret,
    renew_at: Instant,
    expires_at: Instant,
}

/// The calling side of `query_token`: obtains a token, renews it before expiry, and drops it
/// on a `4002` answer.
///
/// Renewal starts at 80 % of the lifetime (at least 5 s before expiry), so a renewal that
/// needs a few retries still completes while the old token is valid.
#[derive(Debug, Clone)]
pub struct TokenClient {
    state: TokenState,
    failures: u32,
}

impl Default for TokenClient {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenClient {
    /// Longest wait between failed fetches.
    const BACKOFF_MAX: Duration = Duration::from_secs(60);

    /// A client holding no token.
    pub const fn new() -> Self {
        TokenClient {
            state: TokenState::Missing,
            failures: 0,
        }
    }

    /// The token to send at `now`, if one is held and unexpired.
    pub fn token(&self, now: Instant) -> Option<&Secret> {
        let held = match &self.state {
            TokenState::Valid(h) => Some(h),
            TokenState::Fetching { previous } | TokenState::Backoff { previous, .. } => {
                previous.as_ref()
            }
            TokenState::Missing => None,
        };
        held.filter(|h| now < h.expires_at).map(|h| &h.token)
    }

    /// Whether a `query_token` request should be sent now.
    pub fn wants_fetch(&self, now: Instant) -> bool {
        match &self.state {
            TokenState::Missing => true,
            TokenState::Valid(h) => now >= h.renew_at,
            TokenState::Backoff { until, .. } => now >= *until,
            TokenState::Fetching { .. } => false,
        }
    }

    /// Records that a `query_token` request was sent.
    pub fn fetch_started(&mut self) {
        let previous = match std::mem::replace(&mut self.state, TokenState::Missing) {
            TokenState::Valid(h) => Some(h),
            TokenState::Backoff { previous, .. } | TokenState::Fetching { previous } => previous,
            TokenState::Missing => None,
        };
        self.state = TokenState::Fetching { previous };
    }

    /// Stores a token obtained at `now` that the peer says lives `lifetime_s` seconds.
    pub fn fetched(&mut self, now: Instant, token: Secret, lifetime_s: u32) {
        let lifetime = Duration::from_secs(u64::from(lifetime_s.clamp(1, MAX_TOKEN_LIFETIME_S)));
        let early = (lifetime.as_micros() / 5).max(Duration::from_secs(5).as_micros());
        let renew_after = Duration::from_micros(lifetime.as_micros().saturating_sub(early));
        self.state = TokenState::Valid(Held {
            token,
            renew_at: now + renew_after,
            expires_at: now + lifetime,
        });
        self.failures = 0;
    }

    /// Records a failed fetch at `now`; the next one waits 1 s, 2 s, 4 s… up to 60 s.
    pub fn fetch_failed(&mut self, now: Instant) {
        let previous = match std::mem::replace(&mut self.state, TokenState::Missing) {
            TokenState::Fetching { previous } | TokenState::Backoff { previous, .. } => previous,
            TokenState::Valid(h) => Some(h),
            TokenState::Missing => None,
        };
        let wait = Duration::from_secs(1u64 << self.failures.min(6)).min(Self::BACKOFF_MAX);
        self.failures = self.failures.saturating_add(1);
        self.state = TokenState::Backoff {
            until: now + wait,
            previous,
        };
    }

    /// Forgets the token after the peer answered `4002`: the next request fetches a new one.
    pub fn invalidate(&mut self) {
        match &mut self.state {
            TokenState::Fetching { previous } | TokenState::Backoff { previous, .. } => {
                *previous = None;
            }
            TokenState::Valid(_) | TokenState::Missing => self.state = TokenState::Missing,
        }
    }

    /// When the client next needs attention (renewal or the end of a back-off).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            TokenState::Valid(h) => Some(h.renew_at),
            TokenState::Backoff { until, .. } => Some(*until),
            TokenState::Missing | TokenState::Fetching { .. } => None,
        }
    }

    /// Whether a fetch is in flight.
    pub fn is_fetching(&self) -> bool {
        matches!(self.state, TokenState::Fetching { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Domain, stream};

    #[test]
    fn issued_tokens_are_per_peer_and_expire() {
        let mut issuer = TokenIssuer::new(stream(1, Domain::Backend, 0));
        let (tok, secs) = issuer.issue(Instant::ZERO, 0, Duration::from_secs(100));
        assert_eq!(secs, 100);
        assert_eq!(tok.len(), 32);
        assert!(issuer.check(Instant::from_secs(99), 0, tok.expose()));
        assert!(!issuer.check(Instant::from_secs(100), 0, tok.expose()));
        assert!(!issuer.check(Instant::from_secs(1), 1, tok.expose()));
        assert!(!issuer.check(Instant::from_secs(1), 0, "nope"));
    }

    #[test]
    fn lifetimes_are_capped_at_seven_days_and_old_tokens_revoked() {
        let mut issuer = TokenIssuer::new(stream(1, Domain::Backend, 0));
        let (_, secs) = issuer.issue(Instant::ZERO, 0, Duration::from_secs(30 * 86_400));
        assert_eq!(secs, MAX_TOKEN_LIFETIME_S);
        let first = issuer.issue(Instant::ZERO, 0, Duration::from_secs(10)).0;
        for _ in 0..TokenIssuer::MAX_PER_PEER {
            issuer.issue(Instant::ZERO, 0, Duration::from_secs(10));
        }
        assert!(!issuer.check(Instant::ZERO, 0, first.expose()));
        assert_eq!(issuer.len(), TokenIssuer::MAX_PER_PEER);
        issuer.cut_lifetimes(0, Instant::from_secs(1));
        issuer.issue(Instant::from_secs(2), 1, Duration::from_secs(10));
        assert_eq!(issuer.len(), 1);
    }

    #[test]
    fn client_renews_before_expiry_and_keeps_the_old_token_meanwhile() {
        let mut c = TokenClient::new();
        assert!(c.wants_fetch(Instant::ZERO));
        c.fetch_started();
        assert!(!c.wants_fetch(Instant::ZERO) && c.token(Instant::ZERO).is_none());
        c.fetched(Instant::ZERO, Secret::new("T1"), 100);
        assert_eq!(c.poll_timeout(), Some(Instant::from_secs(80)));
        assert!(!c.wants_fetch(Instant::from_secs(79)));
        assert!(c.wants_fetch(Instant::from_secs(80)));
        c.fetch_started();
        assert_eq!(c.token(Instant::from_secs(90)).unwrap().expose(), "T1");
        assert!(c.token(Instant::from_secs(100)).is_none());
        c.fetch_failed(Instant::from_secs(90));
        assert_eq!(c.poll_timeout(), Some(Instant::from_secs(91)));
        c.invalidate();
        assert!(c.token(Instant::from_secs(90)).is_none());
    }
}
