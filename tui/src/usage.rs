//! What a run cost: the generator's pacing lag and the process's CPU time and peak memory,
//! as recorded in the report's `details.pacing` and `details.process`.

use hil::pace::{PaceStats, Speed};
use sim_core::report::{PacingDetails, ProcessUsage};

/// A paced run whose scheduler lag p99 exceeds this is flagged: its sends left later
/// than intended by more than a backend's typical response time.
pub const LAG_P99_LIMIT_MS: f64 = 50.0;

/// The pacing of a run at a real-time or factor speed; `None` at `max`, where lag has no
/// meaning.
pub fn pacing(speed: Speed, stats: &PaceStats) -> Option<PacingDetails> {
    if matches!(speed, Speed::Max) || stats.lag_us.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Some(PacingDetails {
        lag_p50_ms: ms(stats.lag_us.value_at_quantile(0.5)),
        lag_p99_ms: ms(stats.lag_us.value_at_quantile(0.99)),
        lag_max_ms: ms(stats.lag_us.max()),
        overruns: stats.overruns,
        limit_p99_ms: LAG_P99_LIMIT_MS,
    })
}

/// This process's CPU time and peak resident memory from `/proc/self` (Linux); `None`
/// elsewhere or if `/proc` is unreadable.
pub fn process() -> Option<ProcessUsage> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse(&stat, &status)
}

/// Another process's CPU time and peak resident memory from `/proc/<pid>` (Linux), e.g.
/// a broker's before it is stopped; `None` if it is gone or `/proc` is unreadable.
pub fn process_of(pid: u32) -> Option<ProcessUsage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse(&stat, &status)
}

/// Linux reports CPU times in `/proc` in units of USER_HZ, which is 100 on every
/// architecture the kernel supports.
const USER_HZ: f64 = 100.0;

fn parse(stat: &str, status: &str) -> Option<ProcessUsage> {
    // The command name (field 2) may hold spaces and parentheses: fields after it start
    // behind the last ')'. utime and stime are fields 14 and 15, i.e. 12 and 13 after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let max_rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(ProcessUsage {
        cpu_user_s: utime / USER_HZ,
        cpu_system_s: stime / USER_HZ,
        max_rss_kib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files_with_a_tricky_command_name() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 \
                    100 1000000 300 18446744073709551615";
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    4096 kB\nVmRSS:\t 2048 kB\n";
        let usage = parse(stat, status).unwrap();
        assert_eq!(usage.cpu_user_s, 2.5);
        assert_eq!(usage.cpu_system_s, 0.75);
        assert_eq!(usage.max_rss_kib, 4096);
    }

    #[test]
    fn refuses_truncated_files() {
        assert!(parse("1 (x) S 1 2", "VmHWM: 1 kB").is_none());
        assert!(parse("1 (x) S 1 4242 4242 0 -1 1 1 0 0 0 250 75 0", "Name: x").is_none());
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        let usage = process().expect("/proc/self is readable on Linux");
        let by_pid = process_of(std::process::id()).expect("this process by its pid");
        assert!(by_pid.max_rss_kib >= usage.max_rss_kib);
        assert!(usage.max_rss_kib > 0);
    }

    #[test]
    fn lag_is_flagged_beyond_the_limit() {
        let mut stats = PaceStats {
            wall: std::time::Duration::from_secs(1),
            lag_us: sim_core::metrics::new_histogram(),
            overruns: 0,
            interrupted: false,
        };
        assert!(pacing(Speed::REALTIME, &stats).is_none(), "no samples");
        for _ in 0..98 {
            stats.lag_us.record(1_000).unwrap();
        }
        stats.lag_us.record(200_000).unwrap();
        stats.lag_us.record(200_000).unwrap();
        assert!(pacing(Speed::Max, &stats).is_none());
        let p = pacing(Speed::REALTIME, &stats).unwrap();
        assert!(!p.kept_up(), "{p:?}");
        assert!((p.lag_p50_ms - 1.0).abs() < 0.01);
    }
}
