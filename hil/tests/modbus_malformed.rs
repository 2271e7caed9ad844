//! Bad input from the wire: malformed frames, wrong CRCs, oversized requests and random bytes
//! over Modbus TCP and over RTU through a socat pty pair. The emulator answers exceptions or
//! stays silent, never panics, and keeps serving well-formed requests afterwards.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed step is a failed test"
)]

mod modbus_common;

use hil::modbus::{
    ClientConfig, ClientTransport, LiveReading, MeterClient, MeterServer, MeterServerConfig,
    SerialSettings, ServerTransport,
};
use modbus_common::*;
use proto::modbus::MeterModel;
use proto::modbus::crc::crc16;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Whatever arrives within `ms`.
async fn collect<S: AsyncRead + Unpin>(io: &mut S, ms: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 512];
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, io.read(&mut chunk)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    out
}

fn mbap(transaction: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut out = transaction.to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(pdu.len() as u16 + 1).to_be_bytes());
    out.push(unit);
    out.extend_from_slice(pdu);
    out
}

fn rtu(unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut out = vec![unit];
    out.extend_from_slice(pdu);
    out.extend_from_slice(&crc16(&out).to_le_bytes());
    out
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    request: &[u8],
    ms: u64,
) -> Vec<u8> {
    io.write_all(request).await.unwrap();
    collect(io, ms).await
}

#[test]
fn tcp_survives_bad_frames_and_random_bytes() {
    let rt = runtime();
    rt.block_on(async {
        let config = MeterServerConfig::new(
            MeterModel::Dtsu666,
            ServerTransport::Tcp(([127, 0, 0, 1], 0).into()),
        );
        let server = MeterServer::start(
            config,
            LiveReading::new(sample_reading(MeterModel::Dtsu666)),
        )
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Oversized read (126 registers): exception 03.
        let reply = exchange(&mut s, &mbap(1, 1, &[0x03, 0x20, 0x00, 0x00, 0x7E]), 200).await;
        assert_eq!(reply, mbap(1, 1, &[0x83, 0x03]));
        // A read PDU cut short: exception 03; an unknown function: exception 01.
        let reply = exchange(&mut s, &mbap(2, 1, &[0x04, 0x20, 0x00]), 200).await;
        assert_eq!(reply, mbap(2, 1, &[0x84, 0x03]));
        let reply = exchange(&mut s, &mbap(3, 1, &[0x2B, 0x0E, 0x01, 0x00]), 200).await;
        assert_eq!(reply, mbap(3, 1, &[0xAB, 0x01]));
        // Writing a measurement: exception 02; reading past 0xFFFF: exception 02.
        let reply = exchange(&mut s, &mbap(4, 1, &[0x06, 0x20, 0x00, 0x00, 0x01]), 200).await;
        assert_eq!(reply, mbap(4, 1, &[0x86, 0x02]));
        let reply = exchange(&mut s, &mbap(5, 1, &[0x03, 0xFF, 0xFF, 0x00, 0x02]), 200).await;
        assert_eq!(reply, mbap(5, 1, &[0x83, 0x02]));
        // An MBAP length beyond any ADU: the connection is closed.
        let mut bad = mbap(6, 1, &[0x03, 0x20, 0x00, 0x00, 0x02]);
        bad[4..6].copy_from_slice(&0xFFFFu16.to_be_bytes());
        assert_eq!(exchange(&mut s, &bad, 300).await, Vec::<u8>::new());
        // Random bytes on many connections.
        let mut rng = ChaCha8Rng::seed_from_u64(77);
        for _ in 0..40 {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let len = rng.random_range(1..600);
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let _ = s.write_all(&bytes).await;
            let _ = collect(&mut s, 5).await;
        }
        // Still serving.
        let transport = ClientTransport::Tcp(addr);
        let mut client =
            MeterClient::connect(ClientConfig::new(MeterModel::Dtsu666, transport)).unwrap();
        client
            .read_reading()
            .await
            .expect("the emulator still answers");
        assert!(!server.is_finished());
        assert!(server.stats().bad_frames >= 1);
    });
}

#[test]
fn rtu_survives_bad_frames_and_random_bytes() {
    let line = pty_pair();
    let rt = runtime();
    rt.block_on(async {
        let serial = SerialSettings::new(&line.a, 9600);
        let config = MeterServerConfig::new(MeterModel::Sdm630, ServerTransport::Rtu(serial));
        let server =
            MeterServer::start(config, LiveReading::new(sample_reading(MeterModel::Sdm630)))
                .await
                .unwrap();
        let mut port = SerialSettings::new(&line.b, 9600).open().unwrap();
        // A good request with its CRC broken: silence.
        let mut broken = rtu(1, &[0x04, 0x00, 0x00, 0x00, 0x02]);
        broken[6] ^= 0x55;
        assert_eq!(exchange(&mut port, &broken, 100).await, Vec::<u8>::new());
        // Oversized read with a good CRC: exception 03.
        let reply = exchange(&mut port, &rtu(1, &[0x04, 0x00, 0x00, 0x00, 0xFF]), 150).await;
        assert_eq!(reply, rtu(1, &[0x84, 0x03]));
        // Report Server ID (0x11), which the meter does not implement: exception 01.
        let reply = exchange(&mut port, &rtu(1, &[0x11]), 150).await;
        assert_eq!(reply, rtu(1, &[0x91, 0x01]));
        // Oversized frame (write multiple with 250 data bytes): dropped.
        let mut huge = vec![0x10, 0x00, 0x00, 0x00, 0x7D, 0xFA];
        huge.extend_from_slice(&[0xAA; 250]);
        assert_eq!(
            exchange(&mut port, &rtu(1, &huge), 150).await,
            Vec::<u8>::new()
        );
        // Random bursts, each followed by a line silence.
        let mut rng = ChaCha8Rng::seed_from_u64(78);
        for _ in 0..20 {
            let len = rng.random_range(1..300);
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let _ = exchange(&mut port, &bytes, 40).await;
        }
        let reply = exchange(&mut port, &rtu(1, &[0x04, 0x00, 0x46, 0x00, 0x02]), 200).await;
        assert_eq!(reply.len(), 9, "the emulator still answers: {reply:02X?}");
        assert_eq!(&reply[..3], &[0x01, 0x04, 0x04]);
        drop(port);
        let mut client = MeterClient::connect(ClientConfig::new(
            MeterModel::Sdm630,
            ClientTransport::Rtu(SerialSettings::new(&line.b, 9600)),
        ))
        .unwrap();
        client
            .read_reading()
            .await
            .expect("a full reading after the garbage");
        assert!(!server.is_finished());
        assert!(server.stats().bad_frames >= 2, "{:?}", server.stats());
    });
}
