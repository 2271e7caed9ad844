//! Every emulated meter read over Modbus TCP by mbpoll and by pymodbus: values match the
//! published reading within the register's resolution, other unit ids get silence, bad
//! addresses get exceptions.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed step is a failed test"
)]

mod modbus_common;

use hil::modbus::{
    LiveReading, MeterServer, MeterServerConfig, MeterServerHandle, ServerTransport,
};
use modbus_common::*;
use proto::modbus::{MeterModel, WordOrder};
use serde_json::json;
use std::time::Duration;

fn start(
    rt: &tokio::runtime::Runtime,
    model: MeterModel,
    unit: u8,
    order: WordOrder,
) -> MeterServerHandle {
    let config = MeterServerConfig::new(model, ServerTransport::Tcp(([127, 0, 0, 1], 0).into()))
        .with_unit_id(unit)
        .with_word_order(order);
    rt.block_on(MeterServer::start(
        config,
        LiveReading::new(sample_reading(model)),
    ))
    .unwrap()
}

fn unit_of(model: MeterModel) -> u8 {
    match model {
        MeterModel::Djsf1352 => 1,
        MeterModel::Ddsu666 => 2,
        MeterModel::Dtsu666 => 3,
        MeterModel::Sdm630 => 17,
        MeterModel::Sdm120 => 247,
    }
}

#[test]
fn mbpoll_reads_every_model() {
    require("mbpoll");
    let rt = runtime();
    for model in MeterModel::ALL {
        let unit = unit_of(model);
        let server = start(&rt, model, unit, WordOrder::Abcd);
        let link = MbpollLink::Tcp(server.local_addr().unwrap().port());
        for probe in probes(model, &sample_reading(model)) {
            check_with_mbpoll(&link, model, unit, &probe, true);
        }
        assert_eq!(server.stats().exceptions, 0);
    }
}

#[test]
fn mbpoll_reads_swapped_words_without_big_endian() {
    // mbpoll's default float order is the swapped one (reference §4 proof 2): a meter set to
    // CDAB reads right without -B.
    require("mbpoll");
    let rt = runtime();
    let model = MeterModel::Ddsu666;
    let server = start(&rt, model, 1, WordOrder::Cdab);
    let link = MbpollLink::Tcp(server.local_addr().unwrap().port());
    for probe in probes(model, &sample_reading(model)).iter().take(3) {
        check_with_mbpoll(&link, model, 1, probe, false);
    }
}

#[test]
fn pymodbus_reads_every_model_and_sees_silence_and_exceptions() {
    require_pymodbus();
    let rt = runtime();
    let servers: Vec<_> = MeterModel::ALL
        .iter()
        .map(|&model| (model, start(&rt, model, unit_of(model), WordOrder::Abcd)))
        .collect();
    let targets: Vec<_> = servers
        .iter()
        .map(|(model, server)| {
            let unit = unit_of(*model);
            let mut reads: Vec<_> = probes(*model, &sample_reading(*model))
                .iter()
                .map(|probe| pymodbus_probe(unit, probe, "big"))
                .collect();
            let fc = if matches!(model, MeterModel::Sdm630 | MeterModel::Sdm120) {
                4
            } else {
                3
            };
            // Another unit id and an unmapped register. (pymodbus refuses to send counts
            // over 125; modbus_malformed sends those as raw frames.)
            reads.push(json!({"unit": unit % 200 + 1, "fc": fc, "address": 0, "count": 2}));
            reads.push(json!({"unit": unit, "fc": fc, "address": 0x7000, "count": 2}));
            json!({"transport": "tcp", "port": server.local_addr().unwrap().port(),
                   "timeout": 0.4, "reads": reads})
        })
        .collect();
    let results = pymodbus_read(&json!({ "targets": targets }), Duration::from_secs(20));
    for ((model, server), results) in servers.iter().zip(&results) {
        let probes = probes(*model, &sample_reading(*model));
        for (probe, result) in probes.iter().zip(results) {
            check_pymodbus(*model, probe, result);
        }
        let tail = &results[probes.len()..];
        assert!(
            tail[0]["error"].is_string(),
            "{model:?}: other unit answered: {}",
            tail[0]
        );
        assert_eq!(tail[1]["exception"], 2, "{model:?}: unmapped register");
        let stats = server.stats();
        assert_eq!((stats.other_unit, stats.exceptions), (1, 1), "{model:?}");
    }
}

#[test]
fn eastron_measurements_are_input_registers_only() {
    require_pymodbus();
    let rt = runtime();
    let server = start(&rt, MeterModel::Sdm630, 1, WordOrder::Abcd);
    let port = server.local_addr().unwrap().port();
    let spec = json!({"targets": [{"transport": "tcp", "port": port, "timeout": 0.5, "reads": [
        {"unit": 1, "fc": 3, "address": 0, "count": 2},
        {"unit": 1, "fc": 3, "address": 0x0014, "count": 2, "type": "float32"},
    ]}]});
    let results = pymodbus_read(&spec, Duration::from_secs(10));
    assert_eq!(results[0][0]["exception"], 2, "FC03 on a measurement");
    assert_eq!(results[0][1]["values"][0], 1.0, "meter id holding register");
}
