//! Shared rig for the MQTT integration tests: chargers driven by a [`FleetDriver`], the
//! reference backend in a [`BackendRunner`], both on one real broker.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hil::mqtt::{
    BackendRunner, FleetDriver, Mosquitto, MqttFleet, MqttSettings, RealClock, RunnerStats,
};
use proto::mqtt::pb;
use sim_core::mqtt::autopilot::{AutoPilot, Pilot};
use sim_core::mqtt::backend::{Backend, BackendConfig, BackendEvent, BackendFaults};
use sim_core::mqtt::charger::{ChargerClient, ChargerIdentity, ClientConfig, Phase};
use sim_core::mqtt::tariff::Tariff;
use sim_core::rng::{Domain, derive};

/// The registration code the test backend accepts.
pub const CODE: &str = "RC-HIL";

/// Charger `i`'s identity.
pub fn identity(i: usize) -> ChargerIdentity {
    ChargerIdentity::ac(&format!("HIL{i:05}"), CODE)
}

/// Protocol timings scaled down for wall-clock tests.
pub fn client_config() -> ClientConfig {
    let s = sim_core::time::Duration::from_secs;
    let ms = sim_core::time::Duration::from_millis;
    ClientConfig {
        response_timeout: s(5),
        registration_retry: s(2),
        boot_retry: s(2),
        heartbeat_interval: s(30),
        telemetry_interval: s(5),
        charging_info_interval: s(1),
        transaction_retry_interval: ms(500),
        plug_in_timeout: s(10),
        reconnect_min: ms(200),
        reconnect_max: s(2),
        reboot_duration: ms(500),
        firmware_download: ms(300),
        firmware_install: ms(300),
        diagnostics_upload: ms(300),
        ..ClientConfig::default()
    }
}

/// The reference backend with a flat tariff and one known card.
pub fn backend() -> Backend {
    let tariff = Tariff::from_pb(&pb::SetTariffReq {
        tariff_id: 1,
        tariff_charge: vec![pb::TariffCharge {
            elec_price_milliyuan_per_kwh: 800,
            service_price_milliyuan_per_kwh: 800,
            ..Default::default()
        }],
        ..Default::default()
    })
    .ok();
    let config = BackendConfig {
        registration_codes: vec![CODE.to_owned()],
        tariff,
        response_timeout: sim_core::time::Duration::from_secs(5),
        ..BackendConfig::default()
    };
    let mut b = Backend::new(config, BackendFaults::default(), 11);
    b.add_card("CARD-1", pb::AuthorizationStatus::Accepted, 0);
    b
}

/// A running rig.
pub struct Rig {
    pub driver: FleetDriver,
    pub backend: BackendRunner,
    pub clock: RealClock,
}

impl Rig {
    /// Starts the backend, then `n` chargers with `pilot`, on the broker of `settings`.
    pub async fn start(
        settings: &MqttSettings,
        n: usize,
        pilot: Option<AutoPilot>,
        keep_events: bool,
    ) -> Rig {
        let clock = RealClock::start();
        let backend = BackendRunner::start(settings, backend(), clock)
            .await
            .expect("backend connects");
        let ids: Vec<String> = (0..n).map(|i| format!("cs-{i:05}")).collect();
        let fleet = MqttFleet::start(settings, &ids).expect("fleet starts");
        let clients: Vec<ChargerClient> = (0..n)
            .map(|i| {
                ChargerClient::new(
                    identity(i),
                    client_config(),
                    derive(1, Domain::Protocol, i as u64),
                )
            })
            .collect();
        let pilot = pilot.map(|p| Pilot::new(p, clients.iter().map(|c| c.identity().connectors)));
        let driver = FleetDriver::new(fleet, clients, pilot, clock, keep_events);
        Rig {
            driver,
            backend,
            clock,
        }
    }

    /// Runs until every charger is logged in; returns the time it took.
    pub async fn wait_online(&mut self, timeout: Duration) -> Duration {
        let started = self.clock.now();
        let until = started + sim_core::time::Duration::from_std(timeout);
        let ok = self
            .driver
            .run_until(until, |d| {
                d.clients().iter().all(|c| c.phase() == Phase::Online)
            })
            .await;
        let online = self
            .driver
            .clients()
            .iter()
            .filter(|c| c.phase() == Phase::Online)
            .count();
        assert!(
            ok,
            "{online} of {} chargers logged in within {timeout:?}",
            self.driver.clients().len()
        );
        (self.clock.now() - started).to_std()
    }

    /// Runs until the backend's ledger holds `count` transactions.
    pub async fn wait_ledger(&mut self, count: usize, timeout: Duration) -> bool {
        let until = self.clock.now() + sim_core::time::Duration::from_std(timeout);
        while self.clock.now() < until {
            let step = self.clock.now() + sim_core::time::Duration::from_millis(250);
            self.driver.run_until(step.min(until), |_| false).await;
            let booked = self
                .backend
                .call(|b, _| b.ledger().len())
                .await
                .unwrap_or(0);
            if booked >= count {
                return true;
            }
        }
        false
    }

    /// Runs until no charger holds a record waiting for its confirmation (the backend
    /// books a StopTransaction before its Conf reaches the charger), or `timeout` passes.
    pub async fn wait_outboxes_empty(&mut self, timeout: Duration) -> bool {
        let until = self.clock.now() + sim_core::time::Duration::from_std(timeout);
        while self.clock.now() < until {
            let step = self.clock.now() + sim_core::time::Duration::from_millis(250);
            self.driver.run_until(step.min(until), |_| false).await;
            if self
                .driver
                .clients()
                .iter()
                .all(|c| c.outbox().count() == 0)
            {
                return true;
            }
        }
        false
    }

    /// Device id of charger `i`.
    pub fn device(&self, i: usize) -> String {
        self.driver
            .client(i)
            .identity()
            .device_id
            .clone()
            .expect("registered")
    }

    /// Stops the backend and returns it.
    pub async fn finish(self) -> (Backend, RunnerStats, FleetDriver) {
        let (backend, stats) = self.backend.stop().await.expect("backend stops");
        (backend, stats, self.driver)
    }
}

/// Mosquitto started by the test; a missing binary FAILS the test, naming mosquitto.
pub async fn mosquitto() -> Mosquitto {
    match Mosquitto::start().await {
        Ok(m) => m,
        Err(e) => panic!("mosquitto is required for this test and could not be started: {e}"),
    }
}

/// Checks that every transaction the chargers started is booked exactly once.
pub fn assert_ledger_complete(backend: &Backend, driver: &FleetDriver) {
    let created: u64 = driver
        .clients()
        .iter()
        .map(|c| c.outbox_stats().created)
        .sum();
    let left: usize = driver.clients().iter().map(|c| c.outbox().count()).sum();
    assert_eq!(left, 0, "records still waiting for confirmation");
    assert_eq!(
        backend.ledger().len() as u64,
        created,
        "ledger vs transactions started"
    );
    for c in driver.clients() {
        let id = c.identity().device_id.clone().unwrap_or_default();
        let mut records: Vec<u32> = backend
            .ledger()
            .of_charger(&id)
            .map(|e| e.record_id)
            .collect();
        let n = records.len();
        records.sort_unstable();
        records.dedup();
        assert_eq!(records.len(), n, "{id} has a record booked twice");
    }
}

/// The core flows of the protocol over whatever broker `settings` points at: registration and
/// login, configuration, remote start/stop, card authorization, MessageError.
pub async fn core_flows(settings: &MqttSettings) {
    let pilot = AutoPilot {
        session_duration: Some(sim_core::time::Duration::from_millis(1_500)),
        sample_interval: sim_core::time::Duration::from_millis(250),
        ..AutoPilot::default()
    };
    let mut rig = Rig::start(settings, 4, Some(pilot), true).await;
    rig.wait_online(Duration::from_secs(20)).await;
    let ids: Vec<String> = (0..4).map(|i| rig.device(i)).collect();

    // Configuration: one writable key, one read-only key refused.
    let id0 = ids[0].clone();
    rig.backend
        .call(move |b, now| {
            b.change_configuration(now, &id0, &[("TelemetryInterval", "7"), ("Model", "X")])
        })
        .await
        .unwrap()
        .unwrap();
    // Remote start on charger 1, card on charger 2, garbage to charger 3.
    let id1 = ids[1].clone();
    rig.backend
        .call(move |b, now| {
            b.remote_start(now, &id1, 1, "app-user", pb::ChargingPlan::default(), 10)
        })
        .await
        .unwrap()
        .unwrap();
    rig.driver
        .with_charger(2, |c, now| {
            c.authorize(
                now,
                1,
                sim_core::mqtt::charger::IdToken::Card("CARD-1".into()),
            )
        })
        .unwrap();
    rig.driver
        .with_charger(2, |c, now| {
            c.authorize(
                now,
                1,
                sim_core::mqtt::charger::IdToken::Card("NOPE".into()),
            )
        })
        .unwrap();
    let id3 = ids[3].clone();
    rig.backend
        .call(move |b, now| {
            b.send_raw(
                now,
                &id3,
                proto::mqtt::topic::TopicClass::Command,
                vec![0xFF, 0x01],
            )
        })
        .await
        .unwrap()
        .unwrap();
    assert!(
        rig.wait_ledger(2, Duration::from_secs(20)).await,
        "two sessions booked"
    );
    rig.driver.run_for(Duration::from_millis(500)).await;

    // Reset: the charger closes its MQTT connection, reboots and logs in again.
    let id0 = ids[0].clone();
    rig.backend
        .call(move |b, now| b.reset(now, &id0, proto::mqtt::control::ResetKind::Program))
        .await
        .unwrap()
        .unwrap();
    let rebooting = rig.clock.now() + sim_core::time::Duration::from_secs(5);
    let left_online = rig
        .driver
        .run_until(rebooting, |d| d.client(0).phase() != Phase::Online)
        .await;
    assert!(left_online, "the reset charger went off line to reboot");
    rig.wait_online(Duration::from_secs(10)).await;

    assert_eq!(
        rig.driver.client(0).config().telemetry_interval,
        sim_core::time::Duration::from_secs(7)
    );
    let events = rig.backend.take_events().await;
    let config_status = events.iter().find_map(|e| match e {
        BackendEvent::Response {
            message: proto::mqtt::Message::ChangeConfigurationConf(c),
            ..
        } => Some(c.status()),
        _ => None,
    });
    assert_eq!(config_status, Some(pb::ConfigurationStatus::Rejected));
    let errors: Vec<pb::ErrorCode> = events
        .iter()
        .filter_map(|e| match e {
            BackendEvent::MessageErrorReceived { error, .. } => Some(error.error_code()),
            _ => None,
        })
        .collect();
    assert_eq!(errors, [pb::ErrorCode::FormationViolation]);
    let reboot = events.iter().any(|e| {
        matches!(
            e,
            BackendEvent::Booted {
                reason: pb::BootReason::Reboot,
                accepted: true,
                ..
            }
        )
    });
    assert!(
        reboot,
        "the reset charger logged in again with reason REBOOT"
    );
    let rebooted = rig.driver.events().iter().any(|(i, _, e)| {
        *i == 0 && matches!(e, sim_core::mqtt::charger::ClientEvent::Rebooted { .. })
    });
    assert!(rebooted);
    let refused = rig.driver.events().iter().any(|(i, _, e)| {
        *i == 2 && matches!(e, sim_core::mqtt::charger::ClientEvent::Authorized { id_tag, accepted: false, .. } if id_tag == "NOPE")
    });
    assert!(refused, "the unknown card was refused");
    let (backend, _, driver) = rig.finish().await;
    assert_ledger_complete(&backend, &driver);
    let order = backend
        .ledger()
        .of_charger(&ids[1])
        .next()
        .map(|e| e.order_id.clone());
    assert!(
        order.is_some_and(|o| !o.is_empty()),
        "the remote start's order is booked"
    );
    assert_eq!(
        backend
            .ledger()
            .of_charger(&ids[2])
            .next()
            .map(|e| e.id_tag.clone()),
        Some("CARD-1".into())
    );
    assert!(
        driver
            .metrics()
            .latency_series()
            .any(|(n, _)| n == "mqtt.BootNotificationReq")
    );
}
