//! Verdicts for CI: JUnit XML (`--junit FILE`, one test case per assertion), seed sweeps
//! (`--seeds 1..50`: the scenario once per seed, which seeds fail and how to rerun each).
//!
//! The JUnit layout is the one CI systems read (Jenkins, GitLab, GitHub Actions reporters):
//! `<testsuites>` with one `<testsuite>` per run (scenario and seed), one `<testcase>` per
//! report assertion, and a `<failure>` carrying the assertion's detail for each failed one.
//! The seed, digest and rerun command are suite properties, so a red test names the command
//! that reproduces it.

use crate::cli::RunArgs;
use anyhow::{Context, Result, bail};
use sim_core::report::{Report, Verdict};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The most seeds one sweep runs.
const MAX_SEEDS: usize = 100_000;

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// One `<testsuite>` for a run's report.
fn suite(out: &mut String, r: &Report) {
    let failures = r.assertions.iter().filter(|a| !a.passed).count();
    let name = format!("{} (seed {})", r.scenario, r.seed);
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\">",
        escape(&name),
        r.assertions.len(),
        r.wall_s
    );
    out.push_str("    <properties>\n");
    for (key, value) in [
        ("seed", r.seed.to_string()),
        ("digest", r.digest.clone()),
        ("rerun", r.details.rerun.clone()),
        ("speed", r.details.speed.clone()),
        ("simulated_s", format!("{:.1}", r.simulated_s)),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{key}\" value=\"{}\"/>",
            escape(&value)
        );
    }
    out.push_str("    </properties>\n");
    let class = format!("chargestorm.{}", r.scenario.replace('/', "."));
    for a in &r.assertions {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            escape(&class),
            escape(&a.name)
        );
        if a.passed {
            out.push_str("/>\n");
            continue;
        }
        let body = format!(
            "{}\nseed {}; reproduce with: {}",
            a.detail, r.seed, r.details.rerun
        );
        let _ = writeln!(
            out,
            ">\n      <failure type=\"assertion\" message=\"{}\">{}</failure>\n    </testcase>",
            escape(&a.detail),
            escape(&body)
        );
    }
    out.push_str("  </testsuite>\n");
}

/// JUnit XML for one or more runs.
pub fn junit_xml(reports: &[Report]) -> String {
    let tests: usize = reports.iter().map(|r| r.assertions.len()).sum();
    let failures: usize = reports
        .iter()
        .map(|r| r.assertions.iter().filter(|a| !a.passed).count())
        .sum();
    let time: f64 = reports.iter().map(|r| r.wall_s).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"chargestorm\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">"
    );
    for r in reports {
        suite(&mut out, r);
    }
    out.push_str("</testsuites>\n");
    out
}

/// Writes [`junit_xml`] of `reports` to `path`.
pub fn write_junit(reports: &[Report], path: &Path) -> Result<()> {
    std::fs::write(path, junit_xml(reports))
        .with_context(|| format!("cannot write JUnit report {}", path.display()))
}

/// The run's CI outputs after its report is written: the JUnit file when `--junit` asks.
pub fn after_run(args: &RunArgs, report: &Report) -> Result<()> {
    match &args.junit {
        Some(path) => write_junit(std::slice::from_ref(report), path),
        None => Ok(()),
    }
}

/// Parses a seed list: `1..50` (inclusive), `1..=50`, `3,5,9`, or one seed.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>> {
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let b = b.strip_prefix('=').unwrap_or(b);
            let lo: u64 = a
                .trim()
                .parse()
                .with_context(|| format!("--seeds {part:?}: bad start"))?;
            let hi: u64 = b
                .trim()
                .parse()
                .with_context(|| format!("--seeds {part:?}: bad end"))?;
            if lo > hi {
                bail!("--seeds {part:?}: the start is after the end");
            }
            if hi - lo >= MAX_SEEDS as u64 {
                bail!("--seeds {part:?}: at most {MAX_SEEDS} seeds per sweep");
            }
            seeds.extend(lo..=hi);
        } else {
            seeds.push(
                part.parse()
                    .with_context(|| format!("--seeds {part:?} is not a seed"))?,
            );
        }
    }
    if seeds.is_empty() {
        bail!("--seeds {text:?} names no seed; write e.g. 1..50 or 3,5,9");
    }
    if seeds.len() > MAX_SEEDS {
        bail!("--seeds: at most {MAX_SEEDS} seeds per sweep");
    }
    Ok(seeds)
}

/// `report.json` → `report-seed-7.json`.
fn seed_path(path: &Path, seed: u64) -> PathBuf {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("chargestorm-report");
    let name = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("{stem}-seed-{seed}.{ext}"),
        None => format!("{stem}-seed-{seed}"),
    };
    path.with_file_name(name)
}

/// `--seeds`: runs the scenario once per seed (reports as `<report>-seed-N.json`), prints
/// which seeds fail with the command that reproduces each, writes one JUnit file for all
/// runs with `--junit`, and exits non-zero when any seed failed.
pub fn sweep(args: &RunArgs) -> Result<ExitCode> {
    let Some(text) = args.seeds.as_deref() else {
        return crate::run::run(args);
    };
    let seeds = parse_seeds(text)?;
    let mut reports = Vec::with_capacity(seeds.len());
    for &seed in &seeds {
        let mut one = args.clone();
        one.seed = Some(seed);
        one.seeds = None;
        one.junit = None;
        one.headless = true;
        one.report = seed_path(&args.report, seed);
        one.trace = args.trace.as_ref().map(|t| seed_path(t, seed));
        crate::run::run(&one)?;
        let json = std::fs::read_to_string(&one.report)
            .with_context(|| format!("cannot read back {}", one.report.display()))?;
        let report: Report = serde_json::from_str(&json)
            .with_context(|| format!("{} is not a report", one.report.display()))?;
        reports.push(report);
    }
    if let Some(path) = &args.junit {
        write_junit(&reports, path)?;
    }
    println!("{}", sweep_summary(&reports));
    if reports.iter().any(|r| r.verdict == Verdict::Fail) {
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Which seeds failed, each with its failed assertions and rerun command.
pub fn sweep_summary(reports: &[Report]) -> String {
    let failed: Vec<&Report> = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .collect();
    let mut out = format!(
        "sweep: {} seeds, {} passed, {} failed",
        reports.len(),
        reports.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        let seeds: Vec<String> = failed.iter().map(|r| r.seed.to_string()).collect();
        let _ = write!(out, "\nfailing seeds: {}", seeds.join(", "));
    }
    for r in failed {
        let names: Vec<&str> = r
            .assertions
            .iter()
            .filter(|a| !a.passed)
            .map(|a| a.name.as_str())
            .collect();
        let _ = write!(
            out,
            "\n  seed {} FAILED {}\n    rerun: {}",
            r.seed,
            names.join(", "),
            r.details.rerun
        );
    }
    out
}

#[cfg(test)]
mod tests;
