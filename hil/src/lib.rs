//! The I/O shell of chargestorm: everything that touches the real clock, sockets, serial
//! ports and CAN interfaces. The simulation itself lives in `sim-core` and never does
//! I/O; this crate drives it and carries its messages to real peers.

pub mod bench;
pub mod bridge;
pub mod can;
pub mod http;
pub mod metrics_http;
pub mod modbus;
pub mod mqtt;
pub mod pace;
pub mod proxy;
