//! Bad input: clear refusals with the right Ret, no panic, nothing stored.

use proptest::prelude::*;

use super::harness;
use crate::metrics::Metrics;
use crate::tcec::demo;
use crate::tcec::exchange::{HttpMachine, InboundRequest, ServerResponse};
use crate::tcec::harness::{OPERATOR_ID, PLATFORM_ID};
use crate::time::Instant;
use proto::tcec::envelope::{RequestEnvelope, seal_request_bytes};
use proto::tcec::objects::*;
use proto::tcec::{ResponseEnvelope, Ret, Secret, TcecKeys, open_response};

fn platform_keys() -> TcecKeys {
    demo::keys(PLATFORM_ID, 1).unwrap()
}

fn operator_keys() -> TcecKeys {
    demo::keys(OPERATOR_ID, 1).unwrap()
}

fn seal(keys: &TcecKeys, plaintext: &[u8]) -> RequestEnvelope {
    seal_request_bytes(keys, &keys.operator_id, plaintext, "20231115061320", "0001")
}

fn call(m: &mut dyn HttpMachine, path: &str, token: Option<&str>, body: &[u8]) -> ServerResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let req = InboundRequest {
        path,
        authorization: auth.as_deref(),
        body,
    };
    m.handle_request(Instant::from_secs(3), req, &mut Metrics::new())
}

fn ret_of(r: &ServerResponse) -> Ret {
    ResponseEnvelope::parse(&r.body).unwrap().ret
}

/// Obtains a token from `m` with `keys`.
fn token(
    m: &mut dyn HttpMachine,
    prefix: &str,
    keys: &TcecKeys,
    secret: &Secret,
) -> QueryTokenResponse {
    let data = QueryTokenRequest {
        operator_id: keys.operator_id.clone(),
        operator_secret: secret.clone(),
    };
    let env = seal(keys, &serde_json::to_vec(&data).unwrap());
    let r = call(
        m,
        &format!("/{prefix}/v1.0/query_token"),
        None,
        env.to_json().as_bytes(),
    );
    open_response::<QueryTokenResponse>(keys, &r.body)
        .unwrap()
        .data
        .unwrap()
}

#[test]
fn wrong_operator_secret_is_refused_with_fail_reason_2() {
    let mut h = harness(1);
    let keys = platform_keys();
    let r = token(
        &mut h.operator,
        "shevcs",
        &keys,
        &Secret::new("not the secret"),
    );
    assert_eq!(
        (r.succ_stat, r.fail_reason),
        (SuccStat::Failure, TokenFailReason::WrongSecret)
    );
    assert!(r.access_token.is_empty());
    let ok = token(&mut h.operator, "shevcs", &keys, &keys.operator_secret);
    assert_eq!(ok.succ_stat, SuccStat::Success);
    assert!(ok.token_available_time_s > 0);
    // The same on the platform's side.
    let op = operator_keys();
    let r = token(&mut h.platform, "shevcs", &op, &Secret::new("wrong"));
    assert_eq!(r.fail_reason, TokenFailReason::WrongSecret);
}

#[test]
fn envelope_errors_get_their_ret_codes() {
    let mut h = harness(1);
    let keys = platform_keys();
    let tok = token(&mut h.operator, "shevcs", &keys, &keys.operator_secret);
    let tok = tok.access_token.expose().to_owned();
    let path = "/shevcs/v1.0/query_stations_info";
    let good = seal(&keys, b"{\"PageNo\":1}");
    assert_eq!(
        ret_of(&call(
            &mut h.operator,
            path,
            Some(&tok),
            good.to_json().as_bytes()
        )),
        Ret::Success
    );
    assert_eq!(
        ret_of(&call(
            &mut h.operator,
            path,
            None,
            good.to_json().as_bytes()
        )),
        Ret::TokenError
    );
    assert_eq!(
        ret_of(&call(
            &mut h.operator,
            path,
            Some("forged"),
            good.to_json().as_bytes()
        )),
        Ret::TokenError
    );
    let mut bad_sig = good.clone();
    bad_sig.sig = "0".repeat(32);
    assert_eq!(
        ret_of(&call(
            &mut h.operator,
            path,
            Some(&tok),
            bad_sig.to_json().as_bytes()
        )),
        Ret::SignatureError
    );
    let missing =
        br#"{"OperatorID":"SZJG00001","Data":"x","TimeStamp":"20231115061320","Sig":"00"}"#;
    let r = call(&mut h.operator, path, Some(&tok), missing);
    let env = ResponseEnvelope::parse(&r.body).unwrap();
    assert_eq!(env.ret, Ret::PostParamInvalid);
    assert!(env.msg.contains("Seq"), "{}", env.msg);
    env.verify(&keys, Default::default())
        .expect("errors are signed with the sender's keys");
    assert_eq!(
        ret_of(&call(&mut h.operator, path, Some(&tok), b"{not json")),
        Ret::PostParamInvalid
    );
    let mut wrong_key = keys.clone();
    wrong_key.data_secret = proto::tcec::Key16::from_bytes(*b"0000000000000000");
    let env = seal(&wrong_key, b"{\"PageNo\":1}");
    assert_eq!(
        ret_of(&call(
            &mut h.operator,
            path,
            Some(&tok),
            env.to_json().as_bytes()
        )),
        Ret::PostParamInvalid
    );
    let mut truncated = good.clone();
    truncated.data.truncate(truncated.data.len() - 5);
    truncated.sig = proto::tcec::crypto::request_signature(
        &keys,
        &keys.operator_id,
        &truncated.data,
        &truncated.time_stamp,
        &truncated.seq,
    );
    assert_eq!(
        ret_of(&call(
            &mut h.operator,
            path,
            Some(&tok),
            truncated.to_json().as_bytes()
        )),
        Ret::PostParamInvalid
    );
    let business = seal(&keys, br#"{"PageNo":"zero","PageSize":-3}"#);
    assert_eq!(
        ret_of(&call(
            &mut h.operator,
            path,
            Some(&tok),
            business.to_json().as_bytes()
        )),
        Ret::BusinessParamInvalid
    );
    let stranger = seal(&demo::keys("XXXXXXXXX", 9).unwrap(), b"{}");
    let r = call(
        &mut h.operator,
        path,
        Some(&tok),
        stranger.to_json().as_bytes(),
    );
    let env = ResponseEnvelope::parse(&r.body).unwrap();
    assert_eq!(
        (env.ret, env.sig.as_str()),
        (Ret::PostParamInvalid, ""),
        "unknown OperatorID: unsigned"
    );
    assert_eq!(
        call(&mut h.operator, "/shevcs/v1.0/no_such_thing", None, b"{}").status,
        404
    );
    assert_eq!(
        call(
            &mut h.operator,
            "/shevcs/v1.0/notification_stationStatus",
            None,
            b"{}"
        )
        .status,
        404
    );
}

#[test]
fn the_platform_stores_nothing_from_bad_pushes() {
    let mut h = harness(1);
    let keys = operator_keys();
    let before = h.platform.counts();
    let tok = token(&mut h.platform, "shevcs", &keys, &keys.operator_secret);
    let tok = tok.access_token.expose().to_owned();
    let path = "/shevcs/v1.0/notification_stationStatus";
    let invalid = seal(
        &keys,
        br#"{"ConnectorStatusInfo":{"ConnectorID":"","Status":77}}"#,
    );
    let r = call(
        &mut h.platform,
        path,
        Some(&tok),
        invalid.to_json().as_bytes(),
    );
    let env = ResponseEnvelope::parse(&r.body).unwrap();
    assert_eq!(env.ret, Ret::BusinessParamInvalid);
    assert!(
        env.msg.contains("ConnectorID") || env.msg.contains("Status"),
        "{}",
        env.msg
    );
    let garbage = seal(&keys, b"\x00\xff not json");
    assert_eq!(
        ret_of(&call(
            &mut h.platform,
            path,
            Some(&tok),
            garbage.to_json().as_bytes()
        )),
        Ret::BusinessParamInvalid
    );
    let after = h.platform.counts();
    assert_eq!(after.station_status, before.station_status);
    assert_eq!(after.refused, before.refused + 2);
    let valid = seal(&keys, br#"{"ConnectorStatusInfo":{"ConnectorID":"MA5DA0053000000000001","Status":1,"CurrentA":0,"CurrentB":0,"CurrentC":0,"VoltageA":0,"VoltageB":0,"VoltageC":0,"SOC":0,"ChargeElectricity":0,"DischargeElectricity":0,"ParkStatus":10,"LockStatus":0,"ConnectorTemp":20,"EquipmentTemp":20,"ConnectorLock":1,}}"#);
    assert_eq!(
        ret_of(&call(
            &mut h.platform,
            path,
            Some(&tok),
            valid.to_json().as_bytes()
        )),
        Ret::Success
    );
    assert_eq!(
        h.platform.counts().station_status,
        before.station_status + 1
    );
}

#[test]
fn the_bms_integrity_check_answers_under_both_wire_names() {
    let mut h = harness(1);
    let keys = platform_keys();
    let tok = token(&mut h.operator, "shevcs", &keys, &keys.operator_secret);
    let tok = tok.access_token.expose().to_owned();
    let req = BmsIntactRequest {
        operator_id: OPERATOR_ID.into(),
        station_id: demo::station_id(0),
        connector_id: h.operator.connector_id(h.connectors()[0]).unwrap().into(),
        equipment_id: "E".into(),
        missing_time: "{2020-01-01 00:00:00}".into(),
    };
    let env = seal(&keys, &serde_json::to_vec(&req).unwrap());
    for name in ["supplement_query_bms_intact", "supply_query_bms_intact"] {
        let r = call(
            &mut h.operator,
            &format!("/shevcs/v1.0/{name}"),
            Some(&tok),
            env.to_json().as_bytes(),
        );
        let env = ResponseEnvelope::parse(&r.body).unwrap();
        // No session started then: a business refusal, not a 404.
        assert_eq!(
            (r.status, env.ret),
            (200, Ret::BusinessParamInvalid),
            "{name}: {}",
            env.msg
        );
        assert!(env.msg.contains("session"), "{}", env.msg);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn handle_request_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        path_idx in 0usize..6,
        auth in proptest::option::of("[ -~]{0,40}"),
        envelope_data in "[A-Za-z0-9+/=\\n]{0,120}",
    ) {
        let paths = [
            "/shevcs/v1.0/query_stations_info", "/shevcs/v1.0/query_token",
            "/evcs/v1.0/query_start_charge", "/shevcs/v1.0/notification_stationStatus",
            "/x", "/shevcs/v1.0/supplement_collect",
        ];
        let mut h = harness(1);
        let keys = platform_keys();
        let shaped = format!(
            r#"{{"OperatorID":"{}","Data":"{}","TimeStamp":"20231115061320","Seq":"0001","Sig":"{}"}}"#,
            keys.operator_id,
            envelope_data.replace('\n', "\\n"),
            "A".repeat(32)
        );
        for b in [body.as_slice(), shaped.as_bytes()] {
            let req = InboundRequest { path: paths[path_idx], authorization: auth.as_deref(), body: b };
            let r1 = h.operator.handle_request(Instant::from_secs(3), req, &mut Metrics::new());
            let r2 = h.platform.handle_request(Instant::from_secs(3), req, &mut Metrics::new());
            let r3 = h.emsp.handle_request(Instant::from_secs(3), req, &mut Metrics::new());
            for r in [r1, r2, r3] {
                prop_assert!(r.status == 200 || r.status == 404);
            }
        }
        prop_assert_eq!(h.platform.counts().station_status, 0);
    }
}
