//! The deterministic simulation core of chargestorm.

pub mod physics;

pub use proto::time;
