//! One timer for the timeouts of every in-flight request: a table of deadlines swept by one
//! task, instead of a tokio timer registered and cancelled per request.
//!
//! Deadlines count the sweeper's ticks ([`TICK`] apart, each a sleep of its own, so a tick
//! never comes early). A request registers its deadline in a slot, and the sweeper marks
//! overdue slots expired and wakes their tasks; [`Watchdog::run`] then gives up the request.
//! A timeout therefore fires between `timeout` and `timeout + TICK` after the request
//! started (later only if the runtime is itself late), never before. When nothing is in
//! flight the sweeper sleeps until the next registration, so an idle client costs no
//! wake-ups.

use std::future::{Future, poll_fn};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::sync::Notify;

/// The sweeper's period: a timeout's resolution.
pub const TICK: Duration = Duration::from_millis(10);

/// One registered deadline.
#[derive(Debug, Default)]
struct Slot {
    /// Tick at or after which the request is overdue.
    deadline: u64,
    /// The task to wake when it is.
    waker: Option<Waker>,
    /// The sweeper found it overdue.
    expired: bool,
    /// In use (free slots are listed in `Table::free`).
    live: bool,
}

#[derive(Debug, Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
}

/// The deadlines of a client's in-flight requests; see the module documentation.
#[derive(Debug, Default)]
pub struct Watchdog {
    table: Mutex<Table>,
    /// Ticks the sweeper has counted while something was in flight.
    tick: AtomicU64,
    /// Wakes an idle sweeper when a first request registers.
    busy: Notify,
}

impl Watchdog {
    /// A watchdog and its sweeper task, which ends when the watchdog is dropped. Must be
    /// called within a tokio runtime.
    pub fn start() -> Arc<Self> {
        let watchdog = Arc::new(Watchdog::default());
        tokio::spawn(sweep(Arc::downgrade(&watchdog)));
        watchdog
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic under this lock can only come from a bug here; the table stays usable.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `future` for at most `timeout` (see the module documentation for the
    /// resolution); `None` if it did not finish in time (it is then dropped, unfinished).
    pub async fn run<F: Future>(&self, timeout: Duration, future: F) -> Option<F::Output> {
        let slot = Registration::new(self, timeout);
        let mut future = std::pin::pin!(future);
        poll_fn(|cx| {
            if let Poll::Ready(out) = future.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            let mut table = self.table();
            match table.slots.get_mut(slot.index) {
                Some(s) if s.expired => Poll::Ready(None),
                Some(s) => {
                    if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        s.waker = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
                None => Poll::Pending,
            }
        })
        .await
    }

    /// Requests being watched now.
    pub fn in_flight(&self) -> usize {
        self.table().live
    }

    /// Counts a tick, marks every slot due by it expired and wakes its task; returns how many
    /// are live. The tick moves under the table's lock, so a registration sees either the
    /// tick before or after this sweep, never a mix.
    fn expire(&self) -> usize {
        let mut table = self.table();
        let tick = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
        for slot in table.slots.iter_mut() {
            if slot.live && !slot.expired && slot.deadline <= tick {
                slot.expired = true;
                if let Some(w) = slot.waker.take() {
                    w.wake();
                }
            }
        }
        table.live
    }
}

/// A slot held for one request; freed when the request ends either way.
struct Registration<'a> {
    watchdog: &'a Watchdog,
    index: usize,
}

impl<'a> Registration<'a> {
    fn new(watchdog: &'a Watchdog, timeout: Duration) -> Self {
        // Round up, and add one tick: the current tick is already partly over.
        let ticks = timeout.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1;
        let mut table = watchdog.table();
        let deadline = watchdog.tick.load(Ordering::Relaxed) + ticks;
        let slot = Slot {
            deadline,
            waker: None,
            expired: false,
            live: true,
        };
        let index = match table.free.pop() {
            Some(i) => {
                if let Some(s) = table.slots.get_mut(i) {
                    *s = slot;
                }
                i
            }
            None => {
                table.slots.push(slot);
                table.slots.len() - 1
            }
        };
        table.live += 1;
        let first = table.live == 1;
        drop(table);
        if first {
            watchdog.busy.notify_one();
        }
        Registration { watchdog, index }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut table = self.watchdog.table();
        if let Some(s) = table.slots.get_mut(self.index) {
            *s = Slot::default();
            table.free.push(self.index);
            table.live -= 1;
        }
    }
}

/// The sweeper: one tick per [`TICK`] while requests are in flight, asleep otherwise.
async fn sweep(watchdog: Weak<Watchdog>) {
    loop {
        let busy = {
            let Some(w) = watchdog.upgrade() else { return };
            w.expire() > 0
        };
        if busy {
            tokio::time::sleep(TICK).await;
            continue;
        }
        // Idle: wait for a registration, checking now and then whether the client is gone.
        let Some(w) = watchdog.upgrade() else { return };
        let _ = tokio::time::timeout(Duration::from_secs(1), w.busy.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_slow_future_times_out_after_its_timeout_and_not_before() {
        let w = Watchdog::start();
        let start = tokio::time::Instant::now();
        let out = w
            .run(Duration::from_millis(100), std::future::pending::<()>())
            .await;
        let took = start.elapsed();
        assert_eq!(out, None);
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took <= Duration::from_millis(100) + 3 * TICK, "{took:?}");
        assert_eq!(w.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_future_finishes_and_frees_its_slot() {
        let w = Watchdog::start();
        let out = w
            .run(Duration::from_secs(1), async {
                tokio::time::sleep(Duration::from_millis(30)).await;
                7
            })
            .await;
        assert_eq!(out, Some(7));
        assert_eq!(w.in_flight(), 0);
        // Slots are reused: many sequential requests keep the table at one slot.
        for i in 0..100 {
            assert_eq!(w.run(Duration::from_secs(1), async { i }).await, Some(i));
        }
        assert_eq!(w.table().slots.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_expire_independently() {
        let w = Watchdog::start();
        let short = w.run(Duration::from_millis(50), std::future::pending::<()>());
        let long = w.run(Duration::from_millis(500), async {
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let (a, b) = tokio::join!(short, long);
        assert_eq!((a, b), (None, Some(())));
        assert_eq!(w.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_sweeper_wakes_for_a_new_request() {
        let w = Watchdog::start();
        // Long idle: the sweeper is parked; a timeout must still fire, and not early.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let start = tokio::time::Instant::now();
        let out = w
            .run(Duration::from_millis(40), std::future::pending::<()>())
            .await;
        assert_eq!(out, None);
        assert!(start.elapsed() >= Duration::from_millis(40));
    }
}
