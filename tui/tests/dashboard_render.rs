//! Dashboard screens rendered on ratatui's `TestBackend` at several sizes, in the empty,
//! busy and error-heavy states: exact buffers for the small fixed parts, specific lines
//! and cells for whole screens.

mod dashboard_common;

use dashboard_common::{
    app_for, busy_model, ch, detail, draw, empty_model, error_heavy_model, key, lines, press,
};
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};
use tui::dashboard::App;
use tui::dashboard::model::{ConnectorQuery, ErrorRow};

/// An app of `w` × `h` on view `view` (a number key) that has seen one busy frame.
fn on_view(w: u16, h: u16, view: char) -> App {
    let mut app = app_for(w, h);
    press(&mut app, &[ch(view)]);
    let model = busy_model(&app.connector_query());
    app.update(&model);
    app
}

fn busy(app: &App) -> tui::dashboard::DashboardModel {
    busy_model(&app.connector_query())
}

fn row_text(buf: &Buffer, y: u16) -> String {
    lines(buf)[y as usize].clone()
}

fn find_row(buf: &Buffer, needle: &str) -> Option<u16> {
    lines(buf)
        .iter()
        .position(|l| l.contains(needle))
        .map(|y| y as u16)
}

fn col_of(line: &str, needle: &str) -> u16 {
    let byte = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {line:?}"));
    line[..byte].chars().count() as u16
}

#[test]
fn a_tiny_terminal_gets_the_plain_summary() {
    let app = on_view(40, 12, '1');
    let buf = draw(&app, &busy(&app), 40, 12);
    let expected = Buffer::with_lines([
        "chargestorm demo seed 42                ",
        "00:20:34 / 08:00:00 RUNNING             ",
        "off 1000 idle 4000 plug 1000            ",
        "chg 3000 fin 900 flt 100                ",
        "sess 5321 ok 4870 fail 12               ",
        "energy 98765.4 kWh                      ",
        "mqtt 1263/s http 217/s                  ",
        "errors 3 (1 kinds)                      ",
        "backend OK                              ",
        "enlarge to 60x16; q quits               ",
        "                                        ",
        "                                        ",
    ]);
    assert_eq!(buf, expected);
}

#[test]
fn a_very_short_terminal_keeps_the_hint_and_cuts_long_lines() {
    let mut app = app_for(20, 4);
    let mut model = empty_model();
    model.paused = true;
    app.update(&model);
    let buf = draw(&app, &model, 20, 4);
    let expected = Buffer::with_lines([
        "chargestorm demo se…",
        "00:00:00 / 08:00:00…",
        "off 0 idle 0 plug 0 ",
        "enlarge to 60x16; q…",
    ]);
    assert_eq!(buf, expected);
}

#[test]
fn the_full_dashboard_starts_at_60_by_16() {
    let app = on_view(60, 16, '1');
    let model = busy(&app);
    let full = draw(&app, &model, 60, 16);
    assert!(row_text(&full, 0).starts_with(" chargestorm │ demo │"));
    assert!(row_text(&full, 2).starts_with("┌ Connectors: 10000 "));
    for (w, h) in [(59, 16), (60, 15)] {
        let tiny = draw(&app, &model, w, h);
        assert!(
            row_text(&tiny, 0).starts_with("chargestorm demo seed 42"),
            "{w}x{h}"
        );
    }
}

#[test]
fn the_overview_at_80_by_24_shows_states_and_totals() {
    let app = on_view(80, 24, '1');
    let buf = draw(&app, &busy(&app), 80, 24);
    let expected = [
        " chargestorm │ demo │ seed 42 │ sim 00:20:34 / 08:00:00 (4.3%) │ RUNNING x1     ",
        " 1 Overview │ 2 Latency │ 3 Errors (1 new) │ 4 Connectors │ 5 Faults            ",
        "┌ Connectors: 10000 ───────────────────┐┌ Run ─────────────────────────────────┐",
        "│offline       1000 █▉·················││sessions  5321 (4870 ok, 12 failed)   │",
        "│idle          4000 ███████▋···········││energy    98765.4 kWh                 │",
        "│plugged       1000 █▉·················││clients   4990 / 5000 connected       │",
        "│charging      3000 █████▊·············││backend   OK  p99 48 ms               │",
        "│finishing      900 █▊·················││load      RUNNING  arrivals x1        │",
        "│faulted        100 ▎··················││ramp      ███████████████████████ 100%│",
        "└──────────────────────────────────────┘└──────────────────────────────────────┘",
        " MQTT msg/s  now 1263  peak 1399 ───────────────────────────────────────────────",
    ];
    assert_eq!(&lines(&buf)[..11], &expected[..]);
    assert!(row_text(&buf, 14).starts_with(" HTTP req/s  now 217  peak 289 "));
    assert!(row_text(&buf, 19).starts_with(" CAN frames/s  now 40199  peak 44999 "));
    assert_eq!(
        row_text(&buf, 23).trim_end(),
        "?:help Tab:views j/k:move /:filter p:pause +/-:rate f:faults q:quit"
    );
    // Styles: the title bar, the bars in their state's color, the new-error badge.
    assert_eq!(buf[(0, 0)].bg, Color::Cyan);
    assert_eq!(buf[(20, 6)].fg, Color::Green, "charging bar");
    assert_eq!(buf[(20, 8)].fg, Color::Red, "faulted bar");
    assert_eq!(buf[(18, 6)].fg, Color::Reset, "the count is plain");
    let badge = col_of(&row_text(&buf, 1), "(1 new)");
    assert_eq!(buf[(badge, 1)].fg, Color::Red);
    assert!(buf[(badge, 1)].modifier.contains(Modifier::BOLD));
    // The newest rate is at the right edge: the last column of the MQTT sparkline.
    assert_ne!(buf[(79, 11)].symbol(), " ");
}

#[test]
fn an_empty_run_reads_as_empty_not_broken() {
    let app = app_for(80, 24);
    let model = empty_model();
    let buf = draw(&app, &model, 80, 24);
    assert_eq!(
        row_text(&buf, 3),
        "│offline          0 ···················││sessions  0 (0 ok, 0 failed)          │"
    );
    assert_eq!(
        row_text(&buf, 8),
        "│faulted          0 ···················││ramp      ·······················   0%│"
    );
    assert!(row_text(&buf, 10).starts_with(" MQTT msg/s  now 0  peak 0 ─"));
    assert!(!row_text(&buf, 1).contains("new"));
    let mut app = app;
    for (view, text) in [
        ('2', "no request/response pairs yet"),
        ('3', "no errors"),
        ('4', "no connectors"),
    ] {
        press(&mut app, &[ch(view)]);
        app.update(&model);
        let buf = draw(&app, &model, 80, 24);
        assert_eq!(find_row(&buf, text), Some(3), "view {view}");
    }
}

#[test]
fn the_latency_view_lists_both_windows_and_charts_the_selected_type() {
    let mut app = on_view(120, 40, '2');
    let buf = draw(&app, &busy(&app), 120, 40);
    let header = row_text(&buf, 3);
    assert!(header.starts_with("│type "));
    assert!(header.ends_with("window       n     p50     p90     p99   p99.9     max│"));
    assert!(row_text(&buf, 4).starts_with("│mqtt.BootNotification "));
    assert!(row_text(&buf, 4).ends_with("all       5000    12.5    25.0    50.0   100.0   125.0│"));
    assert!(row_text(&buf, 5).ends_with("10 s        50    18.8    37.5    75.0   150.0   187.5│"));
    assert!(row_text(&buf, 8).contains("1.23M    8.25    16.5    33.0    66.0    82.5"));
    // The table takes what it needs (header, 4 × 2 rows, borders); the charts the rest.
    assert!(row_text(&buf, 12).starts_with("└───"));
    assert!(row_text(&buf, 13).starts_with("┌ mqtt.BootNotification over time (ms) "));
    assert!(row_text(&buf, 13).contains("┌ mqtt.BootNotification percentile distribution (ms) "));
    let axis = find_row(&buf, "99.99%").expect("distribution axis labels");
    let labels = row_text(&buf, axis);
    let order: Vec<u16> = ["0%", "90%", "99%", "99.9%", "99.99%"]
        .iter()
        .map(|l| col_of(&labels, &format!(" {l}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{labels}");
    // The selection is both lines of the row, and moving it moves the charts.
    assert!(buf[(2, 4)].modifier.contains(Modifier::REVERSED));
    assert!(buf[(2, 5)].modifier.contains(Modifier::REVERSED));
    assert!(!buf[(2, 6)].modifier.contains(Modifier::REVERSED));
    press(&mut app, &[ch('j'), ch('j')]);
    let buf = draw(&app, &busy(&app), 120, 40);
    assert!(buf[(2, 8)].modifier.contains(Modifier::REVERSED));
    assert!(row_text(&buf, 13).starts_with("┌ mqtt.MeterValues over time (ms) "));
}

#[test]
fn the_latency_filter_narrows_the_table() {
    let mut app = on_view(80, 24, '2');
    press(&mut app, &[ch('/'), ch('h'), ch('t'), ch('t'), ch('p')]);
    let model = busy(&app);
    app.update(&model);
    let buf = draw(&app, &model, 80, 24);
    assert!(row_text(&buf, 4).starts_with("│http.notification_stati"));
    assert!(find_row(&buf, "mqtt.").is_none());
    assert!(row_text(&buf, 23).starts_with("filter: http█"));
    press(&mut app, &[ch('x')]);
    app.update(&model);
    let buf = draw(&app, &model, 80, 24);
    assert_eq!(
        find_row(&buf, "no message type matches the filter"),
        Some(3)
    );
}

#[test]
fn new_error_kinds_are_highlighted_for_ten_seconds() {
    let mut app = app_for(80, 24);
    press(&mut app, &[ch('3')]);
    let mut model = error_heavy_model(&app.connector_query());
    app.update(&model);
    let buf = draw(&app, &model, 80, 24);
    assert!(row_text(&buf, 1).contains("3 Errors (25 new)"));
    assert!(row_text(&buf, 2).starts_with("┌ Errors: 325000 in 25 kinds ─"));
    assert_eq!(
        row_text(&buf, 3),
        "│    kind                       count rate/s first    last     last message    │"
    );
    assert_eq!(
        row_text(&buf, 4),
        "│NEW kind.00                    25000  25.00 00:01:00 00:20:30 error text numbe│"
    );
    assert_eq!(buf[(1, 5)].fg, Color::Red, "a new kind is red");
    // The last-message panel shows the selected kind in full.
    press(&mut app, &[ch('j')]);
    let buf = draw(&app, &model, 80, 24);
    let panel = find_row(&buf, "┌ Last message ").unwrap();
    assert_eq!(
        row_text(&buf, panel + 2),
        format!("│{:<78}│", "error text number 1 <with markup & quotes \">")
    );
    // Eleven seconds later nothing is new; then one more kind appears and is the only
    // highlighted one.
    model.wall_s += 11.0;
    app.update(&model);
    let buf = draw(&app, &model, 80, 24);
    assert!(!row_text(&buf, 1).contains("new"));
    assert!(row_text(&buf, 4).starts_with("│    kind.00 "));
    assert_ne!(buf[(5, 6)].fg, Color::Red);
    model.errors.push(ErrorRow {
        kind: "backend.slow".into(),
        count: 1,
        rate_per_s: 0.1,
        first_s: 1240.0,
        last_s: 1240.0,
        last_text: "p99 above 2 s".into(),
    });
    app.update(&model);
    let buf = draw(&app, &model, 80, 24);
    assert!(row_text(&buf, 1).contains("3 Errors (1 new)"));
    let rows: Vec<String> = lines(&buf)
        .into_iter()
        .filter(|l| l.starts_with("│NEW "))
        .collect();
    assert_eq!(
        rows.len(),
        0,
        "the new kind is below the visible rows: {rows:?}"
    );
    press(&mut app, &[key(KeyCode::End)]);
    let buf = draw(&app, &model, 80, 24);
    let row = find_row(&buf, "backend.slow").unwrap();
    assert!(row_text(&buf, row).starts_with("│NEW backend.slow "));
}

#[test]
fn the_connector_list_shows_its_window_sort_and_cursor() {
    let mut app = on_view(80, 24, '4');
    let buf = draw(&app, &busy(&app), 80, 24);
    assert!(row_text(&buf, 2).starts_with("┌ Connectors 1-18 of 10000  sort id asc ─"));
    assert_eq!(
        row_text(&buf, 3),
        "│id▲     charger       kind state          kW  SOC%      V      A     kWh  sess│"
    );
    assert_eq!(
        row_text(&buf, 10),
        "│C6      CS00003       DC   charging      6.5    16    406    6.0    3.00     7│"
    );
    assert!(
        buf[(2, 4)].modifier.contains(Modifier::REVERSED),
        "cursor on C0"
    );
    let state_col = col_of(&row_text(&buf, 10), "charging");
    assert_eq!(buf[(state_col, 10)].fg, Color::Green, "charging in green");
    assert_eq!(buf[(state_col, 5)].fg, Color::Gray, "idle in gray");
    // Sort by power, largest first: the simulation answers with the new order.
    press(&mut app, &[ch('s'), ch('s'), ch('s'), ch('s'), ch('S')]);
    let model = busy(&app);
    app.update(&model);
    let buf = draw(&app, &model, 80, 24);
    assert!(row_text(&buf, 2).starts_with("┌ Connectors 1-18 of 10000  sort kW desc ─"));
    assert!(row_text(&buf, 3).contains("kW▼"));
    assert!(row_text(&buf, 4).starts_with("│C118    CS00059       DC   charging    118.5"));
    // Scroll: the cursor stays visible and the title follows.
    press(&mut app, &[key(KeyCode::PageDown), key(KeyCode::PageDown)]);
    let model = busy(&app);
    app.update(&model);
    let buf = draw(&app, &model, 80, 24);
    assert!(row_text(&buf, 2).starts_with("┌ Connectors 20-37 of 10000 "));
    assert!(
        buf[(2, 21)].modifier.contains(Modifier::REVERSED),
        "cursor on the last row"
    );
}

#[test]
fn rows_the_simulation_has_not_sent_yet_show_as_placeholders() {
    let mut app = on_view(80, 24, '4');
    let stale = busy(&app);
    press(&mut app, &[key(KeyCode::PageDown), key(KeyCode::PageDown)]);
    let buf = draw(&app, &stale, 80, 24);
    assert!(row_text(&buf, 4).starts_with("│…  "));
    assert!(row_text(&buf, 21).starts_with("│…  "));
}

#[test]
fn the_connector_filter_is_shown_and_an_empty_match_says_so() {
    let mut app = on_view(80, 24, '4');
    press(&mut app, &[ch('/')]);
    for c in "faulted".chars() {
        press(&mut app, &[ch(c)]);
    }
    press(&mut app, &[key(KeyCode::Enter)]);
    let model = busy(&app);
    app.update(&model);
    let buf = draw(&app, &model, 80, 24);
    assert!(
        row_text(&buf, 2)
            .starts_with("┌ Connectors 1-18 of 100  sort id asc  filter \"faulted\" ─")
    );
    assert!(row_text(&buf, 4).starts_with("│C99 "));
    let none = busy_model(&ConnectorQuery {
        filter: "nothing-like-this".into(),
        ..app.connector_query()
    });
    press(&mut app, &[ch('/'), ch('z'), key(KeyCode::Enter)]);
    app.update(&none);
    let buf = draw(&app, &none, 80, 24);
    assert_eq!(find_row(&buf, "no connector matches the filter"), Some(3));
}

#[test]
fn the_connector_detail_shows_physics_session_frames_and_messages() {
    let mut app = on_view(80, 24, '4');
    press(
        &mut app,
        &[ch('j'), ch('j'), ch('j'), ch('j'), ch('j'), ch('j')],
    );
    press(&mut app, &[key(KeyCode::Enter)]);
    let mut model = busy(&app);
    app.update(&model);
    let waiting = draw(&app, &model, 80, 24);
    assert_eq!(
        find_row(&waiting, "waiting for connector C6 from the simulation"),
        Some(3)
    );
    model.detail = Some(detail(6));
    let buf = draw(&app, &model, 80, 24);
    let expected = [
        "┌ C6 · CS00003 · charging ─────────────┐┌ Session (Esc: back to the list) ─────┐",
        "│voltage      612.4 V / demand 615.0 V ││GB/T phase   charging (BCL/BCS/CCS)   │",
        "│current      180.2 A / demand 185.0 A ││transaction  tx 1234, started         │",
        "│power        110.4 kW / limit 120.0 kW││00:10:00, meter 100.0 kWh             │",
        "│SOC          47.5 %                   ││                                      │",
        "│battery temp 29.0 … 36.5 °C           ││                                      │",
        "│gun temp     51.2 °C                  ││                                      │",
    ];
    assert_eq!(&lines(&buf)[2..9], &expected[..]);
    // The newest frames fill the panel, newest at the bottom.
    assert_eq!(
        row_text(&buf, 12),
        "┌ Last CAN frames (newest last) ───────┐┌ Last MQTT/HTTP messages (newest last)┐"
    );
    assert!(row_text(&buf, 13).starts_with("│t+21 BCL "));
    assert!(row_text(&buf, 21).starts_with("│t+29 BCL "));
    assert!(row_text(&buf, 13).contains("││-> MeterValues 12.3 kWh"));
    // A detail for another connector is not shown as this one's.
    model.detail = Some(detail(7));
    let buf = draw(&app, &model, 80, 24);
    assert!(find_row(&buf, "waiting for connector C6").is_some());
}

#[test]
fn the_fault_menu_shows_its_target() {
    let mut app = on_view(80, 24, '4');
    press(&mut app, &[ch('j'), ch('f')]);
    let model = busy(&app);
    let buf = draw(&app, &model, 80, 24);
    let expected = [
        "┌ Target ──────────────────────────────────────────────────────────────────────┐",
        "│(•) connector C1 (charger CS00000)                                            │",
        "│( ) all connectors                                                            │",
        "│a: switch target   (select a connector in view 4)                             │",
        "└──────────────────────────────────────────────────────────────────────────────┘",
        "┌ Inject a fault (Enter) ──────────────────────────────────────────────────────┐",
        "│▶ cut the charger's network                                                   │",
        "│  restart the embedded broker  [fleet]                                        │",
    ];
    assert_eq!(&lines(&buf)[2..10], &expected[..]);
    press(&mut app, &[ch('j')]);
    let buf = draw(&app, &model, 80, 24);
    assert!(row_text(&buf, 3).starts_with("│( ) connector C1"));
    assert!(row_text(&buf, 4).starts_with("│(•) all connectors"));
    assert!(row_text(&buf, 5).starts_with("│this fault hits a shared component"));
    press(&mut app, &[key(KeyCode::Enter)]);
    let buf = draw(&app, &model, 80, 24);
    assert!(
        row_text(&buf, 23).starts_with("injected restart the embedded broker on all connectors")
    );
}

#[test]
fn the_help_overlay_sits_on_top_and_lists_the_controls() {
    let mut app = on_view(80, 24, '1');
    press(&mut app, &[ch('?')]);
    let buf = draw(&app, &busy(&app), 80, 24);
    let top = find_row(&buf, "┌ Help (any key closes) ").unwrap();
    // 72 × 19, centred on 80 × 24.
    assert_eq!(top, 3);
    assert_eq!(col_of(&row_text(&buf, top), "┌ Help"), 4);
    let bottom = row_text(&buf, top + 18);
    assert_eq!(col_of(&bottom, "└───"), 4, "{bottom}");
    assert_eq!(col_of(&bottom, "┘"), 75, "{bottom}");
    for control in [
        "?",
        "Tab / Shift-Tab",
        "1 … 5",
        "/",
        "p",
        "+ / -",
        "q / Ctrl-C",
    ] {
        assert!(
            lines(&buf)
                .iter()
                .any(|l| l.contains(&format!(" {control}  "))),
            "{control}"
        );
    }
    assert!(row_text(&buf, top + 12).contains("p  pause or resume the load"));
    press(&mut app, &[key(KeyCode::Esc)]);
    let buf = draw(&app, &busy(&app), 80, 24);
    assert!(find_row(&buf, "Help (any key closes)").is_none());
}

#[test]
fn every_view_survives_every_size() {
    let sizes = [
        (0, 0),
        (1, 1),
        (10, 3),
        (59, 16),
        (60, 16),
        (61, 17),
        (80, 24),
        (100, 20),
        (120, 40),
        (250, 70),
    ];
    for (w, h) in sizes {
        for view in ['1', '2', '3', '4', '5'] {
            let mut app = app_for(w, h);
            press(&mut app, &[ch(view)]);
            let mut model = error_heavy_model(&app.connector_query());
            app.update(&model);
            let buf = draw(&app, &model, w, h);
            assert_eq!(buf.area.width, w);
            if view == '4' {
                press(&mut app, &[key(KeyCode::Enter)]);
                model.detail = app.detail().map(detail);
                draw(&app, &model, w, h);
            }
            press(&mut app, &[ch('?')]);
            draw(&app, &model, w, h);
        }
    }
}

#[test]
fn the_frame_holds_only_the_visible_rows_of_a_10000_connector_fleet() {
    let app = on_view(120, 40, '4');
    let model = busy(&app);
    assert_eq!(model.connectors_total, 10_000);
    assert_eq!(model.connectors.len(), 34);
    assert_eq!(model.connector_count(), 10_000);
    let buf = draw(&app, &model, 120, 40);
    assert!(row_text(&buf, 2).starts_with("┌ Connectors 1-34 of 10000 "));
    assert!(row_text(&buf, 37).starts_with("│C33 "));
}
