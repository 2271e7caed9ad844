//! `chargestorm run` and `demo`: build the world, pace it (with the dashboard on a
//! terminal, progress lines otherwise), write trace and reports.
//!
//! Threads: headless, everything runs on the calling thread. With the dashboard the
//! simulation (world, network stack, pacing loop) runs on its own thread and the screen on
//! the calling thread, joined by [`crate::dashboard::bridge`]; the simulation never waits
//! for the screen. With `--threads N` (headless only) the N shard worlds of the run each
//! get a thread ([`threads`]).

use crate::cli::RunArgs;
use crate::dashboard::UiCommand;
use crate::dashboard::bridge::{SimEnd, bridge};
use crate::dashboard::model::Title;
use crate::dashboard::terminal::{self, LoopEnd};
use crate::live::Live;
use anyhow::{Context, Result, bail};
use hil::pace::{self, Speed};
use profiles::{HumanDuration, Library};
use sim_core::fleet::{ConnectorState, Shard, Snapshot, World, WorldConfig};
use sim_core::report::{Report, Verdict};
use sim_core::time::Duration;
use sim_core::trace::TraceLevel;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

mod threads;

/// What a finished run hands back for the summary.
struct Outcome {
    report: Report,
    snapshot: Snapshot,
    wall: std::time::Duration,
    interrupted: bool,
}

/// Runs a scenario (dashboard on a terminal unless `--headless`) and writes its report;
/// exit code 0 only on a passing verdict.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let dashboard = !args.headless && std::io::stdout().is_terminal();
    if args.threads == 0 {
        bail!("--threads takes a positive number");
    }
    let outcome = if args.threads > 1 || args.worlds.is_some_and(|w| w > 1) {
        threads::run_threads(args, args.threads)?
    } else if dashboard {
        run_with_dashboard(args)?
    } else {
        execute(args, None, None)?
    };
    let r = &outcome.report;
    eprintln!("{}", progress_line(&outcome.snapshot, outcome.wall));
    crate::report_cmd::print_summary(r, &args.report.display().to_string());
    if let Some(html) = &args.report_html {
        println!("html       {}", html.display());
    }
    if outcome.interrupted {
        eprintln!("run interrupted before its end");
    }
    if r.verdict == Verdict::Fail {
        eprintln!(
            "FAILED with seed {}; reproduce with:\n  {}",
            r.seed, r.details.rerun
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The simulation on its own thread, the dashboard on this one. The screen is taken only
/// once the world and its network stack are up, so setup errors print normally.
fn run_with_dashboard(args: &RunArgs) -> Result<Outcome> {
    let (sim, ui) = bridge();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let thread_args = args.clone();
    let handle = std::thread::Builder::new()
        .name("chargestorm-sim".into())
        .spawn(move || execute(&thread_args, Some(sim), Some(ready_tx)))
        .context("cannot start the simulation thread")?;
    let join = |h: std::thread::JoinHandle<Result<Outcome>>| match h.join() {
        Ok(result) => result,
        Err(_) => bail!("the simulation thread panicked"),
    };
    if ready_rx.recv().is_err() {
        // The thread ended before it was ready: its error says why.
        return join(handle);
    }
    let ended = terminal::run(terminal::DEFAULT_FPS, |commands| ui.feed(commands));
    if matches!(ended, Ok(LoopEnd::Quit)) {
        // The simulation stops at the end of its current chunk, which can take a moment
        // when it runs behind: say so on the restored terminal.
        eprintln!("chargestorm: stopping, then writing the report");
    }
    // Whatever ended the screen ends the run (a no-op if it already has).
    let _ = ui.feed(&[UiCommand::Quit]);
    let outcome = join(handle);
    match ended {
        Ok(LoopEnd::Quit | LoopEnd::Finished) => {}
        Err(e) => eprintln!("the dashboard stopped: {e}"),
    }
    outcome
}

/// A world ready to run, with what surrounds it.
struct Setup {
    scenario: profiles::ResolvedScenario,
    world: World,
    stack: Option<crate::stack::Stack>,
    speed: Speed,
    pacing: pace::Pacing,
    seed: u64,
    shard: Shard,
    rerun: String,
    trace_file: Option<std::io::BufWriter<std::fs::File>>,
    candump_file: Option<std::io::BufWriter<std::fs::File>>,
    metrics: Option<(
        hil::metrics_http::MetricsEndpoint,
        hil::metrics_http::RunLabels,
    )>,
}

/// Builds the world, starts the network stack and the metrics endpoint.
fn prepare(args: &RunArgs) -> Result<Setup> {
    let lib = Library::bundled().context("the bundled profiles are broken")?;
    let mut scenario = lib.load_scenario(&args.scenario)?;
    let speed = Speed::parse(&args.speed).map_err(anyhow::Error::msg)?;
    if args.all_protocols {
        scenario.scenario.mqtt.enabled = true;
        scenario.scenario.http.enabled = true;
    }
    apply_transport(args, &mut scenario)?;
    let pacing = pace::Pacing::parse(&args.pacing).map_err(anyhow::Error::msg)?;
    let (real_mqtt, real_http) = real_transports(&scenario);
    if real_mqtt || real_http {
        crate::stack::check_speed_for_real_io(speed)?;
        if pacing == pace::Pacing::Spin {
            bail!("--pacing spin runs without real network transports (sockets wake the run)");
        }
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
    let trace_file = create_trace(args.trace.as_deref())?;
    let config = WorldConfig {
        seed,
        duration,
        trace_level: trace_file.as_ref().map(|_| trace_level),
        shard,
        // The HTML report's charts want fine samples even if the run is cut short (the
        // sampler still widens them to keep at most 2,000 per run).
        sample_interval: args.report_html.as_ref().map(|_| Duration::SECOND),
        http_external: real_http,
    };
    let mut world = World::new(&scenario, config)?;
    if speed != Speed::Max {
        world.set_run_ahead_horizon(Some(RUN_AHEAD_WHEN_PACED));
    }
    let candump_file = match &args.candump {
        Some(path) => {
            let only =
                (!args.candump_connectors.is_empty()).then(|| args.candump_connectors.clone());
            world.record_can(only);
            Some(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create candump log {}", path.display()))?,
            ))
        }
        None => None,
    };
    let rerun = rerun_command(args, seed, &world);
    let options = crate::stack::StackOptions {
        broker: real_mqtt.then(|| crate::stack::broker_choice(args.broker.as_deref(), &scenario)),
        ca_file: args.ca_file.clone(),
        mqtt_client: args.mqtt_client,
        net_proxy: args.net_proxy,
        platform: real_http
            .then(|| crate::stack::platform_choice(args.platform.as_deref(), &scenario)),
        tcec_keys: args.tcec_keys.clone(),
        http_pipeline: args.http_pipeline,
    };
    let stack = if real_mqtt || real_http {
        let stack = crate::stack::Stack::start(&options, &scenario, &mut world)?;
        eprintln!("chargestorm: {}", stack.describe());
        Some(stack)
    } else {
        None
    };
    let metrics = start_metrics(args, &scenario, seed, shard)?;
    Ok(Setup {
        scenario,
        world,
        stack,
        speed,
        pacing,
        seed,
        shard,
        rerun,
        trace_file,
        candump_file,
        metrics,
    })
}

/// How far a paced run lets a charger run ahead per wake-up: one wake-up then does three
/// seconds of one charger's frames and ticks (tens of microseconds), so no wake-up delays
/// the others, while the wake-ups themselves stay few: each reloads the charger's state
/// from memory, and at 100,000 connectors that costs more than the frames it runs. It
/// stays below [`sim_core::fleet::KEPT_SAMPLES`] sample intervals (at least a second
/// each), so the sample barrier never cuts a run short. (A 50 ms horizon cost 2.3× the
/// CPU on 10,000 connectors, 1 s about 1.3× on 100,000; none at all lets every charger
/// released by the start run seconds ahead at once, a burst of lag.)
const RUN_AHEAD_WHEN_PACED: Duration = Duration::from_secs(3);

/// Whether MQTT and HTTP run over real sockets.
fn real_transports(scenario: &profiles::ResolvedScenario) -> (bool, bool) {
    let s = &scenario.scenario;
    (
        s.mqtt.enabled && s.mqtt.transport == profiles::scenario::MqttTransport::Broker,
        s.http.enabled && s.http.transport == profiles::scenario::HttpTransport::Network,
    )
}

/// `--trace FILE`, created before the run starts.
fn create_trace(
    path: Option<&std::path::Path>,
) -> Result<Option<std::io::BufWriter<std::fs::File>>> {
    path.map(|p| {
        std::fs::File::create(p)
            .map(std::io::BufWriter::new)
            .with_context(|| format!("cannot create trace file {}", p.display()))
    })
    .transpose()
}

/// `--metrics-listen`: the Prometheus endpoint, bound before the run starts.
fn start_metrics(
    args: &RunArgs,
    scenario: &profiles::ResolvedScenario,
    seed: u64,
    shard: Shard,
) -> Result<
    Option<(
        hil::metrics_http::MetricsEndpoint,
        hil::metrics_http::RunLabels,
    )>,
> {
    let Some(addr) = args.metrics_listen else {
        return Ok(None);
    };
    let endpoint = hil::metrics_http::MetricsEndpoint::start(addr)
        .with_context(|| format!("cannot serve metrics on {addr}"))?;
    eprintln!(
        "chargestorm: metrics on http://{}/metrics",
        endpoint.local_addr()
    );
    let labels = hil::metrics_http::RunLabels {
        scenario: scenario.scenario.scenario.name.clone(),
        seed,
        shard: shard_text(shard),
    };
    Ok(Some((endpoint, labels)))
}

fn shard_text(shard: Shard) -> String {
    format!("{}/{}", shard.index, shard.count)
}

/// Runs the whole scenario: setup, pacing loop (`sim` set: the dashboard's commands and
/// models; unset: progress lines), then reports. `ready` is told once setup succeeded.
fn execute(
    args: &RunArgs,
    sim: Option<SimEnd>,
    ready: Option<std::sync::mpsc::Sender<()>>,
) -> Result<Outcome> {
    let mut setup = prepare(args)?;
    let Setup {
        scenario, world, ..
    } = &setup;
    eprintln!(
        "chargestorm: scenario {} ({}), seed {}, speed {}, {} simulated",
        scenario.scenario.scenario.name,
        scenario.source,
        world.seed(),
        setup.speed,
        HumanDuration {
            micros: world.end().as_micros()
        },
    );
    let title = Title {
        scenario: scenario.scenario.scenario.name.clone(),
        seed: setup.seed,
        speed: args.speed.clone(),
    };
    let mut live = sim.map(|s| Live::new(s, title));
    // Without a dashboard, metrics endpoint, network stack or CAN recording nothing looks
    // at connectors between chunks: GB/T links may run ahead past a chunk's end.
    if live.is_none()
        && setup.stack.is_none()
        && setup.metrics.is_none()
        && setup.candump_file.is_none()
    {
        setup.world.set_unobserved(true);
    }
    if let Some(r) = ready {
        let _ = r.send(());
    }
    let stats = drive(args, &mut setup, live.as_mut())?;
    let faults = live.map(Live::into_faults).unwrap_or_default();
    conclude(args, setup, stats, faults)
}

/// The pacing loop with everything that runs between chunks.
fn drive(
    args: &RunArgs,
    setup: &mut Setup,
    mut live: Option<&mut Live>,
) -> Result<pace::PaceStats> {
    let mut waiter = match &setup.stack {
        Some(s) => s.waiter(),
        None => setup.pacing.into(),
    };
    let stop = interrupt_flag();
    let every = std::time::Duration::from_secs_f64(args.progress_every_s.max(0.1));
    let mut next_progress = every;
    let mut next_metrics = std::time::Duration::ZERO;
    let mut write_error = None;
    let Setup {
        world,
        stack,
        trace_file,
        candump_file,
        metrics,
        speed,
        ..
    } = setup;
    let stats = pace::run_with(world, *speed, &mut waiter, |w, elapsed| {
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
        if let Some(f) = candump_file.as_mut()
            && let Err(e) = f.write_all(w.take_candump().as_bytes())
        {
            write_error = Some(e);
            return false;
        }
        if let Some((endpoint, labels)) = metrics.as_ref()
            && elapsed >= next_metrics
        {
            endpoint.publish(metrics_snapshot(w, stack.as_ref(), labels));
            next_metrics = elapsed + std::time::Duration::from_secs(1);
        }
        let mut go_on = !stop.load(std::sync::atomic::Ordering::Relaxed);
        match live.as_deref_mut() {
            Some(l) => go_on &= l.tick(w, stack.as_mut(), elapsed.as_secs_f64()),
            None if elapsed >= next_progress => {
                eprintln!("{}", progress_line(&w.snapshot(), elapsed));
                next_progress = elapsed + every;
            }
            None => {}
        }
        go_on
    });
    if let Some(e) = write_error {
        bail!("writing the trace failed: {e}");
    }
    Ok(stats)
}

/// What `/metrics` shows of a running world, with the served operator platform's HTTP
/// metrics (they join the world's only when the run finishes).
fn metrics_snapshot(
    world: &World,
    stack: Option<&crate::stack::Stack>,
    labels: &hil::metrics_http::RunLabels,
) -> hil::metrics_http::MetricsSnapshot {
    match stack {
        Some(s) if s.has_http() => {
            let mut merged = sim_core::metrics::Metrics::new();
            merged.absorb(world.metrics());
            s.add_http_metrics(&mut merged);
            let snap = world.snapshot();
            hil::metrics_http::snapshot::snapshot_from_metrics(
                &merged,
                &snap.states,
                snap.energy_kwh,
                snap.now.as_secs_f64(),
                None,
                labels,
            )
        }
        _ => hil::metrics_http::MetricsSnapshot::from_world(world, labels, None),
    }
}

/// Stops the stack, finishes the world and writes the JSON (and HTML) report.
fn conclude(
    args: &RunArgs,
    setup: Setup,
    stats: pace::PaceStats,
    faults: crate::live::FaultLog,
) -> Result<Outcome> {
    let Setup {
        scenario,
        mut world,
        stack,
        speed,
        shard,
        rerun,
        trace_file,
        candump_file,
        metrics,
        ..
    } = setup;
    if let Some(mut f) = trace_file {
        f.write_all(&world.take_trace_lines())?;
        f.flush()?;
    }
    if let Some(mut f) = candump_file {
        f.write_all(world.take_candump().as_bytes())?;
        f.flush()?;
    }
    if let Some((endpoint, labels)) = &metrics {
        endpoint.publish(hil::metrics_http::MetricsSnapshot::from_world(
            &world, labels, None,
        ));
    }
    let snapshot = world.snapshot();
    let mut faults = faults;
    let net_proxy = stack.as_ref().and_then(|s| s.net_proxy_details());
    if let Some(s) = &stack {
        faults.extend(s.applied_actions().iter().cloned());
    }
    let backend = match stack {
        Some(s) => s.finish(&mut world)?,
        None => None,
    };
    let confirmed = world.metrics().transactions.confirmed;
    let series = args.report_html.as_ref().map(|_| world.series().clone());
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
    report.details.rerun = rerun;
    report.details.speed = speed.to_string();
    if let Some(pacing) = crate::usage::pacing(speed, &stats) {
        report.record_pacing(pacing);
    }
    report.details.process = crate::usage::process();
    report.details.shard = shard_text(shard);
    report.details.injected_faults = faults;
    report.details.net_proxy = net_proxy;
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.report, json + "\n")
        .with_context(|| format!("cannot write report {}", args.report.display()))?;
    if let (Some(path), Some(series)) = (&args.report_html, series) {
        write_html(path, &report, &series, args, &scenario)?;
    }
    crate::verdict::after_run(args, &report)?;
    Ok(Outcome {
        report,
        snapshot,
        wall: stats.wall,
        interrupted: stats.interrupted,
    })
}

/// `--report-html`: the report with the run's sampled series as charts.
fn write_html(
    path: &std::path::Path,
    report: &Report,
    series: &sim_core::series::Series,
    args: &RunArgs,
    scenario: &profiles::ResolvedScenario,
) -> Result<()> {
    let series = crate::html_report::series_from_samples(series);
    let parameters = vec![
        ("scenario".to_owned(), args.scenario.clone()),
        ("source".to_owned(), scenario.source.to_string()),
        ("seed".to_owned(), report.seed.to_string()),
        ("speed".to_owned(), args.speed.clone()),
        (
            "duration".to_owned(),
            HumanDuration {
                micros: (report.simulated_s * 1e6) as u64,
            }
            .to_string(),
        ),
        ("shard".to_owned(), report.details.shard.clone()),
        ("rerun".to_owned(), report.details.rerun.clone()),
    ];
    let html = crate::html_report::render(&crate::html_report::HtmlReportInput {
        report,
        series: &series,
        parameters: &parameters,
    });
    std::fs::write(path, html)
        .with_context(|| format!("cannot write HTML report {}", path.display()))
}

/// A flag set by Ctrl-C (SIGINT/SIGTERM): the run stops at the next chunk and still
/// writes its report. A second Ctrl-C exits at once.
pub(crate) fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
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

/// Applies `--broker`, `--backend`, `--platform` and `--transport` to the scenario.
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
    if let Some(b) = args.backend.as_deref() {
        mqtt.backend = match b {
            "reference" => profiles::scenario::BackendKind::Reference,
            "external" => profiles::scenario::BackendKind::External,
            other => bail!("unknown --backend {other:?}: use reference or external"),
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
    // `demo` turns on protocols the scenario leaves off: it reruns as `demo`.
    let what = if args.all_protocols {
        "demo".to_owned()
    } else {
        format!("run {}", args.scenario)
    };
    let mut cmd = format!(
        "chargestorm {what} --seed {seed} --speed {} --duration {}",
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
