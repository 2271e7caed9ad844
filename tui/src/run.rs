//! `chargestorm run`: build the world, pace it, write trace and report.

use crate::cli::RunArgs;
use anyhow::{Context, Result, bail};
use hil::pace::{self, Speed};
use profiles::{HumanDuration, Library};
use sim_core::fleet::{ConnectorState, Shard, Snapshot, World, WorldConfig};
use sim_core::report::Verdict;
use sim_core::time::Duration;
use sim_core::trace::TraceLevel;
use std::io::Write;
use std::process::ExitCode;

/// Runs a scenario headless and writes its report; exit code 0 only on a passing verdict.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let lib = Library::bundled().context("the bundled profiles are broken")?;
    let mut scenario = lib.load_scenario(&args.scenario)?;
    let speed = Speed::parse(&args.speed).map_err(anyhow::Error::msg)?;
    apply_transport(args, &mut scenario)?;
    let real_mqtt = scenario.scenario.mqtt.enabled
        && scenario.scenario.mqtt.transport == profiles::scenario::MqttTransport::Broker;
    let real_http = scenario.scenario.http.enabled
        && scenario.scenario.http.transport == profiles::scenario::HttpTransport::Network;
    if real_mqtt || real_http {
        crate::stack::check_speed_for_real_io(speed)?;
        set_start_to_now(&mut scenario);
    }
    let duration = args
        .duration
        .as_deref()
        .map(HumanDuration::parse)
        .transpose()?
        .map(|d| Duration::from_micros(d.micros));
    let seed = args
        .seed
        .or(scenario.scenario.scenario.seed)
        .unwrap_or_else(random_seed);
    let shard = parse_shard(args.shard.as_deref())?;
    let trace_level = parse_level(&args.trace_level)?;
    let mut trace_file = args
        .trace
        .as_ref()
        .map(|p| {
            std::fs::File::create(p)
                .map(std::io::BufWriter::new)
                .with_context(|| format!("cannot create trace file {}", p.display()))
        })
        .transpose()?;
    let config = WorldConfig {
        seed,
        duration,
        trace_level: trace_file.as_ref().map(|_| trace_level),
        shard,
        sample_interval: None,
        http_external: real_http,
    };
    let mut world = World::new(&scenario, config)?;
    let rerun = rerun_command(args, seed, &world);
    let options = crate::stack::StackOptions {
        broker: real_mqtt.then(|| crate::stack::broker_choice(args.broker.as_deref(), &scenario)),
        ca_file: args.ca_file.clone(),
        platform: real_http
            .then(|| crate::stack::platform_choice(args.platform.as_deref(), &scenario)),
        tcec_keys: args.tcec_keys.clone(),
    };
    let mut stack = if real_mqtt || real_http {
        let stack = crate::stack::Stack::start(&options, &scenario, &mut world)?;
        eprintln!("chargestorm: {}", stack.describe());
        Some(stack)
    } else {
        None
    };
    let mut waiter = match &stack {
        Some(s) => s.waiter(),
        None => crate::stack::AnyWaiter::Sleep(hil::pace::Sleep),
    };
    eprintln!(
        "chargestorm: scenario {} ({}), seed {seed}, speed {speed}, {} simulated",
        scenario.scenario.scenario.name,
        scenario.source,
        HumanDuration {
            micros: world.end().as_micros()
        },
    );
    let stop = interrupt_flag();
    let every = std::time::Duration::from_secs_f64(args.progress_every_s.max(0.1));
    let mut next_progress = every;
    let mut write_error = None;
    let stats = pace::run_with(&mut world, speed, &mut waiter, |w, elapsed| {
        if let Some(s) = stack.as_mut() {
            s.pump(w);
        }
        if let Some(f) = trace_file.as_mut() {
            let lines = w.take_trace_lines();
            if let Err(e) = f.write_all(&lines) {
                write_error = Some(e);
                return false;
            }
        }
        if elapsed >= next_progress {
            eprintln!("{}", progress_line(&w.snapshot(), elapsed));
            next_progress = elapsed + every;
        }
        !stop.load(std::sync::atomic::Ordering::Relaxed)
    });
    if let Some(e) = write_error {
        bail!("writing the trace failed: {e}");
    }
    if let Some(mut f) = trace_file {
        f.write_all(&world.take_trace_lines())?;
        f.flush()?;
    }
    let snapshot = world.snapshot();
    let backend = match stack.take() {
        Some(s) => s.finish(&mut world)?,
        None => None,
    };
    let confirmed = world.metrics().transactions.confirmed;
    let mut report = world.finish(stats.wall.as_secs_f64());
    if let Some((backend, runner)) = backend {
        let booked = backend.ledger().len() as u64;
        report.assertions.push(sim_core::report::Assertion {
            name: "mqtt.transactions_booked_once".into(),
            passed: booked == confirmed,
            detail: format!(
                "{confirmed} transactions confirmed to chargers, {booked} booked in the reference backend's ledger ({} re-sent copies recognised and not booked again; backend received {} publishes)",
                backend.ledger().duplicates(),
                runner.received,
            ),
        });
        report.decide();
    }
    report.details.rerun = rerun.clone();
    report.details.speed = speed.to_string();
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.report, json + "\n")
        .with_context(|| format!("cannot write report {}", args.report.display()))?;
    crate::verdict::after_run(args, &report)?;
    eprintln!("{}", progress_line(&snapshot, stats.wall));
    print_summary(&report, &args.report.display().to_string());
    if stats.interrupted {
        eprintln!("run interrupted before its end");
    }
    if report.verdict == Verdict::Fail {
        eprintln!("FAILED with seed {seed}; reproduce with:\n  {rerun}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A flag set by Ctrl-C (SIGINT/SIGTERM): the run stops at the next chunk and still
/// writes its report. A second Ctrl-C exits at once.
fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static FLAG: std::sync::OnceLock<std::sync::Arc<AtomicBool>> = std::sync::OnceLock::new();
    let flag = FLAG.get_or_init(|| {
        let flag = std::sync::Arc::new(AtomicBool::new(false));
        let handler_flag = std::sync::Arc::clone(&flag);
        // Installing fails only if another handler exists (tests calling run twice);
        // the first one keeps working.
        let _ = ctrlc::set_handler(move || {
            if handler_flag.swap(true, Ordering::Relaxed) {
                std::process::exit(130);
            }
            eprintln!("interrupted: finishing the report (Ctrl-C again to quit at once)");
        });
        flag
    });
    flag.store(false, Ordering::Relaxed);
    std::sync::Arc::clone(flag)
}

/// Real peers see real timestamps: virtual time zero becomes the wall clock's now (Beijing
/// time, as the Chinese protocols expect).
fn set_start_to_now(scenario: &mut profiles::ResolvedScenario) {
    #[expect(
        clippy::disallowed_methods,
        reason = "a real-time run starts at the wall clock's now"
    )]
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Ok(civil) = proto::tcec::time::CivilTime::from_unix_seconds_with_offset(unix, 8 * 3600)
        && let Ok(dt) = format!("{}+08:00", civil.format_datetime().replace(' ', "T")).parse()
    {
        scenario.scenario.scenario.start_at = dt;
    }
}

/// Applies `--broker`, `--platform` and `--transport` to the scenario.
fn apply_transport(args: &RunArgs, scenario: &mut profiles::ResolvedScenario) -> Result<()> {
    use profiles::scenario::MqttTransport;
    let mqtt = &mut scenario.scenario.mqtt;
    if let Some(t) = args.transport.as_deref() {
        mqtt.transport = match t {
            "memory" => MqttTransport::Memory,
            "broker" | "network" | "real" => MqttTransport::Broker,
            other => bail!("unknown --transport {other:?}: use memory or real"),
        };
    }
    if args.broker.is_some() && args.transport.as_deref() != Some("memory") {
        if !mqtt.enabled {
            bail!("--broker needs a scenario with [mqtt] enabled = true");
        }
        mqtt.transport = MqttTransport::Broker;
    }
    let http = &mut scenario.scenario.http;
    if let Some(t) = args.transport.as_deref() {
        http.transport = match t {
            "memory" => profiles::scenario::HttpTransport::Memory,
            _ => profiles::scenario::HttpTransport::Network,
        };
    }
    if args.platform.is_some() && args.transport.as_deref() != Some("memory") {
        if !http.enabled {
            bail!("--platform needs a scenario with [http] enabled = true");
        }
        http.transport = profiles::scenario::HttpTransport::Network;
    }
    Ok(())
}

fn parse_shard(text: Option<&str>) -> Result<Shard> {
    let Some(text) = text else {
        return Ok(Shard::WHOLE);
    };
    let (k, n) = text
        .split_once('/')
        .context("--shard takes K/N, e.g. 0/4")?;
    let shard = Shard {
        index: k.trim().parse().context("--shard K must be a number")?,
        count: n.trim().parse().context("--shard N must be a number")?,
    };
    if shard.count == 0 || shard.index >= shard.count {
        bail!("--shard {text}: need 0 <= K < N");
    }
    Ok(shard)
}

fn parse_level(text: &str) -> Result<TraceLevel> {
    Ok(match text {
        "session" => TraceLevel::Session,
        "protocol" => TraceLevel::Protocol,
        "frame" => TraceLevel::Frame,
        other => bail!("unknown trace level {other:?}: use session, protocol or frame"),
    })
}

/// A seed for runs that name none; printed so the run can be repeated.
fn random_seed() -> u64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "an unseeded run takes its seed from the wall clock, and prints it"
    )]
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    sim_core::rng::mix64(nanos ^ u64::from(std::process::id()))
}

fn rerun_command(args: &RunArgs, seed: u64, world: &World) -> String {
    let mut cmd = format!(
        "chargestorm run {} --seed {seed} --speed {} --duration {}",
        args.scenario,
        args.speed,
        HumanDuration {
            micros: world.end().as_micros()
        }
    );
    if let Some(shard) = &args.shard {
        cmd.push_str(&format!(" --shard {shard}"));
    }
    cmd
}

fn progress_line(s: &Snapshot, wall: std::time::Duration) -> String {
    let mut states = String::new();
    for (state, n) in ConnectorState::ALL.iter().zip(s.states) {
        if n > 0 {
            states.push_str(&format!(" {} {n}", state.name()));
        }
    }
    let sim = s.now.as_secs_f64();
    format!(
        "[{:>7.1}s] sim {} / {} (x{:.0}) |{states} | sessions {} started {} completed {} failed | {:.1} kWh",
        wall.as_secs_f64(),
        clock(sim),
        clock(s.end.as_secs_f64()),
        sim / wall.as_secs_f64().max(1e-3),
        s.sessions.0,
        s.sessions.1,
        s.sessions.2,
        s.energy_kwh,
    )
}

fn clock(secs: f64) -> String {
    let s = secs as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

fn print_summary(r: &sim_core::report::Report, path: &str) {
    println!("scenario   {} (seed {})", r.scenario, r.seed);
    println!(
        "simulated  {:.0} s in {:.2} s wall",
        r.simulated_s, r.wall_s
    );
    println!(
        "connectors {} ({} DC, {} AC)",
        r.connectors.total, r.connectors.dc, r.connectors.ac
    );
    println!(
        "sessions   {} started, {} completed, {} failed",
        r.sessions.started, r.sessions.completed, r.sessions.failed
    );
    println!("energy     {:.1} kWh", r.energy_kwh);
    for (name, l) in &r.latency_ms {
        println!(
            "latency    {name}: n={} p50={:.1} p99={:.1} max={:.1} ms",
            l.count, l.p50, l.p99, l.max
        );
    }
    for (kind, n) in &r.errors {
        println!("errors     {kind}: {n}");
    }
    for a in &r.assertions {
        println!(
            "{}  {}: {}",
            if a.passed { "pass" } else { "FAIL" },
            a.name,
            a.detail
        );
    }
    println!("digest     {}", r.digest);
    println!("verdict    {:?}  (report: {path})", r.verdict);
}
