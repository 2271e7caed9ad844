//! The dashboard's UI state and what the user's keys do to it.
//!
//! [`App`] holds only what belongs to the screen (view, selections, sort, filters, overlays,
//! which error kinds are new); the numbers come from a [`DashboardModel`] each frame.
//! Keys turn into state changes and [`UiCommand`]s for the simulation side; rendering lives
//! in [`super::render`] and reads the state without changing it.

use super::model::{ConnectorQuery, DashboardModel, SortColumn};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::BTreeMap;

/// What the screen asks the simulation to do.
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    /// Stop the run (the report is still written).
    Quit,
    /// Pause new arrivals, or resume them.
    TogglePause,
    /// Set the arrival-rate multiplier (1.0 = as the scenario says).
    ArrivalRate(f64),
    /// Inject a fault.
    InjectFault {
        /// Where.
        target: FaultTarget,
        /// What.
        fault: FaultKind,
    },
    /// The connector whose [`super::model::ConnectorDetail`] the model should carry
    /// (`None`: no detail needed).
    SelectConnector(Option<u32>),
    /// The connector rows the list needs from now on.
    ConnectorWindow(ConnectorQuery),
}

/// Where a fault goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// The connector with this global id (and its charger, for charger-level faults).
    Selected(u32),
    /// Every connector (or the shared component: broker, backend).
    All,
}

/// A fault the user can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Cut the charger's network link to the backend.
    CutNetwork,
    /// Restart the embedded MQTT broker (drops every MQTT client).
    RestartBroker,
    /// The BMS stops answering on CAN (GB/T 27930 timeout).
    BmsTimeout,
    /// The insulation monitor reports a fault.
    InsulationFault,
    /// The gun or pack overheats.
    OverTemperature,
    /// The emergency stop is pressed.
    EmergencyStop,
    /// The backend answers slowly.
    BackendSlowdown,
}

impl FaultKind {
    /// Every fault, in menu order.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::CutNetwork,
        FaultKind::RestartBroker,
        FaultKind::BmsTimeout,
        FaultKind::InsulationFault,
        FaultKind::OverTemperature,
        FaultKind::EmergencyStop,
        FaultKind::BackendSlowdown,
    ];

    /// Menu text.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::CutNetwork => "cut the charger's network",
            FaultKind::RestartBroker => "restart the embedded broker",
            FaultKind::BmsTimeout => "BMS timeout",
            FaultKind::InsulationFault => "insulation fault",
            FaultKind::OverTemperature => "over-temperature",
            FaultKind::EmergencyStop => "emergency stop",
            FaultKind::BackendSlowdown => "backend slow-down",
        }
    }

    /// Faults of a shared component, which have no per-connector target.
    pub fn is_fleet_wide(self) -> bool {
        matches!(self, FaultKind::RestartBroker | FaultKind::BackendSlowdown)
    }
}

/// The dashboard's views, in tab order (number keys 1 to 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum View {
    /// Fleet, sessions, rates, clients, backend.
    Overview,
    /// Latency by message type.
    Latency,
    /// Errors by kind.
    Errors,
    /// The connector list and one connector's detail.
    Connectors,
    /// The fault-injection menu.
    Faults,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 5] = [
        View::Overview,
        View::Latency,
        View::Errors,
        View::Connectors,
        View::Faults,
    ];

    /// Tab title.
    pub fn label(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Latency => "Latency",
            View::Errors => "Errors",
            View::Connectors => "Connectors",
            View::Faults => "Faults",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Arrival-rate multipliers that `+` and `-` step through.
pub const RATE_STEPS: [f64; 11] = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0];

/// How long (wall seconds) a newly seen error kind stays highlighted.
pub const NEW_ERROR_HIGHLIGHT_S: f64 = 10.0;

/// Rows the connector list shows when no screen size is known yet.
const DEFAULT_LIST_ROWS: usize = 20;

/// The dashboard's UI state.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) view: View,
    /// Selected row per view (absolute index into that view's filtered list).
    pub(crate) selected: [usize; 5],
    /// Filter text per view.
    pub(crate) filters: [String; 5],
    /// Whether keys go into the current view's filter.
    pub(crate) editing_filter: bool,
    pub(crate) help: bool,
    pub(crate) sort: SortColumn,
    pub(crate) descending: bool,
    /// First connector row on screen.
    pub(crate) scroll_top: usize,
    /// Connector rows that fit on screen.
    pub(crate) list_rows: usize,
    /// The connector whose detail is open.
    pub(crate) detail: Option<u32>,
    /// The connector window of the last model: offset and ids, to know which connector
    /// is under the cursor.
    window_offset: usize,
    window_ids: Vec<u32>,
    pub(crate) fault_all: bool,
    /// Wall time (model `wall_s`) at which each error kind was first seen.
    pub(crate) error_first_seen: BTreeMap<String, f64>,
    pub(crate) wall_s: f64,
    pub(crate) rate_factor: f64,
    pub(crate) status: Option<String>,
    pub(crate) last_query: Option<ConnectorQuery>,
    /// Rows in the lists of the last model, to clamp selections.
    counts: [usize; 5],
    quit: bool,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// A dashboard on the overview.
    pub fn new() -> Self {
        App {
            view: View::Overview,
            selected: [0; 5],
            filters: Default::default(),
            editing_filter: false,
            help: false,
            sort: SortColumn::Id,
            descending: false,
            scroll_top: 0,
            list_rows: DEFAULT_LIST_ROWS,
            detail: None,
            window_offset: 0,
            window_ids: Vec::new(),
            fault_all: false,
            error_first_seen: BTreeMap::new(),
            wall_s: 0.0,
            rate_factor: 1.0,
            status: None,
            last_query: None,
            counts: [0; 5],
            quit: false,
        }
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// Whether the user asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether the help overlay is shown.
    pub fn help_shown(&self) -> bool {
        self.help
    }

    /// Whether keys currently edit the filter.
    pub fn editing_filter(&self) -> bool {
        self.editing_filter
    }

    /// The current view's filter text.
    pub fn filter(&self) -> &str {
        &self.filters[self.view.index()]
    }

    /// The current view's selected row.
    pub fn selected(&self) -> usize {
        self.selected[self.view.index()]
    }

    /// The connector list's sort column and direction.
    pub fn sort(&self) -> (SortColumn, bool) {
        (self.sort, self.descending)
    }

    /// The connector whose detail is open.
    pub fn detail(&self) -> Option<u32> {
        self.detail
    }

    /// Whether faults go to every connector rather than the selected one.
    pub fn fault_all(&self) -> bool {
        self.fault_all
    }

    /// The last status message (what the last command did).
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The arrival-rate factor the app believes is in force.
    pub fn rate_factor(&self) -> f64 {
        self.rate_factor
    }

    /// The connector rows the list needs now.
    pub fn connector_query(&self) -> ConnectorQuery {
        ConnectorQuery {
            offset: self.scroll_top,
            len: self.list_rows,
            sort: self.sort,
            descending: self.descending,
            filter: self.filters[View::Connectors.index()].clone(),
        }
    }

    /// Commands to send before the first frame (the initial connector window).
    pub fn initial_commands(&mut self) -> Vec<UiCommand> {
        let mut out = Vec::new();
        self.sync_window(&mut out);
        out
    }

    /// Takes in a new model: clamps selections, remembers the connector window (to know
    /// the connector under the cursor), and notes error kinds never seen before. Returns
    /// a new [`UiCommand::ConnectorWindow`] if the list shrank under the cursor.
    pub fn update(&mut self, model: &DashboardModel) -> Vec<UiCommand> {
        self.wall_s = model.wall_s;
        if model.arrival_rate_factor > 0.0 {
            self.rate_factor = model.arrival_rate_factor;
        }
        for e in &model.errors {
            self.error_first_seen
                .entry(e.kind.clone())
                .or_insert(model.wall_s);
        }
        self.counts[View::Latency.index()] =
            filtered(&model.latency, &self.filters[View::Latency.index()], |r| {
                &r.name
            })
            .count();
        self.counts[View::Errors.index()] =
            filtered(&model.errors, &self.filters[View::Errors.index()], |r| {
                &r.kind
            })
            .count();
        self.counts[View::Connectors.index()] = model.connectors_total;
        self.counts[View::Faults.index()] = FaultKind::ALL.len();
        for v in [View::Latency, View::Errors, View::Connectors] {
            let i = v.index();
            self.selected[i] = self.selected[i].min(self.counts[i].saturating_sub(1));
        }
        self.window_offset = model.connectors_offset;
        self.window_ids.clear();
        self.window_ids
            .extend(model.connectors.iter().map(|r| r.id));
        // Fewer rows than before (connectors left the filter): scroll back so the
        // screen is not past the end of the list.
        self.keep_cursor_visible();
        self.scroll_top = self
            .scroll_top
            .min(model.connectors_total.saturating_sub(self.list_rows));
        let mut out = Vec::new();
        self.sync_window(&mut out);
        out
    }

    /// Id of the connector under the cursor, if the last model's window holds it.
    pub fn cursor_id(&self) -> Option<u32> {
        self.selected[View::Connectors.index()]
            .checked_sub(self.window_offset)
            .and_then(|i| self.window_ids.get(i))
            .copied()
    }

    /// Whether `kind` was first seen less than [`NEW_ERROR_HIGHLIGHT_S`] ago.
    pub fn is_new_error(&self, kind: &str) -> bool {
        self.error_first_seen
            .get(kind)
            .is_some_and(|&t| self.wall_s - t < NEW_ERROR_HIGHLIGHT_S)
    }

    /// Tells the app how big the terminal is (the connector list's window depends on it).
    pub fn resize(&mut self, width: u16, height: u16) -> Vec<UiCommand> {
        self.list_rows = super::render::connector_list_rows(width, height).max(1);
        let mut out = Vec::new();
        self.keep_cursor_visible();
        self.sync_window(&mut out);
        out
    }

    /// Handles one key; returns what the simulation should do.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<UiCommand> {
        let mut out = Vec::new();
        if key.kind == KeyEventKind::Release {
            return out;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
            self.quit = true;
            out.push(UiCommand::Quit);
            return out;
        }
        if self.editing_filter {
            self.edit_filter(key.code, &mut out);
        } else if self.help {
            // Any key closes the help; `q` still quits.
            self.help = false;
            if key.code == KeyCode::Char('q') {
                self.quit = true;
                out.push(UiCommand::Quit);
            }
        } else {
            self.command_key(key.code, &mut out);
        }
        self.sync_window(&mut out);
        out
    }

    fn edit_filter(&mut self, code: KeyCode, out: &mut Vec<UiCommand>) {
        let i = self.view.index();
        match code {
            KeyCode::Enter => self.editing_filter = false,
            KeyCode::Esc => {
                self.editing_filter = false;
                self.filters[i].clear();
            }
            KeyCode::Backspace => {
                self.filters[i].pop();
            }
            KeyCode::Char(c) if !c.is_control() => self.filters[i].push(c),
            _ => return,
        }
        // A new filter shows a new list: start at its top.
        self.selected[i] = 0;
        if self.view == View::Connectors {
            self.scroll_top = 0;
        }
        let _ = out;
    }

    fn command_key(&mut self, code: KeyCode, out: &mut Vec<UiCommand>) {
        match code {
            KeyCode::Char('q') => {
                self.quit = true;
                out.push(UiCommand::Quit);
            }
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab => self.switch_view(View::ALL[(self.view.index() + 1) % 5], out),
            KeyCode::BackTab => self.switch_view(View::ALL[(self.view.index() + 4) % 5], out),
            KeyCode::Char(c @ '1'..='5') => {
                let n = c as usize - '1' as usize;
                self.switch_view(View::ALL[n], out);
            }
            KeyCode::Char('/')
                if matches!(self.view, View::Latency | View::Errors | View::Connectors)
                    && self.detail.is_none() =>
            {
                self.editing_filter = true;
            }
            KeyCode::Char('p') => out.push(UiCommand::TogglePause),
            KeyCode::Char('+') | KeyCode::Char('=') => self.step_rate(true, out),
            KeyCode::Char('-') | KeyCode::Char('_') => self.step_rate(false, out),
            KeyCode::Up | KeyCode::Char('k') => self.move_cursor(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_cursor(1),
            KeyCode::PageUp => self.move_cursor(-(self.list_rows as i64)),
            KeyCode::PageDown => self.move_cursor(self.list_rows as i64),
            KeyCode::Home | KeyCode::Char('g') => self.move_cursor(i64::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_cursor(i64::MAX / 2),
            KeyCode::Enter => self.enter(out),
            KeyCode::Esc => self.escape(out),
            KeyCode::Char('f') => {
                self.fault_all = self.cursor_id().is_none();
                self.switch_view(View::Faults, out);
            }
            KeyCode::Char('a') if self.view == View::Faults => self.fault_all = !self.fault_all,
            KeyCode::Char('s') if self.view == View::Connectors => {
                self.sort = self.sort.next();
                self.selected[View::Connectors.index()] = 0;
                self.scroll_top = 0;
            }
            KeyCode::Char('S') | KeyCode::Char('r') if self.view == View::Connectors => {
                self.descending = !self.descending;
                self.selected[View::Connectors.index()] = 0;
                self.scroll_top = 0;
            }
            _ => {}
        }
    }

    fn switch_view(&mut self, view: View, out: &mut Vec<UiCommand>) {
        if self.view == View::Connectors && view != View::Connectors && self.detail.is_some() {
            self.detail = None;
            out.push(UiCommand::SelectConnector(None));
        }
        self.view = view;
    }

    fn step_rate(&mut self, up: bool, out: &mut Vec<UiCommand>) {
        let current = self.rate_factor;
        let next = if up {
            RATE_STEPS.iter().copied().find(|&s| s > current + 1e-9)
        } else {
            RATE_STEPS
                .iter()
                .rev()
                .copied()
                .find(|&s| s < current - 1e-9)
        };
        match next {
            Some(f) => {
                self.rate_factor = f;
                self.status = Some(format!("arrival rate x{f}"));
                out.push(UiCommand::ArrivalRate(f));
            }
            None => self.status = Some(format!("arrival rate stays at x{current}")),
        }
    }

    fn move_cursor(&mut self, delta: i64) {
        if self.view == View::Connectors && self.detail.is_some() {
            return;
        }
        let i = self.view.index();
        let count = if self.view == View::Faults {
            FaultKind::ALL.len()
        } else {
            self.counts[i]
        };
        let last = count.saturating_sub(1) as i64;
        let next = (self.selected[i] as i64)
            .saturating_add(delta)
            .clamp(0, last);
        self.selected[i] = next as usize;
        if self.view == View::Connectors {
            self.keep_cursor_visible();
        }
    }

    fn keep_cursor_visible(&mut self) {
        let cursor = self.selected[View::Connectors.index()];
        if cursor < self.scroll_top {
            self.scroll_top = cursor;
        } else if cursor >= self.scroll_top + self.list_rows {
            self.scroll_top = cursor + 1 - self.list_rows;
        }
    }

    fn enter(&mut self, out: &mut Vec<UiCommand>) {
        match self.view {
            View::Connectors if self.detail.is_none() => {
                if let Some(id) = self.cursor_id() {
                    self.detail = Some(id);
                    out.push(UiCommand::SelectConnector(Some(id)));
                }
            }
            View::Faults => self.inject(out),
            _ => {}
        }
    }

    fn escape(&mut self, out: &mut Vec<UiCommand>) {
        if self.detail.is_some() {
            self.detail = None;
            out.push(UiCommand::SelectConnector(None));
        } else if !self.filters[self.view.index()].is_empty() {
            self.filters[self.view.index()].clear();
            self.selected[self.view.index()] = 0;
            if self.view == View::Connectors {
                self.scroll_top = 0;
            }
        }
    }

    /// The fault under the cursor of the fault menu.
    pub fn selected_fault(&self) -> FaultKind {
        let i = self.selected[View::Faults.index()].min(FaultKind::ALL.len() - 1);
        FaultKind::ALL[i]
    }

    /// Where the fault under the cursor would go, if anywhere.
    pub fn fault_target(&self) -> Option<FaultTarget> {
        if self.fault_all || self.selected_fault().is_fleet_wide() {
            return Some(FaultTarget::All);
        }
        self.detail.or(self.cursor_id()).map(FaultTarget::Selected)
    }

    fn inject(&mut self, out: &mut Vec<UiCommand>) {
        let fault = self.selected_fault();
        match self.fault_target() {
            Some(target) => {
                let on = match target {
                    FaultTarget::All => "all connectors".to_owned(),
                    FaultTarget::Selected(id) => format!("connector C{id}"),
                };
                self.status = Some(format!("injected {} on {on}", fault.label()));
                out.push(UiCommand::InjectFault { target, fault });
            }
            None => {
                self.status =
                    Some("no connector selected: press a to target all connectors".to_owned());
            }
        }
    }

    /// Emits a [`UiCommand::ConnectorWindow`] when the rows the list needs have changed.
    fn sync_window(&mut self, out: &mut Vec<UiCommand>) {
        let query = self.connector_query();
        if self.last_query.as_ref() != Some(&query) {
            self.last_query = Some(query.clone());
            out.push(UiCommand::ConnectorWindow(query));
        }
    }
}

/// Rows of `rows` whose name (by `name`) contains every word of `filter`, case-insensitive.
pub(crate) fn filtered<'a, T>(
    rows: &'a [T],
    filter: &'a str,
    name: impl Fn(&T) -> &str + 'a,
) -> impl Iterator<Item = &'a T> + 'a {
    let words: Vec<String> = filter.split_whitespace().map(str::to_lowercase).collect();
    rows.iter().filter(move |r| {
        let n = name(r).to_lowercase();
        words.iter().all(|w| n.contains(w.as_str()))
    })
}
