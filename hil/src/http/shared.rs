//! A machine shared between the HTTP server, the client tasks and the driver.

use std::sync::{Mutex, MutexGuard};

use sim_core::metrics::Metrics;
use sim_core::time::Instant;
use tokio::sync::Notify;

use super::clock::WallClock;

/// A machine and its metrics.
#[derive(Debug)]
pub struct Inner<M> {
    /// The sans-IO machine.
    pub machine: M,
    /// Its metrics (the machine records latency and errors here).
    pub metrics: Metrics,
}

/// A machine behind a mutex, its clock, and the signal that wakes its driver.
///
/// Every call into the machine goes through [`Shared::with`], which passes the current
/// virtual time and wakes the driver afterwards so that requests the call produced are sent
/// and a changed timer is re-armed. Calls are short (no I/O under the lock).
#[derive(Debug)]
pub struct Shared<M> {
    inner: Mutex<Inner<M>>,
    wake: Notify,
    clock: WallClock,
}

impl<M> Shared<M> {
    /// Wraps `machine` driven by `clock`.
    pub fn new(machine: M, clock: WallClock) -> Self {
        Shared {
            inner: Mutex::new(Inner {
                machine,
                metrics: Metrics::new(),
            }),
            wake: Notify::new(),
            clock,
        }
    }

    /// The clock.
    pub fn clock(&self) -> &WallClock {
        &self.clock
    }

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Locks the machine (a poisoned lock is recovered: the machine never panics on input, so
    /// poisoning can only come from a bug in a caller's closure).
    pub fn lock(&self) -> MutexGuard<'_, Inner<M>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls `f` with the machine, its metrics and the current virtual time, then wakes the
    /// driver.
    pub fn with<R>(&self, f: impl FnOnce(&mut M, &mut Metrics, Instant) -> R) -> R {
        let result = {
            let mut guard = self.lock();
            let now = self.clock.now();
            let Inner { machine, metrics } = &mut *guard;
            f(machine, metrics, now)
        };
        self.wake.notify_one();
        result
    }

    /// Calls `f` like [`Shared::with`] without waking the driver: for a caller that sends
    /// the requests `f` produced itself and wakes the driver when a timer moved forward.
    pub fn with_quiet<R>(&self, f: impl FnOnce(&mut M, &mut Metrics, Instant) -> R) -> R {
        let mut guard = self.lock();
        let now = self.clock.now();
        let Inner { machine, metrics } = &mut *guard;
        f(machine, metrics, now)
    }

    /// Wakes the driver.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Shared::wake`] (a wake-up that came earlier is not lost).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// A served operator platform as the fleet engine's handle to it.
#[derive(Debug, Clone)]
pub struct SharedOperator(pub std::sync::Arc<Shared<sim_core::tcec::operator::OperatorPlatform>>);

impl sim_core::fleet::ExternalOperator for SharedOperator {
    fn with(
        &self,
        f: &mut dyn FnMut(&mut sim_core::tcec::operator::OperatorPlatform, &mut Metrics, Instant),
    ) {
        self.0
            .with(|machine, metrics, now| f(machine, metrics, now));
    }
}
