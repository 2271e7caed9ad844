//! Real time for a bench connector: drives a [`BenchConnector`] (chargestorm's side of a
//! GB/T session with its bench signals and meter) on a [`CanBus`], keeps a served meter's
//! registers current from the connector's physics, feeds a real meter's readings into the
//! connector, and measures message periods against the standard's.
//!
//! Time zero is the start of the run; `now` is the elapsed wall time in microseconds. A bus
//! error (an interface that vanished, bus-off, a closed socketcand connection) ends the
//! connector's run with the error in its [`ConnectorRun`], not with a panic.

use proto::modbus::MeterModel;
use proto::time::Instant;
use sim_core::bench::{BenchConnector, BenchConnectorReport, BenchEvent};
use tokio::sync::watch;
use tokio::time::Duration;

use crate::can::realtime::{Direction, PeriodMeter, PeriodRow};
use crate::can::{BusErrors, CanBus};
use crate::modbus::LiveReading;
use crate::modbus::client::PollerHandle;
use crate::modbus::convert::{from_sim, to_sim};

/// Fewer gaps than this do not judge a message's period: a message sent only around one
/// content change (CRM 0x00 → 0xAA, CRO 0x00 → 0xAA) shows the change, not its period.
pub const MIN_GAPS_FOR_VERDICT: u64 = 3;

/// A real meter read in place of the connector's simulated one.
#[derive(Debug)]
pub struct ReadMeter {
    /// The running poller.
    pub poller: PollerHandle,
    /// Its register map.
    pub model: MeterModel,
    /// The energy register's LSB, Wh (how the simulated meter would count).
    pub energy_resolution_wh: f64,
}

/// The connector's meter links to the outside.
#[derive(Debug, Default)]
pub struct MeterLinks {
    /// A served meter's shared reading, refreshed from the connector at every step.
    pub served: Option<LiveReading>,
    /// A real meter whose readings replace the simulated meter's.
    pub read: Option<ReadMeter>,
}

/// How long a bench connector runs.
#[derive(Debug, Clone)]
pub struct BenchRunOptions {
    /// Longest run.
    pub limit: Duration,
    /// Ends the run early when it turns `true` (Ctrl-C).
    pub stop: Option<watch::Receiver<bool>>,
}

/// What a bench connector's real-time run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectorRun {
    /// The connector's own report (phases, signals, meter).
    pub report: BenchConnectorReport,
    /// Frames sent.
    pub frames_tx: u64,
    /// Frames received.
    pub frames_rx: u64,
    /// Wall time taken.
    pub elapsed_ms: u64,
    /// Measured message periods.
    pub periods: Vec<PeriodRow>,
    /// Whether every period measured over at least [`MIN_GAPS_FOR_VERDICT`] gaps is within
    /// the standard's tolerance.
    pub periods_within_tolerance: bool,
    /// Bus errors seen by the transport.
    pub bus_errors: BusErrors,
    /// Meter polls that succeeded (read meters).
    pub meter_reads: u64,
    /// The error that ended the run early, if any.
    pub error: Option<String>,
}

/// Elapsed wall time as virtual time.
#[derive(Debug, Clone, Copy)]
struct Clock(tokio::time::Instant);

impl Clock {
    fn now(&self) -> Instant {
        let us = self.0.elapsed().as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    fn wall(&self, at: Instant) -> tokio::time::Instant {
        self.0 + Duration::from_micros(at.as_micros())
    }
}

/// Counters of one run.
#[derive(Debug, Default)]
struct Tally {
    tx: u64,
    rx: u64,
    meter_reads: u64,
    last_seq: u64,
}

/// Drives `conn` on `bus` in real time until its session is over and the plug is out,
/// `opts.limit` passes or `opts.stop` fires. `trace` gets every bench event with its time.
pub async fn run_bench_connector<B: CanBus>(
    bus: &mut B,
    conn: &mut BenchConnector,
    meters: &MeterLinks,
    mut opts: BenchRunOptions,
    trace: &mut (dyn FnMut(Instant, &BenchEvent) + Send),
) -> ConnectorRun {
    let clock = Clock(tokio::time::Instant::now());
    let limit = clock.0 + opts.limit;
    let mut periods = PeriodMeter::default();
    let mut tally = Tally::default();
    let mut error = None;
    conn.start(clock.now());
    loop {
        let now = clock.now();
        conn.handle_timeout(now);
        if let Err(e) = flush(bus, conn, now, &mut periods, &mut tally).await {
            error = Some(e);
            break;
        }
        sync_meters(conn, meters, now, &mut tally);
        while let Some(e) = conn.poll_event() {
            trace(now, &e);
        }
        if conn.is_finished() || tokio::time::Instant::now() >= limit || stopped(&opts.stop) {
            break;
        }
        let wake = conn
            .poll_timeout()
            .map_or(limit, |t| clock.wall(t).min(limit));
        tokio::select! {
            f = bus.recv() => match f {
                Ok(f) => {
                    let now = clock.now();
                    periods.record(now, Direction::Rx, &f);
                    tally.rx += 1;
                    conn.handle_frame(now, &f);
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            },
            _ = tokio::time::sleep_until(wake) => {}
            _ = stop_signal(&mut opts.stop) => {}
        }
    }
    let now = clock.now();
    while let Some(e) = conn.poll_event() {
        trace(now, &e);
    }
    let rows = periods.report();
    ConnectorRun {
        report: conn.report(),
        frames_tx: tally.tx,
        frames_rx: tally.rx,
        elapsed_ms: u64::try_from(clock.0.elapsed().as_millis()).unwrap_or(u64::MAX),
        periods_within_tolerance: rows
            .iter()
            .filter(|r| r.count > MIN_GAPS_FOR_VERDICT)
            .all(|r| r.within_tolerance),
        periods: rows,
        bus_errors: bus.bus_errors(),
        meter_reads: tally.meter_reads,
        error,
    }
}

/// Sends everything the connector has for `now`.
async fn flush<B: CanBus>(
    bus: &mut B,
    conn: &mut BenchConnector,
    now: Instant,
    periods: &mut PeriodMeter,
    tally: &mut Tally,
) -> Result<(), String> {
    while let Some(f) = conn.poll_transmit(now) {
        periods.record(now, Direction::Tx, &f);
        tally.tx += 1;
        bus.send(f).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Takes a real meter's newest reading into the connector, and publishes what the
/// connector's meter shows to a served meter.
fn sync_meters(conn: &mut BenchConnector, meters: &MeterLinks, now: Instant, tally: &mut Tally) {
    if let Some(read) = &meters.read
        && let Some(polled) = read.poller.latest()
        && polled.seq != tally.last_seq
    {
        tally.last_seq = polled.seq;
        tally.meter_reads += 1;
        conn.set_external_meter(to_sim(
            &polled.reading,
            read.model,
            read.energy_resolution_wh,
        ));
    }
    if let Some(served) = &meters.served {
        served.publish(from_sim(&conn.meter_reading(now)));
    }
}

fn stopped(stop: &Option<watch::Receiver<bool>>) -> bool {
    stop.as_ref().is_some_and(|s| *s.borrow())
}

/// Resolves when the stop flag turns `true`; never without one.
async fn stop_signal(stop: &mut Option<watch::Receiver<bool>>) {
    match stop {
        Some(rx) => {
            if rx.wait_for(|v| *v).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::can::VirtualCan;
    use proto::modbus::{MeterKind, MeterReading};
    use sim_core::bench::{BenchConnectorConfig, BenchPlan, BenchRole, Cc1State};

    fn connector(role: BenchRole, plan: BenchPlan) -> BenchConnector {
        let mut cfg = BenchConnectorConfig::new(role);
        cfg.plan = plan;
        cfg.insulation_check = proto::time::Duration::from_millis(300);
        BenchConnector::new(cfg).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_roles_complete_on_a_virtual_bus_and_the_served_meter_follows() {
        let can = VirtualCan::new("can0");
        let (mut cbus, mut bbus) = (can.port(), can.port());
        let plan = BenchPlan {
            stop_after_charging: Some(proto::time::Duration::from_secs(2)),
            ..BenchPlan::default()
        };
        let mut charger = connector(BenchRole::Charger, plan);
        let mut bms = connector(BenchRole::Bms, BenchPlan::default());
        let served = LiveReading::new(MeterReading::zero(MeterKind::Dc));
        let links = MeterLinks {
            served: Some(served.clone()),
            read: None,
        };
        let opts = BenchRunOptions {
            limit: Duration::from_secs(30),
            stop: None,
        };
        let (o2, links2) = (opts.clone(), MeterLinks::default());
        let bms_task = tokio::spawn(async move {
            let mut events = Vec::new();
            let run = run_bench_connector(&mut bbus, &mut bms, &links2, o2, &mut |_, e| {
                events.push(e.clone());
            })
            .await;
            (run, events)
        });
        let mut events = Vec::new();
        let c = run_bench_connector(&mut cbus, &mut charger, &links, opts, &mut |_, e| {
            events.push(e.clone());
        })
        .await;
        let (b, bms_events) = bms_task.await.unwrap();
        assert!(c.error.is_none() && b.error.is_none(), "{c:?} {b:?}");
        assert!(c.report.completed, "{:?}", c.report);
        assert!(b.report.completed, "{:?}", b.report);
        assert_eq!(c.report.signals.cc1, Cc1State::Unplugged);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, BenchEvent::AuxPower { on: true }))
        );
        assert!(
            bms_events
                .iter()
                .any(|e| matches!(e, BenchEvent::Phase { .. }))
        );
        let MeterReading::Dc(dc) = served.latest() else {
            panic!("a DC meter");
        };
        assert!(dc.import_energy_wh > 1.0, "{dc:?}");
        assert!(c.periods_within_tolerance && b.periods_within_tolerance);
        for code in ["CCS", "CML"] {
            assert!(c.periods.iter().any(|r| r.code == code), "{code}");
        }
    }

    #[tokio::test]
    async fn a_closed_bus_ends_the_run_with_an_error() {
        let mut bus = ClosedBus;
        let mut conn = connector(BenchRole::Bms, BenchPlan::default());
        let opts = BenchRunOptions {
            limit: Duration::from_secs(5),
            stop: None,
        };
        let run = run_bench_connector(
            &mut bus,
            &mut conn,
            &MeterLinks::default(),
            opts,
            &mut |_, _| {},
        )
        .await;
        let err = run.error.expect("the bus failed");
        assert!(err.contains("test-bus"), "{err}");
        assert!(run.elapsed_ms < 4000);
    }

    /// A bus whose every operation fails as if the interface had gone away.
    struct ClosedBus;

    impl CanBus for ClosedBus {
        async fn send(&mut self, _frame: crate::can::CanFrame) -> Result<(), crate::can::CanError> {
            Err(crate::can::CanError::Closed {
                what: "test-bus".into(),
            })
        }

        async fn recv(&mut self) -> Result<crate::can::CanFrame, crate::can::CanError> {
            Err(crate::can::CanError::Closed {
                what: "test-bus".into(),
            })
        }
    }
}
