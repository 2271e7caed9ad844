//! Every data object and interface payload of DB4403/T 77-2020 (chapters 6, 7, 9 and
//! Appendix C) and of T/CEC 102.2/102.3.
//!
//! Conventions, so that the lead can use every type the same way:
//! - Rust field names carry units (`power_kw`, `phase_a_voltage_v`, `total_money_yuan`); the
//!   wire names are the standards' PascalCase keys, with the misspellings the standards
//!   themselves use (`OpratorType`, `TatalVoltage`, `SevicePrice`) and aliases for the
//!   variants seen in practice.
//! - Decoding is lenient (see [`crate::tcec::lenient`]): every scalar accepts numbers as
//!   strings and strings as numbers, unknown fields are ignored, and required strings that are
//!   absent decode as `""`. [`Validate`](crate::tcec::Validate) enforces the tables.
//! - Spec-coded enums serialize as integers and keep undefined codes as `Other(code)`.

mod db4403;
mod distribution;
mod enums;
mod operator;
mod safety;
mod station;
mod stats;
mod status;
mod tcec102;

pub use db4403::*;
pub use distribution::*;
pub use enums::*;
pub use operator::*;
pub use safety::*;
pub use station::{
    ConnectorInfo, ConnectorInfoExt, EquipmentInfo, EquipmentInfoExt, StationInfo, StationInfoExt,
};
pub use stats::*;
pub use status::*;
pub use tcec102::*;

#[cfg(test)]
mod tests;
