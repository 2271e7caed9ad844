//! A steady command load: the backend sends GetConfigurationReq (QoS 2, answered by every
//! charger) at a fixed total rate, round-robin over the logged-in chargers. It is the
//! command-rate benchmark's traffic; each command's latency runs from its *scheduled* time,
//! so a backend (or transport) that falls behind shows up in the latency, not as a lower rate.

use std::ops::Bound;
use std::sync::Arc;

use proto::mqtt::pb;

use super::Backend;
use crate::mqtt::metrics::ErrorKind;
use crate::time::Instant;

/// The key every load command asks for (a small, always-present setting).
const LOAD_KEY: &str = "HeartbeatInterval";

/// State of the command load.
#[derive(Debug, Clone)]
pub(super) struct CommandLoad {
    /// Commands per second.
    rate_per_s: f64,
    /// When the first command was due (set once a charger is logged in).
    start: Option<Instant>,
    /// Commands scheduled so far (sent or skipped).
    scheduled: u64,
    /// The charger the last command went to.
    cursor: Option<Arc<str>>,
}

impl CommandLoad {
    /// When the `n`-th command is due: computed from the start, so rounding never drifts.
    fn due(&self, n: u64) -> Option<Instant> {
        let start = self.start?;
        let offset_us = (n as f64 * 1e6 / self.rate_per_s).round() as u64;
        Some(start + crate::time::Duration::from_micros(offset_us))
    }
}

impl Backend {
    /// Starts (or, with a rate of 0, stops) the command load: `rate_per_s`
    /// GetConfigurationReq per second, round-robin over the logged-in chargers, from the
    /// first timer call at which one is logged in. Non-finite or negative rates stop it.
    pub fn set_command_load(&mut self, rate_per_s: f64) {
        self.load = (rate_per_s.is_finite() && rate_per_s > 0.0).then_some(CommandLoad {
            rate_per_s,
            start: None,
            scheduled: 0,
            cursor: None,
        });
    }

    /// Load commands scheduled so far (sent, or counted as publish failures when no
    /// charger was logged in at their time).
    pub fn load_commands_scheduled(&self) -> u64 {
        self.load.as_ref().map_or(0, |l| l.scheduled)
    }

    /// When the load next wants the timer: its next command, or now while it waits for a
    /// first charger to log in and has not started.
    pub(super) fn load_timeout(&self) -> Option<Instant> {
        let load = self.load.as_ref()?;
        match load.start {
            Some(_) => load.due(load.scheduled),
            None if self.chargers.values().any(|c| c.logged_in) => Some(self.last_now),
            None => None,
        }
    }

    /// Sends every load command due at `now`, each with its scheduled time as its intended
    /// send time.
    pub(super) fn run_load(&mut self, now: Instant) {
        let Some(mut load) = self.load.take() else {
            return;
        };
        if load.start.is_none() && self.chargers.values().any(|c| c.logged_in) {
            load.start = Some(now);
        }
        while let Some(due) = load.due(load.scheduled).filter(|&d| d <= now) {
            load.scheduled += 1;
            let Some(charger) = self.next_logged_in(load.cursor.as_deref()) else {
                self.metrics.error(ErrorKind::PublishFailure, None, now);
                continue;
            };
            let req = pb::GetConfigurationReq {
                key: vec![LOAD_KEY.to_owned()],
            };
            if self
                .send_request_intended(now, due, &charger, req.into())
                .is_err()
            {
                self.metrics.error(ErrorKind::PublishFailure, None, now);
            }
            load.cursor = Some(charger);
        }
        self.load = Some(load);
    }

    /// The first logged-in charger after `cursor` in id order, wrapping around.
    fn next_logged_in(&self, cursor: Option<&str>) -> Option<Arc<str>> {
        let after = cursor.map_or(Bound::Unbounded, Bound::Excluded);
        self.chargers
            .range::<str, _>((after, Bound::Unbounded))
            .chain(self.chargers.iter())
            .find(|(_, c)| c.logged_in)
            .map(|(id, _)| Arc::clone(id))
    }
}
