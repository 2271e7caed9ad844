//! The errors view: every error kind with counts, rate, first and last occurrence and the
//! last message; kinds seen for the first time in the last seconds are highlighted.

use super::format::{fmt_count, fmt_hms};
use super::{DIM_STYLE, HEADER_STYLE, NEW_STYLE, SELECTED_STYLE, panel};
use crate::dashboard::app::{App, View, filtered};
use crate::dashboard::model::{DashboardModel, ErrorRow};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, StatefulWidget, Table, TableState, Widget};

/// Draws the errors view into `area`.
pub fn render(app: &App, model: &DashboardModel, area: Rect, buf: &mut Buffer) {
    let rows: Vec<&ErrorRow> = filtered(&model.errors, &app.filters[View::Errors as usize], |r| {
        &r.kind
    })
    .collect();
    let total: u64 = model.errors.iter().map(|e| e.count).sum();
    let title = format!(
        " Errors: {} in {} kinds ",
        fmt_count(total),
        model.errors.len()
    );
    if rows.is_empty() {
        let text = if model.errors.is_empty() {
            "no errors"
        } else {
            "no error kind matches the filter"
        };
        Paragraph::new(Line::styled(text, DIM_STYLE))
            .block(Block::bordered().title(title))
            .render(area, buf);
        return;
    }
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(5)]).areas(area);
    let selected = app.selected[View::Errors as usize].min(rows.len() - 1);
    let table = error_table(app, &rows, title);
    let mut state = TableState::default().with_selected(Some(selected));
    StatefulWidget::render(table, table_area, buf, &mut state);
    let e = rows[selected];
    panel(
        " Last message ",
        vec![
            Line::styled(e.kind.clone(), HEADER_STYLE),
            Line::from(e.last_text.clone()),
        ],
    )
    .render(detail_area, buf);
}

/// The table of error kinds; kinds first seen in the last seconds are marked and red.
fn error_table<'a>(app: &App, rows: &[&'a ErrorRow], title: String) -> Table<'a> {
    let header = Row::new([
        Line::from(""),
        Line::from("kind"),
        Line::from("count").right_aligned(),
        Line::from("rate/s").right_aligned(),
        Line::from("first"),
        Line::from("last"),
        Line::from("last message"),
    ])
    .style(HEADER_STYLE);
    let body = rows.iter().map(|e| {
        let new = app.is_new_error(&e.kind);
        let row = Row::new(vec![
            Line::from(if new { "NEW" } else { "" }),
            Line::from(e.kind.clone()),
            Line::from(fmt_count(e.count)).right_aligned(),
            Line::from(format!("{:.2}", e.rate_per_s)).right_aligned(),
            Line::from(fmt_hms(e.first_s)),
            Line::from(fmt_hms(e.last_s)),
            Line::from(e.last_text.clone()),
        ]);
        if new { row.style(NEW_STYLE) } else { row }
    });
    let widths = [
        Constraint::Length(3),
        Constraint::Length(24),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Fill(1),
    ];
    Table::new(body, widths)
        .header(header)
        .block(Block::bordered().title(title))
        .row_highlight_style(SELECTED_STYLE)
}
