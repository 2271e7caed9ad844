//! The plain data the dashboard draws: filled by the simulation side once per frame.
//!
//! Nothing here refers to the simulation's internals: an adapter on the simulation thread
//! copies what the screen needs into a [`DashboardModel`] and hands it over. Building one
//! must stay cheap with 10,000 chargers, so the connector list carries only the window of
//! rows the screen asked for ([`ConnectorQuery`]) plus the total count; [`apply_query`] does
//! the filtering, sorting and windowing for an adapter that has every row at hand.

use sim_core::fleet::ConnectorState;
use std::cmp::Ordering;

/// Latency percentiles in milliseconds (count, p50, p90, p99, p99.9, max): the same type
/// the JSON report uses, so an adapter can build it with `Percentiles::from_histogram`.
pub use sim_core::report::LatencySummary as Percentiles;

/// Display names of the connector states, indexed like [`ConnectorState::ALL`] and
/// [`DashboardModel::states`].
pub const STATE_NAMES: [&str; 6] = [
    "offline",
    "idle",
    "plugged",
    "charging",
    "finishing",
    "faulted",
];

/// Everything one dashboard frame shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DashboardModel {
    /// What is running: scenario, seed, speed.
    pub title: Title,
    /// Virtual time now, in seconds since the run started.
    pub sim_now_s: f64,
    /// Virtual time at which the run ends, in seconds.
    pub sim_end_s: f64,
    /// Wall-clock seconds since the run started.
    pub wall_s: f64,
    /// Whether the load (new arrivals) is paused.
    pub paused: bool,
    /// Multiplier applied to the scenario's arrival rate (1.0 = as configured).
    pub arrival_rate_factor: f64,
    /// Connectors by state, indexed like [`ConnectorState::ALL`]: offline, idle, plugged,
    /// charging, finishing, faulted.
    pub states: [u64; 6],
    /// Charging sessions that started delivering energy.
    pub sessions_started: u64,
    /// Sessions that ended normally.
    pub sessions_completed: u64,
    /// Sessions that ended on a fault, a timeout or a refusal.
    pub sessions_failed: u64,
    /// Energy delivered so far, kWh.
    pub energy_kwh: f64,
    /// Charger clients connected to their backend.
    pub clients_connected: u64,
    /// Charger clients in the run.
    pub clients_total: u64,
    /// How far the connection ramp-up has got, 0.0 to 1.0.
    pub ramp_progress: f64,
    /// Health of the backend under test.
    pub backend: BackendHealth,
    /// Message rates, one value per second.
    pub rates: RateSeries,
    /// Latency by message type.
    pub latency: Vec<LatencyRow>,
    /// Errors by kind.
    pub errors: Vec<ErrorRow>,
    /// The connector rows the screen asked for (see [`ConnectorQuery`]), already filtered
    /// and sorted; `connectors[0]` is row `connectors_offset` of the filtered list.
    pub connectors: Vec<ConnectorRow>,
    /// Index of `connectors[0]` in the filtered, sorted list.
    pub connectors_offset: usize,
    /// Rows in the filtered list (not only the window sent).
    pub connectors_total: usize,
    /// The connector the user entered, once the adapter has it.
    pub detail: Option<ConnectorDetail>,
}

impl DashboardModel {
    /// All connectors, whatever their state.
    pub fn connector_count(&self) -> u64 {
        self.states.iter().sum()
    }

    /// The row at `index` of the filtered list, if the window holds it.
    pub fn connector_at(&self, index: usize) -> Option<&ConnectorRow> {
        index
            .checked_sub(self.connectors_offset)
            .and_then(|i| self.connectors.get(i))
    }
}

/// The title bar's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Title {
    /// Scenario name.
    pub scenario: String,
    /// Root seed.
    pub seed: u64,
    /// Run speed as the user gave it (`realtime`, `60`, `max`).
    pub speed: String,
}

/// Backend health as the chargers see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HealthStatus {
    /// Answers arrive in time.
    #[default]
    Ok,
    /// Answers are slow or some fail.
    Degraded,
    /// The backend does not answer.
    Down,
}

impl HealthStatus {
    /// Upper-case label for the screen.
    pub fn label(self) -> &'static str {
        match self {
            HealthStatus::Ok => "OK",
            HealthStatus::Degraded => "DEGRADED",
            HealthStatus::Down => "DOWN",
        }
    }
}

/// Backend health with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendHealth {
    /// The verdict.
    pub status: HealthStatus,
    /// Why, in a few words (e.g. `p99 1.8 s, 3 timeouts/s`).
    pub text: String,
}

/// Per-second message counts, oldest first, newest last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateSeries {
    /// MQTT messages (both directions) per second.
    pub mqtt_msgs_per_s: Vec<u64>,
    /// HTTP requests per second.
    pub http_reqs_per_s: Vec<u64>,
    /// CAN frames per second.
    pub can_frames_per_s: Vec<u64>,
}

/// Latency of one message type (an MQTT request/response pair or an HTTP interface).
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyRow {
    /// Message type, e.g. `mqtt.BootNotification`.
    pub name: String,
    /// Over the whole run.
    pub whole: Percentiles,
    /// Over the last 10 s of virtual time.
    pub last_10s: Percentiles,
    /// `(t_s, p50_ms, p99_ms, max_ms)` per interval, oldest first.
    pub over_time: Vec<(f64, f64, f64, f64)>,
    /// `(quantile 0..1, value_ms)` points of the whole-run distribution, ascending.
    pub distribution: Vec<(f64, f64)>,
}

/// One error kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRow {
    /// Kind, e.g. `mqtt.timeout`.
    pub kind: String,
    /// Occurrences so far.
    pub count: u64,
    /// Recent rate, per second.
    pub rate_per_s: f64,
    /// Virtual time of the first occurrence, s.
    pub first_s: f64,
    /// Virtual time of the last occurrence, s.
    pub last_s: f64,
    /// Text of the last occurrence.
    pub last_text: String,
}

/// AC or DC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConnectorKind {
    /// An AC charger (IEC 61851 / GB/T 20234.2).
    Ac,
    /// A DC charger (GB/T 27930 over CAN).
    Dc,
}

impl ConnectorKind {
    /// `AC` or `DC`.
    pub fn label(self) -> &'static str {
        match self {
            ConnectorKind::Ac => "AC",
            ConnectorKind::Dc => "DC",
        }
    }
}

/// One connector in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorRow {
    /// Global connector id.
    pub id: u32,
    /// Serial of the charger it belongs to.
    pub charger_serial: String,
    /// AC or DC.
    pub kind: ConnectorKind,
    /// What it is doing.
    pub state: ConnectorState,
    /// Power delivered now, kW.
    pub power_kw: f64,
    /// Vehicle state of charge, % (none when no vehicle is plugged in).
    pub soc_pct: Option<f64>,
    /// Output voltage, V.
    pub voltage_v: f64,
    /// Output current, A.
    pub current_a: f64,
    /// Energy of the current (or last) session, kWh.
    pub energy_kwh: f64,
    /// Current session number (none before the first plug-in).
    pub session: Option<u32>,
}

/// Live physics of one connector and its vehicle; `None` where it does not apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Physics {
    /// Output voltage, V.
    pub voltage_v: f64,
    /// Output current, A.
    pub current_a: f64,
    /// Output power, kW.
    pub power_kw: f64,
    /// Vehicle state of charge, %.
    pub soc_pct: Option<f64>,
    /// Hottest battery cell, °C.
    pub battery_temp_max_c: Option<f64>,
    /// Coldest battery cell, °C.
    pub battery_temp_min_c: Option<f64>,
    /// Charging gun (connector) temperature, °C.
    pub gun_temp_c: Option<f64>,
    /// Power limit in force (module, cabinet share or backend), kW.
    pub power_limit_kw: Option<f64>,
    /// Voltage the BMS demands (BCL), V.
    pub demand_voltage_v: Option<f64>,
    /// Current the BMS demands (BCL), A.
    pub demand_current_a: Option<f64>,
}

/// What the connector detail screen shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectorDetail {
    /// Global connector id (must match the selection to be shown).
    pub id: u32,
    /// Charger serial.
    pub charger_serial: String,
    /// State.
    pub state: Option<ConnectorState>,
    /// Live physics.
    pub physics: Physics,
    /// GB/T 27930 phase (DC only), e.g. `charging (BCL/BCS/CCS)`.
    pub gbt_phase: Option<String>,
    /// Last decoded CAN frames, already formatted, newest last.
    pub last_frames: Vec<String>,
    /// Last MQTT/HTTP messages, already formatted, newest last.
    pub last_messages: Vec<String>,
    /// The transaction, formatted (id, start, meter, state).
    pub transaction: Option<String>,
}

/// A column the connector list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    /// Global id.
    #[default]
    Id,
    /// Charger serial.
    Charger,
    /// AC/DC.
    Kind,
    /// State (in [`ConnectorState::ALL`] order).
    State,
    /// Power.
    Power,
    /// State of charge.
    Soc,
    /// Voltage.
    Voltage,
    /// Current.
    Current,
    /// Session energy.
    Energy,
    /// Session number.
    Session,
}

impl SortColumn {
    /// Every column, in list order.
    pub const ALL: [SortColumn; 10] = [
        SortColumn::Id,
        SortColumn::Charger,
        SortColumn::Kind,
        SortColumn::State,
        SortColumn::Power,
        SortColumn::Soc,
        SortColumn::Voltage,
        SortColumn::Current,
        SortColumn::Energy,
        SortColumn::Session,
    ];

    /// Column header.
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Id => "id",
            SortColumn::Charger => "charger",
            SortColumn::Kind => "kind",
            SortColumn::State => "state",
            SortColumn::Power => "kW",
            SortColumn::Soc => "SOC%",
            SortColumn::Voltage => "V",
            SortColumn::Current => "A",
            SortColumn::Energy => "kWh",
            SortColumn::Session => "sess",
        }
    }

    /// The next column (wrapping).
    pub fn next(self) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        SortColumn::ALL[(i + 1) % SortColumn::ALL.len()]
    }
}

/// Which connector rows the screen needs: the adapter answers with
/// [`DashboardModel::connectors`] starting at `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectorQuery {
    /// First row wanted, in the filtered and sorted list.
    pub offset: usize,
    /// Rows wanted.
    pub len: usize,
    /// Sort column.
    pub sort: SortColumn,
    /// Largest first.
    pub descending: bool,
    /// Filter text: whitespace-separated words that must all occur (case-insensitive) in
    /// the row's id, charger serial, kind or state name; empty matches everything.
    pub filter: String,
}

impl ConnectorQuery {
    /// Whether `row` passes the filter.
    pub fn matches(&self, row: &ConnectorRow) -> bool {
        if self.filter.trim().is_empty() {
            return true;
        }
        let haystack = format!(
            "c{} {} {} {}",
            row.id,
            row.charger_serial,
            row.kind.label(),
            row.state.name()
        )
        .to_lowercase();
        self.filter
            .split_whitespace()
            .all(|word| haystack.contains(&word.to_lowercase()))
    }

    /// Order of two rows under this query's sort (ties broken by id, so the order is total).
    pub fn compare(&self, a: &ConnectorRow, b: &ConnectorRow) -> Ordering {
        let by = match self.sort {
            SortColumn::Id => a.id.cmp(&b.id),
            SortColumn::Charger => a.charger_serial.cmp(&b.charger_serial),
            SortColumn::Kind => a.kind.cmp(&b.kind),
            SortColumn::State => a.state.cmp(&b.state),
            SortColumn::Power => a.power_kw.total_cmp(&b.power_kw),
            SortColumn::Soc => a
                .soc_pct
                .unwrap_or(-1.0)
                .total_cmp(&b.soc_pct.unwrap_or(-1.0)),
            SortColumn::Voltage => a.voltage_v.total_cmp(&b.voltage_v),
            SortColumn::Current => a.current_a.total_cmp(&b.current_a),
            SortColumn::Energy => a.energy_kwh.total_cmp(&b.energy_kwh),
            SortColumn::Session => a.session.cmp(&b.session),
        };
        let by = if self.descending { by.reverse() } else { by };
        by.then(a.id.cmp(&b.id))
    }
}

/// Filters, sorts and windows `rows` as `query` asks, for adapters that have every row.
/// Returns the window and the number of rows that passed the filter.
pub fn apply_query(rows: &[ConnectorRow], query: &ConnectorQuery) -> (Vec<ConnectorRow>, usize) {
    let mut kept: Vec<&ConnectorRow> = rows.iter().filter(|r| query.matches(r)).collect();
    kept.sort_by(|a, b| query.compare(a, b));
    let total = kept.len();
    let window = kept
        .into_iter()
        .skip(query.offset)
        .take(query.len)
        .cloned()
        .collect();
    (window, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u32, state: ConnectorState, power_kw: f64) -> ConnectorRow {
        ConnectorRow {
            id,
            charger_serial: format!("CS{:04}", id / 2),
            kind: if id.is_multiple_of(2) {
                ConnectorKind::Dc
            } else {
                ConnectorKind::Ac
            },
            state,
            power_kw,
            soc_pct: None,
            voltage_v: 0.0,
            current_a: 0.0,
            energy_kwh: 0.0,
            session: None,
        }
    }

    #[test]
    fn query_filters_sorts_and_windows() {
        let rows: Vec<_> = (0..10)
            .map(|i| {
                let state = if i % 3 == 0 {
                    ConnectorState::Charging
                } else {
                    ConnectorState::Idle
                };
                row(i, state, f64::from(i) * 10.0)
            })
            .collect();
        let q = ConnectorQuery {
            offset: 1,
            len: 2,
            sort: SortColumn::Power,
            descending: true,
            filter: "CHARGING".into(),
        };
        let (window, total) = apply_query(&rows, &q);
        // Charging rows are 0, 3, 6, 9; by power descending 9, 6, 3, 0; window [1, 3).
        assert_eq!(total, 4);
        assert_eq!(window.iter().map(|r| r.id).collect::<Vec<_>>(), vec![6, 3]);
    }

    #[test]
    fn filter_words_must_all_match() {
        let q = ConnectorQuery {
            filter: "dc idle".into(),
            ..ConnectorQuery::default()
        };
        assert!(q.matches(&row(2, ConnectorState::Idle, 0.0)));
        assert!(!q.matches(&row(3, ConnectorState::Idle, 0.0)));
        assert!(!q.matches(&row(2, ConnectorState::Charging, 0.0)));
        let by_id = ConnectorQuery {
            filter: "c7".into(),
            ..ConnectorQuery::default()
        };
        assert!(by_id.matches(&row(7, ConnectorState::Idle, 0.0)));
        assert!(!by_id.matches(&row(8, ConnectorState::Idle, 0.0)));
    }

    #[test]
    fn connector_at_maps_through_the_window_offset() {
        let m = DashboardModel {
            connectors: vec![row(40, ConnectorState::Idle, 0.0)],
            connectors_offset: 12,
            connectors_total: 100,
            ..DashboardModel::default()
        };
        assert_eq!(m.connector_at(12).map(|r| r.id), Some(40));
        assert!(m.connector_at(11).is_none());
        assert!(m.connector_at(13).is_none());
    }
}
