//! Inline SVG charts: line charts with axes, ticks, labels and a legend, and a stacked
//! area chart. Output is plain SVG 1.1 text (well-formed XML), sized by a `viewBox` so it
//! scales in a browser and prints crisply.

use std::fmt::Write as _;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 48.0;

/// Line colors, in series order (readable on white and in grey print).
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Escapes `text` for XML/HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 text.
            c if c.is_control() && !matches!(c, '\n' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A number with at most three decimals and no trailing zeros.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// How the x axis is scaled and labelled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XAxis {
    /// Seconds of virtual time, labelled in s, min or h depending on the span.
    Time,
    /// `-log10(1 - q)` of a quantile, ticks at 0 %, 90 %, 99 %, 99.9 %, …
    LogQuantile,
}

/// One line of a chart; `None` points break the line (an interval without data).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// CSS color.
    pub color: &'static str,
    /// `(x, y)` points in data units, in x order.
    pub points: Vec<Option<(f64, f64)>>,
}

/// A line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title drawn above the plot (also the SVG's accessible name).
    pub title: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// X axis kind.
    pub x: XAxis,
    /// The lines.
    pub series: Vec<Series>,
}

/// "Nice" tick positions (1, 2, 5 × 10^k steps) covering `[lo, hi]`.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || target == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut i = 0.0;
    while first + i * step <= hi + step * 1e-9 && ticks.len() < 50 {
        ticks.push(first + i * step);
        i += 1.0;
    }
    ticks
}

/// The first "nice" tick at or above `max` (at least 1), so the top of the axis is labelled.
fn round_up(max: f64) -> f64 {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let ticks = nice_ticks(0.0, max, 5);
    let step = match ticks.as_slice() {
        [a, b, ..] => b - a,
        _ => max,
    };
    ((max / step - 1e-9).ceil() * step).max(step)
}

/// Maps data coordinates into the plot rectangle.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        let span = (self.x1 - self.x0).max(f64::MIN_POSITIVE);
        LEFT + (x - self.x0) / span * (WIDTH - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        let span = (self.y1 - self.y0).max(f64::MIN_POSITIVE);
        HEIGHT - BOTTOM - (y - self.y0) / span * (HEIGHT - TOP - BOTTOM)
    }
}

fn open_svg(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{t}\" \
         font-family=\"sans-serif\" font-size=\"11\" fill=\"#333333\">\
         <title>{t}</title>\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{t}</text>",
        t = esc(title)
    );
}

/// Time axis ticks and the unit they are labelled in.
fn time_ticks(x0: f64, x1: f64) -> (Vec<f64>, f64, &'static str) {
    let span = x1 - x0;
    let (div, unit) = if span > 3.0 * 3600.0 {
        (3600.0, "h")
    } else if span > 180.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    };
    let ticks = nice_ticks(x0 / div, x1 / div, 8)
        .into_iter()
        .map(|t| t * div)
        .collect();
    (ticks, div, unit)
}

/// Labels of the log-quantile axis: 0 → 0 %, 1 → 90 %, 2 → 99 %, 3 → 99.9 %, …
pub fn quantile_label(x: f64) -> String {
    let nines = if x.is_finite() && x > 0.0 {
        x.round() as usize
    } else {
        0
    };
    match nines {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        2 => "99%".to_owned(),
        n => format!("99.{}%", "9".repeat(n - 2)),
    }
}

fn draw_axes(out: &mut String, f: &Frame, x: XAxis, y_label: &str) {
    let (bottom, right) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
    for t in nice_ticks(f.y0, f.y1, 5) {
        let y = f.py(t);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{right}\" y2=\"{y:.1}\" stroke=\"#e8e8e8\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + 4.0,
            esc(&num(t))
        );
    }
    let (ticks, div, x_title) = match x {
        XAxis::Time => {
            let (ticks, div, unit) = time_ticks(f.x0, f.x1);
            (ticks, div, format!("time ({unit})"))
        }
        XAxis::LogQuantile => {
            let ticks = (0..=f.x1.round() as usize).map(|i| i as f64).collect();
            (ticks, 1.0, "percentile (log scale)".to_owned())
        }
    };
    for t in ticks {
        let px = f.px(t);
        let label = match x {
            XAxis::Time => num(t / div),
            XAxis::LogQuantile => quantile_label(t),
        };
        let _ = write!(
            out,
            "<line x1=\"{px:.1}\" y1=\"{bottom}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#999999\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 5.0,
            bottom + 18.0,
            esc(&label)
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#333333\"/>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#333333\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\
         <text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 {:.1})\">{}</text>",
        (LEFT + right) / 2.0,
        HEIGHT - 8.0,
        esc(&x_title),
        (TOP + bottom) / 2.0,
        (TOP + bottom) / 2.0,
        esc(y_label)
    );
}

fn draw_legend(out: &mut String, entries: &[(&str, &str)]) {
    let mut x = WIDTH - RIGHT;
    // Right-aligned: lay out from the last entry leftwards.
    for (name, color) in entries.iter().rev() {
        let w = 22.0 + 6.5 * name.chars().count() as f64;
        x -= w;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"26\" width=\"12\" height=\"8\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"34\" font-size=\"11\">{}</text>",
            x + 16.0,
            esc(name)
        );
    }
}

fn no_data(out: &mut String) {
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"16\" fill=\"#999999\">no data</text></svg>",
        WIDTH / 2.0,
        HEIGHT / 2.0
    );
}

/// Draws `chart` as an SVG element.
pub fn line_chart(chart: &LineChart) -> String {
    let mut out = String::new();
    open_svg(&mut out, &chart.title);
    let points = || chart.series.iter().flat_map(|s| s.points.iter().flatten());
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let xs = points().filter(finite).map(|p| p.0);
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !x0.is_finite() {
        no_data(&mut out);
        return out;
    }
    let y_max = points().filter(finite).map(|p| p.1).fold(0.0, f64::max);
    let (x0, x1) = match chart.x {
        XAxis::LogQuantile => (0.0, x1.ceil().max(1.0)),
        XAxis::Time if x1 > x0 => (x0, x1),
        XAxis::Time => (x0, x0 + 1.0),
    };
    let y1 = round_up(y_max);
    let frame = Frame {
        x0,
        x1,
        y0: 0.0,
        y1,
    };
    draw_axes(&mut out, &frame, chart.x, &chart.y_label);
    for s in &chart.series {
        for run in s.points.split(Option::is_none) {
            let d: Vec<String> = run
                .iter()
                .flatten()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .map(|&(x, y)| format!("{:.1},{:.1}", frame.px(x), frame.py(y)))
                .collect();
            match d.len() {
                0 => {}
                1 => {
                    let (x, y) = d[0].split_once(',').unwrap_or(("0", "0"));
                    let _ = write!(
                        out,
                        "<circle cx=\"{x}\" cy=\"{y}\" r=\"2\" fill=\"{}\"/>",
                        s.color
                    );
                }
                _ => {
                    let _ = write!(
                        out,
                        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>",
                        d.join(" "),
                        s.color
                    );
                }
            }
        }
    }
    let legend: Vec<(&str, &str)> = chart
        .series
        .iter()
        .map(|s| (s.name.as_str(), s.color))
        .collect();
    draw_legend(&mut out, &legend);
    out.push_str("</svg>");
    out
}

/// One layer of a stacked area chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Legend text.
    pub name: String,
    /// CSS color.
    pub color: &'static str,
    /// One value per `t`.
    pub values: Vec<f64>,
}

/// Draws layers stacked on top of each other over the time points `t` (seconds).
pub fn stacked_area(title: &str, y_label: &str, t: &[f64], layers: &[Layer]) -> String {
    let mut out = String::new();
    open_svg(&mut out, title);
    if t.is_empty() || layers.is_empty() {
        no_data(&mut out);
        return out;
    }
    let n = t.len();
    let value = |layer: &Layer, i: usize| {
        layer
            .values
            .get(i)
            .copied()
            .filter(|v| v.is_finite())
            .unwrap_or(0.0)
    };
    let mut base = vec![0.0; n];
    let mut tops = Vec::with_capacity(layers.len());
    for layer in layers {
        let top: Vec<f64> = (0..n).map(|i| base[i] + value(layer, i)).collect();
        tops.push((base.clone(), top.clone()));
        base = top;
    }
    let y_max = round_up(base.iter().copied().fold(0.0, f64::max));
    let x0 = t[0];
    let x1 = t[n - 1].max(x0 + 1.0);
    let frame = Frame {
        x0,
        x1,
        y0: 0.0,
        y1: y_max,
    };
    draw_axes(&mut out, &frame, XAxis::Time, y_label);
    for (layer, (lower, upper)) in layers.iter().zip(&tops) {
        let mut pts: Vec<String> = (0..n)
            .map(|i| format!("{:.1},{:.1}", frame.px(t[i]), frame.py(upper[i])))
            .collect();
        pts.extend(
            (0..n)
                .rev()
                .map(|i| format!("{:.1},{:.1}", frame.px(t[i]), frame.py(lower[i]))),
        );
        let _ = write!(
            out,
            "<polygon points=\"{}\" fill=\"{}\" fill-opacity=\"0.85\" stroke=\"none\"/>",
            pts.join(" "),
            layer.color
        );
    }
    let legend: Vec<(&str, &str)> = layers.iter().map(|l| (l.name.as_str(), l.color)).collect();
    draw_legend(&mut out, &legend);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(nice_ticks(0.0, 0.9, 3), vec![0.0, 0.5]);
        assert_eq!(nice_ticks(5.0, 5.0, 3), vec![5.0]);
    }

    #[test]
    fn the_axis_top_is_a_tick() {
        assert_eq!(round_up(315.0), 400.0);
        assert_eq!(round_up(300.0), 300.0);
        assert_eq!(round_up(0.0), 1.0);
        assert!((round_up(0.07) - 0.08).abs() < 1e-12);
    }

    #[test]
    fn quantile_labels_count_nines() {
        let labels: Vec<String> = (0..5).map(|i| quantile_label(f64::from(i))).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        );
        assert_eq!(esc("bell\u{7}"), "bell\u{fffd}");
        assert_eq!(num(1.5000), "1.5");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(2.0), "2");
    }

    #[test]
    fn gaps_split_lines_and_empty_charts_say_so() {
        let chart = LineChart {
            title: "t".into(),
            y_label: "ms".into(),
            x: XAxis::Time,
            series: vec![Series {
                name: "p50".into(),
                color: PALETTE[0],
                points: vec![Some((0.0, 1.0)), Some((1.0, 2.0)), None, Some((3.0, 1.0))],
            }],
        };
        let svg = line_chart(&chart);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
        let empty = line_chart(&LineChart {
            series: vec![],
            ..chart
        });
        assert!(empty.contains("no data") && empty.ends_with("</svg>"));
    }
}
