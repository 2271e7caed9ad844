//! A fault-injected cut of one charger's connection on a real (embedded) broker: the link
//! drops at once without DISCONNECT, attempts fail while the partition holds, and the
//! connection comes back afterwards; the other connections never notice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hil::mqtt::{EmbeddedBroker, MqttFleet, MqttSettings, TransportEvent};

/// The next event of connection `conn` (others are dropped), within 5 s.
async fn next_of(
    fleet: &MqttFleet,
    conn: usize,
    backlog: &mut Vec<TransportEvent>,
) -> TransportEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(i) = backlog.iter().position(|e| e.conn() == conn) {
            return backlog.remove(i);
        }
        let mut batch = Vec::new();
        fleet.drain(&mut batch);
        if batch.is_empty() {
            tokio::time::timeout_at(deadline, fleet.wait())
                .await
                .expect("an event within 5 s");
        }
        backlog.extend(batch);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_drops_stays_down_for_its_hold_then_reconnects() {
    let broker = EmbeddedBroker::start().unwrap();
    let settings = MqttSettings::new(broker.url());
    let fleet = MqttFleet::start(&settings, &["cut-0".to_owned(), "cut-1".to_owned()]).unwrap();
    let mut backlog = Vec::new();
    for conn in 0..2 {
        fleet.connect(conn);
        let e = next_of(&fleet, conn, &mut backlog).await;
        assert!(matches!(e, TransportEvent::Connected { .. }), "{e:?}");
    }
    assert!(fleet.cut(0, Duration::from_millis(800)));
    assert!(!fleet.cut(7, Duration::ZERO), "no such connection");
    match next_of(&fleet, 0, &mut backlog).await {
        TransportEvent::Disconnected { error: Some(e), .. } => assert!(e.contains("cut"), "{e}"),
        other => panic!("expected the link to drop: {other:?}"),
    }
    // While the partition holds, an attempt fails without reaching the broker.
    fleet.connect(0);
    match next_of(&fleet, 0, &mut backlog).await {
        TransportEvent::ConnectFailed { error, .. } => {
            assert!(error.contains("partitioned"), "{error}");
        }
        other => panic!("expected a refused attempt: {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    fleet.connect(0);
    let back = next_of(&fleet, 0, &mut backlog).await;
    assert!(matches!(back, TransportEvent::Connected { .. }), "{back:?}");
    assert!(
        backlog.iter().all(|e| e.conn() != 1),
        "connection 1 was not touched: {backlog:?}"
    );
    let stats = fleet.stats();
    assert_eq!(
        (stats.connects, stats.disconnects, stats.connect_failures),
        (3, 1, 1)
    );
    fleet.shutdown();
}
