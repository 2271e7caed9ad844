//! Micro benchmark of the GB/T 27930 periodic wire path, without criterion.
//!
//! Run with `cargo bench -p proto --bench wire`. It prints nanoseconds per operation for
//! the work a simulated connector does every 50–250 ms: encode and decode BCL/CCS/BSM/BCS,
//! build and classify a frame, and move a 9-byte BCS through TpSender → TpReceiver.
//!
//! Why it matters: 100 000 simulated connectors exchange about 58 frames/s each (§7.4 of
//! gbt27930.md), 5.8 M frames/s in total, so the per-frame cost must stay in the tens of
//! nanoseconds and must not allocate. The periodic message structs are `Copy` (checked at
//! compile time in `msg::tests`), encode writes into a caller's buffer, and the TP machines
//! reuse a buffer allocated once at construction.
//!
//! Measured on the 2-core development VM (release build, first run): BCL encode 6.9 ns,
//! BCL decode 2.7 ns, CCS encode 7.2 ns, BSM encode + decode 7.2 ns, BCS encode + decode
//! 21 ns, `Message::to_frame` 28 ns, classify + `Message::decode` of a CCS frame 19 ns, a
//! whole BCS transfer (RTS, CTS, 2 DT, EndOfMsgAck) through both TP machines 231 ns.

use std::hint::black_box;

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn, classify};
use proto::gbt27930::msg::{
    Bcl, Bcs, Bsm, Ccs, ChargingMode, ChargingPermit, GbtMessage, Level2, Message, Status2,
};
use proto::gbt27930::tp::{TpConfig, TpReceiver, TpSender};
use proto::time::{Duration, Instant};

/// Runs `f` `iterations` times and prints the mean time per call.
#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time; it is not part of the sans-IO library"
)]
fn bench(name: &str, iterations: u32, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("{name:<40} {ns:>10.1} ns/op");
}

fn main() {
    const N: u32 = 2_000_000;
    let bcl = Bcl {
        voltage_demand_v: 405.6,
        current_demand_a: 200.0,
        mode: ChargingMode::ConstantCurrent,
    };
    let ccs = Ccs {
        voltage_v: 352.0,
        current_a: 117.0,
        charging_time_min: 12,
        charging_permitted: Some(ChargingPermit::Permitted),
    };
    let bsm = Bsm {
        max_cell_voltage_number: 41,
        max_temperature_c: 29,
        max_temperature_sensor: 4,
        min_temperature_c: 27,
        min_temperature_sensor: 27,
        cell_voltage: Level2::Normal,
        soc: Level2::Normal,
        over_current: Status2::Normal,
        over_temperature: Status2::Normal,
        insulation: Status2::Normal,
        output_connector: Status2::Normal,
        charging_permitted: ChargingPermit::Permitted,
    };
    let bcs = Bcs {
        voltage_v: 354.9,
        current_a: 115.6,
        max_cell_voltage_v: 3.71,
        max_cell_group: 4,
        soc_pct: 35,
        remaining_min: 86,
    };
    let mut buf = [0u8; 16];
    bench("BCL encode", N, || {
        black_box(black_box(&bcl).encode(&mut buf)).ok();
    });
    bench("BCL decode", N, || {
        black_box(Bcl::decode(black_box(&[0xD8, 0x0F, 0xD0, 0x07, 0x02]))).ok();
    });
    bench("CCS encode", N, || {
        black_box(black_box(&ccs).encode(&mut buf)).ok();
    });
    bench("BSM encode + decode", N, || {
        let n = black_box(&bsm).encode(&mut buf).unwrap_or(0);
        black_box(Bsm::decode(&buf[..n])).ok();
    });
    bench("BCS encode + decode", N, || {
        let n = black_box(&bcs).encode(&mut buf).unwrap_or(0);
        black_box(Bcs::decode(&buf[..n])).ok();
    });
    let bcl_msg = Message::Bcl(bcl);
    bench("Message::to_frame (BCL)", N, || {
        black_box(black_box(&bcl_msg).to_frame(Node::Bms)).ok();
    });
    let Ok(frame) = CanFrame::new(0x1812F456, &[0xC0, 0x0D, 0x0E, 0x0B, 0x00, 0x00, 0x01]) else {
        return;
    };
    bench("classify + Message::decode (CCS)", N, || {
        if let Ok(proto::gbt27930::id::Inbound::Accepted(id)) =
            classify(black_box(&frame), Node::Bms)
        {
            black_box(Message::decode(id.pgn(), frame.data())).ok();
        }
    });
    bench_tp(&bcs);
}

/// One BCS transfer: RTS, CTS, 2 DT, EndOfMsgAck, with the DT spacing set to zero.
fn bench_tp(bcs: &Bcs) {
    let mut tx = TpSender::new(TpConfig {
        dt_interval: Duration::ZERO,
        ..TpConfig::new(Node::Bms)
    });
    let mut rx = TpReceiver::new(TpConfig::new(Node::Charger));
    let mut payload = [0u8; 9];
    let n = bcs.encode(&mut payload).unwrap_or(0);
    let mut now = Instant::ZERO;
    bench("BCS through TpSender -> TpReceiver", 200_000, || {
        now += Duration::from_millis(250);
        tx.start(now, Pgn::Bcs.value(), &payload[..n]).ok();
        loop {
            let mut moved = false;
            while let Some(f) = tx.poll_transmit(now) {
                rx.handle_frame(now, &f).ok();
                moved = true;
            }
            while let Some(f) = rx.poll_transmit(now) {
                tx.handle_frame(now, &f).ok();
                moved = true;
            }
            if !moved {
                break;
            }
        }
        while let Some(e) = rx.poll_event() {
            black_box(e);
        }
        while let Some(e) = tx.poll_event() {
            black_box(e);
        }
    });
}
