//! The two time calculations of a link direction, kept free of I/O so they can be tested
//! without sockets: when a chunk may be released (latency + jitter, never reordering) and
//! how many bytes the bandwidth limit lets through now (a token bucket).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::time::Instant;

/// Assigns release times to chunks in arrival order.
#[derive(Debug, Clone)]
pub(crate) struct DelayLine {
    rng: ChaCha8Rng,
    last_release: Option<Instant>,
}

impl DelayLine {
    /// A delay line drawing its jitter from `rng`.
    pub fn new(rng: ChaCha8Rng) -> Self {
        Self {
            rng,
            last_release: None,
        }
    }

    /// The release time of a chunk that arrived at `now`: `now + latency ± jitter`, but
    /// never before the previous chunk's release, so chunks keep their order. Because the
    /// previous chunk arrived earlier, that floor never pushes a chunk past
    /// `now + latency + jitter`.
    pub fn release_at(&mut self, now: Instant, latency: Duration, jitter: Duration) -> Instant {
        let delay = if jitter.is_zero() {
            latency
        } else {
            let j = u64::try_from(jitter.as_nanos()).unwrap_or(u64::MAX);
            let offset = self.rng.random_range(0..=j.saturating_mul(2));
            let base = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(base.saturating_add(offset).saturating_sub(j))
        };
        let mut at = now + delay;
        if let Some(last) = self.last_release {
            at = at.max(last);
        }
        self.last_release = Some(at);
        at
    }
}

/// How long a full bucket lasts at the configured rate: short, so bursts stay small.
const BUCKET_SPAN: Duration = Duration::from_millis(20);

/// A token bucket in bytes.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate_bytes_per_s: u64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate_bytes_per_s` (at least 1 byte/s).
    pub fn new(rate_bytes_per_s: u64, now: Instant) -> Self {
        let rate = rate_bytes_per_s.max(1);
        let capacity = (rate as f64 * BUCKET_SPAN.as_secs_f64()).max(1.0);
        Self {
            rate_bytes_per_s: rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> u64 {
        self.rate_bytes_per_s
    }

    /// Takes up to `want` bytes' worth of tokens. Returns `Ok(n)` with `n ≥ 1` when at least
    /// a quarter bucket (or all of `want`, if smaller) is available, else `Err(when)`: the
    /// instant that much will be. Waiting for a quarter bucket keeps writes from
    /// degenerating into one byte per timer tick.
    pub fn take(&mut self, now: Instant, want: usize) -> Result<usize, Instant> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        let rate = self.rate_bytes_per_s as f64;
        self.tokens = (self.tokens + elapsed * rate).min(self.capacity);
        let need = (want as f64).min((self.capacity / 4.0).max(1.0)).max(1.0);
        if self.tokens >= need {
            let grant = (want as f64).min(self.tokens.floor()).max(1.0);
            self.tokens -= grant;
            // `grant` is an integer in 1..=want by construction.
            Ok(grant as usize)
        } else {
            let missing = need - self.tokens;
            // At least a microsecond, so float rounding never yields a wait of zero.
            Err(now + Duration::from_secs_f64(missing / rate).max(Duration::from_micros(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn line(seed: u64) -> DelayLine {
        DelayLine::new(ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn latency_without_jitter_is_exact() {
        let t0 = Instant::now();
        let mut d = line(1);
        let ms = Duration::from_millis;
        assert_eq!(d.release_at(t0, ms(20), Duration::ZERO), t0 + ms(20));
        assert_eq!(
            d.release_at(t0 + ms(5), ms(20), Duration::ZERO),
            t0 + ms(25)
        );
    }

    #[test]
    fn jitter_stays_in_bounds_and_never_reorders() {
        let t0 = Instant::now();
        let (lat, jit) = (Duration::from_millis(20), Duration::from_millis(10));
        let mut d = line(7);
        let mut prev = t0;
        let mut spread = (Duration::MAX, Duration::ZERO);
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_micros(i * 300);
            let at = d.release_at(now, lat, jit);
            let delay = at - now;
            assert!(delay >= lat - jit && delay <= lat + jit, "delay {delay:?}");
            assert!(at >= prev);
            prev = at;
            spread = (spread.0.min(delay), spread.1.max(delay));
        }
        // The jitter is real: the delays cover most of the allowed band.
        assert!(
            spread.1 - spread.0 > Duration::from_millis(15),
            "{spread:?}"
        );
    }

    #[test]
    fn jitter_is_reproducible_from_the_seed() {
        let t0 = Instant::now();
        let run = |seed| {
            let mut d = line(seed);
            (0..50u64)
                .map(|i| {
                    d.release_at(
                        t0 + Duration::from_millis(i * 40),
                        Duration::from_millis(20),
                        Duration::from_millis(10),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn bucket_meters_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(100_000, t0);
        let mut now = t0;
        let mut sent = 0usize;
        // Drain as fast as the bucket allows for one simulated second.
        while now < t0 + Duration::from_secs(1) {
            match bucket.take(now, 16 * 1024) {
                Ok(n) => sent += n,
                Err(at) => {
                    assert!(at > now);
                    now = at;
                }
            }
        }
        // One second at 100 kB/s plus the initial full bucket (2 kB), within a slice.
        assert!((101_000..=103_000).contains(&sent), "sent {sent}");
    }

    #[test]
    fn bucket_grants_small_wants_whole() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1_000, t0);
        // Capacity 20 bytes: a 5-byte want is granted whole, then the rest, then it waits.
        assert_eq!(bucket.take(t0, 5), Ok(5));
        assert_eq!(bucket.take(t0, 100), Ok(15));
        let when = bucket.take(t0, 100).unwrap_err();
        // A quarter bucket (5 bytes) at 1 kB/s takes 5 ms.
        assert_eq!(when - t0, Duration::from_millis(5));
        assert_eq!(bucket.take(when, 100), Ok(5));
    }
}
