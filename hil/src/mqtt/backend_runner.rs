//! [`BackendRunner`]: the reference [`Backend`] on a real broker, as `chargestorm backend`
//! runs it: one MQTT connection subscribed to every charger's uplink (`/U/R/+`, `/U/C/+`,
//! `/U/M/+`), the backend's downlinks published to `/D/<class>/<id>`, its timers on the wall
//! clock. The connection reconnects by itself with jittered back-off and resubscribes; what
//! the broker lost meanwhile the chargers' outboxes re-send.

use std::sync::Arc;

use proto::mqtt::topic::{Direction, QoS, Topic, TopicClass, filter};
use rand::SeedableRng;
use rumqttc::{AsyncClient, Event, Packet, SubscribeFilter};
use sim_core::metrics::Metrics;
use sim_core::mqtt::backend::{Backend, BackendEvent};
use sim_core::mqtt::backoff::Backoff;
use sim_core::mqtt::metrics::MqttMetricIds;
use sim_core::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::fleet::{Inbox, TransportEvent};
use super::{MqttError, MqttSettings, RealClock};

/// What a command sees inside the backend's task.
struct ServeState {
    backend: Backend,
    events: Vec<BackendEvent>,
    /// The backend's metrics (latency of its own requests from their intended send time,
    /// messages, errors), drained from its bounded log on every pass so none overflow.
    metrics: Metrics,
    ids: MqttMetricIds,
}

/// Most backend events kept between two `take_events` calls.
const MAX_EVENTS: usize = 1_000_000;

/// Events handled (or downlinks sent) between two drains of the backend's metric log, well
/// under its bound of [`sim_core::mqtt::metrics::MetricLog::MAX`] records.
const DRAIN_EVERY: usize = 256;

/// A command run on the backend inside its task.
type Command = Box<dyn FnOnce(&mut ServeState, Instant) + Send>;

/// Counters of the runner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerStats {
    /// Uplink publishes handed to the backend.
    pub received: u64,
    /// Downlink publishes handed to rumqttc.
    pub published: u64,
    /// Publishes on topics that are not uplink topics.
    pub foreign: u64,
    /// Connections (CONNACK), the first one included.
    pub connects: u64,
}

/// A running backend. See the module documentation.
#[derive(Debug)]
pub struct BackendRunner {
    commands: mpsc::UnboundedSender<Command>,
    /// Cuts the connection's back-off short (after a broker restart).
    kick: Arc<tokio::sync::Notify>,
    task: JoinHandle<(Backend, RunnerStats)>,
    connection: JoinHandle<()>,
}

impl BackendRunner {
    /// Connects to the broker as client `chargestorm-backend`, subscribes, and starts serving.
    /// Returns once the first subscription is in place.
    pub async fn start(
        settings: &MqttSettings,
        backend: Backend,
        clock: RealClock,
    ) -> Result<Self, MqttError> {
        let mut settings = settings.clone();
        settings.request_capacity = settings.request_capacity.max(10_000);
        let (options, network) = settings.client_options("chargestorm-backend")?;
        let (client, mut eventloop) = AsyncClient::new(options, settings.request_capacity);
        eventloop.set_network_options(network);
        let inbox = Arc::new(Inbox::default());
        let (ready_tx, ready_rx) = oneshot::channel();
        let kick = Arc::new(tokio::sync::Notify::new());
        let connection = tokio::spawn(run_connection(
            eventloop,
            client.clone(),
            inbox.clone(),
            ready_tx,
            kick.clone(),
        ));
        tokio::time::timeout(std::time::Duration::from_secs(10), ready_rx)
            .await
            .map_err(|_| MqttError::Broker("backend could not connect within 10 s".to_owned()))?
            .map_err(|_| MqttError::Broker("backend connection task ended".to_owned()))?;
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve(backend, client, inbox, rx, clock));
        Ok(BackendRunner {
            commands,
            kick,
            task,
            connection,
        })
    }

    /// Runs `f` on the backend at the current time and returns its result (`None` if the
    /// runner has stopped).
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Backend, Instant) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let command: Command = Box::new(move |s, now| {
            let _ = tx.send(f(&mut s.backend, now));
        });
        self.commands.send(command).ok()?;
        rx.await.ok()
    }

    /// Ends the connection's back-off wait now, so that it reconnects at once: the shell
    /// calls this when it has brought the broker back, so the backend is subscribed again
    /// before most chargers log in (their logins would otherwise go unanswered until their
    /// boot retry). Does nothing while the backend is connected.
    pub fn reconnect_now(&self) {
        self.kick.notify_waiters();
    }

    /// The backend events since the last call (at most a million are kept).
    pub async fn take_events(&self) -> Vec<BackendEvent> {
        let (tx, rx) = oneshot::channel();
        let command: Command = Box::new(move |s, _| {
            let _ = tx.send(std::mem::take(&mut s.events));
        });
        if self.commands.send(command).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The backend's metrics so far (its requests' latency from their intended send time,
    /// its messages and errors); `None` if the runner has stopped.
    pub async fn metrics(&self) -> Option<Metrics> {
        let (tx, rx) = oneshot::channel();
        let command: Command = Box::new(move |s, _| {
            let mut copy = Metrics::new();
            copy.absorb(&s.metrics);
            let _ = tx.send(copy);
        });
        self.commands.send(command).ok()?;
        rx.await.ok()
    }

    /// Stops serving and returns the backend (ledger, statistics) and the runner's counters.
    pub async fn stop(self) -> Result<(Backend, RunnerStats), MqttError> {
        drop(self.commands);
        self.connection.abort();
        self.task
            .await
            .map_err(|e| MqttError::Broker(format!("backend task failed: {e}")))
    }
}

/// The backend's connection: polls rumqttc, resubscribes after every CONNACK, backs off
/// (jittered, 200 ms to 5 s) after errors.
async fn run_connection(
    mut eventloop: rumqttc::EventLoop,
    client: AsyncClient,
    inbox: Arc<Inbox>,
    ready: oneshot::Sender<()>,
    kick: Arc<tokio::sync::Notify>,
) {
    let mut ready = Some(ready);
    let mut backoff = Backoff::new(
        sim_core::time::Duration::from_millis(200),
        sim_core::time::Duration::from_secs(5),
    );
    let mut rng = sim_core::rng::EntityRng::seed_from_u64(0x0BAC_CE4D);
    let filters: Vec<SubscribeFilter> = [
        TopicClass::Registration,
        TopicClass::Command,
        TopicClass::Telemetry,
    ]
    .iter()
    .map(|&c| {
        let qos = match c.qos() {
            QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
            QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
        };
        SubscribeFilter::new(filter(Direction::Up, c).to_owned(), qos)
    })
    .collect();
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                let _ = client.try_subscribe_many(filters.clone());
                inbox.push(TransportEvent::Connected {
                    conn: 0,
                    session_present: ack.session_present,
                });
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                inbox.push(TransportEvent::Publish { conn: 0, publish });
            }
            Ok(_) => {}
            Err(e) => {
                inbox.push(TransportEvent::Disconnected {
                    conn: 0,
                    error: Some(e.to_string()),
                });
                let delay = backoff.next_delay(&mut rng);
                tokio::select! {
                    () = tokio::time::sleep(delay.to_std()) => {}
                    () = kick.notified() => {}
                }
            }
        }
    }
}

/// The backend's loop: commands, uplinks, timers, downlinks.
async fn serve(
    backend: Backend,
    client: AsyncClient,
    inbox: Arc<Inbox>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    clock: RealClock,
) -> (Backend, RunnerStats) {
    let mut stats = RunnerStats::default();
    let mut batch = Vec::new();
    let mut metrics = Metrics::new();
    let ids = MqttMetricIds::register(&mut metrics);
    let mut state = ServeState {
        backend,
        events: Vec::new(),
        metrics,
        ids,
    };
    loop {
        let backend = &mut state.backend;
        let now = clock.now();
        inbox.drain(&mut batch);
        for (i, event) in batch.drain(..).enumerate() {
            // The backend's metric log is bounded (records past it are only counted): drain
            // it within a large batch too, so that a burst loses no latency sample.
            if i % DRAIN_EVERY == DRAIN_EVERY - 1 {
                backend.drain_metrics(&state.ids, &mut state.metrics);
            }
            match event {
                TransportEvent::Publish { publish, .. } => match Topic::parse(&publish.topic) {
                    Ok(t) if t.direction == Direction::Up => {
                        stats.received += 1;
                        backend.handle_publish(now, t.id, t.class, &publish.payload);
                    }
                    _ => stats.foreign += 1,
                },
                TransportEvent::Connected { .. } => stats.connects += 1,
                _ => {}
            }
        }
        if backend.poll_timeout().is_some_and(|t| t <= now) {
            backend.handle_timeout(now);
        }
        while let Some(d) = backend.poll_publish() {
            let topic = format!("/D/{}/{}", d.class.letter(), d.charger_id);
            let qos = match d.qos {
                QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
                QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
            };
            // Awaiting here is safe: the event loop runs on its own task.
            if client.publish(topic, qos, false, d.payload).await.is_ok() {
                stats.published += 1;
            }
            if stats.published % DRAIN_EVERY as u64 == 0 {
                backend.drain_metrics(&state.ids, &mut state.metrics);
            }
        }
        while let Some(e) = backend.poll_event() {
            if state.events.len() < MAX_EVENTS {
                state.events.push(e);
            }
        }
        backend.drain_metrics(&state.ids, &mut state.metrics);
        let next = backend
            .poll_timeout()
            .map_or(now + sim_core::time::Duration::from_secs(1), |t| t.max(now));
        tokio::select! {
            () = inbox.wait() => {}
            () = tokio::time::sleep_until(clock.deadline(next)) => {}
            command = commands.recv() => match command {
                Some(f) => f(&mut state, clock.now()),
                None => return (state.backend, stats),
            },
        }
    }
}
