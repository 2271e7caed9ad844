//! A task that reads a meter at a period and publishes the latest reading, for feeding a real
//! meter's measurements into a connector's model (convert them with
//! [`to_sim`](crate::modbus::convert::to_sim)).

use super::{ClientStats, Counters, MeterClient};
use proto::modbus::MeterReading;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// One successful poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polled {
    /// The decoded reading.
    pub reading: MeterReading,
    /// 1 for the first successful poll, then counting up.
    pub seq: u64,
    /// When the poll finished.
    pub at: Instant,
}

#[derive(Debug, Default)]
struct PollState {
    last_error: Mutex<Option<String>>,
    consecutive_failures: AtomicU64,
}

/// A running poller. Dropping it stops the poller.
#[derive(Debug)]
pub struct PollerHandle {
    rx: watch::Receiver<Option<Polled>>,
    stats: Arc<Counters>,
    state: Arc<PollState>,
    task: JoinHandle<()>,
}

/// Poll `client` every `period` (a poll that overruns delays the next one rather than
/// bunching them) and publish each reading. Must be called inside a tokio runtime.
pub fn spawn_poller(mut client: MeterClient, period: Duration) -> PollerHandle {
    let (tx, rx) = watch::channel(None);
    let stats = client.counters();
    let state = Arc::new(PollState::default());
    let shared = Arc::clone(&state);
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut seq = 0;
        loop {
            ticks.tick().await;
            match client.read_reading().await {
                Ok(reading) => {
                    seq += 1;
                    shared.consecutive_failures.store(0, Ordering::Relaxed);
                    tx.send_replace(Some(Polled {
                        reading,
                        seq,
                        at: Instant::now(),
                    }));
                }
                Err(error) => {
                    shared.consecutive_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%error, "meter poll failed");
                    *shared
                        .last_error
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
                }
            }
        }
    });
    PollerHandle {
        rx,
        stats,
        state,
        task,
    }
}

impl PollerHandle {
    /// The latest successful poll, if any.
    pub fn latest(&self) -> Option<Polled> {
        *self.rx.borrow()
    }

    /// A receiver notified after every successful poll.
    pub fn subscribe(&self) -> watch::Receiver<Option<Polled>> {
        self.rx.clone()
    }

    /// The client's counters.
    pub fn stats(&self) -> ClientStats {
        self.stats.snapshot()
    }

    /// The last failure, as text.
    pub fn last_error(&self) -> Option<String> {
        self.state
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Polls failed since the last success (a meter silent for long is a fault: EN+ trips
    /// after 30 s, reference §1.6).
    pub fn consecutive_failures(&self) -> u64 {
        self.state.consecutive_failures.load(Ordering::Relaxed)
    }

    /// Stop polling.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for PollerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
