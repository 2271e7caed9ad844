//! Wall-clock time derived from virtual time, for protocol timestamps and tariff time-of-day.
//!
//! The protocol carries Unix seconds (`*_unix_s`) and the seed's tariffs are written in minutes
//! of the *local* day (`timestart=540` is 09:00 in China). A run fixes the Unix time of virtual
//! time zero and the local UTC offset once; every conversion is then a pure function of `now`.

use crate::time::Instant;

/// Microseconds in a day.
pub const DAY_US: i128 = 86_400_000_000;

/// Maps virtual time to Unix time and to the local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    /// Unix time (seconds, UTC) at virtual time zero.
    pub epoch_unix_s: i64,
    /// Local offset from UTC in minutes (China Standard Time is +480).
    pub utc_offset_min: i32,
}

impl Default for WallClock {
    /// 2026-01-01 00:00:00 China Standard Time (2025-12-31 16:00:00 UTC), offset +08:00, so a
    /// run that starts at virtual zero starts at local midnight.
    fn default() -> Self {
        WallClock {
            epoch_unix_s: 1_767_196_800,
            utc_offset_min: 480,
        }
    }
}

impl WallClock {
    /// Unix seconds at `now` (floored).
    pub fn unix_s(&self, now: Instant) -> i64 {
        let secs = i64::try_from(now.as_micros() / 1_000_000).unwrap_or(i64::MAX);
        self.epoch_unix_s.saturating_add(secs)
    }

    /// Microseconds since local midnight at `now`, in `0..DAY_US`.
    pub fn local_us_of_day(&self, now: Instant) -> u64 {
        let local_epoch_us =
            (i128::from(self.epoch_unix_s) + i128::from(self.utc_offset_min) * 60) * 1_000_000;
        let us = (local_epoch_us + i128::from(now.as_micros())).rem_euclid(DAY_US);
        // rem_euclid keeps the value in 0..DAY_US, which fits in u64.
        u64::try_from(us).unwrap_or(0)
    }

    /// The local minute of the day at `now`, 0..1440.
    pub fn minute_of_day(&self, now: Instant) -> u32 {
        u32::try_from(self.local_us_of_day(now) / 60_000_000).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_epoch_is_local_midnight() {
        let clock = WallClock::default();
        assert_eq!(clock.local_us_of_day(Instant::ZERO), 0);
        assert_eq!(clock.minute_of_day(Instant::from_secs(9 * 3600 + 59)), 540);
        assert_eq!(clock.minute_of_day(Instant::from_secs(24 * 3600 + 60)), 1);
        assert_eq!(clock.unix_s(Instant::from_millis(2_500)), 1_767_196_802);
    }

    #[test]
    fn negative_offsets_wrap_into_the_day() {
        let clock = WallClock {
            epoch_unix_s: 0,
            utc_offset_min: -300,
        };
        // 1970-01-01 00:00 UTC is 19:00 the day before in UTC-5.
        assert_eq!(clock.minute_of_day(Instant::ZERO), 19 * 60);
    }
}
