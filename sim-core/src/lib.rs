//! The deterministic simulation core of chargestorm.
//!
//! Everything here is sans-IO: state machines take `(now, input)` and return outputs and
//! their next deadline. Nothing reads the wall clock, sleeps, spawns, or touches a socket;
//! randomness comes from streams derived from one root seed ([`rng`]). The I/O shell
//! (`hil`) and the binary (`tui`) drive a [`world::World`] in virtual time, either as fast
//! as possible or locked to the wall clock.

pub mod physics;

pub use proto::time;

pub mod metrics;
pub mod report;
pub mod rng;
pub mod sched;
pub mod tcec;
pub mod trace;
