//! The connector QR code URI `hlht://<ConnectorID>.<OperatorID>/[custom]`
//! (T/CEC 102.1-2016 附录A; DB4403/T 77-2020 附录A).
//!
//! ConnectorID is EquipmentID plus a 3-character extension; OperatorID is the 9-character
//! organisation code. The part after the slash is operator-defined.

use core::fmt;

use crate::tcec::validate::{Len, Validate, Validator};

/// The URI scheme.
pub const SCHEME: &str = "hlht";

/// A parsed connector QR code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QrCode {
    /// ConnectorID (≤26 characters).
    pub connector_id: String,
    /// OperatorID (9 characters).
    pub operator_id: String,
    /// Operator-defined suffix after the `/` (may be empty).
    pub custom: String,
}

/// A string that is not an `hlht://` connector URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The scheme is not `hlht://`.
    #[error("not an hlht:// URI: {received:?}")]
    Scheme {
        /// The received text (truncated).
        received: String,
    },
    /// The authority has no `.` separating ConnectorID from OperatorID, or a part is empty.
    #[error("expected <ConnectorID>.<OperatorID> after hlht://, got {authority:?}")]
    Authority {
        /// The received authority (truncated).
        authority: String,
    },
}

fn truncated(s: &str) -> String {
    let mut s = s.to_owned();
    crate::tcec::lenient::truncate_for_error(&mut s);
    s
}

impl QrCode {
    /// A QR code with no custom suffix.
    pub fn new(connector_id: impl Into<String>, operator_id: impl Into<String>) -> Self {
        QrCode {
            connector_id: connector_id.into(),
            operator_id: operator_id.into(),
            custom: String::new(),
        }
    }

    /// Parses `hlht://ConnectorID.OperatorID/custom`. The scheme is case-insensitive and the
    /// space the T/CEC OCR shows after `hlht:` is tolerated; the trailing `/` is optional.
    pub fn parse(uri: &str) -> Result<Self, QrError> {
        let s = uri.trim();
        let rest = s
            .get(..SCHEME.len() + 1)
            .filter(|p| p.eq_ignore_ascii_case("hlht:"))
            .and_then(|_| s.get(SCHEME.len() + 1..))
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix("//"))
            .ok_or_else(|| QrError::Scheme {
                received: truncated(uri),
            })?;
        let (authority, custom) = rest.split_once('/').unwrap_or((rest, ""));
        let bad = || QrError::Authority {
            authority: truncated(authority),
        };
        // The OperatorID never contains a dot, so the last dot separates the two IDs.
        let (connector_id, operator_id) = authority.rsplit_once('.').ok_or_else(bad)?;
        if connector_id.is_empty() || operator_id.is_empty() {
            return Err(bad());
        }
        Ok(QrCode {
            connector_id: connector_id.to_owned(),
            operator_id: operator_id.to_owned(),
            custom: custom.to_owned(),
        })
    }
}

impl fmt::Display for QrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}://{}.{}/{}",
            self.connector_id, self.operator_id, self.custom
        )
    }
}

impl Validate for QrCode {
    fn check(&self, v: &mut Validator) {
        v.req_str("ConnectorID", &self.connector_id, Len::Max(26));
        v.req_str("OperatorID", &self.operator_id, Len::Exact(9));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builds_and_parses() {
        let qr = QrCode::new("10000000000000000000001001", "123456789");
        assert_eq!(
            qr.to_string(),
            "hlht://10000000000000000000001001.123456789/"
        );
        assert_eq!(QrCode::parse(&qr.to_string()).unwrap(), qr);
        let custom = QrCode::parse("HLHT://3702120244102_1.MA25CNM38/extra/x?y=1").unwrap();
        assert_eq!(custom.connector_id, "3702120244102_1");
        assert_eq!(custom.operator_id, "MA25CNM38");
        assert_eq!(custom.custom, "extra/x?y=1");
        assert_eq!(
            QrCode::parse("hlht: //1.123456789").unwrap().connector_id,
            "1"
        );
        assert!(qr.validate().is_ok());
        assert_eq!(
            QrCode::new("1", "12345").validate().unwrap_err().path,
            "OperatorID"
        );
    }

    #[test]
    fn rejects_other_uris() {
        assert!(matches!(
            QrCode::parse("http://1.123456789/"),
            Err(QrError::Scheme { .. })
        ));
        assert!(matches!(
            QrCode::parse("hlht:"),
            Err(QrError::Scheme { .. })
        ));
        assert!(matches!(
            QrCode::parse("hlht://123456789/"),
            Err(QrError::Authority { .. })
        ));
        assert!(matches!(
            QrCode::parse("hlht://.123456789/"),
            Err(QrError::Authority { .. })
        ));
        assert!(matches!(
            QrCode::parse("hlht://1./"),
            Err(QrError::Authority { .. })
        ));
        assert!(matches!(QrCode::parse("hl"), Err(QrError::Scheme { .. })));
    }

    proptest! {
        #[test]
        fn round_trip(c in "[0-9A-Za-z_.]{1,26}", o in "[0-9A-Z]{9}", custom in "[a-z0-9/]{0,8}") {
            let qr = QrCode { connector_id: c, operator_id: o, custom };
            prop_assert_eq!(QrCode::parse(&qr.to_string()).unwrap(), qr);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = QrCode::parse(&s);
        }
    }
}
