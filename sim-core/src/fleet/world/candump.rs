//! Recording the fleet's CAN segments as a candump log (`candump -l` format, can-utils
//! compatible): every frame that went on the wire of a recorded connector's GB/T 27930
//! segment, with its delivery time on the scenario's civil clock and the interface named
//! after the connector (`gbt<id>`), so `chargestorm can decode` or `canplayer` read it.
//!
//! Recording is opt-in ([`World::record_can`]); a world that does not record pays one
//! `Option` check per session start and end.

use super::World;
use crate::fleet::gbt_link::GbtLink;
use crate::gbt::segment::{Fate, TapRecord};
use proto::can::CanFrame;
use proto::gbt27930::candump::write_line;

/// The recorder: which connectors, and the frames taken but not yet rendered.
#[derive(Debug, Default)]
pub(super) struct CanLog {
    /// Global connector ids to record, sorted; `None` records every connector.
    only: Option<Vec<u32>>,
    /// Frames drained from links: (delivery time µs, connector id, frame).
    pending: Vec<(u64, u32, CanFrame)>,
}

impl CanLog {
    pub(super) fn wants(&self, connector: u32) -> bool {
        self.only
            .as_ref()
            .is_none_or(|ids| ids.binary_search(&connector).is_ok())
    }

    fn absorb(&mut self, connector: u32, records: Vec<TapRecord>) {
        for r in records {
            // A bus tap sees what went on the wire: delivered frames and duplicates, not
            // frames a fault dropped or silenced before sending, nor ring overruns.
            if matches!(r.fate, Fate::Delivered | Fate::Duplicate) {
                self.pending.push((r.at.as_micros(), connector, r.frame));
            }
        }
    }
}

impl World {
    /// Starts recording the CAN segments of `connectors` (global connector ids; `None`:
    /// all) from now on, including sessions already running. Take the log with
    /// [`World::take_candump`].
    pub fn record_can(&mut self, connectors: Option<Vec<u32>>) {
        let only = connectors.map(|mut ids| {
            ids.sort_unstable();
            ids.dedup();
            ids
        });
        let log = CanLog {
            only,
            pending: Vec::new(),
        };
        for c in &mut self.connectors {
            if let Some(link) = c.link.as_mut() {
                link.pair.segment.set_recording(log.wants(c.global_id));
            }
        }
        self.can_log = Some(Box::new(log));
    }

    /// The frames recorded since the last call as candump log lines, in time order.
    /// Empty when not recording.
    pub fn take_candump(&mut self) -> String {
        let Some(log) = self.can_log.as_mut() else {
            return String::new();
        };
        for c in &mut self.connectors {
            if let Some(link) = c.link.as_mut() {
                log.absorb(c.global_id, link.pair.segment.take_records());
            }
        }
        log.pending.sort_by_key(|&(at, id, _)| (at, id));
        // A scenario starting before 1970 is not a thing; clamp rather than wrap.
        let epoch_us = u64::try_from(self.clock.start_unix_s)
            .unwrap_or(0)
            .saturating_mul(1_000_000);
        let mut text = String::with_capacity(log.pending.len() * 40);
        for (at, id, frame) in log.pending.drain(..) {
            // The interface name is short and plain, so writing cannot fail.
            let _ = write_line(
                &mut text,
                epoch_us.saturating_add(at),
                &format!("gbt{id}"),
                &frame,
            );
        }
        text
    }

    /// A link that ends: keep the frames it recorded.
    pub(super) fn can_log_end(&mut self, connector: u32, link: &mut GbtLink) {
        if let Some(log) = self.can_log.as_mut() {
            log.absorb(connector, link.pair.segment.take_records());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::fleet::{Shard, World, WorldConfig};
    use crate::time::{Duration, Instant};
    use proto::gbt27930::candump::parse_log;

    fn world(seed: u64) -> World {
        let lib = profiles::Library::bundled().unwrap();
        let scenario = lib.load_scenario("ci-smoke").unwrap();
        World::new(
            &scenario,
            WorldConfig {
                seed,
                duration: Some(Duration::from_secs(120)),
                trace_level: None,
                shard: Shard::WHOLE,
                sample_interval: None,
                http_external: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn records_parsable_time_ordered_frames_of_the_chosen_connectors() {
        let mut w = world(7);
        w.record_can(Some(vec![0, 2]));
        let mut log = String::new();
        for s in 1..=12 {
            w.run_until(Instant::ZERO + Duration::from_secs(10 * s));
            log.push_str(&w.take_candump());
        }
        let records: Vec<_> = parse_log(&log).map(|(_, r)| r.unwrap()).collect();
        assert!(records.len() > 1_000, "{} frames", records.len());
        let interfaces: std::collections::BTreeSet<_> =
            records.iter().map(|r| r.interface.unwrap()).collect();
        assert_eq!(interfaces.into_iter().collect::<Vec<_>>(), ["gbt0", "gbt2"]);
        let times: Vec<u64> = records.iter().map(|r| r.timestamp_us.unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "time ordered");
    }

    #[test]
    fn recording_is_deterministic_and_does_not_change_the_run() {
        let run = |record: bool| {
            let mut w = world(11);
            if record {
                w.record_can(None);
            }
            w.run_until(Instant::ZERO + Duration::from_secs(120));
            let log = w.take_candump();
            (w.finish(0.0).digest, log)
        };
        let (plain, empty) = run(false);
        let (a, log_a) = run(true);
        let (b, log_b) = run(true);
        assert!(empty.is_empty());
        assert_eq!(plain, a, "recording does not perturb the simulation");
        assert_eq!(a, b);
        assert_eq!(log_a, log_b);
        assert!(!log_a.is_empty());
    }
}
