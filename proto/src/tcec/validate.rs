//! Strict, opt-in validation of decoded objects against the standards' tables.
//!
//! Decoding is lenient (see [`crate::tcec::lenient`]); a platform that wants to reject bad input
//! calls [`Validate::validate`] and answers with [`ValidationError::ret`]. Errors name the
//! offending field by its wire path, e.g. `StationInfos[0].EquipmentInfos[1].ConnectorID`.
//!
//! Ret mapping (tcec-http.md §4, DB4403 表81): a missing or invalid *business* field is
//! `4004 请求的业务参数不合法` ("各接口定义自己的必须参数"); `4003 POST参数不合法` is reserved for the
//! envelope fields (OperatorID, Data, TimeStamp, Seq, Sig), which the envelope layer reports.

use core::fmt::Display;

use crate::tcec::interfaces::Dialect;
use crate::tcec::ret::Ret;
use crate::tcec::time::{CivilTime, TimeStamp};

/// Implemented by every spec-coded enum so validation can reject undefined codes.
pub trait CodeEnum {
    /// The integer sent on the wire.
    fn code(&self) -> i32;
    /// Whether the standard defines this code.
    fn is_known(&self) -> bool;
}

/// The first rule an object broke, with the wire path of the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {violation}")]
pub struct ValidationError {
    /// Wire path of the field, e.g. `StationInfo.EquipmentInfos[0].Power`.
    pub path: String,
    /// What is wrong with it.
    pub violation: Violation,
}

impl ValidationError {
    /// The `Ret` a server answers with: always `4004` (business parameter invalid).
    pub const fn ret(&self) -> Ret {
        Ret::BusinessParamInvalid
    }
}

/// The rule a field broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A required field is absent, `null` or an empty string.
    #[error("required field is missing or empty")]
    Missing,
    /// A string is longer than the table allows (lengths count characters, not bytes).
    #[error("{len} characters, at most {max} allowed")]
    TooLong {
        /// Maximum length in characters.
        max: usize,
        /// Received length in characters.
        len: usize,
    },
    /// A fixed-length string has the wrong length.
    #[error("{len} characters, exactly {expected} required")]
    WrongLength {
        /// Required length in characters.
        expected: usize,
        /// Received length in characters.
        len: usize,
    },
    /// A number is outside the table's range.
    #[error("{value} is outside {min}..={max}")]
    OutOfRange {
        /// Received value.
        value: String,
        /// Smallest allowed value.
        min: String,
        /// Largest allowed value.
        max: String,
    },
    /// A code the standard does not define.
    #[error("code {code} is not defined by the standard")]
    UnknownCode {
        /// Received code.
        code: i32,
    },
    /// A date, time or identifier is not in the required format.
    #[error("{value:?} is not in the format {format}")]
    BadFormat {
        /// The required format, e.g. `yyyy-MM-dd HH:mm:ss`.
        format: &'static str,
        /// Received value (truncated).
        value: String,
    },
    /// A list has too few or too many items.
    #[error("{len} items, {min}..={max} allowed")]
    ItemCount {
        /// Fewest items allowed.
        min: usize,
        /// Most items allowed.
        max: usize,
        /// Received number of items.
        len: usize,
    },
}

/// Allowed length of a string field, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    /// At most this many characters (`≤N 字符`).
    Max(usize),
    /// Exactly this many characters (`N 字符`, e.g. the 9-character OperatorID).
    Exact(usize),
    /// No length rule.
    Any,
}

/// Date and time formats used by the standards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// `yyyy-MM-dd`.
    Date,
    /// `yyyy-MM-dd HH:mm:ss`.
    DateTime,
    /// `yyyyMMddHHmmss` (the envelope TimeStamp).
    Compact,
    /// `HHmmss` (T/CEC 102.3 PolicyInfo.StartTime).
    HhMmSs,
}

impl TimeFormat {
    const fn pattern(self) -> &'static str {
        match self {
            TimeFormat::Date => "yyyy-MM-dd",
            TimeFormat::DateTime => "yyyy-MM-dd HH:mm:ss",
            TimeFormat::Compact => "yyyyMMddHHmmss",
            TimeFormat::HhMmSs => "HHmmss",
        }
    }

    fn accepts(self, s: &str) -> bool {
        match self {
            TimeFormat::Date => CivilTime::parse_date(s).is_ok(),
            TimeFormat::DateTime => CivilTime::parse_datetime(s).is_ok(),
            TimeFormat::Compact => TimeStamp::parse(s).is_ok(),
            TimeFormat::HhMmSs => CivilTime::parse_hhmmss(s).is_ok(),
        }
    }
}

/// An object that can be checked against its standard's table.
pub trait Validate {
    /// Records the first violation into `v`; implementations call the `Validator` helpers.
    fn check(&self, v: &mut Validator);

    /// Validates under DB4403/T 77-2020 rules (the strictest: extension fields are required).
    fn validate(&self) -> Result<(), ValidationError> {
        self.validate_for(Dialect::Db4403)
    }

    /// Validates under the rules of `dialect` (T/CEC does not require the DB4403 extensions).
    fn validate_for(&self, dialect: Dialect) -> Result<(), ValidationError> {
        let mut v = Validator::new(dialect);
        self.check(&mut v);
        v.finish()
    }
}

#[derive(Debug, Clone)]
enum Seg {
    Field(&'static str),
    Index(usize),
}

/// Walks an object, tracking the wire path and keeping the first violation.
#[derive(Debug)]
pub struct Validator {
    dialect: Dialect,
    path: Vec<Seg>,
    error: Option<ValidationError>,
}

impl Validator {
    /// A validator for `dialect` with no violation recorded.
    pub fn new(dialect: Dialect) -> Self {
        Validator {
            dialect,
            path: Vec::new(),
            error: None,
        }
    }

    /// The dialect whose rules apply.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether the DB4403 extension fields are required (they are optional in T/CEC).
    pub fn db4403(&self) -> bool {
        self.dialect == Dialect::Db4403
    }

    /// The first violation, if any.
    pub fn finish(self) -> Result<(), ValidationError> {
        self.error.map_or(Ok(()), Err)
    }

    fn render(&self, field: &str) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Field(f) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(f);
                }
                Seg::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(field);
        out
    }

    /// Records `violation` for `field` unless a violation is already recorded.
    pub fn fail(&mut self, field: &str, violation: Violation) {
        if self.error.is_none() {
            let path = self.render(field);
            self.error = Some(ValidationError { path, violation });
        }
    }

    /// Checks a string field that may be absent; `required` makes absence or emptiness fail.
    pub fn string(&mut self, field: &str, value: Option<&str>, required: bool, len: Len) {
        let Some(s) = value.filter(|s| !s.trim().is_empty()) else {
            if required {
                self.fail(field, Violation::Missing);
            }
            return;
        };
        let count = s.chars().count();
        match len {
            Len::Max(max) if count > max => {
                self.fail(field, Violation::TooLong { max, len: count })
            }
            Len::Exact(expected) if count != expected => self.fail(
                field,
                Violation::WrongLength {
                    expected,
                    len: count,
                },
            ),
            _ => {}
        }
    }

    /// Checks a required string field (empty means missing).
    pub fn req_str(&mut self, field: &str, value: &str, len: Len) {
        self.string(field, Some(value), true, len);
    }

    /// Checks an optional string field.
    pub fn opt_str(&mut self, field: &str, value: Option<&String>, len: Len) {
        self.string(field, value.map(String::as_str), false, len);
    }

    /// Checks that a string (if present and non-empty) is a date/time in `format`.
    pub fn time(&mut self, field: &str, value: Option<&str>, required: bool, format: TimeFormat) {
        self.string(field, value, required, Len::Any);
        if let Some(s) = value.filter(|s| !s.trim().is_empty())
            && !format.accepts(s)
        {
            let mut value = s.to_owned();
            crate::tcec::lenient::truncate_for_error(&mut value);
            let format = format.pattern();
            self.fail(field, Violation::BadFormat { format, value });
        }
    }

    /// Checks a code field that may be absent.
    pub fn code<C: CodeEnum>(&mut self, field: &str, value: Option<&C>, required: bool) {
        match value {
            None if required => self.fail(field, Violation::Missing),
            Some(c) if !c.is_known() => self.fail(field, Violation::UnknownCode { code: c.code() }),
            _ => {}
        }
    }

    /// Checks a required code field.
    pub fn req_code<C: CodeEnum>(&mut self, field: &str, value: &C) {
        self.code(field, Some(value), true);
    }

    /// Checks that a value that may be absent lies in `min..=max`.
    pub fn range<T>(&mut self, field: &str, value: Option<T>, required: bool, min: T, max: T)
    where
        T: PartialOrd + Display + Copy,
    {
        match value {
            None if required => self.fail(field, Violation::Missing),
            Some(x) if !(x >= min && x <= max) => {
                let (value, min, max) = (x.to_string(), min.to_string(), max.to_string());
                self.fail(field, Violation::OutOfRange { value, min, max });
            }
            _ => {}
        }
    }

    /// Fails with `Missing` when a required optional-typed field is `None`.
    pub fn present<T>(&mut self, field: &str, value: Option<&T>, required: bool) {
        if required && value.is_none() {
            self.fail(field, Violation::Missing);
        }
    }

    /// Checks a list's item count.
    pub fn count(&mut self, field: &str, len: usize, min: usize, max: usize) {
        if len < min || len > max {
            self.fail(field, Violation::ItemCount { min, max, len });
        }
    }

    /// Validates a nested object under `field`.
    pub fn nested<T: Validate + ?Sized>(&mut self, field: &'static str, value: &T) {
        if self.error.is_some() {
            return;
        }
        self.path.push(Seg::Field(field));
        value.check(self);
        self.path.pop();
    }

    /// Validates every item of a list under `field`, then its item count.
    pub fn list<T: Validate>(&mut self, field: &'static str, items: &[T], min: usize, max: usize) {
        self.count(field, items.len(), min, max);
        if self.error.is_some() {
            return;
        }
        self.path.push(Seg::Field(field));
        for (i, item) in items.iter().enumerate() {
            self.path.push(Seg::Index(i));
            item.check(self);
            self.path.pop();
            if self.error.is_some() {
                break;
            }
        }
        self.path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Inner {
        id: String,
    }
    impl Validate for Inner {
        fn check(&self, v: &mut Validator) {
            v.req_str("ConnectorID", &self.id, Len::Max(3));
        }
    }
    struct Outer {
        items: Vec<Inner>,
        soc: Option<i32>,
    }
    impl Validate for Outer {
        fn check(&self, v: &mut Validator) {
            v.list("ConnectorInfos", &self.items, 1, 2);
            v.range("SOC", self.soc, v.db4403(), 0, 100);
        }
    }

    #[test]
    fn path_names_the_nested_field() {
        let bad = Outer {
            items: vec![Inner { id: "1".into() }, Inner { id: "1234".into() }],
            soc: Some(5),
        };
        let e = bad.validate().unwrap_err();
        assert_eq!(e.path, "ConnectorInfos[1].ConnectorID");
        assert_eq!(e.violation, Violation::TooLong { max: 3, len: 4 });
        assert_eq!(e.ret(), Ret::BusinessParamInvalid);
        assert_eq!(
            e.to_string(),
            "ConnectorInfos[1].ConnectorID: 4 characters, at most 3 allowed"
        );
    }

    #[test]
    fn dialect_controls_required_fields() {
        let no_soc = Outer {
            items: vec![Inner { id: "1".into() }],
            soc: None,
        };
        assert_eq!(no_soc.validate().unwrap_err().path, "SOC");
        assert!(no_soc.validate_for(Dialect::Tcec).is_ok());
    }

    #[test]
    fn counts_and_ranges() {
        let empty = Outer {
            items: vec![],
            soc: Some(101),
        };
        let e = empty.validate().unwrap_err();
        assert_eq!(e.path, "ConnectorInfos");
        assert_eq!(
            e.violation,
            Violation::ItemCount {
                min: 1,
                max: 2,
                len: 0
            }
        );
        let high = Outer {
            items: vec![Inner { id: "1".into() }],
            soc: Some(101),
        };
        assert!(matches!(
            high.validate().unwrap_err().violation,
            Violation::OutOfRange { .. }
        ));
    }

    #[test]
    fn time_formats() {
        let mut v = Validator::new(Dialect::Db4403);
        v.time("T", Some("2017-08-08 18:18:18"), true, TimeFormat::DateTime);
        v.time("D", Some("2015-10-01"), true, TimeFormat::Date);
        v.time("H", Some("235959"), true, TimeFormat::HhMmSs);
        v.time("C", Some("20160729142400"), true, TimeFormat::Compact);
        assert!(v.finish().is_ok());
        let mut v = Validator::new(Dialect::Db4403);
        v.time(
            "EventTime",
            Some("2017-02-30 00:00:00"),
            true,
            TimeFormat::DateTime,
        );
        let e = v.finish().unwrap_err();
        assert_eq!(e.path, "EventTime");
        assert!(matches!(
            e.violation,
            Violation::BadFormat {
                format: "yyyy-MM-dd HH:mm:ss",
                ..
            }
        ));
    }
}
