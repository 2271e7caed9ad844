//! Pairwise tests: ChargerClient ⇄ SimBroker ⇄ Backend on virtual time, one test per flow of
//! the seed, plus faults, offline operation, restarts and fuzzing.

mod charging;
mod faults;
mod flows;
mod fuzz;
mod offline;

use proto::mqtt::pb;

use crate::mqtt::backend::{BackendConfig, BackendEvent, BackendFaults};
use crate::mqtt::charger::{ChargerIdentity, ClientConfig, ClientEvent};
use crate::mqtt::harness::{AutoPilot, HarnessConfig, SimHarness};
use crate::mqtt::simnet::SimBrokerConfig;
use crate::mqtt::tariff::Tariff;
use crate::time::Duration;

/// The registration code the test backend accepts.
const CODE: &str = "RC-2018";

fn identity(i: usize) -> ChargerIdentity {
    ChargerIdentity::ac(&format!("SN{i:05}"), CODE)
}

fn flat_tariff() -> Tariff {
    Tariff::from_pb(&pb::SetTariffReq {
        tariff_id: 1,
        tariff_charge: vec![pb::TariffCharge {
            elec_price_milliyuan_per_kwh: 800,
            service_price_milliyuan_per_kwh: 800,
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap()
}

fn config(n: usize, autopilot: Option<AutoPilot>) -> HarnessConfig {
    HarnessConfig {
        chargers: (0..n)
            .map(|i| (identity(i), ClientConfig::default()))
            .collect(),
        backend: BackendConfig {
            registration_codes: vec![CODE.to_owned()],
            tariff: Some(flat_tariff()),
            ..Default::default()
        },
        faults: BackendFaults::default(),
        broker: SimBrokerConfig::default(),
        seed: 7,
        autopilot,
        keep_events: true,
    }
}

/// `n` chargers, registered and logged in.
fn online(n: usize, autopilot: Option<AutoPilot>) -> SimHarness {
    online_with(config(n, autopilot))
}

fn online_with(config: HarnessConfig) -> SimHarness {
    let n = config.chargers.len();
    let mut h = SimHarness::new(config);
    h.run_for(Duration::from_secs(5));
    for i in 0..n {
        assert_eq!(
            h.charger(i).phase(),
            crate::mqtt::charger::Phase::Online,
            "charger {i}"
        );
    }
    h
}

fn dev(h: &SimHarness, i: usize) -> String {
    h.device_id(i).unwrap()
}

/// The confirmations the backend received for `request`, in order.
fn responses(h: &SimHarness, request: proto::mqtt::MessageCode) -> Vec<proto::mqtt::Message> {
    h.backend_events()
        .filter_map(|e| match e {
            BackendEvent::Response {
                request: r,
                message,
                ..
            } if *r == request => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// Notifications (firmware, diagnostics, warnings) the backend received.
fn notifications(h: &SimHarness) -> Vec<proto::mqtt::Message> {
    h.backend_events()
        .filter_map(|e| match e {
            BackendEvent::Notification { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn events(h: &SimHarness, i: usize) -> Vec<ClientEvent> {
    h.client_events(i).cloned().collect()
}

fn error_count(h: &SimHarness, name: &str) -> u64 {
    h.metrics().errors().get(name).map_or(0, |e| e.count)
}
