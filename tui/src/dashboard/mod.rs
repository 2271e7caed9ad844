//! The terminal dashboard: fleet, latency, errors, connectors and fault injection.
//!
//! The parts, in the order data flows through them:
//! - [`adapter`]: builds models from a running world and keeps its rolling windows.
//! - [`model`]: the plain numbers one frame shows, filled by the simulation side.
//! - [`bridge`]: hands snapshots from the simulation thread to the screen thread and
//!   commands back, without either side waiting.
//! - [`app`]: the UI state and key handling; keys become [`app::UiCommand`]s.
//! - `render`: draws an [`app::App`] and a [`model::DashboardModel`] (a pure function).
//! - [`terminal`]: raw mode behind a guard, and the bounded-frame-rate loop.

pub mod adapter;
pub mod app;
pub mod bridge;
pub mod model;
mod render;
pub mod terminal;

pub use app::{App, FaultKind, FaultTarget, UiCommand, View};
pub use model::DashboardModel;
pub use render::{MIN_HEIGHT, MIN_WIDTH, Screen, connector_list_rows};
