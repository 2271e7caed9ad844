//! chargestorm's meter client reading pymodbus simulators that stand in for real meters: a
//! DTSU666 over Modbus TCP and a DJSF1352 over RTU through a socat pty pair. The simulators'
//! registers are laid out here from the reference (§1.1, §1.3) and encoded by pymodbus, so
//! the client's decoding is checked against an independent encoder.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed step is a failed test"
)]

mod modbus_common;

use hil::modbus::client::spawn_poller;
use hil::modbus::convert::to_sim;
use hil::modbus::{ClientConfig, ClientTransport, MeterClient, SerialSettings};
use modbus_common::*;
use proto::modbus::{MeterModel, MeterReading};
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// Read a full reading, retrying while the simulator starts (at most 15 s).
async fn first_reading(client: &mut MeterClient) -> MeterReading {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match client.read_reading().await {
            Ok(reading) => return reading,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the pymodbus meter never answered: {error}"),
        }
    }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-5 * want.abs().max(1.0)
}

#[test]
fn reads_a_dtsu666_simulator_over_tcp() {
    require_pymodbus();
    let port = free_port();
    // Uab Ubc Uca Ua Ub Uc (0.1 V), Ia Ib Ic (mA), Pt Pa Pb Pc Qt Qa Qb Qc (0.1 W / var).
    let block_2000 = [
        3981.0, 3979.0, 3984.0, 2298.0, 2301.0, 2303.0, 31_700.0, 31_650.0, 31_720.0, 216_000.0,
        72_000.0, 71_900.0, 72_100.0, 30_000.0, 10_000.0, 10_000.0, 10_000.0,
    ];
    let spec = json!({"transport": "tcp", "port": port, "unit": 3, "blocks": [
        {"address": 0x2000, "type": "float32", "values": block_2000},
        {"address": 0x202A, "type": "float32", "values": [990.0, 991.0, 989.0, 990.0]},
        {"address": 0x2044, "type": "float32", "values": [5002.0]},
        {"address": 0x101E, "type": "float32", "values": [1234.5]},
        {"address": 0x1028, "type": "float32", "values": [1.5]},
    ]});
    let _meter = pymodbus_server(&spec);
    let transport = ClientTransport::Tcp(([127, 0, 0, 1], port).into());
    let config = ClientConfig {
        timeout: Duration::from_millis(300),
        retries: 1,
        ..ClientConfig::new(MeterModel::Dtsu666, transport).with_unit_id(3)
    };
    let rt = runtime();
    let (reading, stats) = rt.block_on(async {
        let mut client = MeterClient::connect(config).unwrap();
        let reading = first_reading(&mut client).await;
        // A poller keeps feeding fresh readings.
        let poller = spawn_poller(client, Duration::from_millis(50));
        let mut rx = poller.subscribe();
        tokio::time::timeout(
            Duration::from_secs(5),
            rx.wait_for(|p| p.is_some_and(|p| p.seq >= 2)),
        )
        .await
        .expect("poller publishes")
        .unwrap();
        (reading, poller.stats())
    });
    assert!(stats.readings >= 2, "{stats:?}");
    let MeterReading::Ac(ac) = reading else {
        panic!("AC reading expected")
    };
    let expect = [
        (ac.voltage_v[0], 229.8),
        (ac.voltage_v[2], 230.3),
        (ac.current_a[1], 31.65),
        (ac.total_active_power_w, 21_600.0),
        (ac.active_power_w[2], 7_210.0),
        (ac.total_reactive_power_var, 3_000.0),
        (ac.total_power_factor, 0.99),
        (ac.frequency_hz, 50.02),
        (ac.import_energy_wh, 1_234_500.0),
        (ac.export_energy_wh, 1_500.0),
    ];
    for (i, (got, want)) in expect.into_iter().enumerate() {
        assert!(
            close(got, want),
            "value {i}: decoded {got}, simulator holds {want}"
        );
    }
    // In the connector's model: 10 Wh register steps.
    let sim = to_sim(&reading, MeterModel::Dtsu666, 10.0);
    assert_eq!(sim.import_energy_register, 123_450);
    assert!(close(sim.power_w, 21_600.0));
}

#[test]
fn reads_a_djsf1352_simulator_over_rtu() {
    require_pyserial();
    let line = pty_pair();
    let mut registers = vec![0u16; 0x24];
    let set = |regs: &mut Vec<u16>, at: usize, words: &[u16]| {
        regs[at..at + words.len()].copy_from_slice(words);
    };
    set(&mut registers, 0x0000, &[7453, 2]); // 745.3 V
    set(&mut registers, 0x0002, &[(-12170i16) as u16, 1]); // -121.70 A (export)
    set(&mut registers, 0x0005, &[315]); // 31.5 °C
    set(&mut registers, 0x0008, &[(-9070i16) as u16, 4]); // -90.70 kW
    set(&mut registers, 0x000C, &[0x0012, 0xD687, 0x0000, 0x0141]); // 1 234 567 Wh, 321 Wh
    set(&mut registers, 0x0010, &[1, 250]);
    set(&mut registers, 0x001E, &[0x1803, 0x130E, 0x1409, 0x0103]);
    set(&mut registers, 0x0023, &[0x0103]);
    let spec = json!({"transport": "rtu", "device": line.a, "baudrate": 9600, "unit": 1,
                      "blocks": [{"address": 0, "type": "uint16", "values": registers}]});
    let _meter = pymodbus_server(&spec);
    let serial = SerialSettings::new(&line.b, 9600);
    let config = ClientConfig {
        timeout: Duration::from_millis(300),
        retries: 1,
        ..ClientConfig::new(MeterModel::Djsf1352, ClientTransport::Rtu(serial))
    };
    let rt = runtime();
    let reading = rt.block_on(async {
        let mut client = MeterClient::connect(config).unwrap();
        first_reading(&mut client).await
    });
    let MeterReading::Dc(dc) = reading else {
        panic!("DC reading expected")
    };
    assert!(close(dc.voltage_v, 745.3), "{dc:?}");
    assert!(close(dc.current_a, -121.7), "{dc:?}");
    assert!(close(dc.power_w, -90_700.0), "{dc:?}");
    assert!(close(dc.temperature_c, 31.5), "{dc:?}");
    assert_eq!(
        (dc.import_energy_wh, dc.export_energy_wh),
        (1_234_567.0, 321.0)
    );
}
