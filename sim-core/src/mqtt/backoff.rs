//! Jittered exponential back-off for reconnecting (OCPP 2.0.1 Part 4 §5.3: "an increasing
//! back-off time with some randomization", so thousands of chargers do not stampede a
//! restarted broker). Sans-IO: the caller passes the random stream.

use rand::Rng;

use crate::time::Duration;

/// Back-off state: the n-th consecutive failure waits `min(max, base * 2^n)`, jittered to a
/// uniformly random point in its upper half ("equal jitter"), so delays grow but never collapse
/// to zero and chargers that failed together spread out.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A back-off starting at `base` and capped at `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max: max.max(base),
            failures: 0,
        }
    }

    /// The delay before the next attempt; counts one more failure.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let shift = self.failures.min(32);
        let ceiling = self
            .base
            .saturating_mul(1u64 << shift)
            .min(self.max)
            .as_micros();
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        let jitter = if half == 0 {
            0
        } else {
            rng.next_u64() % (half + 1)
        };
        Duration::from_micros(ceiling - half + jitter)
    }

    /// Forgets the failures (after a successful connection).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Domain, stream};

    #[test]
    fn delays_double_within_jitter_and_cap() {
        let mut rng = stream(1, Domain::Protocol, 7);
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut ceilings = Vec::new();
        for _ in 0..8 {
            ceilings.push(b.next_delay(&mut rng).as_micros());
        }
        let expected_ceiling = [1, 2, 4, 8, 16, 30, 30, 30];
        for (d, c) in ceilings.iter().zip(expected_ceiling) {
            let c = c * 1_000_000;
            assert!(*d >= c / 2 && *d <= c, "{d} not in [{}, {c}]", c / 2);
        }
        b.reset();
        assert!(b.next_delay(&mut rng) <= Duration::from_secs(1));
    }

    #[test]
    fn chargers_that_fail_together_spread_out() {
        let delays: Vec<u64> = (0..50)
            .map(|id| {
                let mut rng = stream(9, Domain::Protocol, id);
                let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(60));
                b.next_delay(&mut rng);
                b.next_delay(&mut rng).as_millis()
            })
            .collect();
        let mut distinct = delays.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 40, "{delays:?}");
        assert!(delays.iter().all(|&d| (2_000..=4_000).contains(&d)));
    }
}
