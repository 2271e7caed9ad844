//! Network faults between the chargers and their broker (`net_*` timeline actions) at
//! `--speed max`: the in-process broker's links take the faults the TCP fault proxy
//! (`hil::proxy`) applies in real time, on virtual time and deterministically.
//!
//! | action | in real time (proxy) | here (the charger's link) |
//! |---|---|---|
//! | `net_latency` | one-way delay `± jitter` per chunk | one-way latency and jitter per message |
//! | `net_bandwidth` | token bucket per direction | messages queued at the rate by size |
//! | `net_stall` | bytes held for `duration` | messages held for `duration` |
//! | `net_half_open` | link dead, no FIN/RST | messages held; cut when the keep-alive notices |
//! | `net_reset` | RST both sides | link cut, in-flight messages lost |
//! | `net_cut` | FIN; new links refused for `duration` | link cut; connects fail for `duration` |
//!
//! A client notices a dead link after 1.5 keep-alive intervals (the MQTT rule), its
//! keep-alive being the charger's heartbeat interval, as the real-time shell sets it.

use super::World;
use crate::mqtt::simnet::LinkModel;
use crate::time::Duration;
use profiles::timeline::{Action, TimelineEntry};

/// How long after a link went dead its client notices, in keep-alive intervals (MQTT
/// 3.1.1 §3.1.2.10: one and a half).
const DETECT_KEEP_ALIVES: f64 = 1.5;

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

impl World {
    /// Applies network fault `spec` to the link of local charger `k` at `now`. False when
    /// the charger's MQTT runs over a real broker or the action is not a network fault.
    pub(super) fn net_fault(&mut self, k: usize, spec: &TimelineEntry) -> bool {
        let now = self.now;
        let Some(g) = self.chargers.get(k).map(|c| c.global_index) else {
            return false;
        };
        let Some(m) = self.mqtt.as_mut() else {
            return false;
        };
        let keep_alive = m.keep_alive(k).unwrap_or(Duration::from_secs(60));
        let Some((broker, _)) = m.sim_broker_mut() else {
            return false;
        };
        let until = spec
            .duration
            .map(|d| now + Duration::from_micros(d.0.micros));
        let detect = Duration::from_secs_f64(keep_alive.as_secs_f64() * DETECT_KEEP_ALIVES);
        match spec.action {
            Action::NetLatency => {
                let Some(model) = broker.link_model(g).cloned() else {
                    return false;
                };
                let changed = LinkModel {
                    latency: millis(spec.delay_ms.unwrap_or(0.0)),
                    jitter: millis(spec.jitter_ms.unwrap_or(0.0)),
                    ..model
                };
                broker.set_link_model(g, changed);
            }
            Action::NetBandwidth => {
                let kbit = spec.kbit_per_s.unwrap_or(0.0);
                let bytes_per_s = (kbit * 1000.0 / 8.0).round().max(1.0) as u64;
                broker.set_link_bandwidth(g, Some(bytes_per_s));
            }
            Action::NetStall | Action::NetHalfOpen => broker.hold_link(now, g, until, detect),
            Action::NetReset => broker.cut(now, g),
            Action::NetCut => match until {
                Some(u) => broker.partition(now, g, u),
                None => broker.cut(now, g),
            },
            _ => return false,
        }
        self.wake_network();
        true
    }

    /// Ends network fault `action` on the links of local chargers `chargers` (its
    /// `duration` is over): latency and bandwidth go back to the scenario's link model,
    /// a held link lets go of what it held.
    pub(super) fn net_fault_end(&mut self, chargers: &[usize], action: Action) {
        let now = self.now;
        let links: Vec<u32> = chargers
            .iter()
            .filter_map(|&k| self.chargers.get(k).map(|c| c.global_index))
            .collect();
        let Some((broker, _)) = self.mqtt.as_mut().and_then(|m| m.sim_broker_mut()) else {
            return;
        };
        let base = broker.default_link_model().clone();
        for g in links {
            match action {
                Action::NetLatency => {
                    if let Some(model) = broker.link_model(g).cloned() {
                        let restored = LinkModel {
                            latency: base.latency,
                            jitter: base.jitter,
                            ..model
                        };
                        broker.set_link_model(g, restored);
                    }
                }
                Action::NetBandwidth => broker.set_link_bandwidth(g, None),
                Action::NetStall | Action::NetHalfOpen => broker.release_link(now, g),
                _ => {}
            }
        }
        self.wake_network();
    }
}
