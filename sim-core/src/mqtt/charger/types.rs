//! The public value types of the charger client: identity, configuration, application inputs,
//! events and transport outputs.

use proto::mqtt::control::ResetKind;
use proto::mqtt::pb;
use proto::mqtt::topic::{QoS, TopicClass};
use proto::mqtt::{MessageCode, Seq};

use crate::mqtt::clock::WallClock;
use crate::time::Duration;

/// Who the charger is: burnt in at production, except the device id, which registration
/// assigns once and the charger keeps ("registered once, identity kept").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargerIdentity {
    /// Seed 设备序列号: the serial number, the id of the registration topics.
    pub serial: String,
    /// Seed 设备型号: the product model.
    pub model: String,
    /// Seed 供应商代码: the vendor code.
    pub vendor: String,
    /// Seed 注册码: the registration code of the model.
    pub registration_code: String,
    /// The firmware version reported at every login.
    pub firmware_version: String,
    /// Number of connectors, numbered 1..=connectors.
    pub connectors: u32,
    /// AC or DC (DC chargers add the BMS block to ChargingInfoReq).
    pub kind: pb::ChargerKind,
    /// Rated output power.
    pub rated_power_w: u32,
    /// Seed 设备识别号, when the charger registered in an earlier run; `None` registers first.
    pub device_id: Option<String>,
}

impl ChargerIdentity {
    /// A one-connector AC charger with the given serial and registration code (tests, examples).
    pub fn ac(serial: &str, registration_code: &str) -> Self {
        ChargerIdentity {
            serial: serial.to_owned(),
            model: "CS-AC7".to_owned(),
            vendor: "chargestorm".to_owned(),
            registration_code: registration_code.to_owned(),
            firmware_version: "1.0.0".to_owned(),
            connectors: 1,
            kind: pb::ChargerKind::Ac,
            rated_power_w: 7_000,
            device_id: None,
        }
    }
}

/// Protocol settings of one charger. The rw configuration keys (HeartbeatInterval, ...) start
/// from these values and ChangeConfigurationReq updates them.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Unix time and local time of day of virtual time (timestamps, tariff segments).
    pub clock: WallClock,
    /// How long a request waits for its confirmation.
    pub response_timeout: Duration,
    /// Wait before re-sending a registration that was refused or timed out.
    pub registration_retry: Duration,
    /// Login retry when BootNotificationConf gives no interval (or the boot timed out).
    pub boot_retry: Duration,
    /// MQTT keep-alive (key `HeartbeatInterval`; seed: keep-alive by MQTT ping only).
    pub heartbeat_interval: Duration,
    /// Period of the connector TelemetryReq (key `TelemetryInterval`); zero disables.
    pub telemetry_interval: Duration,
    /// Period of ChargingInfoReq while charging (key `ChargingInfoInterval`); zero disables.
    pub charging_info_interval: Duration,
    /// Attempts for one transaction message before it is parked: out of the line and retried
    /// at the longest interval (key `TransactionMessageAttempts`; OCPP 1.6 §3.7.1). Never
    /// discarded.
    pub transaction_attempts: u32,
    /// Wait before re-sending a transaction message, multiplied by the attempts so far
    /// (key `TransactionMessageRetryInterval`).
    pub transaction_retry_interval: Duration,
    /// Seed: how long a remote start waits for the cable (key `PlugInTimeout`).
    pub plug_in_timeout: Duration,
    /// Authorize from the ID-card cache while offline (key `LocalAuthorizeOffline`).
    pub local_authorize_offline: bool,
    /// Most cards the cache holds.
    pub card_cache_capacity: usize,
    /// First reconnect delay; doubles (jittered) up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// How long a reboot (Reset, firmware install) keeps the charger off the network.
    pub reboot_duration: Duration,
    /// Simulated firmware download time.
    pub firmware_download: Duration,
    /// Simulated firmware installation time.
    pub firmware_install: Duration,
    /// Simulated diagnostics upload time.
    pub diagnostics_upload: Duration,
    /// Warning records kept for GetWarningReq.
    pub warning_log_capacity: usize,
    /// Ask for the tariff (empty SetTariffReq) after every login (seed 计费模版 way 1).
    pub request_tariff_on_boot: bool,
    /// Largest inbound APDU payload accepted.
    pub max_payload_len: usize,
    /// Key `ServerAddress`.
    pub server_address: String,
    /// Key `Username`.
    pub username: String,
    /// Key `Password` (write-only: GetConfiguration shows it masked).
    pub password: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            clock: WallClock::default(),
            response_timeout: Duration::from_secs(30),
            registration_retry: Duration::from_secs(60),
            boot_retry: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(60),
            telemetry_interval: Duration::from_secs(60),
            charging_info_interval: Duration::from_secs(15),
            transaction_attempts: 5,
            transaction_retry_interval: Duration::from_secs(10),
            plug_in_timeout: Duration::from_secs(60),
            local_authorize_offline: true,
            card_cache_capacity: 1_000,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            reboot_duration: Duration::from_secs(10),
            firmware_download: Duration::from_secs(20),
            firmware_install: Duration::from_secs(30),
            diagnostics_upload: Duration::from_secs(5),
            warning_log_capacity: 256,
            request_tariff_on_boot: true,
            max_payload_len: proto::mqtt::apdu::DEFAULT_MAX_PAYLOAD_LEN,
            server_address: "127.0.0.1:1883".to_owned(),
            username: String::new(),
            password: String::new(),
        }
    }
}

/// How a user identified themselves (seed 充电服务: 扫码, 蓝牙, 刷卡, 车辆识别).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdToken {
    /// An ID card number (刷卡).
    Card(String),
    /// The vehicle VIN from the BMS (车辆识别).
    Vin(String),
    /// An app account after scanning the QR code (扫码).
    App(String),
}

impl IdToken {
    /// The tag as sent in `id_tag`.
    pub fn tag(&self) -> &str {
        match self {
            IdToken::Card(t) | IdToken::Vin(t) | IdToken::App(t) => t,
        }
    }

    /// The wire kind.
    pub fn kind(&self) -> pb::IdTagKind {
        match self {
            IdToken::Card(_) => pb::IdTagKind::Card,
            IdToken::Vin(_) => pb::IdTagKind::Vin,
            IdToken::App(_) => pb::IdTagKind::App,
        }
    }
}

/// A connector measurement from the charger's physics, passed to `sample`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// Output voltage.
    pub voltage_v: f64,
    /// Output current.
    pub current_a: f64,
    /// Active power.
    pub power_w: f64,
    /// The meter's energy register (cumulative, not per session).
    pub energy_wh: f64,
    /// Vehicle state of charge, if known (DC).
    pub soc_pct: Option<f64>,
    /// Connector temperature.
    pub temperature_c: f64,
    /// Whether the output contactor is closed.
    pub contactor_closed: bool,
    /// Vehicle's estimate of the remaining time, if known.
    pub remaining_s: Option<u32>,
}

/// The charger-side record number of a transaction (seed 桩端记录号), unique per charger.
pub type RecordId = u32;

/// What the charger tells the application (its connectors and the fleet engine).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Registration succeeded; the device id is kept from now on.
    Registered {
        /// Seed 设备识别号.
        device_id: String,
    },
    /// Registration was refused; retried after `registration_retry`.
    RegistrationRejected {
        /// The backend's status.
        status: pb::RegistrationStatus,
    },
    /// Login accepted: business messages may flow.
    BootAccepted,
    /// Login refused or pending; the charger retries after `retry_in`.
    BootRejected {
        /// REJECTED or PENDING.
        status: pb::BootStatus,
        /// When the next login is sent.
        retry_in: Duration,
    },
    /// The result of `authorize`.
    Authorized {
        /// The connector it was asked for.
        connector: u32,
        /// The tag.
        id_tag: String,
        /// How the user was identified.
        kind: pb::IdTagKind,
        /// Whether it may charge.
        accepted: bool,
        /// Decided from the local cache (offline, or the backend did not answer).
        offline: bool,
    },
    /// The backend asked to start charging; the application starts the session (now if the
    /// vehicle is plugged in, else when it is, within `plug_in_timeout`).
    RemoteStart {
        /// The connector.
        connector: u32,
        /// The user's tag.
        id_tag: String,
        /// The mode and target.
        plan: pb::ChargingPlan,
        /// How long the charger waits for the cable.
        plug_in_timeout: Duration,
    },
    /// A remote start was not followed by `start_transaction` in time (seed: wait-for-plug
    /// timeout); the connector is free again.
    RemoteStartExpired {
        /// The connector.
        connector: u32,
    },
    /// The backend asked to stop a transaction; the application stops it and calls
    /// `stop_transaction` with reason REMOTE.
    RemoteStop {
        /// The connector.
        connector: u32,
        /// The transaction.
        record_id: RecordId,
    },
    /// The transaction must stop: its target was reached or the backend de-authorized it.
    StopRequested {
        /// The connector.
        connector: u32,
        /// The transaction.
        record_id: RecordId,
        /// The reason to pass to `stop_transaction`.
        reason: pb::StopReason,
    },
    /// StartTransactionConf arrived.
    TransactionStarted {
        /// The record.
        record_id: RecordId,
        /// The backend's transaction id.
        transaction_id: u32,
        /// Whether the backend accepted the tag.
        accepted: bool,
    },
    /// The backend confirmed the end of a transaction (StopTransactionConf or TransactionConf);
    /// the record left the outbox.
    TransactionConfirmed {
        /// The record.
        record_id: RecordId,
        /// The backend's transaction id.
        transaction_id: u32,
        /// Reported as an offline order.
        offline_order: bool,
    },
    /// A Reset was accepted: the application stops running sessions now (reason HARD_RESET or
    /// SOFT_RESET); the charger then reboots and logs in again.
    Reset {
        /// System (hard) or program (soft).
        kind: ResetKind,
    },
    /// The charger finished a reboot and is about to reconnect.
    Rebooted {
        /// Why it rebooted.
        reason: pb::BootReason,
    },
    /// A configuration key changed.
    ConfigurationChanged {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// A tariff template was accepted.
    TariffChanged {
        /// Its id.
        tariff_id: u32,
    },
    /// A reservation was accepted.
    ReservationMade {
        /// The connector held.
        connector: u32,
        /// The reservation id.
        reservation_id: u32,
    },
    /// A reservation ended without being used (cancelled or expired).
    ReservationEnded {
        /// The connector.
        connector: u32,
        /// The reservation id.
        reservation_id: u32,
        /// True when it expired, false when the backend cancelled it.
        expired: bool,
    },
    /// A firmware update moved to a new step.
    Firmware {
        /// The step.
        status: pb::FirmwareStatus,
        /// The version concerned.
        version: String,
    },
    /// A diagnostics upload moved to a new step.
    Diagnostics {
        /// The step.
        status: pb::DiagnosticsStatus,
    },
    /// The ID-card cache changed.
    CardCacheUpdated {
        /// The list version now held.
        list_version: u32,
        /// Cards now cached.
        cards: usize,
    },
    /// RemoteControlReq Debug.
    Debug {
        /// On or off.
        on: bool,
    },
}

/// What the charger asks of its MQTT transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportCommand {
    /// Open the connection now (the back-off delay, if any, has passed).
    Connect,
    /// Close the connection now (reboot).
    Disconnect,
}

/// One publish for the transport: the topic is `/U/<class>/<id>` with the serial number for
/// class R and the device id for C and M.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The topic class.
    pub class: TopicClass,
    /// The QoS to publish with.
    pub qos: QoS,
    /// The APDU's sequence number.
    pub seq: Seq,
    /// The APDU's message code.
    pub code: MessageCode,
    /// The encoded APDU (give the buffer back with `recycle` once published).
    pub payload: Vec<u8>,
}

/// Why an application call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connector number is not 1..=connectors.
    #[error("connector {connector} does not exist")]
    NoSuchConnector {
        /// The number given.
        connector: u32,
    },
    /// The connector already has a running transaction.
    #[error("connector {connector} is busy with record {record_id}")]
    ConnectorBusy {
        /// The connector.
        connector: u32,
        /// Its running record.
        record_id: RecordId,
    },
    /// No running transaction has this record id.
    #[error("no running transaction with record {record_id}")]
    NoSuchTransaction {
        /// The id given.
        record_id: RecordId,
    },
    /// The connector is reserved for another tag.
    #[error("connector {connector} is reserved for another tag")]
    Reserved {
        /// The connector.
        connector: u32,
    },
}
