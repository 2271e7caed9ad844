//! `OperatorInfo` 充电运营商信息 (DB4403/T 77-2020 §6.2 表1; T/CEC 102.2).
//!
//! No interface carries it (operators are registered offline, §8.2), but it is part of the
//! information model and the simulator's configuration uses it.

use serde::{Deserialize, Serialize};

use crate::tcec::lenient::de;
use crate::tcec::validate::{Len, Validate, Validator};

/// `OperatorInfo` 充电运营商信息.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorInfo {
    /// `OperatorID`: the 9-character organisation code (digits 9–17 of the unified social
    /// credit code).
    #[serde(
        rename = "OperatorID",
        alias = "OperatorId",
        default,
        deserialize_with = "de"
    )]
    pub operator_id: String,
    /// `OperatorName`: full legal name, ≤64 characters.
    #[serde(rename = "OperatorName", default, deserialize_with = "de")]
    pub operator_name: String,
    /// `OperatorTel1`: customer service phone, ≤32 characters.
    #[serde(rename = "OperatorTel1", default, deserialize_with = "de")]
    pub operator_tel1: String,
    /// `OperatorTel2`: safety officer phone, ≤32 characters.
    #[serde(rename = "OperatorTel2", default, deserialize_with = "de")]
    pub operator_tel2: String,
    /// `OperatorRegAddress`: registered address, ≤64 characters.
    #[serde(
        rename = "OperatorRegAddress",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub operator_reg_address: Option<String>,
    /// `OperatorNote`, ≤255 characters.
    #[serde(
        rename = "OperatorNote",
        default,
        deserialize_with = "de",
        skip_serializing_if = "Option::is_none"
    )]
    pub operator_note: Option<String>,
}

impl Validate for OperatorInfo {
    fn check(&self, v: &mut Validator) {
        v.req_str("OperatorID", &self.operator_id, Len::Exact(9));
        v.req_str("OperatorName", &self.operator_name, Len::Max(64));
        v.req_str("OperatorTel1", &self.operator_tel1, Len::Max(32));
        v.req_str("OperatorTel2", &self.operator_tel2, Len::Max(32));
        v.opt_str(
            "OperatorRegAddress",
            self.operator_reg_address.as_ref(),
            Len::Max(64),
        );
        v.opt_str("OperatorNote", self.operator_note.as_ref(), Len::Max(255));
    }
}
