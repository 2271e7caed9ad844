//! The GB/T 27930 session's data as the MQTT protocol's `DcChargingInfo` (the DC block of
//! ChargingInfoReq: handshake, configuration, in-charge and end data).

use super::gbt_link::GbtLink;
use proto::gbt27930::msg::{ChargingMode, ChargingPermit, Level2, Status2};
use proto::mqtt::pb;

fn mv(v: f64) -> u32 {
    (v.max(0.0) * 1000.0).round() as u32
}

fn ma(a: f64) -> u32 {
    (a.max(0.0) * 1000.0).round() as u32
}

fn ascii<const N: usize>(bytes: &[u8; N]) -> String {
    bytes
        .iter()
        .copied()
        .filter(|b| b.is_ascii_graphic() || *b == b' ')
        .map(char::from)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn flag(s: Status2) -> i32 {
    (match s {
        Status2::Normal => pb::GbtFlag::Normal,
        Status2::Active => pb::GbtFlag::Abnormal,
        Status2::Untrusted => pb::GbtFlag::Untrusted,
        _ => pb::GbtFlag::Unspecified,
    }) as i32
}

fn level(l: Level2) -> i32 {
    (match l {
        Level2::Normal => pb::GbtLevel::Normal,
        Level2::TooHigh => pb::GbtLevel::TooHigh,
        Level2::TooLow => pb::GbtLevel::TooLow,
        _ => pb::GbtLevel::Unspecified,
    }) as i32
}

fn active(s: Status2) -> bool {
    s == Status2::Active
}

/// The DC block for ChargingInfoReq from what the charger machine has seen so far.
pub fn dc_charging_info(link: &GbtLink, now: proto::time::Instant) -> pb::DcChargingInfo {
    let charger = &link.pair.charger;
    let bms = charger.bms_data();
    let handshake = bms.brm.as_ref().map(|brm| {
        let details = brm.details.as_ref();
        pb::BmsHandshake {
            max_charge_voltage_mv: bms.bhm.map_or(0, |b| mv(b.max_charging_voltage_v)),
            bms_protocol_version: format!("{:?}", brm.version),
            battery_type: i32::from(brm.battery_type.to_u8()),
            rated_capacity_mah: ma(brm.rated_capacity_ah),
            rated_voltage_mv: mv(brm.rated_voltage_v),
            battery_vendor: details
                .map(|d| ascii(&d.manufacturer.0))
                .unwrap_or_default(),
            pack_serial: details.map_or(0, |d| u32::from_le_bytes(d.pack_serial)),
            production_year: details.map_or(0, |d| u32::from(d.production_year)),
            production_month: details.map_or(0, |d| u32::from(d.production_month)),
            production_day: details.map_or(0, |d| u32::from(d.production_day)),
            charge_count: details.map_or(0, |d| d.charge_count),
            vehicle_owned: details.is_some_and(|d| {
                matches!(d.ownership, proto::gbt27930::msg::Ownership::VehicleOwned)
            }),
            vin: details.map(|d| ascii(&d.vin.0)).unwrap_or_default(),
            bms_software_version: details
                .and_then(|d| d.software_version)
                .map(|v| v.to_vec())
                .unwrap_or_default(),
        }
    });
    let limits = charger.config().limits;
    let config = bms.bcp.map(|bcp| pb::BmsConfig {
        max_cell_voltage_mv: mv(bcp.max_cell_voltage_v),
        max_charge_current_ma: ma(bcp.max_current_a),
        nominal_energy_wh: (bcp.nominal_energy_kwh * 1000.0).round().max(0.0) as u32,
        max_total_voltage_mv: mv(bcp.max_total_voltage_v),
        max_temperature_c: i32::from(bcp.max_temperature_c),
        soc_permille: (bcp.soc_pct * 10.0).round().clamp(0.0, 1000.0) as u32,
        battery_voltage_mv: mv(bcp.battery_voltage_v),
        charger_max_voltage_mv: mv(limits.max_voltage_v),
        charger_min_voltage_mv: mv(limits.min_voltage_v),
        charger_max_current_ma: ma(limits.max_current_a),
        charger_min_current_ma: ma(limits.min_current_a),
    });
    let charging = bms.bcl.map(|bcl| {
        let bcs = bms.bcs;
        let bsm = bms.bsm;
        let output = charger.output();
        pb::BmsCharging {
            demand_voltage_mv: mv(bcl.voltage_demand_v),
            demand_current_ma: ma(bcl.current_demand_a),
            charge_mode: (match bcl.mode {
                ChargingMode::ConstantVoltage => pb::BmsChargeMode::ConstantVoltage,
                ChargingMode::ConstantCurrent => pb::BmsChargeMode::ConstantCurrent,
                ChargingMode::Unknown(_) => pb::BmsChargeMode::Unspecified,
            }) as i32,
            measured_voltage_mv: bcs.map_or(0, |b| mv(b.voltage_v)),
            measured_current_ma: bcs.map_or(0, |b| ma(b.current_a)),
            highest_cell_voltage_mv: bcs.map_or(0, |b| mv(b.max_cell_voltage_v)),
            highest_cell_group: bcs.map_or(0, |b| u32::from(b.max_cell_group)),
            soc_percent: bcs.map_or(0, |b| u32::from(b.soc_pct)),
            remaining_min: bcs.map_or(0, |b| u32::from(b.remaining_min)),
            highest_cell_number: bsm.map_or(0, |b| u32::from(b.max_cell_voltage_number)),
            highest_temperature_c: bsm.map_or(0, |b| i32::from(b.max_temperature_c)),
            highest_temperature_probe: bsm.map_or(0, |b| u32::from(b.max_temperature_sensor)),
            lowest_temperature_c: bsm.map_or(0, |b| i32::from(b.min_temperature_c)),
            lowest_temperature_probe: bsm.map_or(0, |b| u32::from(b.min_temperature_sensor)),
            cell_voltage_state: bsm.map_or(0, |b| level(b.cell_voltage)),
            soc_state: bsm.map_or(0, |b| level(b.soc)),
            over_current: bsm.map_or(0, |b| flag(b.over_current)),
            over_temperature: bsm.map_or(0, |b| flag(b.over_temperature)),
            insulation: bsm.map_or(0, |b| flag(b.insulation)),
            connector: bsm.map_or(0, |b| flag(b.output_connector)),
            bms_charge_permitted: bsm
                .is_none_or(|b| b.charging_permitted != ChargingPermit::Paused),
            output_voltage_mv: mv(output.voltage_v),
            output_current_ma: ma(output.current_a),
            charging_time_min: charger.charging_minutes_at(now),
            charger_charge_permitted: charger.setpoint().current_a > 0.0,
        }
    });
    let end = (bms.bst.is_some() || bms.bsd.is_some() || charger.cst().is_some()).then(|| {
        let bms_stop = bms.bst.map(|b| pb::BmsStopCause {
            soc_target_reached: active(b.reason.soc_target_reached),
            total_voltage_reached: active(b.reason.total_voltage_reached),
            cell_voltage_reached: active(b.reason.cell_voltage_reached),
            charger_stopped: active(b.reason.charger_stopped),
            insulation_fault: active(b.fault.insulation),
            connector_over_temperature: active(b.fault.output_connector_over_temperature),
            component_over_temperature: active(b.fault.bms_component_over_temperature),
            connector_fault: active(b.fault.charging_connector),
            battery_over_temperature: active(b.fault.battery_over_temperature),
            hv_relay_fault: active(b.fault.high_voltage_relay),
            cc2_voltage_fault: active(b.fault.detection_point_2_voltage),
            other_fault: active(b.fault.other),
            over_current: active(b.error.over_current),
            voltage_abnormal: active(b.error.voltage_abnormal),
        });
        let charger_stop = charger.cst().map(|c| pb::ChargerStopCause {
            condition_reached: active(c.reason.condition_reached),
            manual_stop: active(c.reason.manual_stop),
            fault_stop: active(c.reason.fault_stop),
            bms_stopped: active(c.reason.bms_stopped),
            over_temperature: active(c.fault.charger_over_temperature),
            connector_fault: active(c.fault.charging_connector),
            internal_over_temperature: active(c.fault.internal_over_temperature),
            energy_undeliverable: active(c.fault.energy_unavailable),
            emergency_stop: active(c.fault.emergency_stop),
            other_fault: active(c.fault.other),
            current_mismatch: active(c.error.current_mismatch),
            voltage_abnormal: active(c.error.voltage_abnormal),
        });
        pb::BmsEnd {
            bms_stop,
            charger_stop,
            end_soc_percent: bms.bsd.map_or(0, |b| u32::from(b.soc_pct)),
            min_cell_voltage_mv: bms.bsd.map_or(0, |b| mv(b.min_cell_voltage_v)),
            max_cell_voltage_mv: bms.bsd.map_or(0, |b| mv(b.max_cell_voltage_v)),
            min_temperature_c: bms.bsd.map_or(0, |b| i32::from(b.min_temperature_c)),
            max_temperature_c: bms.bsd.map_or(0, |b| i32::from(b.max_temperature_c)),
            charging_time_min: charger.charging_minutes_at(now),
            output_energy_wh: (charger.energy_kwh() * 1000.0).round().max(0.0) as u32,
            charger_number: charger.config().charger_number,
            bem_raw: 0,
            cem_raw: 0,
        }
    });
    pb::DcChargingInfo {
        handshake,
        config,
        charging,
        end,
    }
}

/// The DB4403 BmsInfo of a DC session: identity and limits from BRM/BCP, live values from
/// BCS/BSM and the battery model, the session's start and energy.
pub fn bms_info(
    link: &GbtLink,
    ev: &super::plant::Ev,
    now: proto::time::Instant,
    since: proto::time::Instant,
    civil_now: proto::tcec::time::CivilTime,
) -> proto::tcec::objects::BmsInfo {
    let bms = link.pair.charger.bms_data();
    let pack = ev.pack();
    let x = pack.extremes();
    let limits = pack.limits();
    let bcs = bms.bcs;
    let start = civil_now
        .add_seconds(-(((now - since).as_micros() / 1_000_000) as i64))
        .unwrap_or(civil_now);
    proto::tcec::objects::BmsInfo {
        vin_code: bms
            .brm
            .as_ref()
            .and_then(|b| b.details.as_ref())
            .map(|d| ascii(&d.vin.0))
            .or_else(|| Some(ev.vin.clone())),
        bms_code: Some(format!("BMS{:08}", ev.session)),
        bms_version: bms.brm.as_ref().map(|b| format!("{:?}", b.version)),
        connector_id: None,
        max_charge_current_a: bms
            .bcp
            .map_or(limits.max_charge_current_a, |b| b.max_current_a),
        max_charge_cell_voltage_v: bms
            .bcp
            .map_or(limits.max_cell_voltage_v, |b| b.max_cell_voltage_v),
        max_temp_c: bms
            .bcp
            .map_or(limits.max_temperature_c.round() as i32, |b| {
                i32::from(b.max_temperature_c)
            }),
        rated_capacity_kwh: (limits.nominal_energy_wh / 1000.0).round() as u32,
        total_voltage_v: bcs.map_or(pack.terminal_voltage_v(0.0), |b| b.voltage_v),
        total_current_a: bcs.map_or(0.0, |b| b.current_a),
        soc_percent: (pack.soc() * 100.0).round() as i32,
        cell_voltage_max_v: x.max_cell_voltage_v,
        cell_voltage_max_index: Some(u32::from(x.max_cell_index) + 1),
        cell_voltage_min_v: Some(x.min_cell_voltage_v),
        cell_temp_max_c: x.max_temperature_c.round() as i32,
        cell_temp_max_index: Some(u32::from(x.max_temperature_probe) + 1),
        cell_temp_min_c: x.min_temperature_c.round() as i32,
        cell_temp_min_index: Some(u32::from(x.min_temperature_probe) + 1),
        energy_change_kwh: Some(link.pair.charger.energy_kwh()),
        fresh_time: Some(civil_now.format_datetime()),
        start_charging_time: Some(start.format_datetime()),
        charging_session_s: Some(
            ((now - since).as_micros() / 1_000_000).min(u64::from(u32::MAX)) as u32,
        ),
    }
}
