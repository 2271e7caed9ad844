//! Test vectors of tcec-http.md §2 (TV-1…TV-4, derived and must-fail vectors).

use super::*;

/// TV-1/TV-2 key material: SigSecret = DataSecret = DataSecretIV = `1234567890abcdef`.
pub(crate) const TV_KEY: &str = "1234567890abcdef";

/// TV-1 canonical Data (364 characters, 272 bytes of ciphertext).
pub(crate) const TV1_DATA: &str = "il7B0BSEjFdzpyKzfOFpvg/Se1CP802RItKYFPfSLRxJ3jf0bVl9hvYOEktPAYW2nd7S8MBcyHYyacHKbISq5iTmDzG+ivnR+SZJv3USNTYVMz9rCQVSxd0cLlqsJauko79NnwQJbzDTyLooYoIwz75qBOH2/xOMirpeEqRJrF/EQjWekJmGk9RtboXePu2rka+Xm51syBPhiXJAq0GfbfaFu9tNqs/e2Vjja/ltE1M0lqvxfXQ6da6HrThsm5id4ClZFIi0acRfrsPLRixS/IQYtksxghvJwbqOsbIsITail9Ayy4tKcogeEZiOO+4Ed264NSKmk7l3wKwJLAFjCFogBx8GE3OBz4pqcAn/ydA=";

/// TV-1 expected Sig.
pub(crate) const TV1_SIG: &str = "745166E8C43C84D37FFEC0F529C4136F";

/// TV-2 plaintext (269 bytes; not valid JSON because of `"soc":10,}}}`).
pub(crate) const TV2_PLAINTEXT: &str = r#"{"total":1,"stationStatusInfo":{"operationID":"123456789","stationID":"111111111111111","connectorStatusInfos":{"connectorID":1,"equipmentID":"10000000000000000000001","status":4,"currentA":0,"currentB":0,"currentC":0,"voltageA":0,"voltageB":0,"voltageC":0,"soc":10,}}}"#;

/// Seed V1: the OCR'd "示例2" ciphertext of DB4403 §10.4.3.3 (21 OCR errors).
const SEED_V1: &str = "i17B0BSEjFdzpyKzf0Fpvg/Se1CP802RItKYFPfSLRxJ3jf0bV19hvYOEktpAYW2nd7S8MBcyHYachKbISq5iTmDzG+ivnR+SZJv3USNTYVMz9rCQVSxd0cL1qsJauko79NnwQJbzDtYlooYoIwz75qB0H2/x0MirpeEqRJrF/EQjWekJmGk9RtboXePu2rka+Xm51syBPPhiXJAq0GfbfaFu9tNqs/e2Vjja/1tE1M0lqvxfXQ6da6HrThsm5id4C1ZFIi0acRfrsPLRixS/IQYtksxghvJwbq0sbIsITai19Avy4tKcogeEZi00+4Ed264NSkmk713wKwJLAFjCFogBx8GE30Bz4pqcAn/vdA=";

/// Seed V2: the OCR'd Data of DB4403 §10.5.3, line breaks removed (11 OCR errors).
const SEED_V2: &str = "i17B0BSEjFdzpyKzfOFpvg/SelCP802RItKYFPfSLRxJ3jf0bV19hvYOEktPAYW2nd7S8MBcyHYyacHKbISq5iTmDzG+ivnR+SZJv3USNTYVMz9rCQVSxd0cLlqsJauko79NnwQJbzDTyLooYoIwz75qBOH2/x0MirpeEqRJrF/EQjWekJmGk9RtboXePu2rka+Xm51syBPhiXJAq0GfbfaFu9tNqs/e2Vjja/1tE1M01qvxfXQ6da6HrThsm5id4C1ZFIi0acRfrsPLRixS/IQYtksxghvJwbq0sbIsITail9Ayy4tKcogeEZi00+4Ed264NSKmk713wKwJLAFjCFogBx8GE30Bz4pqcAn/ydA=";

pub(crate) fn tv_keys() -> TcecKeys {
    TcecKeys::new("123456789", "operator-secret", TV_KEY, TV_KEY, TV_KEY).unwrap()
}

fn tv_key16() -> Key16 {
    Key16::from_str_exact("DataSecret", TV_KEY).unwrap()
}

fn tv1_parts(data: &str) -> [&[u8]; 4] {
    request_parts("123456789", data, "20160729142400", "0001")
}

#[test]
fn tv1_request_signature() {
    assert_eq!(TV1_DATA.len(), 364);
    assert_eq!(
        request_signature(&tv_keys(), "123456789", TV1_DATA, "20160729142400", "0001"),
        TV1_SIG
    );
    let sig_secret = Secret::new(TV_KEY);
    assert_eq!(verify(&sig_secret, &tv1_parts(TV1_DATA), TV1_SIG), Ok(()));
    // Lowercase hex (the legacy form) verifies too.
    assert_eq!(
        verify(&sig_secret, &tv1_parts(TV1_DATA), &TV1_SIG.to_lowercase()),
        Ok(())
    );
}

#[test]
fn tv2_aes_both_directions() {
    assert_eq!(TV2_PLAINTEXT.len(), 269);
    let (key, iv) = (tv_key16(), tv_key16());
    assert_eq!(encrypt_data(&key, &iv, TV2_PLAINTEXT.as_bytes()), TV1_DATA);
    let plain = decrypt_data(&key, &iv, TV1_DATA).unwrap();
    assert_eq!(plain, TV2_PLAINTEXT.as_bytes());
    // The plaintext is not valid JSON for a strict parser; the lenient one repairs it.
    assert!(serde_json::from_slice::<serde_json::Value>(&plain).is_err());
    let v = crate::tcec::lenient::parse_json(&plain).unwrap();
    assert_eq!(v["stationStatusInfo"]["connectorStatusInfos"]["soc"], 10);
}

#[test]
fn tv3_ericbin_demo() {
    let (key, iv) = (tv_key16(), tv_key16());
    assert_eq!(
        encrypt_data(&key, &iv, b"hello world!"),
        "cmljobIKHDAcF9uf3mgs/w=="
    );
    assert_eq!(
        decrypt_data(&key, &iv, "cmljobIKHDAcF9uf3mgs/w==").unwrap(),
        b"hello world!"
    );
}

#[test]
fn tv4_legacy_signature_is_plain_hmac() {
    let msg = "OperatorId=1&Data=rWw+eGNoGIT9QTHun71Efg==&TimeStamp=20160728231909";
    let sig = sign(&Secret::new("key"), &[msg.as_bytes()]);
    assert_eq!(sig.to_lowercase(), "9abdbba388a6a862eb74c3adb91d7352");
    let plain = decrypt_data(&tv_key16(), &tv_key16(), "rWw+eGNoGIT9QTHun71Efg==").unwrap();
    assert_eq!(plain, br#"{"code":1}"#);
}

#[test]
fn derived_response_signatures() {
    let keys = tv_keys();
    assert_eq!(
        response_signature(&keys, Ret::SignatureError, "签名错误", ""),
        "4A3EE825A34B784861BA28875ACBCEE2"
    );
    let data = encrypt_data(&keys.data_secret, &keys.data_secret_iv, br#"{"Status":0}"#);
    assert_eq!(data, "9MVkuXXxCLW2u0cUb7YXOA==");
    assert_eq!(
        response_signature(&keys, Ret::Success, "", &data),
        "A865BF62B6233B86D336DE11D6D67B0B"
    );
    assert_eq!(
        response_signature(&keys, Ret::Success, "1", "abc"),
        "6A7BDACE25C1BA6A4E81EBF5B85B224A"
    );
}

#[test]
fn must_fail_seed_ocr_strings() {
    assert_eq!((SEED_V1.len(), SEED_V2.len()), (364, 364));
    let keys = tv_keys();
    let v1 = request_signature(&keys, "123456789", SEED_V1, "20160729142400", "0001");
    assert_eq!(v1, "E66F8EA4847939933FBED7A69D09DA18");
    let v2 = request_signature(&keys, "123456789", SEED_V2, "20160729142400", "0001");
    assert_eq!(v2, "04435F97F40C48AEB196538F6B7CDB8B");
    for data in [SEED_V1, SEED_V2] {
        let err = verify(&keys.sig_secret, &tv1_parts(data), TV1_SIG).unwrap_err();
        assert!(matches!(err, CryptoError::SignatureMismatch { .. }));
    }
}

#[test]
fn must_fail_wrong_key_handling() {
    // Key padded with ASCII '0' instead of 0x00.
    let ascii_zero = Secret::new(format!("{TV_KEY}{}", "0".repeat(48)));
    assert_eq!(
        sign(&ascii_zero, &tv1_parts(TV1_DATA)),
        "6E4C95A4EA38D7F4842675A8B89D59BB"
    );
    // Key hex-decoded to 8 bytes.
    let mut mac = hmac_md5(&[0x12, 0x34, 0x56, 0x78, 0x90, 0xab, 0xcd, 0xef]);
    for part in tv1_parts(TV1_DATA) {
        mac.update(part);
    }
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(hex, "A4C4C5E3079945006BD1A942460CF6A2");
    // Signing the plaintext instead of the Base64 ciphertext.
    let sig_secret = Secret::new(TV_KEY);
    assert_eq!(
        sign(&sig_secret, &tv1_parts(TV2_PLAINTEXT)),
        "67395C7E1A5EB71A2E42271D1B26A926"
    );
    // Plain MD5(key ‖ message), not HMAC.
    let mut md5 = Md5::new();
    md5.update(TV_KEY.as_bytes());
    for part in tv1_parts(TV1_DATA) {
        md5.update(part);
    }
    let hex: String = md5.finalize().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(hex, "608133EE9190CDB863AF5CC1F8FE9CF1");
    for wrong in [
        "6E4C95A4EA38D7F4842675A8B89D59BB",
        "A4C4C5E3079945006BD1A942460CF6A2",
        "608133EE9190CDB863AF5CC1F8FE9CF1",
    ] {
        assert!(verify(&sig_secret, &tv1_parts(TV1_DATA), wrong).is_err());
    }
}

#[test]
fn long_hmac_keys_are_hashed_first() {
    // RFC 2202 test case 6: 80 bytes of 0xaa, HMAC-MD5.
    let key = Secret::new("\u{aa}");
    assert_eq!(
        key.len(),
        2,
        "non-ASCII secrets are used as their UTF-8 bytes"
    );
    let mut mac = hmac_md5(&[0xaa; 80]);
    mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
}

#[test]
fn mime_wrapped_base64_decrypts() {
    let wrapped: String = TV1_DATA
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let plain = decrypt_data(&tv_key16(), &tv_key16(), &wrapped).unwrap();
    assert_eq!(plain, TV2_PLAINTEXT.as_bytes());
    let escaped = wrapped.replace("\r\n", "\\n");
    assert_eq!(
        decrypt_data(&tv_key16(), &tv_key16(), &escaped).unwrap(),
        TV2_PLAINTEXT.as_bytes()
    );
}

#[test]
fn decrypt_errors_are_plain() {
    let (key, iv) = (tv_key16(), tv_key16());
    assert!(matches!(
        decrypt_data(&key, &iv, "!!!!"),
        Err(CryptoError::Base64 { .. })
    ));
    assert_eq!(
        decrypt_data(&key, &iv, ""),
        Err(CryptoError::CiphertextLength { len: 0 })
    );
    assert_eq!(
        decrypt_data(&key, &iv, "AAAA"),
        Err(CryptoError::CiphertextLength { len: 3 })
    );
    let wrong = Key16::from_str_exact("DataSecret", "fedcba0987654321").unwrap();
    // With the wrong key the padding check fails (for this ciphertext) as a plain error.
    assert_eq!(
        decrypt_data(&wrong, &iv, TV1_DATA),
        Err(CryptoError::Padding)
    );
}

#[test]
fn malformed_signatures() {
    let s = Secret::new(TV_KEY);
    for bad in [
        "",
        "745166E8",
        "Z45166E8C43C84D37FFEC0F529C4136F",
        "745166E8C43C84D37FFEC0F529C4136F00",
    ] {
        assert!(matches!(
            verify(&s, &tv1_parts(TV1_DATA), bad),
            Err(CryptoError::MalformedSignature { .. })
        ));
    }
    assert!(matches!(
        verify(&s, &tv1_parts(TV1_DATA), "Ｚ45166E8C43C84D37FFEC0F529C413"),
        Err(CryptoError::MalformedSignature { .. })
    ));
}

#[test]
fn key_lengths_are_checked() {
    assert_eq!(
        TcecKeys::new("123456789", "s", "short", TV_KEY, TV_KEY).unwrap_err(),
        KeyError {
            name: "DataSecret",
            len: 5
        }
    );
    assert_eq!(
        TcecKeys::new("123456789", "s", TV_KEY, "1234567890abcdefX", TV_KEY).unwrap_err(),
        KeyError {
            name: "DataSecretIV",
            len: 17
        }
    );
    let padded = Key16::from_str_zero_padded("abc");
    assert_eq!(&padded.expose()[..4], b"abc\0");
    let truncated = Key16::from_str_zero_padded("1234567890abcdefXYZ");
    assert_eq!(truncated.expose(), b"1234567890abcdef");
}

#[test]
fn secrets_never_print() {
    let keys = TcecKeys::new(
        "123456789",
        "OPSECRET-canary",
        "DATAKEY-canary16",
        "DATAIV--canary16",
        "SIGSECRET-canary",
    )
    .unwrap();
    let shown = format!(
        "{keys:?} {} {} {:?} {}",
        keys.sig_secret, keys.data_secret, keys.data_secret_iv, keys.operator_secret
    );
    for needle in ["canary", "OPSECRET", "DATAKEY", "SIGSECRET", "DATAIV"] {
        assert!(!shown.contains(needle), "{needle} leaked in {shown}");
    }
    assert!(shown.contains("123456789"), "the OperatorID is not secret");
    assert!(shown.contains("[REDACTED]"));
    assert_eq!(keys.sig_secret.expose(), "SIGSECRET-canary");
    // Error messages from a wrong key carry no key material either.
    let err = decrypt_data(&keys.data_secret, &keys.data_secret_iv, TV1_DATA)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("canary"), "{err}");
    assert!(
        Secret::new("a").ct_eq(&Secret::new("a")) && !Secret::new("a").ct_eq(&Secret::new("ab"))
    );
}

#[test]
fn prepared_keys_reproduce_the_test_vectors() {
    let keys = tv_keys();
    let prepared = PreparedKeys::new(&keys);
    assert_eq!(
        prepared.encrypt_data(TV2_PLAINTEXT.as_bytes()),
        encrypt_data(
            &keys.data_secret,
            &keys.data_secret_iv,
            TV2_PLAINTEXT.as_bytes()
        )
    );
    let parts = request_parts("123456789", TV1_DATA, "20160729142400", "0001");
    assert_eq!(prepared.sign(&parts), sign(&keys.sig_secret, &parts));
    assert_eq!(prepared.verify(&parts, TV1_SIG), Ok(()));
    assert!(prepared.verify(&parts, &"0".repeat(32)).is_err());
    assert_eq!(
        prepared.decrypt_data(TV1_DATA),
        decrypt_data(&keys.data_secret, &keys.data_secret_iv, TV1_DATA)
    );
    // Reused states give the same answers again (nothing carried over between calls).
    assert_eq!(prepared.sign(&parts), prepared.sign(&parts));
    assert!(!format!("{prepared:?}").contains(keys.sig_secret.expose()));
}

proptest::proptest! {
    #[test]
    fn prepared_keys_agree_with_the_free_functions(
        plain in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        secret in "\\PC{0,80}",
    ) {
        let mut keys = tv_keys();
        keys.sig_secret = Secret::new(secret);
        let prepared = PreparedKeys::new(&keys);
        let data = prepared.encrypt_data(&plain);
        proptest::prop_assert_eq!(&data, &encrypt_data(&keys.data_secret, &keys.data_secret_iv, &plain));
        proptest::prop_assert_eq!(prepared.decrypt_data(&data).unwrap(), plain);
        let parts: [&[u8]; 2] = [b"x", data.as_bytes()];
        let sig = sign(&keys.sig_secret, &parts);
        proptest::prop_assert_eq!(prepared.sign(&parts), sig.clone());
        proptest::prop_assert!(prepared.verify(&parts, &sig).is_ok());
    }
}
