//! Command-line interface.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// chargestorm: a physics-based EV charger simulator and load tester.
#[derive(Debug, Parser)]
#[command(
    name = "chargestorm",
    version,
    about = "chargestorm: a physics-based EV charger simulator and load tester (GB/T 27930, MQTT, T/CEC HTTP, Modbus)"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write a report.
    Run(Box<RunArgs>),
    /// The demo: the bundled mixed fleet in real time until `--duration` or Ctrl-C.
    Demo(Box<DemoArgs>),
    /// Validate or list profiles.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// GB/T 27930 CAN tools.
    #[command(subcommand)]
    Can(CanCommand),
    /// Run GB/T 34658-style conformance cases against a charger or BMS.
    Conformance(crate::can_cmd::ConformanceArgs),
    /// Energy-meter emulation over Modbus.
    #[command(subcommand)]
    Meter(crate::meter_cmd::MeterCommand),
    /// T/CEC 102 / DB4403 envelope tools: sign, verify, encrypt, decrypt.
    Tcec(crate::tcec_cmd::TcecArgs),
    /// Run the benchmarks and write their figures (BENCHMARKS.md) as Markdown.
    Bench(crate::bench_cmd::BenchArgs),
    /// The bare rumqttc publisher `bench` compares the MQTT fleet with.
    #[command(hide = true)]
    BenchBaseline(crate::bench_cmd::baseline::BaselineParams),
    /// A broker `bench --only broker` measures, in its own process (`embedded`, `rumqttd`).
    #[command(hide = true)]
    BenchBroker {
        /// Which broker.
        kind: String,
    },
    /// Serve chargestorm's reference MQTT backend on a broker until Ctrl-C.
    Backend(crate::serve_cmd::BackendArgs),
    /// Serve chargestorm's reference T/CEC monitoring platform on an address until Ctrl-C.
    Platform(crate::serve_cmd::PlatformArgs),
    /// Shard reports: merge them, or print one.
    #[command(subcommand)]
    Report(crate::report_cmd::ReportCommand),
    /// Run a hardware-in-the-loop bench file (real CAN boards, meters, backend).
    Hil(crate::hil_cmd::HilArgs),
}

/// `chargestorm can …`.
#[derive(Debug, Subcommand)]
pub enum CanCommand {
    /// Decode a candump log into one JSON object per GB/T 27930 message.
    Decode(crate::can_cmd::DecodeArgs),
}

/// `chargestorm run`.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Scenario file, or the name of a bundled scenario (`demo`, `ci-smoke`).
    pub scenario: String,
    /// Root seed (default: the scenario's seed, else a random one that is printed).
    #[arg(long, env = "CHARGESTORM_SEED")]
    pub seed: Option<u64>,
    /// `max` (as fast as possible), `realtime`, or a factor such as `50`.
    #[arg(long, default_value = "max")]
    pub speed: String,
    /// How a paced run waits between deadlines: `sleep`, or `spin` (the least scheduler
    /// lag, a whole core per simulation thread; runs without real network transports).
    #[arg(long, default_value = "sleep")]
    pub pacing: String,
    /// Simulated duration, e.g. `1h`, `90m` (default: the scenario's).
    #[arg(long)]
    pub duration: Option<String>,
    /// Print progress lines instead of the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value = "chargestorm-report.json")]
    pub report: PathBuf,
    /// Also write a self-contained HTML report with charts (latency over time per
    /// message type, throughput, errors, connector states).
    #[arg(long)]
    pub report_html: Option<PathBuf>,
    /// Serve the running metrics in the Prometheus text format on this address
    /// (e.g. `0.0.0.0:9464`), at `/metrics`.
    #[arg(long)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Write the trace as JSON lines to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Record the GB/T 27930 CAN segments as a candump log (`candump -l` format; one
    /// interface `gbt<ID>` per connector).
    #[arg(long)]
    pub candump: Option<PathBuf>,
    /// Record only these connectors (global ids, comma separated; default: all).
    #[arg(long, value_delimiter = ',', requires = "candump")]
    pub candump_connectors: Vec<u32>,
    /// How much the trace file holds: session, protocol or frame.
    #[arg(long, default_value = "protocol")]
    pub trace_level: String,
    /// Run only shard K of N (`K/N`): the stations whose index mod N equals K.
    #[arg(long)]
    pub shard: Option<String>,
    /// Split the fleet into N shard worlds (`--shard K/N` for every K) run on N threads
    /// of this process, their reports merged as `report merge` would; headless, without
    /// trace, candump, metrics endpoint or real transports.
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
    /// With `--threads N` at `--speed max`: split the fleet into W shard worlds
    /// (default 4·N) that the N threads take turns on, the least advanced first, so the
    /// threads finish together and each works on a small world at a time. Paced runs use
    /// one world per thread (W = N).
    #[arg(long)]
    pub worlds: Option<u32>,
    /// Seconds between progress lines in headless mode.
    #[arg(long, default_value_t = 5.0)]
    pub progress_every_s: f64,
    /// MQTT broker of the chargers: `mqtt://HOST:PORT`, `mqtts://HOST:PORT` or `embedded`
    /// (implies `--transport broker`). Credentials from CHARGESTORM_MQTT_USER and
    /// CHARGESTORM_MQTT_PASSWORD.
    #[arg(long)]
    pub broker: Option<String>,
    /// `memory` (in-process broker and platform, any speed) or `real` (sockets, real
    /// time); overrides the scenario's `[mqtt] transport` and `[http] transport`.
    #[arg(long)]
    pub transport: Option<String>,
    /// The chargers' MQTT backend: `reference` (chargestorm's own, in this process) or
    /// `external` (the backend under test, reached only through the broker: app starts
    /// then fall back to cards); overrides the scenario's `[mqtt] backend`.
    #[arg(long)]
    pub backend: Option<String>,
    /// Monitoring platform: `http(s)://HOST:PORT` of a platform under test (needs
    /// `--tcec-keys`) or `reference` (chargestorm's own, on a local port).
    #[arg(long)]
    pub platform: Option<String>,
    /// T/CEC keys for a real platform: a TOML file with `[outbound]` (keys it issued to us)
    /// and `[inbound]` (keys we issued to it). Never printed.
    #[arg(long, env = "CHARGESTORM_TCEC_KEYS")]
    pub tcec_keys: Option<PathBuf>,
    /// HTTP/1.1 pipelining to the monitoring platform: up to N requests in flight per
    /// keep-alive connection, written together (0: off, one request at a time). Only for
    /// platforms known to answer pipelined requests in order.
    #[arg(long, default_value_t = 0)]
    pub http_pipeline: usize,
    /// PEM file of the CA that signed the broker's certificate (for `mqtts://`).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// The chargers' MQTT client engine: `native` (all connections on one I/O thread, the
    /// default) or `rumqttc` (one task per connection). `mqtts://` always uses rumqttc.
    #[arg(long, default_value = "native")]
    pub mqtt_client: hil::mqtt::MqttTransport,
    /// Put the TCP fault proxy between the chargers and a real broker even when the
    /// timeline has no `net_*` action (it is put there automatically when it has).
    #[arg(long)]
    pub net_proxy: bool,
    /// Turn on MQTT and HTTP even if the scenario leaves them off (set by `demo`, whose
    /// fleet runs every protocol; `run demo` keeps the lighter scenario as written).
    #[arg(skip)]
    pub all_protocols: bool,
    /// Also write the verdict as JUnit XML (one test case per assertion).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Run once per seed (`1..50`, `3,5,9`) and report which seeds fail, each with the
    /// command that reproduces it; reports go to `<report>-seed-N.json`.
    #[arg(long)]
    pub seeds: Option<String>,
}

/// `chargestorm demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Root seed (default: a random one that is printed).
    #[arg(long, env = "CHARGESTORM_SEED")]
    pub seed: Option<u64>,
    /// `realtime` (real broker and HTTP ports), or a factor such as `60` or `max`
    /// (everything in-process on virtual time).
    #[arg(long, default_value = "realtime")]
    pub speed: String,
    /// Simulated duration (default: the demo scenario's 8 h; Ctrl-C ends it early).
    #[arg(long)]
    pub duration: Option<String>,
    /// Print progress lines instead of the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value = "chargestorm-report.json")]
    pub report: PathBuf,
    /// `embedded` (default) or the URL of another broker.
    #[arg(long, default_value = "embedded")]
    pub broker: String,
    /// Also write a self-contained HTML report with charts.
    #[arg(long)]
    pub report_html: Option<PathBuf>,
    /// Serve the running metrics in the Prometheus text format on this address.
    #[arg(long)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Write the trace as JSON lines to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
}

impl DemoArgs {
    /// The equivalent `run` arguments. In real time the chargers use the embedded (or
    /// given) broker and the reference platform on real ports; at any other speed real
    /// peers could not keep up, so everything stays in-process on virtual time.
    pub fn to_run_args(&self) -> RunArgs {
        let realtime = hil::pace::Speed::parse(&self.speed) == Ok(hil::pace::Speed::REALTIME);
        RunArgs {
            scenario: "demo".into(),
            seed: self.seed,
            speed: self.speed.clone(),
            duration: self.duration.clone(),
            headless: self.headless,
            report: self.report.clone(),
            candump: None,
            candump_connectors: Vec::new(),
            report_html: self.report_html.clone(),
            metrics_listen: self.metrics_listen,
            trace: self.trace.clone(),
            trace_level: "protocol".into(),
            shard: None,
            threads: 1,
            worlds: None,
            pacing: "sleep".to_owned(),
            progress_every_s: 5.0,
            broker: realtime.then(|| self.broker.clone()),
            transport: (!realtime).then(|| "memory".to_owned()),
            backend: None,
            ca_file: None,
            mqtt_client: hil::mqtt::MqttTransport::default(),
            net_proxy: false,
            platform: realtime.then(|| "reference".to_owned()),
            all_protocols: true,
            tcec_keys: None,
            http_pipeline: 0,
            junit: None,
            seeds: None,
        }
    }
}

/// `chargestorm profiles …`.
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Validate profile files or directories (every problem is reported with its path).
    Validate {
        /// Files or directories of `.toml` profiles.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the bundled profiles.
    List,
}
