//! `chargestorm backend` and `chargestorm platform`: chargestorm's reference peers on their
//! own, for runs of chargers elsewhere (another process, machine or shard) against them.
//!
//! Both derive their identities from the scenario and seed exactly as a run does, so a
//! `run` with the same scenario and `--seed` is recognised: the backend knows its drivers'
//! cards and vehicles' VINs, the platform holds the operator's T/CEC keys.

use anyhow::{Context, Result, bail};
use clap::Args;
use profiles::Library;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// `chargestorm backend`.
#[derive(Debug, Args, Clone)]
pub struct BackendArgs {
    /// The broker: `mqtt://HOST:PORT` or `mqtts://HOST:PORT`. Credentials from
    /// CHARGESTORM_MQTT_USER and CHARGESTORM_MQTT_PASSWORD.
    #[arg(long)]
    pub broker: String,
    /// Scenario whose `[mqtt]` settings (registration code, cards, faults) to serve.
    #[arg(long, default_value = "demo")]
    pub scenario: String,
    /// The chargers' run seed (cards and VINs derive from it; default: the scenario's).
    #[arg(long, env = "CHARGESTORM_SEED")]
    pub seed: Option<u64>,
    /// PEM file of the CA that signed the broker's certificate (for `mqtts://`).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Stop after this much wall time (e.g. `30s`, `2h`); default: until Ctrl-C.
    #[arg(long)]
    pub duration: Option<String>,
}

/// `chargestorm platform`.
#[derive(Debug, Args, Clone)]
pub struct PlatformArgs {
    /// Address to serve on, e.g. `0.0.0.0:8080` (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Base URL of an operator platform to poll (repeat for several; default none).
    #[arg(long)]
    pub operator: Vec<String>,
    /// Scenario whose `[http]` settings (operator id, faults, polling) to serve.
    #[arg(long, default_value = "demo")]
    pub scenario: String,
    /// The chargers' run seed (the T/CEC keys derive from it; default: the scenario's).
    #[arg(long, env = "CHARGESTORM_SEED")]
    pub seed: Option<u64>,
    /// Stop after this much wall time (e.g. `30s`, `2h`); default: until Ctrl-C.
    #[arg(long)]
    pub duration: Option<String>,
    /// Accept this many operator identities (the scenario's OperatorID and derived ones,
    /// for loads past the 9,999 requests per second one OperatorID's Seq allows).
    #[arg(long, default_value_t = 1)]
    pub operators: usize,
    /// Pipeline up to N requests per connection to the operators polled (HTTP/1.1
    /// pipelining); 0, the default, sends one at a time, as servers and proxies that
    /// mishandle pipelining are common and a broken connection fails every request on it.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub http_pipeline: usize,
}

fn scenario_and_seed(name: &str, seed: Option<u64>) -> Result<(profiles::ResolvedScenario, u64)> {
    let lib = Library::bundled().context("the bundled profiles are broken")?;
    let scenario = lib.load_scenario(name)?;
    let Some(seed) = seed.or(scenario.scenario.scenario.seed) else {
        bail!("scenario {name} names no seed: pass the chargers' run seed with --seed");
    };
    Ok((scenario, seed))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")
}

/// Blocks until Ctrl-C or the end of `duration` (wall time).
fn wait_for_end(duration: Option<&str>) -> Result<()> {
    let limit = duration
        .map(profiles::HumanDuration::parse)
        .transpose()?
        .map(|d| std::time::Duration::from_micros(d.micros));
    let stop = crate::run::interrupt_flag();
    let step = std::time::Duration::from_millis(100);
    let mut waited = std::time::Duration::ZERO;
    while !stop.load(Ordering::Relaxed) && limit.is_none_or(|l| waited < l) {
        #[expect(
            clippy::disallowed_methods,
            reason = "a server process waits on the wall clock for Ctrl-C or its duration"
        )]
        std::thread::sleep(step);
        waited += step;
    }
    Ok(())
}

/// The wall clock now, as the backend's civil time (China Standard Time).
pub(crate) fn wall_clock_now() -> sim_core::mqtt::clock::WallClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "a real-time backend starts at the wall clock's now"
    )]
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    sim_core::mqtt::clock::WallClock {
        epoch_unix_s: i64::try_from(unix).unwrap_or(0),
        utc_offset_min: 480,
    }
}

/// Serves the reference MQTT backend on `--broker` until Ctrl-C or `--duration`.
pub fn backend(args: &BackendArgs) -> Result<ExitCode> {
    let (scenario, seed) = scenario_and_seed(&args.scenario, args.seed)?;
    let spec = &scenario.scenario.mqtt;
    let url = hil::mqtt::BrokerUrl::parse(&args.broker)
        .with_context(|| format!("invalid broker URL {}", args.broker))?;
    let mut settings = hil::mqtt::MqttSettings::new(url);
    settings.keep_alive = std::time::Duration::from_secs(u64::from(spec.heartbeat_interval_s));
    settings.ca_file = args.ca_file.clone();
    if let (Ok(user), Ok(password)) = (
        std::env::var("CHARGESTORM_MQTT_USER"),
        std::env::var("CHARGESTORM_MQTT_PASSWORD"),
    ) {
        settings.credentials = Some((user, password));
    }
    let backend = sim_core::fleet::reference_backend(spec, wall_clock_now(), seed)
        .map_err(anyhow::Error::msg)?;
    let rt = runtime()?;
    let runner = rt
        .block_on(hil::mqtt::BackendRunner::start(
            &settings,
            backend,
            hil::mqtt::RealClock::start(),
        ))
        .with_context(|| format!("the backend could not connect to {}", args.broker))?;
    eprintln!(
        "chargestorm: reference backend on {} (scenario {}, seed {seed}); Ctrl-C stops it",
        args.broker, scenario.scenario.scenario.name
    );
    wait_for_end(args.duration.as_deref())?;
    let (backend, stats) = rt
        .block_on(runner.stop())
        .context("the backend did not stop cleanly")?;
    println!(
        "backend    {} publishes received, {} sent, {} connections",
        stats.received, stats.published, stats.connects
    );
    println!(
        "ledger     {} transactions booked ({} re-sent copies recognised)",
        backend.ledger().len(),
        backend.ledger().duplicates()
    );
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(ExitCode::SUCCESS)
}

/// Serves the reference monitoring platform on `--listen` until Ctrl-C or `--duration`.
pub fn platform(args: &PlatformArgs) -> Result<ExitCode> {
    let (scenario, seed) = scenario_and_seed(&args.scenario, args.seed)?;
    let spec = &scenario.scenario.http;
    let clock = hil::http::WallClock::start();
    let (_, mut platform) = sim_core::fleet::http_configs(spec, seed, clock.beijing_epoch())
        .map_err(anyhow::Error::msg)?;
    sim_core::tcec::demo::add_platform_identities(&mut platform, args.operators, seed)?;
    let rt = runtime()?;
    let server = rt
        .block_on(hil::http::serve_platform_pipelined(
            args.listen,
            hil::http::PlatformServerConfig {
                platform,
                operator_urls: args.operator.clone(),
                tls: None,
                client_tls: hil::http::ClientTls::default(),
            },
            args.http_pipeline,
        ))
        .with_context(|| format!("cannot serve the platform on {}", args.listen))?;
    eprintln!(
        "chargestorm: reference monitoring platform on {} (scenario {}, seed {seed}); Ctrl-C stops it",
        server.base_url(),
        scenario.scenario.scenario.name
    );
    wait_for_end(args.duration.as_deref())?;
    let requests: u64 = server
        .shared()
        .lock()
        .metrics
        .message_totals_by_protocol()
        .values()
        .sum();
    rt.block_on(server.shutdown());
    println!("platform   {requests} messages handled");
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(ExitCode::SUCCESS)
}
