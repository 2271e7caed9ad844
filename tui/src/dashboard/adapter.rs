//! World → [`DashboardModel`]: the simulation side of the dashboard.
//!
//! [`Adapter::observe`] runs after every chunk of the pacing loop and keeps what a single
//! look at the world cannot give: per-second message rates, each message type's latency
//! over the last 10 s of virtual time (a rolling window of per-second histograms) and over
//! time, and error rates. [`Adapter::build`] copies the numbers of one frame into a model;
//! it is called only when the screen has taken the previous one, so a busy simulation
//! builds at most one model per drawn frame.

use super::model::{
    BackendHealth, ConnectorDetail, ConnectorKind, ConnectorQuery, ConnectorRow, DashboardModel,
    ErrorRow, HealthStatus, LatencyRow, Percentiles, Physics, RateSeries, SortColumn, Title,
    apply_query,
};
use hdrhistogram::Histogram;
use sim_core::fleet::{ConnectorView, World};
use sim_core::metrics::{LATENCY_MAX_US, Metrics};
use std::collections::{BTreeMap, VecDeque};

/// Seconds of virtual time between two observations.
const OBSERVE_EVERY_S: f64 = 1.0;
/// Length of the "recent" latency and error-rate window, s.
const WINDOW_S: f64 = 10.0;
/// Points kept for the rate sparklines.
const RATE_POINTS: usize = 300;
/// Points kept for each latency-over-time chart.
const LATENCY_POINTS: usize = 600;
/// Quantiles of the percentile-distribution view.
const QUANTILES: [f64; 9] = [0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0];
/// Latency (ms) above which the backend counts as degraded.
const DEGRADED_P99_MS: f64 = 1_000.0;

/// One message type's latency history.
#[derive(Debug)]
struct LatencyTrack {
    /// The cumulative histogram at the last observation.
    prev: Histogram<u64>,
    /// Per-observation histograms (2 significant digits) of the last [`WINDOW_S`].
    window: VecDeque<(f64, Histogram<u64>)>,
    /// `(t_s, p50, p99, max)` per observation with samples.
    over_time: VecDeque<(f64, f64, f64, f64)>,
}

/// Keeps the rolling windows and builds dashboard models from a running [`World`].
#[derive(Debug)]
pub struct Adapter {
    title: Title,
    next_observe_s: f64,
    last_observe_s: f64,
    last_totals: BTreeMap<&'static str, u64>,
    rates: RateSeries,
    latency: BTreeMap<String, LatencyTrack>,
    /// Error totals by kind at each observation of the window, oldest first.
    error_history: VecDeque<(f64, BTreeMap<String, u64>)>,
    /// The world's metrics with those kept outside it (a served HTTP platform), as of
    /// the last observation; `None` when everything is in the world.
    merged: Option<Metrics>,
}

/// A small histogram for the rolling window.
fn window_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 2)
        .expect("constant bounds 1..=1h with 2 significant digits are valid")
}

impl Adapter {
    /// An adapter for the run named by `title`.
    pub fn new(title: Title) -> Self {
        Adapter {
            title,
            next_observe_s: 0.0,
            last_observe_s: 0.0,
            last_totals: BTreeMap::new(),
            rates: RateSeries::default(),
            latency: BTreeMap::new(),
            error_history: VecDeque::new(),
            merged: None,
        }
    }

    /// The metrics the model shows.
    fn metrics<'a>(&'a self, world: &'a World) -> &'a Metrics {
        self.merged.as_ref().unwrap_or(world.metrics())
    }

    /// Takes the per-second readings if a second of virtual time has passed since the last.
    /// `external` adds metrics kept outside the world (a served HTTP platform's).
    pub fn observe(&mut self, world: &World, external: Option<&dyn Fn(&mut Metrics)>) {
        let now_s = world.now().as_secs_f64();
        if now_s < self.next_observe_s {
            return;
        }
        let merged = external.map(|add| {
            let mut m = Metrics::new();
            m.absorb(world.metrics());
            add(&mut m);
            m
        });
        let metrics = merged.as_ref().unwrap_or(world.metrics());
        // Observations are at least a second apart, except the first (at time zero, after
        // the start-up burst): that one counts as the first second's rate.
        let dt = (now_s - self.last_observe_s).max(OBSERVE_EVERY_S);
        self.observe_rates(metrics, world.can_frames_in_progress(), dt);
        self.observe_latency(metrics, now_s);
        self.observe_errors(metrics, now_s);
        self.merged = merged;
        self.last_observe_s = now_s;
        self.next_observe_s = now_s + OBSERVE_EVERY_S;
    }

    fn observe_rates(&mut self, metrics: &Metrics, can_in_progress: u64, dt: f64) {
        let mut totals = metrics.message_totals_by_protocol();
        *totals.entry("can").or_default() += can_in_progress;
        let per_s = |name: &str, last: &BTreeMap<&'static str, u64>| {
            let now = totals.get(name).copied().unwrap_or(0);
            let before = last.get(name).copied().unwrap_or(0);
            (now.saturating_sub(before) as f64 / dt).round() as u64
        };
        let points = [
            (
                &mut self.rates.mqtt_msgs_per_s,
                per_s("mqtt", &self.last_totals),
            ),
            (
                &mut self.rates.http_reqs_per_s,
                per_s("http", &self.last_totals),
            ),
            (
                &mut self.rates.can_frames_per_s,
                per_s("can", &self.last_totals),
            ),
        ];
        for (series, value) in points {
            series.push(value);
            if series.len() > RATE_POINTS {
                series.remove(0);
            }
        }
        self.last_totals = totals;
    }

    fn observe_latency(&mut self, metrics: &Metrics, now_s: f64) {
        for (name, series) in metrics.latency_series() {
            let current = &series.corrected_us;
            let track = self
                .latency
                .entry(name.to_owned())
                .or_insert_with(|| LatencyTrack {
                    prev: Histogram::new_from(current),
                    window: VecDeque::new(),
                    over_time: VecDeque::new(),
                });
            if current.len() == track.prev.len() {
                continue;
            }
            let mut delta = current.clone();
            if delta.subtract(&track.prev).is_err() {
                // Not a prefix (the histogram was replaced): count it all as new.
                delta = current.clone();
            }
            let mut small = window_histogram();
            // Same value range; adding re-buckets to the coarser precision.
            let _ = small.add(&delta);
            let p = Percentiles::from_histogram(&small);
            track.over_time.push_back((now_s, p.p50, p.p99, p.max));
            if track.over_time.len() > LATENCY_POINTS {
                track.over_time.pop_front();
            }
            track.window.push_back((now_s, small));
            track.prev = current.clone();
        }
        for track in self.latency.values_mut() {
            while track
                .window
                .front()
                .is_some_and(|(t, _)| *t <= now_s - WINDOW_S)
            {
                track.window.pop_front();
            }
        }
    }

    fn observe_errors(&mut self, metrics: &Metrics, now_s: f64) {
        let totals = metrics
            .errors()
            .into_iter()
            .map(|(k, s)| (k, s.count))
            .collect();
        self.error_history.push_back((now_s, totals));
        while self
            .error_history
            .front()
            .is_some_and(|(t, _)| *t < now_s - WINDOW_S)
            && self.error_history.len() > 2
        {
            self.error_history.pop_front();
        }
    }

    /// One frame's model: fleet totals, rates, latency, errors, the connector window
    /// `query` asks for and the detail of connector `selected`.
    pub fn build(
        &self,
        world: &World,
        query: &ConnectorQuery,
        selected: Option<u32>,
        wall_s: f64,
        paused: bool,
    ) -> DashboardModel {
        let snap = world.snapshot();
        let (online, clients) = world.mqtt_online();
        let latency = self.latency_rows(world);
        let errors = self.error_rows(world);
        let (connectors, connectors_total) = connector_window(world, query);
        DashboardModel {
            title: self.title.clone(),
            sim_now_s: snap.now.as_secs_f64(),
            sim_end_s: snap.end.as_secs_f64(),
            wall_s,
            paused,
            arrival_rate_factor: world.arrival_rate_factor(),
            states: snap.states,
            sessions_started: snap.sessions.0,
            sessions_completed: snap.sessions.1,
            sessions_failed: snap.sessions.2,
            energy_kwh: snap.energy_kwh,
            clients_connected: online,
            clients_total: clients,
            ramp_progress: if clients == 0 {
                1.0
            } else {
                online as f64 / clients as f64
            },
            backend: self.health(&latency, &errors, online, clients, snap.now.as_secs_f64()),
            rates: self.rates.clone(),
            latency,
            errors,
            connectors,
            connectors_offset: query.offset,
            connectors_total,
            detail: selected.and_then(|id| connector_detail(world, id)),
        }
    }

    fn latency_rows(&self, world: &World) -> Vec<LatencyRow> {
        self.metrics(world)
            .latency_series()
            .map(|(name, series)| {
                let whole = &series.corrected_us;
                let track = self.latency.get(name);
                let mut recent = window_histogram();
                if let Some(t) = track {
                    for (_, h) in &t.window {
                        let _ = recent.add(h);
                    }
                }
                LatencyRow {
                    name: name.to_owned(),
                    whole: Percentiles::from_histogram(whole),
                    last_10s: Percentiles::from_histogram(&recent),
                    over_time: track
                        .map(|t| t.over_time.iter().copied().collect())
                        .unwrap_or_default(),
                    distribution: QUANTILES
                        .iter()
                        .map(|&q| (q, whole.value_at_quantile(q) as f64 / 1000.0))
                        .collect(),
                }
            })
            .collect()
    }

    fn error_rows(&self, world: &World) -> Vec<ErrorRow> {
        let oldest = self.error_history.front();
        self.metrics(world)
            .errors()
            .into_iter()
            .map(|(kind, stat)| {
                let rate_per_s = match oldest {
                    Some((t0, counts)) => {
                        let span = (world.now().as_secs_f64() - t0).max(1.0);
                        let before = counts.get(&kind).copied().unwrap_or(0);
                        stat.count.saturating_sub(before) as f64 / span
                    }
                    None => 0.0,
                };
                ErrorRow {
                    kind,
                    count: stat.count,
                    rate_per_s,
                    first_s: stat.first_us as f64 / 1e6,
                    last_s: stat.last_us as f64 / 1e6,
                    last_text: stat.last_text,
                }
            })
            .collect()
    }

    /// OK, degraded (slow answers or errors in the last 10 s) or down (no charger
    /// connected long after the start).
    fn health(
        &self,
        latency: &[LatencyRow],
        errors: &[ErrorRow],
        online: u64,
        clients: u64,
        now_s: f64,
    ) -> BackendHealth {
        let p99 = latency
            .iter()
            .filter(|r| r.last_10s.count > 0)
            .map(|r| r.last_10s.p99)
            .fold(0.0, f64::max);
        let error_rate = errors.iter().map(|e| e.rate_per_s).fold(0.0, |a, b| a + b);
        let status = if clients > 0 && online == 0 && now_s > 30.0 {
            HealthStatus::Down
        } else if p99 > DEGRADED_P99_MS || error_rate > 0.0 {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        };
        let text = if clients > 0 {
            format!("p99 {p99:.0} ms, {error_rate:.1} err/s, {online}/{clients} up")
        } else {
            format!("p99 {p99:.0} ms, {error_rate:.1} err/s")
        };
        BackendHealth { status, text }
    }
}

fn row_of(v: &ConnectorView) -> ConnectorRow {
    ConnectorRow {
        id: v.id,
        charger_serial: v.charger_serial.clone(),
        kind: if v.dc {
            ConnectorKind::Dc
        } else {
            ConnectorKind::Ac
        },
        state: v.state,
        power_kw: v.power_kw,
        soc_pct: v.soc_pct,
        voltage_v: v.voltage_v,
        current_a: v.current_a,
        energy_kwh: v.session_energy_kwh,
        session: v.session,
    }
}

/// The rows `query` asks for. The world keeps connectors in id order, so the default
/// view (by id, no filter) reads only the window; other sorts and filters read them all.
fn connector_window(world: &World, query: &ConnectorQuery) -> (Vec<ConnectorRow>, usize) {
    let n = world.connector_count();
    if query.sort == SortColumn::Id && query.filter.trim().is_empty() {
        let ids: Vec<usize> = if query.descending {
            (0..n).rev().skip(query.offset).take(query.len).collect()
        } else {
            (query.offset..n).take(query.len).collect()
        };
        let rows = ids
            .into_iter()
            .filter_map(|ci| world.connector_view(ci))
            .map(|v| row_of(&v))
            .collect();
        return (rows, n);
    }
    let all: Vec<ConnectorRow> = (0..n)
        .filter_map(|ci| world.connector_view(ci))
        .map(|v| row_of(&v))
        .collect();
    apply_query(&all, query)
}

/// The detail of the connector with fleet id `id`, if this world runs it.
fn connector_detail(world: &World, id: u32) -> Option<ConnectorDetail> {
    let ci = world.connector_index(id)?;
    let v = world.connector_view(ci)?;
    let mut last_messages = world.connector_mqtt_summary(ci);
    if let Some(vin) = &v.vin {
        last_messages.push(format!("vehicle VIN {vin}"));
    }
    Some(ConnectorDetail {
        id,
        charger_serial: v.charger_serial.clone(),
        state: Some(v.state),
        physics: Physics {
            voltage_v: v.voltage_v,
            current_a: v.current_a,
            power_kw: v.power_kw,
            soc_pct: v.soc_pct,
            battery_temp_max_c: v.pack_temperature_c.map(|t| t.1),
            battery_temp_min_c: v.pack_temperature_c.map(|t| t.0),
            gun_temp_c: Some(v.gun_temperature_c),
            power_limit_kw: None,
            demand_voltage_v: v.demand.map(|d| d.0),
            demand_current_a: v.demand.map(|d| d.1),
        },
        gbt_phase: v.gbt_phase.clone(),
        last_frames: world.connector_gbt_messages(ci),
        last_messages,
        transaction: v.transaction.map(|record| {
            format!(
                "record {record}, session {}, {:.2} kWh so far",
                v.session.unwrap_or(0),
                v.session_energy_kwh
            )
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::fleet::WorldConfig;
    use sim_core::time::{Duration, Instant};

    fn world() -> World {
        let lib = profiles::Library::bundled().unwrap();
        let scenario = lib.load_scenario("ci-smoke").unwrap();
        World::new(
            &scenario,
            WorldConfig {
                seed: 7,
                duration: Some(Duration::from_secs(600)),
                trace_level: None,
                shard: sim_core::fleet::Shard::WHOLE,
                sample_interval: None,
                http_external: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_running_world_fills_every_part_of_the_model() {
        let mut w = world();
        let mut a = Adapter::new(Title::default());
        for s in 1..=120 {
            w.run_until(Instant::from_secs(s));
            a.observe(&w, None);
        }
        let q = ConnectorQuery {
            len: 4,
            ..ConnectorQuery::default()
        };
        let m = a.build(&w, &q, Some(0), 1.0, false);
        assert_eq!(m.connector_count(), w.connector_count() as u64);
        assert!(m.sessions_started > 0, "{m:?}");
        assert!(m.energy_kwh > 0.0);
        assert!(m.rates.mqtt_msgs_per_s.iter().any(|&r| r > 0));
        // CAN frames are counted when a GB/T session ends, so their rate comes in bursts.
        assert_eq!(
            m.rates.can_frames_per_s.len(),
            m.rates.mqtt_msgs_per_s.len()
        );
        assert!(m.latency.iter().any(|r| r.name.starts_with("mqtt.")));
        assert!(m.latency.iter().any(|r| r.name.starts_with("http.")));
        for row in &m.latency {
            assert!(row.whole.count >= row.last_10s.count, "{row:?}");
            assert_eq!(row.distribution.len(), QUANTILES.len());
        }
        assert_eq!(m.connectors.len(), 4);
        assert_eq!(m.connectors[0].id, 0);
        assert_eq!(m.connectors_total, w.connector_count());
        let detail = m.detail.expect("connector 0 exists");
        assert_eq!(detail.id, 0);
        assert!(m.clients_total > 0);
    }

    #[test]
    fn the_recent_window_forgets_old_samples() {
        let mut w = world();
        let mut a = Adapter::new(Title::default());
        for s in 1..=60 {
            w.run_until(Instant::from_secs(s));
            a.observe(&w, None);
        }
        for track in a.latency.values() {
            let oldest = track.window.front().map_or(60.0, |(t, _)| *t);
            assert!(oldest > 60.0 - WINDOW_S - 1e-9, "{oldest}");
        }
    }

    #[test]
    fn sorted_and_filtered_windows_match_the_full_query() {
        let mut w = world();
        w.run_until(Instant::from_secs(60));
        let a = Adapter::new(Title::default());
        let q = ConnectorQuery {
            offset: 1,
            len: 3,
            sort: SortColumn::Power,
            descending: true,
            filter: "dc".into(),
        };
        let m = a.build(&w, &q, None, 0.0, false);
        assert!(m.connectors.iter().all(|r| r.kind == ConnectorKind::Dc));
        assert!(
            m.connectors
                .windows(2)
                .all(|p| p[0].power_kw >= p[1].power_kw)
        );
        assert!(m.detail.is_none());
    }
}
