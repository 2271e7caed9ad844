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
    Run(RunArgs),
    /// The demo: the bundled mixed fleet in real time until `--duration` or Ctrl-C.
    Demo(DemoArgs),
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
    /// Simulated duration, e.g. `1h`, `90m` (default: the scenario's).
    #[arg(long)]
    pub duration: Option<String>,
    /// Print progress lines instead of the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value = "chargestorm-report.json")]
    pub report: PathBuf,
    /// Write the trace as JSON lines to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// How much the trace file holds: session, protocol or frame.
    #[arg(long, default_value = "protocol")]
    pub trace_level: String,
    /// Run only shard K of N (`K/N`): the stations whose index mod N equals K.
    #[arg(long)]
    pub shard: Option<String>,
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
    /// Monitoring platform: `http(s)://HOST:PORT` of a platform under test (needs
    /// `--tcec-keys`) or `reference` (chargestorm's own, on a local port).
    #[arg(long)]
    pub platform: Option<String>,
    /// T/CEC keys for a real platform: a TOML file with `[outbound]` (keys it issued to us)
    /// and `[inbound]` (keys we issued to it). Never printed.
    #[arg(long, env = "CHARGESTORM_TCEC_KEYS")]
    pub tcec_keys: Option<PathBuf>,
    /// PEM file of the CA that signed the broker's certificate (for `mqtts://`).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// `chargestorm demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Root seed (default: a random one that is printed).
    #[arg(long, env = "CHARGESTORM_SEED")]
    pub seed: Option<u64>,
    /// `realtime`, a factor such as `60`, or `max`.
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
}

impl DemoArgs {
    /// The equivalent `run` arguments.
    pub fn to_run_args(&self) -> RunArgs {
        RunArgs {
            scenario: "demo".into(),
            seed: self.seed,
            speed: self.speed.clone(),
            duration: self.duration.clone(),
            headless: self.headless,
            report: self.report.clone(),
            trace: None,
            trace_level: "protocol".into(),
            shard: None,
            progress_every_s: 5.0,
            broker: Some(self.broker.clone()),
            transport: None,
            ca_file: None,
            platform: Some("reference".into()),
            tcec_keys: None,
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
