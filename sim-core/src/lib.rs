//! The deterministic simulation core of chargestorm.
//!
//! Everything here is sans-IO: state machines take `(now, input)` and return outputs and
//! their next deadline. Nothing reads the wall clock, sleeps, spawns, or touches a socket;
//! randomness comes from streams derived from one root seed ([`rng`]). The I/O shell
//! (`hil`) and the binary (`tui`) drive a [`fleet::World`] in virtual time, either as fast
//! as possible or locked to the wall clock.

pub use proto::time;

pub mod bench;
pub mod fleet;
pub mod gbt;
pub mod metrics;
pub mod mqtt;
pub mod physics;
pub mod report;
pub mod rng;
pub mod sched;
pub mod series;
pub mod tcec;
pub mod trace;
