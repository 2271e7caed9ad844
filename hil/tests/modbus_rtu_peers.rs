//! Every emulated meter read over Modbus RTU through a socat pseudo-terminal pair by mbpoll
//! and by pymodbus; silence for other unit ids; a corrupted CRC is rejected by pymodbus.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed step is a failed test"
)]

mod modbus_common;

use hil::modbus::{
    LiveReading, MeterFaults, MeterServer, MeterServerConfig, MeterServerHandle, SerialSettings,
    ServerTransport,
};
use modbus_common::*;
use proto::modbus::MeterModel;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

fn start(
    rt: &tokio::runtime::Runtime,
    model: MeterModel,
    unit: u8,
    device: &Path,
) -> MeterServerHandle {
    let serial = SerialSettings::new(device, 9600);
    let config = MeterServerConfig::new(model, ServerTransport::Rtu(serial)).with_unit_id(unit);
    rt.block_on(MeterServer::start(
        config,
        LiveReading::new(sample_reading(model)),
    ))
    .unwrap()
}

#[test]
fn mbpoll_reads_every_model() {
    require("mbpoll");
    let rt = runtime();
    for (model, unit) in MeterModel::ALL.into_iter().zip([5, 6, 7, 8, 9]) {
        let line = pty_pair();
        let server = start(&rt, model, unit, &line.a);
        let link = MbpollLink::Rtu(&line.b);
        for probe in probes(model, &sample_reading(model)) {
            check_with_mbpoll(&link, model, unit, &probe, true);
        }
        assert_eq!(server.stats().bad_frames, 0, "{model:?}");
    }
}

#[test]
fn pymodbus_reads_every_model_and_other_units_get_silence() {
    require_pymodbus();
    let rt = runtime();
    let lines: Vec<_> = MeterModel::ALL.iter().map(|_| pty_pair()).collect();
    let servers: Vec<_> = MeterModel::ALL
        .iter()
        .zip(&lines)
        .map(|(&model, line)| start(&rt, model, 1, &line.a))
        .collect();
    let targets: Vec<_> = MeterModel::ALL
        .iter()
        .zip(&lines)
        .map(|(&model, line)| {
            let mut reads: Vec<_> = probes(model, &sample_reading(model))
                .iter()
                .map(|probe| pymodbus_probe(1, probe, "big"))
                .collect();
            let fc = if matches!(model, MeterModel::Sdm630 | MeterModel::Sdm120) {
                4
            } else {
                3
            };
            reads.push(json!({"unit": 2, "fc": fc, "address": 0, "count": 2}));
            // The line recovers: unit 1 answers again after the silence.
            reads.push(pymodbus_probe(
                1,
                &probes(model, &sample_reading(model))[0],
                "big",
            ));
            json!({"transport": "rtu", "device": line.b, "baudrate": 9600, "timeout": 0.3,
                   "reads": reads})
        })
        .collect();
    let results = pymodbus_read(&json!({ "targets": targets }), Duration::from_secs(30));
    for ((&model, server), results) in MeterModel::ALL.iter().zip(&servers).zip(&results) {
        let probes = probes(model, &sample_reading(model));
        for (probe, result) in probes.iter().zip(results) {
            check_pymodbus(model, probe, result);
        }
        let tail = &results[probes.len()..];
        assert!(
            tail[0]["error"].is_string(),
            "{model:?}: unit 2 answered: {}",
            tail[0]
        );
        check_pymodbus(model, &probes[0], &tail[1]);
        assert_eq!(server.stats().other_unit, 1, "{model:?}");
    }
}

#[test]
fn corrupted_crc_and_dead_meter_are_seen_by_pymodbus() {
    require_pymodbus();
    let rt = runtime();
    let line = pty_pair();
    let model = MeterModel::Djsf1352;
    let server = start(&rt, model, 1, &line.a);
    let probe = probes(model, &sample_reading(model))[0];
    let read = pymodbus_probe(1, &probe, "big");
    let spec = json!({"targets": [{"transport": "rtu", "device": line.b, "timeout": 0.3,
                                   "reads": [read]}]});
    server.set_faults(MeterFaults {
        wrong_crc_ratio: 1.0,
        ..MeterFaults::default()
    });
    let results = pymodbus_read(&spec, Duration::from_secs(10));
    assert!(
        results[0][0]["error"].is_string(),
        "bad CRC accepted: {}",
        results[0][0]
    );
    assert!(server.stats().corrupted_crc >= 1);
    server.set_faults(MeterFaults {
        no_response: true,
        ..MeterFaults::default()
    });
    let results = pymodbus_read(&spec, Duration::from_secs(10));
    assert!(
        results[0][0]["error"].is_string(),
        "dead meter answered: {}",
        results[0][0]
    );
    server.set_faults(MeterFaults::default());
    let results = pymodbus_read(&spec, Duration::from_secs(10));
    check_pymodbus(model, &probe, &results[0][0]);
}
