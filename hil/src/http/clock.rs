//! Wall time to virtual time.
//!
//! Virtual zero is the whole Unix second at or before the clock started, so the machine's
//! civil timestamps ([`sim_core::tcec::wire::CivilEpoch`]) agree with the wall clock to the
//! microsecond.

use sim_core::tcec::wire::CivilEpoch;
use sim_core::time::{Duration, Instant};

/// Maps the monotonic wall clock to a machine's [`Instant`].
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    start: std::time::Instant,
    offset_us: u64,
    unix_secs_at_zero: u64,
}

impl WallClock {
    /// A clock whose virtual zero is the current whole Unix second.
    #[expect(clippy::disallowed_methods, reason = "hil shell owns the real clock")]
    pub fn start() -> Self {
        let start = std::time::Instant::now();
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        WallClock {
            start,
            offset_us: u64::from(since_epoch.subsec_micros()),
            unix_secs_at_zero: since_epoch.as_secs(),
        }
    }

    /// The virtual time now.
    #[expect(clippy::disallowed_methods, reason = "hil shell owns the real clock")]
    pub fn now(&self) -> Instant {
        let elapsed = std::time::Instant::now().duration_since(self.start);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(micros.saturating_add(self.offset_us))
    }

    /// The tokio instant at which virtual time reaches `at`.
    pub fn deadline(&self, at: Instant) -> tokio::time::Instant {
        let since_start = at.as_micros().saturating_sub(self.offset_us);
        let start = tokio::time::Instant::from_std(self.start);
        start + Duration::from_micros(since_start).to_std()
    }

    /// How long until virtual time reaches `at` (zero if it has).
    pub fn until(&self, at: Instant) -> std::time::Duration {
        (at - self.now()).to_std()
    }

    /// The civil epoch (Beijing time) matching this clock.
    pub fn beijing_epoch(&self) -> CivilEpoch {
        CivilEpoch::beijing(self.unix_secs_at_zero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_advances_from_the_sub_second_offset() {
        let c = WallClock::start();
        let a = c.now();
        assert!(a.as_micros() >= c.offset_us);
        assert!(a.as_micros() < c.offset_us + 1_000_000);
        assert!(c.now() >= a);
        assert!(c.until(a) == std::time::Duration::ZERO);
        let epoch = c.beijing_epoch();
        assert_eq!(epoch.unix_secs_at_zero, c.unix_secs_at_zero);
    }
}
