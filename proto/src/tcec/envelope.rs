//! Request and response envelopes: sealing (encrypt + sign) and opening (verify + decrypt).
//!
//! Request body `{OperatorID, Data, TimeStamp, Seq, Sig}`, response body `{Ret, Msg, Data, Sig}`
//! (DB4403/T 77-2020 §10.3.4; T/CEC 102.4 §6.4). Opening always verifies the Sig before it
//! decrypts anything, so a forged body never reaches the AES or JSON layers.
//!
//! Leniency (tcec-http.md §5): envelope keys match case-insensitively, values may be numbers,
//! `Data` may be MIME-wrapped Base64 (the Sig covers it exactly as sent), a `null` Msg is tried
//! as both `""` and `"null"` when verifying (quirk 7), and the decrypted business JSON may carry
//! trailing commas and padded keys. Unsigned error responses (`Sig: ""` with `Ret != 0`, quirk 7)
//! are accepted only when [`ResponseOpenOptions::accept_unsigned_errors`] is set.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::tcec::crypto::{self, CryptoError, PreparedKeys, TcecKeys};
use crate::tcec::lenient;
use crate::tcec::ret::Ret;
use crate::tcec::time::{Seq, TimeStamp};

/// The Content-Type both standards require.
pub const CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// Opening or sealing an envelope failed. Variants carry what was received, never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcecError {
    /// The body is not a JSON object.
    #[error("envelope is not a JSON object: {reason}")]
    Envelope {
        /// Parser message or a description of what was received.
        reason: String,
    },
    /// A required envelope field is absent or `null`.
    #[error("envelope field {field} is missing")]
    MissingField {
        /// The field (`OperatorID`, `Data`, `TimeStamp`, `Seq`, `Sig` or `Ret`).
        field: &'static str,
    },
    /// An envelope field has the wrong JSON type.
    #[error("envelope field {field} is not a string or number: {received}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What was received (truncated).
        received: String,
    },
    /// The Sig is malformed or does not match.
    #[error("signature check failed: {0}")]
    Signature(CryptoError),
    /// Data could not be Base64-decoded or decrypted.
    #[error("Data could not be decrypted: {0}")]
    Decrypt(CryptoError),
    /// The decrypted business JSON is malformed or does not fit the expected type.
    #[error("Data JSON is invalid at {path:?}: {reason}")]
    DataJson {
        /// Wire path of the offending field (`.` for the root).
        path: String,
        /// What is wrong (serde's message).
        reason: String,
    },
    /// Our own business data could not be serialized.
    #[error("cannot encode Data: {reason}")]
    Encode {
        /// serde's message.
        reason: String,
    },
}

impl TcecError {
    /// The `Ret` a server answers with (表81): envelope problems are `4003`, a bad Sig `4001`,
    /// a bad business payload `4004`, a local encoding failure `500`.
    pub const fn ret(&self) -> Ret {
        match self {
            TcecError::Envelope { .. }
            | TcecError::MissingField { .. }
            | TcecError::InvalidField { .. }
            | TcecError::Decrypt(_) => Ret::PostParamInvalid,
            TcecError::Signature(_) => Ret::SignatureError,
            TcecError::DataJson { .. } => Ret::BusinessParamInvalid,
            TcecError::Encode { .. } => Ret::SystemError,
        }
    }
}

/// A request body as sent: every field is the exact string that was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestEnvelope {
    /// OperatorID of the sender (9 characters).
    #[serde(rename = "OperatorID")]
    pub operator_id: String,
    /// Base64 AES ciphertext of the business JSON.
    #[serde(rename = "Data")]
    pub data: String,
    /// `yyyyMMddHHmmss`.
    #[serde(rename = "TimeStamp")]
    pub time_stamp: String,
    /// Four-digit per-second sequence.
    #[serde(rename = "Seq")]
    pub seq: String,
    /// Uppercase hex HMAC-MD5 of `OperatorID + Data + TimeStamp + Seq`.
    #[serde(rename = "Sig")]
    pub sig: String,
}

/// A response body as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseEnvelope {
    /// Result code.
    #[serde(rename = "Ret")]
    pub ret: Ret,
    /// Message (`""` or a description of the error).
    #[serde(rename = "Msg")]
    pub msg: String,
    /// Base64 AES ciphertext of the business JSON, `""` when there is none.
    #[serde(rename = "Data")]
    pub data: String,
    /// Uppercase hex HMAC-MD5 of `Ret + Msg + Data`.
    #[serde(rename = "Sig")]
    pub sig: String,
    /// Whether Msg arrived as JSON `null` (then `"null"` is also tried when verifying).
    #[serde(skip)]
    pub msg_was_null: bool,
}

/// A verified, decrypted request.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedRequest<T> {
    /// OperatorID of the sender.
    pub operator_id: String,
    /// TimeStamp as received (not format-checked: some peers send Unix milliseconds, §5 quirk 7;
    /// use [`TimeStamp::parse`] to check it).
    pub time_stamp: String,
    /// Seq as received.
    pub seq: String,
    /// The business data.
    pub data: T,
}

/// A verified, decrypted response.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedResponse<T> {
    /// Result code.
    pub ret: Ret,
    /// Message.
    pub msg: String,
    /// The business data, `None` when Data was empty (usual for errors).
    pub data: Option<T>,
}

/// Tolerances for opening responses from non-conformant peers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseOpenOptions {
    /// Accept `Sig: ""` on responses with `Ret != 0` (Star Charge does this, §5 quirk 7).
    /// Off by default: it lets anyone forge error responses.
    pub accept_unsigned_errors: bool,
}

/// Finds `name` among the object's keys, ignoring ASCII case.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A string-like field: strings as-is, numbers in their JSON form; `None` when absent or null.
fn text(obj: &Map<String, Value>, name: &'static str) -> Result<Option<String>, TcecError> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(TcecError::InvalidField {
            field: name,
            received: lenient::describe(other),
        }),
    }
}

fn required(obj: &Map<String, Value>, name: &'static str) -> Result<String, TcecError> {
    text(obj, name)?.ok_or(TcecError::MissingField { field: name })
}

/// A request body in the exact form conformant peers send: the five fields as strings under
/// their exact names. Parsing this first skips the lenient path's copies and maps; anything
/// else (other cases, numbers, trailing commas, a BOM…) falls back to the lenient parser,
/// which yields the same envelope for every body this accepts.
#[derive(Deserialize)]
struct StrictRequest {
    #[serde(rename = "OperatorID")]
    operator_id: String,
    #[serde(rename = "Data")]
    data: String,
    #[serde(rename = "TimeStamp")]
    time_stamp: String,
    #[serde(rename = "Seq")]
    seq: String,
    #[serde(rename = "Sig")]
    sig: String,
}

/// A response body in its conformant form (see [`StrictRequest`]): integer Ret, string Msg;
/// Data and Sig default to `""` as the lenient parser reads them when absent.
#[derive(Deserialize)]
struct StrictResponse {
    #[serde(rename = "Ret")]
    ret: i32,
    #[serde(rename = "Msg")]
    msg: String,
    #[serde(rename = "Data", default)]
    data: String,
    #[serde(rename = "Sig", default)]
    sig: String,
}

/// Appends `"key":` and `value` as a JSON string to `out`.
fn push_field(out: &mut Vec<u8>, first: bool, key: &str, value: &str) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, TcecError> {
    match lenient::parse_json(body) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(other) => Err(TcecError::Envelope {
            reason: format!("got {}", lenient::describe(&other)),
        }),
        Err(e) => Err(TcecError::Envelope {
            reason: e.to_string(),
        }),
    }
}

/// Decodes decrypted business bytes into `T` leniently, naming the failing field's path.
pub fn decode_data<T: DeserializeOwned>(plaintext: &[u8]) -> Result<T, TcecError> {
    let value = lenient::parse_json(plaintext).map_err(|e| TcecError::DataJson {
        path: ".".to_owned(),
        reason: e.to_string(),
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| TcecError::DataJson {
        path: e.path().to_string(),
        reason: e.inner().to_string(),
    })
}

fn encode_data<T: Serialize + ?Sized>(data: &T) -> Result<Vec<u8>, TcecError> {
    serde_json::to_vec(data).map_err(|e| TcecError::Encode {
        reason: e.to_string(),
    })
}

impl RequestEnvelope {
    /// Parses a request body. Missing fields are [`TcecError::MissingField`] (Ret 4003).
    pub fn parse(body: &[u8]) -> Result<Self, TcecError> {
        if let Ok(s) = serde_json::from_slice::<StrictRequest>(body) {
            return Ok(RequestEnvelope {
                operator_id: s.operator_id,
                data: s.data,
                time_stamp: s.time_stamp,
                seq: s.seq,
                sig: s.sig,
            });
        }
        let obj = parse_object(body)?;
        Ok(RequestEnvelope {
            operator_id: required(&obj, "OperatorID")?,
            data: required(&obj, "Data")?,
            time_stamp: required(&obj, "TimeStamp")?,
            seq: required(&obj, "Seq")?,
            sig: required(&obj, "Sig")?,
        })
    }

    /// The JSON body to send (keys in sorted order, as a `serde_json` map writes them).
    pub fn to_json(&self) -> String {
        String::from_utf8(self.to_json_bytes()).unwrap_or_default()
    }

    /// [`RequestEnvelope::to_json`] as bytes, written straight into one buffer.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            80 + self.operator_id.len()
                + self.data.len()
                + self.time_stamp.len()
                + self.seq.len()
                + self.sig.len(),
        );
        out.push(b'{');
        push_field(&mut out, true, "Data", &self.data);
        push_field(&mut out, false, "OperatorID", &self.operator_id);
        push_field(&mut out, false, "Seq", &self.seq);
        push_field(&mut out, false, "Sig", &self.sig);
        push_field(&mut out, false, "TimeStamp", &self.time_stamp);
        out.push(b'}');
        out
    }

    /// Checks the Sig (constant time).
    pub fn verify(&self, keys: &TcecKeys) -> Result<(), TcecError> {
        let parts =
            crypto::request_parts(&self.operator_id, &self.data, &self.time_stamp, &self.seq);
        crypto::verify(&keys.sig_secret, &parts, &self.sig).map_err(TcecError::Signature)
    }

    /// Verifies, then decrypts Data to its raw bytes.
    pub fn open_bytes(&self, keys: &TcecKeys) -> Result<Vec<u8>, TcecError> {
        self.verify(keys)?;
        crypto::decrypt_data(&keys.data_secret, &keys.data_secret_iv, &self.data)
            .map_err(TcecError::Decrypt)
    }

    /// Verifies, decrypts and decodes Data into `T` (use `serde_json::Value` for untyped data).
    pub fn open<T: DeserializeOwned>(
        &self,
        keys: &TcecKeys,
    ) -> Result<OpenedRequest<T>, TcecError> {
        let plaintext = self.open_bytes(keys)?;
        Ok(OpenedRequest {
            operator_id: self.operator_id.clone(),
            time_stamp: self.time_stamp.clone(),
            seq: self.seq.clone(),
            data: decode_data(&plaintext)?,
        })
    }
}

impl ResponseEnvelope {
    /// Parses a response body. Only `Ret` is required; absent Msg, Data and Sig read as `""`.
    pub fn parse(body: &[u8]) -> Result<Self, TcecError> {
        if let Ok(s) = serde_json::from_slice::<StrictResponse>(body) {
            return Ok(ResponseEnvelope {
                ret: Ret::from_code(s.ret),
                msg: s.msg,
                data: s.data,
                sig: s.sig,
                msg_was_null: false,
            });
        }
        let obj = parse_object(body)?;
        let ret_value = field(&obj, "Ret").filter(|v| !v.is_null());
        let ret_value = ret_value.ok_or(TcecError::MissingField { field: "Ret" })?;
        let ret = <Ret as lenient::Lenient>::from_json(ret_value).map_err(|_| {
            TcecError::InvalidField {
                field: "Ret",
                received: lenient::describe(ret_value),
            }
        })?;
        let msg = text(&obj, "Msg")?;
        Ok(ResponseEnvelope {
            ret,
            msg_was_null: msg.is_none() && field(&obj, "Msg").is_some(),
            msg: msg.unwrap_or_default(),
            data: text(&obj, "Data")?.unwrap_or_default(),
            sig: text(&obj, "Sig")?.unwrap_or_default(),
        })
    }

    /// The JSON body to send (keys in sorted order, as a `serde_json` map writes them).
    pub fn to_json(&self) -> String {
        String::from_utf8(self.to_json_bytes()).unwrap_or_default()
    }

    /// [`ResponseEnvelope::to_json`] as bytes, written straight into one buffer.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.msg.len() + self.data.len() + self.sig.len());
        out.push(b'{');
        push_field(&mut out, true, "Data", &self.data);
        push_field(&mut out, false, "Msg", &self.msg);
        out.extend_from_slice(b",\"Ret\":");
        out.extend_from_slice(self.ret.code().to_string().as_bytes());
        push_field(&mut out, false, "Sig", &self.sig);
        out.push(b'}');
        out
    }

    /// Checks the Sig (constant time), honouring `options`.
    pub fn verify(&self, keys: &TcecKeys, options: ResponseOpenOptions) -> Result<(), TcecError> {
        self.verify_with(options, |parts| {
            crypto::verify(&keys.sig_secret, parts, &self.sig)
        })
    }

    /// [`ResponseEnvelope::verify`] with prepared keys.
    pub fn verify_prepared(
        &self,
        keys: &PreparedKeys,
        options: ResponseOpenOptions,
    ) -> Result<(), TcecError> {
        self.verify_with(options, |parts| keys.verify(parts, &self.sig))
    }

    /// [`ResponseEnvelope::open_bytes`] with prepared keys.
    pub fn open_bytes_prepared(
        &self,
        keys: &PreparedKeys,
        options: ResponseOpenOptions,
    ) -> Result<Option<Vec<u8>>, TcecError> {
        self.verify_prepared(keys, options)?;
        if self.data.trim().is_empty() {
            return Ok(None);
        }
        keys.decrypt_data(&self.data)
            .map(Some)
            .map_err(TcecError::Decrypt)
    }

    fn verify_with(
        &self,
        options: ResponseOpenOptions,
        verify: impl Fn(&[&[u8]]) -> Result<(), CryptoError>,
    ) -> Result<(), TcecError> {
        if options.accept_unsigned_errors && self.sig.is_empty() && !self.ret.is_success() {
            return Ok(());
        }
        let ret = self.ret.code().to_string();
        let check = |msg: &str| {
            let parts = [ret.as_bytes(), msg.as_bytes(), self.data.as_bytes()];
            verify(&parts)
        };
        match check(&self.msg) {
            Err(CryptoError::SignatureMismatch { .. }) if self.msg_was_null => check("null"),
            other => other,
        }
        .map_err(TcecError::Signature)
    }

    /// Verifies, then decrypts Data to raw bytes (`None` when Data is empty).
    pub fn open_bytes(
        &self,
        keys: &TcecKeys,
        options: ResponseOpenOptions,
    ) -> Result<Option<Vec<u8>>, TcecError> {
        self.verify(keys, options)?;
        if self.data.trim().is_empty() {
            return Ok(None);
        }
        crypto::decrypt_data(&keys.data_secret, &keys.data_secret_iv, &self.data)
            .map(Some)
            .map_err(TcecError::Decrypt)
    }

    /// Verifies, decrypts and decodes Data into `T`.
    pub fn open<T: DeserializeOwned>(
        &self,
        keys: &TcecKeys,
        options: ResponseOpenOptions,
    ) -> Result<OpenedResponse<T>, TcecError> {
        let data = match self.open_bytes(keys, options)? {
            Some(plaintext) => Some(decode_data(&plaintext)?),
            None => None,
        };
        Ok(OpenedResponse {
            ret: self.ret,
            msg: self.msg.clone(),
            data,
        })
    }
}

/// Seals raw plaintext bytes into a request (for test vectors and simulating odd peers).
pub fn seal_request_bytes(
    keys: &TcecKeys,
    operator_id: &str,
    plaintext: &[u8],
    time_stamp: &str,
    seq: &str,
) -> RequestEnvelope {
    let data = crypto::encrypt_data(&keys.data_secret, &keys.data_secret_iv, plaintext);
    let sig = crypto::request_signature(keys, operator_id, &data, time_stamp, seq);
    RequestEnvelope {
        operator_id: operator_id.to_owned(),
        data,
        time_stamp: time_stamp.to_owned(),
        seq: seq.to_owned(),
        sig,
    }
}

/// [`seal_request_bytes`] with prepared keys (the same envelope, without re-deriving the
/// AES key schedule and HMAC key state).
pub fn seal_request_prepared(
    keys: &PreparedKeys,
    operator_id: &str,
    plaintext: &[u8],
    time_stamp: &str,
    seq: &str,
) -> RequestEnvelope {
    let data = keys.encrypt_data(plaintext);
    let sig = keys.sign(&crypto::request_parts(operator_id, &data, time_stamp, seq));
    RequestEnvelope {
        operator_id: operator_id.to_owned(),
        data,
        time_stamp: time_stamp.to_owned(),
        seq: seq.to_owned(),
        sig,
    }
}

/// Serializes `data`, encrypts it and signs the request.
pub fn seal_request<T: Serialize + ?Sized>(
    keys: &TcecKeys,
    operator_id: &str,
    data: &T,
    time_stamp: TimeStamp,
    seq: Seq,
) -> Result<RequestEnvelope, TcecError> {
    let plaintext = encode_data(data)?;
    Ok(seal_request_bytes(
        keys,
        operator_id,
        &plaintext,
        &time_stamp.to_string(),
        &seq.to_string(),
    ))
}

/// Seals raw plaintext bytes into a response.
pub fn seal_response_bytes(
    keys: &TcecKeys,
    ret: Ret,
    msg: &str,
    plaintext: &[u8],
) -> ResponseEnvelope {
    let data = crypto::encrypt_data(&keys.data_secret, &keys.data_secret_iv, plaintext);
    let sig = crypto::response_signature(keys, ret, msg, &data);
    ResponseEnvelope {
        ret,
        msg: msg.to_owned(),
        data,
        sig,
        msg_was_null: false,
    }
}

/// Serializes `data`, encrypts it and signs the response.
pub fn seal_response<T: Serialize + ?Sized>(
    keys: &TcecKeys,
    ret: Ret,
    msg: &str,
    data: &T,
) -> Result<ResponseEnvelope, TcecError> {
    Ok(seal_response_bytes(keys, ret, msg, &encode_data(data)?))
}

/// A signed response with empty Data, as platforms send for errors.
pub fn seal_error_response(keys: &TcecKeys, ret: Ret, msg: &str) -> ResponseEnvelope {
    ResponseEnvelope {
        ret,
        msg: msg.to_owned(),
        data: String::new(),
        sig: crypto::response_signature(keys, ret, msg, ""),
        msg_was_null: false,
    }
}

/// Parses, verifies, decrypts and decodes a request body in one step.
pub fn open_request<T: DeserializeOwned>(
    keys: &TcecKeys,
    body: &[u8],
) -> Result<OpenedRequest<T>, TcecError> {
    RequestEnvelope::parse(body)?.open(keys)
}

/// Parses, verifies, decrypts and decodes a response body with the strict default options.
pub fn open_response<T: DeserializeOwned>(
    keys: &TcecKeys,
    body: &[u8],
) -> Result<OpenedResponse<T>, TcecError> {
    ResponseEnvelope::parse(body)?.open(keys, ResponseOpenOptions::default())
}

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive).
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let v = header_value.trim();
    let scheme = v.get(..7)?;
    let token = v.get(7..)?.trim();
    (scheme.eq_ignore_ascii_case("bearer ") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests;
