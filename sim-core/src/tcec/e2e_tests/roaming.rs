//! The T/CEC 102.3 roaming flow: the eMSP starts, watches, stops and is billed for a session
//! that the fleet (played here by the test) really charges.

use super::{charging, harness, plugged};
use crate::tcec::exchange::PeerId;
use crate::tcec::harness::Harness;
use crate::tcec::operator::{ConnectorIdx, FleetCommand, SessionStats, StartFailure};
use crate::tcec::roaming_client::SessionState;
use crate::tcec::snapshot::ConnectorSnapshot;
use crate::time::Duration;
use proto::tcec::objects::{StartChargeSeqStat, StopReason};

/// Runs until the operator emits a command and returns it.
fn next_command(h: &mut Harness) -> FleetCommand {
    for _ in 0..20 {
        if let Some(cmd) = h.operator.poll_command() {
            return cmd;
        }
        h.run_for(Duration::from_millis(200));
    }
    panic!("no fleet command");
}

#[test]
fn a_roaming_session_starts_charges_stops_and_is_billed() {
    let mut h = harness(1);
    let c = h.connectors()[1];
    let id = h.operator.connector_id(c).unwrap().to_owned();
    h.set_connector(c, &plugged());
    h.run_for(Duration::from_secs(1));
    let now = h.now();
    let seq = h.emsp.start_session(now, PeerId(0), &id);
    assert_eq!(seq.len(), 27);
    let FleetCommand::StartCharge {
        connector,
        start_charge_seq,
    } = next_command(&mut h)
    else {
        panic!("expected a start");
    };
    assert_eq!((connector, start_charge_seq.as_str()), (c, seq.as_str()));
    assert_eq!(h.emsp.session(&seq).unwrap().state, SessionState::Accepted);
    // The fleet starts the charger: energy flows.
    h.set_connector(c, &charging(150.0, 30.0, 0.0));
    let now = h.now();
    h.operator.charge_started(now, c, Ok(()));
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.emsp.session(&seq).unwrap().state, SessionState::Charging);
    for minute in 1..=5 {
        h.run_for(Duration::from_secs(60));
        h.operator.connector_status(
            h.now(),
            c,
            &charging(150.0, 30.0 + f64::from(minute), 2.5 * f64::from(minute)),
        );
    }
    let s = h.emsp.session(&seq).unwrap();
    assert!(s.status_pushes >= 4, "{}", s.status_pushes);
    let status = s.status.clone().unwrap();
    assert_eq!(status.start_charge_seq_stat, StartChargeSeqStat::Charging);
    assert!((status.phase_a_current_a - 150.0).abs() < 1e-9);
    h.emsp.query_status(h.now(), &seq);
    h.run_for(Duration::from_secs(1));
    assert!(
        (h.emsp
            .session(&seq)
            .unwrap()
            .status
            .as_ref()
            .unwrap()
            .total_energy_kwh
            - 12.5)
            .abs()
            < 1e-9
    );
    h.emsp.stop_session(h.now(), &seq);
    let FleetCommand::StopCharge { connector, .. } = next_command(&mut h) else {
        panic!("expected a stop");
    };
    h.operator.charge_stopped(h.now(), connector);
    h.set_connector(c, &plugged());
    let stats = SessionStats {
        charged_kwh: 12.5,
        discharged_kwh: 0.0,
        stop_reason: StopReason::UserStopped,
    };
    h.operator.session_finished(h.now(), c, stats);
    h.run_for(Duration::from_secs(2));
    let s = h.emsp.session(&seq).unwrap();
    assert_eq!(s.state, SessionState::Billed);
    let order = s.order.clone().unwrap();
    assert!((order.total_energy_kwh - 12.5).abs() < 1e-9);
    // Flat tariff 1.0 + 0.8 yuan/kWh.
    assert!(
        (order.total_money_yuan.unwrap() - 22.5).abs() < 1e-9,
        "{order:?}"
    );
    assert_eq!(order.stop_reason, StopReason::CustomerOperatorStopped);
    assert!(!s.disputed);
    h.operator.reconcile(h.now(), PeerId(1));
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.operator.roaming_stats().orders_disputed, 0);
    assert_eq!(h.operator.roaming_stats().orders_finished, 1);
    let business = crate::tcec::indicators::assertions(&h.metrics, None);
    assert!(
        business
            .iter()
            .any(|a| a.name.ends_with("emsp.query_start_charge") && a.passed)
    );
}

#[test]
fn refusals_of_the_roaming_flow() {
    let mut h = harness(1);
    let cs: Vec<ConnectorIdx> = h.connectors();
    let ids: Vec<String> = cs
        .iter()
        .map(|c| h.operator.connector_id(*c).unwrap().to_owned())
        .collect();
    // Nothing plugged in: equipment auth fails.
    let seq = h.emsp.start_session(h.now(), PeerId(0), &ids[0]);
    h.run_for(Duration::from_secs(1));
    assert!(
        matches!(&h.emsp.session(&seq).unwrap().state, SessionState::Failed(why) if why.contains("auth"))
    );
    // Unknown connector.
    let seq = h
        .emsp
        .start_session(h.now(), PeerId(0), "MA5DA0053999999999999");
    h.run_for(Duration::from_secs(1));
    assert!(matches!(
        h.emsp.session(&seq).unwrap().state,
        SessionState::Failed(_)
    ));
    // The charger cannot start: the order ends at once with a zero bill.
    h.set_connector(cs[2], &plugged());
    h.run_for(Duration::from_secs(1));
    let seq = h.emsp.start_session(h.now(), PeerId(0), &ids[2]);
    let _ = next_command(&mut h);
    h.operator.charge_started(
        h.now(),
        cs[2],
        Err(StartFailure::Fault("insulation".into())),
    );
    h.run_for(Duration::from_secs(1));
    let s = h.emsp.session(&seq).unwrap();
    assert_eq!(s.state, SessionState::Billed);
    assert_eq!(
        s.order.as_ref().unwrap().stop_reason,
        StopReason::ChargerFault
    );
    assert!(h.operator.poll_command().is_none());
    h.set_connector(cs[2], &ConnectorSnapshot::idle());
    h.run_for(Duration::from_secs(1));
}
