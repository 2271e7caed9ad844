//! The deterministic simulation core of chargestorm.

pub use proto::time;
