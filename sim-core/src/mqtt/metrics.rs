//! MQTT metrics: what the charger and backend state machines record, and how it lands in
//! [`Metrics`].
//!
//! The state machines do not hold a `&mut Metrics`: each keeps a small [`MetricLog`] of
//! [`MetricRecord`]s (no allocation once warm) that the caller drains into the run's
//! [`Metrics`] with the handles of [`MqttMetricIds`], registered once per run. Latency is
//! measured from the *intended* send time (the timer deadline or the application call that
//! wanted the message), so a backlog in the generator shows up as latency, not as silence.

use proto::mqtt::MessageCode;
use proto::mqtt::topic::{Direction, TopicClass};

use crate::metrics::{ErrorId, LatencyId, MessageId, Metrics};
use crate::time::Instant;

/// The error kinds counted (errors by kind, per side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// A request got no confirmation within the response timeout.
    Timeout = 0,
    /// The peer answered with MessageError (0xFF).
    MessageError = 1,
    /// An inbound payload did not decode (framing, unknown code, protobuf, size, route).
    Decode = 2,
    /// The peer refused (boot rejected, authorization refused, transaction rejected...).
    Rejected = 3,
    /// The connection dropped.
    Disconnect = 4,
    /// A publish could not be handed to the transport.
    PublishFailure = 5,
    /// A well-formed message that was not expected (unknown seq, wrong state).
    Unexpected = 6,
    /// A confirmation or request seen twice (counted, not acted on twice).
    Duplicate = 7,
}

impl ErrorKind {
    /// Every kind, in index order.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Timeout,
        ErrorKind::MessageError,
        ErrorKind::Decode,
        ErrorKind::Rejected,
        ErrorKind::Disconnect,
        ErrorKind::PublishFailure,
        ErrorKind::Unexpected,
        ErrorKind::Duplicate,
    ];

    /// The metric name suffix.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::MessageError => "message_error",
            ErrorKind::Decode => "decode_error",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Disconnect => "disconnect",
            ErrorKind::PublishFailure => "publish_failure",
            ErrorKind::Unexpected => "unexpected",
            ErrorKind::Duplicate => "duplicate",
        }
    }
}

/// Which side recorded a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A simulated charger.
    Charger = 0,
    /// The reference backend.
    Backend = 1,
}

/// One thing a state machine wants counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricRecord {
    /// A message was handed to the transport.
    Sent {
        /// Its code.
        code: MessageCode,
        /// Up (charger) or down (backend).
        direction: Direction,
        /// Its topic class.
        class: TopicClass,
    },
    /// A request was answered: latency from the intended send time.
    Latency {
        /// The request's code.
        request: MessageCode,
        /// When the protocol wanted it on the wire.
        intended: Instant,
        /// When it was handed to the transport (the last one, for a re-send).
        sent: Instant,
        /// When the answer arrived.
        done: Instant,
    },
    /// An error.
    Error {
        /// What kind.
        kind: ErrorKind,
        /// The message concerned, if known.
        code: Option<MessageCode>,
        /// When.
        at: Instant,
    },
}

/// A bounded buffer of records; beyond `MAX` records the oldest are kept and the rest are
/// counted in `overflow` (a caller that never drains cannot make the simulation grow).
#[derive(Debug, Default)]
pub struct MetricLog {
    records: Vec<MetricRecord>,
    overflow: u64,
}

impl MetricLog {
    /// Records kept before overflow counting starts.
    pub const MAX: usize = 4096;

    /// Appends a record.
    pub fn push(&mut self, record: MetricRecord) {
        if self.records.len() < Self::MAX {
            self.records.push(record);
        } else {
            self.overflow += 1;
        }
    }

    /// Counts an error.
    pub fn error(&mut self, kind: ErrorKind, code: Option<MessageCode>, at: Instant) {
        self.push(MetricRecord::Error { kind, code, at });
    }

    /// The records not yet drained.
    pub fn records(&self) -> &[MetricRecord] {
        &self.records
    }

    /// Records dropped because the log was full.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    /// Moves every record into `metrics` and clears the log (keeping its buffer).
    pub fn drain_into(&mut self, side: Side, ids: &MqttMetricIds, metrics: &mut Metrics) {
        for record in self.records.drain(..) {
            ids.record(side, record, metrics);
        }
        if self.overflow > 0 {
            let id = ids.errors[side as usize][ErrorKind::Unexpected as usize];
            metrics.count_error(id, Instant::ZERO, "metric log overflow");
            self.overflow = 0;
        }
    }
}

/// Metric handles for every message code, class and error kind, registered once per run.
#[derive(Debug, Clone)]
pub struct MqttMetricIds {
    /// Indexed by message code value.
    messages: Vec<Option<MessageId>>,
    /// Indexed by message code value (requests only).
    latency: Vec<Option<LatencyId>>,
    classes: [[MessageId; 3]; 2],
    errors: [[ErrorId; 8]; 2],
}

impl MqttMetricIds {
    /// Registers the MQTT series in `metrics`: messages `mqtt/<Name>`, throughput per topic
    /// class `mqtt/U/C` etc., latency `mqtt.<Request>`, errors `mqtt.<side>.<kind>`.
    pub fn register(metrics: &mut Metrics) -> Self {
        let mut messages = vec![None; 256];
        let mut latency = vec![None; 256];
        for &c in MessageCode::ALL {
            messages[usize::from(c.value())] = Some(metrics.message_id("mqtt", c.name()));
            if !c.is_conf() {
                let id = metrics.latency_id(&format!("mqtt.{}", c.name()));
                latency[usize::from(c.value())] = Some(id);
            }
        }
        let class = |m: &mut Metrics, d: Direction| {
            [
                TopicClass::Registration,
                TopicClass::Command,
                TopicClass::Telemetry,
            ]
            .map(|c| m.message_id("mqtt", &format!("{}/{}", d.letter(), c.letter())))
        };
        let classes = [
            class(metrics, Direction::Up),
            class(metrics, Direction::Down),
        ];
        let errors = ["charger", "backend"].map(|side| {
            ErrorKind::ALL.map(|k| metrics.error_id(&format!("mqtt.{side}.{}", k.name())))
        });
        MqttMetricIds {
            messages,
            latency,
            classes,
            errors,
        }
    }

    /// Records one record into `metrics`.
    pub fn record(&self, side: Side, record: MetricRecord, metrics: &mut Metrics) {
        match record {
            MetricRecord::Sent {
                code,
                direction,
                class,
            } => {
                if let Some(Some(id)) = self.messages.get(usize::from(code.value())) {
                    metrics.count_message(*id);
                }
                let d = usize::from(direction == Direction::Down);
                metrics.count_message(self.classes[d][class as usize]);
            }
            MetricRecord::Latency {
                request,
                intended,
                sent,
                done,
            } => {
                if let Some(Some(id)) = self.latency.get(usize::from(request.value())) {
                    metrics.record_latency(*id, intended, sent, done);
                }
            }
            MetricRecord::Error { kind, code, at } => {
                let id = self.errors[side as usize][kind as usize];
                metrics.count_error(id, at, code.map_or("", MessageCode::name));
            }
        }
    }

    /// The error handle of `kind` on `side` (for transport-level errors counted by the shell).
    pub fn error_id(&self, side: Side, kind: ErrorKind) -> ErrorId {
        self.errors[side as usize][kind as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_land_in_the_named_series() {
        let mut metrics = Metrics::new();
        let ids = MqttMetricIds::register(&mut metrics);
        let mut log = MetricLog::default();
        log.push(MetricRecord::Sent {
            code: MessageCode::BootNotificationReq,
            direction: Direction::Up,
            class: TopicClass::Command,
        });
        log.push(MetricRecord::Latency {
            request: MessageCode::BootNotificationReq,
            intended: Instant::ZERO,
            sent: Instant::from_millis(5),
            done: Instant::from_millis(25),
        });
        log.error(
            ErrorKind::Timeout,
            Some(MessageCode::AuthorizeReq),
            Instant::from_secs(3),
        );
        log.drain_into(Side::Charger, &ids, &mut metrics);
        assert!(log.records().is_empty());
        let by = metrics.messages_by_protocol();
        assert_eq!(by["mqtt"]["BootNotificationReq"], 1);
        assert_eq!(by["mqtt"]["U/C"], 1);
        let errors = metrics.errors();
        assert_eq!(errors["mqtt.charger.timeout"].count, 1);
        assert_eq!(errors["mqtt.charger.timeout"].last_text, "AuthorizeReq");
        let (name, series) = metrics.latency_series().next().unwrap();
        assert_eq!(name, "mqtt.BootNotificationReq");
        assert!(series.corrected_us.max() >= 24_900);
    }

    #[test]
    fn a_full_log_counts_overflow_instead_of_growing() {
        let mut log = MetricLog::default();
        for _ in 0..MetricLog::MAX + 10 {
            log.error(ErrorKind::Decode, None, Instant::ZERO);
        }
        assert_eq!(log.records().len(), MetricLog::MAX);
        assert_eq!(log.overflow(), 10);
    }
}
