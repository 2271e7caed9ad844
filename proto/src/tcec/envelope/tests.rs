//! Envelope tests: the §2 vectors as whole bodies, tampering, quirks and never-panic proptests.

use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::tcec::crypto::tests::{TV_KEY, TV1_DATA, TV1_SIG, TV2_PLAINTEXT, tv_keys};
use crate::tcec::time::CivilTime;

fn tv1_body() -> String {
    json!({
        "OperatorID": "123456789",
        "Data": TV1_DATA,
        "TimeStamp": "20160729142400",
        "Seq": "0001",
        "Sig": TV1_SIG,
    })
    .to_string()
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct Status {
    #[serde(rename = "Status")]
    status: i32,
}

#[test]
fn tv1_tv2_request_end_to_end() {
    let keys = tv_keys();
    let env = RequestEnvelope::parse(tv1_body().as_bytes()).unwrap();
    assert_eq!(env.sig, TV1_SIG);
    env.verify(&keys).unwrap();
    assert_eq!(env.open_bytes(&keys).unwrap(), TV2_PLAINTEXT.as_bytes());
    // The plaintext is invalid JSON (trailing comma) but opens leniently.
    let opened: OpenedRequest<Value> = open_request(&keys, tv1_body().as_bytes()).unwrap();
    assert_eq!(opened.operator_id, "123456789");
    assert_eq!(
        (opened.time_stamp.as_str(), opened.seq.as_str()),
        ("20160729142400", "0001")
    );
    assert_eq!(
        opened.data["stationStatusInfo"]["stationID"],
        "111111111111111"
    );
    // Sealing the same plaintext with the same stamp reproduces the body byte for byte.
    let sealed = seal_request_bytes(
        &keys,
        "123456789",
        TV2_PLAINTEXT.as_bytes(),
        "20160729142400",
        "0001",
    );
    assert_eq!(sealed, env);
}

#[test]
fn seal_request_uses_timestamp_and_seq() {
    let keys = tv_keys();
    let t = CivilTime::parse_datetime("2016-07-29 14:24:00").unwrap();
    let env = seal_request(
        &keys,
        "123456789",
        &Status { status: 0 },
        TimeStamp(t),
        Seq::new(1).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (env.time_stamp.as_str(), env.seq.as_str()),
        ("20160729142400", "0001")
    );
    let opened: OpenedRequest<Status> = open_request(&keys, env.to_json().as_bytes()).unwrap();
    assert_eq!(opened.data, Status { status: 0 });
}

#[test]
fn tampering_is_a_signature_error_before_decryption() {
    let keys = tv_keys();
    let mut env = RequestEnvelope::parse(tv1_body().as_bytes()).unwrap();
    env.data.replace_range(0..1, "X");
    let err = env.open_bytes(&keys).unwrap_err();
    assert!(matches!(
        err,
        TcecError::Signature(CryptoError::SignatureMismatch { .. })
    ));
    assert_eq!(err.ret(), Ret::SignatureError);
    // Garbage Data with a valid Sig over it reaches the decryptor and fails there, as 4003.
    let garbage = "AAAA";
    let sig = crypto::request_signature(&keys, "123456789", garbage, "20160729142400", "0001");
    let env = RequestEnvelope {
        data: garbage.into(),
        sig,
        ..RequestEnvelope::parse(tv1_body().as_bytes()).unwrap()
    };
    let err = env.open_bytes(&keys).unwrap_err();
    assert!(matches!(
        err,
        TcecError::Decrypt(CryptoError::CiphertextLength { len: 3 })
    ));
    assert_eq!(err.ret(), Ret::PostParamInvalid);
}

#[test]
fn missing_fields_are_4003_and_named() {
    for field in ["OperatorID", "Data", "TimeStamp", "Seq", "Sig"] {
        let mut v: Value = serde_json::from_str(&tv1_body()).unwrap();
        v.as_object_mut().unwrap().remove(field);
        let err = RequestEnvelope::parse(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(err, TcecError::MissingField { field });
        assert_eq!(err.ret(), Ret::PostParamInvalid);
    }
    for body in ["", "[]", "42", "{", "\"Data\""] {
        let err = RequestEnvelope::parse(body.as_bytes()).unwrap_err();
        assert!(matches!(err, TcecError::Envelope { .. }), "{body}: {err}");
    }
    let err =
        RequestEnvelope::parse(br#"{"OperatorID":{},"Data":"","TimeStamp":"","Seq":"","Sig":""}"#)
            .unwrap_err();
    assert!(matches!(
        err,
        TcecError::InvalidField {
            field: "OperatorID",
            ..
        }
    ));
}

#[test]
fn envelope_keys_are_case_insensitive_and_numbers_accepted() {
    let keys = tv_keys();
    let body = format!(
        r#"{{"operatorId":123456789,"data":"{TV1_DATA}","timeStamp":20160729142400,"seq":"0001","sig":"{}",}}"#,
        TV1_SIG.to_lowercase()
    );
    let env = RequestEnvelope::parse(body.as_bytes()).unwrap();
    assert_eq!(env.operator_id, "123456789");
    assert_eq!(env.time_stamp, "20160729142400");
    env.verify(&keys).unwrap();
}

#[test]
fn php_escaped_slashes_verify() {
    let escaped = tv1_body().replace('/', "\\/");
    assert!(escaped.contains("\\/"));
    open_request::<Value>(&tv_keys(), escaped.as_bytes()).unwrap();
}

#[test]
fn mime_wrapped_data_is_signed_as_sent() {
    let keys = tv_keys();
    let wrapped: String = TV1_DATA
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let sig = crypto::request_signature(&keys, "123456789", &wrapped, "20160729142400", "0001");
    let body = json!({"OperatorID": "123456789", "Data": wrapped, "TimeStamp": "20160729142400", "Seq": "0001", "Sig": sig}).to_string();
    let opened = open_request::<Value>(&keys, body.as_bytes()).unwrap();
    assert_eq!(opened.data["total"], 1);
    // The Sig of the unwrapped string does not cover the wrapped one.
    let body = json!({"OperatorID": "123456789", "Data": wrapped, "TimeStamp": "20160729142400", "Seq": "0001", "Sig": TV1_SIG}).to_string();
    assert!(matches!(
        open_request::<Value>(&keys, body.as_bytes()),
        Err(TcecError::Signature(_))
    ));
}

#[test]
fn derived_response_vectors() {
    let keys = tv_keys();
    let err = seal_error_response(&keys, Ret::SignatureError, "签名错误");
    assert_eq!(err.sig, "4A3EE825A34B784861BA28875ACBCEE2");
    assert_eq!(err.data, "");
    let opened: OpenedResponse<Status> = open_response(&keys, err.to_json().as_bytes()).unwrap();
    assert_eq!(
        (opened.ret, opened.msg.as_str(), opened.data),
        (Ret::SignatureError, "签名错误", None)
    );

    let ok = seal_response(&keys, Ret::Success, "", &json!({"Status": 0})).unwrap();
    assert_eq!(ok.data, "9MVkuXXxCLW2u0cUb7YXOA==");
    assert_eq!(ok.sig, "A865BF62B6233B86D336DE11D6D67B0B");
    let opened: OpenedResponse<Status> = open_response(&keys, ok.to_json().as_bytes()).unwrap();
    assert_eq!(opened.data, Some(Status { status: 0 }));

    let readme = ResponseEnvelope {
        ret: Ret::Success,
        msg: "1".into(),
        data: "abc".into(),
        sig: String::new(),
        msg_was_null: false,
    };
    assert_eq!(
        crypto::response_signature(&keys, readme.ret, &readme.msg, &readme.data),
        "6A7BDACE25C1BA6A4E81EBF5B85B224A"
    );
}

#[test]
fn response_ret_as_string_and_missing_ret() {
    let keys = tv_keys();
    let body = r#"{"Ret":"0","Msg":"","Data":"9MVkuXXxCLW2u0cUb7YXOA==","Sig":"A865BF62B6233B86D336DE11D6D67B0B"}"#;
    let opened: OpenedResponse<Status> = open_response(&keys, body.as_bytes()).unwrap();
    assert_eq!(opened.ret, Ret::Success);
    let err = ResponseEnvelope::parse(br#"{"Msg":"x"}"#).unwrap_err();
    assert_eq!(err, TcecError::MissingField { field: "Ret" });
    let err = ResponseEnvelope::parse(br#"{"Ret":"ok"}"#).unwrap_err();
    assert!(matches!(err, TcecError::InvalidField { field: "Ret", .. }));
}

#[test]
fn null_msg_is_tried_as_text_null() {
    let keys = tv_keys();
    for signed_msg in ["", "null"] {
        let sig = crypto::response_signature(&keys, Ret::TokenError, signed_msg, "");
        let body = json!({"Ret": 4002, "Msg": null, "Data": "", "Sig": sig}).to_string();
        let opened: OpenedResponse<Status> = open_response(&keys, body.as_bytes()).unwrap();
        assert_eq!(opened.ret, Ret::TokenError);
    }
    // A Msg that really is the text "x" gets no such fallback.
    let sig = crypto::response_signature(&keys, Ret::TokenError, "null", "");
    let body = json!({"Ret": 4002, "Msg": "x", "Data": "", "Sig": sig}).to_string();
    assert!(open_response::<Status>(&keys, body.as_bytes()).is_err());
}

#[test]
fn unsigned_errors_only_when_allowed() {
    let keys = tv_keys();
    let body = json!({"Ret": 4002, "Msg": "token", "Data": "", "Sig": ""}).to_string();
    let env = ResponseEnvelope::parse(body.as_bytes()).unwrap();
    assert!(matches!(
        env.open::<Status>(&keys, ResponseOpenOptions::default()),
        Err(TcecError::Signature(_))
    ));
    let lenient = ResponseOpenOptions {
        accept_unsigned_errors: true,
    };
    assert_eq!(
        env.open::<Status>(&keys, lenient).unwrap().ret,
        Ret::TokenError
    );
    // Success responses must always be signed.
    let body =
        json!({"Ret": 0, "Msg": "", "Data": "9MVkuXXxCLW2u0cUb7YXOA==", "Sig": ""}).to_string();
    let env = ResponseEnvelope::parse(body.as_bytes()).unwrap();
    assert!(env.open::<Status>(&keys, lenient).is_err());
}

#[test]
fn business_json_errors_name_the_path_and_are_4004() {
    let keys = tv_keys();
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(rename = "Items")]
        items: Vec<Status>,
    }
    let env = seal_response(
        &keys,
        Ret::Success,
        "",
        &json!({"Items": [{"Status": 0}, {"Status": "x"}]}),
    )
    .unwrap();
    let err = open_response::<Outer>(&keys, env.to_json().as_bytes()).unwrap_err();
    match &err {
        TcecError::DataJson { path, .. } => assert_eq!(path, "Items[1].Status"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.ret(), Ret::BusinessParamInvalid);
    let env = seal_response_bytes(&keys, Ret::Success, "", b"not json");
    assert!(matches!(
        open_response::<Value>(&keys, env.to_json().as_bytes()),
        Err(TcecError::DataJson { .. })
    ));
}

#[test]
fn errors_never_leak_keys() {
    let keys = TcecKeys::new(
        "123456789",
        "OPSECRET-canary",
        "DATAKEY-canary16",
        "DATAIV--canary16",
        "SIGSECRET-canary",
    )
    .unwrap();
    let errors = [
        open_request::<Value>(&keys, tv1_body().as_bytes()).unwrap_err(),
        open_response::<Value>(&keys, b"{\"Ret\":0,\"Data\":\"AAAA\",\"Sig\":\"00\"}").unwrap_err(),
    ];
    for e in errors {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("canary"), "{shown}");
    }
}

#[test]
fn bearer_header() {
    assert_eq!(bearer_token("Bearer abc.def"), Some("abc.def"));
    assert_eq!(bearer_token("  bearer   tok "), Some("tok"));
    assert_eq!(bearer_token("Bearer "), None);
    assert_eq!(bearer_token("Basic abc"), None);
    assert_eq!(bearer_token("Bear"), None);
    assert_eq!(bearer_token("Béarer x"), None);
}

#[test]
fn key_material_constant_is_the_tv_key() {
    assert_eq!(TV_KEY.len(), 16);
}

proptest! {
    #[test]
    fn open_request_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = open_request::<Value>(&tv_keys(), &body);
    }

    #[test]
    fn open_response_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = open_response::<Value>(&tv_keys(), &body);
    }

    #[test]
    fn open_never_panics_on_json_envelopes(
        op in "\\PC{0,12}", data in "[A-Za-z0-9+/=\\\\\n ]{0,80}", ts in "\\PC{0,16}",
        seq in "[0-9]{0,6}", sig in "[0-9A-Fa-f]{0,40}", ret in any::<i64>(), msg in proptest::option::of("\\PC{0,8}"),
    ) {
        let keys = tv_keys();
        let req = json!({"OperatorID": op, "Data": data, "TimeStamp": ts, "Seq": seq, "Sig": sig}).to_string();
        let _ = open_request::<Value>(&keys, req.as_bytes());
        let resp = json!({"Ret": ret, "Msg": msg, "Data": data, "Sig": sig}).to_string();
        let _ = open_response::<Value>(&keys, resp.as_bytes());
        if let Ok(env) = ResponseEnvelope::parse(resp.as_bytes()) {
            let _ = env.open::<Value>(&keys, ResponseOpenOptions { accept_unsigned_errors: true });
        }
    }

    #[test]
    fn signed_garbage_never_panics(plain in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Arbitrary plaintext that passes the signature check exercises the JSON layer.
        let keys = tv_keys();
        let env = seal_request_bytes(&keys, "123456789", &plain, "20200101000000", "0001");
        let _ = open_request::<Value>(&keys, env.to_json().as_bytes());
        let _ = open_request::<crate::tcec::objects::StationInfoNotification>(&keys, env.to_json().as_bytes());
    }

    #[test]
    fn seal_open_round_trip(status in any::<i32>(), op in "[0-9A-Z]{9}", seq in 0u16..=9999) {
        let keys = tv_keys();
        let t = CivilTime::parse_datetime("2024-02-29 23:59:59").unwrap();
        let env = seal_request(&keys, &op, &Status { status }, TimeStamp(t), Seq::new(seq).unwrap()).unwrap();
        let opened: OpenedRequest<Status> = open_request(&keys, env.to_json().as_bytes()).unwrap();
        prop_assert_eq!(opened.data, Status { status });
        prop_assert_eq!(opened.operator_id, op);
        let resp = seal_response(&keys, Ret::from_code(status), "m", &Status { status }).unwrap();
        let opened: OpenedResponse<Status> = open_response(&keys, resp.to_json().as_bytes()).unwrap();
        prop_assert_eq!(opened.data, Some(Status { status }));
    }
}

/// The envelope as the lenient path reads it (the strict fast path skipped).
fn lenient_response(body: &[u8]) -> Result<ResponseEnvelope, TcecError> {
    let obj = parse_object(body)?;
    let ret_value = field(&obj, "Ret").ok_or(TcecError::MissingField { field: "Ret" })?;
    let ret =
        <Ret as lenient::Lenient>::from_json(ret_value).map_err(|_| TcecError::InvalidField {
            field: "Ret",
            received: lenient::describe(ret_value),
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

proptest! {
    #[test]
    fn direct_json_writing_matches_a_serde_json_map(
        op in "\\PC{0,12}", data in "\\PC{0,40}", ts in "\\PC{0,16}", seq in "\\PC{0,6}",
        sig in "\\PC{0,40}", ret in any::<i32>(),
    ) {
        let req = RequestEnvelope {
            operator_id: op.clone(), data: data.clone(), time_stamp: ts.clone(),
            seq: seq.clone(), sig: sig.clone(),
        };
        let expected = json!({"OperatorID": op, "Data": data, "TimeStamp": ts, "Seq": seq, "Sig": sig});
        prop_assert_eq!(req.to_json(), expected.to_string());
        prop_assert_eq!(RequestEnvelope::parse(req.to_json().as_bytes()).unwrap(), req);
        let resp = ResponseEnvelope {
            ret: Ret::from_code(ret), msg: op, data, sig, msg_was_null: false,
        };
        let expected = json!({"Ret": ret, "Msg": resp.msg, "Data": resp.data, "Sig": resp.sig});
        prop_assert_eq!(resp.to_json(), expected.to_string());
        prop_assert_eq!(ResponseEnvelope::parse(resp.to_json().as_bytes()).unwrap(), resp);
    }

    #[test]
    fn strict_response_parsing_agrees_with_the_lenient_path(
        ret in prop_oneof![any::<i64>().prop_map(Value::from), "-?[0-9]{1,4}".prop_map(Value::from), Just(Value::Null)],
        msg in proptest::option::of("\\PC{0,8}"), data in proptest::option::of("[A-Za-z0-9+/=]{0,24}"),
        sig in proptest::option::of("[0-9A-F]{0,32}"),
    ) {
        let mut obj = serde_json::Map::new();
        obj.insert("Ret".into(), ret);
        if let Some(m) = msg { obj.insert("Msg".into(), m.into()); }
        if let Some(d) = data { obj.insert("Data".into(), d.into()); }
        if let Some(s) = sig { obj.insert("Sig".into(), s.into()); }
        let body = Value::Object(obj).to_string();
        let fast = ResponseEnvelope::parse(body.as_bytes());
        let slow = lenient_response(body.as_bytes());
        match (fast, slow) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
    }
}
