//! The response `Ret` code (T/CEC 102.4 返回参数编码表; DB4403/T 77-2020 表81).

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::tcec::lenient::{Lenient, int_of};

/// Result code of a response envelope. Unknown codes decode as [`Ret::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `-1` 系统繁忙，此时请求方稍后重试 — system busy, retry later (表81).
    Busy,
    /// `0` 请求成功 — success (表81).
    Success,
    /// `4001` 签名错误 — signature error (表81).
    SignatureError,
    /// `4002` Token 错误 — token missing, invalid or expired (表81).
    TokenError,
    /// `4003` POST 参数不合法 — an envelope parameter (OperatorID, Sig, TimeStamp, Data, Seq) is
    /// missing or invalid (表81).
    PostParamInvalid,
    /// `4004` 请求的业务参数不合法 — a business parameter inside Data is invalid; each interface
    /// defines its own required parameters (表81).
    BusinessParamInvalid,
    /// `500` 系统错误 — system error (表81).
    SystemError,
    /// A code not in the table.
    Other(i32),
}

impl Ret {
    /// The integer sent on the wire.
    pub const fn code(self) -> i32 {
        match self {
            Ret::Busy => -1,
            Ret::Success => 0,
            Ret::SignatureError => 4001,
            Ret::TokenError => 4002,
            Ret::PostParamInvalid => 4003,
            Ret::BusinessParamInvalid => 4004,
            Ret::SystemError => 500,
            Ret::Other(c) => c,
        }
    }

    /// The variant for a wire code.
    pub const fn from_code(code: i32) -> Self {
        match code {
            -1 => Ret::Busy,
            0 => Ret::Success,
            4001 => Ret::SignatureError,
            4002 => Ret::TokenError,
            4003 => Ret::PostParamInvalid,
            4004 => Ret::BusinessParamInvalid,
            500 => Ret::SystemError,
            c => Ret::Other(c),
        }
    }

    /// Whether the request succeeded.
    pub const fn is_success(self) -> bool {
        matches!(self, Ret::Success)
    }

    /// Whether the standard tells the caller to retry later (`-1`).
    pub const fn is_retryable(self) -> bool {
        matches!(self, Ret::Busy)
    }

    /// The standard's Chinese meaning, for Msg texts; `None` for unknown codes.
    pub const fn message_zh(self) -> Option<&'static str> {
        match self {
            Ret::Busy => Some("系统繁忙，此时请求方稍后重试"),
            Ret::Success => Some("请求成功"),
            Ret::SignatureError => Some("签名错误"),
            Ret::TokenError => Some("Token错误"),
            Ret::PostParamInvalid => Some("POST参数不合法"),
            Ret::BusinessParamInvalid => Some("请求的业务参数不合法"),
            Ret::SystemError => Some("系统错误"),
            Ret::Other(_) => None,
        }
    }
}

impl fmt::Display for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The decimal form is what the response signature covers, so Display must be exactly it.
        write!(f, "{}", self.code())
    }
}

impl Serialize for Ret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.code())
    }
}

impl<'de> Deserialize<'de> for Ret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::tcec::lenient::de(d)
    }
}

impl Lenient for Ret {
    fn from_json(v: &Value) -> Result<Self, String> {
        let i = int_of(v)?;
        i32::try_from(i)
            .map(Ret::from_code)
            .map_err(|_| format!("Ret {i} is out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [-1, 0, 4001, 4002, 4003, 4004, 500, 42] {
            let r = Ret::from_code(code);
            assert_eq!(r.code(), code);
            assert_eq!(serde_json::to_string(&r).unwrap(), code.to_string());
        }
        assert_eq!(Ret::from_code(42), Ret::Other(42));
        assert!(Ret::Busy.is_retryable() && !Ret::SystemError.is_retryable());
    }

    #[test]
    fn lenient_decode_accepts_strings() {
        assert_eq!(
            serde_json::from_str::<Ret>("\"4001\"").unwrap(),
            Ret::SignatureError
        );
        assert_eq!(serde_json::from_str::<Ret>("-1").unwrap(), Ret::Busy);
        assert_eq!(serde_json::from_str::<Ret>("77").unwrap(), Ret::Other(77));
        assert!(serde_json::from_str::<Ret>("\"ok\"").is_err());
        assert!(serde_json::from_str::<Ret>("99999999999").is_err());
    }

    #[test]
    fn display_is_the_signed_decimal() {
        assert_eq!(Ret::Busy.to_string(), "-1");
        assert_eq!(Ret::Success.to_string(), "0");
    }
}
