//! The bridge between a [`World`] and real connections: the chargers' MQTT clients on a
//! real broker. The simulation thread owns the world; the connections run on tokio tasks.
//! After every simulation chunk, [`MqttBridge::pump`] hands inbound events to the world and
//! the world's outbound publishes to the connections, in batches; [`InboxWaiter`] makes the
//! pacing loop wake as soon as something arrives instead of sleeping to the next deadline.

use crate::mqtt::{Inbox, MqttError, MqttFleet, MqttSettings, TransportEvent};
use crate::pace::Waiter;
use proto::mqtt::topic::QoS;
use sim_core::fleet::{MqttOut, World};
use std::collections::VecDeque;
use std::sync::Arc;

/// Counters of the bridge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Publishes handed to the connections.
    pub published: u64,
    /// Publishes a full request channel refused and that wait for the next pump.
    pub deferred: u64,
    /// Publishes dropped because their connection does not exist.
    pub dropped: u64,
    /// Inbound publishes handed to the world.
    pub received: u64,
}

/// Carries a world's MQTT traffic to real connections, one per charger.
#[derive(Debug)]
pub struct MqttBridge {
    fleet: MqttFleet,
    events: Vec<TransportEvent>,
    out: Vec<MqttOut>,
    deferred: VecDeque<(usize, String, rumqttc::QoS, Vec<u8>)>,
    stats: BridgeStats,
}

fn qos(q: QoS) -> rumqttc::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

impl MqttBridge {
    /// One idle connection per charger of `world`. Must be called inside a tokio runtime.
    pub fn new(settings: &MqttSettings, world: &World) -> Result<Self, MqttError> {
        let ids = world.mqtt_client_ids();
        Ok(MqttBridge {
            fleet: MqttFleet::start(settings, &ids)?,
            events: Vec::with_capacity(1024),
            out: Vec::with_capacity(1024),
            deferred: VecDeque::new(),
            stats: BridgeStats::default(),
        })
    }

    /// A waiter that wakes the pacing loop when the connections have news. It blocks the
    /// calling thread in the kernel and needs no runtime; `_handle` is kept so that callers
    /// need not change.
    pub fn waiter(&self, _handle: tokio::runtime::Handle) -> InboxWaiter {
        InboxWaiter {
            inbox: self.fleet.inbox(),
        }
    }

    /// The bridge's counters.
    pub fn stats(&self) -> BridgeStats {
        self.stats
    }

    /// Connections connected, counted from the transport's own events.
    pub fn transport_stats(&self) -> crate::mqtt::TransportStats {
        self.fleet.stats()
    }

    /// Hands inbound events to `world` and its outbound traffic to the connections.
    pub fn pump(&mut self, world: &mut World) {
        // Every command of this pump reaches the connections' I/O thread in one batch.
        let _batch = self.fleet.batch();
        self.fleet.drain(&mut self.events);
        for event in self.events.drain(..) {
            match event {
                TransportEvent::Connected { conn, .. } => world.mqtt_connected(conn),
                TransportEvent::ConnectFailed { conn, .. } => world.mqtt_connect_failed(conn),
                TransportEvent::Disconnected { conn, .. } => world.mqtt_disconnected(conn),
                TransportEvent::Publish { conn, publish } => {
                    self.stats.received += 1;
                    world.mqtt_inbound(conn, &publish.topic, &publish.payload);
                }
            }
        }
        // Publishes refused last time go first, in their order.
        for _ in 0..self.deferred.len() {
            let Some((k, topic, q, payload)) = self.deferred.pop_front() else {
                break;
            };
            self.publish(k, topic, q, payload);
        }
        world.take_mqtt_out(&mut self.out);
        for o in std::mem::take(&mut self.out) {
            match o {
                MqttOut::Connect { charger } => self.fleet.connect(charger),
                MqttOut::Disconnect { charger } => self.fleet.disconnect(charger),
                MqttOut::Subscribe { charger, topics } => {
                    let filters = topics
                        .into_iter()
                        .map(|t| {
                            let q = if t.starts_with("/D/M/") {
                                rumqttc::QoS::AtMostOnce
                            } else {
                                rumqttc::QoS::ExactlyOnce
                            };
                            rumqttc::SubscribeFilter::new(t, q)
                        })
                        .collect();
                    let _ = self.fleet.subscribe(charger, filters);
                }
                MqttOut::Publish {
                    charger,
                    topic,
                    qos: q,
                    payload,
                } => self.publish(charger, topic, qos(q), payload),
            }
        }
    }

    fn publish(&mut self, k: usize, topic: String, q: rumqttc::QoS, payload: Vec<u8>) {
        if k >= self.fleet.len() {
            self.stats.dropped += 1;
            return;
        }
        match self.fleet.publish(k, topic.clone(), q, payload) {
            Ok(()) => self.stats.published += 1,
            Err(refused) => {
                // The connection's request channel is full: keep the publish for the next
                // pump rather than lose it (the transaction outbox would re-send it anyway,
                // but telemetry has no second chance).
                self.stats.deferred += 1;
                self.deferred.push_back((k, topic, q, refused.payload));
            }
        }
    }

    /// Cuts charger `k`'s connection and holds it down for `hold` (a network partition;
    /// it reconnects with its own back-off afterwards). False when there is no such charger.
    pub fn cut(&self, k: usize, hold: std::time::Duration) -> bool {
        self.fleet.cut(k, hold)
    }

    /// Closes every connection.
    pub fn shutdown(&self) {
        self.fleet.shutdown();
    }
}

/// The shortest wait of the pacing loop. Deadlines of a large fleet are microseconds
/// apart; waking for each alone would hand each publish to its connection by itself (one
/// worker wake-up per message). One millisecond is the granularity tokio's timer gave the
/// loop before, so the lag it adds is unchanged.
const MIN_WAIT: std::time::Duration = std::time::Duration::from_millis(1);

/// Wakes the pacing loop when a connection has news, else after the timeout.
#[derive(Debug)]
pub struct InboxWaiter {
    inbox: Arc<Inbox>,
}

impl Waiter for InboxWaiter {
    fn wait(&mut self, timeout: std::time::Duration) {
        self.inbox.wait_blocking(timeout.max(MIN_WAIT));
    }
}
