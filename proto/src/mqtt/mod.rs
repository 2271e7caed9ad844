//! The seed-004 charger <-> backend protocol over MQTT: protobuf payloads in an APDU.
//!
//! Layers, bottom up:
//! - [`topic`]: `/U|D/R|C|M/<id>` topics, their QoS, parse and build.
//! - [`apdu`]: the APDU framing (message code, sequence number, payload) and the seed's
//!   message-code table ([`apdu::MessageCode`]).
//! - [`pb`]: the protobuf payload types generated from `proto/*.proto`.
//! - [`Message`]: one enum over every payload, with `encode_apdu` / `decode_apdu`.
//! - [`control`] and [`warning`]: typed views of the remote-control command and the telemetry
//!   warning bitmap, which the wire carries as plain integers.
//!
//! All of it is sans-IO: bytes and strings in, bytes and strings out, [`MqttWireError`] or
//! [`topic::TopicError`] on bad input, never a panic.

pub mod apdu;
pub mod control;
pub mod error;
pub mod message;
pub mod pb;
pub mod topic;
pub mod warning;

pub use apdu::{MessageCode, Seq};
pub use error::MqttWireError;
pub use message::Message;
