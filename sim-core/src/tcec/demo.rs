//! Deterministic stations, keys and samples for the in-process demo, tests and load runs.
//!
//! Every object built here passes DB4403/T 77-2020 validation, so a platform that validates
//! strictly accepts it. Identifiers follow the tables' lengths: StationID 16 digits,
//! EquipmentID = OperatorID + 6-digit station + 3-digit equipment (18 characters),
//! ConnectorID = EquipmentID + 3 digits (21 characters).

use proto::tcec::TcecKeys;
use proto::tcec::codes::{AlarmCode, EventCode};
use proto::tcec::crypto::KeyError;
use proto::tcec::objects::*;

/// A key set whose secrets are derived from `operator_id` and `salt` (16-character
/// DataSecret and DataSecretIV, 32-character SigSecret and OperatorSecret).
pub fn keys(operator_id: &str, salt: u64) -> Result<TcecKeys, KeyError> {
    let hex = |n: u64| format!("{:016X}", crate::rng::mix64(n ^ salt));
    let tag = operator_id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)));
    TcecKeys::new(
        operator_id,
        format!("{}{}", hex(tag), hex(tag + 1)),
        &hex(tag + 2),
        &hex(tag + 3),
        format!("{}{}", hex(tag + 4), hex(tag + 5)),
    )
}

/// `n` distinct 9-character OperatorIDs: `base` first, then `base` with its last two
/// characters replaced by `00`, `01`, … (skipping `base` itself).
///
/// One OperatorID may send at most 9,999 requests per TimeStamp second (Seq has four
/// digits), so a load run past that rate sends under several identities, each a peer of its
/// own on both sides. At most 101 identities exist (100 when `base` ends in two digits).
pub fn operator_ids(base: &str, n: usize) -> Vec<String> {
    let prefix: String = base.chars().take(7).collect();
    let more = (0..100u32)
        .map(|i| format!("{prefix}{i:02}"))
        .filter(|id| id != base);
    std::iter::once(base.to_owned())
        .chain(more)
        .take(n)
        .collect()
}

/// Gives a chargestorm-paired operator `n` sender identities ([`operator_ids`] of its first
/// peer's OperatorID, keys from [`keys`] with `salt`): every further identity is a copy of
/// the first peer with its own outbound keys, reaching the same platform.
pub fn add_operator_identities(
    operator: &mut crate::tcec::operator::OperatorConfig,
    n: usize,
    salt: u64,
) -> Result<(), KeyError> {
    let Some(first) = operator.peers.first().cloned() else {
        return Ok(());
    };
    for id in operator_ids(&first.config.outbound.operator_id, n)
        .iter()
        .skip(1)
    {
        let mut peer = first.clone();
        peer.config.outbound = keys(id, salt)?;
        peer.config.name = format!("{} as {id}", first.config.name);
        operator.peers.push(peer);
    }
    Ok(())
}

/// The platform's side of [`add_operator_identities`]: every further identity is a copy of
/// the first peer with that identity's inbound keys.
pub fn add_platform_identities(
    platform: &mut crate::tcec::platform::PlatformConfig,
    n: usize,
    salt: u64,
) -> Result<(), KeyError> {
    let Some(first) = platform.peers.first().cloned() else {
        return Ok(());
    };
    for id in operator_ids(&first.inbound.operator_id, n).iter().skip(1) {
        let mut peer = first.clone();
        peer.inbound = keys(id, salt)?;
        peer.name = format!("operator {id}");
        platform.peers.push(peer);
    }
    Ok(())
}

/// The StationID of station `index`.
pub fn station_id(index: u32) -> String {
    format!("{index:016}")
}

/// The EquipmentID of charger `equipment` of station `index`.
pub fn equipment_id(operator_id: &str, index: u32, equipment: u32) -> String {
    format!(
        "{operator_id}{:06}{:03}",
        index % 1_000_000,
        equipment % 1000
    )
}

/// Station `index` of `operator_id`: `chargers` chargers of `connectors` guns each, DC
/// (120 kW per gun) or AC (7 kW).
pub fn station(
    operator_id: &str,
    index: u32,
    chargers: u32,
    connectors: u32,
    dc: bool,
) -> StationInfo {
    let equipment_infos = (0..chargers)
        .map(|e| equipment(operator_id, index, e, connectors, dc))
        .collect();
    StationInfo {
        station_id: station_id(index),
        operator_id: operator_id.to_owned(),
        equipment_owner_id: operator_id.to_owned(),
        station_name: format!("chargestorm 站 {index}"),
        country_code: "CN".to_owned(),
        area_code: "440305".to_owned(),
        address: format!("深圳市南山区科技园 {index} 号"),
        station_tel: Some("0755-00000000".to_owned()),
        service_tel: "400-000-0000".to_owned(),
        station_type: StationType::Public,
        station_status: StationStatus::InOperation,
        park_nums: chargers * connectors,
        station_lng_deg: 113.9 + f64::from(index % 1000) * 1e-4,
        station_lat_deg: 22.5 + f64::from(index % 1000) * 1e-4,
        site_guide: None,
        construction: Construction::BuildingCarPark,
        pictures: vec![format!("https://example.invalid/stations/{index}.jpg")],
        match_cars: None,
        park_info: None,
        business_hours: Some("00:00-24:00".to_owned()),
        electricity_fee: None,
        service_fee: None,
        park_fee: None,
        payment: Some("线上".to_owned()),
        support_order: Some(YesNo::No),
        remark: None,
        equipment_infos,
        ext: StationInfoExt {
            park_owner: None,
            park_manager: None,
            open_all_day: Some(YesNo::Yes),
            park_free: Some(YesNo::No),
            operation_type: Some(OperationType::SelfOperated),
        },
    }
}

fn equipment(operator_id: &str, index: u32, e: u32, connectors: u32, dc: bool) -> EquipmentInfo {
    let equipment_id = equipment_id(operator_id, index, e);
    let gun_kw = if dc { 120.0 } else { 7.0 };
    let connector_infos = (0..connectors)
        .map(|c| ConnectorInfo {
            connector_id: format!("{equipment_id}{:03}", c + 1),
            connector_name: format!("{:02}#", c + 1),
            connector_type: if dc {
                ConnectorType::DcPlug
            } else {
                ConnectorType::AcPlug
            },
            voltage_upper_limit_v: if dc { 750 } else { 220 },
            voltage_lower_limit_v: if dc { 200 } else { 220 },
            current_a: if dc { 250 } else { 32 },
            power_kw: gun_kw,
            park_no: None,
            national_standard: Some(NationalStandard::Gb2015),
            ext: ConnectorInfoExt {
                voltage_v: Some(if dc { 750 } else { 220 }),
                bms_power_type: Some(if dc {
                    BmsPowerType::V12
                } else {
                    BmsPowerType::Other255
                }),
            },
        })
        .collect();
    EquipmentInfo {
        equipment_id,
        manufacturer_id: "MA5DA0053".to_owned(),
        equipment_model: if dc { "CS-DC120" } else { "CS-AC7" }.to_owned(),
        production_date: Some("2024-01-15".to_owned()),
        equipment_type: if dc {
            EquipmentType::Dc
        } else {
            EquipmentType::Ac
        },
        connector_infos,
        equipment_lng_deg: None,
        equipment_lat_deg: None,
        equipment_name: Some(format!("站{index} {:02}#桩", e + 1)),
        power_kw: Some(gun_kw * f64::from(connectors)),
        manufacturer_name: Some("chargestorm".to_owned()),
        ext: EquipmentInfoExt {
            equipment_status: Some(EquipmentStatus::InOperation),
            equipment_power_kw: Some(gun_kw * f64::from(connectors)),
            new_national_standard: Some(NationalStandard::Gb2015),
        },
    }
}

/// A BMS sample of a pack at `soc_percent` charging at `current_a` and `voltage_v`
/// (identification fields filled; the operator adds ConnectorID and the times).
pub fn bms_sample(soc_percent: i32, current_a: f64, voltage_v: f64) -> BmsInfo {
    BmsInfo {
        vin_code: Some("LCSTORM0000000001".to_owned()),
        bms_code: Some("BMS-CS-01".to_owned()),
        bms_version: Some("1.1".to_owned()),
        connector_id: None,
        max_charge_current_a: 250.0,
        max_charge_cell_voltage_v: 4.25,
        max_temp_c: 55,
        rated_capacity_kwh: 75,
        total_voltage_v: voltage_v,
        total_current_a: current_a,
        soc_percent,
        cell_voltage_max_v: 4.05,
        cell_voltage_max_index: Some(17),
        cell_voltage_min_v: Some(3.98),
        cell_temp_max_c: 31,
        cell_temp_max_index: Some(3),
        cell_temp_min_c: 27,
        cell_temp_min_index: Some(9),
        energy_change_kwh: Some(0.0),
        fresh_time: None,
        start_charging_time: None,
        charging_session_s: None,
    }
}

/// A distribution transformer status record for station `index`.
pub fn dis_equipment_status(operator_id: &str, index: u32) -> DisEquipmentStatusInfo {
    DisEquipmentStatusInfo {
        station_id: station_id(index),
        operator_id: operator_id.to_owned(),
        disequipment_id: format!("{operator_id}T{index:06}"),
        forward_active_energy_kwh: 1234.5,
        reverse_active_energy_kwh: 0.0,
        forward_reactive_energy_kvarh: 12.0,
        reverse_reactive_energy_kvarh: 0.0,
        phase_a_voltage_v: 230.0,
        phase_b_voltage_v: 231.0,
        phase_c_voltage_v: 229.0,
        phase_a_current_a: 100.0,
        phase_b_current_a: 101.0,
        phase_c_current_a: 99.0,
        active_power_kw: 69.0,
        reactive_power_kvar: 3.0,
        power_factor: 0.99,
        apparent_power_kva: 69.1,
        frequency_hz: 50.0,
        feed_state: "1".to_owned(),
        env_temp1_c: Some(25),
        env_temp2_c: Some(26),
        env_humidity1_percent: Some(60),
        env_humidity2_percent: Some(61),
        smoke_alarm1: AlarmFlag::Normal,
        smoke_alarm2: AlarmFlag::Normal,
        transformer_over_temp_alarm: AlarmFlag::Normal,
    }
}

/// A video access record for station `index`.
pub fn video(operator_id: &str, index: u32) -> VideoInfo {
    VideoInfo {
        station_id: station_id(index),
        operator_id: operator_id.to_owned(),
        equipment_owner_id: operator_id.to_owned(),
        station_name: format!("chargestorm 站 {index}"),
        video_link: format!("rtsp://example.invalid/station/{index}"),
        video_type: VideoType::Live,
        video_user: "viewer".to_owned(),
        video_auth_code: None,
    }
}

/// The alarm the demo raises most: an over-temperature gun (表B.3 code 18).
pub const DEMO_ALARM: AlarmCode = AlarmCode::ConnectorOverTemperature;

/// The event the demo reports: a charger coming online (表B.4 code 1003).
pub const DEMO_EVENT: EventCode = EventCode::EquipmentOnline;

#[cfg(test)]
mod tests {
    use super::*;
    use proto::tcec::Validate;

    #[test]
    fn demo_objects_pass_db4403_validation() {
        let s = station("MA5DA0053", 7, 3, 2, true);
        s.validate().unwrap();
        assert_eq!(
            s.equipment_infos[2].connector_infos[1].connector_id.len(),
            21
        );
        station("MA5DA0053", 8, 1, 1, false).validate().unwrap();
        let mut b = bms_sample(50, 100.0, 400.0);
        b.connector_id = Some("x".into());
        b.fresh_time = Some("2024-01-01 00:00:00".into());
        b.start_charging_time = Some("2024-01-01 00:00:00".into());
        b.charging_session_s = Some(0);
        b.validate().unwrap();
        video("MA5DA0053", 1).validate().unwrap();
        dis_equipment_status("MA5DA0053", 1).validate().unwrap();
    }

    #[test]
    fn operator_ids_are_distinct_and_nine_characters() {
        let ids = operator_ids("MA5DA0053", 5);
        assert_eq!(ids[0], "MA5DA0053");
        assert_eq!(ids[1], "MA5DA0000");
        assert_eq!(ids.len(), 5);
        assert!(ids.iter().all(|id| id.len() == 9));
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 5);
        assert_eq!(operator_ids("MA5DA0000", 200).len(), 100);
    }

    #[test]
    fn keys_are_deterministic_and_valid() {
        let a = keys("MA5DA0053", 1).unwrap();
        let b = keys("MA5DA0053", 1).unwrap();
        assert_eq!(a.sig_secret.expose(), b.sig_secret.expose());
        assert_ne!(
            a.sig_secret.expose(),
            keys("MA5DA0053", 2).unwrap().sig_secret.expose()
        );
    }
}
