//! The T/CEC 102 / DB4403/T 77 HTTP platform protocol as sans-IO state machines.
//!
//! Three machines speak the protocol, all driven the same way ([`HttpMachine`]): inputs come in
//! through `handle_*(now, …)`, outbound HTTP requests leave through `poll_request`, and timers
//! through `poll_timeout`/`handle_timeout`. Nothing here opens a socket or reads a clock; the
//! I/O shell (`hil::http`) or the in-memory transport ([`simnet`]) carries the bytes.
//!
//! - [`operator::OperatorPlatform`]: chargestorm's own operator platform for a whole fleet. The
//!   fleet engine feeds it plain inputs (stations, connector snapshots, BMS samples, alarms,
//!   events, finished sessions); it serves every `query_*`/`supplement_*` interface, pushes the
//!   `notification_*` interfaces, and plays the T/CEC 102.3 equipment-owning operator (CPO).
//! - [`platform::MonitoringPlatform`]: the reference monitoring platform (DB4403 市级监控平台):
//!   issues tokens, ingests and checks pushes, polls the operator, checks data correctness
//!   against the simulation's ground truth, and injects faults.
//! - [`roaming_client::RoamingClient`]: the T/CEC 102.3 customer-owning operator (eMSP) that
//!   starts and stops sessions on an operator platform under test.
//!
//! Shared plumbing: [`exchange`] (request/response types and the machine trait), [`peer`]
//! (per-peer keys, token issuing and renewing), [`outbox`] (ordered lanes, sealing, retries),
//! [`serve`] (the inbound pipeline: path, envelope, token, Sig, Data, response sealing).
//! The wire layer is `proto::tcec`, re-exported as [`wire`].

pub mod demo;
pub mod exchange;
pub mod harness;
pub mod indicators;
pub mod operator;
pub mod outbox;
pub mod peer;
pub mod platform;
pub mod roaming_client;
pub mod serve;
pub mod simnet;
pub mod snapshot;

pub use proto::tcec as wire;

pub use exchange::{
    Exchange, HttpMachine, HttpResponse, InboundRequest, OutboundRequest, PeerId, RequestId,
    ServerResponse, TransportError,
};
pub use peer::PeerConfig;
pub use snapshot::ConnectorSnapshot;

#[cfg(test)]
mod e2e_tests;
