//! Broker counters: lock-free atomics bumped on the hot path, read as a [`BrokerStats`]
//! snapshot.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

/// A snapshot of the broker's counters since it (re)started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerStats {
    /// Connections open now (past CONNACK).
    pub connections: u64,
    /// Most connections open at once.
    pub connections_peak: u64,
    /// CONNECTs accepted (CONNACK 0).
    pub connects: u64,
    /// CONNECTs refused (bad protocol level, empty id without clean session), plus sockets
    /// closed at accept because `max_connections` was reached.
    pub connects_refused: u64,
    /// CONNECTs accepted during the last complete wall-clock second.
    pub connects_last_second: u64,
    /// The most CONNECTs accepted within one wall-clock second.
    pub connects_per_second_peak: u64,
    /// Sessions alive, including the offline ones of non-clean sessions.
    pub sessions: u64,
    /// (filter, session) subscriptions.
    pub subscriptions: u64,
    /// PUBLISH packets received from clients, by QoS 0/1/2 (re-sent duplicates included).
    pub messages_in: [u64; 3],
    /// PUBLISH packets delivered to subscribers, by delivered QoS 0/1/2 (re-sends after a
    /// reconnect are in `resent`, not here).
    pub messages_out: [u64; 3],
    /// Received messages that matched no subscription.
    pub unrouted: u64,
    /// QoS 0 deliveries dropped because the subscriber's queue was full.
    pub dropped_qos0: u64,
    /// Deliveries dropped because an offline session's queue was full (any QoS), or because
    /// they were QoS 0 to an offline session (QoS 0 is not queued for offline sessions).
    pub dropped_offline: u64,
    /// Times a publisher had to wait because a subscriber's queue was full (QoS 1/2).
    pub backpressure_waits: u64,
    /// Deepest subscriber queue seen (messages waiting for the in-flight window).
    pub queue_high_water: u64,
    /// Largest in-flight window in use seen on one session.
    pub inflight_high_water: u64,
    /// PUBLISH and PUBREL packets re-sent to a session that reconnected.
    pub resent: u64,
    /// Connections closed by a CONNECT with the same client id.
    pub takeovers: u64,
    /// Connections closed because nothing arrived within 1.5 × keep-alive.
    pub keepalive_timeouts: u64,
    /// Connections closed for a malformed or out-of-order packet.
    pub protocol_errors: u64,
    /// Connection tasks that panicked (a bug: only that connection is lost).
    pub connection_panics: u64,
}

/// Connect counts per wall-clock second.
#[derive(Debug, Default)]
struct ConnectRate {
    second: u64,
    count: u64,
    last: u64,
    peak: u64,
}

/// The live counters.
#[derive(Debug)]
pub(crate) struct Counters {
    started: Instant,
    pub(crate) connections: AtomicU64,
    pub(crate) connections_peak: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) connects_refused: AtomicU64,
    rate: Mutex<ConnectRate>,
    pub(crate) sessions: AtomicU64,
    pub(crate) subscriptions: AtomicU64,
    pub(crate) messages_in: [AtomicU64; 3],
    pub(crate) messages_out: [AtomicU64; 3],
    pub(crate) unrouted: AtomicU64,
    pub(crate) dropped_qos0: AtomicU64,
    pub(crate) dropped_offline: AtomicU64,
    pub(crate) backpressure_waits: AtomicU64,
    pub(crate) queue_high_water: AtomicU64,
    pub(crate) inflight_high_water: AtomicU64,
    pub(crate) resent: AtomicU64,
    pub(crate) takeovers: AtomicU64,
    pub(crate) keepalive_timeouts: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) connection_panics: AtomicU64,
}

/// Adds one.
pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Raises a high-water mark.
pub(crate) fn raise(c: &AtomicU64, value: usize) {
    c.fetch_max(u64::try_from(value).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl Counters {
    /// Zeroed counters; connect rates are measured from `started`.
    pub(crate) fn new(started: Instant) -> Self {
        let zero = || AtomicU64::new(0);
        Counters {
            started,
            connections: zero(),
            connections_peak: zero(),
            connects: zero(),
            connects_refused: zero(),
            rate: Mutex::new(ConnectRate::default()),
            sessions: zero(),
            subscriptions: zero(),
            messages_in: [zero(), zero(), zero()],
            messages_out: [zero(), zero(), zero()],
            unrouted: zero(),
            dropped_qos0: zero(),
            dropped_offline: zero(),
            backpressure_waits: zero(),
            queue_high_water: zero(),
            inflight_high_water: zero(),
            resent: zero(),
            takeovers: zero(),
            keepalive_timeouts: zero(),
            protocol_errors: zero(),
            connection_panics: zero(),
        }
    }

    /// Counts an accepted CONNECT at `now`.
    pub(crate) fn connected(&self, now: Instant) {
        bump(&self.connects);
        let open = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        self.connections_peak.fetch_max(open, Ordering::Relaxed);
        let second = now.saturating_duration_since(self.started).as_secs();
        let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        rate.roll(second);
        rate.count += 1;
        rate.peak = rate.peak.max(rate.count);
    }

    /// Counts a connection that was open and has closed.
    pub(crate) fn disconnected(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// The snapshot at `now`.
    pub(crate) fn snapshot(&self, now: Instant) -> BrokerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (last, peak) = {
            let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
            rate.roll(now.saturating_duration_since(self.started).as_secs());
            (rate.last, rate.peak)
        };
        BrokerStats {
            connections: get(&self.connections),
            connections_peak: get(&self.connections_peak),
            connects: get(&self.connects),
            connects_refused: get(&self.connects_refused),
            connects_last_second: last,
            connects_per_second_peak: peak,
            sessions: get(&self.sessions),
            subscriptions: get(&self.subscriptions),
            messages_in: self.messages_in.each_ref().map(get),
            messages_out: self.messages_out.each_ref().map(get),
            unrouted: get(&self.unrouted),
            dropped_qos0: get(&self.dropped_qos0),
            dropped_offline: get(&self.dropped_offline),
            backpressure_waits: get(&self.backpressure_waits),
            queue_high_water: get(&self.queue_high_water),
            inflight_high_water: get(&self.inflight_high_water),
            resent: get(&self.resent),
            takeovers: get(&self.takeovers),
            keepalive_timeouts: get(&self.keepalive_timeouts),
            protocol_errors: get(&self.protocol_errors),
            connection_panics: get(&self.connection_panics),
        }
    }
}

impl ConnectRate {
    /// Moves the window to `second`.
    fn roll(&mut self, second: u64) {
        if second == self.second {
            return;
        }
        self.last = if second == self.second + 1 {
            self.count
        } else {
            0
        };
        self.second = second;
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_connects_per_second() {
        let t0 = Instant::now();
        let c = Counters::new(t0);
        for _ in 0..3 {
            c.connected(t0);
        }
        c.connected(t0 + Duration::from_millis(1_500));
        c.disconnected();
        let s = c.snapshot(t0 + Duration::from_millis(1_600));
        assert_eq!((s.connects, s.connections, s.connections_peak), (4, 3, 4));
        assert_eq!((s.connects_last_second, s.connects_per_second_peak), (3, 3));
        let s = c.snapshot(t0 + Duration::from_secs(5));
        assert_eq!((s.connects_last_second, s.connects_per_second_peak), (0, 3));
    }
}
