//! `--report-html`: the run report as one self-contained HTML page.
//!
//! Everything is inline: CSS in a `<style>` element and charts as inline SVG, so the file
//! opens offline, needs no JavaScript, and prints. The page is well-formed XML (every
//! element closed, every attribute quoted, all text escaped), so it can also be checked
//! or post-processed by XML tools.
//!
//! What it shows: the run's parameters and seed, totals and assertions, for every message
//! type its latency percentiles over time and its HdrHistogram percentile distribution
//! (log-scaled quantile axis, from the histogram serialized in the JSON report when there
//! is one), throughput and errors over time, and connector states over time.

mod series;
mod svg;

pub use series::{SeriesRecorder, interval_percentiles, series_from_samples};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use sim_core::report::{LatencySummary, Report, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use svg::{Layer, LineChart, PALETTE, Series, XAxis, esc, num};

/// Latency percentiles in milliseconds (the report's own type).
pub type Percentiles = LatencySummary;

/// Time series sampled during the run, one value per interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportSeries {
    /// Length of one interval, s.
    pub interval_s: f64,
    /// Virtual time of each interval (its end), s.
    pub t_s: Vec<f64>,
    /// Connectors by state per interval (offline, idle, plugged, charging, finishing,
    /// faulted).
    pub states: Vec<[u64; 6]>,
    /// Messages per second by protocol (`mqtt`, `http`, `can`), per interval.
    pub messages_per_s: BTreeMap<String, Vec<f64>>,
    /// Errors per second (all kinds), per interval.
    pub errors_per_s: Vec<f64>,
    /// Latency percentiles by message type, per interval (`count == 0`: no sample).
    pub latency: BTreeMap<String, Vec<Percentiles>>,
}

/// What the page is made of.
#[derive(Debug, Clone, Copy)]
pub struct HtmlReportInput<'a> {
    /// The final JSON report.
    pub report: &'a Report,
    /// Time series sampled during the run.
    pub series: &'a ReportSeries,
    /// Run parameters to list (name, value), e.g. scenario file, duration, speed.
    pub parameters: &'a [(String, String)],
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;\
margin:2em auto;max-width:60em;padding:0 1em;color:#222}\
h1{font-size:1.6em;margin-bottom:0.2em}h2{border-bottom:1px solid #ccc;margin-top:2em}\
table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;\
text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.pass{color:#fff;background:#2ca02c;padding:2px 8px;border-radius:4px}\
.fail{color:#fff;background:#d62728;padding:2px 8px;border-radius:4px}\
figure{margin:1em 0;page-break-inside:avoid;break-inside:avoid}\
svg{max-width:100%;height:auto;border:1px solid #eee}\
code{font-size:0.9em}@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}}";

/// Renders the whole page.
pub fn render(input: &HtmlReportInput) -> String {
    let r = input.report;
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("chargestorm report: {} (seed {})", r.scenario, r.seed);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>{}</title><style>{STYLE}</style></head><body>",
        esc(&title)
    );
    render_header(&mut out, r);
    render_parameters(&mut out, input);
    render_summary(&mut out, r);
    render_faults(&mut out, r);
    render_latency(&mut out, input);
    render_throughput(&mut out, input.series);
    render_errors(&mut out, input);
    render_states(&mut out, input.series);
    out.push_str("</body></html>\n");
    out
}

fn render_header(out: &mut String, r: &Report) {
    let (class, verdict) = match r.verdict {
        Verdict::Pass => ("pass", "PASS"),
        Verdict::Fail => ("fail", "FAIL"),
    };
    let _ = write!(
        out,
        "<h1>chargestorm report: {}</h1><p><span class=\"{class}\">{verdict}</span> \
         seed <code>{}</code>, {} s simulated in {} s wall clock.</p>",
        esc(&r.scenario),
        r.seed,
        num(r.simulated_s),
        num(r.wall_s)
    );
}

fn table_open(out: &mut String, headers: &[&str]) {
    out.push_str("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
}

fn table_close(out: &mut String) {
    out.push_str("</tbody></table>");
}

fn kv_row(out: &mut String, k: &str, v: &str) {
    let _ = write!(
        out,
        "<tr><th>{}</th><td><code>{}</code></td></tr>",
        esc(k),
        esc(v)
    );
}

fn render_parameters(out: &mut String, input: &HtmlReportInput) {
    let r = input.report;
    out.push_str("<h2>Parameters</h2><table><tbody>");
    kv_row(out, "scenario", &r.scenario);
    kv_row(out, "seed", &r.seed.to_string());
    if !r.details.speed.is_empty() {
        kv_row(out, "speed", &r.details.speed);
    }
    for (k, v) in input.parameters {
        kv_row(out, k, v);
    }
    if input.series.interval_s > 0.0 {
        kv_row(
            out,
            "chart interval",
            &format!("{} s", num(input.series.interval_s)),
        );
    }
    if !r.details.rerun.is_empty() {
        kv_row(out, "rerun", &r.details.rerun);
    }
    kv_row(out, "trace digest", &r.digest);
    table_close(out);
}

/// The faults injected during the run (from the dashboard), if any.
fn render_faults(out: &mut String, r: &Report) {
    let faults = &r.details.injected_faults;
    if faults.is_empty() {
        return;
    }
    out.push_str("<h2>Injected faults</h2>");
    table_open(out, &["time (s)", "fault", "target", "reached"]);
    for f in faults {
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            num(f.at_s),
            esc(&f.fault),
            esc(&f.target),
            f.reached
        );
    }
    table_close(out);
}

fn render_summary(out: &mut String, r: &Report) {
    out.push_str("<h2>Summary</h2><table><tbody>");
    let c = &r.connectors;
    let states: Vec<String> = c
        .final_states
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let rows = [
        (
            "connectors",
            format!("{} ({} DC, {} AC)", c.total, c.dc, c.ac),
        ),
        ("final states", states.join(", ")),
        (
            "sessions",
            format!(
                "{} started, {} completed, {} failed",
                r.sessions.started, r.sessions.completed, r.sessions.failed
            ),
        ),
        (
            "transactions",
            format!(
                "{} started, {} confirmed, {} open, {} lost",
                r.transactions.started,
                r.transactions.confirmed,
                r.transactions.open,
                r.transactions.lost
            ),
        ),
        ("energy", format!("{} kWh", num(r.energy_kwh))),
    ];
    for (k, v) in &rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    for (protocol, by_type) in &r.messages {
        let total: u64 = by_type.values().sum();
        let _ = write!(
            out,
            "<tr><th>{} messages</th><td>{total} in {} types</td></tr>",
            esc(protocol),
            by_type.len()
        );
    }
    table_close(out);
    if !r.assertions.is_empty() {
        out.push_str("<h3>Assertions</h3>");
        table_open(out, &["", "assertion", "detail"]);
        for a in &r.assertions {
            let (class, text) = if a.passed {
                ("pass", "pass")
            } else {
                ("fail", "FAIL")
            };
            let _ = write!(
                out,
                "<tr><td><span class=\"{class}\">{text}</span></td><td>{}</td><td>{}</td></tr>",
                esc(&a.name),
                esc(&a.detail)
            );
        }
        table_close(out);
    }
}

/// Every message type with latency, from the report and the series.
fn message_types(input: &HtmlReportInput) -> Vec<String> {
    let names: BTreeSet<&String> = input
        .report
        .latency_ms
        .keys()
        .chain(input.series.latency.keys())
        .collect();
    names.into_iter().cloned().collect()
}

fn render_latency(out: &mut String, input: &HtmlReportInput) {
    let types = message_types(input);
    out.push_str(
        "<h2>Latency</h2><p>Measured from the intended send time (corrected for \
         coordinated omission), in milliseconds.</p>",
    );
    if types.is_empty() {
        out.push_str("<p>No request/response pairs were measured.</p>");
        return;
    }
    table_open(
        out,
        &["message type", "count", "p50", "p90", "p99", "p99.9", "max"],
    );
    for name in &types {
        if let Some(s) = input.report.latency_ms.get(name) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td>",
                esc(name),
                s.count
            );
            for v in [s.p50, s.p90, s.p99, s.p999, s.max] {
                let _ = write!(out, "<td class=\"n\">{}</td>", num(v));
            }
            out.push_str("</tr>");
        }
    }
    table_close(out);
    for (i, name) in types.iter().enumerate() {
        let _ = write!(
            out,
            "<section class=\"message-type\" id=\"latency-{i}\" data-type=\"{n}\"><h3>{n}</h3>",
            n = esc(name)
        );
        figure(out, &latency_over_time(name, input.series));
        figure(out, &distribution_chart(name, input.report));
        out.push_str("</section>");
    }
}

fn figure(out: &mut String, svg: &str) {
    out.push_str("<figure>");
    out.push_str(svg);
    out.push_str("</figure>");
}

fn latency_over_time(name: &str, series: &ReportSeries) -> String {
    let per_interval = series.latency.get(name).map_or(&[][..], Vec::as_slice);
    let line = |label: &str, color, pick: fn(&Percentiles) -> f64| Series {
        name: label.to_owned(),
        color,
        points: series
            .t_s
            .iter()
            .zip(per_interval)
            .map(|(&t, p)| (p.count > 0).then(|| (t, pick(p))))
            .collect(),
    };
    svg::line_chart(&LineChart {
        title: format!("{name}: latency over time"),
        y_label: "latency (ms)".to_owned(),
        x: XAxis::Time,
        series: vec![
            line("p50", PALETTE[2], |p| p.p50),
            line("p90", PALETTE[0], |p| p.p90),
            line("p99", PALETTE[3], |p| p.p99),
            line("max", PALETTE[1], |p| p.max),
        ],
    })
}

/// `(x, ms)` points of the percentile distribution: from the serialized HdrHistogram if
/// the report has it, else from the summary's percentiles.
fn distribution_points(name: &str, report: &Report) -> Vec<Option<(f64, f64)>> {
    if let Some(h) = report
        .details
        .latency_histograms
        .get(name)
        .and_then(|b64| decode_histogram(b64))
        .filter(|h| !h.is_empty())
    {
        // Beyond 1/n the quantiles are all the maximum: stop the axis there.
        let x_max = (h.len() as f64).log10().ceil().clamp(1.0, 5.0);
        let steps = (x_max * 20.0) as u32;
        return (0..=steps)
            .map(|i| {
                let x = f64::from(i) / 20.0;
                let q = if i == steps {
                    1.0
                } else {
                    1.0 - 10f64.powf(-x)
                };
                Some((x, h.value_at_quantile(q) as f64 / 1000.0))
            })
            .collect();
    }
    let Some(s) = report.latency_ms.get(name) else {
        return Vec::new();
    };
    [
        (0.0, 0.0),
        (0.5, s.p50),
        (0.9, s.p90),
        (0.99, s.p99),
        (0.999, s.p999),
    ]
    .iter()
    .map(|&(q, v)| Some((-(1.0f64 - q).log10(), v)))
    .chain(std::iter::once(Some((4.0, s.max))))
    .filter(|p| p.is_some_and(|(_, v)| v > 0.0))
    .collect()
}

fn decode_histogram(b64: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .ok()
}

fn distribution_chart(name: &str, report: &Report) -> String {
    svg::line_chart(&LineChart {
        title: format!("{name}: percentile distribution"),
        y_label: "latency (ms)".to_owned(),
        x: XAxis::LogQuantile,
        series: vec![Series {
            name: "latency".to_owned(),
            color: PALETTE[0],
            points: distribution_points(name, report),
        }],
    })
}

fn render_throughput(out: &mut String, series: &ReportSeries) {
    out.push_str("<h2>Throughput</h2>");
    let lines = series
        .messages_per_s
        .iter()
        .enumerate()
        .map(|(i, (protocol, values))| Series {
            name: protocol.clone(),
            color: PALETTE[i % PALETTE.len()],
            points: series
                .t_s
                .iter()
                .zip(values)
                .map(|(&t, &v)| Some((t, v)))
                .collect(),
        })
        .collect();
    figure(
        out,
        &svg::line_chart(&LineChart {
            title: "messages per second by protocol".to_owned(),
            y_label: "messages/s".to_owned(),
            x: XAxis::Time,
            series: lines,
        }),
    );
}

fn render_errors(out: &mut String, input: &HtmlReportInput) {
    let series = input.series;
    out.push_str("<h2>Errors</h2>");
    figure(
        out,
        &svg::line_chart(&LineChart {
            title: "errors per second".to_owned(),
            y_label: "errors/s".to_owned(),
            x: XAxis::Time,
            series: vec![Series {
                name: "all kinds".to_owned(),
                color: PALETTE[1],
                points: series
                    .t_s
                    .iter()
                    .zip(&series.errors_per_s)
                    .map(|(&t, &v)| Some((t, v)))
                    .collect(),
            }],
        }),
    );
    let r = input.report;
    if r.errors.is_empty() {
        out.push_str("<p>No errors.</p>");
        return;
    }
    table_open(
        out,
        &["kind", "count", "first (s)", "last (s)", "last message"],
    );
    for (kind, count) in &r.errors {
        let d = r.details.errors.get(kind);
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{count}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td></tr>",
            esc(kind),
            d.map_or_else(String::new, |d| num(d.first_us as f64 / 1e6)),
            d.map_or_else(String::new, |d| num(d.last_us as f64 / 1e6)),
            esc(d.map_or("", |d| d.last_text.as_str()))
        );
    }
    table_close(out);
}

/// Colors of the connector states, in state order.
const STATE_COLORS: [&str; 6] = [
    "#7f7f7f", "#c7c7c7", "#ffbb33", "#2ca02c", "#17becf", "#d62728",
];
const STATE_NAMES: [&str; 6] = [
    "offline",
    "idle",
    "plugged",
    "charging",
    "finishing",
    "faulted",
];

fn render_states(out: &mut String, series: &ReportSeries) {
    out.push_str("<h2>Connector states</h2>");
    let n = series.t_s.len().min(series.states.len());
    let layers: Vec<Layer> = (0..6)
        .map(|k| Layer {
            name: STATE_NAMES[k].to_owned(),
            color: STATE_COLORS[k],
            values: series.states[..n].iter().map(|s| s[k] as f64).collect(),
        })
        .collect();
    figure(
        out,
        &svg::stacked_area(
            "connectors by state",
            "connectors",
            &series.t_s[..n],
            &layers,
        ),
    );
}
