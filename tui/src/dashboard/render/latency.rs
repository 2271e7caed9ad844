//! The latency view: percentiles per message type over the whole run and the last 10 s,
//! the selected type's latency over time, and its HdrHistogram percentile distribution.

use super::format::{fmt_count, fmt_hms, fmt_ms};
use super::{DIM_STYLE, HEADER_STYLE, SELECTED_STYLE};
use crate::dashboard::app::{App, View, filtered};
use crate::dashboard::model::{DashboardModel, LatencyRow, Percentiles};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Text};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Dataset, GraphType, Paragraph, Row, StatefulWidget, Table,
    TableState, Widget,
};

/// Quantile axis of the distribution chart: `-log10(1 - q)` from 0 (0 %) to 4 (99.99 %).
const DIST_X_MAX: f64 = 4.0;
const DIST_LABELS: [&str; 5] = ["0%", "90%", "99%", "99.9%", "99.99%"];

/// Draws the latency view into `area`.
pub fn render(app: &App, model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let rows: Vec<&LatencyRow> =
        filtered(&model.latency, &app.filters[View::Latency as usize], |r| {
            &r.name
        })
        .collect();
    if rows.is_empty() {
        let text = if model.latency.is_empty() {
            "no request/response pairs yet"
        } else {
            "no message type matches the filter"
        };
        Paragraph::new(Line::styled(text, DIM_STYLE))
            .block(Block::bordered().title(" Latency (ms) "))
            .render(area, buf);
        return;
    }
    let wanted = 3 + 2 * rows.len() as u16;
    let table_height = wanted.min(area.height.saturating_sub(8).max(area.height / 2));
    let [table_area, charts] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Fill(1)]).areas(area);
    let selected = app.selected[View::Latency as usize].min(rows.len() - 1);
    render_table(&rows, selected, table_area, buf);
    let [over_time, distribution] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    let row = rows[selected];
    render_over_time(row, over_time, buf);
    render_distribution(row, distribution, buf);
}

fn two_line<F: Fn(&Percentiles) -> String>(row: &LatencyRow, f: F) -> Cell<'static> {
    Cell::from(Text::from(vec![
        Line::from(f(&row.whole)).right_aligned(),
        Line::from(f(&row.last_10s)).right_aligned(),
    ]))
}

fn render_table(rows: &[&LatencyRow], selected: usize, area: Rect, buf: &mut Buffer) {
    let header = Row::new(
        ["type", "window", "n", "p50", "p90", "p99", "p99.9", "max"]
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                let line = Line::from(h);
                Cell::from(if i >= 2 { line.right_aligned() } else { line })
            }),
    )
    .style(HEADER_STYLE);
    let body = rows.iter().map(|r| {
        let name = Cell::from(Text::from(vec![Line::from(r.name.clone())]));
        let window = Cell::from(Text::from(vec![Line::from("all"), Line::from("10 s")]));
        Row::new(vec![
            name,
            window,
            two_line(r, |p| fmt_count(p.count)),
            two_line(r, |p| fmt_ms(p.p50)),
            two_line(r, |p| fmt_ms(p.p90)),
            two_line(r, |p| fmt_ms(p.p99)),
            two_line(r, |p| fmt_ms(p.p999)),
            two_line(r, |p| fmt_ms(p.max)),
        ])
        .height(2)
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::bordered().title(" Latency (ms, from the intended send time) "))
        .row_highlight_style(SELECTED_STYLE);
    let mut state = TableState::default().with_selected(Some(selected));
    StatefulWidget::render(table, area, buf, &mut state);
}

/// Axis bounds `[0, top]` and three labels for values up to `max`.
fn value_axis(max: f64) -> ([f64; 2], Vec<String>) {
    let top = if max.is_finite() && max > 0.0 {
        max * 1.1
    } else {
        1.0
    };
    (
        [0.0, top],
        vec!["0".to_owned(), fmt_ms(top / 2.0), fmt_ms(top)],
    )
}

fn render_over_time(row: &LatencyRow, area: Rect, buf: &mut Buffer) {
    let title = format!(" {} over time (ms) ", row.name);
    if row.over_time.is_empty() {
        Paragraph::new(Line::styled("no samples yet", DIM_STYLE))
            .block(Block::bordered().title(title))
            .render(area, buf);
        return;
    }
    let p50: Vec<(f64, f64)> = row.over_time.iter().map(|p| (p.0, p.1)).collect();
    let p99: Vec<(f64, f64)> = row.over_time.iter().map(|p| (p.0, p.2)).collect();
    let max: Vec<(f64, f64)> = row.over_time.iter().map(|p| (p.0, p.3)).collect();
    let t0 = row.over_time.first().map_or(0.0, |p| p.0);
    let t1 = row.over_time.last().map_or(1.0, |p| p.0).max(t0 + 1.0);
    let peak = row.over_time.iter().map(|p| p.3).fold(0.0, f64::max);
    let (y_bounds, y_labels) = value_axis(peak);
    let datasets = vec![
        line("p50", &p50, Color::Green),
        line("p99", &p99, Color::Yellow),
        line("max", &max, Color::Red),
    ];
    Chart::new(datasets)
        .block(Block::bordered().title(title))
        .x_axis(
            Axis::default()
                .bounds([t0, t1])
                .labels([fmt_hms(t0), fmt_hms((t0 + t1) / 2.0), fmt_hms(t1)])
                .style(DIM_STYLE),
        )
        .y_axis(
            Axis::default()
                .bounds(y_bounds)
                .labels(y_labels)
                .style(DIM_STYLE),
        )
        .render(area, buf);
}

fn line<'a>(name: &'a str, data: &'a [(f64, f64)], color: Color) -> Dataset<'a> {
    Dataset::default()
        .name(name)
        .data(data)
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(color))
}

/// Position of quantile `q` on the distribution chart's log axis.
pub(crate) fn quantile_x(q: f64) -> f64 {
    if !q.is_finite() || q <= 0.0 {
        return 0.0;
    }
    let tail = (1.0 - q).max(1e-9);
    (-tail.log10()).clamp(0.0, DIST_X_MAX)
}

fn render_distribution(row: &LatencyRow, area: Rect, buf: &mut Buffer) {
    let title = format!(" {} percentile distribution (ms) ", row.name);
    if row.distribution.is_empty() {
        Paragraph::new(Line::styled("no samples yet", DIM_STYLE))
            .block(Block::bordered().title(title))
            .render(area, buf);
        return;
    }
    let points: Vec<(f64, f64)> = row
        .distribution
        .iter()
        .map(|&(q, v)| (quantile_x(q), v))
        .collect();
    let peak = row.distribution.iter().map(|p| p.1).fold(0.0, f64::max);
    let (y_bounds, y_labels) = value_axis(peak);
    Chart::new(vec![
        Dataset::default()
            .data(&points)
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan)),
    ])
    .block(Block::bordered().title(title))
    .x_axis(
        Axis::default()
            .bounds([0.0, DIST_X_MAX])
            .labels(DIST_LABELS)
            .style(DIM_STYLE),
    )
    .y_axis(
        Axis::default()
            .bounds(y_bounds)
            .labels(y_labels)
            .style(DIM_STYLE),
    )
    .render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::quantile_x;

    #[test]
    fn quantiles_land_on_the_log_axis_ticks() {
        assert_eq!(quantile_x(0.0), 0.0);
        assert!((quantile_x(0.9) - 1.0).abs() < 1e-9);
        assert!((quantile_x(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(quantile_x(1.0), 4.0);
        assert_eq!(quantile_x(f64::NAN), 0.0);
    }
}
