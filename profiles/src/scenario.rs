//! Scenario files: the fleet, the users, and how long to run.

use crate::duration::HumanDuration;
use crate::validate::Errors;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A scenario file (`profiles/scenarios/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name, seed and length of the run.
    pub scenario: ScenarioMeta,
    /// The chargers: a named fleet file or inline groups.
    pub fleet: FleetRef,
    /// How drivers arrive, what they drive and how they charge.
    #[serde(default)]
    pub traffic: TrafficSpec,
    /// The GB/T 27930 CAN segment of every DC connector.
    #[serde(default)]
    pub can: CanSpec,
    /// The charger-to-backend MQTT protocol (seed 004).
    #[serde(default)]
    pub mqtt: MqttSpec,
    /// The operator-to-platform HTTP protocol (T/CEC 102 / DB4403/T 77).
    #[serde(default)]
    pub http: HttpSpec,
    /// Faults and load changes at times or on conditions (`[[timeline]]`).
    #[serde(default)]
    pub timeline: Vec<crate::timeline::TimelineEntry>,
    /// What the backend and platform must show (`[[expect]]`); each is a report assertion.
    #[serde(default)]
    pub expect: Vec<crate::timeline::Expectation>,
}

/// Where the operator platform's HTTP traffic goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HttpTransport {
    /// The reference monitoring platform in-process on an in-memory network (deterministic).
    #[default]
    Memory,
    /// Real HTTP: the platform at `platform_url` (or the reference one started locally).
    Network,
}

/// The operator-platform side of T/CEC 102 / DB4403/T 77 for the whole fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// Run the protocol (the fleet's operator platform pushes to a monitoring platform).
    #[serde(default)]
    pub enabled: bool,
    /// In-process or real HTTP.
    #[serde(default)]
    pub transport: HttpTransport,
    /// The monitoring platform's base URL for `transport = "network"`
    /// (`http(s)://host:port`), or `reference` to start chargestorm's own.
    #[serde(default)]
    pub platform_url: Option<String>,
    /// The fleet operator's OperatorID (9 characters).
    #[serde(default = "default_operator_id")]
    pub operator_id: String,
    /// One-way latency of the in-memory network, ms.
    #[serde(default = "default_http_latency")]
    pub latency_ms: f64,
    /// How often the platform polls `query_stations_status`, s (0: never).
    #[serde(default)]
    pub poll_status_s: u32,
    /// How often connectors' live values are refreshed into the operator's mirror while
    /// charging, s.
    #[serde(default = "default_refresh")]
    pub refresh_s: u32,
    /// Faults of the reference platform.
    #[serde(default)]
    pub platform_faults: PlatformFaultSpec,
}

fn default_operator_id() -> String {
    "MA5DA0053".into()
}
fn default_http_latency() -> f64 {
    20.0
}
fn default_refresh() -> u32 {
    15
}

impl Default for HttpSpec {
    fn default() -> Self {
        HttpSpec {
            enabled: false,
            transport: HttpTransport::Memory,
            platform_url: None,
            operator_id: default_operator_id(),
            latency_ms: default_http_latency(),
            poll_status_s: 0,
            refresh_s: default_refresh(),
            platform_faults: PlatformFaultSpec::default(),
        }
    }
}

/// Faults of the reference monitoring platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlatformFaultSpec {
    /// Added to every response, ms.
    #[serde(default)]
    pub response_delay_ms: f64,
    /// Fraction of requests answered with HTTP 500.
    #[serde(default)]
    pub error_500_ratio: f64,
    /// Fraction of requests answered Ret -1 (busy).
    #[serde(default)]
    pub busy_ratio: f64,
    /// Fraction of responses with a wrong signature.
    #[serde(default)]
    pub wrong_signature_ratio: f64,
    /// Tokens expire this many seconds after issue (0: the normal lifetime).
    #[serde(default)]
    pub expire_tokens_after_s: u32,
}

/// Where charger MQTT traffic goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MqttTransport {
    /// An in-process broker on virtual time with a latency/loss model (deterministic; the
    /// only choice at `--speed max`).
    #[default]
    Memory,
    /// A real MQTT broker: `broker_url`, `--broker`, or the embedded one.
    Broker,
}

/// Which backend the chargers talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// chargestorm's reference backend, in-process.
    #[default]
    Reference,
    /// A backend under test reached through the broker; app starts fall back to cards.
    External,
}

/// The charger-to-backend MQTT protocol of every charger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSpec {
    /// Run the protocol (every charger is an MQTT client).
    #[serde(default)]
    pub enabled: bool,
    /// In-process broker or a real one.
    #[serde(default)]
    pub transport: MqttTransport,
    /// `mqtt://HOST:PORT`, `mqtts://…` or `embedded` for `transport = "broker"`.
    #[serde(default)]
    pub broker_url: Option<String>,
    /// Reference backend or a backend under test.
    #[serde(default)]
    pub backend: BackendKind,
    /// The registration code every charger presents (seed 注册码).
    #[serde(default = "default_registration_code")]
    pub registration_code: String,
    /// Chargers connecting per second at the start (0: all at once).
    #[serde(default)]
    pub connect_ramp_per_s: f64,
    /// One-way latency of the in-process broker's links, ms.
    #[serde(default = "default_latency")]
    pub latency_ms: f64,
    /// Uniform extra latency, ms.
    #[serde(default = "default_jitter")]
    pub jitter_ms: f64,
    /// Loss of QoS 0 telemetry on the in-process broker, %.
    #[serde(default)]
    pub qos0_loss_pct: f64,
    /// TelemetryReq period, s.
    #[serde(default = "default_telemetry")]
    pub telemetry_interval_s: u32,
    /// TelemetryReq period in ms; when given it replaces `telemetry_interval_s` (the
    /// sub-second periods of the telemetry rate benchmark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_interval_ms: Option<u32>,
    /// ChargingInfoReq period while charging, s.
    #[serde(default = "default_charging_info")]
    pub charging_info_interval_s: u32,
    /// MQTT keep-alive, s.
    #[serde(default = "default_keepalive")]
    pub heartbeat_interval_s: u32,
    /// How long a request waits for its confirmation, s.
    #[serde(default = "default_response_timeout")]
    pub response_timeout_s: u32,
    /// Size of the pool of driver ID cards the backend knows.
    #[serde(default = "default_cards")]
    pub cards: u32,
    /// Fraction of card swipes with a card the backend does not know.
    #[serde(default)]
    pub invalid_card_ratio: f64,
    /// Faults of the reference backend.
    #[serde(default)]
    pub backend_faults: BackendFaultSpec,
    /// Commands per second the reference backend sends on its own, round-robin over the
    /// registered chargers (GetConfigurationReq at QoS 2, answered by every charger): the
    /// command-rate benchmark's load. 0: none.
    #[serde(default)]
    pub command_rate_per_s: f64,
}

fn default_registration_code() -> String {
    "CS-REG-2026".into()
}
fn default_latency() -> f64 {
    5.0
}
fn default_jitter() -> f64 {
    2.0
}
fn default_telemetry() -> u32 {
    60
}
fn default_charging_info() -> u32 {
    15
}
fn default_keepalive() -> u32 {
    60
}
fn default_response_timeout() -> u32 {
    30
}
fn default_cards() -> u32 {
    1000
}

impl Default for MqttSpec {
    fn default() -> Self {
        MqttSpec {
            enabled: false,
            transport: MqttTransport::Memory,
            broker_url: None,
            backend: BackendKind::Reference,
            registration_code: default_registration_code(),
            connect_ramp_per_s: 0.0,
            latency_ms: default_latency(),
            jitter_ms: default_jitter(),
            qos0_loss_pct: 0.0,
            telemetry_interval_s: default_telemetry(),
            telemetry_interval_ms: None,
            charging_info_interval_s: default_charging_info(),
            heartbeat_interval_s: default_keepalive(),
            response_timeout_s: default_response_timeout(),
            cards: default_cards(),
            invalid_card_ratio: 0.0,
            backend_faults: BackendFaultSpec::default(),
            command_rate_per_s: 0.0,
        }
    }
}

/// Faults of the reference backend (for tests of the chargers' and the report's reactions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BackendFaultSpec {
    /// Added to every response, ms.
    #[serde(default)]
    pub response_delay_ms: f64,
    /// Uniform extra response delay, ms.
    #[serde(default)]
    pub response_jitter_ms: f64,
    /// Fraction of logins rejected.
    #[serde(default)]
    pub reject_boot_ratio: f64,
    /// Fraction of responses silently not sent.
    #[serde(default)]
    pub drop_response_ratio: f64,
    /// Fraction of responses with a malformed payload.
    #[serde(default)]
    pub malformed_ratio: f64,
    /// Requests the backend never answers, by message name (e.g. `StopTransactionReq`).
    #[serde(default)]
    pub never_answer: Vec<String>,
}

/// The GB/T 27930 CAN link between each DC connector and its vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanSpec {
    /// Run a full GB/T 27930 session over an in-process CAN segment per DC connector;
    /// `false` couples charger and battery directly (physics-only runs).
    #[serde(default = "default_can_enabled")]
    pub enabled: bool,
    /// Bus bit rate, bit/s (250 kbit/s per GB/T 27930; 50 kbit/s for harsh environments).
    #[serde(default = "default_bitrate")]
    pub bitrate_bps: u32,
}

fn default_can_enabled() -> bool {
    true
}
fn default_bitrate() -> u32 {
    250_000
}

impl Default for CanSpec {
    fn default() -> Self {
        CanSpec {
            enabled: default_can_enabled(),
            bitrate_bps: default_bitrate(),
        }
    }
}

/// Name, seed and length of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioMeta {
    /// Scenario name, shown in reports.
    pub name: String,
    /// What the scenario exercises.
    #[serde(default)]
    pub description: String,
    /// Default root seed; `--seed` overrides it. Without either, a random seed is printed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Simulated duration (e.g. `"2h"`); `--duration` overrides it.
    #[serde(default = "default_duration")]
    pub duration: Dur,
    /// Civil time at virtual time zero, as a TOML offset date-time.
    #[serde(default = "default_start")]
    pub start_at: toml::value::Datetime,
    /// Physics step of every connector while a vehicle is connected, ms.
    #[serde(default = "default_tick")]
    pub physics_tick_ms: u64,
}

fn default_duration() -> Dur {
    Dur(HumanDuration {
        micros: 3_600_000_000,
    })
}
fn default_start() -> toml::value::Datetime {
    // A Monday morning in China Standard Time.
    "2026-01-05T08:00:00+08:00"
        .parse()
        .expect("constant date-time literal is valid")
}
fn default_tick() -> u64 {
    100
}

/// A [`HumanDuration`] in a TOML string (`"90s"`, `"1h30m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub HumanDuration);

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        HumanDuration::parse(&text)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// The fleet of a scenario: a fleet file by name, or groups written inline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetRef {
    /// A fleet profile by name (`profiles/fleets/<name>.toml`) or path ending in `.toml`.
    #[serde(default, rename = "use")]
    pub use_fleet: Option<String>,
    /// Inline groups; used when `use` is absent.
    #[serde(default)]
    pub groups: Vec<FleetGroup>,
    /// Prefix of charger serial numbers.
    #[serde(default = "default_serial_prefix")]
    pub serial_prefix: String,
}

fn default_serial_prefix() -> String {
    "CS".into()
}

/// A fleet file (`profiles/fleets/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetProfile {
    /// Fleet name.
    pub name: String,
    /// What this fleet is.
    #[serde(default)]
    pub description: String,
    /// The charger groups, in id order.
    pub groups: Vec<FleetGroup>,
}

/// A group of identical chargers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetGroup {
    /// Group name, shown in reports.
    pub name: String,
    /// A charger profile by name or path ending in `.toml`.
    pub charger: String,
    /// How many chargers.
    pub count: u32,
    /// Chargers per station (site); stations are numbered across the fleet.
    #[serde(default = "default_per_station")]
    pub chargers_per_station: u32,
    /// Overrides the scenario's arrival rate for this group.
    #[serde(default)]
    pub arrivals_per_connector_per_h: Option<f64>,
    /// Overrides the scenario's vehicle mix for this group.
    #[serde(default)]
    pub vehicle_mix: Option<Vec<VehicleShare>>,
}

fn default_per_station() -> u32 {
    10
}

/// One vehicle profile's share of arrivals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleShare {
    /// A vehicle profile by name or path ending in `.toml`.
    pub vehicle: String,
    /// Relative weight (need not sum to 1).
    pub weight: f64,
}

/// An inclusive range sampled uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Lowest value.
    pub min: f64,
    /// Highest value.
    pub max: f64,
}

impl Range {
    fn validate(&self, e: &mut Errors, field: &str, lo: f64, hi: f64) {
        e.nested(field, |e| {
            e.range("min", self.min, lo, hi);
            e.range("max", self.max, lo, hi);
            if self.min > self.max {
                e.push("min", format!("{} is above max {}", self.min, self.max));
            }
        });
    }
}

/// How users start a session (the three flows of seed 002).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartMix {
    /// QR code scan or app: the backend starts the charger remotely.
    #[serde(default = "default_app")]
    pub app: f64,
    /// RFID card swiped at the charger.
    #[serde(default = "default_card")]
    pub card: f64,
    /// Plug and charge by the vehicle's VIN (DC only; AC falls back to app).
    #[serde(default = "default_vin")]
    pub vin: f64,
}

fn default_app() -> f64 {
    0.6
}
fn default_card() -> f64 {
    0.3
}
fn default_vin() -> f64 {
    0.1
}

impl Default for StartMix {
    fn default() -> Self {
        StartMix {
            app: default_app(),
            card: default_card(),
            vin: default_vin(),
        }
    }
}

/// Drivers: arrivals, vehicles, and charging behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// Mean arrivals per connector per hour (Poisson, scaled by the time-of-day profile).
    #[serde(default = "default_rate")]
    pub arrivals_per_connector_per_h: f64,
    /// Relative arrival intensity for each hour of the day, 24 values (mean-normalised).
    #[serde(default)]
    pub time_of_day_weights: Option<Vec<f64>>,
    /// Fraction of connectors with a vehicle already plugged in at time zero.
    #[serde(default)]
    pub initial_occupancy: f64,
    /// Vehicles and their shares.
    #[serde(default = "default_mix")]
    pub vehicle_mix: Vec<VehicleShare>,
    /// State of charge on arrival, %.
    #[serde(default = "default_arrival_soc")]
    pub arrival_soc_pct: Range,
    /// State of charge the driver wants, %.
    #[serde(default = "default_target_soc")]
    pub target_soc_pct: Range,
    /// Longest the driver stays plugged, minutes; charging stops when it runs out.
    #[serde(default = "default_dwell")]
    pub dwell_min: Range,
    /// Seconds from plugging in to starting (scanning, swiping).
    #[serde(default = "default_plug_to_start")]
    pub plug_to_start_s: Range,
    /// Seconds from the end of charging to unplugging.
    #[serde(default = "default_leave")]
    pub stop_to_unplug_s: Range,
    /// How drivers start.
    #[serde(default)]
    pub start_methods: StartMix,
}

fn default_rate() -> f64 {
    0.5
}
fn default_mix() -> Vec<VehicleShare> {
    vec![
        VehicleShare {
            vehicle: "lfp-car-60kwh".into(),
            weight: 3.0,
        },
        VehicleShare {
            vehicle: "ncm-car-75kwh".into(),
            weight: 2.0,
        },
        VehicleShare {
            vehicle: "ncm-800v-90kwh".into(),
            weight: 1.0,
        },
    ]
}
fn default_arrival_soc() -> Range {
    Range {
        min: 10.0,
        max: 50.0,
    }
}
fn default_target_soc() -> Range {
    Range {
        min: 80.0,
        max: 100.0,
    }
}
fn default_dwell() -> Range {
    Range {
        min: 30.0,
        max: 240.0,
    }
}
fn default_plug_to_start() -> Range {
    Range {
        min: 5.0,
        max: 60.0,
    }
}
fn default_leave() -> Range {
    Range {
        min: 30.0,
        max: 600.0,
    }
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            arrivals_per_connector_per_h: default_rate(),
            time_of_day_weights: None,
            initial_occupancy: 0.0,
            vehicle_mix: default_mix(),
            arrival_soc_pct: default_arrival_soc(),
            target_soc_pct: default_target_soc(),
            dwell_min: default_dwell(),
            plug_to_start_s: default_plug_to_start(),
            stop_to_unplug_s: default_leave(),
            start_methods: StartMix::default(),
        }
    }
}

impl TrafficSpec {
    /// Every problem in this traffic spec (vehicle names are checked at resolution).
    pub fn validate(&self, e: &mut Errors) {
        e.range(
            "arrivals_per_connector_per_h",
            self.arrivals_per_connector_per_h,
            0.0,
            60.0,
        );
        if let Some(w) = &self.time_of_day_weights {
            if w.len() != 24 {
                e.push(
                    "time_of_day_weights",
                    format!("has {} values, needs 24", w.len()),
                );
            }
            if w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || w.iter().sum::<f64>() <= 0.0 {
                e.push(
                    "time_of_day_weights",
                    "needs non-negative values, not all zero",
                );
            }
        }
        e.range("initial_occupancy", self.initial_occupancy, 0.0, 1.0);
        validate_mix(e, "vehicle_mix", &self.vehicle_mix);
        self.arrival_soc_pct
            .validate(e, "arrival_soc_pct", 0.0, 100.0);
        self.target_soc_pct
            .validate(e, "target_soc_pct", 1.0, 100.0);
        if self.arrival_soc_pct.max > self.target_soc_pct.min {
            e.push(
                "arrival_soc_pct.max",
                "must not exceed target_soc_pct.min (every driver must want charge)",
            );
        }
        self.dwell_min
            .validate(e, "dwell_min", 1.0, 7.0 * 24.0 * 60.0);
        self.plug_to_start_s
            .validate(e, "plug_to_start_s", 0.0, 3600.0);
        self.stop_to_unplug_s
            .validate(e, "stop_to_unplug_s", 0.0, 24.0 * 3600.0);
        e.nested("start_methods", |e| {
            let m = &self.start_methods;
            for (name, v) in [("app", m.app), ("card", m.card), ("vin", m.vin)] {
                e.range(name, v, 0.0, 1e6);
            }
            if m.app + m.card + m.vin <= 0.0 {
                e.push("", "at least one start method needs a positive weight");
            }
        });
    }
}

/// Checks a vehicle mix's weights.
pub fn validate_mix(e: &mut Errors, field: &str, mix: &[VehicleShare]) {
    if mix.is_empty() {
        e.push(field, "needs at least one vehicle");
    }
    for (i, share) in mix.iter().enumerate() {
        e.nested(&format!("{field}[{i}]"), |e| {
            e.non_empty("vehicle", &share.vehicle);
            e.positive("weight", share.weight);
        });
    }
}

impl Scenario {
    /// Every problem in the scenario file itself (references are checked at resolution).
    pub fn validate(&self, e: &mut Errors) {
        e.nested("scenario", |e| {
            e.non_empty("name", &self.scenario.name);
            if self.scenario.duration.0.micros == 0 {
                e.push("duration", "must be longer than zero");
            }
            e.range(
                "physics_tick_ms",
                self.scenario.physics_tick_ms as f64,
                10.0,
                10_000.0,
            );
            if crate::civil::unix_seconds(&self.scenario.start_at).is_none() {
                e.push(
                    "start_at",
                    "needs a full date-time with an offset, e.g. 2026-01-05T08:00:00+08:00",
                );
            }
        });
        e.nested("fleet", |e| {
            match (&self.fleet.use_fleet, self.fleet.groups.is_empty()) {
                (None, true) => e.push(
                    "",
                    "needs `use = \"<fleet>\"` or at least one [[fleet.groups]]",
                ),
                (Some(_), false) => {
                    e.push("groups", "give either `use` or inline groups, not both")
                }
                _ => {
                    for (i, g) in self.fleet.groups.iter().enumerate() {
                        e.nested(&format!("groups[{i}]"), |e| g.validate(e));
                    }
                }
            }
        });
        e.nested("traffic", |e| self.traffic.validate(e));
        e.nested("mqtt", |e| {
            let m = &self.mqtt;
            e.non_empty("registration_code", &m.registration_code);
            e.range("connect_ramp_per_s", m.connect_ramp_per_s, 0.0, 1e6);
            e.range("latency_ms", m.latency_ms, 0.0, 60_000.0);
            e.range("jitter_ms", m.jitter_ms, 0.0, 60_000.0);
            e.range("qos0_loss_pct", m.qos0_loss_pct, 0.0, 100.0);
            e.range(
                "telemetry_interval_s",
                f64::from(m.telemetry_interval_s),
                0.0,
                86_400.0,
            );
            if let Some(ms) = m.telemetry_interval_ms {
                e.range("telemetry_interval_ms", f64::from(ms), 1.0, 86_400_000.0);
            }
            e.range("command_rate_per_s", m.command_rate_per_s, 0.0, 1e6);
            e.range(
                "charging_info_interval_s",
                f64::from(m.charging_info_interval_s),
                0.0,
                86_400.0,
            );
            e.range(
                "heartbeat_interval_s",
                f64::from(m.heartbeat_interval_s),
                1.0,
                65_535.0,
            );
            e.range(
                "response_timeout_s",
                f64::from(m.response_timeout_s),
                1.0,
                3_600.0,
            );
            e.range("cards", f64::from(m.cards), 1.0, 10_000_000.0);
            e.range("invalid_card_ratio", m.invalid_card_ratio, 0.0, 1.0);
            e.nested("backend_faults", |e| {
                let f = &m.backend_faults;
                e.range("response_delay_ms", f.response_delay_ms, 0.0, 3_600_000.0);
                e.range("response_jitter_ms", f.response_jitter_ms, 0.0, 3_600_000.0);
                e.range("reject_boot_ratio", f.reject_boot_ratio, 0.0, 1.0);
                e.range("drop_response_ratio", f.drop_response_ratio, 0.0, 1.0);
                e.range("malformed_ratio", f.malformed_ratio, 0.0, 1.0);
            });
        });
        e.nested("http", |e| {
            let h = &self.http;
            if h.operator_id.chars().count() != 9 {
                e.push(
                    "operator_id",
                    "an OperatorID has 9 characters (organisation code)",
                );
            }
            e.range("latency_ms", h.latency_ms, 0.0, 60_000.0);
            e.range("refresh_s", f64::from(h.refresh_s), 1.0, 3_600.0);
            e.nested("platform_faults", |e| {
                let f = &h.platform_faults;
                e.range("response_delay_ms", f.response_delay_ms, 0.0, 3_600_000.0);
                e.range("error_500_ratio", f.error_500_ratio, 0.0, 1.0);
                e.range("busy_ratio", f.busy_ratio, 0.0, 1.0);
                e.range("wrong_signature_ratio", f.wrong_signature_ratio, 0.0, 1.0);
            });
        });
        crate::timeline::validate(&self.timeline, &self.expect, e);
        e.nested("can", |e| {
            if ![50_000, 125_000, 250_000, 500_000].contains(&self.can.bitrate_bps) {
                e.push(
                    "bitrate_bps",
                    format!(
                        "{} is not 50000, 125000, 250000 or 500000",
                        self.can.bitrate_bps
                    ),
                );
            }
        });
    }
}

impl FleetGroup {
    /// Every problem in this group (the charger reference is checked at resolution).
    pub fn validate(&self, e: &mut Errors) {
        e.non_empty("name", &self.name);
        e.non_empty("charger", &self.charger);
        e.range("count", f64::from(self.count), 1.0, 10_000_000.0);
        e.range(
            "chargers_per_station",
            f64::from(self.chargers_per_station),
            1.0,
            1000.0,
        );
        if let Some(rate) = self.arrivals_per_connector_per_h {
            e.range("arrivals_per_connector_per_h", rate, 0.0, 60.0);
        }
        if let Some(mix) = &self.vehicle_mix {
            validate_mix(e, "vehicle_mix", mix);
        }
    }
}

impl FleetProfile {
    /// Every problem in this fleet file.
    pub fn validate(&self, e: &mut Errors) {
        e.non_empty("name", &self.name);
        if self.groups.is_empty() {
            e.push("groups", "needs at least one group");
        }
        for (i, g) in self.groups.iter().enumerate() {
            e.nested(&format!("groups[{i}]"), |e| g.validate(e));
        }
    }
}
