use super::*;
use crate::modbus::faults::RangeFault;
use proto::modbus::crc::crc16;
use proto::modbus::{DcReading, ExceptionCode, MeterReading};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

fn dc_reading() -> MeterReading {
    MeterReading::Dc(DcReading {
        voltage_v: 512.3,
        current_a: 101.5,
        power_w: 52_000.0,
        import_energy_wh: 123_456.0,
        temperature_c: 31.5,
        ..DcReading::default()
    })
}

fn config(model: MeterModel) -> MeterServerConfig {
    MeterServerConfig::new(model, ServerTransport::Tcp(([127, 0, 0, 1], 0).into())).with_unit_id(7)
}

fn shared(faults: MeterFaults) -> Shared {
    let mut config = config(MeterModel::Djsf1352);
    config.faults = faults;
    Shared::new(&config, LiveReading::new(dc_reading()))
}

fn pdu(request: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    request.encode(&mut out).unwrap();
    out
}

const READ_U: Request = Request::ReadHoldingRegisters {
    address: 0x0000,
    quantity: 2,
};

#[test]
fn other_units_and_broadcasts_get_silence() {
    let shared = shared(MeterFaults::default());
    assert_eq!(shared.handle(8, &pdu(&READ_U), true), None);
    assert_eq!(shared.handle(0, &pdu(&READ_U), true), None);
    // A broadcast write is applied: the clock moves.
    let clock = Request::WriteMultipleRegisters {
        address: 0x001E,
        values: vec![0x1901, 0x0203, 0x0405],
    };
    assert_eq!(shared.handle(0, &pdu(&clock), true), None);
    assert_eq!(lock(&shared.config).djsf.clock.year, 25);
    let stats = shared.stats.snapshot();
    assert_eq!(
        (stats.requests, stats.other_unit, stats.broadcasts),
        (3, 1, 2)
    );
}

#[test]
fn reads_follow_the_live_reading() {
    let shared = shared(MeterFaults::default());
    let reply = shared.handle(7, &pdu(&READ_U), false).unwrap();
    // 512.3 V with the automatic decimal code: the finest that fits in u16 is code 1
    // (10^-2 V per count), mantissa 51230.
    assert_eq!(
        reply.response,
        Response::ReadHoldingRegisters(vec![51230, 1])
    );
    shared.source.publish(MeterReading::Dc(DcReading {
        voltage_v: 400.0,
        ..DcReading::default()
    }));
    let reply = shared.handle(7, &pdu(&READ_U), false).unwrap();
    assert_eq!(
        reply.response,
        Response::ReadHoldingRegisters(vec![40000, 1])
    );
    assert!(!reply.corrupt_crc && reply.delay.is_zero());
}

#[test]
fn malformed_pdus_get_exceptions() {
    let shared = shared(MeterFaults::default());
    let exception = |bytes: &[u8]| shared.handle(7, bytes, true).map(|reply| reply.response);
    assert_eq!(
        exception(&[0x2B, 0x0E, 0x01, 0x00]),
        Some(Response::exception(
            FunctionCode::Custom(0x2B),
            ExceptionCode::IllegalFunction
        ))
    );
    // Quantity 126: over the limit of FC03.
    assert_eq!(
        exception(&[0x03, 0x00, 0x00, 0x00, 0x7E]),
        Some(Response::exception(
            FunctionCode::ReadHoldingRegisters,
            ExceptionCode::IllegalDataValue
        ))
    );
    // A read PDU one byte short.
    assert_eq!(
        exception(&[0x03, 0x00, 0x00, 0x00]),
        Some(Response::exception(
            FunctionCode::ReadHoldingRegisters,
            ExceptionCode::IllegalDataValue
        ))
    );
    // An unmapped register and FC04 on the DJSF1352.
    assert_eq!(
        exception(&[0x03, 0x10, 0x00, 0x00, 0x01]),
        Some(Response::exception(
            FunctionCode::ReadHoldingRegisters,
            ExceptionCode::IllegalDataAddress
        ))
    );
    assert_eq!(
        exception(&[0x04, 0x00, 0x00, 0x00, 0x02]),
        Some(Response::exception(
            FunctionCode::ReadInputRegisters,
            ExceptionCode::IllegalFunction
        ))
    );
    assert_eq!(shared.stats.snapshot().exceptions, 5);
}

#[test]
fn range_faults_and_no_response() {
    let faults = MeterFaults {
        ranges: vec![
            RangeFault {
                address: 0x0004,
                count: 1,
                kind: RangeFaultKind::Exception(ExceptionCode::ServerDeviceFailure),
            },
            RangeFault {
                address: 0x0013,
                count: 1,
                kind: RangeFaultKind::Silence,
            },
            RangeFault {
                address: 0x000C,
                count: 2,
                kind: RangeFaultKind::Stale,
            },
        ],
        response_delay_ms: 30,
        ..MeterFaults::default()
    };
    let shared = shared(faults);
    let read = |address, quantity| {
        shared
            .handle(
                7,
                &pdu(&Request::ReadHoldingRegisters { address, quantity }),
                true,
            )
            .map(|reply| reply.response)
    };
    assert_eq!(
        read(0x0000, 6),
        Some(Response::exception(
            FunctionCode::ReadHoldingRegisters,
            ExceptionCode::ServerDeviceFailure
        ))
    );
    assert_eq!(read(0x0012, 2), None);
    // The energy stays at its value when the fault started; the rest of the read is live.
    shared.source.publish(MeterReading::Dc(DcReading {
        import_energy_wh: 200_000.0,
        export_energy_wh: 5.0,
        ..DcReading::default()
    }));
    let Some(Response::ReadHoldingRegisters(words)) = read(0x000C, 4) else {
        panic!("registers expected")
    };
    assert_eq!(
        words,
        vec![0x0001, 0xE240, 0, 5],
        "123456 Wh stale, 5 Wh live"
    );
    let reply = shared.handle(7, &pdu(&READ_U), true).unwrap();
    assert_eq!(reply.delay, Duration::from_millis(30));
    lock(&shared.faults).set(
        MeterFaults {
            no_response: true,
            ..MeterFaults::default()
        },
        &dc_reading(),
        Instant::now(),
    );
    assert_eq!(shared.handle(7, &pdu(&READ_U), true), None);
    assert_eq!(shared.stats.snapshot().dropped_by_fault, 2);
}

async fn rtu_server(faults: MeterFaults) -> (MeterServerHandle, DuplexStream) {
    let (server_end, client_end) = tokio::io::duplex(1024);
    let mut config = config(MeterModel::Djsf1352);
    config.faults = faults;
    let handle =
        MeterServer::start_rtu_stream(config, LiveReading::new(dc_reading()), server_end).unwrap();
    (handle, client_end)
}

fn frame(unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut out = vec![unit];
    out.extend_from_slice(pdu);
    out.extend_from_slice(&crc16(&out).to_le_bytes());
    out
}

async fn reply_within(io: &mut DuplexStream, ms: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 256];
    let deadline = Instant::now() + Duration::from_millis(ms);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, io.read(&mut chunk)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    out
}

#[tokio::test]
async fn rtu_drops_bad_frames_and_answers_good_ones() {
    let (handle, mut io) = rtu_server(MeterFaults::default()).await;
    let mut bad = frame(7, &pdu(&READ_U));
    *bad.last_mut().unwrap() ^= 0xFF;
    io.write_all(&bad).await.unwrap();
    assert_eq!(reply_within(&mut io, 100).await, Vec::<u8>::new());
    // A frame with a good CRC whose function is unknown: exception 01 after the gap.
    io.write_all(&frame(7, &[0x11])).await.unwrap();
    assert_eq!(reply_within(&mut io, 150).await, frame(7, &[0x91, 0x01]));
    io.write_all(&frame(7, &pdu(&READ_U))).await.unwrap();
    assert_eq!(
        reply_within(&mut io, 100).await,
        frame(7, &[0x03, 0x04, 0xC8, 0x1E, 0x00, 0x01])
    );
    // 300 bytes of 0x10 (write multiple with a huge byte count): oversized, dropped.
    io.write_all(&[0x10; 300]).await.unwrap();
    assert_eq!(reply_within(&mut io, 100).await, Vec::<u8>::new());
    io.write_all(&frame(7, &pdu(&READ_U))).await.unwrap();
    assert_eq!(reply_within(&mut io, 100).await.len(), 9);
    let stats = handle.stats();
    assert_eq!(stats.bad_frames, 2, "{stats:?}");
    assert_eq!(stats.responses, 3);
    assert!(!handle.is_finished());
    handle.shutdown().await;
}

#[tokio::test]
async fn rtu_wrong_crc_fault_corrupts_replies() {
    let faults = MeterFaults {
        wrong_crc_ratio: 1.0,
        ..MeterFaults::default()
    };
    let (handle, mut io) = rtu_server(faults).await;
    io.write_all(&frame(7, &pdu(&READ_U))).await.unwrap();
    let reply = reply_within(&mut io, 100).await;
    assert_eq!(reply.len(), 9);
    let good = frame(7, &[0x03, 0x04, 0xC8, 0x1E, 0x00, 0x01]);
    assert_eq!(reply[..7], good[..7]);
    assert_ne!(reply[7..], good[7..]);
    assert_eq!(handle.stats().corrupted_crc, 1);
    handle.set_faults(MeterFaults::default());
    io.write_all(&frame(7, &pdu(&READ_U))).await.unwrap();
    assert_eq!(reply_within(&mut io, 100).await, good);
}

#[tokio::test]
async fn tcp_closes_on_a_bad_header_and_survives() {
    let handle = MeterServer::start(
        config(MeterModel::Ddsu666),
        LiveReading::new(MeterReading::zero(proto::modbus::MeterKind::AcSinglePhase)),
    )
    .await
    .unwrap();
    let addr = handle.local_addr().unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Protocol id 1: not Modbus.
    stream
        .write_all(&[0, 1, 0, 1, 0, 6, 7, 3, 0x20, 0, 0, 2])
        .await
        .unwrap();
    let mut chunk = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut chunk))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "the server closes the connection");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&[0, 9, 0, 0, 0, 6, 7, 3, 0x20, 0, 0, 2])
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut chunk))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&chunk[..n], &[0, 9, 0, 0, 0, 7, 7, 3, 4, 0, 0, 0, 0]);
    let stats = handle.stats();
    assert_eq!((stats.connections, stats.bad_frames), (2, 1));
}

#[tokio::test]
async fn invalid_settings_do_not_start() {
    let bad = config(MeterModel::Sdm630).with_unit_id(0);
    let source = LiveReading::new(MeterReading::zero(proto::modbus::MeterKind::AcThreePhase));
    assert!(matches!(
        MeterServer::start(bad, source.clone()).await,
        Err(ServerError::Config(_))
    ));
    let missing = MeterServerConfig::new(
        MeterModel::Sdm630,
        ServerTransport::Rtu(SerialSettings::new("/nonexistent/tty", 9600)),
    );
    assert!(matches!(
        MeterServer::start(missing, source).await,
        Err(ServerError::Serial { .. })
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    #[test]
    fn any_pdu_is_handled_without_panic(
        unit in 0u8..=9,
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..260),
    ) {
        let shared = shared(MeterFaults::default());
        if let Some(reply) = shared.handle(unit, &bytes, true) {
            proptest::prop_assert_eq!(unit, 7);
            let mut out = Vec::new();
            proptest::prop_assert!(reply.response.encode(&mut out).is_ok());
        }
    }
}
