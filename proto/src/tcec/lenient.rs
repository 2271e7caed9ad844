//! Lenient decoding for the sloppy peers seen in practice (tcec-http.md §5).
//!
//! Real platforms send numbers as strings (`"AlarmCode": "101"`), strings as numbers
//! (`"ConnectorID": 1`), JSON with trailing commas (every example in the DB4403 seed, and the
//! T/CEC AES example plaintext), keys with stray spaces (`" ConnectorID "`), and MIME Base64 with
//! line breaks. Decoding accepts all of these; [`crate::tcec::validate`] is where strictness lives.
//!
//! Every scalar field of the data objects is decoded through [`de`], which accepts any JSON value
//! the target type can be recovered from without losing information.

use std::borrow::Cow;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A field type that can be recovered leniently from any reasonable JSON value.
pub trait Lenient: Sized {
    /// Converts `v`; the error is a short description of what was received.
    fn from_json(v: &Value) -> Result<Self, String>;
}

/// Serde `deserialize_with` adaptor: decode any [`Lenient`] field type.
pub fn de<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient,
{
    let v = Value::deserialize(d)?;
    T::from_json(&v).map_err(D::Error::custom)
}

/// Describes a received JSON value for error messages, truncated so huge inputs stay short.
pub(crate) fn describe(v: &Value) -> String {
    let mut s = v.to_string();
    truncate_for_error(&mut s);
    s
}

/// Cuts `s` to at most 64 characters (appending `…`) so errors never carry megabytes.
pub(crate) fn truncate_for_error(s: &mut String) {
    const MAX: usize = 64;
    if let Some((idx, _)) = s.char_indices().nth(MAX) {
        s.truncate(idx);
        s.push('…');
    }
}

/// Reads an integer from a JSON number, an integral float (`60.0`) or a numeric string (`"60"`).
pub fn int_of(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if let Some(f) = n.as_f64() {
                integral_f64(f).ok_or_else(|| format!("expected an integer, got {n}"))
            } else {
                Err(format!("integer out of range: {n}"))
            }
        }
        Value::String(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Ok(i);
            }
            t.parse::<f64>()
                .ok()
                .and_then(integral_f64)
                .ok_or_else(|| format!("expected an integer, got {}", describe(v)))
        }
        other => Err(format!("expected an integer, got {}", describe(other))),
    }
}

/// `Some(i)` when `f` is finite, has no fractional part and fits an `i64`.
fn integral_f64(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

/// Reads a finite float from a JSON number or a numeric string.
pub fn float_of(v: &Value) -> Result<f64, String> {
    let f = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match f {
        Some(f) if f.is_finite() => Ok(f),
        _ => Err(format!("expected a number, got {}", describe(v))),
    }
}

macro_rules! lenient_int {
    ($($t:ty),*) => {$(
        impl Lenient for $t {
            fn from_json(v: &Value) -> Result<Self, String> {
                let i = int_of(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range for {}", stringify!($t)))
            }
        }
    )*};
}
lenient_int!(u8, u16, u32, u64, i16, i32, i64);

impl Lenient for f64 {
    fn from_json(v: &Value) -> Result<Self, String> {
        float_of(v)
    }
}

impl Lenient for String {
    /// Strings accept numbers and booleans (rendered in JSON form) and `null` (as empty, so a
    /// required field sent as `null` is reported by validation as missing).
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Null => Ok(String::new()),
            other => Err(format!("expected a string, got {}", describe(other))),
        }
    }
}

impl<T: Lenient> Lenient for Option<T> {
    /// `null` is `None`; so is an empty string where `T` cannot be empty (a number or a code).
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            other => match T::from_json(other) {
                Ok(t) => Ok(Some(t)),
                Err(_) if other.as_str().is_some_and(|s| s.trim().is_empty()) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }
}

impl<T: Lenient> Lenient for Vec<T> {
    /// Arrays decode element-wise; `null` is empty; a lone scalar is a one-element list.
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::Array(items) => items.iter().map(T::from_json).collect(),
            Value::Null => Ok(Vec::new()),
            other => Ok(vec![T::from_json(other)?]),
        }
    }
}

/// Removes commas that directly precede `}` or `]` outside string literals.
///
/// Valid JSON never has such a comma, so this never changes the meaning of valid input; it
/// repairs the trailing commas of the seed examples and of the T/CEC AES example plaintext
/// (`"soc":10,}}}`, tcec-http.md §2 TV-2 and §5 quirk 1).
pub fn strip_trailing_commas(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut drop = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' => {
                let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                if matches!(next, Some(b'}') | Some(b']')) {
                    drop.push(i);
                }
            }
            _ => {}
        }
    }
    if drop.is_empty() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for i in drop {
        // Commas are ASCII, so `i` and `i + 1` are always char boundaries.
        out.push_str(&s[last..i]);
        last = i + 1;
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// Trims whitespace around every object key, recursively (`" ConnectorID "`, §5 quirk 2).
///
/// If trimming makes two keys equal, the one that sorts last in the original map wins.
pub fn normalize_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, val) in map {
                let key = match k.trim() {
                    t if t.len() == k.len() => k,
                    t => t.to_owned(),
                };
                out.insert(key, normalize_keys(val));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_keys).collect()),
        other => other,
    }
}

/// Parses business JSON leniently: strips a UTF-8 BOM and trailing commas, then trims keys.
pub fn parse_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // Let serde_json produce its usual positioned error for invalid UTF-8.
        Err(_) => return serde_json::from_slice(bytes),
    };
    let repaired = strip_trailing_commas(text);
    serde_json::from_str::<Value>(&repaired).map(normalize_keys)
}

/// Removes ASCII whitespace and the literal two-character sequences `\r` and `\n` from Base64.
///
/// Java peers using `sun.misc.BASE64Encoder` wrap Base64 every 76 characters, and the Shenzhen
/// platform also strips the escaped forms (tcec-http.md §5 quirk 4). A backslash is not in the
/// Base64 alphabet, so removing these sequences never alters a valid encoding.
pub fn strip_base64_noise(s: &str) -> Cow<'_, str> {
    let noisy = s.bytes().any(|b| b.is_ascii_whitespace() || b == b'\\');
    if !noisy {
        return Cow::Borrowed(s);
    }
    let cleaned = s.replace("\\r", "").replace("\\n", "");
    Cow::Owned(
        cleaned
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_from_numbers_floats_and_strings() {
        assert_eq!(u32::from_json(&json!(60)).unwrap(), 60);
        assert_eq!(u32::from_json(&json!(60.0)).unwrap(), 60);
        assert_eq!(u32::from_json(&json!(" 60 ")).unwrap(), 60);
        assert_eq!(i32::from_json(&json!("-5")).unwrap(), -5);
        assert_eq!(i32::from_json(&json!("3.0")).unwrap(), 3);
        assert!(u32::from_json(&json!(3.3)).is_err());
        assert!(u32::from_json(&json!(-1)).is_err());
        assert!(u8::from_json(&json!(300)).is_err());
        assert!(u32::from_json(&json!("abc")).is_err());
        assert!(u32::from_json(&json!([1])).is_err());
        assert!(i64::from_json(&json!(1e300)).is_err());
    }

    #[test]
    fn floats_from_numbers_and_strings() {
        assert_eq!(f64::from_json(&json!(4.2)).unwrap(), 4.2);
        assert_eq!(f64::from_json(&json!("4.20")).unwrap(), 4.2);
        assert_eq!(f64::from_json(&json!(7)).unwrap(), 7.0);
        assert!(f64::from_json(&json!("NaN")).is_err());
        assert!(f64::from_json(&json!("inf")).is_err());
        assert!(f64::from_json(&json!(null)).is_err());
    }

    #[test]
    fn strings_from_numbers_and_null() {
        assert_eq!(String::from_json(&json!(1)).unwrap(), "1");
        assert_eq!(String::from_json(&json!(123456789)).unwrap(), "123456789");
        assert_eq!(String::from_json(&json!(null)).unwrap(), "");
        assert!(String::from_json(&json!({"a": 1})).is_err());
    }

    #[test]
    fn options_and_lists() {
        assert_eq!(Option::<u32>::from_json(&json!(null)).unwrap(), None);
        assert_eq!(Option::<u32>::from_json(&json!("")).unwrap(), None);
        assert_eq!(
            Option::<String>::from_json(&json!("")).unwrap(),
            Some(String::new())
        );
        assert!(Option::<u32>::from_json(&json!("x")).is_err());
        let pics = Vec::<String>::from_json(&json!("http://a/1.jpg")).unwrap();
        assert_eq!(pics, vec!["http://a/1.jpg".to_owned()]);
        assert!(Vec::<String>::from_json(&json!(null)).unwrap().is_empty());
    }

    #[test]
    fn trailing_commas_are_removed_outside_strings_only() {
        assert_eq!(strip_trailing_commas(r#"{"a":1,}"#), r#"{"a":1}"#);
        assert_eq!(strip_trailing_commas("[1,2, \n ]"), "[1,2 \n ]");
        assert_eq!(strip_trailing_commas(r#"{"a":",}"}"#), r#"{"a":",}"}"#);
        assert_eq!(strip_trailing_commas(r#"{"a":"\",}",}"#), r#"{"a":"\",}"}"#);
        assert!(matches!(
            strip_trailing_commas(r#"{"a":1}"#),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn keys_are_trimmed_recursively() {
        let v = normalize_keys(json!({" ConnectorID ": "1", "A": [{" B": 2}]}));
        assert_eq!(v, json!({"ConnectorID": "1", "A": [{"B": 2}]}));
    }

    #[test]
    fn lenient_json_repairs_seed_examples() {
        let v = parse_json("\u{FEFF}{\n \"Status\": 0,\n}".as_bytes()).unwrap();
        assert_eq!(v, json!({"Status": 0}));
        assert!(parse_json(b"{\"Status\": }").is_err());
        assert!(parse_json(b"\xff\xfe").is_err());
    }

    #[test]
    fn base64_noise_is_stripped() {
        assert_eq!(strip_base64_noise("ab\r\ncd\n=="), "abcd==");
        assert_eq!(strip_base64_noise("ab\\r\\ncd"), "abcd");
        assert!(matches!(strip_base64_noise("abcd"), Cow::Borrowed(_)));
    }
}
