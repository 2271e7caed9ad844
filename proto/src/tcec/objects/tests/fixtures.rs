//! A valid instance of every data object, used by the round-trip and validation tests.

use crate::tcec::codes::*;
use crate::tcec::crypto::Secret;
use crate::tcec::objects::*;

pub const OP: &str = "123456789";
pub const STATION: &str = "00000000000000000001";
pub const EQUIPMENT: &str = "10000000000000000000001";
pub const CONNECTOR: &str = "10000000000000000000001001";
pub const SEQ27: &str = "123456789000000000000000001";

pub fn connector_info() -> ConnectorInfo {
    ConnectorInfo {
        connector_id: CONNECTOR.into(),
        connector_name: "枪 1".into(),
        connector_type: ConnectorType::DcPlug,
        voltage_upper_limit_v: 750,
        voltage_lower_limit_v: 200,
        current_a: 250,
        power_kw: 120.0,
        park_no: Some("A-01".into()),
        national_standard: Some(NationalStandard::Gb2015),
        ext: ConnectorInfoExt {
            voltage_v: Some(750),
            bms_power_type: Some(BmsPowerType::V12),
        },
    }
}

pub fn equipment_info() -> EquipmentInfo {
    EquipmentInfo {
        equipment_id: EQUIPMENT.into(),
        manufacturer_id: "987654321".into(),
        equipment_model: "p3".into(),
        production_date: Some("2016-04-26".into()),
        equipment_type: EquipmentType::Dc,
        connector_infos: vec![connector_info()],
        equipment_lng_deg: Some(114.057868),
        equipment_lat_deg: Some(22.543099),
        equipment_name: Some("充电桩 001".into()),
        power_kw: Some(120.0),
        manufacturer_name: Some("某某电气".into()),
        ext: EquipmentInfoExt {
            equipment_status: Some(EquipmentStatus::InOperation),
            equipment_power_kw: Some(120.0),
            new_national_standard: Some(NationalStandard::Gb2015),
        },
    }
}

pub fn station_info() -> StationInfo {
    StationInfo {
        station_id: STATION.into(),
        operator_id: OP.into(),
        equipment_owner_id: OP.into(),
        station_name: "充电站名称".into(),
        country_code: "CN".into(),
        area_code: "440305".into(),
        address: "深圳市南山区科技园".into(),
        station_tel: Some("0755-12345678".into()),
        service_tel: "400-000-0000".into(),
        station_type: StationType::Public,
        station_status: StationStatus::InOperation,
        park_nums: 3,
        station_lng_deg: 114.057868,
        station_lat_deg: 22.543099,
        site_guide: Some("B2 层".into()),
        construction: Construction::OfficeBuilding,
        pictures: vec![
            "http://www.xxx.com/uploads/plugs/e5/eb/cd/f0469308d9bbd99496618d6d87.jpg".into(),
        ],
        match_cars: Some("私家乘用车".into()),
        park_info: Some("B2 层 3 个".into()),
        business_hours: Some("00:00-24:00".into()),
        electricity_fee: Some("1.0 元/kWh".into()),
        service_fee: Some("0.8 元/kWh".into()),
        park_fee: Some("免费".into()),
        payment: Some("线上".into()),
        support_order: Some(YesNo::No),
        remark: None,
        equipment_infos: vec![equipment_info()],
        ext: StationInfoExt {
            park_owner: Some("某某物业".into()),
            park_manager: Some("某某物业".into()),
            open_all_day: Some(YesNo::Yes),
            park_free: Some(YesNo::Yes),
            operation_type: Some(OperationType::SelfOperated),
        },
    }
}

pub fn operator_info() -> OperatorInfo {
    OperatorInfo {
        operator_id: OP.into(),
        operator_name: "某某充电运营有限公司".into(),
        operator_tel1: "400-000-0000".into(),
        operator_tel2: "13800000000".into(),
        operator_reg_address: Some("深圳市".into()),
        operator_note: None,
    }
}

pub fn connector_status_info() -> ConnectorStatusInfo {
    ConnectorStatusInfo {
        connector_id: CONNECTOR.into(),
        status: ConnectorStatus::OccupiedCharging,
        park_status: Some(ParkStatus::Occupied),
        lock_status: Some(LockStatus::Unlocked),
        ext: ConnectorStatusInfoExt {
            phase_a_current_a: Some(120),
            phase_b_current_a: Some(0),
            phase_c_current_a: Some(0),
            phase_a_voltage_v: Some(450),
            phase_b_voltage_v: Some(0),
            phase_c_voltage_v: Some(0),
            soc_percent: Some(55),
            connector_temp_c: Some(41),
            equipment_temp_c: Some(38),
            connector_lock: Some(ConnectorLock::Locked),
            charged_energy_kwh: Some(10.15),
            discharged_energy_kwh: Some(0.0),
        },
    }
}

pub fn station_status_info() -> StationStatusInfo {
    StationStatusInfo {
        station_id: STATION.into(),
        connector_status_infos: vec![connector_status_info()],
    }
}

pub fn charge_stats() -> StationChargeStatsInfo {
    StationChargeStatsInfo {
        station_id: STATION.into(),
        start_time: "2015-10-01".into(),
        end_time: "2015-10-02".into(),
        station_charge_energy_kwh: 100.0,
        equipment_charge_stats_infos: vec![EquipmentChargeStatsInfo {
            equipment_id: EQUIPMENT.into(),
            equipment_charge_energy_kwh: 100.0,
            connector_charge_stats_infos: vec![ConnectorChargeStatsInfo {
                connector_id: CONNECTOR.into(),
                connector_charge_energy_kwh: Some(100.0),
            }],
        }],
    }
}

pub fn discharge_stats() -> StationDischargeStatsInfo {
    StationDischargeStatsInfo {
        station_id: STATION.into(),
        start_time: "2015-10-01".into(),
        end_time: "2015-10-02".into(),
        station_discharge_energy_kwh: 12.5,
        equipment_discharge_stats_infos: vec![EquipmentDischargeStatsInfo {
            equipment_id: EQUIPMENT.into(),
            equipment_discharge_energy_kwh: 12.5,
            connector_discharge_stats_infos: vec![ConnectorDischargeStatsInfo {
                connector_id: CONNECTOR.into(),
                connector_discharge_energy_kwh: None,
            }],
        }],
    }
}

pub fn tcec_stats() -> StationStatsInfo {
    StationStatsInfo {
        station_id: STATION.into(),
        start_time: "2015-10-01".into(),
        end_time: "2015-10-02".into(),
        station_energy_kwh: 100.0,
        equipment_stats_infos: vec![EquipmentStatsInfo {
            equipment_id: EQUIPMENT.into(),
            equipment_energy_kwh: 100.0,
            connector_stats_infos: vec![ConnectorStatsInfo {
                connector_id: CONNECTOR.into(),
                connector_energy_kwh: 100.0,
            }],
        }],
    }
}

pub fn dis_equipment_info() -> DisEquipmentInfo {
    DisEquipmentInfo {
        disequipment_id: "D0000000000000000000001".into(),
        manufacturer_id: "987654321".into(),
        manufacturer_name: Some("某某变压器厂".into()),
        equipment_model: "SCB10-630".into(),
        production_date: Some("2019-01-01".into()),
        rated_input_voltage_kv: 10.0,
        rated_output_voltage_v: 400.0,
        rated_power_kva: 630.0,
        feed_num: 4,
    }
}

pub fn dis_equipment_status() -> DisEquipmentStatusInfo {
    DisEquipmentStatusInfo {
        station_id: STATION.into(),
        operator_id: OP.into(),
        disequipment_id: "D0000000000000000000001".into(),
        forward_active_energy_kwh: 60.0,
        reverse_active_energy_kwh: 0.0,
        forward_reactive_energy_kvarh: 2.5,
        reverse_reactive_energy_kvarh: 0.0,
        phase_a_voltage_v: 230.1,
        phase_b_voltage_v: 229.8,
        phase_c_voltage_v: 230.4,
        phase_a_current_a: 4.2,
        phase_b_current_a: 3.7,
        phase_c_current_a: 5.5,
        active_power_kw: 45.0,
        reactive_power_kvar: 3.0,
        power_factor: 0.98,
        apparent_power_kva: 45.1,
        frequency_hz: 50.0,
        feed_state: "1101".into(),
        env_temp1_c: Some(25),
        env_temp2_c: None,
        env_humidity1_percent: Some(60),
        env_humidity2_percent: None,
        smoke_alarm1: AlarmFlag::Normal,
        smoke_alarm2: AlarmFlag::Normal,
        transformer_over_temp_alarm: AlarmFlag::Alarm,
    }
}

pub fn bms_info() -> BmsInfo {
    BmsInfo {
        vin_code: Some("LSVAU2A37N2183011".into()),
        bms_code: Some("BMS-001".into()),
        bms_version: Some("1.1".into()),
        connector_id: Some(CONNECTOR.into()),
        max_charge_current_a: 60.0,
        max_charge_cell_voltage_v: 4.25,
        max_temp_c: 55,
        rated_capacity_kwh: 60,
        total_voltage_v: 380.0,
        total_current_a: 60.0,
        soc_percent: 90,
        cell_voltage_max_v: 4.2,
        cell_voltage_max_index: Some(17),
        cell_voltage_min_v: Some(3.7),
        cell_temp_max_c: 55,
        cell_temp_max_index: Some(3),
        cell_temp_min_c: 45,
        cell_temp_min_index: Some(9),
        energy_change_kwh: Some(12.345),
        fresh_time: Some("2017-08-08 18:23:38".into()),
        start_charging_time: Some("2017-08-08 18:18:18".into()),
        charging_session_s: Some(320),
    }
}

pub fn alarm_info() -> AlarmInfo {
    AlarmInfo {
        station_id: STATION.into(),
        operator_id: OP.into(),
        equipment_owner_id: OP.into(),
        station_name: "某某充电站".into(),
        equipment_id: EQUIPMENT.into(),
        connector_id: CONNECTOR.into(),
        alarm_status: AlarmStatus::Occurred,
        alarm_code: AlarmCode::BmsCommTimeout,
        alarm_type: AlarmType::BatterySystem,
        alarm_level: AlarmLevel::EquipmentSafety,
        alarm_time: "2017-08-08 18:18:18".into(),
        note: Some("注意内容".into()),
        bms_info: Some(bms_info()),
    }
}

pub fn event_info() -> EventInfo {
    EventInfo {
        station_id: STATION.into(),
        operator_id: OP.into(),
        equipment_owner_id: OP.into(),
        station_name: "某某充电站".into(),
        event_type: EventType::SafetyInspection,
        event_code: EventCode::InspectionScheduled,
        event_time: "2017-08-08 18:18:18".into(),
        note: None,
    }
}

pub fn video_info() -> VideoInfo {
    VideoInfo {
        station_id: STATION.into(),
        operator_id: OP.into(),
        equipment_owner_id: OP.into(),
        station_name: "某某充电站".into(),
        video_link: "http://video.example/live/1".into(),
        video_type: VideoType::Live,
        video_user: "superior".into(),
        video_auth_code: Some("x9".into()),
    }
}

pub fn token_request() -> QueryTokenRequest {
    QueryTokenRequest {
        operator_id: OP.into(),
        operator_secret: Secret::new("0123456789ABCDEF"),
    }
}

pub fn token_response() -> QueryTokenResponse {
    QueryTokenResponse {
        operator_id: OP.into(),
        succ_stat: SuccStat::Success,
        access_token: Secret::new("tok-0123"),
        token_available_time_s: 7200,
        fail_reason: TokenFailReason::NoFailure,
    }
}

pub fn supplement_request(kind: SupplementInterface) -> SupplementCollectRequest {
    SupplementCollectRequest {
        operator_id: OP.into(),
        station_id: STATION.into(),
        connector_id: CONNECTOR.into(),
        equipment_id: EQUIPMENT.into(),
        missing_time: "{2020-01-22 10:10:10, 2020-01-22 10:10:15}".into(),
        interface_name: kind,
    }
}

pub fn charge_detail() -> ChargeDetail {
    ChargeDetail {
        detail_start_time: "2017-08-08 18:18:18".into(),
        detail_end_time: "2017-08-08 19:18:18".into(),
        elec_price_yuan_per_kwh: Some(1.0),
        service_price_yuan_per_kwh: Some(0.8),
        detail_energy_kwh: 30.5,
        detail_elec_money_yuan: Some(30.5),
        detail_service_money_yuan: Some(24.4),
    }
}

pub fn equip_charge_status() -> EquipChargeStatus {
    EquipChargeStatus {
        start_charge_seq: SEQ27.into(),
        start_charge_seq_stat: StartChargeSeqStat::Charging,
        connector_id: CONNECTOR.into(),
        connector_status: ConnectorStatus::OccupiedCharging,
        phase_a_current_a: 120.5,
        phase_b_current_a: 0.0,
        phase_c_current_a: 0.0,
        phase_a_voltage_v: 450.2,
        phase_b_voltage_v: 0.0,
        phase_c_voltage_v: 0.0,
        soc_percent: 55.5,
        start_time: "2017-08-08 18:18:18".into(),
        end_time: "2017-08-08 19:18:18".into(),
        total_energy_kwh: 30.5,
        elec_money_yuan: Some(30.5),
        service_money_yuan: Some(24.4),
        total_money_yuan: Some(54.9),
        sum_period: Some(1),
        charge_details: Some(vec![charge_detail()]),
    }
}

pub fn charge_order_info() -> ChargeOrderInfo {
    ChargeOrderInfo {
        start_charge_seq: SEQ27.into(),
        connector_id: CONNECTOR.into(),
        start_time: "2017-08-08 18:18:18".into(),
        end_time: "2017-08-08 19:18:18".into(),
        total_energy_kwh: 30.5,
        total_elec_money_yuan: Some(30.5),
        total_service_money_yuan: Some(24.4),
        total_money_yuan: Some(54.9),
        stop_reason: StopReason::BmsStopped,
        sum_period: Some(1),
        charge_details: Some(vec![charge_detail()]),
    }
}

pub fn check_orders_request() -> CheckChargeOrdersRequest {
    CheckChargeOrdersRequest {
        check_order_seq: SEQ27.into(),
        start_time: "2017-08-08 00:00:00".into(),
        end_time: "2017-08-08 23:59:59".into(),
        order_count: 1,
        total_order_energy_kwh: 30.5,
        total_order_money_yuan: 54.9,
        charge_orders: vec![ChargeOrder {
            start_charge_seq: SEQ27.into(),
            total_energy_kwh: 30.5,
            total_money_yuan: 54.9,
        }],
    }
}

pub fn check_orders_response() -> CheckChargeOrdersResponse {
    CheckChargeOrdersResponse {
        check_order_seq: SEQ27.into(),
        start_time: "2017-08-08 00:00:00".into(),
        end_time: "2017-08-08 23:59:59".into(),
        total_dispute_order: 1,
        total_dispute_energy_kwh: 30.5,
        total_dispute_money_yuan: 54.9,
        dispute_orders: vec![DisputeOrder {
            start_charge_seq: SEQ27.into(),
            total_energy_kwh: 30.5,
            total_money_yuan: 54.9,
            dispute_reason: DisputeReason::MoneyMismatch,
        }],
    }
}
