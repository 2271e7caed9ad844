//! The HTTP case of `chargestorm bench` (`--only http`): chargestorm's operator platform
//! pushing `notification_stationStatus` to the reference monitoring platform in another
//! process (`chargestorm platform`), open loop at a fixed rate.
//!
//! The operator side runs in this process ([`hil::http::load::push_load`]), whose CPU over
//! the measured window is read from `/proc/self`; the platform's CPU is read from
//! `/proc/<pid>/stat` of its process. One OperatorID may send at most 9,999 requests per
//! second (four-digit Seq), so the load is spread over several identities, each a peer of
//! both sides.

use anyhow::{Context, Result, bail};
use hil::http::load::{PushLoadConfig, PushLoadReport, push_load};
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The group name `--only` selects.
pub const GROUP: &str = "http";

/// Requests per second offered (the target of issue 9); `CHARGESTORM_BENCH_HTTP_RATE`
/// overrides it.
const RATE_PER_S: f64 = 20_000.0;

/// Worker threads of the operator's runtime; 0 is tokio's current-thread runtime, which
/// `CHARGESTORM_BENCH_HTTP_WORKERS=2` replaces by `chargestorm run`'s two workers. With
/// pipelining one thread carries 20k requests/s at a quarter of a core, and measured here
/// (alternating runs, 20:00 UTC) 11.1-11.5 µs per request against 16-21 µs on two workers,
/// whose difference is cross-thread wake-ups and parking; before pipelining it was the
/// other way round (34 µs on 2 workers, 41 µs on one thread).
const WORKERS: usize = 0;

/// Requests pipelined per connection (HTTP/1.1 pipelining; the reference platform flushes
/// pipelined responses in batches); `CHARGESTORM_BENCH_HTTP_PIPELINE=0` measures hyper's
/// one-request-at-a-time connections instead.
const PIPELINE: usize = 16;

/// Requests one identity is given per second (below the 9,999 Seq allows).
const PER_IDENTITY_PER_S: f64 = 8_000.0;

/// The scenario and seed both sides derive their keys from.
const SCENARIO: &str = "demo";
const SEED: u64 = 9;

/// What the HTTP case measured.
#[derive(Debug)]
pub struct HttpOutcome {
    /// The operator side's window.
    pub load: PushLoadReport,
    /// Load averages (1, 5, 15 min) before and after, from `/proc/loadavg`.
    pub loadavg: (String, String),
    /// The platform's command line.
    pub platform_args: Vec<String>,
    /// Worker threads of the operator's runtime (0: current thread).
    pub workers: usize,
    /// Requests pipelined per connection (0: none).
    pub pipeline: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn operator_runtime(workers: usize) -> Result<tokio::runtime::Runtime> {
    let mut builder = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    Ok(builder.enable_all().build()?)
}

fn free_port() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(l.local_addr()?)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// User plus system CPU seconds of process `pid` (Linux `/proc`).
fn cpu_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn own_cpu() -> Option<f64> {
    crate::usage::process().map(|p| p.cpu_user_s + p.cpu_system_s)
}

#[expect(
    clippy::disallowed_methods,
    reason = "the benchmark driver waits on the wall clock for its child to listen"
)]
fn wait_listening(addr: SocketAddr, child: &mut Child) -> Result<()> {
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the platform process exited ({status}) before listening on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the platform process did not listen on {addr} within 10 s")
}

/// Runs the HTTP case: starts `exe platform`, pushes to it from this process (on a runtime
/// of its own), stops it.
pub fn run(exe: &Path, quick: bool) -> Result<HttpOutcome> {
    let rate = env_or("CHARGESTORM_BENCH_HTTP_RATE", RATE_PER_S);
    let workers = env_or("CHARGESTORM_BENCH_HTTP_WORKERS", WORKERS);
    let pipeline = env_or("CHARGESTORM_BENCH_HTTP_PIPELINE", PIPELINE);
    let runtime = operator_runtime(workers)?;
    let runtime = &runtime;
    let identities = (rate / PER_IDENTITY_PER_S).ceil().max(1.0) as usize;
    let addr = free_port()?;
    let platform_args: Vec<String> = [
        "platform",
        "--listen",
        &addr.to_string(),
        "--scenario",
        SCENARIO,
        "--seed",
        &SEED.to_string(),
        "--operators",
        &identities.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let load_before = loadavg();
    let mut child = Command::new(exe)
        .args(&platform_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {} platform", exe.display()))?;
    let pid = child.id();
    let result = wait_listening(addr, &mut child).and_then(|()| {
        let load = LoadSpec {
            rate,
            identities,
            quick,
            pipeline,
        };
        load_against(runtime, addr, &load, pid)
    });
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    Ok(HttpOutcome {
        load: result?,
        loadavg: (load_before, loadavg()),
        platform_args,
        workers,
        pipeline,
    })
}

/// The operator side's load.
struct LoadSpec {
    rate: f64,
    identities: usize,
    quick: bool,
    pipeline: usize,
}

fn load_against(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    load: &LoadSpec,
    platform_pid: u32,
) -> Result<PushLoadReport> {
    let LoadSpec {
        rate,
        identities,
        quick,
        pipeline,
    } = *load;
    let lib = profiles::Library::bundled().context("the bundled profiles are broken")?;
    let scenario = lib.load_scenario(SCENARIO)?;
    let spec = &scenario.scenario.http;
    let epoch = hil::http::WallClock::start().beijing_epoch();
    let (mut operator, _) =
        sim_core::fleet::http_configs(spec, SEED, epoch).map_err(anyhow::Error::msg)?;
    sim_core::tcec::demo::add_operator_identities(&mut operator, identities, SEED)?;
    let (warmup, measure) = if quick { (3, 10) } else { (5, 30) };
    let config = PushLoadConfig {
        platform_url: format!("http://{addr}"),
        operator,
        stations: 2_000,
        rate_per_s: rate,
        warmup: Duration::from_secs(warmup),
        measure: Duration::from_secs(measure),
        pipeline,
    };
    let probe = move || (own_cpu(), cpu_of(platform_pid));
    Ok(runtime.block_on(push_load(config, &probe))?)
}

/// The case as a Markdown section.
pub fn render(md: &mut String, o: &HttpOutcome) {
    let l = &o.load;
    let ms = |s: Option<sim_core::report::LatencySummary>| {
        s.map_or("–".into(), |s| {
            format!("{:.2} / {:.2} / {:.1} ms", s.p50, s.p99, s.max)
        })
    };
    let errors: u64 = l.errors.values().sum();
    md.push_str(
        "## HTTP: operator pushes to the reference platform in another process (loopback)\n\n\
         | Offered | Reached | Identities | Operator CPU per request | Platform CPU per request | \
         Latency from intended p50 / p99 / max | Service p50 / p99 / max | Generator lag p99 / max \
         | Failed | Errors | Load average before → after |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let done = (l.delivered + l.failed).max(1) as f64;
    let _ = writeln!(
        md,
        "| {:.0}/s | {:.0}/s{} | {} | {} | {} | {} | {} | {:.2} / {:.1} ms | {} | {errors} | {} → {} |",
        l.target_per_s,
        l.rate_per_s(),
        if l.fell_behind() {
            " (**generator fell behind**)"
        } else {
            ""
        },
        l.peers,
        l.cpu_per_request_us()
            .map_or("–".into(), |c| format!("{c:.1} µs")),
        l.platform_cpu_s
            .map_or("–".into(), |c| format!("{:.1} µs", c * 1e6 / done)),
        ms(l.corrected),
        ms(l.service),
        l.lag_p99_ms,
        l.lag_max_ms,
        l.failed,
        o.loadavg.0,
        o.loadavg.1,
    );
    let _ = writeln!(
        md,
        "\nWindow {:.1} s, {} delivered, {} pending at its end. Operator CPU is this process \
         over the window (the operator's machine, HTTP client, driver and generator) on {}, \
         {}; the platform runs as `chargestorm {}`.\n",
        l.wall_s,
        l.delivered,
        l.pending,
        if o.workers == 0 {
            "a current-thread tokio runtime".to_owned()
        } else {
            format!("a tokio runtime of {} worker threads", o.workers)
        },
        if o.pipeline == 0 {
            "one request at a time per connection (hyper)".to_owned()
        } else {
            format!("up to {} requests pipelined per connection", o.pipeline)
        },
        o.platform_args.join(" ")
    );
}
