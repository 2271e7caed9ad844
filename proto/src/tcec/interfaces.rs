//! Interface names, URL paths and which side serves each interface.
//!
//! URLs are `http(s)://[domain]/shevcs/v[version]/[name]` for DB4403/T 77-2020 (§10.3.1) and
//! `http(s)://[domain]/evcs/v[version]/[name]` for T/CEC 102.4 (§6.1). Real version strings vary
//! (`v1.0`, `V1.0`, `v20160701`, `v1`), so the version is a free string. Roles follow
//! tcec-http.md §6 and §7.

use core::fmt;

/// Which standard's URL layout and field rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    /// DB4403/T 77-2020 (Shenzhen charging safety monitoring platform), `/shevcs/v1.0/…`.
    Db4403,
    /// T/CEC 102-2016 (互联互通, operator ↔ operator), `/evcs/v1.0/…`.
    Tcec,
}

impl Dialect {
    /// The first path segment: `shevcs` or `evcs`.
    pub const fn path_prefix(self) -> &'static str {
        match self {
            Dialect::Db4403 => "shevcs",
            Dialect::Tcec => "evcs",
        }
    }

    /// The version segment chargestorm uses by default.
    pub const fn default_version(self) -> &'static str {
        "v1.0"
    }
}

/// Which side implements (serves) an interface.
///
/// "Operator" is the charging operator platform (DB4403 运营商平台; T/CEC 充电运营商 /
/// 设备归属运营商, the CPO) — the side chargestorm simulates. "Peer" is the other side (DB4403
/// 市级监控平台; T/CEC 数据需求方 / 客户归属运营商).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServedBy {
    /// The charging operator platform serves it; the peer calls it.
    Operator,
    /// The peer (monitoring platform, data demander or customer-owning operator) serves it.
    Peer,
    /// Each side serves its own copy (`query_token`).
    Both,
}

macro_rules! interfaces {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $served:ident, [$($dialect:ident),*], $code:expr; )*) => {
        /// Every interface of DB4403/T 77-2020 and T/CEC 102.2/102.3/102.4.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Interface {
            $( $(#[$doc])* $variant, )*
        }

        impl Interface {
            /// Every interface, in standard order.
            pub const ALL: &'static [Interface] = &[$(Interface::$variant),*];

            /// The canonical wire name (last URL path segment).
            pub const fn name(self) -> &'static str {
                match self { $(Interface::$variant => $name,)* }
            }

            /// Which side serves it.
            pub const fn served_by(self) -> ServedBy {
                match self { $(Interface::$variant => ServedBy::$served,)* }
            }

            /// The dialects that define it.
            pub const fn dialects(self) -> &'static [Dialect] {
                match self { $(Interface::$variant => &[$(Dialect::$dialect),*],)* }
            }

            /// The DB4403 interface code (表23, e.g. `CSI-002`), if it has one.
            pub const fn db4403_code(self) -> Option<&'static str> {
                match self { $(Interface::$variant => $code,)* }
            }
        }
    };
}

interfaces! {
    /// `query_token` (T/CEC 102.4 App. A; DB4403 App. C): QueryTokenRequest → QueryTokenResponse.
    QueryToken = "query_token", Both, [Db4403, Tcec], None;
    /// `notification_stationInfo` (DB4403 §9.2): StationInfoNotification → StatusAck.
    NotificationStationInfo = "notification_stationInfo", Peer, [Db4403], Some("CSI-001");
    /// `query_stations_info` (DB4403 §9.3; T/CEC 102.2): QueryStationsInfoRequest → QueryStationsInfoResponse.
    QueryStationsInfo = "query_stations_info", Operator, [Db4403, Tcec], Some("CSI-002");
    /// `notification_stationStatus` (DB4403 §9.4; T/CEC 102.2): StationStatusNotification → StatusAck.
    NotificationStationStatus = "notification_stationStatus", Peer, [Db4403, Tcec], Some("CSI-003");
    /// `query_stations_status` (DB4403 §9.5, plural): StationIdsRequest → StationStatusResponse.
    QueryStationsStatus = "query_stations_status", Operator, [Db4403], Some("CSI-004");
    /// `query_station_charge_stats` (DB4403 §9.6): StatsQueryRequest → StationChargeStatsResponse.
    QueryStationChargeStats = "query_station_charge_stats", Operator, [Db4403], Some("SST-001");
    /// `query_station_discharge_stats` (DB4403 §9.7): StatsQueryRequest → StationDischargeStatsResponse.
    QueryStationDischargeStats = "query_station_discharge_stats", Operator, [Db4403], Some("SST-002");
    /// `query_bms_info` (DB4403 §9.9): ConnectorIdRequest → BmsInfoReport.
    QueryBmsInfo = "query_bms_info", Operator, [Db4403], Some("CPC-001");
    /// `notification_bmsInfo` (DB4403 §9.8): BmsInfoReport → StatusAck.
    NotificationBmsInfo = "notification_bmsInfo", Peer, [Db4403], Some("CPC-002");
    /// `query_alarm_info` (DB4403 §9.10): QueryAlarmInfoRequest → AlarmInfos.
    QueryAlarmInfo = "query_alarm_info", Operator, [Db4403], Some("CPA-001");
    /// `notification_alarmInfo` (DB4403 §9.11): AlarmInfos → StatusAck.
    NotificationAlarmInfo = "notification_alarmInfo", Peer, [Db4403], Some("CPA-002");
    /// `query_event_info` (DB4403 §9.12): QueryEventInfoRequest → EventInfos.
    QueryEventInfo = "query_event_info", Operator, [Db4403], Some("MPE-001");
    /// `notification_eventInfo` (DB4403 §9.13): EventInfos → StatusAck.
    NotificationEventInfo = "notification_eventInfo", Peer, [Db4403], Some("MPE-002");
    /// `query_frequency` (DB4403 §9.14): QueryFrequencyRequest → StatusAck.
    QueryFrequency = "query_frequency", Operator, [Db4403], Some("PRA-001");
    /// `query_disequipmentstatus_info` (DB4403 §9.15; 表65 reuses CPA-001, a copy error, so
    /// no code is given): QueryDisEquipmentStatusRequest → DisEquipmentStatusInfos.
    QueryDisEquipmentStatusInfo = "query_disequipmentstatus_info", Operator, [Db4403], None;
    /// `supplement_collect` (DB4403 §9.16): SupplementCollectRequest → SupplementCollectResponse.
    SupplementCollect = "supplement_collect", Operator, [Db4403], Some("CSI-005");
    /// `supplement_stationInfo` (DB4403 §9.17): StationRefRequest → StationInfoNotification.
    SupplementStationInfo = "supplement_stationInfo", Operator, [Db4403], Some("CSI-006");
    /// `supplement_query_bms_intact` (DB4403 §9.18; the platform code calls it
    /// `supply_query_bms_intact`, also accepted): BmsIntactRequest → BmsIntactResponse.
    SupplementQueryBmsIntact = "supplement_query_bms_intact", Operator, [Db4403], Some("CSI-007");
    /// `query_video_info` (DB4403 §9.19): StationRefRequest → VideoInfos.
    QueryVideoInfo = "query_video_info", Operator, [Db4403], Some("MPE-003");
    /// `query_station_status` (T/CEC 102.2, singular): StationIdsRequest → StationStatusResponse.
    QueryStationStatus = "query_station_status", Operator, [Tcec], None;
    /// `query_station_stats` (T/CEC 102.2): StatsQueryRequest → StationStatsResponse.
    QueryStationStats = "query_station_stats", Operator, [Tcec], None;
    /// `query_equip_auth` (T/CEC 102.3): QueryEquipAuthRequest → QueryEquipAuthResponse.
    QueryEquipAuth = "query_equip_auth", Operator, [Tcec], None;
    /// `query_equip_business_policy` (T/CEC 102.3; normally served by the CPO):
    /// QueryEquipBusinessPolicyRequest → QueryEquipBusinessPolicyResponse.
    QueryEquipBusinessPolicy = "query_equip_business_policy", Operator, [Tcec], None;
    /// `query_start_charge` (T/CEC 102.3): QueryStartChargeRequest → QueryStartChargeResponse.
    QueryStartCharge = "query_start_charge", Operator, [Tcec], None;
    /// `notification_start_charge_result` (T/CEC 102.3): StartChargeResultNotification →
    /// NotificationResultAck.
    NotificationStartChargeResult = "notification_start_charge_result", Peer, [Tcec], None;
    /// `query_equip_charge_status` (T/CEC 102.3): StartChargeSeqRequest → EquipChargeStatus.
    QueryEquipChargeStatus = "query_equip_charge_status", Operator, [Tcec], None;
    /// `notification_equip_charge_status` (T/CEC 102.3): EquipChargeStatus → ChargeStatusAck.
    NotificationEquipChargeStatus = "notification_equip_charge_status", Peer, [Tcec], None;
    /// `query_stop_charge` (T/CEC 102.3): QueryStopChargeRequest → QueryStopChargeResponse.
    QueryStopCharge = "query_stop_charge", Operator, [Tcec], None;
    /// `notification_stop_charge_result` (T/CEC 102.3): StopChargeResultNotification →
    /// NotificationResultAck.
    NotificationStopChargeResult = "notification_stop_charge_result", Peer, [Tcec], None;
    /// `notification_charge_order_info` (T/CEC 102.3): ChargeOrderInfo → ChargeOrderInfoAck.
    NotificationChargeOrderInfo = "notification_charge_order_info", Peer, [Tcec], None;
    /// `check_charge_orders` (T/CEC 102.3): CheckChargeOrdersRequest → CheckChargeOrdersResponse.
    CheckChargeOrders = "check_charge_orders", Peer, [Tcec], None;
    /// `query_start_charge_with_car` (T/CEC 102.3 draft extension, UNCONFIRMED in the published
    /// text): QueryStartChargeWithCarRequest → QueryStartChargeResponse.
    QueryStartChargeWithCar = "query_start_charge_with_car", Operator, [Tcec], None;
}

impl Interface {
    /// Looks up a wire name, accepting the variants seen in practice: `supply_query_bms_intact`
    /// (Shenzhen platform code) and `quey_token` (a third-party typo, tcec-http.md §5 quirk 12).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "supply_query_bms_intact" => Some(Interface::SupplementQueryBmsIntact),
            "quey_token" => Some(Interface::QueryToken),
            _ => Interface::ALL.iter().copied().find(|i| i.name() == name),
        }
    }

    /// Whether `dialect` defines this interface.
    pub fn in_dialect(self, dialect: Dialect) -> bool {
        self.dialects().contains(&dialect)
    }

    /// The URL path `/{prefix}/{version}/{name}`, e.g. `/shevcs/v1.0/query_token`.
    pub fn path(self, dialect: Dialect, version: &str) -> String {
        format!("/{}/{}/{}", dialect.path_prefix(), version, self.name())
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An interface URL path, as parsed by [`parse_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPath {
    /// The dialect named by the prefix segment, `None` for a bare `/name` path.
    pub dialect: Option<Dialect>,
    /// The version segment as received (`v1.0`, `V1.0`, `v20160701`, `sdk`…), if any.
    pub version: Option<String>,
    /// The interface.
    pub interface: Interface,
}

/// A path that names no known interface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no known interface at path {path:?}")]
pub struct PathError {
    /// The received path (truncated).
    pub path: String,
}

/// Parses a request path or full URL into its interface.
///
/// Accepts a scheme and host, a query string, a trailing slash, extra leading segments
/// (`/api/shevcs/v1.0/x`), a missing version (`/shevcs/quey_token`) and a bare `/name`
/// (pushes registered without prefix, tcec-http.md §5 quirk 12).
pub fn parse_path(path: &str) -> Result<ParsedPath, PathError> {
    let error = || {
        let mut path = path.to_owned();
        crate::tcec::lenient::truncate_for_error(&mut path);
        PathError { path }
    };
    let mut p = path.split(['?', '#']).next().unwrap_or_default();
    if let Some((_, rest)) = p.split_once("://") {
        p = rest.find('/').map_or("", |i| &rest[i..]);
    }
    let segs: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    let (&name, before) = segs.split_last().ok_or_else(error)?;
    let interface = Interface::from_name(name).ok_or_else(error)?;
    let dialect_of = |s: &str| {
        [Dialect::Db4403, Dialect::Tcec]
            .into_iter()
            .find(|d| s.eq_ignore_ascii_case(d.path_prefix()))
    };
    let (dialect, version) = match before {
        [.., prefix, version] if dialect_of(prefix).is_some() => {
            (dialect_of(prefix), Some((*version).to_owned()))
        }
        [.., prefix] if dialect_of(prefix).is_some() => (dialect_of(prefix), None),
        [.., version] => (None, Some((*version).to_owned())),
        [] => (None, None),
    };
    Ok(ParsedPath {
        dialect,
        version,
        interface,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, a) in Interface::ALL.iter().enumerate() {
            assert_eq!(Interface::from_name(a.name()), Some(*a));
            assert!(!a.dialects().is_empty());
            for b in &Interface::ALL[i + 1..] {
                assert_ne!(a.name(), b.name());
            }
        }
        assert_eq!(Interface::ALL.len(), 32);
    }

    #[test]
    fn roles_follow_the_reference() {
        use Interface::*;
        assert_eq!(QueryToken.served_by(), ServedBy::Both);
        for i in [
            NotificationStationInfo,
            NotificationStationStatus,
            NotificationBmsInfo,
            NotificationAlarmInfo,
            NotificationEventInfo,
        ] {
            assert_eq!(i.served_by(), ServedBy::Peer, "{i}");
        }
        for i in [
            QueryStationsInfo,
            QueryStationsStatus,
            QueryBmsInfo,
            SupplementCollect,
            QueryStationStats,
            QueryStartCharge,
        ] {
            assert_eq!(i.served_by(), ServedBy::Operator, "{i}");
        }
        assert_eq!(CheckChargeOrders.served_by(), ServedBy::Peer);
        assert!(
            QueryStationsStatus.in_dialect(Dialect::Db4403)
                && !QueryStationsStatus.in_dialect(Dialect::Tcec)
        );
        assert!(
            QueryStationStatus.in_dialect(Dialect::Tcec)
                && !QueryStationStatus.in_dialect(Dialect::Db4403)
        );
    }

    #[test]
    fn paths_build_and_parse() {
        let p = Interface::QueryToken.path(Dialect::Db4403, "v1.0");
        assert_eq!(p, "/shevcs/v1.0/query_token");
        let parsed = parse_path(&p).unwrap();
        assert_eq!(
            parsed,
            ParsedPath {
                dialect: Some(Dialect::Db4403),
                version: Some("v1.0".into()),
                interface: Interface::QueryToken
            }
        );
        assert_eq!(
            Interface::QueryStartCharge.path(Dialect::Tcec, "v1.0"),
            "/evcs/v1.0/query_start_charge"
        );

        let url = parse_path("http://localhost:28070/shevcs/V1.0/query_station_charge_stats?x=1")
            .unwrap();
        assert_eq!(
            (url.dialect, url.version.as_deref()),
            (Some(Dialect::Db4403), Some("V1.0"))
        );
        assert_eq!(url.interface, Interface::QueryStationChargeStats);

        let bare = parse_path("/notification_stationStatus").unwrap();
        assert_eq!((bare.dialect, bare.version), (None, None));
        let typo = parse_path("/shevcs/quey_token").unwrap();
        assert_eq!(
            (typo.dialect, typo.version, typo.interface),
            (Some(Dialect::Db4403), None, Interface::QueryToken)
        );
        let sdk = parse_path("/evcs/sdk/query_token/").unwrap();
        assert_eq!(
            (sdk.dialect, sdk.version.as_deref()),
            (Some(Dialect::Tcec), Some("sdk"))
        );
        let intact = parse_path("/shevcs/v1.0/supply_query_bms_intact").unwrap();
        assert_eq!(intact.interface, Interface::SupplementQueryBmsIntact);
    }

    #[test]
    fn unknown_paths_fail() {
        for p in [
            "",
            "/",
            "/shevcs/v1.0/",
            "/shevcs/v1.0/query_nothing",
            "http://host",
            "http://host/",
        ] {
            assert!(parse_path(p).is_err(), "{p}");
        }
    }
}
