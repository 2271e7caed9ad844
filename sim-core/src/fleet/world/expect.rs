//! The scenario's `[[expect]]` entries as report assertions: a journal of what the fleet,
//! the backend and the platform did (stops, StopTransaction confirmations, alarms at the
//! platform, time spent in each connector state), and an evaluator that compares it with
//! every expectation and says in words what was expected and what was seen.

use super::World;
use crate::fleet::events::{ConnectorState, StopReason};
use crate::report::Assertion;
use crate::tcec::platform::Store;
use crate::time::{Duration, Instant};
use profiles::timeline::{ExpectKind, Expectation, Scope};
use std::collections::BTreeMap;

/// A session end.
#[derive(Debug, Clone, Copy)]
struct StopSeen {
    at: Instant,
    connector: u32,
    reason: StopReason,
    /// Ended before energy flowed (no transaction to stop).
    aborted: bool,
}

/// A StopTransaction a charger sent, and when the backend confirmed it.
#[derive(Debug, Clone)]
struct TxSeen {
    connector: u32,
    sent: Instant,
    confirmed: Vec<Instant>,
}

/// An alarm the platform accepted.
#[derive(Debug, Clone, Copy)]
struct AlarmSeen {
    at: Instant,
    code: u32,
}

/// What the in-process platform had ingested, and the operator still owed it, at a time
/// (recorded when it changed, only with a `data_completed` expectation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DataSample {
    /// When.
    pub(super) at: Instant,
    /// Requests the platform answered with an injected fault.
    pub(super) faulted: u64,
    /// Status, BMS, alarm and event pushes it accepted.
    pub(super) accepted: u64,
    /// Records it recovered with `supplement_collect`.
    pub(super) supplemented: u64,
    /// Pushes the operator gave up.
    pub(super) given_up: u64,
    /// Pushes queued or in flight at the operator.
    pub(super) pending: usize,
}

/// The longest stay seen in one state.
#[derive(Debug, Clone, Copy)]
struct Stay {
    length: Duration,
    connector: u32,
    since: Instant,
}

/// What the expectations are checked against.
#[derive(Debug, Default)]
pub(super) struct Journal {
    stops: Vec<StopSeen>,
    /// By (local charger, record id).
    tx: BTreeMap<(usize, u32), TxSeen>,
    alarms: Vec<AlarmSeen>,
    alarms_counted: u64,
    /// Per local connector: its state and since when (only with a `no_stuck_state`).
    states: Option<Vec<(ConnectorState, Instant)>>,
    worst: BTreeMap<&'static str, Stay>,
    /// Per ended session: connector, delivered and reported energy, Wh.
    energy: Vec<(u32, f64, f64)>,
    /// The platform's data over time (only with a `data_completed`).
    data: Option<Vec<DataSample>>,
    /// StopTransactions sent this close to the end need not be confirmed yet.
    pub(super) settle: Duration,
}

impl Journal {
    /// A journal for `connectors` local connectors; `watch_states` samples their states.
    pub(super) fn new(connectors: usize, watch_states: bool) -> Self {
        Journal {
            states: watch_states.then(|| vec![(ConnectorState::Idle, Instant::ZERO); connectors]),
            ..Journal::default()
        }
    }

    /// Starts recording the platform's data (for a `data_completed` expectation).
    pub(super) fn watch_data(&mut self) {
        self.data.get_or_insert_with(Vec::new);
    }

    /// The platform's data now; kept when something changed.
    pub(super) fn data_seen(&mut self, sample: DataSample) {
        let Some(data) = self.data.as_mut() else {
            return;
        };
        let same = |a: &DataSample| {
            DataSample {
                at: sample.at,
                ..*a
            } == sample
        };
        if !data.last().is_some_and(same) {
            data.push(sample);
        }
    }

    /// Whether connector states are sampled.
    pub(super) fn watches_states(&self) -> bool {
        self.states.is_some()
    }

    /// Connector `ci` (fleet id `id`) is in `state` at `now`.
    pub(super) fn state_seen(&mut self, now: Instant, ci: usize, id: u32, state: ConnectorState) {
        let Some(states) = self.states.as_mut() else {
            return;
        };
        let (was, since) = states[ci];
        if was != state {
            states[ci] = (state, now);
            self.close(was, id, since, now);
        }
    }

    fn close(&mut self, state: ConnectorState, connector: u32, since: Instant, now: Instant) {
        let length = now - since;
        let worst = self.worst.entry(state.name()).or_insert(Stay {
            length: Duration::ZERO,
            connector,
            since,
        });
        if length > worst.length {
            *worst = Stay {
                length,
                connector,
                since,
            };
        }
    }

    /// New alarms in the platform's store arrived at `now`.
    pub(super) fn alarms_arrived(&mut self, now: Instant, store: &Store) {
        let new = store.counts.alarms.saturating_sub(self.alarms_counted);
        self.alarms_counted = store.counts.alarms;
        let kept = (new as usize).min(store.alarms.len());
        for a in store.alarms.iter().skip(store.alarms.len() - kept) {
            self.alarms.push(AlarmSeen {
                at: now,
                code: u32::try_from(a.alarm_code.code()).unwrap_or(0),
            });
        }
    }
}

fn secs(t: Instant) -> String {
    format!("t={:.1} s", t.as_secs_f64())
}

fn reason_name(r: StopReason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl World {
    /// A session of connector `ci` ended for `reason` (`aborted`: before energy flowed).
    pub(super) fn timeline_stop(&mut self, ci: usize, reason: StopReason, aborted: bool) {
        let (now, connector) = (self.now, self.connectors[ci].global_id);
        if let Some(t) = self.timeline.as_mut() {
            t.journal.stops.push(StopSeen {
                at: now,
                connector,
                reason,
                aborted,
            });
        }
    }

    /// Connector `ci`'s session ended having delivered `true_wh` and reported `reported_wh`.
    pub(super) fn timeline_energy(&mut self, ci: usize, true_wh: f64, reported_wh: f64) {
        let connector = self.connectors[ci].global_id;
        if let Some(t) = self.timeline.as_mut() {
            t.journal.energy.push((connector, true_wh, reported_wh));
        }
    }

    /// Connector `ci`'s charger sent StopTransaction for `record`.
    pub(super) fn timeline_tx_stop(&mut self, ci: usize, record: u32, _reason: StopReason) {
        let (now, connector, k) = (
            self.now,
            self.connectors[ci].global_id,
            self.connectors[ci].charger,
        );
        if let Some(t) = self.timeline.as_mut() {
            t.journal.tx.insert(
                (k, record),
                TxSeen {
                    connector,
                    sent: now,
                    confirmed: Vec::new(),
                },
            );
        }
    }

    /// The backend confirmed charger `k`'s transaction `record`.
    pub(super) fn timeline_tx_confirmed(&mut self, k: usize, record: u32) {
        let now = self.now;
        if let Some(tx) = self
            .timeline
            .as_mut()
            .and_then(|t| t.journal.tx.get_mut(&(k, record)))
        {
            tx.confirmed.push(now);
        }
    }

    /// Every expectation as an assertion (closing the state watch at the run's end).
    pub(super) fn timeline_assertions(&mut self) -> Vec<Assertion> {
        let now = self.now;
        let Some(mut t) = self.timeline.take() else {
            return Vec::new();
        };
        if let Some(states) = t.journal.states.take() {
            for (ci, (state, since)) in states.into_iter().enumerate() {
                t.journal
                    .close(state, self.connectors[ci].global_id, since, now);
            }
        }
        let out = t
            .expects
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let kind = serde_json::to_value(x.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let (passed, detail) = self.evaluate(&t, x);
                Assertion {
                    name: x
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("expect.{i}.{kind}")),
                    passed,
                    detail,
                }
            })
            .collect();
        self.timeline = Some(t);
        out
    }

    fn evaluate(&self, t: &super::timeline::TimelineSide, x: &Expectation) -> (bool, String) {
        match x.kind {
            ExpectKind::StopTransaction => self.expect_stop(t, x),
            ExpectKind::Alarm => self.expect_alarm(t, x),
            ExpectKind::TransactionsConfirmedOnce => self.expect_confirmed(t),
            ExpectKind::Latency => self.expect_latency(x),
            ExpectKind::ErrorRate => self.expect_error_rate(x),
            ExpectKind::NoStuckState => expect_not_stuck(t, x),
            ExpectKind::DataCompleted => self.expect_data_completed(t, x),
            ExpectKind::MeterMismatch => expect_meter_match(t, x),
        }
    }

    fn expect_stop(&self, t: &super::timeline::TimelineSide, x: &Expectation) -> (bool, String) {
        let label = x.after.as_deref().unwrap_or_default();
        let want = x.reason.as_deref().unwrap_or_default();
        let within = Duration::from_secs_f64(x.within_s.unwrap_or(0.0));
        let Some(entry) = t.entries.iter().find(|e| e.spec.label() == label) else {
            return (false, format!("no timeline entry {label:?}"));
        };
        let Some(fired) = entry.fired else {
            return (false, never_fired(label, entry.spec.when.as_deref()));
        };
        if entry.hits.is_empty() {
            return (
                false,
                format!(
                    "{label} fired at {} but reached no connector, so nothing could stop",
                    secs(fired)
                ),
            );
        }
        let mut ok = true;
        let mut lines = Vec::new();
        for &id in &entry.hits {
            let (good, line) = self.one_stop(t, id, fired, want, within);
            ok &= good;
            lines.push(line);
        }
        let head = format!(
            "expected: every connector {label} hit at {} stops with {want} and the backend confirms its StopTransaction within {:.0} s",
            secs(fired),
            within.as_secs_f64()
        );
        (ok, format!("{head}; seen: {}", lines.join("; ")))
    }

    fn one_stop(
        &self,
        t: &super::timeline::TimelineSide,
        id: u32,
        fired: Instant,
        want: &str,
        within: Duration,
    ) -> (bool, String) {
        let Some(stop) = t
            .journal
            .stops
            .iter()
            .find(|s| s.connector == id && s.at >= fired)
        else {
            return (false, format!("connector {id} never stopped"));
        };
        let got = reason_name(stop.reason);
        let after = (stop.at - fired).as_secs_f64();
        if got != want {
            return (
                false,
                format!("connector {id} stopped with {got} after {after:.1} s, not {want}"),
            );
        }
        if stop.at - fired > within {
            return (
                false,
                format!("connector {id} stopped with {got} only after {after:.1} s"),
            );
        }
        if self.mqtt.is_none() || stop.aborted {
            return (
                true,
                format!(
                    "connector {id} stopped with {got} after {after:.1} s (no transaction to confirm)"
                ),
            );
        }
        let stopped = format!("connector {id} stopped with {got} after {after:.1} s");
        match t
            .journal
            .tx
            .values()
            .find(|tx| tx.connector == id && tx.sent >= fired)
        {
            None => (false, format!("{stopped} but sent no StopTransactionReq")),
            Some(tx) => confirmation(tx, &stopped, fired, within),
        }
    }

    fn expect_alarm(&self, t: &super::timeline::TimelineSide, x: &Expectation) -> (bool, String) {
        let code = x.code.unwrap_or(0);
        let within = Duration::from_secs_f64(x.within_s.unwrap_or(0.0));
        if self.http.is_none() {
            return (false, "the platform protocol is off ([http] enabled = false): no notification_alarmInfo can arrive".into());
        }
        if !self.http_in_memory() {
            return (false, "cannot be checked: alarms are seen only at chargestorm's in-process reference platform, and this run pushes to a platform over HTTP".into());
        }
        let (from, need, what) = match x.after.as_deref() {
            None => (Instant::ZERO, 1, "the run's start".to_owned()),
            Some(label) => {
                let Some(entry) = t.entries.iter().find(|e| e.spec.label() == label) else {
                    return (false, format!("no timeline entry {label:?}"));
                };
                let Some(fired) = entry.fired else {
                    return (false, never_fired(label, entry.spec.when.as_deref()));
                };
                let per_connector = entry.spec.action.scope() != Scope::Fleet;
                let need = if per_connector {
                    entry.hits.len().max(1)
                } else {
                    1
                };
                let reached = if per_connector {
                    format!(" (it reached connectors {:?})", entry.hits)
                } else {
                    String::new()
                };
                (fired, need, format!("{label} at {}{reached}", secs(fired)))
            }
        };
        let seen: Vec<Instant> = t
            .journal
            .alarms
            .iter()
            .filter(|a| a.code == code && a.at >= from && a.at - from <= within)
            .map(|a| a.at)
            .collect();
        let first = seen
            .first()
            .map(|a| format!(", the first after {:.1} s", (*a - from).as_secs_f64()))
            .unwrap_or_default();
        let total = t.journal.alarms.iter().filter(|a| a.code == code).count();
        let mut codes: Vec<u32> = t.journal.alarms.iter().map(|a| a.code).collect();
        codes.sort_unstable();
        codes.dedup();
        let codes: Vec<String> = codes.iter().map(u32::to_string).collect();
        (
            seen.len() >= need,
            format!(
                "expected: {need} notification_alarmInfo with AlarmCode {code} at the platform within {:.0} s of {what}; seen: {} in time{first} ({total} with that code in the whole run; codes seen: [{}])",
                within.as_secs_f64(),
                seen.len(),
                codes.join(", ")
            ),
        )
    }

    fn expect_confirmed(&self, t: &super::timeline::TimelineSide) -> (bool, String) {
        if self.mqtt.is_none() {
            return (
                false,
                "the charger protocol is off ([mqtt] enabled = false): no transactions".into(),
            );
        }
        let cutoff = self.now - t.journal.settle;
        let due: Vec<&TxSeen> = t
            .journal
            .tx
            .values()
            .filter(|tx| tx.sent <= cutoff)
            .collect();
        let missing: Vec<&&TxSeen> = due.iter().filter(|tx| tx.confirmed.is_empty()).collect();
        let twice = t
            .journal
            .tx
            .values()
            .filter(|tx| tx.confirmed.len() > 1)
            .count();
        let ledger = self.mqtt_ledger();
        let confirmed = self.mqtt.as_ref().map_or(0, |m| m.confirmed);
        let booked_ok = ledger.is_none_or(|(booked, _)| booked == confirmed);
        let example = missing
            .first()
            .map(|tx| {
                format!(
                    " (first: connector {} sent at {})",
                    tx.connector,
                    secs(tx.sent)
                )
            })
            .unwrap_or_default();
        let ledger_text = ledger.map_or_else(
            || "ledger not visible (external backend)".to_owned(),
            |(booked, dup)| {
                format!("{booked} booked in the ledger, {dup} re-sent copies not booked again")
            },
        );
        (
            missing.is_empty() && twice == 0 && booked_ok,
            format!(
                "expected: every StopTransaction sent before the last {:.0} s confirmed exactly once; seen: {} sent, {} unconfirmed{example}, {twice} confirmed more than once; {confirmed} confirmations, {ledger_text}",
                t.journal.settle.as_secs_f64(),
                due.len(),
                missing.len()
            ),
        )
    }

    fn expect_latency(&self, x: &Expectation) -> (bool, String) {
        let message = x.message.as_deref().unwrap_or_default();
        let limit = x.p99_ms.unwrap_or(0.0);
        let matches = |name: &str| {
            name == message
                || name.rsplit('.').next().is_some_and(|tail| {
                    tail == message || tail.strip_suffix("Req") == Some(message)
                })
        };
        let mut names = Vec::new();
        for (name, series) in self.metrics.latency_series() {
            if matches(name) {
                let h = &series.corrected_us;
                let p99 = h.value_at_quantile(0.99) as f64 / 1000.0;
                return (
                    p99 <= limit,
                    format!(
                        "expected: p99 of {name} at most {limit} ms; seen: p99 {p99:.1} ms over {} samples (max {:.1} ms)",
                        h.len(),
                        h.max() as f64 / 1000.0
                    ),
                );
            }
            names.push(name.to_owned());
        }
        (
            false,
            format!(
                "no latency samples of {message:?}; measured: {}",
                names.join(", ")
            ),
        )
    }

    fn expect_error_rate(&self, x: &Expectation) -> (bool, String) {
        let limit = x.max_percent.unwrap_or(0.0);
        let protocol = x.protocol.as_deref();
        let errors = self.metrics.errors();
        let counted: Vec<(&String, u64)> = errors
            .iter()
            .filter(|(k, _)| {
                protocol.is_none_or(|p| {
                    k.starts_with(&format!("{p}.")) || (p == "can" && k.starts_with("gbt."))
                })
            })
            .map(|(k, v)| (k, v.count))
            .collect();
        let n_errors: u64 = counted.iter().map(|(_, n)| n).sum();
        let n_messages: u64 = self
            .metrics
            .messages_by_protocol()
            .iter()
            .filter(|(p, _)| protocol.is_none_or(|want| want == p.as_str()))
            .flat_map(|(_, m)| m.values())
            .sum();
        let rate = if n_messages == 0 {
            0.0
        } else {
            n_errors as f64 * 100.0 / n_messages as f64
        };
        let kinds: Vec<String> = counted.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let scope = protocol.map_or("all protocols".to_owned(), str::to_owned);
        (
            rate <= limit,
            format!(
                "expected: errors at most {limit} % of messages ({scope}); seen: {n_errors} errors / {n_messages} messages = {rate:.4} %{}",
                if kinds.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", kinds.join(", "))
                }
            ),
        )
    }
}

impl World {
    fn expect_data_completed(
        &self,
        t: &super::timeline::TimelineSide,
        x: &Expectation,
    ) -> (bool, String) {
        if self.http.is_none() || !self.http_in_memory() {
            return (false, "cannot be checked: the platform's data is seen only at chargestorm's in-process reference platform ([http] enabled, transport memory)".into());
        }
        let label = x.after.as_deref().unwrap_or_default();
        let within = Duration::from_secs_f64(x.within_s.unwrap_or(0.0));
        let Some(entry) = t.entries.iter().find(|e| e.spec.label() == label) else {
            return (false, format!("no timeline entry {label:?}"));
        };
        let Some(fired) = entry.fired else {
            return (false, never_fired(label, entry.spec.when.as_deref()));
        };
        let Some(d) = entry.spec.duration else {
            return (
                false,
                format!(
                    "{label} has no duration: the outage never ends, so nothing can be completed after it"
                ),
            );
        };
        let end = fired + Duration::from_micros(d.0.micros);
        if end > self.now {
            return (
                false,
                format!("{label} ends at {}, after the run", secs(end)),
            );
        }
        data_completed(
            t.journal.data.as_deref().unwrap_or_default(),
            label,
            fired,
            end,
            within,
        )
    }
}

/// Whether the platform's data was complete again within `within` of `end`, the end of the
/// outage `label` that began at `fired`, judged from the recorded samples.
fn data_completed(
    data: &[DataSample],
    label: &str,
    fired: Instant,
    end: Instant,
    within: Duration,
) -> (bool, String) {
    let zero = DataSample {
        at: Instant::ZERO,
        faulted: 0,
        accepted: 0,
        supplemented: 0,
        given_up: 0,
        pending: 0,
    };
    // The last sample at or before `at` (the state in force then).
    let at = |when: Instant| {
        data.iter()
            .take_while(|s| s.at <= when)
            .last()
            .copied()
            .unwrap_or(zero)
    };
    let before = data
        .iter()
        .take_while(|s| s.at < fired)
        .last()
        .copied()
        .unwrap_or(zero);
    let ended = at(end);
    let refused = ended.faulted - before.faulted;
    let head = format!(
        "expected: within {:.0} s of the end of {label} at {}, the pushes the platform refused during it re-sent and accepted (the operator's queue empty) or recovered with supplement_collect",
        within.as_secs_f64(),
        secs(end)
    );
    if refused == 0 {
        return (
            false,
            format!(
                "{head}; seen: the platform refused no request during {label}, so there was nothing to complete"
            ),
        );
    }
    let done = data
        .iter()
        .filter(|s| s.at >= end && s.at - end <= within)
        .find(|s| {
            let given_up = s.given_up > before.given_up;
            let resent = s.pending == 0 && s.accepted > ended.accepted && !given_up;
            let supplemented = s.supplemented > before.supplemented;
            resent || supplemented
        });
    let last = at(end + within);
    let seen = format!(
        "{refused} requests refused during it; by {}: {} pushes accepted since its end, {} still queued at the operator, {} given up since it began, {} records recovered with supplement_collect",
        secs(end + within),
        last.accepted - ended.accepted,
        last.pending,
        last.given_up - before.given_up,
        last.supplemented - before.supplemented
    );
    match done {
        Some(s) => (
            true,
            format!(
                "{head}; seen: complete after {:.1} s — {seen}",
                (s.at - end).as_secs_f64()
            ),
        ),
        None => (false, format!("{head}; seen: not complete — {seen}")),
    }
}

/// Whether `tx` was confirmed within `within` of `fired`, in words.
fn confirmation(tx: &TxSeen, stopped: &str, fired: Instant, within: Duration) -> (bool, String) {
    match tx.confirmed.first() {
        None => (
            false,
            format!(
                "{stopped} and sent StopTransactionReq at {}, which the backend never confirmed",
                secs(tx.sent)
            ),
        ),
        Some(&c) if c - fired > within => (
            false,
            format!(
                "{stopped}; the backend confirmed its StopTransaction only after {:.1} s",
                (c - fired).as_secs_f64()
            ),
        ),
        Some(&c) => (
            true,
            format!(
                "{stopped}, StopTransaction confirmed after {:.1} s",
                (c - fired).as_secs_f64()
            ),
        ),
    }
}

fn never_fired(label: &str, when: Option<&str>) -> String {
    match when {
        Some(w) => format!("timeline entry {label} never fired: its condition `{w}` never held"),
        None => format!("timeline entry {label} never fired: the run ended before its time"),
    }
}

fn expect_meter_match(t: &super::timeline::TimelineSide, x: &Expectation) -> (bool, String) {
    let limit = x.max_percent.unwrap_or(0.0);
    // Sessions under 100 Wh are left out: the meter's 1 Wh resolution dominates them.
    let sessions: Vec<&(u32, f64, f64)> = t
        .journal
        .energy
        .iter()
        .filter(|(_, delivered, _)| *delivered > 100.0)
        .collect();
    let off = |(_, delivered, reported): &(u32, f64, f64)| {
        (reported - delivered).abs() * 100.0 / delivered
    };
    let bad: Vec<String> = sessions
        .iter()
        .filter(|s| off(s) > limit)
        .map(|&&(c, delivered, reported)| {
            format!(
                "connector {c} reported {:.0} Wh for {:.0} Wh delivered ({:+.1} %)",
                reported,
                delivered,
                (reported - delivered) * 100.0 / delivered
            )
        })
        .collect();
    let worst = sessions.iter().map(|s| off(s)).fold(0.0, f64::max);
    (
        bad.is_empty(),
        format!(
            "expected: every session's reported energy within {limit} % of the energy delivered; seen: {} sessions, worst {worst:.2} % off{}",
            sessions.len(),
            if bad.is_empty() {
                String::new()
            } else {
                format!("; {}", bad.join("; "))
            }
        ),
    )
}

fn expect_not_stuck(t: &super::timeline::TimelineSide, x: &Expectation) -> (bool, String) {
    let state = x.state.as_deref().unwrap_or_default();
    let limit = x.max_s.unwrap_or(0.0);
    match t.journal.worst.get(state) {
        None => (
            true,
            format!(
                "no connector was ever {state} (sampled every {:.0} s)",
                super::timeline::POLL.as_secs_f64()
            ),
        ),
        Some(w) => (
            w.length.as_secs_f64() <= limit,
            format!(
                "expected: no connector {state} longer than {limit} s; seen: longest {:.0} s, connector {} from {} (sampled every {:.0} s)",
                w.length.as_secs_f64(),
                w.connector,
                secs(w.since),
                super::timeline::POLL.as_secs_f64()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: u64, faulted: u64, accepted: u64, given_up: u64, pending: usize) -> DataSample {
        DataSample {
            at: Instant::from_secs(at_s),
            faulted,
            accepted,
            supplemented: 0,
            given_up,
            pending,
        }
    }

    const FIRED: u64 = 100;
    const END: u64 = 110;

    fn judge(data: &[DataSample]) -> (bool, String) {
        data_completed(
            data,
            "outage",
            Instant::from_secs(FIRED),
            Instant::from_secs(END),
            Duration::from_secs(30),
        )
    }

    #[test]
    fn re_sent_pushes_accepted_after_the_end_complete_the_data() {
        let data = [
            sample(50, 0, 10, 0, 0),
            sample(105, 3, 10, 0, 2),
            sample(112, 3, 11, 0, 1),
            sample(115, 3, 12, 0, 0),
        ];
        let (ok, detail) = judge(&data);
        assert!(ok, "{detail}");
        assert!(detail.contains("complete after 5.0 s"), "{detail}");
        assert!(detail.contains("3 requests refused"), "{detail}");
    }

    #[test]
    fn a_queue_that_never_drains_or_a_give_up_is_not_complete() {
        let stuck = [
            sample(105, 3, 10, 0, 2),
            sample(112, 3, 11, 0, 1),
            sample(150, 3, 12, 0, 1),
        ];
        assert!(!judge(&stuck).0);
        let gave_up = [sample(105, 3, 10, 0, 2), sample(112, 3, 11, 2, 0)];
        let (ok, detail) = judge(&gave_up);
        assert!(!ok);
        assert!(detail.contains("2 given up"), "{detail}");
        let late = [sample(105, 3, 10, 0, 2), sample(141, 3, 11, 0, 0)];
        assert!(!judge(&late).0, "drained only after the 30 s allowed");
    }

    #[test]
    fn supplement_collect_completes_what_was_given_up_and_no_refusal_fails() {
        let mut recovered = sample(120, 3, 11, 2, 0);
        recovered.supplemented = 4;
        let data = [sample(105, 3, 10, 0, 2), recovered];
        let (ok, detail) = judge(&data);
        assert!(ok, "{detail}");
        assert!(detail.contains("4 records recovered"), "{detail}");
        let (ok, detail) = judge(&[sample(105, 0, 10, 0, 0), sample(112, 0, 11, 0, 0)]);
        assert!(!ok);
        assert!(detail.contains("refused no request"), "{detail}");
    }
}
