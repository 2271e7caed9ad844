//! One populated sample of every message, using the seed's own examples where it has them
//! (configuration keys, tariff templates, telemetry reports), for the round-trip tests.

use crate::mqtt::pb;
use crate::mqtt::pb::*;

use super::Message;

/// The seed's 峰平谷 tariff example 2: nine segments from 00:00 to 24:00.
pub(super) fn seed_tariff_example_2() -> SetTariffReq {
    let segment = |start, end, tag: &str, elec| TariffCharge {
        time_start_min_of_day: start,
        time_end_min_of_day: end,
        tag: tag.into(),
        elec_price_milliyuan_per_kwh: elec,
        service_price_milliyuan_per_kwh: 1000,
    };
    SetTariffReq {
        tariff_id: 2,
        tariff_charge: vec![
            segment(0, 420, "valley", 255),
            segment(420, 540, "flat", 699),
            segment(540, 690, "tip", 1052),
            segment(690, 840, "flat", 699),
            segment(840, 990, "tip", 1052),
            segment(990, 1140, "flat", 699),
            segment(1140, 1260, "tip", 1052),
            segment(1260, 1380, "flat", 699),
            segment(1380, 1440, "valley", 255),
        ],
        ..Default::default()
    }
}

/// The seed's connector telemetry example: 30 C, 220.0 V, 2.0 A, 5.01 kWh, 320.10 W, contactor 1.
pub(super) fn seed_telemetry_example() -> TelemetryReq {
    let value = |measurand: Measurand, value| SampledValue {
        measurand: measurand as i32,
        vendor_ex: String::new(),
        value,
    };
    TelemetryReq {
        component: Component::Connector as i32,
        connector_id: 1,
        values: vec![
            value(Measurand::Temperature, 30),
            value(Measurand::Voltage, 2200),
            value(Measurand::Current, 20),
            value(Measurand::Electricity, 501),
            value(Measurand::PowerWatts, 32010),
            value(Measurand::ContactorStatus, 1),
            SampledValue {
                measurand: Measurand::VendorExtension as i32,
                vendor_ex: "CabinetHumidity".into(),
                value: 55,
            },
        ],
        warning_bitmap: 1 << WarningCode::HighTemperature as u64,
        record_id: 7,
        timestamp_unix_s: 1_700_000_000,
    }
}

fn id_tag_info() -> IdTagInfo {
    IdTagInfo {
        status: AuthorizationStatus::Accepted as i32,
        expiry_unix_s: 1_800_000_000,
        parent_id_tag: "GROUP-1".into(),
        balance_milliyuan: 52_300,
    }
}

fn plan() -> ChargingPlan {
    ChargingPlan {
        mode: ChargingMode::Amount as i32,
        amount_milliyuan: 30_000,
        ..Default::default()
    }
}

fn cost() -> CostDetail {
    CostDetail {
        tariff_id: 2,
        total_cost_milliyuan: 12_345,
        elec_cost_milliyuan: 6_000,
        service_cost_milliyuan: 6_345,
        segments: vec![CostSegment {
            start_unix_s: 1_700_000_000,
            end_unix_s: 1_700_003_600,
            tag: "flat".into(),
            energy_wh: 6_345,
            elec_cost_milliyuan: 4_435,
            service_cost_milliyuan: 6_345,
        }],
        ..Default::default()
    }
}

fn bms_end() -> BmsEnd {
    BmsEnd {
        bms_stop: Some(BmsStopCause {
            soc_target_reached: true,
            ..Default::default()
        }),
        charger_stop: Some(ChargerStopCause {
            bms_stopped: true,
            ..Default::default()
        }),
        end_soc_percent: 77,
        min_cell_voltage_mv: 3330,
        max_cell_voltage_mv: 3340,
        min_temperature_c: 3,
        max_temperature_c: 4,
        charging_time_min: 42,
        output_energy_wh: 31_200,
        charger_number: 0x0101_0101,
        bem_raw: 0xFCF0_F0F0,
        cem_raw: 0xFCC0_F0FC,
    }
}

fn record() -> TransactionRecord {
    TransactionRecord {
        record_id: 11,
        connector_id: 1,
        id_tag: "CARD-0042".into(),
        id_tag_kind: IdTagKind::Card as i32,
        start_unix_s: 1_700_000_000,
        stop_unix_s: 1_700_003_600,
        meter_start_wh: 1_000_000,
        meter_stop_wh: 1_006_345,
        stop_reason: StopReason::Local as i32,
        plan: Some(plan()),
        cost: Some(cost()),
        offline: true,
        ..Default::default()
    }
}

fn warning() -> WarningRecord {
    WarningRecord {
        warning_id: 3,
        code: WarningCode::ConnectorOverTemperature as i32,
        component: Component::Connector as i32,
        connector_id: 1,
        active: true,
        timestamp_unix_s: 1_700_000_100,
        level: WarningLevel::EquipmentSafety as i32,
        vendor_code: "E27".into(),
        info: "gun 1 at 92 C".into(),
        record_id: 11,
    }
}

fn dc_info() -> DcChargingInfo {
    DcChargingInfo {
        handshake: Some(BmsHandshake {
            max_charge_voltage_mv: 426_100,
            bms_protocol_version: "1.1".into(),
            battery_type: BatteryType::Lfp as i32,
            rated_capacity_mah: 152_000,
            rated_voltage_mv: 364_800,
            battery_vendor: "CATL".into(),
            charge_count: 149,
            vehicle_owned: true,
            vin: "L1NSPGH98NA196202".into(),
            bms_software_version: vec![0x00, 0x01, 0x04, 0xE7, 0x07, 0xFF, 0xFF, 0x00],
            ..Default::default()
        }),
        config: Some(BmsConfig {
            max_cell_voltage_mv: 3700,
            max_charge_current_ma: 250_200,
            nominal_energy_wh: 55_400,
            max_total_voltage_mv: 426_100,
            max_temperature_c: 65,
            soc_permille: 776,
            battery_voltage_mv: 378_200,
            charger_max_voltage_mv: 950_000,
            charger_min_voltage_mv: 38_000,
            charger_max_current_ma: 250_000,
            charger_min_current_ma: 0,
        }),
        charging: Some(BmsCharging {
            demand_voltage_mv: 405_600,
            demand_current_ma: 200_000,
            charge_mode: BmsChargeMode::ConstantCurrent as i32,
            measured_voltage_mv: 354_900,
            measured_current_ma: 115_600,
            highest_cell_voltage_mv: 3710,
            highest_cell_group: 4,
            soc_percent: 35,
            remaining_min: 86,
            highest_temperature_c: 29,
            lowest_temperature_c: -27,
            cell_voltage_state: GbtLevel::Normal as i32,
            insulation: GbtFlag::Normal as i32,
            bms_charge_permitted: true,
            charger_charge_permitted: true,
            ..Default::default()
        }),
        end: Some(bms_end()),
    }
}

/// Requests (codes below 0x80), one per code.
fn requests() -> Vec<Message> {
    vec![
        BootNotificationReq {
            vendor: "ACME".into(),
            model: "DC-120".into(),
            serial_number: "SN0001".into(),
            firmware_version: "2.3.1".into(),
            connector_count: 2,
            charger_kind: ChargerKind::Dc as i32,
            rated_power_w: 120_000,
            protocol_version: "1.0.0".into(),
            reason: BootReason::Reconnect as i32,
            ..Default::default()
        }
        .into(),
        // Seed 远程参数设置示例 1: HeartbeatInterval = 10.
        ChangeConfigurationReq {
            configuration_key: vec![KeyValue {
                key: "HeartbeatInterval".into(),
                readonly: false,
                value: "10".into(),
            }],
        }
        .into(),
        GetConfigurationReq {
            key: vec!["HeartbeatInterval".into(), "ServerAddress".into()],
        }
        .into(),
        // Seed 远程重启: Reset, 1 = restart the program.
        RemoteControlReq {
            command: "Reset".into(),
            param: 1,
        }
        .into(),
        UpdateFirmwareReq {
            location_url: "ftp://fw.example/charger/".into(),
            file_name: "dc120-2.3.2.bin".into(),
            md5_hex: "9e107d9d372bb6826bd81d3542a419d6".into(),
            version: "2.3.2".into(),
            retries: 3,
            retry_interval_s: 60,
            ..Default::default()
        }
        .into(),
        FirmwareStatusNotificationReq {
            status: FirmwareStatus::Downloading as i32,
            version: "2.3.2".into(),
            info: String::new(),
        }
        .into(),
        GetDiagnosticsReq {
            location_url: "ftp://logs.example/".into(),
            start_time_unix_s: 1_699_000_000,
            stop_time_unix_s: 1_700_000_000,
            retries: 1,
            retry_interval_s: 30,
        }
        .into(),
        DiagnosticsStatusNotificationReq {
            status: DiagnosticsStatus::Uploaded as i32,
            file_name: "diag-SN0001.tar.gz".into(),
        }
        .into(),
        DeviceRegistrationReq {
            model: "DC-120".into(),
            serial_number: "SN0001".into(),
            vendor_code: "ACME".into(),
            registration_code: "REG-7F3A".into(),
        }
        .into(),
        RemoteStartTransactionReq {
            connector_id: 1,
            id_tag: "user-9".into(),
            order_id: "ORD-20231114-0001".into(),
            plan: Some(plan()),
            plug_in_timeout_s: 120,
            reservation_id: 0,
        }
        .into(),
        RemoteStopTransactionReq {
            transaction_id: 5001,
            connector_id: 1,
        }
        .into(),
        StartTransactionReq {
            connector_id: 1,
            id_tag: "CARD-0042".into(),
            id_tag_kind: IdTagKind::Card as i32,
            meter_start_wh: 1_000_000,
            timestamp_unix_s: 1_700_000_000,
            plan: Some(plan()),
            record_id: 11,
            offline: true,
            vin: "L1NSPGH98NA196202".into(),
            ..Default::default()
        }
        .into(),
        StopTransactionReq {
            transaction_id: 5001,
            record_id: 11,
            connector_id: 1,
            meter_stop_wh: 1_006_345,
            timestamp_unix_s: 1_700_003_600,
            reason: StopReason::BmsSocTarget as i32,
            energy_wh: 6_345,
            cost: Some(cost()),
            end_soc_permille: 770,
            bms_end: Some(bms_end()),
            ..Default::default()
        }
        .into(),
        AuthorizeReq {
            id_tag: "CARD-0042".into(),
            id_tag_kind: IdTagKind::Card as i32,
            connector_id: 2,
        }
        .into(),
        ReserveNowReq {
            connector_id: 2,
            expiry_unix_s: 1_700_001_800,
            id_tag: "user-9".into(),
            parent_id_tag: String::new(),
            reservation_id: 77,
        }
        .into(),
        CancelReservationReq { reservation_id: 77 }.into(),
        UpdateIdCardCacheReq {
            list_version: 12,
            update_type: CacheUpdateType::Differential as i32,
            entries: vec![
                IdCardEntry {
                    id_tag: "CARD-0042".into(),
                    action: CacheEntryAction::Replace as i32,
                    id_tag_info: Some(id_tag_info()),
                },
                IdCardEntry {
                    id_tag: "CARD-0013".into(),
                    action: CacheEntryAction::Delete as i32,
                    id_tag_info: None,
                },
            ],
        }
        .into(),
        seed_telemetry_example().into(),
        ChargingInfoReq {
            record_id: 11,
            connector_id: 1,
            elapsed_s: 1800,
            energy_wh: 31_200,
            cost_milliyuan: 49_920,
            power_w: 62_000,
            remaining_s: 2400,
            transaction_id: 5001,
            voltage_mv: 354_900,
            current_ma: 115_600,
            meter_wh: 1_031_200,
            timestamp_unix_s: 1_700_001_800,
            dc: Some(Box::new(dc_info())),
        }
        .into(),
        TriggerMessageReq {
            requested_code: pb::MessageCode::TelemetryReq as i32,
            connector_id: 0,
        }
        .into(),
        GetTransactionsReq {
            since_unix_s: 1_699_000_000,
            max_count: 50,
        }
        .into(),
        TransactionReq {
            record: Some(record()),
        }
        .into(),
        GetWarningReq {
            since_unix_s: 1_699_000_000,
            max_count: 20,
            active_only: true,
        }
        .into(),
        WarningReq {
            warnings: vec![warning()],
        }
        .into(),
        seed_tariff_example_2().into(),
    ]
}

/// Confirmations and the error reply (codes 0x80 and up), one per code.
fn confs() -> Vec<Message> {
    vec![
        BootNotificationConf {
            status: BootStatus::Accepted as i32,
            interval_s: 60,
            current_time_unix_s: 1_700_000_000,
        }
        .into(),
        ChangeConfigurationConf {
            status: ConfigurationStatus::RebootRequired as i32,
            results: vec![KeyStatus {
                key: "HeartbeatInterval".into(),
                status: ConfigurationStatus::RebootRequired as i32,
            }],
        }
        .into(),
        GetConfigurationConf {
            configuration_key: vec![KeyValue {
                key: "HeartbeatInterval".into(),
                readonly: false,
                value: "10".into(),
            }],
            unknown_key: vec!["ServerAddress".into()],
        }
        .into(),
        RemoteControlConf {
            status: RemoteControlStatus::Accepted as i32,
        }
        .into(),
        UpdateFirmwareConf {
            status: RequestStatus::Accepted as i32,
        }
        .into(),
        FirmwareStatusNotificationConf {}.into(),
        GetDiagnosticsConf {
            file_name: "diag-SN0001.tar.gz".into(),
        }
        .into(),
        DiagnosticsStatusNotificationConf {}.into(),
        DeviceRegistrationConf {
            status: RegistrationStatus::Accepted as i32,
            device_id: "dev-000042".into(),
        }
        .into(),
        RemoteStartTransactionConf {
            status: RemoteStartStopStatus::Rejected as i32,
            reason: "connector occupied".into(),
        }
        .into(),
        RemoteStopTransactionConf {
            status: RemoteStartStopStatus::Accepted as i32,
        }
        .into(),
        StartTransactionConf {
            transaction_id: 5001,
            id_tag_info: Some(id_tag_info()),
            record_id: 11,
        }
        .into(),
        StopTransactionConf {
            id_tag_info: Some(id_tag_info()),
            record_id: 11,
        }
        .into(),
        AuthorizeConf {
            id_tag_info: Some(id_tag_info()),
        }
        .into(),
        ReserveNowConf {
            status: ReservationStatus::Occupied as i32,
        }
        .into(),
        CancelReservationConf {
            status: RequestStatus::Rejected as i32,
        }
        .into(),
        UpdateIdCardCacheConf {
            status: CacheUpdateStatus::VersionMismatch as i32,
            list_version: 11,
        }
        .into(),
        TriggerMessageConf {
            status: TriggerMessageStatus::NotImplemented as i32,
        }
        .into(),
        GetTransactionsConf {
            transactions: vec![record(), record()],
            more: true,
        }
        .into(),
        TransactionConf {
            record_id: 11,
            status: TransactionAckStatus::Duplicate as i32,
            transaction_id: 5002,
        }
        .into(),
        GetWarningConf {
            warnings: vec![warning()],
            more: false,
        }
        .into(),
        WarningConf {}.into(),
        SetTariffConf {
            status: RequestStatus::Accepted as i32,
            tariff_id: 2,
        }
        .into(),
        MessageError {
            error_code: ErrorCode::NotImplemented as i32,
            error_text: "unknown message code 0x02".into(),
            offending_code: 0x02,
            offending_seq: 99,
        }
        .into(),
    ]
}

/// One populated message per code, in code order.
pub(super) fn all() -> Vec<Message> {
    let mut all = requests();
    all.extend(confs());
    all
}
