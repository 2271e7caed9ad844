//! The `shards` case of `chargestorm bench` (`--only shards`): 100,000 MQTT chargers on
//! this machine. One process may hold 20,000 open files here, and so may one Mosquitto, so
//! the bundled scenario `mqtt-100k` runs as [`SHARDS`] shard processes (`chargestorm run
//! --shard K/N`), each against its own Mosquitto listener and with its own reference
//! backend, all at once in real time. The shard reports merge (their histograms, not
//! their percentiles) into the fleet's totals, and the brokers' CPU and peak memory are
//! read from `/proc/<pid>` before they stop.

use anyhow::{Context, Result};
use sim_core::report::Report;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sim_core::report::ProcessUsage;

/// The group name `--only` selects.
pub const GROUP: &str = "shards";

/// Shard processes (and Mosquitto listeners): 100,000 / 6 = 16,667 connections each.
pub const SHARDS: u32 = 6;

/// The scenario the shards split.
const SCENARIO: &str = "mqtt-100k";

/// What the shards case measured.
#[derive(Debug)]
pub struct ShardsOutcome {
    /// Each shard's report, in shard order.
    pub reports: Vec<Report>,
    /// The shard reports merged.
    pub merged: Report,
    /// Each broker's CPU and peak memory, in shard order (`None` if `/proc` was unreadable).
    pub brokers: Vec<Option<ProcessUsage>>,
    /// The simulated duration each shard ran.
    pub duration: &'static str,
    /// Whether a shard was stopped because it ran far behind real time.
    pub cut_short: bool,
    /// The first shard's command line (the others differ in `--shard` and `--broker`).
    pub args: Vec<String>,
}

/// A shard's child process and where its report goes.
struct ShardChild {
    child: Child,
    report: PathBuf,
    args: Vec<String>,
}

/// Runs the shards (2 minutes, or 90 s with `quick`: the 2,000/s ramp alone takes 50 s)
/// and collects their reports.
pub fn run(
    exe: &Path,
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
    quick: bool,
    mqtt_client: &str,
) -> Result<ShardsOutcome> {
    let duration = if quick { "90s" } else { "2m" };
    let brokers = (0..SHARDS)
        .map(|_| runtime.block_on(hil::mqtt::Mosquitto::start()))
        .collect::<Result<Vec<_>, _>>()
        .context("the shards case needs mosquitto (apt-get install -y mosquitto)")?;
    let mut children = Vec::new();
    for (k, broker) in brokers.iter().enumerate() {
        let report = dir.join(format!("shard-{k}.json"));
        let log = dir.join(format!("shard-{k}.log"));
        let args: Vec<String> = [
            "run",
            SCENARIO,
            "--headless",
            "--speed",
            "realtime",
            "--duration",
            duration,
            "--shard",
            &format!("{k}/{SHARDS}"),
            "--broker",
            &format!("mqtt://{}", broker.addr()),
            "--mqtt-client",
            mqtt_client,
            "--report",
            &report.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec();
        let stderr = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(exe)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        children.push(ShardChild {
            child,
            report,
            args,
        });
    }
    let simulated = profiles::HumanDuration::parse(duration)?.micros as f64 / 1e6;
    let cut_short = wait_all(
        &mut children,
        Duration::from_secs_f64(simulated * 2.0 + 120.0),
    )?;
    let usage: Vec<Option<ProcessUsage>> = brokers
        .iter()
        .map(|b| b.pid().and_then(crate::usage::process_of))
        .collect();
    drop(brokers);
    let mut reports = Vec::new();
    for c in &children {
        let text = std::fs::read_to_string(&c.report).with_context(|| {
            format!(
                "a shard wrote no report (its log is next to it); rerun: chargestorm {}",
                c.args.join(" ")
            )
        })?;
        reports.push(
            serde_json::from_str::<Report>(&text)
                .with_context(|| format!("cannot read {}", c.report.display()))?,
        );
    }
    let merged = sim_core::report::merge(&reports).context("the shard reports do not merge")?;
    Ok(ShardsOutcome {
        reports,
        merged,
        brokers: usage,
        duration,
        cut_short,
        args: children.first().map(|c| c.args.clone()).unwrap_or_default(),
    })
}

/// Waits for every child; one still running `limit` after the start is interrupted
/// (SIGINT: it still writes its report). Returns whether any was.
#[expect(
    clippy::disallowed_methods,
    reason = "the benchmark driver times its child processes on the wall clock"
)]
fn wait_all(children: &mut [ShardChild], limit: Duration) -> Result<bool> {
    let started = Instant::now();
    let mut cut_short = false;
    loop {
        let mut running = 0;
        for c in children.iter_mut() {
            if c.child.try_wait()?.is_none() {
                running += 1;
                if started.elapsed() > limit {
                    cut_short = true;
                    let _ = Command::new("kill")
                        .args(["-INT", &c.child.id().to_string()])
                        .status();
                }
            }
        }
        if running == 0 {
            return Ok(cut_short);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn verdict(r: &Report) -> &'static str {
    match r.verdict {
        sim_core::report::Verdict::Pass => "pass",
        sim_core::report::Verdict::Fail => "**fail**",
    }
}

/// Appends the shards' table and the fleet's totals to `md`.
pub fn render(md: &mut String, o: &ShardsOutcome) {
    let _ = writeln!(
        md,
        "## 100,000 MQTT chargers: {SHARDS} shard processes, one Mosquitto each\n\n\
         | shard | chargers | connected | CONNECT p50 / p99 ms | lag p99 ms | CPU s | peak RSS MiB | MQTT publishes | verdict |\n\
         |---|---|---|---|---|---|---|---|---|"
    );
    for (k, r) in o.reports.iter().enumerate() {
        let connect = super::latency(r, "CONNECT");
        let lag = r.details.pacing.as_ref().map_or(f64::NAN, |p| p.lag_p99_ms);
        let _ = writeln!(
            md,
            "| {k}/{SHARDS} | {} | {} | {:.1} / {:.1} | {lag:.1} | {:.1} | {} | {} | {} |",
            r.connectors.total,
            connect.map_or(0, |c| c.count),
            connect.map_or(f64::NAN, |c| c.p50),
            connect.map_or(f64::NAN, |c| c.p99),
            super::cpu_s(r),
            super::rss_kib(r) / 1024,
            super::mqtt_publishes(r).0,
            verdict(r),
        );
    }
    let m = &o.merged;
    let chargers = m.connectors.total.max(1) as f64;
    let rss_kib: u64 = o.reports.iter().map(super::rss_kib).sum();
    let cpu_s: f64 = o.reports.iter().map(super::cpu_s).sum();
    let broker_cpu_s: f64 = o
        .brokers
        .iter()
        .flatten()
        .map(|u| u.cpu_user_s + u.cpu_system_s)
        .sum();
    let broker_rss_kib: u64 = o.brokers.iter().flatten().map(|u| u.max_rss_kib).sum();
    let connect = super::latency(m, "CONNECT");
    let _ = writeln!(
        md,
        "\nMerged ({} simulated per shard{}): {} chargers, {} connections made, CONNECT \
         p50 / p99 {:.1} / {:.1} ms over the fleet, {} MQTT publishes, verdict {}. chargestorm \
         {cpu_s:.1} s CPU, {:.1} KiB peak RSS per charger; the {} Mosquitto processes {broker_cpu_s:.1} s \
         CPU, {} MiB ({:.1} KiB per connection).\n\nShard 0's command: `chargestorm {}`\n",
        o.duration,
        if o.cut_short {
            ", a shard stopped: far behind real time"
        } else {
            ""
        },
        m.connectors.total,
        connect.map_or(0, |c| c.count),
        connect.map_or(f64::NAN, |c| c.p50),
        connect.map_or(f64::NAN, |c| c.p99),
        super::mqtt_publishes(m).0,
        verdict(m),
        rss_kib as f64 / chargers,
        o.brokers.len(),
        broker_rss_kib / 1024,
        broker_rss_kib as f64 / chargers,
        o.args.join(" "),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_of_the_bundled_fleet_fits_one_process_and_one_broker() {
        let lib = profiles::Library::bundled().unwrap();
        let scenario = lib.load_scenario(SCENARIO).unwrap();
        let chargers: u64 = scenario
            .scenario
            .fleet
            .groups
            .iter()
            .map(|g| u64::from(g.count))
            .sum();
        assert_eq!(chargers, 100_000);
        // 20,000 open files per process here, a few hundred of them not sockets.
        assert!(chargers.div_ceil(u64::from(SHARDS)) <= 19_000);
    }

    fn report(chargers: u64, connect_ms: &[f64]) -> Report {
        let mut r: Report = serde_json::from_str(&format!(
            r#"{{"seed":1,"scenario":"mqtt-100k","simulated_s":60,"wall_s":60,
                "connectors":{{"total":{chargers},"dc":0,"ac":{chargers},"final_states":{{}}}},
                "sessions":{{"started":0,"completed":0,"failed":0}},
                "transactions":{{"started":0,"confirmed":0,"open":0,"lost":0,"lost_reasons":{{}}}},
                "energy_kwh":0,"messages":{{"mqtt":{{"U/M":7}}}},"latency_ms":{{}},"errors":{{}},
                "assertions":[],"digest":"","verdict":"pass"}}"#
        ))
        .unwrap();
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for ms in connect_ms {
            h.record((ms * 1000.0) as u64).unwrap();
        }
        r.latency_ms.insert(
            "mqtt.CONNECT".into(),
            sim_core::report::LatencySummary::from_histogram(&h),
        );
        r.details.latency_histograms.insert(
            "mqtt.CONNECT".into(),
            sim_core::report::encode_histogram(&h).unwrap(),
        );
        r
    }

    #[test]
    fn renders_a_row_per_shard_and_the_merged_fleet() {
        let reports = vec![report(3, &[1.0, 2.0, 3.0]), report(2, &[100.0, 200.0])];
        let merged = sim_core::report::merge(&reports).unwrap();
        let o = ShardsOutcome {
            reports,
            merged,
            brokers: vec![None, None],
            duration: "1m",
            cut_short: false,
            args: vec!["run".into(), SCENARIO.into()],
        };
        let mut md = String::new();
        render(&mut md, &o);
        assert!(md.contains("| 0/6 | 3 | 3 |"), "{md}");
        assert!(md.contains("| 1/6 | 2 | 2 |"), "{md}");
        assert!(md.contains("5 chargers, 5 connections made"), "{md}");
        assert!(md.contains("14 MQTT publishes"), "{md}");
    }
}
