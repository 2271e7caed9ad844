//! [`RealClock`]: virtual time locked to the wall clock, for the MQTT shell.

use sim_core::time::Instant;

/// Maps the monotonic wall clock to virtual time: microseconds since the clock was made.
/// Clones share the origin, so the chargers' and the backend's times are comparable.
#[derive(Debug, Clone, Copy)]
pub struct RealClock {
    origin: tokio::time::Instant,
}

impl RealClock {
    /// A clock whose virtual zero is now.
    pub fn start() -> Self {
        RealClock {
            origin: tokio::time::Instant::now(),
        }
    }

    /// Virtual time now.
    pub fn now(&self) -> Instant {
        let elapsed = self.origin.elapsed();
        Instant::from_micros(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
    }

    /// The wall-clock instant of virtual time `at`.
    pub fn deadline(&self, at: Instant) -> tokio::time::Instant {
        self.origin + std::time::Duration::from_micros(at.as_micros().min(u64::MAX / 4))
    }
}
