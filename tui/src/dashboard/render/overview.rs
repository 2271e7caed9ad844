//! The overview: connectors by state, the run's totals, and message rates.

use super::format::{bar, fmt_count, truncate};
use super::{HEADER_STYLE, STATE_COLORS, panel};
use crate::dashboard::model::{DashboardModel, HealthStatus, STATE_NAMES};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Sparkline, Widget};

/// Draws the overview into `area`.
pub fn render(model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let [top, rates] = Layout::vertical([Constraint::Length(8), Constraint::Fill(1)]).areas(area);
    let [states, run] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    render_states(model, states, buf);
    render_run(model, run, buf);
    let [mqtt, http, can] = Layout::vertical([Constraint::Fill(1); 3]).areas(rates);
    let r = &model.rates;
    render_rate("MQTT msg/s", &r.mqtt_msgs_per_s, Color::Green, mqtt, buf);
    render_rate("HTTP req/s", &r.http_reqs_per_s, Color::Cyan, http, buf);
    render_rate(
        "CAN frames/s",
        &r.can_frames_per_s,
        Color::Magenta,
        can,
        buf,
    );
}

fn render_states(model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let total = model.connector_count();
    let title = format!(" Connectors: {} ", fmt_count(total));
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let bar_width = (inner.width as usize).saturating_sub(19);
    for (i, (name, &count)) in STATE_NAMES.iter().zip(&model.states).enumerate() {
        let Some(y) = inner
            .y
            .checked_add(i as u16)
            .filter(|y| *y < inner.bottom())
        else {
            break;
        };
        let fraction = if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        };
        let line = Line::from(vec![
            Span::raw(format!("{name:<10}{:>8} ", fmt_count(count))),
            Span::styled(bar(fraction, bar_width), Style::new().fg(STATE_COLORS[i])),
        ]);
        buf.set_line(inner.x, y, &line, inner.width);
    }
}

fn render_run(model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let (health_color, health) = match model.backend.status {
        HealthStatus::Ok => (Color::Green, HealthStatus::Ok.label()),
        HealthStatus::Degraded => (Color::Yellow, HealthStatus::Degraded.label()),
        HealthStatus::Down => (Color::Red, HealthStatus::Down.label()),
    };
    let (load, load_color) = if model.paused {
        ("PAUSED", Color::Yellow)
    } else {
        ("RUNNING", Color::Green)
    };
    let ramp_width = (area.width as usize).saturating_sub(17);
    let ramp = model.ramp_progress.clamp(0.0, 1.0);
    let lines = vec![
        kv(
            "sessions",
            format!(
                "{} ({} ok, {} failed)",
                model.sessions_started, model.sessions_completed, model.sessions_failed
            ),
        ),
        kv("energy", format!("{:.1} kWh", model.energy_kwh)),
        kv(
            "clients",
            format!(
                "{} / {} connected",
                model.clients_connected, model.clients_total
            ),
        ),
        Line::from(vec![
            Span::styled("backend   ", HEADER_STYLE),
            Span::styled(health, Style::new().fg(health_color)),
            Span::raw(format!(
                "  {}",
                truncate(&model.backend.text, area.width as usize)
            )),
        ]),
        Line::from(vec![
            Span::styled("load      ", HEADER_STYLE),
            Span::styled(load, Style::new().fg(load_color)),
            Span::raw(format!("  arrivals x{}", model.arrival_rate_factor)),
        ]),
        kv(
            "ramp",
            format!("{} {:>3.0}%", bar(ramp, ramp_width), ramp * 100.0),
        ),
    ];
    panel(" Run ", lines).render(area, buf);
}

fn kv(key: &'static str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<10}"), HEADER_STYLE),
        Span::raw(value),
    ])
}

fn render_rate(name: &str, series: &[u64], color: Color, area: Rect, buf: &mut Buffer) {
    let now = series.last().copied().unwrap_or(0);
    let peak = series.iter().copied().max().unwrap_or(0);
    let block = Block::new()
        .borders(Borders::TOP)
        .title(format!(" {name}  now {now}  peak {peak} "));
    // The sparkline draws from the start of its data, so hand it the newest values only.
    let width = area.width as usize;
    let tail = &series[series.len().saturating_sub(width)..];
    Sparkline::default()
        .block(block)
        .data(tail)
        .style(Style::new().fg(color))
        .render(area, buf);
}
