//! Merging shard reports into the report of the whole fleet.
//!
//! A fleet split with `--shard K/N` runs chargers `i` with `i % N == K` in shard `K`, and
//! every connector behaves exactly as in the whole run. So the shards' counts, energy and
//! latency samples add up to the whole run's: the merge sums counters and merges the
//! serialized HdrHistograms sample for sample (percentiles are recomputed from the merged
//! histogram, never averaged). What does not add up is the trace digest: the whole run's
//! trace interleaves every connector's events in time order, which no shard has; the
//! merged report carries a digest of the shard digests instead (see [`merge_with`]).

use super::{
    Assertion, ConnectorCounts, GbtDetails, HistogramError, LatencySummary, Report, ReportDetails,
    Verdict, decode_histogram, encode_histogram,
};
use crate::metrics::{ErrorStat, SessionCounts, TransactionCounts};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Domain separation for the merged digest, so it can never equal a trace digest.
const DIGEST_CONTEXT: &str = "chargestorm report merge v1";

/// Largest difference in `simulated_s` between shards of one run (they end at the same
/// virtual instant; this only absorbs float formatting).
const SIMULATED_S_TOLERANCE: f64 = 1e-6;

/// One input of a merged report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardDigest {
    /// The shard, `K/N`, or `input I` when the input named no shard.
    pub shard: String,
    /// The shard's trace digest.
    pub digest: String,
    /// The shard's verdict.
    pub verdict: Verdict,
    /// Connectors the shard simulated.
    pub connectors: u64,
    /// Wall-clock seconds the shard took.
    pub wall_s: f64,
}

/// How strictly [`merge_with`] checks the set of shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeOptions {
    /// Merge even if some shards of `N` are missing (the totals then cover only the shards
    /// given). Duplicates and mismatched `N` are refused regardless.
    pub allow_partial: bool,
}

/// Why reports cannot be merged. `input` is the position in the list given to the merge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// No report was given.
    #[error("no reports to merge")]
    NoReports,
    /// The reports come from different scenarios.
    #[error("input {input} ran scenario {found:?}, input 0 ran {expected:?}")]
    ScenarioMismatch {
        /// The offending input.
        input: usize,
        /// Scenario of input 0.
        expected: String,
        /// Scenario of this input.
        found: String,
    },
    /// The reports come from different seeds.
    #[error("input {input} ran seed {found}, input 0 ran seed {expected}")]
    SeedMismatch {
        /// The offending input.
        input: usize,
        /// Seed of input 0.
        expected: u64,
        /// Seed of this input.
        found: u64,
    },
    /// The reports simulated different durations (an interrupted shard, or another run).
    #[error("input {input} simulated {found_s} s, input 0 simulated {expected_s} s")]
    DurationMismatch {
        /// The offending input.
        input: usize,
        /// Simulated seconds of input 0.
        expected_s: f64,
        /// Simulated seconds of this input.
        found_s: f64,
    },
    /// An input is itself a merged report.
    #[error("input {input} is already a merged report (of {shards} shards)")]
    AlreadyMerged {
        /// The offending input.
        input: usize,
        /// How many shards it merged.
        shards: usize,
    },
    /// An input's shard label is not `K/N` with `0 <= K < N`.
    #[error("input {input} has shard {label:?}, expected K/N with 0 <= K < N")]
    BadShardLabel {
        /// The offending input.
        input: usize,
        /// The label as found.
        label: String,
    },
    /// Some inputs name their shard and others do not.
    #[error("input {input} names no shard while others do")]
    UnlabelledShard {
        /// The input without a shard.
        input: usize,
    },
    /// Inputs were split into different numbers of shards.
    #[error("input {input} is a shard of {found}, input 0 of {expected}")]
    ShardCountMismatch {
        /// The offending input.
        input: usize,
        /// `N` of input 0.
        expected: u32,
        /// `N` of this input.
        found: u32,
    },
    /// Two inputs are the same shard.
    #[error("shard {shard} is given twice (inputs {first} and {second})")]
    DuplicateShard {
        /// The shard, `K/N`.
        shard: String,
        /// The first input holding it.
        first: usize,
        /// The second input holding it.
        second: usize,
    },
    /// Shards are missing and a partial merge was not allowed.
    #[error("shards {missing:?} of {count} are missing (allow a partial merge to proceed)")]
    MissingShards {
        /// The missing shard indices.
        missing: Vec<u32>,
        /// `N`.
        count: u32,
    },
    /// A serialized histogram could not be decoded.
    #[error("input {input}: latency histogram {series:?} is unreadable: {reason}")]
    Histogram {
        /// The offending input.
        input: usize,
        /// The latency series.
        series: String,
        /// What was wrong with it.
        #[source]
        reason: HistogramError,
    },
    /// A corrected-latency series has percentiles but no histogram to merge.
    #[error("input {input}: latency series {series:?} has no histogram to merge")]
    MissingHistogram {
        /// The offending input.
        input: usize,
        /// The latency series.
        series: String,
    },
    /// Two histograms could not be added.
    #[error("latency histogram {series:?} of input {input} cannot be added: {reason}")]
    HistogramAdd {
        /// The offending input.
        input: usize,
        /// The latency series.
        series: String,
        /// The library's reason.
        reason: String,
    },
}

/// One input with its position and shard label, in shard order.
struct Part<'a> {
    input: usize,
    label: String,
    report: &'a Report,
}

/// Merges shard reports with the default (strict) options; see [`merge_with`].
pub fn merge(reports: &[Report]) -> Result<Report, MergeError> {
    merge_with(reports, MergeOptions::default())
}

/// Merges the reports of the shards of one run into the report of the whole fleet.
///
/// All inputs must share scenario, seed and `simulated_s`; when they name their shard
/// (`details.shard`, or `--shard K/N` in `details.rerun`) they must be distinct shards of
/// one `N`, all of them unless `options.allow_partial`. Counts, energy and the details'
/// counters add up; `wall_s` is the slowest shard's; latency merges the histograms.
/// Uncorrected latency merges its histograms when every shard has them, otherwise its
/// percentiles are the maximum over the shards and the series is listed in
/// `details.latency_uncorrected_approximate`. Assertions are concatenated, each name
/// prefixed `shard K/N: `; the verdict fails if any shard failed.
///
/// The merged `digest` is BLAKE3 over the UTF-8 text `chargestorm report merge v1\n`
/// followed by one line `<label> <shard digest>\n` per shard in shard order (`K/N`
/// ascending by `K`, or input order when shards are unnamed), in lowercase hex. The shard
/// digests themselves are kept in `details.shards`. It equals no whole-run digest: it
/// identifies *this set of shards*, and two merges of the same shards agree.
pub fn merge_with(reports: &[Report], options: MergeOptions) -> Result<Report, MergeError> {
    let first = reports.first().ok_or(MergeError::NoReports)?;
    check_same_run(reports)?;
    let parts = shard_order(reports, options)?;
    let mut out = Report {
        seed: first.seed,
        scenario: first.scenario.clone(),
        simulated_s: first.simulated_s,
        wall_s: 0.0,
        connectors: ConnectorCounts::default(),
        sessions: SessionCounts::default(),
        transactions: TransactionCounts::default(),
        energy_kwh: 0.0,
        messages: BTreeMap::new(),
        latency_ms: BTreeMap::new(),
        errors: BTreeMap::new(),
        assertions: Vec::new(),
        digest: String::new(),
        verdict: Verdict::Pass,
        details: ReportDetails::default(),
    };
    for part in &parts {
        add_counts(&mut out, part);
    }
    merge_corrected_latency(&mut out, &parts)?;
    merge_uncorrected_latency(&mut out, &parts)?;
    out.details.rerun = merged_rerun(&first.details.rerun);
    out.details.speed = merged_speed(&parts);
    out.digest = shards_digest(&parts);
    out.details.shards = parts
        .iter()
        .map(|p| ShardDigest {
            shard: p.label.clone(),
            digest: p.report.digest.clone(),
            verdict: p.report.verdict,
            connectors: p.report.connectors.total,
            wall_s: p.report.wall_s,
        })
        .collect();
    out.decide();
    if parts.iter().any(|p| p.report.verdict == Verdict::Fail) {
        out.verdict = Verdict::Fail;
    }
    Ok(out)
}

/// Checks that every report comes from the same scenario, seed and duration, and that
/// none is itself a merge.
fn check_same_run(reports: &[Report]) -> Result<(), MergeError> {
    let Some(first) = reports.first() else {
        return Err(MergeError::NoReports);
    };
    for (input, r) in reports.iter().enumerate() {
        if !r.details.shards.is_empty() {
            return Err(MergeError::AlreadyMerged {
                input,
                shards: r.details.shards.len(),
            });
        }
        if r.scenario != first.scenario {
            return Err(MergeError::ScenarioMismatch {
                input,
                expected: first.scenario.clone(),
                found: r.scenario.clone(),
            });
        }
        if r.seed != first.seed {
            return Err(MergeError::SeedMismatch {
                input,
                expected: first.seed,
                found: r.seed,
            });
        }
        // A NaN difference is not within the tolerance, so a NaN duration is a mismatch.
        let within = (r.simulated_s - first.simulated_s).abs() <= SIMULATED_S_TOLERANCE;
        if !within {
            return Err(MergeError::DurationMismatch {
                input,
                expected_s: first.simulated_s,
                found_s: r.simulated_s,
            });
        }
    }
    Ok(())
}

/// The shard a report covered, from `details.shard` or else the `--shard K/N` of its
/// rerun command; `None` if it names none.
fn shard_label(r: &Report) -> Option<String> {
    if !r.details.shard.is_empty() {
        return Some(r.details.shard.trim().to_owned());
    }
    let mut words = r.details.rerun.split_whitespace();
    while let Some(word) = words.next() {
        if word == "--shard" {
            return words.next().map(str::to_owned);
        }
        if let Some(value) = word.strip_prefix("--shard=") {
            return Some(value.to_owned());
        }
    }
    None
}

/// Parses `K/N` with `0 <= K < N`.
fn parse_shard(label: &str) -> Option<(u32, u32)> {
    let (k, n) = label.split_once('/')?;
    let (k, n): (u32, u32) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
    (k < n).then_some((k, n))
}

/// Orders the inputs by shard index, checking the set of shards; inputs that name no
/// shard keep their order.
fn shard_order(reports: &[Report], options: MergeOptions) -> Result<Vec<Part<'_>>, MergeError> {
    let labels: Vec<Option<String>> = reports.iter().map(shard_label).collect();
    if labels.iter().all(Option::is_none) {
        return Ok(reports
            .iter()
            .enumerate()
            .map(|(input, report)| Part {
                input,
                label: format!("input {input}"),
                report,
            })
            .collect());
    }
    let mut by_index: BTreeMap<u32, usize> = BTreeMap::new();
    let mut count = None;
    for (input, label) in labels.iter().enumerate() {
        let label = label
            .as_deref()
            .ok_or(MergeError::UnlabelledShard { input })?;
        let (k, n) = parse_shard(label).ok_or_else(|| MergeError::BadShardLabel {
            input,
            label: label.to_owned(),
        })?;
        let expected = *count.get_or_insert(n);
        if n != expected {
            return Err(MergeError::ShardCountMismatch {
                input,
                expected,
                found: n,
            });
        }
        if let Some(&first) = by_index.get(&k) {
            return Err(MergeError::DuplicateShard {
                shard: format!("{k}/{n}"),
                first,
                second: input,
            });
        }
        by_index.insert(k, input);
    }
    let count = count.unwrap_or(1);
    let missing: Vec<u32> = (0..count).filter(|k| !by_index.contains_key(k)).collect();
    if !missing.is_empty() && !options.allow_partial {
        return Err(MergeError::MissingShards { missing, count });
    }
    Ok(by_index
        .into_iter()
        .filter_map(|(k, input)| {
            reports.get(input).map(|report| Part {
                input,
                label: format!("{k}/{count}"),
                report,
            })
        })
        .collect())
}

/// Adds one shard's counters, energy, errors and assertions to `out`.
fn add_counts(out: &mut Report, part: &Part<'_>) {
    let r = part.report;
    out.wall_s = out.wall_s.max(r.wall_s);
    let c = &mut out.connectors;
    c.total = c.total.saturating_add(r.connectors.total);
    c.dc = c.dc.saturating_add(r.connectors.dc);
    c.ac = c.ac.saturating_add(r.connectors.ac);
    add_map(&mut c.final_states, &r.connectors.final_states);
    let s = &mut out.sessions;
    s.started = s.started.saturating_add(r.sessions.started);
    s.completed = s.completed.saturating_add(r.sessions.completed);
    s.failed = s.failed.saturating_add(r.sessions.failed);
    let t = &mut out.transactions;
    t.started = t.started.saturating_add(r.transactions.started);
    t.confirmed = t.confirmed.saturating_add(r.transactions.confirmed);
    t.open = t.open.saturating_add(r.transactions.open);
    t.lost = t.lost.saturating_add(r.transactions.lost);
    add_map(&mut t.lost_reasons, &r.transactions.lost_reasons);
    out.energy_kwh += r.energy_kwh;
    for (protocol, names) in &r.messages {
        add_map(out.messages.entry(protocol.clone()).or_default(), names);
    }
    add_map(&mut out.errors, &r.errors);
    for (kind, stat) in &r.details.errors {
        merge_error_stat(out.details.errors.entry(kind.clone()).or_default(), stat);
    }
    let d = &mut out.details;
    d.trace_events = d.trace_events.saturating_add(r.details.trace_events);
    d.scheduler_events = d
        .scheduler_events
        .saturating_add(r.details.scheduler_events);
    d.late_sends = d.late_sends.saturating_add(r.details.late_sends);
    d.dropped_sends = d.dropped_sends.saturating_add(r.details.dropped_sends);
    if let Some(gbt) = &r.details.gbt {
        let into = d.gbt.get_or_insert_with(GbtDetails::default);
        into.sessions = into.sessions.saturating_add(gbt.sessions);
        into.cem_sent = into.cem_sent.saturating_add(gbt.cem_sent);
        into.bem_sent = into.bem_sent.saturating_add(gbt.bem_sent);
        add_map(&mut into.furthest_phase, &gbt.furthest_phase);
    }
    out.assertions
        .extend(r.assertions.iter().map(|a| Assertion {
            name: format!("shard {}: {}", part.label, a.name),
            passed: a.passed,
            detail: a.detail.clone(),
        }));
}

fn add_map(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (key, n) in from {
        let slot = into.entry(key.clone()).or_default();
        *slot = slot.saturating_add(*n);
    }
}

/// Count adds up; the first occurrence is the earliest, the last (and its text) the latest
/// (on a tie, the later shard's text wins, so the result does not depend on input order
/// beyond shard order).
fn merge_error_stat(into: &mut ErrorStat, from: &ErrorStat) {
    if from.count == 0 {
        return;
    }
    if into.count == 0 {
        *into = from.clone();
        return;
    }
    into.count = into.count.saturating_add(from.count);
    into.first_us = into.first_us.min(from.first_us);
    if from.last_us >= into.last_us {
        into.last_us = from.last_us;
        into.last_text.clone_from(&from.last_text);
    }
}

/// Decodes one shard's histogram of `series`.
fn decode(part: &Part<'_>, series: &str, text: &str) -> Result<Histogram<u64>, MergeError> {
    decode_histogram(text).map_err(|reason| MergeError::Histogram {
        input: part.input,
        series: series.to_owned(),
        reason,
    })
}

/// Adds `h` into the running merge of `series`.
fn accumulate(
    merged: &mut Option<Histogram<u64>>,
    h: Histogram<u64>,
    part: &Part<'_>,
    series: &str,
) -> Result<(), MergeError> {
    match merged {
        None => *merged = Some(h),
        Some(m) => m.add(&h).map_err(|e| MergeError::HistogramAdd {
            input: part.input,
            series: series.to_owned(),
            reason: format!("{e:?}"),
        })?,
    }
    Ok(())
}

/// Corrected latency: every series with samples must have its histogram in every shard
/// that saw it; the merged histogram gives the percentiles and is stored again.
fn merge_corrected_latency(out: &mut Report, parts: &[Part<'_>]) -> Result<(), MergeError> {
    let mut names: Vec<&String> = Vec::new();
    for part in parts {
        let d = &part.report.details;
        names.extend(
            part.report
                .latency_ms
                .keys()
                .chain(d.latency_histograms.keys()),
        );
    }
    names.sort();
    names.dedup();
    for series in names {
        let mut merged = None;
        for part in parts {
            let r = part.report;
            match r.details.latency_histograms.get(series) {
                Some(text) => accumulate(&mut merged, decode(part, series, text)?, part, series)?,
                None if r.latency_ms.get(series).is_some_and(|s| s.count > 0) => {
                    return Err(MergeError::MissingHistogram {
                        input: part.input,
                        series: series.clone(),
                    });
                }
                None => {}
            }
        }
        if let Some(h) = merged.filter(|h| !h.is_empty()) {
            out.latency_ms
                .insert(series.clone(), LatencySummary::from_histogram(&h));
            if let Some(text) = encode_histogram(&h) {
                out.details.latency_histograms.insert(series.clone(), text);
            }
        }
    }
    Ok(())
}

/// Uncorrected latency: exact where every shard with samples has a histogram, otherwise
/// the maximum of each percentile over the shards (an upper bound), marked approximate.
fn merge_uncorrected_latency(out: &mut Report, parts: &[Part<'_>]) -> Result<(), MergeError> {
    let mut names: Vec<&String> = Vec::new();
    for part in parts {
        let d = &part.report.details;
        names.extend(
            d.latency_uncorrected_ms
                .keys()
                .chain(d.latency_uncorrected_histograms.keys()),
        );
    }
    names.sort();
    names.dedup();
    for series in names {
        let exact = parts.iter().all(|p| {
            let d = &p.report.details;
            d.latency_uncorrected_histograms.contains_key(series)
                || d.latency_uncorrected_ms
                    .get(series)
                    .is_none_or(|s| s.count == 0)
        });
        let details = &mut out.details;
        if exact {
            let mut merged = None;
            for part in parts {
                if let Some(text) = part
                    .report
                    .details
                    .latency_uncorrected_histograms
                    .get(series)
                {
                    accumulate(&mut merged, decode(part, series, text)?, part, series)?;
                }
            }
            if let Some(h) = merged.filter(|h| !h.is_empty()) {
                let summary = LatencySummary::from_histogram(&h);
                details
                    .latency_uncorrected_ms
                    .insert(series.clone(), summary);
                if let Some(text) = encode_histogram(&h) {
                    details
                        .latency_uncorrected_histograms
                        .insert(series.clone(), text);
                }
            }
        } else {
            let summaries = parts
                .iter()
                .filter_map(|p| p.report.details.latency_uncorrected_ms.get(series));
            details
                .latency_uncorrected_ms
                .insert(series.clone(), max_of_percentiles(summaries));
            details.latency_uncorrected_approximate.push(series.clone());
        }
    }
    Ok(())
}

/// Counts add up; each percentile is the largest of the shards' (an upper bound on the
/// merged percentile, since a quantile of a union never exceeds the largest part's).
fn max_of_percentiles<'a>(summaries: impl Iterator<Item = &'a LatencySummary>) -> LatencySummary {
    let mut out = LatencySummary {
        count: 0,
        p50: 0.0,
        p90: 0.0,
        p99: 0.0,
        p999: 0.0,
        max: 0.0,
    };
    for s in summaries {
        out.count = out.count.saturating_add(s.count);
        out.p50 = out.p50.max(s.p50);
        out.p90 = out.p90.max(s.p90);
        out.p99 = out.p99.max(s.p99);
        out.p999 = out.p999.max(s.p999);
        out.max = out.max.max(s.max);
    }
    out
}

/// The first shard's rerun command without its `--shard K/N`: the whole run, which
/// behaves the same per connector as the shards together.
fn merged_rerun(rerun: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut words = rerun.split_whitespace();
    while let Some(word) = words.next() {
        if word == "--shard" {
            let _ = words.next();
        } else if !word.starts_with("--shard=") {
            out.push(word);
        }
    }
    out.join(" ")
}

/// The shards' common speed, or their distinct speeds joined by commas.
fn merged_speed(parts: &[Part<'_>]) -> String {
    let mut speeds: Vec<&str> = Vec::new();
    for p in parts {
        let s = p.report.details.speed.as_str();
        if !s.is_empty() && !speeds.contains(&s) {
            speeds.push(s);
        }
    }
    speeds.join(",")
}

/// The digest of the shard digests; see [`merge_with`].
fn shards_digest(parts: &[Part<'_>]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(DIGEST_CONTEXT.as_bytes());
    hasher.update(b"\n");
    for p in parts {
        hasher.update(p.label.as_bytes());
        hasher.update(b" ");
        hasher.update(p.report.digest.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests;
