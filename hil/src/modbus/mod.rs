//! Modbus meters on real wires: the emulated meter as a server, a client for real meters, and
//! the glue between the simulation's meter model and the register maps.
//!
//! * [`server`]: [`MeterServer`] answers a Modbus client (a charger board, mbpoll, pymodbus)
//!   over TCP or RTU with the registers of one meter model, rendered at request time from a
//!   [`LiveReading`] that the simulation keeps current, with switchable [`MeterFaults`].
//! * [`client`]: [`MeterClient`] reads a real meter with timeouts and bounded retries, and
//!   [`client::spawn_poller`] publishes its readings at a period.
//! * [`convert`]: `sim_core::physics::MeterReading` (what the simulated meter measures) to and
//!   from `proto::modbus::MeterReading` (what the register maps render and decode).
//! * [`profile`]: a built-in charging session per meter kind, for an emulator that runs on
//!   its own (`chargestorm meter serve`).
//!
//! To put a simulated connector's meter on a wire, publish
//! `convert::from_sim(&energy_meter.reading())` to a [`LiveReading`] every tick and start a
//! [`MeterServer`] on it. To put a real meter in place of the simulated one, run
//! [`client::spawn_poller`] and feed `convert::to_sim(&polled.reading, model, lsb)` to the
//! connector model.
//!
//! # Why not tokio-modbus
//!
//! Both sides run their own transport on `proto::modbus`'s RTU and TCP codecs over tokio I/O.
//! The emulator must send frames tokio-modbus cannot produce (a wrong CRC), stay silent at the
//! byte level, delimit malformed RTU frames by line silence rather than by resynchronising
//! byte by byte, and count every bad frame; the client must report CRC errors, exceptions and
//! timeouts as distinct, counted errors. tokio-modbus 0.17 has no client timeout and no
//! unit-id filter (reference §2.1), so little of it would remain in use. The codecs are the
//! same ones the sans-IO layers test with proptest, so this adds framing and timing only.

pub mod client;
pub mod convert;
pub mod faults;
mod live;
pub mod profile;
pub mod serial;
pub mod server;

pub use client::{ClientConfig, ClientError, ClientStats, ClientTransport, MeterClient};
pub use faults::{MeterFaults, RangeFault, RangeFaultKind};
pub use live::LiveReading;
pub use serial::SerialSettings;
pub use server::{MeterServer, MeterServerConfig, MeterServerHandle, ServerStats, ServerTransport};
