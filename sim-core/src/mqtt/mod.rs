//! The seed-004 MQTT + protobuf charger protocol: sans-IO state machines for both ends and an
//! in-memory transport on virtual time.
//!
//! - [`charger::ChargerClient`]: the charger side, one per simulated charger.
//! - [`backend::Backend`]: the reference backend (registration, login, authorization, tariffs,
//!   remote control, the transaction ledger, fault modes).
//! - [`simnet::SimBroker`]: the broker and links for `--speed max` runs: latency, jitter, loss,
//!   disconnects and broker restarts, deterministic per seed.
//! - [`harness::SimHarness`]: wires chargers, backend and broker on virtual time (tests and
//!   protocol-level load runs; the fleet engine does the same wiring with its own scheduler).
//! - [`tariff`]: tariff templates and billing; [`metrics`]: what the machines count.
//!
//! The real transport (rumqttc clients, an embedded rumqttd broker) is in `hil::mqtt`.

pub mod autopilot;
pub mod backend;
pub mod backoff;
pub mod charger;
pub mod clock;
pub mod harness;
pub mod metrics;
pub mod simnet;
pub mod tariff;

#[cfg(test)]
mod tests;
