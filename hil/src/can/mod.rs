//! CAN transports for GB/T 27930 sessions and conformance runs.
//!
//! Every transport implements [`CanBus`]: send a [`CanFrame`], receive the next frame
//! another node put on the bus. The GB/T state machines in `sim-core` never see which one
//! they run on (meters-and-can-hil.md §3.5).
//!
//! - [`VirtualCan`]: a named in-process segment; [`VirtualCan::port`] joins it.
//! - [`SocketcandServer`]: serves virtual segments over TCP with the socketcand ASCII
//!   protocol, so python-can's `socketcand` interface, Kayak or a bench box can join.
//! - [`SocketcandClient`]: joins a remote socketcand server's bus.
//! - [`SocketCanBus`]: a Linux SocketCAN interface through the `socketcan` crate; on a
//!   kernel without CAN it fails at open with an error naming the interface and the cause.
//! - [`CandumpRecorder`] writes segments to a candump log; [`CandumpReplayer`] plays one
//!   back as a peer with its original timing.
//! - [`realtime`]: drives a session or a conformance case on a [`CanBus`] in real time and
//!   measures message periods.

mod candump;
mod channel;
pub mod realtime;
mod socketcan_bus;
pub mod socketcand;

use std::future::Future;

pub use candump::{CandumpRecorder, CandumpReplayer};
pub use channel::{VirtualCan, VirtualPort, WireFrame};
pub use proto::can::CanFrame;
pub use socketcan_bus::SocketCanBus;
pub use socketcand::{SocketcandClient, SocketcandServer};

/// A CAN bus as one node sees it.
pub trait CanBus: Send {
    /// Puts a frame on the bus.
    fn send(&mut self, frame: CanFrame) -> impl Future<Output = Result<(), CanError>> + Send;

    /// Waits for the next frame from another node. Cancel-safe: dropping the future loses
    /// no frame, so it can sit in a `select!` with a timer.
    fn recv(&mut self) -> impl Future<Output = Result<CanFrame, CanError>> + Send;

    /// Bus errors seen so far (error frames of a real controller; none on virtual buses).
    fn bus_errors(&self) -> BusErrors {
        BusErrors::default()
    }
}

/// Bus errors a transport has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BusErrors {
    /// Error frames received from the controller.
    pub error_frames: u64,
    /// The last one, decoded.
    pub last: Option<String>,
}

/// Why a CAN transport failed. Each variant names what it was working on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CanError {
    /// A SocketCAN interface could not be opened.
    #[error("cannot open SocketCAN interface {iface:?}: {source}{hint}")]
    Open {
        /// The interface name (or `#index`).
        iface: String,
        /// The operating system's error.
        source: std::io::Error,
        /// What the errno means here (no AF_CAN, no such interface), or empty.
        hint: &'static str,
    },
    /// A TCP connection to a socketcand server failed.
    #[error("cannot connect to socketcand at {addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The socketcand peer said something else than the protocol expects.
    #[error("socketcand protocol: expected {expected}, got {got:?}")]
    Protocol {
        /// What was expected.
        expected: &'static str,
        /// What arrived.
        got: String,
    },
    /// The server does not serve this bus.
    #[error("socketcand server has no bus {name:?} (it serves {available})")]
    UnknownBus {
        /// The bus asked for.
        name: String,
        /// The buses it serves.
        available: String,
    },
    /// Reading or writing failed.
    #[error("CAN I/O on {what}: {source}")]
    Io {
        /// The transport.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A frame the transport cannot carry or a driver handed over (remote, error, FD).
    #[error("unsupported CAN frame: {what}")]
    Unsupported {
        /// What it was.
        what: String,
    },
    /// The controller went bus-off (too many transmit errors: no ACK, wrong bit rate,
    /// a broken bus); the node cannot send until it is restarted.
    #[error(
        "CAN interface {iface:?} went bus-off after {error_frames} error frame(s); check the bit rate (250 kbit/s), termination and wiring"
    )]
    BusOff {
        /// The interface.
        iface: String,
        /// Error frames seen until then.
        error_frames: u64,
    },
    /// The bus or the connection was closed.
    #[error("CAN bus {what} closed")]
    Closed {
        /// The transport.
        what: String,
    },
}

/// Microseconds since the Unix epoch: the timestamps of socketcand frames and candump
/// logs. The I/O shell is where the wall clock may be read.
#[expect(
    clippy::disallowed_methods,
    reason = "socketcand and candump timestamps are wall-clock times"
)]
pub fn wall_clock_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
