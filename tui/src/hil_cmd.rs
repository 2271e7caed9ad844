//! `chargestorm hil BENCH.toml`: runs a hardware-in-the-loop bench in real time.
//!
//! For every connector of the bench file it opens the CAN endpoint in the connector's role
//! (a SocketCAN interface, a socketcand server it joins or serves, or an in-process segment
//! on which chargestorm plays both sides), starts the meter (served over Modbus TCP/RTU
//! from the connector's physics, or read from a real meter into the connector), and drives
//! chargestorm's side of the GB/T session until every session is over, `--duration` passes
//! or Ctrl-C. A `[fleet]` runs as a child `chargestorm run` against the bench's backend.
//!
//! The report gives per connector: the phases reached, the measured message periods
//! against the standard's ±10 % tolerance, the bench signals, the meter, bus errors, and
//! the error that stopped it (a missing interface names the interface). The trace holds
//! the bench events (CC1 voltage, aux power, insulation, emergency stop, phases, meter
//! faults) as JSON lines.

use anyhow::{Context, Result, bail};
use clap::Args;
use hil::bench::{BenchRunOptions, ConnectorRun, MeterLinks, ReadMeter, run_bench_connector};
use hil::can::{
    CanBus, CanError, CanFrame, SocketCanBus, SocketcandClient, SocketcandServer, VirtualCan,
    VirtualPort,
};
use hil::modbus::client::spawn_poller;
use hil::modbus::{
    ClientConfig, ClientTransport, LiveReading, MeterClient, MeterFaults, MeterServer,
    MeterServerConfig, MeterServerHandle, SerialSettings, ServerTransport,
};
use profiles::bench::{
    BUNDLED_BENCHES, BackendKind, BenchFile, CanEndpoint, CanRole, ConnectorSpec, MeterMode,
    Parity, load_bench,
};
use profiles::{HumanDuration, Library};
use proto::modbus::config::Framing;
use proto::modbus::{MeterKind, MeterModel, MeterReading};
use sim_core::bench::{
    BenchConnector, BenchConnectorConfig, BenchEvent, BenchPlan, BenchRole, bms_config_for,
    charger_config_for,
};
use sim_core::physics::MeterParams;
use sim_core::time::Duration as SimDuration;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// The longest run when `--duration` is not given.
const DEFAULT_LIMIT: Duration = Duration::from_secs(30 * 60);

/// How long the simulated peer of a virtual bus may go on after chargestorm's side ends.
const PEER_GRACE: Duration = Duration::from_secs(3);

/// `chargestorm hil`.
#[derive(Debug, Args, Clone)]
pub struct HilArgs {
    /// Bench file, or the name of a bundled bench (board-bms, bms-under-test, mixed, virtual).
    pub bench: String,
    /// Longest run, e.g. `90s` (default 30 min); the run ends earlier when every session
    /// is over. Ctrl-C ends it at once.
    #[arg(long)]
    pub duration: Option<String>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "chargestorm-hil.json")]
    pub report: PathBuf,
    /// Write the bench events as JSON lines to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// How long chargestorm's insulation check takes as charger (real ones: ~16 s).
    #[arg(long, default_value = "5s")]
    pub insulation_check: String,
    /// Seed of the simulated meters' noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs `chargestorm hil`. Exit code 0 when every connector ran without error and every
/// session that started completed, 1 otherwise.
pub fn run(args: &HilArgs) -> Result<ExitCode> {
    let (path, text) = bench_text(&args.bench)?;
    let bench = load_bench(&path, &text).map_err(anyhow::Error::msg)?;
    let base = Path::new(&path).parent().map(Path::to_path_buf);
    let limit = match &args.duration {
        Some(d) => Duration::from_micros(HumanDuration::parse(d)?.micros),
        None => DEFAULT_LIMIT,
    };
    let insulation_check = HumanDuration::parse(&args.insulation_check)?;
    let prepared = bench
        .connectors
        .iter()
        .enumerate()
        .map(|(i, c)| prepare(c, base.as_deref(), args, insulation_check, i))
        .collect::<Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("chargestorm-hil")
        .build()
        .context("cannot start the I/O runtime")?;
    let (outcome, fleet) = runtime.block_on(run_bench(&bench, prepared, limit, args))?;
    let report = serde_json::json!({
        "bench": bench.name,
        "connectors": outcome,
        "backend": backend_note(&bench),
        "fleet": fleet,
    });
    std::fs::write(&args.report, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("cannot write {}", args.report.display()))?;
    let fleet_ok = fleet.as_ref().is_none_or(|f| f["exit_code"] == 0);
    let ok = fleet_ok && outcome.iter().all(ConnectorOutcome::ok);
    for c in &outcome {
        print_summary(c);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The bench file's text, from a path or a bundled name.
fn bench_text(name_or_path: &str) -> Result<(String, String)> {
    let path = Path::new(name_or_path);
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok((name_or_path.to_owned(), text));
    }
    let bundled = format!("benches/{name_or_path}.toml");
    match BUNDLED_BENCHES.iter().find(|(p, _)| *p == bundled) {
        Some((p, text)) => Ok(((*p).to_owned(), (*text).to_owned())),
        None => bail!(
            "{name_or_path}: no such file, and not a bundled bench ({})",
            BUNDLED_BENCHES
                .iter()
                .map(|(p, _)| p.trim_start_matches("benches/").trim_end_matches(".toml"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A connector ready to start: its spec and the session configuration of each side
/// chargestorm plays.
struct Prepared {
    spec: ConnectorSpec,
    configs: Vec<BenchConnectorConfig>,
}

fn prepare(
    spec: &ConnectorSpec,
    base: Option<&Path>,
    args: &HilArgs,
    insulation_check: HumanDuration,
    index: usize,
) -> Result<Prepared> {
    let lib = Library::bundled()?;
    let ctx = || format!("connector {:?}", spec.name);
    let vehicle = load_profile(&lib.vehicles, &spec.session.vehicle, base).with_context(ctx)?;
    let charger: profiles::ChargerProfile =
        load_profile(&lib.chargers, &spec.session.charger, base).with_context(ctx)?;
    let Some(charger_cfg) = charger_config_for(&charger) else {
        bail!("{}: charger {:?} is not a DC charger", ctx(), charger.name);
    };
    let vehicle_model = sim_core::fleet::plant::VehicleModel::from_profile(&vehicle)
        .map_err(anyhow::Error::msg)
        .with_context(ctx)?;
    let plan = plan_of(spec);
    let side = |role: BenchRole, plan: BenchPlan| {
        let mut cfg = BenchConnectorConfig::new(role);
        cfg.charger = charger_cfg.clone();
        cfg.bms = bms_config_for(&vehicle);
        cfg.vehicle = Some(vehicle_model.clone());
        cfg.insulation_check = SimDuration::from_micros(insulation_check.micros);
        cfg.meter = MeterParams::dc();
        cfg.meter_seed = args.seed.wrapping_add(index as u64);
        cfg.plan = plan;
        cfg
    };
    let primary = role_of(spec.can.role);
    let mut configs = vec![side(primary, plan)];
    if spec.can.parsed().map_err(anyhow::Error::msg)? == CanEndpoint::Virtual {
        // Nothing real on the bus: chargestorm plays the other side too.
        let other = match primary {
            BenchRole::Charger => BenchRole::Bms,
            BenchRole::Bms => BenchRole::Charger,
        };
        configs.push(side(other, BenchPlan::default()));
    }
    Ok(Prepared {
        spec: spec.clone(),
        configs,
    })
}

fn role_of(role: CanRole) -> BenchRole {
    match role {
        CanRole::Bms => BenchRole::Bms,
        CanRole::Charger => BenchRole::Charger,
    }
}

/// A bundled profile by name, or a profile file (relative to the bench file).
fn load_profile<T: Clone + serde::de::DeserializeOwned>(
    bundled: &std::collections::BTreeMap<String, T>,
    name: &str,
    base: Option<&Path>,
) -> Result<T> {
    if let Some(p) = bundled.get(name) {
        return Ok(p.clone());
    }
    let path = base.map_or_else(|| PathBuf::from(name), |b| b.join(name));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{name:?} is neither a bundled profile nor a readable file"))?;
    toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
}

/// The bench timeline of a connector from its spec.
fn plan_of(spec: &ConnectorSpec) -> BenchPlan {
    let secs = |s: f64| SimDuration::from_secs_f64(s);
    BenchPlan {
        stop_after_charging: spec.session.stop_after_charging_s.map(secs),
        insulation: spec
            .signals
            .insulation_ohm
            .map(|ohm| (secs(spec.signals.insulation_at_s), ohm)),
        emergency_stop_at: spec.signals.emergency_stop_at_s.map(secs),
        meter_stuck_at: spec.meter.faults.stuck_after_s.map(secs),
        meter_drift_wh_per_h: spec.meter.faults.drift_wh_per_h,
    }
}

/// One connector's result in the report.
#[derive(Debug, serde::Serialize)]
struct ConnectorOutcome {
    name: String,
    endpoint: String,
    role: CanRole,
    /// One run per side chargestorm played (two on a virtual bus).
    runs: Vec<ConnectorRun>,
    /// Where the meter was served or read, and its counters.
    meter: serde_json::Value,
    /// Why the connector could not start, if it could not.
    error: Option<String>,
}

impl ConnectorOutcome {
    fn ok(&self) -> bool {
        self.error.is_none()
            && self.runs.iter().all(|r| {
                r.error.is_none() && (r.report.completed || r.report.phases_reached.len() <= 1)
            })
    }
}

/// Writes bench events as JSON lines `{"t_us":…,"connector":"…","event":"…",…}`.
type TraceSink = Arc<Mutex<Option<std::io::BufWriter<std::fs::File>>>>;

fn trace_line(sink: &TraceSink, connector: &str, t: sim_core::time::Instant, e: &BenchEvent) {
    let mut guard = sink.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(out) = guard.as_mut() else {
        return;
    };
    let (Ok(body), Ok(name)) = (serde_json::to_string(e), serde_json::to_string(connector)) else {
        return;
    };
    let body = body.strip_prefix('{').unwrap_or(&body);
    let _ = writeln!(
        out,
        "{{\"t_us\":{},\"connector\":{name},{body}",
        t.as_micros()
    );
}

async fn run_bench(
    bench: &BenchFile,
    prepared: Vec<Prepared>,
    limit: Duration,
    args: &HilArgs,
) -> Result<(Vec<ConnectorOutcome>, Option<serde_json::Value>)> {
    let sink: TraceSink = Arc::new(Mutex::new(match &args.trace {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    }));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("chargestorm hil: interrupted");
            let _ = stop_tx.send(true);
        }
    });
    let fleet = match &bench.fleet {
        Some(f) => Some(spawn_fleet(bench, &f.scenario, limit, args)?),
        None => None,
    };
    let opts = BenchRunOptions {
        limit,
        stop: Some(stop_rx),
    };
    let tasks: Vec<_> = prepared
        .into_iter()
        .map(|p| {
            let (opts, sink) = (opts.clone(), Arc::clone(&sink));
            tokio::spawn(async move { run_connector(p, opts, sink).await })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        outcomes.push(t.await.context("a connector task failed")?);
    }
    let fleet = match (fleet, &bench.fleet) {
        (Some(child), Some(spec)) => {
            let code = finish_fleet(child).await?;
            let mut report = args.report.clone().into_os_string();
            report.push(".fleet.json");
            Some(serde_json::json!({
                "scenario": spec.scenario,
                "report": PathBuf::from(report),
                "exit_code": code,
            }))
        }
        _ => None,
    };
    if let Some(out) = sink.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
        out.flush().context("cannot write the trace")?;
    }
    Ok((outcomes, fleet))
}

/// What a connector's endpoint and meter hold open while it runs.
struct Opened {
    buses: Vec<AnyBus>,
    _server: Option<SocketcandServer>,
    links: MeterLinks,
    meter_server: Option<MeterServerHandle>,
    meter: serde_json::Value,
}

async fn run_connector(p: Prepared, opts: BenchRunOptions, sink: TraceSink) -> ConnectorOutcome {
    let mut outcome = ConnectorOutcome {
        name: p.spec.name.clone(),
        endpoint: p.spec.can.endpoint.clone(),
        role: p.spec.can.role,
        runs: Vec::new(),
        meter: serde_json::Value::Null,
        error: None,
    };
    let opened = match open(&p).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("chargestorm hil: connector {:?}: {e:#}", p.spec.name);
            outcome.error = Some(format!("{e:#}"));
            return outcome;
        }
    };
    outcome.meter = opened.meter.clone();
    let links = Arc::new(opened.links);
    let (peer_stop, peer_opts) = peer_options(&opts);
    let mut handles = Vec::new();
    for (i, (cfg, mut bus)) in p.configs.into_iter().zip(opened.buses).enumerate() {
        let opts = if i == 0 {
            opts.clone()
        } else {
            peer_opts.clone()
        };
        let (sink, links) = (Arc::clone(&sink), Arc::clone(&links));
        let name = if i == 0 {
            p.spec.name.clone()
        } else {
            format!("{}-peer", p.spec.name)
        };
        handles.push(tokio::spawn(async move {
            let mut conn = match BenchConnector::new(cfg) {
                Ok(c) => c,
                Err(e) => return Err(e),
            };
            // Only chargestorm's primary side feeds the meter links.
            let none = MeterLinks::default();
            let links = if i == 0 { links.as_ref() } else { &none };
            let mut tr = |t, e: &BenchEvent| trace_line(&sink, &name, t, e);
            Ok(run_bench_connector(&mut bus, &mut conn, links, opts, &mut tr).await)
        }));
    }
    for (i, h) in handles.into_iter().enumerate() {
        let result = h.await;
        if i == 0 {
            // The simulated peer of a virtual bus unplugs with chargestorm's side, after
            // the grace its last messages need (the charger repeats CSD after BSD).
            let stop = Arc::clone(&peer_stop);
            tokio::spawn(async move {
                tokio::time::sleep(PEER_GRACE).await;
                stop.send_replace(true);
            });
        }
        match result {
            Ok(Ok(run)) => outcome.runs.push(run),
            Ok(Err(e)) => outcome.error = Some(e),
            Err(e) => outcome.error = Some(format!("connector task: {e}")),
        }
    }
    if let Some(server) = opened.meter_server {
        outcome.meter["server_stats"] = serde_json::json!(server.stats());
        server.shutdown().await;
    }
    outcome
}

/// Options for the simulated peer of a virtual bus: stopped by Ctrl-C like the rest, or by
/// the returned sender when chargestorm's own side is done.
fn peer_options(opts: &BenchRunOptions) -> (Arc<watch::Sender<bool>>, BenchRunOptions) {
    let (tx, rx) = watch::channel(false);
    let tx = Arc::new(tx);
    if let Some(mut global) = opts.stop.clone() {
        let forward = Arc::clone(&tx);
        tokio::spawn(async move {
            if global.wait_for(|v| *v).await.is_ok() {
                forward.send_replace(true);
            }
        });
    }
    let peer = BenchRunOptions {
        limit: opts.limit,
        stop: Some(rx),
    };
    (tx, peer)
}

/// A CAN error as one message: its text already names the OS error, so the error chain
/// would repeat it.
fn flat(e: CanError) -> anyhow::Error {
    anyhow::Error::msg(e.to_string())
}

/// Opens the connector's CAN endpoint and meter.
async fn open(p: &Prepared) -> Result<Opened> {
    let spec = &p.spec;
    let endpoint = spec.can.parsed().map_err(anyhow::Error::msg)?;
    let (buses, server) = match endpoint {
        CanEndpoint::Virtual => {
            let can = VirtualCan::new(&spec.can.bus);
            (
                vec![AnyBus::Virtual(can.port()), AnyBus::Virtual(can.port())],
                None,
            )
        }
        CanEndpoint::SocketCan { iface } => {
            let bus = SocketCanBus::open(&iface).map_err(flat)?;
            (vec![AnyBus::SocketCan(bus)], None)
        }
        CanEndpoint::Socketcand { addr } if spec.can.listen => {
            let server =
                SocketcandServer::bind(addr.as_str(), vec![VirtualCan::new(&spec.can.bus)])
                    .await
                    .map_err(flat)
                    .with_context(|| format!("serving socketcand on {addr}"))?;
            let port = server
                .bus(&spec.can.bus)
                .map(VirtualCan::port)
                .context("the socketcand server lost its bus")?;
            println!(
                "chargestorm hil: connector {} serves socketcand bus {} on {}",
                spec.name,
                spec.can.bus,
                server.local_addr()
            );
            (vec![AnyBus::Virtual(port)], Some(server))
        }
        CanEndpoint::Socketcand { addr } => {
            let client = SocketcandClient::connect(&addr, &spec.can.bus)
                .await
                .map_err(flat)
                .with_context(|| format!("socketcand server {addr}, bus {}", spec.can.bus))?;
            (vec![AnyBus::Socketcand(Box::new(client))], None)
        }
    };
    let (links, meter_server, meter) = open_meter(spec).await?;
    let _ = std::io::stdout().flush();
    Ok(Opened {
        buses,
        _server: server,
        links,
        meter_server,
        meter,
    })
}

fn framing(parity: Parity) -> Framing {
    match parity {
        Parity::None => Framing::N1,
        Parity::Even => Framing::E1,
        Parity::Odd => Framing::O1,
    }
}

/// A meter's links, its emulator if served, and what the report says about it.
type OpenedMeter = (MeterLinks, Option<MeterServerHandle>, serde_json::Value);

/// Where a served or read meter is.
enum Wire {
    Tcp(std::net::SocketAddr),
    Serial(SerialSettings),
}

/// Serves or reads the connector's meter as its spec says.
async fn open_meter(spec: &ConnectorSpec) -> Result<OpenedMeter> {
    let m = &spec.meter;
    let wire = match (&m.tcp, &m.serial) {
        (Some(addr), _) => Some(Wire::Tcp(addr.parse()?)),
        (None, Some(path)) => Some(Wire::Serial(SerialSettings {
            path: PathBuf::from(path),
            baud_rate: m.baud,
            framing: framing(m.parity),
        })),
        (None, None) => None,
    };
    let ctx = || format!("connector {:?}: meter", spec.name);
    match (m.mode, wire) {
        (MeterMode::Simulated, _) => Ok((
            MeterLinks::default(),
            None,
            serde_json::json!({"mode": "simulated"}),
        )),
        (MeterMode::Serve, Some(wire)) => serve_meter(spec, wire).await.with_context(ctx),
        (MeterMode::Read, Some(wire)) => read_meter(spec, wire).with_context(ctx),
        (_, None) => bail!("{}: a served or read meter needs tcp or serial", ctx()),
    }
}

/// Serves the connector's meter (with its wire faults) to the board under test.
async fn serve_meter(spec: &ConnectorSpec, wire: Wire) -> Result<OpenedMeter> {
    let m = &spec.meter;
    let transport = match wire {
        Wire::Tcp(addr) => ServerTransport::Tcp(addr),
        Wire::Serial(s) => ServerTransport::Rtu(s),
    };
    let mut cfg = MeterServerConfig::new(MeterModel::Djsf1352, transport).with_unit_id(m.unit);
    cfg.faults = MeterFaults {
        no_response: m.faults.no_response,
        wrong_crc_ratio: m.faults.wrong_crc_ratio,
        response_delay_ms: m.faults.response_delay_ms,
        ..MeterFaults::default()
    };
    let live = LiveReading::new(MeterReading::zero(MeterKind::Dc));
    let server = MeterServer::start(cfg, live.clone()).await?;
    let at = server
        .local_addr()
        .map_or_else(|| m.serial.clone().unwrap_or_default(), |a| a.to_string());
    println!(
        "chargestorm hil: connector {} serves meter djsf1352 unit {} on {at}",
        spec.name, m.unit
    );
    let links = MeterLinks {
        served: Some(live),
        read: None,
    };
    let note = serde_json::json!({"mode": "serve", "at": at});
    Ok((links, Some(server), note))
}

/// Reads a real meter whose readings replace the connector's simulated one.
fn read_meter(spec: &ConnectorSpec, wire: Wire) -> Result<OpenedMeter> {
    let m = &spec.meter;
    let transport = match wire {
        Wire::Tcp(addr) => ClientTransport::Tcp(addr),
        Wire::Serial(s) => ClientTransport::Rtu(s),
    };
    let model = MeterModel::Djsf1352;
    let client = MeterClient::connect(ClientConfig::new(model, transport).with_unit_id(m.unit))?;
    let poller = spawn_poller(client, Duration::from_millis(m.period_ms));
    let links = MeterLinks {
        served: None,
        read: Some(ReadMeter {
            poller,
            model,
            energy_resolution_wh: MeterParams::dc().energy_resolution_wh,
        }),
    };
    let at = m
        .tcp
        .clone()
        .or_else(|| m.serial.clone())
        .unwrap_or_default();
    Ok((links, None, serde_json::json!({"mode": "read", "at": at})))
}

/// Any of the CAN transports a bench connector can sit on.
enum AnyBus {
    Virtual(VirtualPort),
    SocketCan(SocketCanBus),
    Socketcand(Box<SocketcandClient>),
}

impl CanBus for AnyBus {
    async fn send(&mut self, frame: CanFrame) -> Result<(), CanError> {
        match self {
            AnyBus::Virtual(b) => b.send(frame).await,
            AnyBus::SocketCan(b) => b.send(frame).await,
            AnyBus::Socketcand(b) => b.send(frame).await,
        }
    }

    async fn recv(&mut self) -> Result<CanFrame, CanError> {
        match self {
            AnyBus::Virtual(b) => b.recv().await,
            AnyBus::SocketCan(b) => b.recv().await,
            AnyBus::Socketcand(b) => b.recv().await,
        }
    }

    fn bus_errors(&self) -> hil::can::BusErrors {
        match self {
            AnyBus::Virtual(b) => b.bus_errors(),
            AnyBus::SocketCan(b) => b.bus_errors(),
            AnyBus::Socketcand(b) => b.bus_errors(),
        }
    }
}

/// What the bench's backend is, for the report.
fn backend_note(bench: &BenchFile) -> serde_json::Value {
    match bench.backend.kind {
        BackendKind::Embedded => serde_json::json!({
            "kind": "embedded",
            "served_by": if bench.fleet.is_some() { "the fleet run (chargestorm run)" } else { "nothing: without a [fleet], only CAN and meters are started" },
        }),
        BackendKind::External => serde_json::json!({
            "kind": "external",
            "broker": bench.backend.broker,
            "platform": bench.backend.platform,
        }),
    }
}

/// Starts the simulated fleet as a child `chargestorm run` in real time against the
/// bench's backend (its embedded broker and reference platform, or the external ones).
fn spawn_fleet(
    bench: &BenchFile,
    scenario: &str,
    limit: Duration,
    args: &HilArgs,
) -> Result<std::process::Child> {
    let exe = std::env::current_exe().context("cannot find the chargestorm binary")?;
    let mut report = args.report.clone().into_os_string();
    report.push(".fleet.json");
    let (broker, platform) = match bench.backend.kind {
        BackendKind::Embedded => ("embedded".to_owned(), "reference".to_owned()),
        BackendKind::External => (
            bench.backend.broker.clone().unwrap_or_default(),
            bench
                .backend
                .platform
                .clone()
                .unwrap_or_else(|| "reference".into()),
        ),
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        "run",
        scenario,
        "--speed",
        "realtime",
        "--headless",
        "--duration",
    ])
    .arg(format!("{}s", limit.as_secs().max(1)))
    .arg("--report")
    .arg(&report)
    .args(["--broker", &broker, "--platform", &platform]);
    eprintln!(
        "chargestorm hil: fleet {scenario} runs as a child process (report {})",
        PathBuf::from(&report).display()
    );
    cmd.spawn().context("cannot start the fleet run")
}

/// Waits for the fleet run: it ends at the same `--duration` (or with the same Ctrl-C,
/// which reaches the whole process group) and writes its own report.
async fn finish_fleet(mut child: std::process::Child) -> Result<Option<i32>> {
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .context("waiting for the fleet run")?
        .context("waiting for the fleet run")?;
    eprintln!("chargestorm hil: fleet run ended ({status})");
    Ok(status.code())
}

fn print_summary(c: &ConnectorOutcome) {
    if let Some(e) = &c.error {
        println!("{} ({}): ERROR {e}", c.name, c.endpoint);
        return;
    }
    for r in &c.runs {
        println!(
            "{} ({}, chargestorm as {:?}): {} after {} ms, {} frames out / {} in; phases {}",
            c.name,
            c.endpoint,
            r.report.role,
            if r.report.completed {
                "completed"
            } else {
                "not completed"
            },
            r.elapsed_ms,
            r.frames_tx,
            r.frames_rx,
            r.report.phases_reached.join(" > ")
        );
        for p in &r.periods {
            println!(
                "  {:>4} {:?} nominal {:>4} ms median {:>7.1} p99 {:>7.1} n={} {}",
                p.code,
                p.direction,
                p.nominal_ms,
                p.median_ms,
                p.p99_ms,
                p.count,
                match (
                    p.within_tolerance,
                    p.count > hil::bench::MIN_GAPS_FOR_VERDICT
                ) {
                    (_, false) => "too few frames to judge",
                    (true, true) => "ok",
                    (false, true) => "OUT OF TOLERANCE",
                }
            );
        }
        if r.bus_errors.error_frames > 0 {
            println!("  bus errors: {:?}", r.bus_errors);
        }
        if let Some(e) = &r.error {
            println!("  ERROR {e}");
        }
    }
}
