//! Each meter fault, switched on while the emulator runs, as an outside client (mbpoll over
//! Modbus TCP) sees it: stuck values, drifting energy, no response, slow response, range
//! faults. (The corrupted CRC is RTU-only: see modbus_rtu_peers.)

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed step is a failed test"
)]

mod modbus_common;

use hil::modbus::{
    LiveReading, MeterFaults, MeterServer, MeterServerConfig, MeterServerHandle, RangeFault,
    RangeFaultKind, ServerTransport,
};
use modbus_common::*;
use proto::modbus::{DcReading, ExceptionCode, MeterModel, MeterReading};
use std::time::Duration;
use tokio::time::Instant;

fn dc(voltage_v: f64, import_energy_wh: f64) -> MeterReading {
    MeterReading::Dc(DcReading {
        voltage_v,
        current_a: 100.0,
        power_w: voltage_v * 100.0,
        import_energy_wh,
        temperature_c: 30.0,
        ..DcReading::default()
    })
}

struct Bench {
    rt: tokio::runtime::Runtime,
    server: MeterServerHandle,
    live: LiveReading,
    port: u16,
}

fn bench() -> Bench {
    require("mbpoll");
    let rt = runtime();
    let live = LiveReading::new(dc(400.0, 1000.0));
    let config = MeterServerConfig::new(
        MeterModel::Djsf1352,
        ServerTransport::Tcp(([127, 0, 0, 1], 0).into()),
    );
    let server = rt
        .block_on(MeterServer::start(config, live.clone()))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    Bench {
        rt,
        server,
        live,
        port,
    }
}

impl Bench {
    /// mbpoll's output for `count` hex words at `address`, and how long it took.
    fn words(&self, address: u16, count: u16) -> (Option<Vec<u16>>, Duration) {
        let _guard = self.rt.enter();
        let start = Instant::now();
        let output = run(
            &mut mbpoll(
                &MbpollLink::Tcp(self.port),
                1,
                "4:hex",
                address,
                count,
                true,
            ),
            Duration::from_secs(5),
        );
        let elapsed = start.elapsed();
        let values = mbpoll_values(&output);
        let words = (output.status.success() && values.len() == usize::from(count)).then(|| {
            values
                .iter()
                .map(|v| u16::from_str_radix(v.trim_start_matches("0x"), 16).unwrap())
                .collect()
        });
        (words, elapsed)
    }

    fn voltage(&self) -> f64 {
        let words = self.words(0x0000, 2).0.expect("voltage read");
        f64::from(words[0]) * 10f64.powi(i32::from(words[1]) - 3)
    }

    fn energy_wh(&self) -> u32 {
        let words = self.words(0x000C, 2).0.expect("energy read");
        (u32::from(words[0]) << 16) | u32::from(words[1])
    }
}

#[test]
fn stuck_values_ignore_new_readings_until_released() {
    let bench = bench();
    assert_eq!(bench.voltage(), 400.0);
    bench.server.set_faults(MeterFaults {
        stuck: true,
        ..MeterFaults::default()
    });
    bench.live.publish(dc(650.0, 5000.0));
    assert_eq!(bench.voltage(), 400.0);
    assert_eq!(bench.energy_wh(), 1000);
    bench.server.set_faults(MeterFaults::default());
    assert_eq!(bench.voltage(), 650.0);
    assert_eq!(bench.energy_wh(), 5000);
}

#[test]
fn drifting_energy_runs_ahead_of_the_physics() {
    let bench = bench();
    // 1 Wh per millisecond.
    bench.server.set_faults(MeterFaults {
        drift_wh_per_h: 3_600_000.0,
        ..MeterFaults::default()
    });
    let first = bench.energy_wh();
    bench
        .rt
        .block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    let second = bench.energy_wh();
    let gained = second - first;
    assert!(
        (250..2000).contains(&gained),
        "drift of {gained} Wh over ~300 ms"
    );
    assert!(first >= 1000);
    // The true energy did not move; ending the fault shows it again.
    bench.server.set_faults(MeterFaults::default());
    assert_eq!(bench.energy_wh(), 1000);
}

#[test]
fn no_response_and_slow_response() {
    let bench = bench();
    bench.server.set_faults(MeterFaults {
        no_response: true,
        ..MeterFaults::default()
    });
    let (words, elapsed) = bench.words(0x0000, 2);
    assert_eq!(words, None, "a dead meter answered");
    assert!(
        elapsed >= Duration::from_millis(400),
        "mbpoll gave up after {elapsed:?}"
    );
    assert!(bench.server.stats().dropped_by_fault >= 1);

    bench.server.set_faults(MeterFaults {
        response_delay_ms: 250,
        ..MeterFaults::default()
    });
    let (words, elapsed) = bench.words(0x0000, 2);
    assert!(words.is_some());
    assert!(
        elapsed >= Duration::from_millis(250),
        "reply after {elapsed:?}"
    );
    // Slower than mbpoll's 0.5 s timeout: the client sees a dead meter.
    bench.server.set_faults(MeterFaults {
        response_delay_ms: 900,
        ..MeterFaults::default()
    });
    assert_eq!(bench.words(0x0000, 2).0, None);
}

#[test]
fn range_faults_hit_only_their_registers() {
    let bench = bench();
    bench.server.set_faults(MeterFaults {
        ranges: vec![
            RangeFault {
                address: 0x0004,
                count: 1,
                kind: RangeFaultKind::Exception(ExceptionCode::ServerDeviceFailure),
            },
            RangeFault {
                address: 0x000C,
                count: 2,
                kind: RangeFaultKind::Stale,
            },
            RangeFault {
                address: 0x0013,
                count: 1,
                kind: RangeFaultKind::Silence,
            },
        ],
        ..MeterFaults::default()
    });
    bench.live.publish(dc(500.0, 7777.0));
    assert_eq!(
        bench.words(0x0004, 1).0,
        None,
        "break-line flag answers an exception"
    );
    assert_eq!(bench.words(0x0013, 1).0, None, "alarm word is silent");
    assert_eq!(bench.energy_wh(), 1000, "energy is stale");
    assert_eq!(bench.voltage(), 500.0, "voltage is live");
    let stats = bench.server.stats();
    assert_eq!((stats.exceptions, stats.dropped_by_fault), (1, 1));
}
