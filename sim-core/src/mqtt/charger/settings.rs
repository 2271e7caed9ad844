//! Configuration keys (seed 远程设置参数 / 获取远程设备参数): KeyValue with a read-only flag.
//!
//! Writable keys map onto [`ClientConfig`] fields; read-only keys report the identity. A
//! change to a read-only key is REJECTED, an unknown key NOT_SUPPORTED, a value that does not
//! parse REJECTED; the overall status is ACCEPTED only when every key was accepted, else the
//! first failure (charger.proto `ChangeConfigurationConf`).

use proto::mqtt::pb;

use super::types::{ChargerIdentity, ClientConfig};
use crate::time::Duration;

/// The protocol version the charger implements (seed v1.0.0).
pub const PROTOCOL_VERSION: &str = "1.0.0";

/// Every key, with whether it is read-only.
pub const KEYS: [(&str, bool); 19] = [
    ("HeartbeatInterval", false),
    ("TelemetryInterval", false),
    ("ChargingInfoInterval", false),
    ("TransactionMessageAttempts", false),
    ("TransactionMessageRetryInterval", false),
    ("PlugInTimeout", false),
    ("LocalAuthorizeOffline", false),
    ("ResponseTimeout", false),
    ("ServerAddress", false),
    ("Username", false),
    ("Password", false),
    ("SerialNumber", true),
    ("Model", true),
    ("Vendor", true),
    ("FirmwareVersion", true),
    ("ConnectorCount", true),
    ("ProtocolVersion", true),
    ("DeviceId", true),
    ("CardCacheVersion", true),
];

/// What the password reads as (it is write-only).
const MASK: &str = "********";

/// Reads `key`, or `None` if unknown.
pub fn read(
    key: &str,
    config: &ClientConfig,
    identity: &ChargerIdentity,
    cache_version: u32,
) -> Option<String> {
    let secs = |d: Duration| (d.as_micros() / 1_000_000).to_string();
    Some(match key {
        "HeartbeatInterval" => secs(config.heartbeat_interval),
        "TelemetryInterval" => secs(config.telemetry_interval),
        "ChargingInfoInterval" => secs(config.charging_info_interval),
        "TransactionMessageAttempts" => config.transaction_attempts.to_string(),
        "TransactionMessageRetryInterval" => secs(config.transaction_retry_interval),
        "PlugInTimeout" => secs(config.plug_in_timeout),
        "LocalAuthorizeOffline" => config.local_authorize_offline.to_string(),
        "ResponseTimeout" => secs(config.response_timeout),
        "ServerAddress" => config.server_address.clone(),
        "Username" => config.username.clone(),
        "Password" => MASK.to_owned(),
        "SerialNumber" => identity.serial.clone(),
        "Model" => identity.model.clone(),
        "Vendor" => identity.vendor.clone(),
        "FirmwareVersion" => identity.firmware_version.clone(),
        "ConnectorCount" => identity.connectors.to_string(),
        "ProtocolVersion" => PROTOCOL_VERSION.to_owned(),
        "DeviceId" => identity.device_id.clone().unwrap_or_default(),
        "CardCacheVersion" => cache_version.to_string(),
        _ => return None,
    })
}

/// Whether `key` is read-only (`None` if unknown).
pub fn is_readonly(key: &str) -> Option<bool> {
    KEYS.iter().find(|(k, _)| *k == key).map(|&(_, ro)| ro)
}

/// Applies one change; returns its status. Only ACCEPTED changes `config`.
pub fn write(key: &str, value: &str, config: &mut ClientConfig) -> pb::ConfigurationStatus {
    use pb::ConfigurationStatus as S;
    match is_readonly(key) {
        None => return S::NotSupported,
        Some(true) => return S::Rejected,
        Some(false) => {}
    }
    let secs = || value.trim().parse::<u64>().ok().map(Duration::from_secs);
    let ok = match key {
        "HeartbeatInterval" => set(
            &mut config.heartbeat_interval,
            secs().filter(|d| *d > Duration::ZERO),
        ),
        "TelemetryInterval" => set(&mut config.telemetry_interval, secs()),
        "ChargingInfoInterval" => set(&mut config.charging_info_interval, secs()),
        "TransactionMessageAttempts" => set(
            &mut config.transaction_attempts,
            value.trim().parse::<u32>().ok().filter(|&n| n > 0),
        ),
        "TransactionMessageRetryInterval" => set(&mut config.transaction_retry_interval, secs()),
        "PlugInTimeout" => set(&mut config.plug_in_timeout, secs()),
        "ResponseTimeout" => set(
            &mut config.response_timeout,
            secs().filter(|d| *d > Duration::ZERO),
        ),
        "LocalAuthorizeOffline" => set(
            &mut config.local_authorize_offline,
            value.trim().parse::<bool>().ok(),
        ),
        "ServerAddress" => set(
            &mut config.server_address,
            Some(value.to_owned()).filter(|v| !v.is_empty()),
        ),
        "Username" => set(&mut config.username, Some(value.to_owned())),
        "Password" => set(&mut config.password, Some(value.to_owned())),
        _ => false,
    };
    if ok { S::Accepted } else { S::Rejected }
}

fn set<T>(slot: &mut T, value: Option<T>) -> bool {
    match value {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_and_readonly_keys_refuse_writes() {
        let mut config = ClientConfig::default();
        let identity = ChargerIdentity::ac("SN1", "RC");
        for (key, readonly) in KEYS {
            assert!(read(key, &config, &identity, 3).is_some(), "{key}");
            if readonly {
                assert_eq!(
                    write(key, "x", &mut config),
                    pb::ConfigurationStatus::Rejected
                );
            }
        }
        assert_eq!(read("Password", &config, &identity, 0).unwrap(), MASK);
        assert_eq!(
            write("Nope", "1", &mut config),
            pb::ConfigurationStatus::NotSupported
        );
    }

    #[test]
    fn values_parse_or_are_rejected() {
        let mut config = ClientConfig::default();
        assert_eq!(
            write("HeartbeatInterval", "10", &mut config),
            pb::ConfigurationStatus::Accepted
        );
        assert_eq!(config.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(
            write("HeartbeatInterval", "0", &mut config),
            pb::ConfigurationStatus::Rejected
        );
        assert_eq!(
            write("HeartbeatInterval", "ten", &mut config),
            pb::ConfigurationStatus::Rejected
        );
        assert_eq!(
            write("LocalAuthorizeOffline", "false", &mut config),
            pb::ConfigurationStatus::Accepted
        );
        assert!(!config.local_authorize_offline);
        assert_eq!(
            write("ServerAddress", "test.com:1884", &mut config),
            pb::ConfigurationStatus::Accepted
        );
        assert_eq!(config.server_address, "test.com:1884");
    }
}
