//! The connector list (sorted, filtered, windowed by the simulation side) and the detail
//! of one connector: live physics, GB/T 27930 phase, CAN frames, messages, transaction.

use super::format::{fmt_opt, truncate};
use super::{DIM_STYLE, HEADER_STYLE, SELECTED_STYLE, STATE_COLORS, panel};
use crate::dashboard::app::{App, View};
use crate::dashboard::model::{ConnectorDetail, ConnectorRow, DashboardModel, SortColumn};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

/// Rows of the list that fit in a view body of this size (borders and header excluded).
pub fn list_rows(body: Rect) -> usize {
    body.height.saturating_sub(3) as usize
}

const WIDTHS: [Constraint; 10] = [
    Constraint::Length(7),
    Constraint::Fill(1),
    Constraint::Length(4),
    Constraint::Length(9),
    Constraint::Length(7),
    Constraint::Length(5),
    Constraint::Length(6),
    Constraint::Length(6),
    Constraint::Length(7),
    Constraint::Length(5),
];

/// Draws the connector list into `area`.
pub fn render_list(app: &App, model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let rows = list_rows(area);
    let first = app.scroll_top;
    let last = (first + rows).min(model.connectors_total);
    let filter = app.filters[View::Connectors as usize].as_str();
    let mut title = format!(
        " Connectors {}-{} of {}  sort {} {} ",
        if last == 0 { 0 } else { first + 1 },
        last,
        model.connectors_total,
        app.sort.label(),
        if app.descending { "desc" } else { "asc" }
    );
    if !filter.is_empty() {
        title.push_str(&format!(" filter \"{filter}\" "));
    }
    let header = Row::new(SortColumn::ALL.iter().map(|c| {
        let mark = match (*c == app.sort, app.descending) {
            (false, _) => "",
            (true, false) => "▲",
            (true, true) => "▼",
        };
        let text = format!("{}{mark}", c.label());
        if matches!(
            c,
            SortColumn::Id | SortColumn::Charger | SortColumn::Kind | SortColumn::State
        ) {
            Line::from(text)
        } else {
            Line::from(text).right_aligned()
        }
    }))
    .style(HEADER_STYLE);
    let cursor = app.selected[View::Connectors as usize];
    let body = (first..last).map(|i| match model.connector_at(i) {
        Some(r) => {
            let row = connector_row(r);
            if i == cursor {
                row.style(SELECTED_STYLE)
            } else {
                row
            }
        }
        // The simulation answers a new window one frame later.
        None => Row::new(["…"]).style(DIM_STYLE),
    });
    let block = Block::bordered().title(title);
    if model.connectors_total == 0 {
        let text = if filter.is_empty() {
            "no connectors"
        } else {
            "no connector matches the filter"
        };
        Paragraph::new(Line::styled(text, DIM_STYLE))
            .block(block)
            .render(area, buf);
        return;
    }
    Table::new(body, WIDTHS)
        .header(header)
        .block(block)
        .render(area, buf);
}

fn connector_row(r: &ConnectorRow) -> Row<'static> {
    let state_color = STATE_COLORS[r.state as usize];
    Row::new(vec![
        Line::from(format!("C{}", r.id)),
        Line::from(r.charger_serial.clone()),
        Line::from(r.kind.label()),
        Line::styled(r.state.name(), Style::new().fg(state_color)),
        Line::from(format!("{:.1}", r.power_kw)).right_aligned(),
        Line::from(fmt_opt(r.soc_pct, 0)).right_aligned(),
        Line::from(format!("{:.0}", r.voltage_v)).right_aligned(),
        Line::from(format!("{:.1}", r.current_a)).right_aligned(),
        Line::from(format!("{:.2}", r.energy_kwh)).right_aligned(),
        Line::from(r.session.map_or_else(|| "-".to_owned(), |s| s.to_string())).right_aligned(),
    ])
}

/// Draws the detail of the connector the user entered into `area`.
pub fn render_detail(app: &App, model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let Some(id) = app.detail else {
        return;
    };
    let Some(d) = model.detail.as_ref().filter(|d| d.id == id) else {
        Paragraph::new(Line::styled(
            format!("waiting for connector C{id} from the simulation…"),
            DIM_STYLE,
        ))
        .block(Block::bordered().title(format!(" Connector C{id} (Esc: back) ")))
        .render(area, buf);
        return;
    };
    let [top, bottom] = Layout::vertical([Constraint::Length(10), Constraint::Fill(1)]).areas(area);
    let [physics, session] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [frames, messages] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    render_physics(d, physics, buf);
    render_session(d, session, buf);
    render_tail(
        " Last CAN frames (newest last) ",
        &d.last_frames,
        frames,
        buf,
    );
    render_tail(
        " Last MQTT/HTTP messages (newest last) ",
        &d.last_messages,
        messages,
        buf,
    );
}

fn kv(key: &'static str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<13}"), HEADER_STYLE),
        Span::raw(value),
    ])
}

fn with_unit(v: Option<f64>, decimals: usize, unit: &str) -> String {
    match v {
        Some(_) => format!("{} {unit}", fmt_opt(v, decimals)),
        None => "-".to_owned(),
    }
}

fn render_physics(d: &ConnectorDetail, area: Rect, buf: &mut Buffer) {
    let p = &d.physics;
    let state = d.state.map_or("-", |s| s.name());
    let title = format!(" C{} · {} · {state} ", d.id, d.charger_serial);
    let battery = match (p.battery_temp_min_c, p.battery_temp_max_c) {
        (None, None) => "-".to_owned(),
        (min, max) => format!("{} … {} °C", fmt_opt(min, 1), fmt_opt(max, 1)),
    };
    let lines = vec![
        kv(
            "voltage",
            format!(
                "{:.1} V / demand {}",
                p.voltage_v,
                with_unit(p.demand_voltage_v, 1, "V")
            ),
        ),
        kv(
            "current",
            format!(
                "{:.1} A / demand {}",
                p.current_a,
                with_unit(p.demand_current_a, 1, "A")
            ),
        ),
        kv(
            "power",
            format!(
                "{:.1} kW / limit {}",
                p.power_kw,
                with_unit(p.power_limit_kw, 1, "kW")
            ),
        ),
        kv("SOC", with_unit(p.soc_pct, 1, "%")),
        kv("battery temp", battery),
        kv("gun temp", with_unit(p.gun_temp_c, 1, "°C")),
    ];
    panel_owned(title, lines).render(area, buf);
}

fn render_session(d: &ConnectorDetail, area: Rect, buf: &mut Buffer) {
    let lines = vec![
        kv(
            "GB/T phase",
            d.gbt_phase.clone().unwrap_or_else(|| "- (AC)".to_owned()),
        ),
        kv(
            "transaction",
            d.transaction.clone().unwrap_or_else(|| "none".to_owned()),
        ),
    ];
    panel(" Session (Esc: back to the list) ", lines).render(area, buf);
}

fn panel_owned(title: String, lines: Vec<Line<'static>>) -> Paragraph<'static> {
    Paragraph::new(lines).block(Block::bordered().title(title))
}

/// The newest entries of `items` that fit, oldest at the top.
fn render_tail(title: &'static str, items: &[String], area: Rect, buf: &mut Buffer) {
    let rows = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = if items.is_empty() {
        vec![Line::styled("none yet", DIM_STYLE)]
    } else {
        items[items.len().saturating_sub(rows)..]
            .iter()
            .map(|s| Line::from(truncate(s, width)))
            .collect()
    };
    Paragraph::new(lines)
        .block(Block::bordered().title(title))
        .render(area, buf);
}
