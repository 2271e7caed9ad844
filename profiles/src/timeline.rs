//! Scenario timelines and expectations: `[[timeline]]` entries inject faults and change the
//! load at a time or on a condition; `[[expect]]` entries state what the backend and the
//! platform must show, and become report assertions.
//!
//! ```toml
//! [[timeline]]
//! name = "trip"
//! when = "connector 3 charging"
//! connector = 3
//! action = "insulation_fault"
//! resistance_kohm = 20.0
//!
//! [[expect]]
//! kind = "stop_transaction"
//! reason = "insulation_fault"
//! within_s = 30
//! after = "trip"
//! ```
//!
//! Entries are flat tables (every parameter is an optional key) so that unknown keys are
//! rejected by the parser and every semantic problem gets the path of its key.

use crate::scenario::Dur;
use crate::validate::Errors;
use serde::{Deserialize, Serialize};

/// What a timeline entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The BMS stops sending BCL and BCS: the charger times out (GB/T 27930 CEM).
    BmsTimeout,
    /// The DC output's insulation falls to `resistance_kohm` (default 50 kΩ).
    InsulationFault,
    /// The charger overheats.
    OverTemperature,
    /// The emergency stop is pressed.
    EmergencyStop,
    /// The output contactors weld shut.
    ContactorStuck,
    /// A power module fails.
    ModuleFailure,
    /// The energy meter stops answering: the charger ends the session as a charger fault.
    MeterFailure,
    /// The energy meter's register freezes: the charger keeps charging but reports the
    /// same energy (meter values, StopTransaction, platform) until `duration` ends.
    MeterStuck,
    /// The energy meter over-reads by `wh_per_h` Wh per hour from now on (or for
    /// `duration`): the reported energy drifts away from what was delivered.
    MeterDrift,
    /// The driver pulls the plug mid-session.
    UnplugMidSession,
    /// A GB/T 27930 `message` (e.g. `BCL`) is no longer sent by its sender.
    CanSilence,
    /// A share `ratio` of a GB/T 27930 `message`'s frames is lost.
    CanDrop,
    /// A GB/T 27930 `message` arrives `delay_ms` late.
    CanDelay,
    /// A share `ratio` of a GB/T 27930 `message`'s frames has a data byte flipped.
    CanCorrupt,
    /// The chargers of the targeted connectors lose their broker connection (they
    /// reconnect with back-off); with `duration` they cannot reach it for that long (a
    /// partition); `all = true` is a blackout followed by a reconnect storm.
    MqttDisconnect,
    /// The backend resets the targeted chargers (they reboot and log in again).
    Reboot,
    /// The backend sends UpdateFirmwareReq to the targeted chargers; with `fail = true`
    /// the image's MD5 does not match and the download fails.
    FirmwareUpdate,
    /// The in-process broker dies and restarts without persistence after `duration`.
    RestartBroker,
    /// The reference backend answers `delay_ms` later (for `duration`, or to the end).
    BackendSlowdown,
    /// A share `ratio` of the reference backend's responses is not sent.
    BackendDropResponses,
    /// A share `ratio` of the reference backend's responses is malformed.
    BackendMalformed,
    /// The reference backend never answers `message` (e.g. `StopTransactionReq`).
    BackendNeverAnswer,
    /// The reference platform answers a share `ratio` (default 1) with HTTP 500.
    #[serde(rename = "platform_500")]
    Platform500,
    /// The reference platform answers `delay_ms` late (timeouts at the operator).
    PlatformTimeout,
    /// The reference platform's tokens stop working `after_s` after issue (default 1 s).
    PlatformExpiredToken,
    /// A share `ratio` (default 1) of the platform's answers carries a wrong signature.
    PlatformWrongSignature,
    /// A share `ratio` of card swipes uses a card the backend does not know.
    InvalidCard,
    /// The arrival rate is multiplied by `factor` from now on.
    LoadStep,
    /// The arrival rate's multiplier moves linearly to `factor` over `duration`.
    LoadRamp,
    /// The arrival rate is multiplied by `factor` for `duration`, then restored.
    LoadSpike,
    /// The targeted chargers' network links get `delay_ms` of one-way latency (each way),
    /// `± jitter_ms`, for `duration` or to the end.
    NetLatency,
    /// The targeted chargers' links are limited to `kbit_per_s` each way.
    NetBandwidth,
    /// The targeted chargers' links hold every byte for `duration`, then deliver them.
    NetStall,
    /// The targeted chargers' links go dead without closing (nothing arrives, no FIN or
    /// RST) for `duration` or to the end: the clients must notice by their keep-alive.
    NetHalfOpen,
    /// The targeted chargers' connections are reset (RST) at once.
    NetReset,
    /// The targeted chargers' connections are closed (FIN); with `duration`, new
    /// connections are refused for that long.
    NetCut,
}

/// Optional parameters of a timeline entry, by key name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Duration,
    ResistanceKohm,
    DelayMs,
    Ratio,
    Message,
    Factor,
    Fail,
    AfterS,
    WhPerH,
    JitterMs,
    KbitPerS,
}

impl Param {
    fn key(self) -> &'static str {
        match self {
            Param::Duration => "duration",
            Param::ResistanceKohm => "resistance_kohm",
            Param::DelayMs => "delay_ms",
            Param::Ratio => "ratio",
            Param::Message => "message",
            Param::Factor => "factor",
            Param::Fail => "fail",
            Param::AfterS => "after_s",
            Param::WhPerH => "wh_per_h",
            Param::JitterMs => "jitter_ms",
            Param::KbitPerS => "kbit_per_s",
        }
    }
}

/// Whether an action hits connectors (and needs a target) or the fleet's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Per connector: needs a target.
    Connector,
    /// Per charger of the targeted connectors: needs a target.
    Charger,
    /// The broker, the backend, the platform or the traffic: no target.
    Fleet,
}

impl Action {
    /// The action's name as written in scenario files.
    pub fn name(self) -> &'static str {
        use Action as A;
        match self {
            A::BmsTimeout => "bms_timeout",
            A::InsulationFault => "insulation_fault",
            A::OverTemperature => "over_temperature",
            A::EmergencyStop => "emergency_stop",
            A::ContactorStuck => "contactor_stuck",
            A::ModuleFailure => "module_failure",
            A::MeterFailure => "meter_failure",
            A::MeterStuck => "meter_stuck",
            A::MeterDrift => "meter_drift",
            A::UnplugMidSession => "unplug_mid_session",
            A::CanSilence => "can_silence",
            A::CanDrop => "can_drop",
            A::CanDelay => "can_delay",
            A::CanCorrupt => "can_corrupt",
            A::MqttDisconnect => "mqtt_disconnect",
            A::Reboot => "reboot",
            A::FirmwareUpdate => "firmware_update",
            A::RestartBroker => "restart_broker",
            A::BackendSlowdown => "backend_slowdown",
            A::BackendDropResponses => "backend_drop_responses",
            A::BackendMalformed => "backend_malformed",
            A::BackendNeverAnswer => "backend_never_answer",
            A::Platform500 => "platform_500",
            A::PlatformTimeout => "platform_timeout",
            A::PlatformExpiredToken => "platform_expired_token",
            A::PlatformWrongSignature => "platform_wrong_signature",
            A::InvalidCard => "invalid_card",
            A::LoadStep => "load_step",
            A::LoadRamp => "load_ramp",
            A::LoadSpike => "load_spike",
            A::NetLatency => "net_latency",
            A::NetBandwidth => "net_bandwidth",
            A::NetStall => "net_stall",
            A::NetHalfOpen => "net_half_open",
            A::NetReset => "net_reset",
            A::NetCut => "net_cut",
        }
    }

    /// What the action acts on.
    pub fn scope(self) -> Scope {
        use Action as A;
        match self {
            A::BmsTimeout
            | A::InsulationFault
            | A::OverTemperature
            | A::EmergencyStop
            | A::ContactorStuck
            | A::ModuleFailure
            | A::MeterFailure
            | A::MeterStuck
            | A::MeterDrift
            | A::UnplugMidSession
            | A::CanSilence
            | A::CanDrop
            | A::CanDelay
            | A::CanCorrupt => Scope::Connector,
            A::MqttDisconnect | A::Reboot | A::FirmwareUpdate => Scope::Charger,
            A::NetLatency
            | A::NetBandwidth
            | A::NetStall
            | A::NetHalfOpen
            | A::NetReset
            | A::NetCut => Scope::Charger,
            _ => Scope::Fleet,
        }
    }

    /// Whether the action is a network fault between the chargers and their broker (the
    /// fault proxy's in real time, the in-process broker's links at `--speed max`).
    pub fn is_network(self) -> bool {
        use Action as A;
        matches!(
            self,
            A::NetLatency
                | A::NetBandwidth
                | A::NetStall
                | A::NetHalfOpen
                | A::NetReset
                | A::NetCut
        )
    }

    /// The parameters the action takes, and which of them it requires.
    fn params(self) -> (&'static [Param], &'static [Param]) {
        use Action as A;
        use Param as P;
        match self {
            A::InsulationFault => (&[P::ResistanceKohm], &[]),
            A::CanSilence => (&[P::Message], &[P::Message]),
            A::CanDrop | A::CanCorrupt => (&[P::Message, P::Ratio], &[P::Message]),
            A::CanDelay => (&[P::Message, P::DelayMs], &[P::Message, P::DelayMs]),
            A::FirmwareUpdate => (&[P::Fail], &[]),
            A::MeterStuck => (&[P::Duration], &[]),
            A::MeterDrift => (&[P::WhPerH, P::Duration], &[P::WhPerH]),
            A::MqttDisconnect => (&[P::Duration], &[]),
            A::RestartBroker => (&[P::Duration], &[]),
            A::BackendSlowdown | A::PlatformTimeout => (&[P::DelayMs, P::Duration], &[P::DelayMs]),
            A::BackendDropResponses | A::BackendMalformed | A::InvalidCard => {
                (&[P::Ratio, P::Duration], &[P::Ratio])
            }
            A::BackendNeverAnswer => (&[P::Message, P::Duration], &[P::Message]),
            A::Platform500 | A::PlatformWrongSignature => (&[P::Ratio, P::Duration], &[]),
            A::PlatformExpiredToken => (&[P::AfterS, P::Duration], &[]),
            A::LoadStep => (&[P::Factor], &[P::Factor]),
            A::LoadRamp | A::LoadSpike => (&[P::Factor, P::Duration], &[P::Factor, P::Duration]),
            A::NetLatency => (&[P::DelayMs, P::JitterMs, P::Duration], &[P::DelayMs]),
            A::NetBandwidth => (&[P::KbitPerS, P::Duration], &[P::KbitPerS]),
            A::NetStall => (&[P::Duration], &[P::Duration]),
            A::NetHalfOpen | A::NetCut => (&[P::Duration], &[]),
            _ => (&[], &[]),
        }
    }
}

/// One `[[timeline]]` entry: when, on what, and which action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// A label `[[expect]]` entries refer to with `after` (default: the action's name).
    #[serde(default)]
    pub name: Option<String>,
    /// Virtual time of the action (with `when`: the condition is watched from then on).
    #[serde(default)]
    pub at: Option<Dur>,
    /// A condition (`"connector 3 charging"`, `"any connector plugged"`, `"all connectors
    /// idle"`, `"5 connectors charging"`): the action fires the first time it holds.
    #[serde(default)]
    pub when: Option<String>,
    /// Target: one connector by fleet id (0-based, as in traces and the dashboard).
    #[serde(default)]
    pub connector: Option<u32>,
    /// Target: several connectors by fleet id.
    #[serde(default)]
    pub connectors: Option<Vec<u32>>,
    /// Target: every connector of one charger by fleet index (0-based).
    #[serde(default)]
    pub charger: Option<u32>,
    /// Target: every connector of one station by fleet index (0-based).
    #[serde(default)]
    pub station: Option<u32>,
    /// Target: a seeded random share of the connectors (0..1; each entry draws its own).
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Target: every connector.
    #[serde(default)]
    pub all: bool,
    /// What happens.
    pub action: Action,
    /// How long a temporary fault lasts (restored afterwards); the broker's downtime.
    #[serde(default)]
    pub duration: Option<Dur>,
    /// `insulation_fault`: resistance of each pole to PE, kΩ (default 50).
    #[serde(default)]
    pub resistance_kohm: Option<f64>,
    /// Added delay, ms.
    #[serde(default)]
    pub delay_ms: Option<f64>,
    /// Share of messages, requests or swipes affected, 0..=1.
    #[serde(default)]
    pub ratio: Option<f64>,
    /// A message name: a GB/T 27930 code (`BCL`) or a charger protocol request
    /// (`StopTransactionReq`).
    #[serde(default)]
    pub message: Option<String>,
    /// Arrival rate multiplier of a load change.
    #[serde(default)]
    pub factor: Option<f64>,
    /// `firmware_update`: the update fails (MD5 mismatch).
    #[serde(default)]
    pub fail: Option<bool>,
    /// `platform_expired_token`: tokens stop working this long after issue, s.
    #[serde(default)]
    pub after_s: Option<f64>,
    /// `meter_drift`: how much the meter over-reads per hour, Wh.
    #[serde(default)]
    pub wh_per_h: Option<f64>,
    /// `net_latency`: each chunk's delay is drawn from `delay_ms ± jitter_ms`, ms.
    #[serde(default)]
    pub jitter_ms: Option<f64>,
    /// `net_bandwidth`: the limit of each direction of each link, kbit/s.
    #[serde(default)]
    pub kbit_per_s: Option<f64>,
}

/// What a `when` condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// One connector by fleet id.
    Connector(u32),
    /// At least one connector.
    Any,
    /// Every connector.
    All,
    /// At least this many connectors.
    AtLeast(u32),
}

/// A parsed `when` condition: a subject in a connector state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    /// Which connectors.
    pub subject: Subject,
    /// The state they must be in (one of [`STATES`]).
    pub state: &'static str,
}

/// Connector states a condition or `no_stuck_state` may name.
pub const STATES: [&str; 6] = [
    "offline",
    "idle",
    "plugged",
    "charging",
    "finishing",
    "faulted",
];

/// Why a session ends, as `stop_transaction.reason` names it.
pub const STOP_REASONS: [&str; 13] = [
    "target_soc_reached",
    "battery_full",
    "user_stopped",
    "run_ended",
    "insulation_fault",
    "over_temperature",
    "charger_fault",
    "bms_fault",
    "communication_lost",
    "refused",
    "emergency_stop",
    "remote_stop",
    "reset",
];

fn state_name(word: &str) -> Option<&'static str> {
    STATES.iter().copied().find(|s| *s == word)
}

impl Condition {
    /// Parses `connector N STATE`, `any connector STATE`, `all connectors STATE` or
    /// `N connectors STATE` (at least N).
    pub fn parse(text: &str) -> Result<Condition, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = || {
            format!(
                "{text:?} is not a condition; write `connector 3 charging`, `any connector plugged`, \
                 `all connectors idle` or `5 connectors charging` (states: {})",
                STATES.join(", ")
            )
        };
        let (subject, state) = match words.as_slice() {
            ["connector", n, s] => (Subject::Connector(n.parse().map_err(|_| bad())?), s),
            ["any", "connector", s] => (Subject::Any, s),
            ["all", "connectors", s] => (Subject::All, s),
            [n, "connectors" | "connector", s] => {
                (Subject::AtLeast(n.parse().map_err(|_| bad())?), s)
            }
            _ => return Err(bad()),
        };
        let state = state_name(state).ok_or_else(bad)?;
        Ok(Condition { subject, state })
    }
}

impl TimelineEntry {
    /// The label `after` refers to: `name`, or the action's name.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(self.action.name())
    }

    /// The parsed `when` condition (`None` without one or when it does not parse).
    pub fn condition(&self) -> Option<Condition> {
        self.when.as_deref().and_then(|w| Condition::parse(w).ok())
    }

    fn has(&self, p: Param) -> bool {
        match p {
            Param::Duration => self.duration.is_some(),
            Param::ResistanceKohm => self.resistance_kohm.is_some(),
            Param::DelayMs => self.delay_ms.is_some(),
            Param::Ratio => self.ratio.is_some(),
            Param::Message => self.message.is_some(),
            Param::Factor => self.factor.is_some(),
            Param::Fail => self.fail.is_some(),
            Param::AfterS => self.after_s.is_some(),
            Param::WhPerH => self.wh_per_h.is_some(),
            Param::JitterMs => self.jitter_ms.is_some(),
            Param::KbitPerS => self.kbit_per_s.is_some(),
        }
    }

    fn targets(&self) -> usize {
        usize::from(self.connector.is_some())
            + usize::from(self.connectors.is_some())
            + usize::from(self.charger.is_some())
            + usize::from(self.station.is_some())
            + usize::from(self.fraction.is_some())
            + usize::from(self.all)
    }

    /// Every problem in this entry.
    pub fn validate(&self, e: &mut Errors) {
        if self.at.is_none() && self.when.is_none() {
            e.push(
                "",
                "needs `at = \"30s\"` or `when = \"connector 3 charging\"`",
            );
        }
        if let Some(w) = &self.when
            && let Err(msg) = Condition::parse(w)
        {
            e.push("when", msg);
        }
        if let Some(name) = &self.name {
            e.non_empty("name", name);
        }
        let action = self.action.name();
        match (self.action.scope(), self.targets()) {
            (Scope::Fleet, 0) | (Scope::Connector | Scope::Charger, 1) => {}
            (Scope::Fleet, _) => e.push(
                "action",
                format!("{action} acts on the whole fleet and takes no target"),
            ),
            (_, 0) => e.push(
                "action",
                format!(
                    "{action} needs a target: connector, connectors, charger, station, fraction or all = true"
                ),
            ),
            (_, _) => e.push("", "give exactly one target"),
        }
        if let Some(f) = self.fraction {
            e.range("fraction", f, 0.0, 1.0);
        }
        if self.connectors.as_ref().is_some_and(Vec::is_empty) {
            e.push("connectors", "needs at least one connector id");
        }
        let (allowed, required) = self.action.params();
        for p in [
            Param::Duration,
            Param::ResistanceKohm,
            Param::DelayMs,
            Param::Ratio,
            Param::Message,
            Param::Factor,
            Param::Fail,
            Param::AfterS,
            Param::WhPerH,
            Param::JitterMs,
            Param::KbitPerS,
        ] {
            if self.has(p) && !allowed.contains(&p) {
                e.push(p.key(), format!("is not a parameter of {action}"));
            }
            if !self.has(p) && required.contains(&p) {
                e.push(p.key(), format!("{action} needs it"));
            }
        }
        self.validate_values(e);
    }

    fn validate_values(&self, e: &mut Errors) {
        if let Some(r) = self.resistance_kohm {
            e.range("resistance_kohm", r, 0.0, 100_000.0);
        }
        if let Some(d) = self.delay_ms {
            e.range("delay_ms", d, 0.0, 3_600_000.0);
        }
        if let Some(r) = self.ratio {
            e.range("ratio", r, 0.0, 1.0);
        }
        if let Some(f) = self.factor {
            e.range("factor", f, 0.0, 1000.0);
        }
        if let Some(a) = self.after_s {
            e.range("after_s", a, 0.0, 86_400.0);
        }
        if let Some(w) = self.wh_per_h {
            // A meter register never runs backwards: the drift over-reads.
            e.range("wh_per_h", w, 0.0, 1_000_000.0);
        }
        if let Some(j) = self.jitter_ms {
            e.range("jitter_ms", j, 0.0, 3_600_000.0);
        }
        if let Some(k) = self.kbit_per_s {
            e.range("kbit_per_s", k, 0.001, 100_000_000.0);
        }
        if let Some(m) = &self.message {
            e.non_empty("message", m);
        }
        if self.duration.is_some_and(|d| d.0.micros == 0) {
            e.push("duration", "must be longer than zero");
        }
    }
}

/// What an `[[expect]]` entry checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectKind {
    /// Every connector the `after` entry hit ends its session with `reason` within
    /// `within_s`, and (with MQTT) the backend confirms its StopTransaction in that time.
    StopTransaction,
    /// The platform receives `notification_alarmInfo` with AlarmCode `code` within
    /// `within_s` (of the `after` entry; one per connector it hit).
    Alarm,
    /// Every transaction the chargers ended was confirmed by the backend and booked once.
    TransactionsConfirmedOnce,
    /// The p99 latency of `message` is at most `p99_ms`.
    Latency,
    /// Errors per message (of `protocol`, or all) stay at most `max_percent`.
    ErrorRate,
    /// No connector stays in `state` longer than `max_s`.
    NoStuckState,
    /// The platform's data is complete again within `within_s` of the end of the `after`
    /// entry (a platform outage with a `duration`): the pushes it refused were re-sent and
    /// accepted, or what the operator gave up was recovered with `supplement_collect`.
    DataCompleted,
    /// The energy every session's charger reported (meter values, StopTransaction) is
    /// within `max_percent` of the energy delivered: a stuck or drifting meter fails it.
    MeterMismatch,
}

/// One `[[expect]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// What is checked.
    pub kind: ExpectKind,
    /// The assertion's name in the report (default: `expect.<kind>[<index>]`).
    #[serde(default)]
    pub name: Option<String>,
    /// `stop_transaction`: the stop reason (see [`STOP_REASONS`]).
    #[serde(default)]
    pub reason: Option<String>,
    /// Time allowed after the `after` entry fired, s.
    #[serde(default)]
    pub within_s: Option<f64>,
    /// The timeline entry (its `name` or action) the time is counted from.
    #[serde(default)]
    pub after: Option<String>,
    /// `alarm`: the T/CEC AlarmCode.
    #[serde(default)]
    pub code: Option<u32>,
    /// `latency`: the message (a latency series such as `BootNotification` or
    /// `mqtt.BootNotificationReq`).
    #[serde(default)]
    pub message: Option<String>,
    /// `latency`: the largest acceptable p99, ms.
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// `error_rate`: the largest acceptable share of errors per message, %.
    #[serde(default)]
    pub max_percent: Option<f64>,
    /// `error_rate`: count only this protocol's errors and messages (`mqtt`, `http`, `can`).
    #[serde(default)]
    pub protocol: Option<String>,
    /// `no_stuck_state`: the state (see [`STATES`]).
    #[serde(default)]
    pub state: Option<String>,
    /// `no_stuck_state`: the longest acceptable time in it, s.
    #[serde(default)]
    pub max_s: Option<f64>,
}

impl Expectation {
    /// Every problem in this expectation; `labels` are the timeline's labels.
    pub fn validate(&self, e: &mut Errors, labels: &[&str]) {
        self.validate_required(e);
        self.validate_values(e, labels);
    }

    fn validate_required(&self, e: &mut Errors) {
        use ExpectKind as K;
        let need = |e: &mut Errors, key: &str, present: bool| {
            if !present {
                e.push(key, format!("{:?} needs it", self.kind));
            }
        };
        match self.kind {
            K::StopTransaction => {
                need(e, "reason", self.reason.is_some());
                need(e, "within_s", self.within_s.is_some());
                need(e, "after", self.after.is_some());
            }
            K::Alarm => {
                need(e, "code", self.code.is_some());
                need(e, "within_s", self.within_s.is_some());
            }
            K::TransactionsConfirmedOnce => {}
            K::Latency => {
                need(e, "message", self.message.is_some());
                need(e, "p99_ms", self.p99_ms.is_some());
            }
            K::ErrorRate => need(e, "max_percent", self.max_percent.is_some()),
            K::NoStuckState => {
                need(e, "state", self.state.is_some());
                need(e, "max_s", self.max_s.is_some());
            }
            K::MeterMismatch => need(e, "max_percent", self.max_percent.is_some()),
            K::DataCompleted => {
                need(e, "within_s", self.within_s.is_some());
                need(e, "after", self.after.is_some());
            }
        }
    }

    fn validate_values(&self, e: &mut Errors, labels: &[&str]) {
        if let Some(r) = &self.reason
            && !STOP_REASONS.contains(&r.as_str())
        {
            e.push(
                "reason",
                format!("{r:?} is not one of {}", STOP_REASONS.join(", ")),
            );
        }
        if let Some(s) = &self.state
            && state_name(s).is_none()
        {
            e.push(
                "state",
                format!("{s:?} is not one of {}", STATES.join(", ")),
            );
        }
        if let Some(a) = &self.after {
            match labels.iter().filter(|l| **l == a).count() {
                0 => e.push(
                    "after",
                    format!(
                        "no timeline entry is named {a:?}; known: {}",
                        labels.join(", ")
                    ),
                ),
                1 => {}
                n => e.push(
                    "after",
                    format!("{n} timeline entries are labelled {a:?}; give them distinct names"),
                ),
            }
        }
        for (key, v, hi) in [
            ("within_s", self.within_s, 86_400.0),
            ("p99_ms", self.p99_ms, 3_600_000.0),
            ("max_percent", self.max_percent, 100.0),
            ("max_s", self.max_s, 86_400.0 * 30.0),
        ] {
            if let Some(v) = v {
                e.range(key, v, 0.0, hi);
            }
        }
        if let Some(c) = self.code {
            e.range("code", f64::from(c), 1.0, 999.0);
        }
    }
}

/// Checks the `[[timeline]]` and `[[expect]]` arrays of a scenario.
pub fn validate(timeline: &[TimelineEntry], expect: &[Expectation], e: &mut Errors) {
    for (i, t) in timeline.iter().enumerate() {
        e.nested(&format!("timeline[{i}]"), |e| t.validate(e));
    }
    let labels: Vec<&str> = timeline.iter().map(TimelineEntry::label).collect();
    for (i, x) in expect.iter().enumerate() {
        e.nested(&format!("expect[{i}]"), |e| x.validate(e, &labels));
    }
}

#[cfg(test)]
mod tests;
