use super::*;
use crate::modbus::convert::from_sim;
use crate::modbus::faults::MeterFaults;
use crate::modbus::live::LiveReading;
use crate::modbus::server::{MeterServer, MeterServerConfig, MeterServerHandle, ServerTransport};
use proto::modbus::map::{PollRead, Table};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_core::physics::{AcSupply, EnergyMeter, MeterParams};
use tokio::time::Instant;

/// A mid-session reading of the simulated meter for `model`.
fn reading(model: MeterModel) -> MeterReading {
    let kind = crate::modbus::convert::sim_kind(model);
    let params = match kind {
        sim_core::physics::MeterKind::Dc => MeterParams::dc(),
        sim_core::physics::MeterKind::AcSinglePhase => MeterParams::ac_single_phase(),
        sim_core::physics::MeterKind::AcThreePhase => MeterParams::ac_three_phase(),
    };
    let mut meter = EnergyMeter::new(&params, ChaCha8Rng::seed_from_u64(11)).unwrap();
    match kind {
        sim_core::physics::MeterKind::Dc => meter.step(1800.0, 480.0, 120.0),
        sim_core::physics::MeterKind::AcSinglePhase => {
            meter.step_ac(
                1800.0,
                &AcSupply::default()
                    .single_phase()
                    .quantities_at_current(31.5),
            );
        }
        sim_core::physics::MeterKind::AcThreePhase => {
            meter.step_ac(1800.0, &AcSupply::default().quantities_at_current(31.5));
        }
    }
    from_sim(&meter.reading())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * b.abs().max(1.0) + 0.5
}

fn assert_matches(model: MeterModel, got: &MeterReading, want: &MeterReading) {
    for &quantity in model.register_map().required {
        let (g, w) = (got.get(quantity).unwrap(), want.get(quantity).unwrap());
        assert!(
            close(g, w),
            "{model:?} {quantity:?}: read {g}, published {w}"
        );
    }
}

fn unit7(model: MeterModel) -> MeterServerConfig {
    MeterServerConfig::new(model, ServerTransport::Tcp(([127, 0, 0, 1], 0).into())).with_unit_id(7)
}

fn fast(config: ClientConfig) -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_millis(150),
        retries: 1,
        request_gap: Duration::ZERO,
        ..config.with_unit_id(7)
    }
}

async fn tcp_pair(model: MeterModel, faults: MeterFaults) -> (MeterServerHandle, MeterClient) {
    let mut config = unit7(model);
    config.faults = faults;
    let server = MeterServer::start(config, LiveReading::new(reading(model)))
        .await
        .unwrap();
    let transport = ClientTransport::Tcp(server.local_addr().unwrap());
    let client = MeterClient::connect(fast(ClientConfig::new(model, transport))).unwrap();
    (server, client)
}

fn rtu_pair(model: MeterModel, faults: MeterFaults) -> (MeterServerHandle, MeterClient) {
    let (a, b) = tokio::io::duplex(1024);
    let mut config = unit7(model);
    config.faults = faults;
    let server =
        MeterServer::start_rtu_stream(config, LiveReading::new(reading(model)), a).unwrap();
    let transport = ClientTransport::Tcp(([127, 0, 0, 1], 1).into());
    let client = MeterClient::over_rtu_stream(fast(ClientConfig::new(model, transport)), b);
    (server, client)
}

#[tokio::test]
async fn every_model_round_trips_over_tcp_and_rtu() {
    for model in MeterModel::ALL {
        let want = reading(model);
        let (_server, mut client) = tcp_pair(model, MeterFaults::default()).await;
        assert_matches(model, &client.read_reading().await.unwrap(), &want);
        let (_server, mut client) = rtu_pair(model, MeterFaults::default());
        assert_matches(model, &client.read_reading().await.unwrap(), &want);
        let stats = client.stats();
        assert_eq!(stats.readings, 1);
        assert_eq!(stats.requests, stats.responses);
    }
}

#[tokio::test]
async fn silence_times_out_after_the_retries() {
    let faults = MeterFaults {
        no_response: true,
        ..MeterFaults::default()
    };
    let (server, mut client) = tcp_pair(MeterModel::Sdm630, faults.clone()).await;
    let error = client.read_reading().await.unwrap_err();
    assert!(
        matches!(error, ClientError::Timeout { unit_id: 7, .. }),
        "{error}"
    );
    let stats = client.stats();
    assert_eq!((stats.requests, stats.timeouts, stats.retries), (2, 2, 1));
    // The meter recovers; the late replies of nothing do not confuse the next read.
    server.set_faults(MeterFaults::default());
    assert!(client.read_reading().await.is_ok());
    let (_server, mut client) = rtu_pair(MeterModel::Ddsu666, faults);
    assert!(matches!(
        client.read_reading().await,
        Err(ClientError::Timeout { .. })
    ));
}

#[tokio::test]
async fn crc_errors_are_retried_and_counted() {
    let faults = MeterFaults {
        wrong_crc_ratio: 1.0,
        ..MeterFaults::default()
    };
    let (server, mut client) = rtu_pair(MeterModel::Djsf1352, faults);
    let error = client.read_reading().await.unwrap_err();
    assert!(matches!(error, ClientError::Crc { .. }), "{error}");
    assert_eq!(client.stats().crc_errors, 2);
    server.set_faults(MeterFaults {
        wrong_crc_ratio: 0.3,
        ..MeterFaults::default()
    });
    client.config.retries = 10;
    for _ in 0..5 {
        client.read_reading().await.unwrap();
    }
    assert!(server.stats().corrupted_crc > 2);
}

#[tokio::test]
async fn exceptions_are_answers_not_retried() {
    let (_server, mut client) = tcp_pair(MeterModel::Sdm120, MeterFaults::default()).await;
    let unmapped = PollRead {
        table: Table::Input,
        address: 0x0100,
        count: 2,
    };
    let error = client.read(unmapped).await.unwrap_err();
    assert!(matches!(
        error,
        ClientError::Exception {
            code: ExceptionCode::IllegalDataAddress,
            address: 0x0100,
            ..
        }
    ));
    let stats = client.stats();
    assert_eq!((stats.requests, stats.exceptions, stats.retries), (1, 1, 0));
    let voltage = PollRead {
        table: Table::Input,
        address: 0x0000,
        count: 2,
    };
    let words = client.read(voltage).await.unwrap();
    let MeterReading::Ac(ac) = reading(MeterModel::Sdm120) else {
        panic!()
    };
    let volts = proto::modbus::WordOrder::Abcd.join_f32([words[0], words[1]]);
    assert_eq!(volts, ac.voltage_v[0] as f32);
}

#[tokio::test]
async fn wrong_unit_and_refused_connections() {
    let (server, _) = tcp_pair(MeterModel::Dtsu666, MeterFaults::default()).await;
    let transport = ClientTransport::Tcp(server.local_addr().unwrap());
    let mut other = MeterClient::connect(
        fast(ClientConfig::new(MeterModel::Dtsu666, transport)).with_unit_id(8),
    )
    .unwrap();
    assert!(matches!(
        other.read_reading().await,
        Err(ClientError::Timeout { .. })
    ));
    assert_eq!(server.stats().other_unit, 2);
    let addr = server.local_addr().unwrap();
    drop(server);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut gone = MeterClient::connect(fast(ClientConfig::new(
        MeterModel::Dtsu666,
        ClientTransport::Tcp(addr),
    )))
    .unwrap();
    let error = gone.read_reading().await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(gone.stats().io_errors + gone.stats().timeouts, 2);
}

#[tokio::test]
async fn poller_publishes_and_reports_failures() {
    let (server, client) = tcp_pair(MeterModel::Dtsu666, MeterFaults::default()).await;
    let poller = spawn_poller(client, Duration::from_millis(20));
    let mut rx = poller.subscribe();
    let first = tokio::time::timeout(
        Duration::from_secs(2),
        rx.wait_for(|p| p.is_some_and(|p| p.seq >= 2)),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_matches(
        MeterModel::Dtsu666,
        &first.reading,
        &reading(MeterModel::Dtsu666),
    );
    server.set_faults(MeterFaults {
        no_response: true,
        ..MeterFaults::default()
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while poller.consecutive_failures() < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(poller.consecutive_failures() >= 1);
    assert!(poller.last_error().unwrap().contains("no reply"));
    assert!(poller.stats().timeouts >= 2);
    poller.stop();
}
