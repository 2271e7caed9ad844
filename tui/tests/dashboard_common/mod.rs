//! Models and helpers shared by the dashboard tests: an empty run, a busy fleet of
//! 10,000 connectors, and an error-heavy run with the backend down.

#![allow(dead_code)]

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sim_core::fleet::ConnectorState;
use tui::dashboard::app::{App, UiCommand};
use tui::dashboard::model::{
    BackendHealth, ConnectorDetail, ConnectorKind, ConnectorQuery, ConnectorRow, DashboardModel,
    ErrorRow, HealthStatus, LatencyRow, Percentiles, Physics, RateSeries, Title, apply_query,
};

/// Connectors in the busy fleet.
pub const FLEET: u32 = 10_000;

pub fn title() -> Title {
    Title {
        scenario: "demo".into(),
        seed: 42,
        speed: "realtime".into(),
    }
}

/// A run that has just started: nothing connected, no traffic.
pub fn empty_model() -> DashboardModel {
    DashboardModel {
        title: title(),
        sim_end_s: 8.0 * 3600.0,
        arrival_rate_factor: 1.0,
        ..DashboardModel::default()
    }
}

fn state_of(id: u32) -> ConnectorState {
    match id % 10 {
        0 => ConnectorState::Offline,
        1..=4 => ConnectorState::Idle,
        5 => ConnectorState::Plugged,
        6..=8 => ConnectorState::Charging,
        _ if id % 100 == 99 => ConnectorState::Faulted,
        _ => ConnectorState::Finishing,
    }
}

/// Every connector of the busy fleet, in id order.
pub fn fleet_rows() -> Vec<ConnectorRow> {
    (0..FLEET)
        .map(|id| {
            let state = state_of(id);
            let charging = state == ConnectorState::Charging;
            let dc = id % 4 != 3;
            ConnectorRow {
                id,
                charger_serial: format!("CS{:05}", id / 2),
                kind: if dc {
                    ConnectorKind::Dc
                } else {
                    ConnectorKind::Ac
                },
                state,
                power_kw: if charging {
                    f64::from(id % 120) + 0.5
                } else {
                    0.0
                },
                soc_pct: charging.then(|| f64::from(id % 80) + 10.0),
                voltage_v: if charging {
                    400.0 + f64::from(id % 300)
                } else {
                    0.0
                },
                current_a: if charging { f64::from(id % 200) } else { 0.0 },
                energy_kwh: f64::from(id % 50) / 2.0,
                session: (id % 7 != 0).then_some(id % 13 + 1),
            }
        })
        .collect()
}

fn percentiles(count: u64, p50: f64) -> Percentiles {
    Percentiles {
        count,
        p50,
        p90: p50 * 2.0,
        p99: p50 * 4.0,
        p999: p50 * 8.0,
        max: p50 * 10.0,
    }
}

fn latency_row(name: &str, count: u64, p50: f64) -> LatencyRow {
    LatencyRow {
        name: name.into(),
        whole: percentiles(count, p50),
        last_10s: percentiles(count / 100, p50 * 1.5),
        over_time: (0..120)
            .map(|i| {
                let t = f64::from(i) * 10.0;
                let wave = 1.0 + (f64::from(i) / 10.0).sin().abs();
                (t, p50 * wave, p50 * 4.0 * wave, p50 * 10.0 * wave)
            })
            .collect(),
        distribution: [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0]
            .iter()
            .zip([0.1, 1.0, 2.0, 4.0, 8.0, 9.0, 10.0])
            .map(|(&q, m)| (q, p50 * m))
            .collect(),
    }
}

/// A busy fleet; `query` picks the connector window as the adapter would.
pub fn busy_model(query: &ConnectorQuery) -> DashboardModel {
    let rows = fleet_rows();
    let mut states = [0u64; 6];
    for r in &rows {
        states[r.state as usize] += 1;
    }
    let (connectors, total) = apply_query(&rows, query);
    DashboardModel {
        title: title(),
        sim_now_s: 1234.0,
        sim_end_s: 8.0 * 3600.0,
        wall_s: 1234.0,
        paused: false,
        arrival_rate_factor: 1.0,
        states,
        sessions_started: 5321,
        sessions_completed: 4870,
        sessions_failed: 12,
        energy_kwh: 98765.4,
        clients_connected: 4990,
        clients_total: 5000,
        ramp_progress: 1.0,
        backend: BackendHealth {
            status: HealthStatus::Ok,
            text: "p99 48 ms".into(),
        },
        rates: RateSeries {
            mqtt_msgs_per_s: (0..300).map(|i| 1000 + (i * 37) % 400).collect(),
            http_reqs_per_s: (0..300).map(|i| 200 + (i * 13) % 90).collect(),
            can_frames_per_s: (0..300).map(|i| 40_000 + (i * 101) % 5000).collect(),
        },
        latency: vec![
            latency_row("mqtt.BootNotification", 5000, 12.5),
            latency_row("mqtt.StartTransaction", 5321, 20.0),
            latency_row("mqtt.MeterValues", 1_234_567, 8.25),
            latency_row("http.notification_stationStatus", 48_000, 35.0),
        ],
        errors: vec![ErrorRow {
            kind: "mqtt.timeout".into(),
            count: 3,
            rate_per_s: 0.01,
            first_s: 600.0,
            last_s: 1200.0,
            last_text: "no PUBACK for MeterValues within 10 s".into(),
        }],
        connectors,
        connectors_offset: query.offset,
        connectors_total: total,
        detail: None,
    }
}

/// The busy fleet with the backend down and many error kinds.
pub fn error_heavy_model(query: &ConnectorQuery) -> DashboardModel {
    let mut m = busy_model(query);
    m.backend = BackendHealth {
        status: HealthStatus::Down,
        text: "no answer for 30 s".into(),
    };
    m.errors = (0u32..25)
        .map(|i| ErrorRow {
            kind: format!("kind.{i:02}"),
            count: 1000 * u64::from(25 - i),
            rate_per_s: f64::from(25 - i),
            first_s: 60.0 + f64::from(i),
            last_s: 1230.0,
            last_text: format!("error text number {i} <with markup & quotes \">"),
        })
        .collect();
    m.sessions_failed = 900;
    m
}

/// The detail of connector `id` of the busy fleet.
pub fn detail(id: u32) -> ConnectorDetail {
    ConnectorDetail {
        id,
        charger_serial: format!("CS{:05}", id / 2),
        state: Some(ConnectorState::Charging),
        physics: Physics {
            voltage_v: 612.4,
            current_a: 180.2,
            power_kw: 110.4,
            soc_pct: Some(47.5),
            battery_temp_max_c: Some(36.5),
            battery_temp_min_c: Some(29.0),
            gun_temp_c: Some(51.2),
            power_limit_kw: Some(120.0),
            demand_voltage_v: Some(615.0),
            demand_current_a: Some(185.0),
        },
        gbt_phase: Some("charging (BCL/BCS/CCS)".into()),
        last_frames: (0..30)
            .map(|i| format!("t+{i:02} BCL 615.0 V 185.0 A CC"))
            .collect(),
        last_messages: vec![
            "-> MeterValues 12.3 kWh".into(),
            "<- MeterValues.conf".into(),
        ],
        transaction: Some("tx 1234, started 00:10:00, meter 100.0 kWh".into()),
    }
}

/// Draws `app` over `model` on a `width` × `height` test terminal.
pub fn draw(app: &App, model: &DashboardModel, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| app.render(model, f))
        .expect("drawing on a test backend");
    terminal.backend().buffer().clone()
}

/// The text of each row of `buf`.
pub fn lines(buf: &Buffer) -> Vec<String> {
    let area = buf.area;
    (0..area.height)
        .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

/// Prints a buffer, for looking at a screen while writing a test.
pub fn dump(buf: &Buffer) -> String {
    lines(buf).join("\n")
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

/// An app sized for `width` × `height` and fed `model`, as the loop does before a frame.
pub fn app_for(width: u16, height: u16) -> App {
    let mut app = App::new();
    let _ = app.initial_commands();
    let _ = app.resize(width, height);
    app
}

/// Presses `keys` in order; returns every command they produced.
pub fn press(app: &mut App, keys: &[KeyEvent]) -> Vec<UiCommand> {
    keys.iter().flat_map(|k| app.handle_key(*k)).collect()
}
