//! Timeline actions on real peers: when a run talks to a real broker, backend or platform,
//! the world cannot restart, slow down or cut them itself. It queues such actions for the
//! I/O shell ([`World::take_external_actions`]), which carries them out and reports back how
//! many targets each reached ([`World::record_external_action`]), so the trace shows the
//! same `action_fired` entry with its real reach as an in-process run.

use super::World;
use super::timeline::TimelineEvent;
use crate::mqtt::backend::BackendFaults;
use crate::tcec::platform::PlatformFaults;
use crate::time::Duration;
use crate::trace::Entity;
use profiles::timeline::{Action, TimelineEntry};
use proto::mqtt::MessageCode;

/// Broker downtime of a `restart_broker` entry without `duration`.
pub(super) const DEFAULT_BROKER_DOWNTIME: Duration = Duration::from_secs(5);

/// A timeline action for the I/O shell to carry out on a real peer.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalAction {
    /// Index of the `[[timeline]]` entry in the scenario.
    pub entry: u32,
    /// The entry as written.
    pub spec: TimelineEntry,
    /// The charger protocol message the entry names (`backend_never_answer`).
    pub message: Option<MessageCode>,
    /// Local charger indices (the bridge's connection numbers) a charger action targets
    /// (`mqtt_disconnect`, `net_*`, `reboot`, `firmware_update`).
    pub chargers: Vec<usize>,
    /// The device ids (command topic ids) of the targeted chargers that have registered,
    /// for the backend's `reboot` and `firmware_update` commands.
    pub devices: Vec<String>,
    /// False when the action starts; true when its `duration` is over and what it replaced
    /// must be restored (for `restart_broker`: the broker comes back).
    pub ending: bool,
}

impl ExternalAction {
    /// How long the action lasts, if it says (a broker restart's downtime defaults to 5 s).
    pub fn duration(&self) -> Option<Duration> {
        let d = self
            .spec
            .duration
            .map(|d| Duration::from_micros(d.0.micros));
        match self.spec.action {
            Action::RestartBroker => Some(d.unwrap_or(DEFAULT_BROKER_DOWNTIME)),
            _ => d,
        }
    }

    /// Changes `faults` as the action asks (backend actions only; others leave it alone).
    pub fn apply_to_backend(&self, faults: &mut BackendFaults) {
        apply_backend(&self.spec, self.message, faults);
    }

    /// Changes `faults` as the action asks (platform actions only; others leave it alone).
    pub fn apply_to_platform(&self, faults: &mut PlatformFaults) {
        apply_platform(&self.spec, faults);
    }
}

/// Applies a backend action of `spec` to `f` (in-process and real backends alike).
pub(super) fn apply_backend(
    spec: &TimelineEntry,
    message: Option<MessageCode>,
    f: &mut BackendFaults,
) {
    let delay = Duration::from_secs_f64(spec.delay_ms.unwrap_or(0.0).max(0.0) / 1000.0);
    let ratio = spec.ratio.unwrap_or(1.0);
    match spec.action {
        Action::BackendSlowdown => f.response_delay = delay,
        Action::BackendDropResponses => f.drop_response_ratio = ratio,
        Action::BackendMalformed => f.malformed_ratio = ratio,
        Action::BackendNeverAnswer => {
            if let Some(code) = message {
                f.never_answer.push(code);
            }
        }
        _ => {}
    }
}

/// Applies a platform action of `spec` to `f` (in-process and served platforms alike).
pub(super) fn apply_platform(spec: &TimelineEntry, f: &mut PlatformFaults) {
    let delay = Duration::from_secs_f64(spec.delay_ms.unwrap_or(0.0).max(0.0) / 1000.0);
    let ratio = spec.ratio.unwrap_or(1.0);
    let after = Duration::from_secs_f64(spec.after_s.unwrap_or(1.0).max(0.0));
    match spec.action {
        Action::Platform500 => f.error_500_ratio = ratio,
        Action::PlatformTimeout => f.response_delay = delay,
        Action::PlatformExpiredToken => f.expire_tokens_after = Some(after),
        Action::PlatformWrongSignature => f.wrong_signature_ratio = ratio,
        _ => {}
    }
}

/// Whether an action acts on the broker or the backend (a real one when MQTT is external).
fn on_mqtt_peer(action: Action) -> bool {
    matches!(
        action,
        Action::RestartBroker
            | Action::MqttDisconnect
            | Action::BackendSlowdown
            | Action::BackendDropResponses
            | Action::BackendMalformed
            | Action::BackendNeverAnswer
            | Action::Reboot
            | Action::FirmwareUpdate
    ) || action.is_network()
}

/// Whether an action acts on the monitoring platform.
fn on_platform(action: Action) -> bool {
    matches!(
        action,
        Action::Platform500
            | Action::PlatformTimeout
            | Action::PlatformExpiredToken
            | Action::PlatformWrongSignature
    )
}

impl World {
    /// Whether the peer `action` acts on is real (outside the world): the action must go
    /// to the I/O shell.
    pub(super) fn is_external_action(&self, action: Action) -> bool {
        (on_mqtt_peer(action) && self.mqtt.as_ref().is_some_and(|m| m.backend().is_none()))
            || (on_platform(action) && self.http.is_some() && !self.http_in_memory())
    }

    /// Queues an action for the shell.
    pub(super) fn queue_external(&mut self, action: ExternalAction) {
        self.external.push(action);
    }

    /// The timeline actions the shell must carry out on real peers, oldest first (they
    /// are removed from the queue).
    pub fn take_external_actions(&mut self) -> Vec<ExternalAction> {
        std::mem::take(&mut self.external)
    }

    /// Records that the shell carried out (`ending` false) the start of timeline entry
    /// `entry`, reaching `reached` targets (connectors for a charger action, 1 for a
    /// broker, backend or platform that took it, 0 when nothing could): traced as the
    /// entry's `action_fired`. An ending is traced as `action_ended`.
    pub fn record_external_action(&mut self, action: &ExternalAction, reached: u32) {
        let now = self.now;
        let label = action.spec.label().to_owned();
        let event = if action.ending {
            TimelineEvent::ActionEnded {
                entry: action.entry,
                label,
            }
        } else {
            let hits: Vec<u32> = if reached > 0 {
                action
                    .chargers
                    .iter()
                    .filter_map(|&k| self.chargers.get(k))
                    .flat_map(|c| c.connectors.clone())
                    .map(|ci| self.connectors[ci].global_id)
                    .collect()
            } else {
                Vec::new()
            };
            self.set_timeline_hits(action.entry as usize, hits);
            TimelineEvent::ActionFired {
                entry: action.entry,
                label,
                action: action.spec.action.name(),
                reached,
            }
        };
        self.trace.record(now, Entity::Fleet, &event);
    }
}
