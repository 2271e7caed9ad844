//! The CAN path across processes without kernel CAN: sessions, python-can and a real-time
//! conformance case over the socketcand endpoint.

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

use std::process::Command;

use hil::can::realtime::{Direction, Session, SessionPlan, run_case, run_session};
use hil::can::{CandumpRecorder, CandumpReplayer, SocketcandClient, SocketcandServer, VirtualCan};
use sim_core::gbt::bms::{BmsConfig, BmsSession};
use sim_core::gbt::charger::{ChargerConfig, ChargerPhase, ChargerSession};
use sim_core::gbt::conformance::{DutAction, find};
use tokio::time::Duration;

async fn server() -> SocketcandServer {
    SocketcandServer::bind(
        "127.0.0.1:0",
        vec![VirtualCan::new("can0"), VirtualCan::new("can1")],
    )
    .await
    .expect("bind a loopback socketcand server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_over_socketcand_between_two_clients() {
    let srv = server().await;
    let addr = srv.local_addr().to_string();
    let dir = Scratch::new("cs-can");
    let log = dir.join("session.log");
    let recorder = CandumpRecorder::start(srv.buses(), &log).await.unwrap();

    let mut charger_bus = SocketcandClient::connect(&addr, "can0").await.unwrap();
    let mut bms_bus = SocketcandClient::connect(&addr, "can0").await.unwrap();
    let charger = tokio::spawn(async move {
        let mut s = Session::Charger(Box::new(ChargerSession::new(ChargerConfig::default())));
        let plan = SessionPlan {
            limit: Duration::from_secs(40),
            stop_after_charging: Some(Duration::from_secs(2)),
        };
        run_session(&mut charger_bus, &mut s, plan).await.unwrap()
    });
    let bms = tokio::spawn(async move {
        let mut s = Session::Bms(Box::new(BmsSession::new(BmsConfig::lfp())));
        let plan = SessionPlan {
            limit: Duration::from_secs(40),
            stop_after_charging: None,
        };
        run_session(&mut bms_bus, &mut s, plan).await.unwrap()
    });
    let (c, b) = (charger.await.unwrap(), bms.await.unwrap());
    // Let the last frames cross the TCP hop before the recorder stops.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let frames = recorder.finish().await.unwrap();
    assert!(c.completed, "charger ended in {}", c.final_phase);
    assert!(b.completed, "BMS ended in {}", b.final_phase);
    println!(
        "charger: {} tx / {} rx in {} ms",
        c.frames_tx, c.frames_rx, c.elapsed_ms
    );
    for row in c.periods.iter().chain(b.periods.iter()) {
        println!(
            "{:>4} {:?} nominal {:>4} ms median {:>7.2} p99 {:>7.2} min {:>7.2} max {:>7.2} n={} ok={}",
            row.code,
            row.direction,
            row.nominal_ms,
            row.median_ms,
            row.p99_ms,
            row.min_ms,
            row.max_ms,
            row.count,
            row.within_tolerance
        );
    }
    // The periodic messages keep their periods across the TCP hop.
    for (rows, code) in [
        (&b.periods, "CHM"),
        (&c.periods, "BCL"),
        (&b.periods, "CCS"),
        (&c.periods, "BHM"),
    ] {
        let row = rows
            .iter()
            .find(|r| r.code == code && r.direction == Direction::Rx)
            .unwrap_or_else(|| panic!("no {code} measured"));
        assert!(row.within_tolerance, "{code}: {row:?}");
    }
    // The recorder saw both sides, and the log replays.
    assert!(
        frames as u64 >= c.frames_tx + b.frames_tx,
        "{frames} recorded"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains(" can0 1826F456#010100"),
        "{}",
        text.lines().next().unwrap()
    );
    let replay = CandumpReplayer::from_log(&text, Some("can0"), Some(0xF4));
    assert!(replay.skipped().is_empty());
    assert!(replay.frames().iter().all(|(_, f)| f.id() as u8 == 0xF4));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_bms_log_drives_a_live_charger_through_the_handshake() {
    // Record a BMS, then replay only its frames against a fresh charger on another bus.
    let srv = server().await;
    let bus = srv.bus("can1").unwrap().clone();
    let mut port = bus.port();
    let mut listener = bus.port();
    let bhm = hil::can::CanFrame::new(0x1827_56F4, &[0xA5, 0x10]).unwrap();
    let log: String = (0..8)
        .map(|i: u64| {
            let us = i * 250_000;
            format!(
                "({}.{:06}) can1 {bhm}\n",
                1_700_000_000 + us / 1_000_000,
                us % 1_000_000
            )
        })
        .collect();
    let replay = CandumpReplayer::from_log(&log, None, Some(0xF4));
    assert_eq!(replay.frames().len(), 8);
    let player = tokio::spawn(async move {
        let t0 = tokio::time::Instant::now();
        let n = replay.play(&mut port, 1.0).await.unwrap();
        (n, t0.elapsed())
    });
    let mut charger = ChargerSession::new(ChargerConfig::default());
    charger.plug_in(proto::time::Instant::ZERO);
    let first = tokio::time::timeout(
        Duration::from_secs(2),
        hil::can::CanBus::recv(&mut listener),
    )
    .await
    .unwrap()
    .unwrap();
    charger.handle_frame(proto::time::Instant::from_millis(1), &first);
    assert_eq!(charger.phase(), ChargerPhase::ExpectInsulationResult);
    let (n, took) = player.await.unwrap();
    assert_eq!(n, 8);
    // Eight frames 250 ms apart take 1.75 s.
    assert!(
        took >= Duration::from_millis(1700) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

/// python-can must be there: a missing peer is a failure, not a skip.
fn require_python_can() {
    let ok = Command::new("python3")
        .args(["-c", "import can"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python-can is required for this test (python3 with the `can` module: pip install python-can)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_can_joins_a_segment_and_reaches_the_state_machine() {
    require_python_can();
    let srv = server().await;
    let port = srv.local_addr().port();
    let mut charger_port = srv.bus("can0").unwrap().port();
    let peer =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/socketcand_bms.py");
    let child = tokio::process::Command::new("python3")
        .arg(&peer)
        .args(["127.0.0.1", &port.to_string(), "can0", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start python3");
    // Give python-can time to connect before the charger starts talking.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut session = Session::Charger(Box::new(ChargerSession::new(ChargerConfig::default())));
    let plan = SessionPlan {
        limit: Duration::from_secs(2),
        stop_after_charging: None,
    };
    let outcome = run_session(&mut charger_port, &mut session, plan)
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"1826F456\""),
        "python-can saw no CHM: {stdout}"
    );
    assert!(!stdout.contains("\"bhm_sent\": 0"), "{stdout}");
    // The BHMs python-can sent reached the charger's state machine.
    let Session::Charger(c) = &session else {
        unreachable!()
    };
    assert!(
        c.counters().frames_rx.get(proto::gbt27930::id::Pgn::Bhm) > 0,
        "{outcome:?}"
    );
    assert_eq!(c.phase(), ChargerPhase::ExpectInsulationResult);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conformance_case_runs_in_real_time_over_socketcand() {
    let srv = server().await;
    let addr = srv.local_addr().to_string();
    // The DUT: chargestorm's charger on the segment, driven in real time.
    let mut dut_port = srv.bus("can0").unwrap().port();
    let dut = tokio::spawn(async move {
        let mut s = Session::Charger(Box::new(ChargerSession::new(ChargerConfig::default())));
        let plan = SessionPlan {
            limit: Duration::from_secs(9),
            stop_after_charging: None,
        };
        run_session(&mut dut_port, &mut s, plan).await.unwrap()
    });
    let mut bus = SocketcandClient::connect(&addr, "can0").await.unwrap();
    let mut operator = |_: DutAction| true;
    let case = find("DP.1001").unwrap();
    let (report, periods) = run_case(case, &mut bus, &mut operator).await.unwrap();
    dut.abort();
    assert!(report.passed, "{}", report.detail);
    println!("{}: {}", report.id, report.detail);
    let chm = periods
        .iter()
        .find(|r| r.code == "CHM" && r.direction == Direction::Rx)
        .unwrap();
    assert!(chm.within_tolerance, "{chm:?}");
}
