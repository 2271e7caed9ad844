//! Drawing: a pure function of the [`App`] state and a [`DashboardModel`].
//!
//! The screen is a title bar, a tab bar, the current view and a footer with hints, the
//! filter being typed or the last status message. Terminals smaller than [`MIN_WIDTH`] ×
//! [`MIN_HEIGHT`] get a plain-text summary instead ([`tiny`]).

mod connectors;
mod errors;
pub(crate) mod format;
mod latency;
mod overview;
mod tiny;

use super::app::{App, FaultKind, View};
use super::model::DashboardModel;
use format::{fmt_hms, truncate};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Tabs};
use ratatui::widgets::{StatefulWidget, Widget, Wrap};

/// Narrowest terminal that gets the full dashboard.
pub const MIN_WIDTH: u16 = 60;
/// Shortest terminal that gets the full dashboard.
pub const MIN_HEIGHT: u16 = 16;

pub(crate) const TITLE_STYLE: Style = Style::new().fg(Color::Black).bg(Color::Cyan);
pub(crate) const HEADER_STYLE: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub(crate) const SELECTED_STYLE: Style = Style::new().add_modifier(Modifier::REVERSED);
pub(crate) const NEW_STYLE: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub(crate) const DIM_STYLE: Style = Style::new().fg(Color::DarkGray);

/// Colors of the connector states, indexed like [`DashboardModel::states`].
pub(crate) const STATE_COLORS: [Color; 6] = [
    Color::DarkGray,
    Color::Gray,
    Color::Yellow,
    Color::Green,
    Color::Cyan,
    Color::Red,
];

/// The whole screen as a widget: the app state plus the frame's model.
#[derive(Debug, Clone, Copy)]
pub struct Screen<'a> {
    app: &'a App,
    model: &'a DashboardModel,
}

impl App {
    /// The screen for `model` as a widget (for `frame.render_widget` or a test buffer).
    pub fn widget<'a>(&'a self, model: &'a DashboardModel) -> Screen<'a> {
        Screen { app: self, model }
    }

    /// Draws `model` over the whole frame.
    pub fn render(&self, model: &DashboardModel, frame: &mut Frame) {
        frame.render_widget(self.widget(model), frame.area());
    }
}

impl Widget for Screen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Screen { app, model } = self;
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            tiny::render(app, model, area, buf);
            return;
        }
        let [title, tabs, body, footer] = screen_layout(area);
        render_title(model, title, buf);
        render_tabs(app, model, tabs, buf);
        match app.view {
            View::Overview => overview::render(model, body, buf),
            View::Latency => latency::render(app, model, body, buf),
            View::Errors => errors::render(app, model, body, buf),
            View::Connectors if app.detail.is_some() => {
                connectors::render_detail(app, model, body, buf);
            }
            View::Connectors => connectors::render_list(app, model, body, buf),
            View::Faults => render_faults(app, model, body, buf),
        }
        render_footer(app, footer, buf);
        if app.help {
            render_help(area, buf);
        }
    }
}

fn screen_layout(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// How many connector rows fit in the list on a `width` × `height` terminal; the app asks
/// the simulation for that many.
pub fn connector_list_rows(width: u16, height: u16) -> usize {
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        return 0;
    }
    let [_, _, body, _] = screen_layout(Rect::new(0, 0, width, height));
    connectors::list_rows(body)
}

fn render_title(model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let t = &model.title;
    let progress = if model.sim_end_s > 0.0 {
        format!(" ({:.1}%)", 100.0 * model.sim_now_s / model.sim_end_s)
    } else {
        String::new()
    };
    let load = if model.paused { "PAUSED" } else { "RUNNING" };
    let sim = format!(
        "sim {} / {}",
        fmt_hms(model.sim_now_s),
        fmt_hms(model.sim_end_s)
    );
    let state = format!("{load} x{}", model.arrival_rate_factor);
    let seed = format!("seed {}", t.seed);
    let speed = format!("speed {}", t.speed);
    let wall = format!("wall {}", fmt_hms(model.wall_s));
    let sim_progress = format!("{sim}{progress}");
    // Most important first: what is dropped on a narrow screen is the least useful.
    let candidates: [Vec<&str>; 4] = [
        vec![&t.scenario, &seed, &speed, &sim_progress, &wall, &state],
        vec![&t.scenario, &seed, &sim_progress, &state],
        vec![&t.scenario, &seed, &sim, &state],
        vec![&t.scenario, &sim, &state],
    ];
    let width = area.width as usize;
    let text = candidates
        .iter()
        .map(|parts| format!(" chargestorm │ {} ", parts.join(" │ ")))
        .find(|text| text.chars().count() <= width)
        .unwrap_or_else(|| format!(" {} │ {sim} │ {state} ", t.scenario));
    buf.set_style(area, TITLE_STYLE);
    buf.set_stringn(area.x, area.y, truncate(&text, width), width, TITLE_STYLE);
}

fn render_tabs(app: &App, model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let new_errors = model
        .errors
        .iter()
        .filter(|e| app.is_new_error(&e.kind))
        .count();
    let titles = View::ALL.iter().enumerate().map(|(i, v)| {
        let mut spans = vec![Span::raw(format!("{} {}", i + 1, v.label()))];
        if *v == View::Errors && new_errors > 0 {
            spans.push(Span::styled(format!(" ({new_errors} new)"), NEW_STYLE));
        }
        Line::from(spans)
    });
    Tabs::new(titles)
        .select(app.view as usize)
        .highlight_style(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
        .render(area, buf);
}

const HINTS: &str = "?:help Tab:views j/k:move /:filter p:pause +/-:rate f:faults q:quit";

fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let line = if app.editing_filter {
        Line::from(vec![
            Span::styled("filter: ", HEADER_STYLE),
            Span::raw(app.filter().to_owned()),
            Span::styled("█", DIM_STYLE),
            Span::styled("  Enter:apply Esc:clear", DIM_STYLE),
        ])
    } else if let Some(status) = &app.status {
        Line::from(vec![
            Span::styled(status.clone(), HEADER_STYLE),
            Span::styled(format!("  {HINTS}"), DIM_STYLE),
        ])
    } else {
        Line::from(Span::styled(HINTS, DIM_STYLE))
    };
    buf.set_line(area.x, area.y, &line, area.width);
}

const HELP: [(&str, &str); 17] = [
    ("?", "show or hide this help"),
    ("Tab / Shift-Tab", "next / previous view"),
    ("1 … 5", "overview, latency, errors, connectors, faults"),
    ("↑ ↓ / j k", "move the selection"),
    ("PgUp PgDn g G", "page up / down, first / last"),
    ("/", "filter the current list (Enter applies, Esc clears)"),
    ("Enter", "open the selected connector; inject the fault"),
    ("Esc", "close the connector; clear the filter"),
    ("s / S", "connectors: next sort column / reverse"),
    ("f", "fault menu for the selected connector"),
    ("a", "faults: selected connector or all"),
    ("p", "pause or resume the load"),
    ("+ / -", "raise / lower the arrival rate"),
    ("q / Ctrl-C", "quit (the report is still written)"),
    ("", ""),
    ("", "The run never waits for the screen; numbers are a"),
    ("", "snapshot taken each frame."),
];

fn render_help(area: Rect, buf: &mut Buffer) {
    let width = area.width.min(72);
    let height = area.height.min(HELP.len() as u16 + 2);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    Clear.render(popup, buf);
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:>16}  "), HEADER_STYLE),
                Span::raw(*v),
            ])
        })
        .collect();
    Paragraph::new(lines)
        .block(Block::bordered().title(" Help (any key closes) "))
        .render(popup, buf);
}

fn render_faults(app: &App, model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let [target_area, menu_area] =
        Layout::vertical([Constraint::Length(5), Constraint::Fill(1)]).areas(area);
    let selected = app
        .detail
        .or(app.cursor_id())
        .map(|id| {
            let serial = model
                .connectors
                .iter()
                .find(|r| r.id == id)
                .map(|r| format!(" (charger {})", r.charger_serial))
                .unwrap_or_default();
            format!("connector C{id}{serial}")
        })
        .unwrap_or_else(|| "no connector selected".to_owned());
    let mark = |on: bool| if on { "(•)" } else { "( )" };
    let fleet_wide = app.selected_fault().is_fleet_wide();
    let lines = vec![
        Line::from(format!(
            "{} {selected}",
            mark(!app.fault_all && !fleet_wide)
        )),
        Line::from(format!(
            "{} all connectors",
            mark(app.fault_all || fleet_wide)
        )),
        Line::from(Span::styled(
            if fleet_wide {
                "this fault hits a shared component: always fleet-wide"
            } else {
                "a: switch target   (select a connector in view 4)"
            },
            DIM_STYLE,
        )),
    ];
    Paragraph::new(lines)
        .block(Block::bordered().title(" Target "))
        .render(target_area, buf);
    let items: Vec<ListItem> = FaultKind::ALL
        .iter()
        .map(|f| {
            let scope = if f.is_fleet_wide() { "  [fleet]" } else { "" };
            ListItem::new(format!("{}{scope}", f.label()))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(app.selected[View::Faults as usize]));
    StatefulWidget::render(
        List::new(items)
            .block(Block::bordered().title(" Inject a fault (Enter) "))
            .highlight_style(SELECTED_STYLE)
            .highlight_symbol("▶ "),
        menu_area,
        buf,
        &mut state,
    );
}

/// A bordered paragraph of `lines`, wrapped, for small panels.
pub(crate) fn panel<'a>(title: &'a str, lines: Vec<Line<'a>>) -> Paragraph<'a> {
    Paragraph::new(lines)
        .block(Block::new().borders(Borders::ALL).title(title))
        .wrap(Wrap { trim: false })
}
