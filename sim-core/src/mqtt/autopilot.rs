//! [`Pilot`]: a minimal connector model that answers a [`ChargerClient`]'s events the way a
//! charger's connectors would, with constant-power sessions. Protocol tests and protocol-level
//! load runs (the virtual-time [`crate::mqtt::harness::SimHarness`] and hil's real-time MQTT
//! driver) use it; the fleet engine replaces it with real physics.
//!
//! It starts a session on a remote start (if the vehicle is "plugged") or an accepted
//! authorization, samples the meter every `sample_interval`, stops on StopRequested,
//! RemoteStop and Reset, and after `session_duration` with reason LOCAL.

use proto::mqtt::control::ResetKind;
use proto::mqtt::pb;

use crate::mqtt::charger::{ChargerClient, ClientEvent, IdToken, RecordId, Sample};
use crate::time::{Duration, Instant};

/// How the pilot plays every connector.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoPilot {
    /// Constant charging power.
    pub power_w: f64,
    /// Meter sampling period.
    pub sample_interval: Duration,
    /// Stop (reason LOCAL) after this long, if the plan did not stop it before.
    pub session_duration: Option<Duration>,
    /// The vehicle is plugged in when a remote start arrives (plug-then-scan); false = the
    /// vehicle never comes, to exercise the wait-for-plug timeout.
    pub plugged: bool,
    /// Start a session (mode FULL) when a card is authorized.
    pub start_on_authorized: bool,
}

impl Default for AutoPilot {
    fn default() -> Self {
        AutoPilot {
            power_w: 7_200.0,
            sample_interval: Duration::from_secs(10),
            session_duration: Some(Duration::from_secs(600)),
            plugged: true,
            start_on_authorized: true,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Connector {
    meter_wh: f64,
    session: Option<Session>,
}

#[derive(Debug, Clone)]
struct Session {
    record_id: RecordId,
    last_sample: Instant,
    stop_at: Option<Instant>,
}

/// The connectors of a fleet of chargers, played by one [`AutoPilot`] configuration.
#[derive(Debug, Clone)]
pub struct Pilot {
    config: AutoPilot,
    chargers: Vec<Vec<Connector>>,
}

impl Pilot {
    /// A pilot for chargers with the given connector counts, every meter at zero.
    pub fn new(config: AutoPilot, connectors: impl IntoIterator<Item = u32>) -> Self {
        let chargers = connectors
            .into_iter()
            .map(|n| vec![Connector::default(); n as usize])
            .collect();
        Pilot { config, chargers }
    }

    /// Sessions running now, over every charger.
    pub fn running(&self) -> usize {
        self.chargers
            .iter()
            .flatten()
            .filter(|c| c.session.is_some())
            .count()
    }

    /// The meter register of `charger`'s `connector`.
    pub fn meter_wh(&self, charger: usize, connector: u32) -> Option<f64> {
        self.connector(charger, connector).map(|c| c.meter_wh)
    }

    fn connector(&self, charger: usize, connector: u32) -> Option<&Connector> {
        let k = connector.checked_sub(1)? as usize;
        self.chargers.get(charger)?.get(k)
    }

    fn connector_mut(&mut self, charger: usize, connector: u32) -> Option<&mut Connector> {
        let k = connector.checked_sub(1)? as usize;
        self.chargers.get_mut(charger)?.get_mut(k)
    }

    /// Answers one event of charger `i`.
    pub fn react(
        &mut self,
        i: usize,
        now: Instant,
        event: &ClientEvent,
        client: &mut ChargerClient,
    ) {
        match event {
            ClientEvent::RemoteStart {
                connector,
                id_tag,
                plan,
                ..
            } if self.config.plugged => {
                self.start(
                    i,
                    now,
                    *connector,
                    IdToken::App(id_tag.clone()),
                    *plan,
                    client,
                );
            }
            ClientEvent::Authorized {
                connector,
                id_tag,
                kind,
                accepted: true,
                ..
            } if self.config.start_on_authorized => {
                let plan = pb::ChargingPlan {
                    mode: pb::ChargingMode::Full as i32,
                    ..Default::default()
                };
                let token = match kind {
                    pb::IdTagKind::Vin => IdToken::Vin(id_tag.clone()),
                    pb::IdTagKind::App | pb::IdTagKind::Bluetooth => IdToken::App(id_tag.clone()),
                    _ => IdToken::Card(id_tag.clone()),
                };
                self.start(i, now, *connector, token, plan, client);
            }
            ClientEvent::StopRequested {
                connector,
                record_id,
                reason,
            } => self.stop(i, now, *connector, *record_id, *reason, client),
            ClientEvent::RemoteStop {
                connector,
                record_id,
            } => self.stop(
                i,
                now,
                *connector,
                *record_id,
                pb::StopReason::Remote,
                client,
            ),
            ClientEvent::Reset { kind } => {
                let reason = match kind {
                    ResetKind::System => pb::StopReason::HardReset,
                    ResetKind::Program => pb::StopReason::SoftReset,
                };
                let n = self.chargers.get(i).map_or(0, Vec::len) as u32;
                for connector in 1..=n {
                    if let Some(record) = client.active_transaction(connector) {
                        self.stop(i, now, connector, record, reason, client);
                    }
                }
            }
            _ => {}
        }
    }

    fn start(
        &mut self,
        i: usize,
        now: Instant,
        connector: u32,
        token: IdToken,
        plan: pb::ChargingPlan,
        client: &mut ChargerClient,
    ) {
        let duration = self.config.session_duration;
        let Some(state) = self.connector_mut(i, connector) else {
            return;
        };
        if state.session.is_some() {
            return;
        }
        let _ = client.set_connector_status(now, connector, pb::ConnectorStatus::Preparing);
        let Ok(record_id) = client.start_transaction(now, connector, token, state.meter_wh, plan)
        else {
            let _ = client.set_connector_status(now, connector, pb::ConnectorStatus::Available);
            return;
        };
        let _ = client.set_connector_status(now, connector, pb::ConnectorStatus::Charging);
        state.session = Some(Session {
            record_id,
            last_sample: now,
            stop_at: duration.map(|d| now + d),
        });
    }

    fn stop(
        &mut self,
        i: usize,
        now: Instant,
        connector: u32,
        record_id: RecordId,
        reason: pb::StopReason,
        client: &mut ChargerClient,
    ) {
        let power = self.config.power_w;
        let Some(state) = self.connector_mut(i, connector) else {
            return;
        };
        if state
            .session
            .as_ref()
            .is_none_or(|s| s.record_id != record_id)
        {
            return;
        }
        advance(state, power, now);
        state.session = None;
        let _ = client.stop_transaction(now, record_id, state.meter_wh, reason);
        let _ = client.set_connector_status(now, connector, pb::ConnectorStatus::Finishing);
        let _ = client.set_connector_status(now, connector, pb::ConnectorStatus::Available);
    }

    /// Samples the meters of charger `i` that are due and ends sessions that ran their time.
    pub fn tick(&mut self, i: usize, now: Instant, client: &mut ChargerClient) {
        let n = self.chargers.get(i).map_or(0, Vec::len) as u32;
        let (power, interval) = (self.config.power_w, self.config.sample_interval);
        for connector in 1..=n {
            let Some(session) = self.connector(i, connector).and_then(|c| c.session.clone()) else {
                continue;
            };
            if session.stop_at.is_some_and(|t| t <= now) {
                self.stop(
                    i,
                    now,
                    connector,
                    session.record_id,
                    pb::StopReason::Local,
                    client,
                );
                continue;
            }
            if session.last_sample + interval > now {
                continue;
            }
            let Some(state) = self.connector_mut(i, connector) else {
                continue;
            };
            advance(state, power, now);
            let sample = Sample {
                voltage_v: 230.0,
                current_a: power / 230.0,
                power_w: power,
                energy_wh: state.meter_wh,
                soc_pct: None,
                temperature_c: 30.0,
                contactor_closed: true,
                remaining_s: None,
            };
            let _ = client.sample(now, connector, sample);
        }
    }

    /// When charger `i` next needs a `tick`.
    pub fn next_deadline(&self, i: usize) -> Option<Instant> {
        let interval = self.config.sample_interval;
        self.chargers
            .get(i)?
            .iter()
            .filter_map(|c| c.session.as_ref())
            .flat_map(|s| [Some(s.last_sample + interval), s.stop_at])
            .flatten()
            .min()
    }
}

/// Advances a connector's meter to `now` at constant power.
fn advance(state: &mut Connector, power_w: f64, now: Instant) {
    if let Some(s) = &mut state.session {
        let dt = (now - s.last_sample).as_secs_f64();
        state.meter_wh += power_w * dt / 3600.0;
        s.last_sample = now;
    }
}
