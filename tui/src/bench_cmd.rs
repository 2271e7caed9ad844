//! `chargestorm bench`: regenerates the figures of `BENCHMARKS.md` with one command.
//!
//! Every case runs the real binary as a child process (`chargestorm run …`), so each has
//! the whole open-file limit and its own CPU and memory accounting, and reads the child's
//! report: simulated time and wall time, scheduler lag, CPU seconds and peak RSS
//! (`details.process`, measured by the child itself), latency percentiles and message
//! counts. MQTT cases run against a Mosquitto the command starts (a missing `mosquitto`
//! fails the command, naming it); the baseline peer is a bare rumqttc publisher
//! ([`baseline`]) at the same message rate as the fleet it is compared with.

pub mod baseline;
pub mod broker;
pub mod http;
pub mod rate;
pub mod shards;

use anyhow::{Context, Result, bail};
use clap::Args;
use sim_core::report::Report;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// `chargestorm bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Shorter runs and smaller fleets (minutes instead of a quarter of an hour).
    #[arg(long)]
    pub quick: bool,
    /// Only these groups (engine, realtime, mqtt, http, shards, broker) or cases (e.g.
    /// mqtt-qos2-10k), comma separated. A quick run leaves out `shards` and `broker`
    /// unless named.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where to write the results as Markdown (also printed).
    #[arg(long, default_value = "bench-results.md")]
    pub out: PathBuf,
    /// Directory for the cases' reports (default: a temporary directory).
    #[arg(long)]
    pub reports: Option<PathBuf>,
    /// The chargers' MQTT client engine in the MQTT cases (`native` or `rumqttc`), passed
    /// to `chargestorm run --mqtt-client`.
    #[arg(long, default_value = "native")]
    pub mqtt_client: hil::mqtt::MqttTransport,
    /// The hosted backend's command rate (commands/s) in the MQTT rate cases that send
    /// commands, instead of the scenario's `command_rate_per_s` (to find the highest rate
    /// that keeps the latency target).
    #[arg(long)]
    pub command_rate: Option<f64>,
}

/// What a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// Simulated time per wall time at `--speed max`.
    Engine,
    /// Scheduler lag, CPU and memory in real time.
    Realtime,
    /// MQTT chargers against a real broker in real time.
    Mqtt,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::Engine => "engine",
            Group::Realtime => "realtime",
            Group::Mqtt => "mqtt",
        }
    }
}

/// One benchmark run.
#[derive(Debug, Clone)]
struct Case {
    id: String,
    group: Group,
    scenario: &'static str,
    speed: &'static str,
    duration: &'static str,
    shard: Option<&'static str>,
    /// `--threads N`: the run's shard worlds on N threads of one process.
    threads: Option<u32>,
    /// The bench runs the scenario's reference backend in its own process and the child
    /// runs with `--backend external`, as against a backend under test: the simulator's
    /// CPU is then the load generator's alone.
    hosted_backend: bool,
    /// A rate run (see [`rate`]): the hosted backend's figures are the results.
    rate_run: bool,
    /// After the run, measure the broker with bare clients at the run's offered rate.
    peer_ceiling: bool,
    /// `--pacing spin`: the run's threads spin between deadlines instead of sleeping.
    spin: bool,
}

impl Case {
    fn new(id: &str, group: Group, scenario: &'static str, duration: &'static str) -> Case {
        Case {
            id: id.to_owned(),
            group,
            scenario,
            speed: if group == Group::Engine {
                "max"
            } else {
                "realtime"
            },
            duration,
            shard: None,
            threads: None,
            hosted_backend: false,
            rate_run: false,
            peer_ceiling: false,
            spin: false,
        }
    }

    fn spin(mut self) -> Case {
        self.spin = true;
        self
    }

    fn peer_ceiling(mut self) -> Case {
        self.peer_ceiling = true;
        self
    }

    fn hosted_backend(mut self) -> Case {
        self.hosted_backend = true;
        self
    }

    fn rate_run(mut self) -> Case {
        self.rate_run = true;
        self.hosted_backend()
    }

    fn shard(mut self, shard: &'static str) -> Case {
        self.shard = Some(shard);
        self
    }

    fn threads(mut self, threads: u32) -> Case {
        self.threads = Some(threads);
        self
    }

    /// The `chargestorm run` arguments of this case (without `--report` and `--broker`).
    fn run_args(&self) -> Vec<String> {
        let mut args = vec![
            "run".to_owned(),
            self.scenario.to_owned(),
            "--headless".to_owned(),
            "--speed".to_owned(),
            self.speed.to_owned(),
            "--duration".to_owned(),
            self.duration.to_owned(),
        ];
        if let Some(shard) = self.shard {
            args.extend(["--shard".to_owned(), shard.to_owned()]);
        }
        if let Some(threads) = self.threads {
            args.extend(["--threads".to_owned(), threads.to_string()]);
        }
        if self.hosted_backend {
            args.extend(["--backend".to_owned(), "external".to_owned()]);
        }
        if self.spin {
            args.extend(["--pacing".to_owned(), "spin".to_owned()]);
        }
        args
    }
}

/// The cases of a full or quick run.
fn cases(quick: bool) -> Vec<Case> {
    use Group::{Engine, Mqtt, Realtime};
    if quick {
        vec![
            Case::new("engine-1k", Engine, "engine-1k", "6m"),
            Case::new("engine-1k-can", Engine, "engine-1k-can", "6m"),
            Case::new("engine-10k-realtime", Realtime, "engine-100k", "30s").shard("0/10"),
            Case::new("mqtt-1k", Mqtt, "mqtt-19k", "30s")
                .shard("0/19")
                .hosted_backend(),
            Case::new("mqtt-qos2-10k", Mqtt, "mqtt-qos2-10k", "15s").rate_run(),
        ]
    } else {
        vec![
            Case::new("engine-1k", Engine, "engine-1k", "1h"),
            Case::new("engine-1k-can", Engine, "engine-1k-can", "1h"),
            Case::new("engine-1k-can-2t", Engine, "engine-1k-can", "1h").threads(2),
            Case::new("engine-10k-realtime", Realtime, "engine-100k", "1m").shard("0/10"),
            Case::new("engine-25k-realtime", Realtime, "engine-100k", "1m").shard("0/4"),
            Case::new("engine-100k-realtime-2t", Realtime, "engine-100k", "1m").threads(2),
            Case::new(
                "engine-100k-realtime-2t-spin",
                Realtime,
                "engine-100k",
                "1m",
            )
            .threads(2)
            .spin(),
            Case::new("mqtt-1k", Mqtt, "mqtt-19k", "1m")
                .shard("0/19")
                .hosted_backend(),
            Case::new("mqtt-9.5k", Mqtt, "mqtt-19k", "1m")
                .shard("0/2")
                .hosted_backend(),
            Case::new("mqtt-19k", Mqtt, "mqtt-19k", "1m").hosted_backend(),
            Case::new("mqtt-qos0-100k", Mqtt, "mqtt-qos0-100k", "30s")
                .rate_run()
                .peer_ceiling(),
            Case::new("mqtt-qos2-10k", Mqtt, "mqtt-qos2-10k", "30s").rate_run(),
        ]
    }
}

/// What one case measured.
#[derive(Debug)]
struct Outcome {
    case: Case,
    report: Report,
    /// Wall time of the whole child, including building the fleet.
    child_wall: Duration,
    /// Whether the child was stopped because it ran far behind real time.
    cut_short: bool,
    /// The bare-client baseline at the same rate (MQTT cases).
    baseline: Option<baseline::BaselineResult>,
    /// What the bench's own backend measured (rate runs).
    rate: Option<rate::RateFigures>,
    /// CPU seconds of the hosted reference backend (the bench process) while the child ran.
    backend_cpu_s: Option<f64>,
}

/// Runs the benchmarks and writes the Markdown results.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the chargestorm binary")?;
    let dir = match &args.reports {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("chargestorm-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let selected: Vec<Case> = cases(args.quick)
        .into_iter()
        .filter(|c| {
            args.only.is_empty() || args.only.iter().any(|g| g == c.group.name() || *g == c.id)
        })
        .collect();
    let wants_http = args.only.is_empty() || args.only.iter().any(|g| g == http::GROUP);
    // The shards take the whole machine for 2 minutes: not in a quick run unless named.
    let wants_shards =
        (args.only.is_empty() && !args.quick) || args.only.iter().any(|g| g == shards::GROUP);
    let wants_broker =
        (args.only.is_empty() && !args.quick) || args.only.iter().any(|g| g == broker::GROUP);
    if selected.is_empty() && !wants_http && !wants_shards && !wants_broker {
        bail!(
            "--only {:?} selects no case: use engine, realtime, mqtt, http, shards, broker or a case id",
            args.only
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut outcomes = Vec::new();
    for case in selected {
        eprintln!("bench: {} ({})", case.id, case.run_args().join(" "));
        let outcome = run_case(&exe, &dir, &runtime, case, args)?;
        eprintln!("{}", one_line(&outcome));
        outcomes.push(outcome);
    }
    let mut markdown = render(&outcomes, args);
    if wants_http {
        http_case(&exe, args.quick, &mut markdown)?;
    }
    if wants_shards {
        eprintln!(
            "bench: shards ({} shard processes of mqtt-100k, one Mosquitto each)",
            shards::SHARDS
        );
        let client = client_arg(args.mqtt_client);
        let shards_dir = dir.join("shards");
        std::fs::create_dir_all(&shards_dir)?;
        let outcome = shards::run(&exe, &shards_dir, &runtime, args.quick, client)
            .context("the shards case failed")?;
        shards::render(&mut markdown, &outcome);
    }
    if wants_broker {
        let outcome =
            broker::run(&exe, &runtime, args.quick).context("the broker comparison failed")?;
        broker::render(&mut markdown, &outcome);
    }
    print!("{markdown}");
    std::fs::write(&args.out, &markdown)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "bench: results in {} (reports in {})",
        args.out.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs the HTTP case ([`http`]) and appends its section to `markdown`.
fn http_case(exe: &Path, quick: bool, markdown: &mut String) -> Result<()> {
    eprintln!("bench: http (operator here, `chargestorm platform` in a child process)");
    let outcome = http::run(exe, quick).context("the HTTP case failed")?;
    http::render(markdown, &outcome);
    Ok(())
}

#[expect(
    clippy::disallowed_methods,
    reason = "the benchmark driver times its child processes on the wall clock"
)]
fn run_case(
    exe: &Path,
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
    case: Case,
    bench: &BenchArgs,
) -> Result<Outcome> {
    let mqtt_client = bench.mqtt_client;
    let report_path = dir.join(format!("{}.json", case.id));
    let mut args = case.run_args();
    args.extend(["--report".to_owned(), report_path.display().to_string()]);
    let broker = if case.group == Group::Mqtt {
        let inflight = if case.hosted_backend {
            rate::BACKEND_INFLIGHT
        } else {
            hil::mqtt::MAX_INFLIGHT
        };
        let m = runtime
            .block_on(hil::mqtt::Mosquitto::start_with_inflight(inflight))
            .context("the MQTT benchmarks need mosquitto (apt-get install -y mosquitto)")?;
        args.extend(["--broker".to_owned(), format!("mqtt://{}", m.addr())]);
        args.extend([
            "--mqtt-client".to_owned(),
            client_arg(mqtt_client).to_owned(),
        ]);
        Some(m)
    } else {
        None
    };
    let hosted = match (&broker, case.hosted_backend) {
        (Some(m), true) => Some(rate::HostedBackend::start(
            runtime,
            m.addr(),
            case.scenario,
            bench.command_rate.filter(|_| case.rate_run),
        )?),
        _ => None,
    };
    // The broker's and this process's (the hosted backend's) CPU while the child runs.
    let broker_cpu_before = broker.as_ref().and_then(hil::mqtt::Mosquitto::cpu_time);
    let own_cpu_before = crate::usage::process().map(|p| p.cpu_user_s + p.cpu_system_s);
    let simulated = profiles::HumanDuration::parse(case.duration)?.micros as f64 / 1e6;
    // A real-time run that cannot keep up would take ever longer: it is stopped (Ctrl-C,
    // which still writes its report) once it is this far past its simulated duration.
    let limit = (case.speed != "max").then(|| Duration::from_secs_f64(simulated * 2.0 + 120.0));
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let mut cut_short = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if !cut_short && limit.is_some_and(|l| started.elapsed() > l) {
            cut_short = true;
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let child_wall = started.elapsed();
    let broker_cpu_s = match (
        broker_cpu_before,
        broker.as_ref().and_then(hil::mqtt::Mosquitto::cpu_time),
    ) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
        _ => f64::NAN,
    };
    let own_cpu_s = match (
        own_cpu_before,
        crate::usage::process().map(|p| p.cpu_user_s + p.cpu_system_s),
    ) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    let text = std::fs::read_to_string(&report_path).with_context(|| {
        format!(
            "case {} wrote no report ({status}); rerun: chargestorm {}",
            case.id,
            args.join(" ")
        )
    })?;
    let report: Report = serde_json::from_str(&text)
        .with_context(|| format!("cannot read report {}", report_path.display()))?;
    let rate = match (hosted, &broker) {
        (Some(h), Some(m)) => {
            let mut figures = h.finish(runtime, m)?;
            figures.broker_cpu_s = broker_cpu_s;
            figures.backend_cpu_s = own_cpu_s;
            Some(figures)
        }
        _ => None,
    };
    let backend_cpu_s = rate.as_ref().map(|r| r.backend_cpu_s);
    let mut rate = rate.filter(|_| case.rate_run);
    if let (Some(figures), Some(m), true) = (rate.as_mut(), &broker, case.peer_ceiling) {
        figures.peer = Some(peer_ceiling(exe, m, &case, &report)?);
    }
    let baseline = match &broker {
        Some(m) if rate.is_none() => {
            let (messages, _) = mqtt_publishes(&report);
            let rate = messages as f64 / report.simulated_s.max(1.0);
            let clients = report.connectors.total as usize;
            let params = baseline::BaselineParams {
                broker: m.addr(),
                clients,
                rate_per_s: rate,
                seconds: report.simulated_s.clamp(5.0, 60.0),
                subscribe: false,
            };
            Some(baseline::run_isolated(exe, &params).context("the bare rumqttc baseline failed")?)
        }
        _ => None,
    };
    drop(broker);
    Ok(Outcome {
        case,
        report,
        child_wall,
        cut_short,
        baseline,
        rate,
        backend_cpu_s,
    })
}

/// Bare rumqttc publishers and a subscriber through the run's Mosquitto at the run's
/// offered telemetry rate, QoS 0.
fn peer_ceiling(
    exe: &Path,
    broker: &hil::mqtt::Mosquitto,
    case: &Case,
    report: &Report,
) -> Result<rate::PeerCeiling> {
    let lib = profiles::Library::bundled().context("the bundled profiles are broken")?;
    let mqtt = lib.load_scenario(case.scenario)?.scenario.mqtt;
    let period_ms = mqtt
        .telemetry_interval_ms
        .map_or(f64::from(mqtt.telemetry_interval_s) * 1000.0, f64::from);
    let clients = report.connectors.total as usize;
    let offered_per_s = clients as f64 * 1000.0 / period_ms.max(1.0);
    let params = baseline::BaselineParams {
        broker: broker.addr(),
        clients,
        rate_per_s: offered_per_s,
        seconds: report.simulated_s.clamp(5.0, 30.0),
        subscribe: true,
    };
    let before = broker.cpu_time();
    let result =
        baseline::run_isolated(exe, &params).context("the bare rumqttc peer run failed")?;
    let broker_cpu_s = match (before, broker.cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
        _ => f64::NAN,
    };
    Ok(rate::PeerCeiling {
        clients,
        offered_per_s,
        result,
        broker_cpu_s,
    })
}

/// The `--mqtt-client` argument of a child run.
fn client_arg(transport: hil::mqtt::MqttTransport) -> &'static str {
    match transport {
        hil::mqtt::MqttTransport::Native => "native",
        hil::mqtt::MqttTransport::Rumqttc => "rumqttc",
    }
}

/// MQTT publishes the chargers and the backend sent (topic classes `U/*` and `D/*`; the
/// message-type counters count the same publishes again by APDU), and the uplink share.
fn mqtt_publishes(report: &Report) -> (u64, u64) {
    let Some(mqtt) = report.messages.get("mqtt") else {
        return (0, 0);
    };
    let up: u64 = mqtt
        .iter()
        .filter(|(k, _)| k.starts_with("U/"))
        .map(|(_, n)| n)
        .sum();
    let down: u64 = mqtt
        .iter()
        .filter(|(k, _)| k.starts_with("D/"))
        .map(|(_, n)| n)
        .sum();
    (up + down, up)
}

fn cpu_s(report: &Report) -> f64 {
    report
        .details
        .process
        .as_ref()
        .map_or(0.0, |p| p.cpu_user_s + p.cpu_system_s)
}

fn rss_kib(report: &Report) -> u64 {
    report.details.process.as_ref().map_or(0, |p| p.max_rss_kib)
}

fn one_line(o: &Outcome) -> String {
    let r = &o.report;
    format!(
        "bench: {} done: {:.0} s simulated in {:.2} s wall ({:.1} s with setup), {:.2} s CPU, peak RSS {} MiB{}",
        o.case.id,
        r.simulated_s,
        r.wall_s,
        o.child_wall.as_secs_f64(),
        cpu_s(r),
        rss_kib(r) / 1024,
        if o.cut_short {
            ", stopped: far behind real time"
        } else {
            ""
        }
    )
}

fn latency(r: &Report, contains: &str) -> Option<sim_core::report::LatencySummary> {
    r.latency_ms
        .iter()
        .find(|(k, _)| k.contains(contains))
        .map(|(_, l)| *l)
}

/// The results as Markdown tables, one per group.
fn render(outcomes: &[Outcome], args: &BenchArgs) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# chargestorm bench{}\n\nCommand: `chargestorm bench{}`. Every case is a child \
         `chargestorm run` (its arguments below); CPU and peak RSS are the child's own.\n",
        if args.quick { " --quick" } else { "" },
        if args.quick { " --quick" } else { "" }
    );
    let of = |g: Group| outcomes.iter().filter(move |o| o.case.group == g);
    if of(Group::Engine).next().is_some() {
        md.push_str(
            "## Engine at `--speed max`\n\n| Case | Connectors | Simulated | Wall | Speed-up | \
             Connector-s per wall s | Scheduler events | CAN frames | CPU | Peak RSS |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for o in of(Group::Engine) {
            let r = &o.report;
            let frames: u64 = r.messages.get("can").map_or(0, |m| m.values().sum());
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} s | {:.2} s | ×{:.0} | {:.0} | {} | {} | {:.2} s | {} MiB |",
                o.case.id,
                r.connectors.total,
                r.simulated_s,
                r.wall_s,
                r.simulated_s / r.wall_s.max(1e-9),
                r.connectors.total as f64 * r.simulated_s / r.wall_s.max(1e-9),
                r.details.scheduler_events,
                frames,
                cpu_s(r),
                rss_kib(r) / 1024
            );
        }
        md.push('\n');
    }
    if of(Group::Realtime).next().is_some() {
        md.push_str(
            "## Engine in real time\n\n| Case | Connectors | Simulated | Lag p50 | Lag p99 | \
             Lag max | Overruns (> 5 ms) | Kept up | CPU (cores) | RSS per connector |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for o in of(Group::Realtime) {
            let r = &o.report;
            let (p50, p99, max, overruns, kept) =
                r.details
                    .pacing
                    .as_ref()
                    .map_or((f64::NAN, f64::NAN, f64::NAN, 0, false), |p| {
                        (
                            p.lag_p50_ms,
                            p.lag_p99_ms,
                            p.lag_max_ms,
                            p.overruns,
                            p.kept_up(),
                        )
                    });
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} s{} | {p50:.2} ms | {p99:.2} ms | {max:.1} ms | {overruns} | {} | {:.2}{} | {:.1} KiB |",
                o.case.id,
                r.connectors.total,
                r.simulated_s,
                if o.cut_short { " (stopped)" } else { "" },
                if kept { "yes" } else { "**no**" },
                cpu_s(r) / r.wall_s.max(1e-9),
                if o.case.spin { " (spinning)" } else { "" },
                rss_kib(r) as f64 / r.connectors.total.max(1) as f64
            );
        }
        md.push('\n');
    }
    if of(Group::Mqtt).any(|o| o.rate.is_none()) {
        render_mqtt(&mut md, of(Group::Mqtt).filter(|o| o.rate.is_none()));
    }
    if of(Group::Mqtt).any(|o| o.rate.is_some()) {
        rate::render(
            &mut md,
            of(Group::Mqtt).filter_map(|o| Some((&o.report, o.rate.as_ref()?, o.cut_short))),
        );
    }
    if !outcomes.is_empty() {
        md.push_str("Cases:\n\n");
    }
    for o in outcomes {
        let _ = writeln!(
            md,
            "- `{}`: `chargestorm {}`",
            o.case.id,
            o.case.run_args().join(" ")
        );
    }
    if let Some(rate) = args.command_rate
        && outcomes.iter().any(|o| o.rate.is_some())
    {
        let _ = writeln!(
            md,
            "\nThe hosted backend sent {rate} commands/s (`--command-rate {rate}`) instead of \
             the scenario's rate."
        );
    }
    if !outcomes.is_empty() {
        // The HTTP, shards and broker sections follow.
        md.push('\n');
    }
    md
}

fn render_mqtt<'a>(md: &mut String, outcomes: impl Iterator<Item = &'a Outcome>) {
    md.push_str(
        "## MQTT chargers against Mosquitto (loopback, real time)\n\n| Case | Chargers | \
         Connect p50 / p99 | Boot p99 | Publishes | Rate | CPU per message | RSS per charger | \
         Baseline CPU per message | Ratio | Errors | Backend CPU per message |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for o in outcomes {
        let r = &o.report;
        let (publishes, _) = mqtt_publishes(r);
        let connect = latency(r, "mqtt.CONNECT");
        let boot = latency(r, "BootNotification");
        let cpu_per_msg_us = cpu_s(r) * 1e6 / publishes.max(1) as f64;
        let errors: u64 = r.errors.values().sum();
        let (base, ratio) = match &o.baseline {
            Some(b) => {
                let per = b.cpu_per_message_us();
                (
                    format!("{per:.1} µs"),
                    format!("{:.2}×", cpu_per_msg_us / per),
                )
            }
            None => ("–".into(), "–".into()),
        };
        let backend = o.backend_cpu_s.map_or("in the simulator".into(), |b| {
            format!("{:.1} µs", b * 1e6 / publishes.max(1) as f64)
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.0}/s | {:.1} µs | {:.1} KiB | {base} | {ratio} | {errors} | {backend} |",
            o.case.id,
            r.connectors.total,
            connect.map_or("–".into(), |l| format!("{:.1} / {:.1} ms", l.p50, l.p99)),
            boot.map_or("–".into(), |l| format!("{:.1} ms", l.p99)),
            publishes,
            publishes as f64 / r.simulated_s.max(1.0),
            cpu_per_msg_us,
            rss_kib(r) as f64 / r.connectors.total.max(1) as f64,
        );
    }
    md.push_str(
        "\nCPU per message is the whole simulator process (chargers' physics, protocol \
         machines, the I/O shell) divided by the chargers' publishes. The scenario's \
         reference backend runs in the bench process on the same Mosquitto, as a backend \
         under test would (the child runs with `--backend external`); its CPU per message is \
         the last column. The baseline is a bare rumqttc client per charger publishing QoS 0 \
         at the same total rate, in its own process.\n\n",
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn quick_cases_are_a_subset_of_bundled_scenarios() {
        let lib = profiles::Library::bundled().unwrap();
        for quick in [true, false] {
            for case in cases(quick) {
                assert!(
                    lib.load_scenario(case.scenario).is_ok(),
                    "{} names {}",
                    case.id,
                    case.scenario
                );
                assert!(profiles::HumanDuration::parse(case.duration).is_ok());
            }
        }
    }

    /// An empty report of 2 connectors over 10 s, named `scenario`.
    pub(super) fn empty_report(scenario: &str) -> Report {
        let mut r: Report = serde_json::from_str(
            r#"{"seed":1,"scenario":"","simulated_s":10,"wall_s":10,
                "connectors":{"total":2,"dc":0,"ac":2,"final_states":{}},
                "sessions":{"started":0,"completed":0,"failed":0},
                "transactions":{"started":0,"confirmed":0,"open":0,"lost":0,"lost_reasons":{}},
                "energy_kwh":0,"messages":{},"latency_ms":{},"errors":{},"assertions":[],
                "digest":"","verdict":"pass"}"#,
        )
        .unwrap();
        r.scenario = scenario.to_owned();
        r
    }

    #[test]
    fn counts_topic_publishes_not_message_types() {
        let mut r = empty_report("x");
        r.messages.insert(
            "mqtt".into(),
            [
                ("U/M".to_owned(), 10),
                ("U/C".to_owned(), 3),
                ("D/C".to_owned(), 2),
                ("TelemetryReq".to_owned(), 10),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(mqtt_publishes(&r), (15, 13));
    }
}
