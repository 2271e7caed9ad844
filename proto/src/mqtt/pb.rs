//! Rust types generated from `proto/charger.proto`, `measure.proto` and `warning.proto`
//! (protobuf package `chargestorm.v1`) by `build.rs`.
//!
//! Every message of the seed-004 table is here (`BootNotificationReq`, ..., `MessageError`),
//! together with the shared types (`KeyValue`, `IdTagInfo`, `SampledValue`, ...) and enums
//! (`MessageCode`, `Measurand`, `WarningCode`, ...). Enum fields are `i32` on the struct, as prost
//! generates them; use the generated typed getters (e.g. `status()`) to read them.

include!(concat!(env!("OUT_DIR"), "/chargestorm.v1.rs"));
