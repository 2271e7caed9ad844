//! The seed-004 charger <-> backend protocol over MQTT: protobuf payloads in an APDU.

pub mod apdu;
pub mod error;
pub mod pb;
pub mod topic;

pub use error::MqttWireError;
