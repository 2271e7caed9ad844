//! T/CEC 102 ("evcs") and DB4403/T 77-2020 ("shevcs") HTTP platform protocol: the wire layer.
//!
//! Both standards exchange JSON over HTTP POST. Every request body is an envelope
//! `{OperatorID, Data, TimeStamp, Seq, Sig}` and every response `{Ret, Msg, Data, Sig}`, where
//! `Data` is the business JSON encrypted with AES-128-CBC (PKCS#7) and Base64-encoded, and `Sig`
//! is an uppercase HMAC-MD5 over the envelope fields (see `shared/reference/tcec-http.md` §2, §4).
//!
//! Layout:
//! - [`crypto`]: AES/Base64/HMAC primitives and the redacting key types ([`crypto::TcecKeys`]).
//! - [`envelope`]: sealing and opening request/response envelopes.
//! - [`ret`]: the `Ret` return code.
//! - [`time`]: civil time, `TimeStamp` and the per-second `Seq` generator.
//! - [`objects`]: every data object and interface payload of DB4403/T 77 and T/CEC 102.2/102.3.
//! - [`codes`]: Appendix B alarm and event code tables.
//! - [`interfaces`]: interface names, URL paths and which side serves each one.
//! - [`qr`]: the `hlht://ConnectorID.OperatorID/` QR code URI.
//! - [`lenient`]: tolerant decoding of sloppy peers (numbers as strings, trailing commas…).
//! - [`validate`]: strict, opt-in validation that names the offending field.
//!
//! Decoding is lenient and never panics; strictness lives in [`validate`].

pub(crate) mod code_enum;
pub mod codes;
pub mod crypto;
pub mod envelope;
pub mod interfaces;
pub mod lenient;
pub mod objects;
pub mod qr;
pub mod ret;
pub mod time;
pub mod validate;

pub use crypto::{CryptoError, Key16, PreparedKeys, Secret, TcecKeys};
pub use envelope::{
    OpenedRequest, OpenedResponse, RequestEnvelope, ResponseEnvelope, ResponseOpenOptions,
    TcecError, open_request, open_response, seal_error_response, seal_request, seal_response,
};
pub use interfaces::{Dialect, Interface, ServedBy};
pub use ret::Ret;
pub use time::{CivilEpoch, CivilTime, Seq, SeqGenerator, TimeStamp};
pub use validate::{Validate, ValidationError};
