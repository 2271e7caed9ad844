//! Read-only views of the charger session for reports and the MQTT ChargingInfo block.

use super::{ChargerSession, OutputStatus};
use crate::time::{Duration, Instant};

impl ChargerSession {
    /// The plant's latest output reading (zero before the first one).
    pub fn output(&self) -> OutputStatus {
        self.output.unwrap_or_default()
    }

    /// Minutes of charging so far at `now` (as CCS reports it, capped at 600).
    pub fn charging_minutes_at(&self, now: Instant) -> u32 {
        let running = self
            .charging_since
            .map_or(Duration::ZERO, |t| now.saturating_since(t));
        let minutes = (self.charging_time + running).as_millis() / 60_000;
        minutes.min(600) as u32
    }
}
