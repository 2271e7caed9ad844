//! Hardware-in-the-loop bench connectors: chargestorm's side of a GB/T session on a real
//! bus, with the bench signals a relay/IO box drives (CC1, auxiliary power, insulation
//! fault resistors, emergency stop) and the simulated meter a board under test reads.
//!
//! Sans-IO like the rest of the core: the I/O shell (`hil`) maps the wall clock to
//! [`Instant`](crate::time::Instant)s and moves frames; [`BenchEvent`]s go to the trace.

mod battery;
mod connector;
mod signals;

#[cfg(test)]
mod tests;

pub use connector::{
    BenchConnector, BenchConnectorConfig, BenchConnectorReport, BenchPlan, LATCH_TIME,
    bms_config_for, charger_config_for,
};
pub use signals::{BenchEvent, BenchRole, BenchSignals, Cc1State, HEALTHY_INSULATION_OHM};
