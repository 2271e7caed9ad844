//! The fallback for terminals too small for the dashboard: the essential numbers as plain
//! lines, each cut to the width, and a hint to enlarge the window.

use super::format::{fmt_count, fmt_hms, truncate};
use super::{MIN_HEIGHT, MIN_WIDTH};
use crate::dashboard::app::App;
use crate::dashboard::model::DashboardModel;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// Draws the small-terminal summary into `area`.
pub fn render(app: &App, model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let s = &model.states;
    let errors: u64 = model.errors.iter().map(|e| e.count).sum();
    let last = |v: &[u64]| v.last().copied().unwrap_or(0);
    let load = if model.paused { "PAUSED" } else { "RUNNING" };
    let mut lines = vec![
        format!(
            "chargestorm {} seed {}",
            model.title.scenario, model.title.seed
        ),
        format!(
            "{} / {} {load}",
            fmt_hms(model.sim_now_s),
            fmt_hms(model.sim_end_s)
        ),
        format!("off {} idle {} plug {}", s[0], s[1], s[2]),
        format!("chg {} fin {} flt {}", s[3], s[4], s[5]),
        format!(
            "sess {} ok {} fail {}",
            model.sessions_started, model.sessions_completed, model.sessions_failed
        ),
        format!("energy {:.1} kWh", model.energy_kwh),
        format!(
            "mqtt {}/s http {}/s",
            last(&model.rates.mqtt_msgs_per_s),
            last(&model.rates.http_reqs_per_s)
        ),
        format!(
            "errors {} ({} kinds)",
            fmt_count(errors),
            model.errors.len()
        ),
        format!("backend {}", model.backend.status.label()),
    ];
    if let Some(status) = &app.status {
        lines.push(status.clone());
    }
    lines.push(format!("enlarge to {MIN_WIDTH}x{MIN_HEIGHT}; q quits"));
    let width = area.width as usize;
    // Keep the hint on the last row when lines must be dropped.
    let rows = area.height as usize;
    if lines.len() > rows && rows > 0 {
        let hint = lines.pop().unwrap_or_default();
        lines.truncate(rows - 1);
        lines.push(hint);
    }
    for (i, line) in lines.iter().enumerate().take(rows) {
        buf.set_string(
            area.x,
            area.y + i as u16,
            truncate(line, width),
            Style::new(),
        );
    }
}
