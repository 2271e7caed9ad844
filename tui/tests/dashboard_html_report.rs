//! The HTML report: well-formed (checked by a strict XML parser written here), no external
//! resources, every text escaped, and a chart for every message type in the input.

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

use sim_core::metrics::Metrics;
use sim_core::report::{Assertion, ConnectorCounts, Report, ReportDetails, Verdict};
use sim_core::time::Instant;
use std::collections::BTreeMap;
use tui::html_report::{HtmlReportInput, Percentiles, ReportSeries, render};

/// One element of the parsed document.
#[derive(Debug, Clone)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    /// Names of the enclosing elements, outermost first.
    ancestors: Vec<String>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed document: its elements in document order and its decoded text.
#[derive(Debug, Default)]
struct Doc {
    elements: Vec<Element>,
    text: String,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')
}

/// Decodes the entities of `s`; only XML's predefined ones and numeric references pass.
fn decode(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find(';')
            .ok_or_else(|| format!("unterminated entity in {s:?}"))?;
        let entity = &rest[i + 1..i + end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad reference &{e};"))?,
            e if e.starts_with('#') => e[1..]
                .parse::<u32>()
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad reference &{e};"))?,
            e => return Err(format!("unknown entity &{e};")),
        };
        out.push(c);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_attrs(mut s: &str) -> Result<Vec<(String, String)>, String> {
    let mut attrs: Vec<(String, String)> = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Ok(attrs);
        }
        let name_len = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
        if name_len == 0 {
            return Err(format!("bad attribute at {s:?}"));
        }
        let name = &s[..name_len];
        s = s[name_len..]
            .strip_prefix("=\"")
            .ok_or_else(|| format!("attribute {name} is not name=\"value\""))?;
        let end = s
            .find('"')
            .ok_or_else(|| format!("unterminated value of {name}"))?;
        let raw = &s[..end];
        if raw.contains('<') {
            return Err(format!("'<' in the value of {name}"));
        }
        if attrs.iter().any(|(k, _)| k == name) {
            return Err(format!("duplicate attribute {name}"));
        }
        attrs.push((name.to_owned(), decode(raw)?));
        s = &s[end + 1..];
        if !s.is_empty() && !s.starts_with(char::is_whitespace) {
            return Err(format!("no space after attribute {name}"));
        }
    }
}

/// Parses `html` as strict XML (after an optional `<!DOCTYPE html>`): one root, every
/// element closed in order, quoted attributes, known entities only.
fn parse(html: &str) -> Result<Doc, String> {
    let mut rest = html
        .strip_prefix("<!DOCTYPE html>")
        .ok_or("no doctype")?
        .trim_start();
    let mut doc = Doc::default();
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        doc.text.push_str(&decode(text)?);
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .ok_or_else(|| format!("</{name}> closes nothing"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let (body, empty) = match tag.strip_suffix('/') {
            Some(b) => (b, true),
            None => (tag, false),
        };
        let name_len = body.find(|c: char| !is_name_char(c)).unwrap_or(body.len());
        let name = &body[..name_len];
        if name.is_empty() {
            return Err(format!("bad tag <{tag}>"));
        }
        if stack.is_empty() {
            roots += 1;
        }
        doc.elements.push(Element {
            name: name.to_owned(),
            attrs: parse_attrs(&body[name_len..])?,
            ancestors: stack.clone(),
        });
        if !empty {
            stack.push(name.to_owned());
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(doc)
}

fn percentiles(count: u64, p50: f64) -> Percentiles {
    Percentiles {
        count,
        p50,
        p90: 2.0 * p50,
        p99: 3.0 * p50,
        p999: 4.0 * p50,
        max: 5.0 * p50,
    }
}

const TYPES: [&str; 3] = [
    "mqtt.BootNotification",
    "mqtt.Meter<Values>&co",
    "http.notification_stationStatus",
];

/// A report filled from real metrics (so the HdrHistograms are serialized as in a run).
fn report() -> Report {
    let mut m = Metrics::new();
    for (k, name) in TYPES.iter().enumerate().take(2) {
        let id = m.latency_id(name);
        for i in 1..=2000u64 {
            let done = Instant::from_micros(i * (k as u64 + 1) * 150);
            m.record_latency(id, Instant::ZERO, Instant::ZERO, done);
        }
    }
    let msg = m.message_id("mqtt", "BootNotification");
    m.count_message(msg);
    let err = m.error_id("mqtt.timeout");
    m.count_error(
        err,
        Instant::from_secs(3),
        "no answer <from> \"backend\" & co",
    );
    let mut r = Report {
        seed: 42,
        scenario: "demo & <friends>".into(),
        simulated_s: 3600.0,
        wall_s: 61.5,
        connectors: ConnectorCounts {
            total: 10,
            dc: 6,
            ac: 4,
            final_states: BTreeMap::from([("idle".to_owned(), 10)]),
        },
        sessions: Default::default(),
        transactions: Default::default(),
        energy_kwh: 0.0,
        messages: BTreeMap::new(),
        latency_ms: BTreeMap::new(),
        errors: BTreeMap::new(),
        assertions: vec![Assertion {
            name: "physics.energy_conservation".into(),
            passed: false,
            detail: "1.2% > 0.5%".into(),
        }],
        digest: "abc123".into(),
        verdict: Verdict::Fail,
        details: ReportDetails::default(),
    };
    r.fill_from_metrics(&m);
    r
}

fn series() -> ReportSeries {
    let t_s: Vec<f64> = (1..=60).map(|i| f64::from(i) * 60.0).collect();
    let n = t_s.len();
    let latency = TYPES
        .iter()
        .map(|t| {
            let per: Vec<Percentiles> = (0..n)
                .map(|i| {
                    // Every tenth interval has no sample: the line must break there.
                    if i % 10 == 9 {
                        percentiles(0, 0.0)
                    } else {
                        percentiles(100, 5.0 + i as f64)
                    }
                })
                .collect();
            ((*t).to_owned(), per)
        })
        .collect();
    ReportSeries {
        interval_s: 60.0,
        states: (0..n as u64)
            .map(|i| [0, 10 - i % 10, i % 10, 0, 0, 0])
            .collect(),
        messages_per_s: BTreeMap::from([
            ("mqtt".to_owned(), vec![100.0; n]),
            ("http".to_owned(), vec![20.0; n]),
        ]),
        errors_per_s: (0..n).map(|i| (i % 3) as f64).collect(),
        latency,
        t_s,
    }
}

fn params() -> Vec<(String, String)> {
    vec![
        ("duration".to_owned(), "1h".to_owned()),
        ("note".to_owned(), "a \"quoted\" <value>".to_owned()),
    ]
}

#[test]
fn the_report_is_well_formed_and_self_contained() {
    let (mut r, s, p) = (report(), series(), params());
    r.details
        .injected_faults
        .push(sim_core::report::InjectedFault {
            at_s: 12.5,
            fault: "bms_timeout".into(),
            target: "connector <7>".into(),
            reached: 1,
        });
    let html = render(&HtmlReportInput {
        report: &r,
        series: &s,
        parameters: &p,
    });
    let doc = parse(&html).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    assert_eq!(doc.elements[0].name, "html");
    // Every <svg> closes: the parser checked nesting; the counts must agree too.
    let svgs = doc.elements.iter().filter(|e| e.name == "svg").count();
    assert_eq!(html.matches("<svg ").count(), svgs);
    assert_eq!(html.matches("</svg>").count(), svgs);
    // 3 types × 2 charts, throughput, errors, states.
    assert_eq!(svgs, 3 * 2 + 3);
    for e in &doc.elements {
        assert!(
            !matches!(
                e.name.as_str(),
                "script" | "link" | "img" | "iframe" | "object"
            ),
            "external or scripted element <{}>",
            e.name
        );
        for (k, v) in &e.attrs {
            assert!(!k.starts_with("on"), "event handler {k}");
            let link = matches!(k.as_str(), "href" | "src" | "xlink:href" | "action");
            assert!(!link || v.starts_with('#'), "reference {k}={v}");
            let url = v.contains("://") && !(k == "xmlns" && v == "http://www.w3.org/2000/svg");
            assert!(!url, "external reference {k}={v}");
        }
    }
    assert!(!html.contains("url("), "CSS must not load anything");
    // Text survived escaping exactly.
    assert!(doc.text.contains("chargestorm report: demo & <friends>"));
    assert!(doc.text.contains("a \"quoted\" <value>"));
    assert!(doc.text.contains("no answer <from> \"backend\" & co"));
    assert!(doc.text.contains("seed 42"));
    assert!(doc.text.contains("FAIL"));
    assert!(doc.text.contains("Injected faults"));
    assert!(doc.text.contains("connector <7>"));
}

#[test]
fn every_message_type_gets_its_charts() {
    let (r, s, p) = (report(), series(), params());
    let html = render(&HtmlReportInput {
        report: &r,
        series: &s,
        parameters: &p,
    });
    let doc = parse(&html).unwrap();
    for t in TYPES {
        let section = doc
            .elements
            .iter()
            .position(|e| e.name == "section" && e.attr("data-type") == Some(t))
            .unwrap_or_else(|| panic!("no section for {t}"));
        let depth = doc.elements[section].ancestors.len();
        let inside: Vec<&Element> = doc.elements[section + 1..]
            .iter()
            .take_while(|e| e.ancestors.len() > depth)
            .collect();
        let titles: Vec<&str> = inside
            .iter()
            .filter(|e| e.name == "svg")
            .filter_map(|e| e.attr("aria-label"))
            .collect();
        assert_eq!(
            titles,
            [
                format!("{t}: latency over time"),
                format!("{t}: percentile distribution")
            ],
            "{t}"
        );
        // Every type has latency over time; the HTTP type has no histogram or summary in
        // the report, so its distribution chart says "no data" instead of drawing.
        let lines = inside
            .iter()
            .filter(|e| e.name == "polyline" || e.name == "circle")
            .count();
        assert!(lines >= 4, "{t}: {lines} lines");
    }
}

#[test]
fn latency_lines_break_at_empty_intervals_and_histograms_feed_the_distribution() {
    let (r, s, p) = (report(), series(), params());
    let html = render(&HtmlReportInput {
        report: &r,
        series: &s,
        parameters: &p,
    });
    let doc = parse(&html).unwrap();
    let boot = doc
        .elements
        .iter()
        .position(|e| e.attr("data-type") == Some(TYPES[0]))
        .unwrap();
    let polylines: Vec<&Element> = doc.elements[boot..]
        .iter()
        .filter(|e| e.name == "polyline")
        .collect();
    // Over time: 4 percentile lines, each in 6 runs (60 intervals, a gap every tenth).
    for line in &polylines[..24] {
        let points = line.attr("points").unwrap().split(' ').count();
        assert_eq!(points, 9);
    }
    // The distribution follows the histogram: 2000 samples span 10^4 → 81 points on a
    // 0..4 log axis, rising to the maximum of 300 ms.
    let dist = polylines[24].attr("points").unwrap();
    assert_eq!(dist.split(' ').count(), 81);
    let labels: Vec<&str> = ["0%", "90%", "99%", "99.9%", "99.99%"].to_vec();
    for l in labels {
        assert!(html.contains(&format!(">{l}</text>")), "tick {l}");
    }
}

#[test]
fn an_empty_run_still_renders_a_valid_page() {
    let mut r = report();
    r.latency_ms.clear();
    r.details.latency_histograms.clear();
    r.errors.clear();
    let s = ReportSeries::default();
    let html = render(&HtmlReportInput {
        report: &r,
        series: &s,
        parameters: &[],
    });
    let doc = parse(&html).unwrap();
    assert!(
        doc.text
            .contains("No request/response pairs were measured.")
    );
    assert!(doc.text.contains("No errors."));
    assert_eq!(html.matches("no data").count(), 3);
}

#[test]
fn the_checker_rejects_broken_markup() {
    for bad in [
        "<!DOCTYPE html><html><p></html>",
        "<!DOCTYPE html><html><p a=b></p></html>",
        "<!DOCTYPE html><html>a & b</html>",
        "<!DOCTYPE html><html><svg></html></svg>",
        "<!DOCTYPE html><html></html><html></html>",
        "<!DOCTYPE html><html><p a=\"1\" a=\"2\"></p></html>",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad}");
    }
    assert!(parse("<!DOCTYPE html><html><p a=\"&lt;\">x &amp; y</p><br/></html>").is_ok());
}

/// A real run's `--report-html`: well-formed, and a latency-over-time chart and a
/// percentile-distribution chart for every message type the JSON report has.
#[test]
fn a_real_run_writes_a_chart_for_every_message_type_it_saw() {
    let dir = Scratch::new("chargestorm-html");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chargestorm"))
        .args([
            "run",
            "ci-smoke",
            "--headless",
            "--duration",
            "15m",
            "--report",
            "r.json",
            "--report-html",
            "r.html",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    let doc = parse(&html).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    assert!(report.latency_ms.keys().any(|k| k.starts_with("mqtt.")));
    assert!(report.latency_ms.keys().any(|k| k.starts_with("http.")));
    for t in report.latency_ms.keys() {
        let section = doc
            .elements
            .iter()
            .position(|e| e.name == "section" && e.attr("data-type") == Some(t.as_str()))
            .unwrap_or_else(|| panic!("no section for {t}"));
        let depth = doc.elements[section].ancestors.len();
        let titles: Vec<&str> = doc.elements[section + 1..]
            .iter()
            .take_while(|e| e.ancestors.len() > depth)
            .filter(|e| e.name == "svg")
            .filter_map(|e| e.attr("aria-label"))
            .collect();
        assert_eq!(
            titles,
            [
                format!("{t}: latency over time"),
                format!("{t}: percentile distribution")
            ]
        );
    }
    assert!(doc.text.contains(&format!("seed {}", report.seed)));
}
