//! AES-128-CBC + Base64 for `Data`, HMAC-MD5 for `Sig` (tcec-http.md §2 and §4).
//!
//! - Data: AES-128-CBC, PKCS#5/#7 padding, key = DataSecret bytes, IV = DataSecretIV bytes,
//!   standard RFC 4648 Base64 with `=` padding. Decoding tolerates line breaks (MIME Base64).
//! - Sig: RFC 2104 HMAC-MD5 keyed with the SigSecret's UTF-8 bytes, 32 uppercase hex digits.
//!   Requests sign `OperatorID + Data + TimeStamp + Seq`, responses `Ret + Msg + Data`, where
//!   Data is the Base64 string exactly as sent.
//!
//! Verification is constant-time (`Mac::verify_slice`) and accepts either hex case.

mod keys;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyIvInit};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use zeroize::Zeroize;

pub use keys::{Key16, KeyError, Secret, TcecKeys, secret_serde};

use crate::tcec::ret::Ret;

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Standard alphabet; padding optional on decode (some peers drop it), always written.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decrypting or verifying failed. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Data is not valid Base64 (after removing line breaks).
    #[error("Data is not valid Base64: {reason}")]
    Base64 {
        /// The decoder's description, e.g. the offending byte and its offset.
        reason: String,
    },
    /// The ciphertext is empty or not a whole number of 16-byte AES blocks.
    #[error("ciphertext is {len} bytes, not a positive multiple of 16")]
    CiphertextLength {
        /// Decoded ciphertext length.
        len: usize,
    },
    /// The PKCS#7 padding of the decrypted data is malformed (wrong key or IV, or tampering).
    #[error("bad PKCS#7 padding after decryption")]
    Padding,
    /// The received Sig is not 32 hex digits.
    #[error("Sig {received:?} is not 32 hex digits")]
    MalformedSignature {
        /// The received Sig (truncated).
        received: String,
    },
    /// The received Sig does not match the HMAC of the fields.
    #[error("Sig {received} does not match")]
    SignatureMismatch {
        /// The received Sig.
        received: String,
    },
}

/// Encrypts `plaintext` into the Base64 `Data` string.
pub fn encrypt_data(key: &Key16, iv: &Key16, plaintext: &[u8]) -> String {
    let cipher = Aes128CbcEnc::new(&(*key.expose()).into(), &(*iv.expose()).into());
    BASE64.encode(cipher.encrypt_padded_vec::<Pkcs7>(plaintext))
}

/// The ciphertext of a Base64 `Data` string (noise removed), checked to be whole blocks.
fn decode_ciphertext(data: &str) -> Result<Vec<u8>, CryptoError> {
    let cleaned = crate::tcec::lenient::strip_base64_noise(data);
    let ciphertext = BASE64
        .decode(cleaned.as_bytes())
        .map_err(|e| CryptoError::Base64 {
            reason: e.to_string(),
        })?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(CryptoError::CiphertextLength {
            len: ciphertext.len(),
        });
    }
    Ok(ciphertext)
}

/// Decrypts a Base64 `Data` string; line breaks and the literal `\r`/`\n` are ignored.
pub fn decrypt_data(key: &Key16, iv: &Key16, data: &str) -> Result<Vec<u8>, CryptoError> {
    let ciphertext = decode_ciphertext(data)?;
    let cipher = Aes128CbcDec::new(&(*key.expose()).into(), &(*iv.expose()).into());
    decrypt_in_place(cipher, ciphertext)
}

/// Decrypts `buf` where it lies and drops the padding: no second buffer per message.
fn decrypt_in_place(cipher: Aes128CbcDec, mut buf: Vec<u8>) -> Result<Vec<u8>, CryptoError> {
    let len = cipher
        .decrypt_padded::<Pkcs7>(&mut buf)
        .map_err(|_| CryptoError::Padding)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// An HMAC-MD5 instance keyed per RFC 2104: keys over 64 bytes are hashed, shorter ones are
/// zero-padded (0x00, not ASCII '0': tcec-http.md §2 negative results).
fn hmac_md5(secret: &[u8]) -> Hmac<Md5> {
    let mut block = [0u8; 64];
    if secret.len() > block.len() {
        let digest = Md5::digest(secret);
        for (dst, src) in block.iter_mut().zip(digest.iter()) {
            *dst = *src;
        }
    } else {
        for (dst, src) in block.iter_mut().zip(secret) {
            *dst = *src;
        }
    }
    let mac = <Hmac<Md5> as KeyInit>::new(&block.into());
    block.zeroize();
    mac
}

fn mac_over(secret: &Secret, parts: &[&[u8]]) -> Hmac<Md5> {
    let mut mac = hmac_md5(secret.expose().as_bytes());
    for part in parts {
        mac.update(part);
    }
    mac
}

/// HMAC-MD5 of the concatenated `parts` as 32 uppercase hex digits.
pub fn sign(secret: &Secret, parts: &[&[u8]]) -> String {
    hex_upper(&mac_over(secret, parts).finalize().into_bytes())
}

/// 32 uppercase hex digits of a 16-byte tag.
fn hex_upper(tag: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(32);
    for b in tag.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes 32 hex digits of either case.
fn decode_sig(sig: &str) -> Option<[u8; 16]> {
    let bytes = sig.trim().as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 16];
    for (dst, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = (nibble(*pair.first()?)?, nibble(*pair.get(1)?)?);
        *dst = (hi << 4) | lo;
    }
    Some(out)
}

/// Checks `sig` against the HMAC-MD5 of `parts` in constant time.
pub fn verify(secret: &Secret, parts: &[&[u8]], sig: &str) -> Result<(), CryptoError> {
    let mut received = sig.to_owned();
    crate::tcec::lenient::truncate_for_error(&mut received);
    let tag = decode_sig(sig).ok_or(CryptoError::MalformedSignature {
        received: received.clone(),
    })?;
    mac_over(secret, parts)
        .verify_slice(&tag)
        .map_err(|_| CryptoError::SignatureMismatch { received })
}

/// A key set's AES key schedule and HMAC-MD5 keyed state, derived once per peer instead of
/// per message (both are pure functions of the keys). Produces exactly what the free
/// functions of this module produce with the same keys.
#[derive(Clone)]
pub struct PreparedKeys {
    aes: aes::Aes128,
    iv: [u8; 16],
    mac: Hmac<Md5>,
}

impl core::fmt::Debug for PreparedKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PreparedKeys([REDACTED])")
    }
}

impl Drop for PreparedKeys {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

impl PreparedKeys {
    /// Derives the states of `keys` (DataSecret, DataSecretIV, SigSecret).
    pub fn new(keys: &TcecKeys) -> Self {
        PreparedKeys {
            aes: aes::Aes128::new(&(*keys.data_secret.expose()).into()),
            iv: *keys.data_secret_iv.expose(),
            mac: hmac_md5(keys.sig_secret.expose().as_bytes()),
        }
    }

    /// [`encrypt_data`] with these keys.
    pub fn encrypt_data(&self, plaintext: &[u8]) -> String {
        let cipher = Aes128CbcEnc::inner_iv_init(self.aes.clone(), &self.iv.into());
        BASE64.encode(cipher.encrypt_padded_vec::<Pkcs7>(plaintext))
    }

    /// [`decrypt_data`] with these keys.
    pub fn decrypt_data(&self, data: &str) -> Result<Vec<u8>, CryptoError> {
        let ciphertext = decode_ciphertext(data)?;
        let cipher = Aes128CbcDec::inner_iv_init(self.aes.clone(), &self.iv.into());
        decrypt_in_place(cipher, ciphertext)
    }

    fn mac_over(&self, parts: &[&[u8]]) -> Hmac<Md5> {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// [`sign`] with these keys' SigSecret.
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        hex_upper(&self.mac_over(parts).finalize().into_bytes())
    }

    /// [`verify`] with these keys' SigSecret.
    pub fn verify(&self, parts: &[&[u8]], sig: &str) -> Result<(), CryptoError> {
        // The received Sig is copied for the error only: a good Sig costs no allocation.
        let received = || {
            let mut received = sig.to_owned();
            crate::tcec::lenient::truncate_for_error(&mut received);
            received
        };
        let tag = decode_sig(sig).ok_or_else(|| CryptoError::MalformedSignature {
            received: received(),
        })?;
        self.mac_over(parts)
            .verify_slice(&tag)
            .map_err(|_| CryptoError::SignatureMismatch {
                received: received(),
            })
    }
}

/// Request Sig: HMAC-MD5(SigSecret, OperatorID + Data + TimeStamp + Seq).
pub fn request_signature(
    keys: &TcecKeys,
    operator_id: &str,
    data: &str,
    time_stamp: &str,
    seq: &str,
) -> String {
    sign(
        &keys.sig_secret,
        &request_parts(operator_id, data, time_stamp, seq),
    )
}

/// Response Sig: HMAC-MD5(SigSecret, Ret (signed decimal) + Msg + Data).
pub fn response_signature(keys: &TcecKeys, ret: Ret, msg: &str, data: &str) -> String {
    let ret = ret.code().to_string();
    sign(
        &keys.sig_secret,
        &[ret.as_bytes(), msg.as_bytes(), data.as_bytes()],
    )
}

/// The request signing input, as parts.
pub fn request_parts<'a>(
    operator_id: &'a str,
    data: &'a str,
    time_stamp: &'a str,
    seq: &'a str,
) -> [&'a [u8]; 4] {
    [
        operator_id.as_bytes(),
        data.as_bytes(),
        time_stamp.as_bytes(),
        seq.as_bytes(),
    ]
}

#[cfg(test)]
pub(crate) mod tests;
