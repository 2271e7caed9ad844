//! Every dashboard control changes the app state (and emits the commands) as documented.

mod dashboard_common;

use dashboard_common::{app_for, busy_model, ch, key, press};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tui::dashboard::app::{App, FaultKind, FaultTarget, RATE_STEPS, UiCommand, View};
use tui::dashboard::model::{ConnectorQuery, SortColumn};

/// An 80×24 app that has seen one busy frame.
fn busy_app() -> App {
    let mut app = app_for(80, 24);
    refresh(&mut app);
    app
}

/// Feeds the app the frame the simulation would answer its current query with.
fn refresh(app: &mut App) {
    let model = busy_model(&app.connector_query());
    app.update(&model);
}

fn ctrl_c() -> KeyEvent {
    KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
}

fn windows(cmds: &[UiCommand]) -> Vec<ConnectorQuery> {
    cmds.iter()
        .filter_map(|c| match c {
            UiCommand::ConnectorWindow(q) => Some(q.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut app = busy_app();
    assert!(!app.should_quit());
    assert_eq!(press(&mut app, &[ch('q')]), vec![UiCommand::Quit]);
    assert!(app.should_quit());
    let mut app = busy_app();
    assert_eq!(press(&mut app, &[ctrl_c()]), vec![UiCommand::Quit]);
    assert!(app.should_quit());
}

#[test]
fn ctrl_c_quits_even_while_typing_a_filter_but_q_is_just_a_letter_there() {
    let mut app = busy_app();
    press(&mut app, &[ch('3'), ch('/'), ch('q')]);
    assert!(!app.should_quit());
    assert_eq!(app.filter(), "q");
    assert_eq!(press(&mut app, &[ctrl_c()]), vec![UiCommand::Quit]);
    assert!(app.should_quit());
}

#[test]
fn question_mark_opens_help_and_any_key_closes_it() {
    let mut app = busy_app();
    press(&mut app, &[ch('?')]);
    assert!(app.help_shown());
    // The closing key does nothing else: `2` does not switch views here.
    assert!(press(&mut app, &[ch('2')]).is_empty());
    assert!(!app.help_shown());
    assert_eq!(app.view(), View::Overview);
    press(&mut app, &[ch('?')]);
    assert_eq!(press(&mut app, &[ch('q')]), vec![UiCommand::Quit]);
}

#[test]
fn tab_and_number_keys_switch_views() {
    let mut app = busy_app();
    let mut seen = vec![app.view()];
    for _ in 0..5 {
        press(&mut app, &[key(KeyCode::Tab)]);
        seen.push(app.view());
    }
    assert_eq!(
        seen,
        [
            View::Overview,
            View::Latency,
            View::Errors,
            View::Connectors,
            View::Faults,
            View::Overview
        ]
    );
    press(&mut app, &[key(KeyCode::BackTab)]);
    assert_eq!(app.view(), View::Faults);
    for (c, v) in ['1', '2', '3', '4', '5'].iter().zip(View::ALL) {
        press(&mut app, &[ch(*c)]);
        assert_eq!(app.view(), v);
    }
}

#[test]
fn arrows_and_j_k_move_within_the_list() {
    let mut app = busy_app();
    press(&mut app, &[ch('2')]);
    assert_eq!(app.selected(), 0);
    press(&mut app, &[ch('j'), key(KeyCode::Down)]);
    assert_eq!(app.selected(), 2);
    press(&mut app, &[ch('k')]);
    assert_eq!(app.selected(), 1);
    // The busy model has 4 message types: the cursor stops at the last and the first.
    press(&mut app, &[ch('j'), ch('j'), ch('j'), ch('j')]);
    assert_eq!(app.selected(), 3);
    press(&mut app, &[key(KeyCode::Up); 9]);
    assert_eq!(app.selected(), 0);
    press(&mut app, &[key(KeyCode::End)]);
    assert_eq!(app.selected(), 3);
    press(&mut app, &[key(KeyCode::Home)]);
    assert_eq!(app.selected(), 0);
}

#[test]
fn moving_past_the_screen_asks_for_the_next_connector_rows() {
    let mut app = busy_app();
    press(&mut app, &[ch('4')]);
    let rows = app.connector_query().len;
    assert_eq!(rows, 18, "80x24 leaves 18 list rows");
    // Moving inside the visible rows needs no new window.
    let cmds = press(&mut app, &vec![ch('j'); rows - 1]);
    assert!(windows(&cmds).is_empty(), "{cmds:?}");
    let cmds = press(&mut app, &[ch('j')]);
    assert_eq!(windows(&cmds)[0].offset, 1);
    let cmds = press(&mut app, &[key(KeyCode::PageDown)]);
    assert_eq!(app.selected(), 2 * rows);
    assert_eq!(windows(&cmds).last().unwrap().offset, rows + 1);
    let cmds = press(&mut app, &[key(KeyCode::End)]);
    assert_eq!(app.selected(), 9_999);
    assert_eq!(windows(&cmds).last().unwrap().offset, 10_000 - rows);
    let cmds = press(&mut app, &[ch('g')]);
    assert_eq!(app.selected(), 0);
    assert_eq!(windows(&cmds).last().unwrap().offset, 0);
}

#[test]
fn slash_edits_the_filter_enter_keeps_it_esc_clears_it() {
    let mut app = busy_app();
    press(&mut app, &[ch('4'), ch('j'), ch('j')]);
    press(&mut app, &[ch('/')]);
    assert!(app.editing_filter());
    let cmds = press(&mut app, &[ch('d'), ch('c'), ch('x')]);
    assert_eq!(windows(&cmds).last().unwrap().filter, "dcx");
    let cmds = press(&mut app, &[key(KeyCode::Backspace)]);
    let q = windows(&cmds).pop().unwrap();
    assert_eq!((q.filter.as_str(), q.offset), ("dc", 0));
    assert_eq!(app.selected(), 0, "a new filter starts at the top");
    press(&mut app, &[key(KeyCode::Enter)]);
    assert!(!app.editing_filter());
    assert_eq!(app.filter(), "dc");
    // Keys are commands again.
    assert_eq!(press(&mut app, &[ch('p')]), vec![UiCommand::TogglePause]);
    let cmds = press(&mut app, &[key(KeyCode::Esc)]);
    assert_eq!(app.filter(), "");
    assert_eq!(windows(&cmds).last().unwrap().filter, "");
    // Esc while typing drops the filter too.
    press(&mut app, &[ch('/'), ch('a'), key(KeyCode::Esc)]);
    assert!(!app.editing_filter());
    assert_eq!(app.filter(), "");
}

#[test]
fn views_without_a_list_have_no_filter() {
    let mut app = busy_app();
    for view in ['1', '5'] {
        press(&mut app, &[ch(view), ch('/')]);
        assert!(!app.editing_filter(), "view {view}");
    }
    // Nor does an open connector detail.
    press(&mut app, &[ch('4'), key(KeyCode::Enter), ch('/')]);
    assert!(app.detail().is_some());
    assert!(!app.editing_filter());
}

#[test]
fn a_list_that_shrinks_under_the_cursor_scrolls_back() {
    let mut app = busy_app();
    press(&mut app, &[ch('4')]);
    press(&mut app, &vec![key(KeyCode::PageDown); 30]);
    assert_eq!(app.selected(), 540);
    // Only 100 connectors match now (the simulation filtered by a state, say).
    let mut model = busy_model(&app.connector_query());
    model.connectors_total = 100;
    model.connectors.clear();
    let cmds = app.update(&model);
    assert_eq!(app.selected(), 99);
    assert_eq!(windows(&cmds).pop().unwrap().offset, 100 - 18);
    assert!(app.update(&model).is_empty(), "asked once");
}

#[test]
fn filters_belong_to_their_view() {
    let mut app = busy_app();
    press(&mut app, &[ch('2'), ch('/'), ch('m'), key(KeyCode::Enter)]);
    press(&mut app, &[ch('3')]);
    assert_eq!(app.filter(), "");
    press(&mut app, &[ch('2')]);
    assert_eq!(app.filter(), "m");
    // The latency list now has 3 rows (the mqtt ones): the cursor stops at the third.
    refresh(&mut app);
    press(&mut app, &[key(KeyCode::End)]);
    assert_eq!(app.selected(), 2);
}

#[test]
fn p_toggles_the_load() {
    let mut app = busy_app();
    assert_eq!(press(&mut app, &[ch('p')]), vec![UiCommand::TogglePause]);
    assert_eq!(press(&mut app, &[ch('p')]), vec![UiCommand::TogglePause]);
}

#[test]
fn plus_and_minus_step_the_arrival_rate() {
    let mut app = busy_app();
    assert_eq!(
        press(&mut app, &[ch('+')]),
        vec![UiCommand::ArrivalRate(1.5)]
    );
    assert_eq!(
        press(&mut app, &[ch('+')]),
        vec![UiCommand::ArrivalRate(2.0)]
    );
    assert_eq!(
        press(&mut app, &[ch('-')]),
        vec![UiCommand::ArrivalRate(1.5)]
    );
    assert_eq!(app.rate_factor(), 1.5);
    // The model's factor is the truth: a frame at x0.5 makes `+` go to 0.75.
    let mut model = busy_model(&app.connector_query());
    model.arrival_rate_factor = 0.5;
    app.update(&model);
    assert_eq!(
        press(&mut app, &[ch('+')]),
        vec![UiCommand::ArrivalRate(0.75)]
    );
    // The ends of the scale hold.
    let top = RATE_STEPS[RATE_STEPS.len() - 1];
    press(&mut app, &vec![ch('+'); RATE_STEPS.len()]);
    assert_eq!(app.rate_factor(), top);
    assert!(press(&mut app, &[ch('+')]).is_empty());
    press(&mut app, &vec![ch('-'); RATE_STEPS.len()]);
    assert_eq!(app.rate_factor(), RATE_STEPS[0]);
    assert!(press(&mut app, &[ch('-')]).is_empty());
    assert!(app.status().unwrap().contains("stays"));
}

#[test]
fn s_cycles_the_sort_column_and_shift_s_reverses_it() {
    let mut app = busy_app();
    press(&mut app, &[ch('4'), ch('j')]);
    assert_eq!(app.sort(), (SortColumn::Id, false));
    let cmds = press(&mut app, &[ch('s')]);
    assert_eq!(app.sort(), (SortColumn::Charger, false));
    let q = windows(&cmds).pop().unwrap();
    assert_eq!(
        (q.sort, q.descending, q.offset),
        (SortColumn::Charger, false, 0)
    );
    assert_eq!(app.selected(), 0);
    let cmds = press(&mut app, &[ch('S')]);
    assert!(windows(&cmds).pop().unwrap().descending);
    for _ in 0..9 {
        press(&mut app, &[ch('s')]);
    }
    assert_eq!(app.sort(), (SortColumn::Id, true), "the cycle wraps");
    // `s` means nothing outside the connector list.
    press(&mut app, &[ch('1')]);
    assert!(press(&mut app, &[ch('s'), ch('S')]).is_empty());
}

#[test]
fn enter_opens_a_connector_and_esc_or_leaving_closes_it() {
    let mut app = busy_app();
    press(&mut app, &[ch('4'), ch('j'), ch('j'), ch('j')]);
    assert_eq!(
        press(&mut app, &[key(KeyCode::Enter)]),
        vec![UiCommand::SelectConnector(Some(3))]
    );
    assert_eq!(app.detail(), Some(3));
    // The list does not move under the open detail.
    press(&mut app, &[ch('j')]);
    assert_eq!(app.selected(), 3);
    assert_eq!(
        press(&mut app, &[key(KeyCode::Esc)]),
        vec![UiCommand::SelectConnector(None)]
    );
    assert_eq!(app.detail(), None);
    press(&mut app, &[key(KeyCode::Enter)]);
    assert_eq!(
        press(&mut app, &[ch('1')]),
        vec![UiCommand::SelectConnector(None)]
    );
    assert_eq!(app.detail(), None);
}

#[test]
fn enter_waits_for_rows_the_simulation_has_not_sent_yet() {
    let mut app = busy_app();
    press(&mut app, &[ch('4'), key(KeyCode::End)]);
    // Row 9999 is not in the last frame's window: nothing to open yet.
    assert!(press(&mut app, &[key(KeyCode::Enter)]).is_empty());
    refresh(&mut app);
    assert_eq!(
        press(&mut app, &[key(KeyCode::Enter)]),
        vec![UiCommand::SelectConnector(Some(9_999))]
    );
}

#[test]
fn the_fault_menu_injects_on_the_selected_connector_or_on_all() {
    let mut app = busy_app();
    press(&mut app, &[ch('4'), ch('j'), ch('j')]);
    press(&mut app, &[ch('f')]);
    assert_eq!(app.view(), View::Faults);
    assert_eq!(app.fault_target(), Some(FaultTarget::Selected(2)));
    assert_eq!(
        press(&mut app, &[key(KeyCode::Enter)]),
        vec![UiCommand::InjectFault {
            target: FaultTarget::Selected(2),
            fault: FaultKind::CutNetwork
        }]
    );
    assert!(app.status().unwrap().contains("connector C2"));
    press(&mut app, &[ch('j'), ch('j'), ch('j')]);
    assert_eq!(app.selected_fault(), FaultKind::InsulationFault);
    press(&mut app, &[ch('a')]);
    assert!(app.fault_all());
    assert_eq!(
        press(&mut app, &[key(KeyCode::Enter)]),
        vec![UiCommand::InjectFault {
            target: FaultTarget::All,
            fault: FaultKind::InsulationFault
        }]
    );
    press(&mut app, &[ch('a')]);
    assert!(!app.fault_all());
    // Every fault is reachable; the shared components always go fleet-wide.
    press(&mut app, &[ch('g')]);
    let mut injected = Vec::new();
    for _ in 0..FaultKind::ALL.len() {
        injected.extend(press(&mut app, &[key(KeyCode::Enter), ch('j')]));
    }
    let expected: Vec<UiCommand> = FaultKind::ALL
        .iter()
        .map(|&fault| UiCommand::InjectFault {
            target: if fault.is_fleet_wide() {
                FaultTarget::All
            } else {
                FaultTarget::Selected(2)
            },
            fault,
        })
        .collect();
    assert_eq!(injected, expected);
}

#[test]
fn without_a_connector_the_menu_says_so_instead_of_guessing() {
    let mut app = app_for(80, 24);
    press(&mut app, &[ch('5')]);
    assert_eq!(app.fault_target(), None);
    assert!(press(&mut app, &[key(KeyCode::Enter)]).is_empty());
    assert!(app.status().unwrap().contains("no connector selected"));
    // `f` with nothing selected starts on "all connectors".
    press(&mut app, &[ch('1'), ch('f')]);
    assert_eq!(app.fault_target(), Some(FaultTarget::All));
}

#[test]
fn key_releases_are_ignored() {
    let mut app = busy_app();
    let release = KeyEvent::new_with_kind(
        KeyCode::Char('q'),
        KeyModifiers::NONE,
        KeyEventKind::Release,
    );
    assert!(app.handle_key(release).is_empty());
    assert!(!app.should_quit());
}

#[test]
fn resizing_changes_the_window_the_list_asks_for() {
    let mut app = App::new();
    let first = app.initial_commands();
    assert_eq!(windows(&first).len(), 1);
    let cmds = app.resize(120, 40);
    assert_eq!(windows(&cmds)[0].len, 34);
    assert!(app.resize(120, 40).is_empty(), "same size, same window");
    // Keep the cursor visible when the screen shrinks.
    press(&mut app, &[ch('4')]);
    refresh(&mut app);
    press(&mut app, &vec![ch('j'); 30]);
    let cmds = app.resize(80, 24);
    let q = windows(&cmds).pop().unwrap();
    assert_eq!((q.offset, q.len), (30 + 1 - 18, 18));
    // A tiny terminal still asks for one row, so the cursor's connector is known.
    assert_eq!(windows(&app.resize(40, 12)).pop().unwrap().len, 1);
}
