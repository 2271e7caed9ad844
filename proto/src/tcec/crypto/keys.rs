//! Redacting secret types and the per-peer key set.
//!
//! Secrets print as `[REDACTED]` through `Debug` and `Display`, are wiped from memory on drop,
//! and are only readable through an explicit `expose()` call, so a stray `{:?}` in a log line or
//! an error message can never leak them.

use core::fmt;

use serde::{Deserializer, Serializer};
use zeroize::Zeroize;

const REDACTED: &str = "[REDACTED]";

/// A secret string (OperatorSecret, SigSecret, AccessToken…).
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself. Call sites are easy to audit: grep for `expose(`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with another secret in time independent of where they differ.
    pub fn ct_eq(&self, other: &Secret) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        diff == 0 && a.len() == b.len()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Serde helpers for a [`Secret`] field that travels inside encrypted Data (OperatorSecret,
/// AccessToken). `Secret` itself implements no serde traits, so it cannot be serialized by
/// accident; a field opts in with `#[serde(with = "secret_serde")]`.
pub mod secret_serde {
    use super::*;

    /// Writes the secret as a JSON string.
    pub fn serialize<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose())
    }

    /// Reads a secret leniently (a number is taken as its decimal text).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        crate::tcec::lenient::de::<D, String>(d).map(Secret)
    }
}

/// A 16-byte AES key or IV (DataSecret, DataSecretIV).
#[derive(Clone)]
pub struct Key16([u8; 16]);

/// A key has the wrong length. Carries the key's name and length, never its bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} must be exactly 16 bytes, got {len}")]
pub struct KeyError {
    /// Which key (`DataSecret` or `DataSecretIV`).
    pub name: &'static str,
    /// Its length in bytes.
    pub len: usize,
}

impl Key16 {
    /// Wraps raw key bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Key16(bytes)
    }

    /// The UTF-8 bytes of a 16-byte secret string, as every implementation uses them
    /// (tcec-http.md §4: never hex-decoded). `name` labels the error.
    pub fn from_str_exact(name: &'static str, s: &str) -> Result<Self, KeyError> {
        <[u8; 16]>::try_from(s.as_bytes())
            .map(Key16)
            .map_err(|_| KeyError { name, len: s.len() })
    }

    /// The Shenzhen platform's behaviour (tcec-http.md §5 quirk 5): short keys are padded with
    /// 0x00 and long keys truncated to 16 bytes. For interoperating with such peers only.
    pub fn from_str_zero_padded(s: &str) -> Self {
        let mut key = [0u8; 16];
        for (dst, src) in key.iter_mut().zip(s.as_bytes()) {
            *dst = *src;
        }
        Key16(key)
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }
}

impl Drop for Key16 {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Key16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Key16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The key set two platforms exchange (DB4403/T 77-2020 §10.1.4; T/CEC 102.4 §4.4).
///
/// Which side's set signs which direction is not settled by the sources (tcec-http.md §4:
/// "make it configurable"), so a platform holds one `TcecKeys` per peer and direction.
#[derive(Clone, Debug)]
pub struct TcecKeys {
    /// OperatorID: 9 characters, the organisation code of the operator the keys belong to.
    pub operator_id: String,
    /// OperatorSecret: authenticates `query_token` (spec: 16/32/48/64 hex characters).
    pub operator_secret: Secret,
    /// DataSecret: the AES-128 key, the UTF-8 bytes of a 16-character string.
    pub data_secret: Key16,
    /// DataSecretIV: the AES-CBC IV, the UTF-8 bytes of a 16-character string.
    pub data_secret_iv: Key16,
    /// SigSecret: the HMAC-MD5 key, used as its UTF-8 bytes (any length; spec: 32/48/64 hex).
    pub sig_secret: Secret,
}

impl TcecKeys {
    /// Builds a key set from the strings as exchanged; DataSecret and DataSecretIV must be
    /// exactly 16 bytes.
    pub fn new(
        operator_id: impl Into<String>,
        operator_secret: impl Into<Secret>,
        data_secret: &str,
        data_secret_iv: &str,
        sig_secret: impl Into<Secret>,
    ) -> Result<Self, KeyError> {
        Ok(TcecKeys {
            operator_id: operator_id.into(),
            operator_secret: operator_secret.into(),
            data_secret: Key16::from_str_exact("DataSecret", data_secret)?,
            data_secret_iv: Key16::from_str_exact("DataSecretIV", data_secret_iv)?,
            sig_secret: sig_secret.into(),
        })
    }
}
