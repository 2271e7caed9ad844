//! [`RumqttcFleet`]: one rumqttc connection per simulated charger, each with its own client
//! id, its event loop on its own task, and every incoming event funnelled into the shared,
//! batched [`Inbox`]. It is the engine for `mqtts://` (TLS) and the one selected by
//! [`MqttTransport::Rumqttc`](super::MqttTransport) for comparison with the native engine.
//!
//! A connection does nothing until [`RumqttcFleet::connect`] permits it (the charger's own
//! jittered back-off decides when), so a broker restart does not turn into a tight reconnect
//! loop. rumqttc's event loop never runs on the task that publishes (issue #1025: publishing
//! from the polling task deadlocks when the request channel is full).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rumqttc::{AsyncClient, ClientError, Event, EventLoop, Outgoing, Packet, QoS, Request};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::fleet::{Inbox, PublishRefused, TransportEvent};
use super::{MqttError, MqttSettings};

struct Conn {
    client: AsyncClient,
    permit: Arc<Notify>,
    /// Cuts of this connection: each send drops the link and holds it down until the
    /// instant sent (a network partition seen from the charger).
    cut: tokio::sync::watch::Sender<Option<tokio::time::Instant>>,
    task: JoinHandle<()>,
}

/// The rumqttc connections of a fleet. See the module documentation.
pub(super) struct RumqttcFleet {
    conns: Vec<Conn>,
}

impl std::fmt::Debug for RumqttcFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RumqttcFleet")
            .field("connections", &self.conns.len())
            .finish()
    }
}

impl RumqttcFleet {
    /// Creates one (idle) connection per client id, reporting into `inbox`. Must run inside
    /// a tokio runtime.
    pub(super) fn start(
        settings: &MqttSettings,
        client_ids: &[String],
        inbox: Arc<Inbox>,
    ) -> Result<Self, MqttError> {
        let mut conns = Vec::with_capacity(client_ids.len());
        for (conn, id) in client_ids.iter().enumerate() {
            let (options, network) = settings.client_options(id)?;
            let (client, mut eventloop) =
                AsyncClient::new(options, settings.request_capacity.max(1));
            eventloop.set_network_options(network);
            let permit = Arc::new(Notify::new());
            let (cut, cuts) = tokio::sync::watch::channel(None);
            let task = tokio::spawn(run_connection(
                conn,
                eventloop,
                Gates {
                    permit: permit.clone(),
                    cuts,
                },
                inbox.clone(),
            ));
            conns.push(Conn {
                client,
                permit,
                cut,
                task,
            });
        }
        Ok(RumqttcFleet { conns })
    }

    /// Lets connection `conn` connect (once).
    pub(super) fn connect(&self, conn: usize) {
        if let Some(c) = self.conns.get(conn) {
            c.permit.notify_one();
        }
    }

    /// Closes connection `conn` (DISCONNECT); a `Disconnected` event follows.
    pub(super) fn disconnect(&self, conn: usize) {
        if let Some(c) = self.conns.get(conn) {
            // A full request channel means the connection is busy; the close then happens
            // through the keep-alive failure instead, which the charger also handles.
            let _ = c.client.try_disconnect();
        }
    }

    /// Cuts connection `conn` at once (the socket is dropped without DISCONNECT, as when the
    /// network fails) and refuses its reconnection attempts for `hold` (each fails with a
    /// `ConnectFailed`); afterwards it may reconnect. False when there is no such connection.
    pub(super) fn cut(&self, conn: usize, hold: std::time::Duration) -> bool {
        let Some(c) = self.conns.get(conn) else {
            return false;
        };
        let until = tokio::time::Instant::now() + hold;
        c.cut.send_replace(Some(until));
        true
    }

    /// Subscribes connection `conn` to `filters`.
    pub(super) fn subscribe(
        &self,
        conn: usize,
        filters: Vec<rumqttc::SubscribeFilter>,
    ) -> Result<(), String> {
        let c = self
            .conns
            .get(conn)
            .ok_or_else(|| format!("no connection {conn}"))?;
        c.client
            .try_subscribe_many(filters)
            .map_err(|e| e.to_string())
    }

    /// Hands a publish to connection `conn` without waiting.
    pub(super) fn publish(
        &self,
        conn: usize,
        topic: String,
        qos: QoS,
        payload: Vec<u8>,
    ) -> Result<(), PublishRefused> {
        let Some(c) = self.conns.get(conn) else {
            return Err(PublishRefused {
                payload,
                error: format!("no connection {conn}"),
            });
        };
        c.client
            .try_publish(topic, qos, false, payload)
            .map_err(|e| match e {
                ClientError::TryRequest(Request::Publish(p))
                | ClientError::Request(Request::Publish(p)) => PublishRefused {
                    payload: p.payload.to_vec(),
                    error: "request channel full or closed".to_owned(),
                },
                other => PublishRefused {
                    payload: Vec::new(),
                    error: other.to_string(),
                },
            })
    }

    /// Stops every connection task (no DISCONNECT is sent).
    pub(super) fn shutdown(&self) {
        for c in &self.conns {
            c.task.abort();
        }
    }
}

impl Drop for RumqttcFleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What a connection task waits on: its permits to connect and its cuts.
struct Gates {
    permit: Arc<Notify>,
    cuts: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
}

/// One connection's task: wait for a permit, connect, forward events until the link drops
/// or is cut. While a cut holds the link down, attempts fail without touching the network.
async fn run_connection(
    conn: usize,
    mut eventloop: EventLoop,
    mut gates: Gates,
    inbox: Arc<Inbox>,
) {
    let counters = inbox.counters();
    loop {
        gates.permit.notified().await;
        let held = *gates.cuts.borrow_and_update();
        if held.is_some_and(|until| tokio::time::Instant::now() < until) {
            counters.connect_failures.fetch_add(1, Ordering::Relaxed);
            inbox.push(TransportEvent::ConnectFailed {
                conn,
                error: "network partitioned (fault injection)".to_owned(),
            });
            continue;
        }
        let mut connected = false;
        loop {
            let polled = tokio::select! {
                polled = eventloop.poll() => polled,
                changed = gates.cuts.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // The link dies under the client: drop the socket, no DISCONNECT.
                    eventloop.clean();
                    let event = if connected {
                        counters.disconnects.fetch_add(1, Ordering::Relaxed);
                        TransportEvent::Disconnected {
                            conn,
                            error: Some("network cut (fault injection)".to_owned()),
                        }
                    } else {
                        counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                        TransportEvent::ConnectFailed {
                            conn,
                            error: "network cut (fault injection)".to_owned(),
                        }
                    };
                    inbox.push(event);
                    break;
                }
            };
            match polled {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    connected = true;
                    counters.connects.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::Connected {
                        conn,
                        session_present: ack.session_present,
                    });
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::Publish { conn, publish });
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    eventloop.clean();
                    counters.disconnects.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::Disconnected { conn, error: None });
                    break;
                }
                Ok(_) => {}
                Err(e) if connected => {
                    counters.disconnects.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::Disconnected {
                        conn,
                        error: Some(e.to_string()),
                    });
                    break;
                }
                Err(e) => {
                    counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                    inbox.push(TransportEvent::ConnectFailed {
                        conn,
                        error: e.to_string(),
                    });
                    break;
                }
            }
        }
    }
}
