//! The hand-over between the simulation thread and the screen thread.
//!
//! The screen thread owns the terminal and calls [`UiEnd::feed`] from the `tick` of
//! [`super::terminal::run_loop`]; the simulation thread calls [`SimEnd::poll_commands`]
//! and, when [`SimEnd::wants_model`] says the last snapshot was taken, builds a new one
//! and [`SimEnd::publish`]es it. Neither side ever waits for the other beyond a mutex
//! swap of one snapshot, and the simulation builds at most one snapshot per drawn frame.

use super::app::UiCommand;
use super::model::{ConnectorQuery, DashboardModel};
use super::terminal::Feed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};

/// The snapshot slot both ends share.
#[derive(Debug, Default)]
struct Slot {
    model: Mutex<Option<DashboardModel>>,
    /// The screen took the last snapshot and would draw a new one.
    wanted: AtomicBool,
    /// The simulation has ended (or its end was dropped).
    finished: AtomicBool,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Option<DashboardModel>> {
        // A panic on the other thread while holding the lock leaves a whole snapshot or
        // none: either is safe to use.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connected pair of ends.
pub fn bridge() -> (SimEnd, UiEnd) {
    let slot = Arc::new(Slot::default());
    slot.wanted.store(true, Ordering::SeqCst);
    let (tx, rx) = channel();
    (
        SimEnd {
            slot: Arc::clone(&slot),
            commands: rx,
            query: ConnectorQuery::default(),
            selected: None,
        },
        UiEnd { slot, commands: tx },
    )
}

/// The simulation thread's end.
#[derive(Debug)]
pub struct SimEnd {
    slot: Arc<Slot>,
    commands: Receiver<UiCommand>,
    query: ConnectorQuery,
    selected: Option<u32>,
}

impl SimEnd {
    /// Commands the user gave since the last call, oldest first. The connector window and
    /// selection are also remembered ([`Self::query`], [`Self::selected`]).
    pub fn poll_commands(&mut self) -> Vec<UiCommand> {
        let commands: Vec<UiCommand> = self.commands.try_iter().collect();
        for c in &commands {
            match c {
                UiCommand::ConnectorWindow(q) => self.query = q.clone(),
                UiCommand::SelectConnector(id) => self.selected = *id,
                _ => {}
            }
        }
        commands
    }

    /// The connector rows the screen last asked for.
    pub fn query(&self) -> &ConnectorQuery {
        &self.query
    }

    /// The connector whose detail the screen shows, if any.
    pub fn selected(&self) -> Option<u32> {
        self.selected
    }

    /// Whether the screen has taken the last snapshot (build a new one only then).
    pub fn wants_model(&self) -> bool {
        self.slot.wanted.load(Ordering::SeqCst)
    }

    /// Offers a snapshot, replacing one the screen has not taken yet.
    pub fn publish(&self, model: DashboardModel) {
        *self.slot.lock() = Some(model);
        self.slot.wanted.store(false, Ordering::SeqCst);
    }

    /// Tells the screen the run has ended (also done on drop).
    pub fn finish(&self) {
        self.slot.finished.store(true, Ordering::SeqCst);
    }
}

impl Drop for SimEnd {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The screen thread's end.
#[derive(Debug)]
pub struct UiEnd {
    slot: Arc<Slot>,
    commands: Sender<UiCommand>,
}

impl UiEnd {
    /// Sends `commands` and takes the newest snapshot: the `tick` of
    /// [`super::terminal::run_loop`]. After the simulation finished, the last snapshot is
    /// still delivered before [`Feed::Finished`].
    pub fn feed(&self, commands: &[UiCommand]) -> Feed {
        for c in commands {
            // A simulation that has gone away needs no commands.
            let _ = self.commands.send(c.clone());
        }
        let taken = self.slot.lock().take();
        match taken {
            Some(model) => {
                self.slot.wanted.store(true, Ordering::SeqCst);
                Feed::Model(Box::new(model))
            }
            None if self.slot.finished.load(Ordering::SeqCst) => Feed::Finished,
            None => Feed::Unchanged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_commands_cross_without_waiting() {
        let (mut sim, ui) = bridge();
        assert!(sim.wants_model());
        assert_eq!(ui.feed(&[]), Feed::Unchanged);
        let model = DashboardModel {
            sim_now_s: 1.0,
            ..DashboardModel::default()
        };
        sim.publish(model.clone());
        assert!(!sim.wants_model());
        let q = ConnectorQuery {
            len: 5,
            ..ConnectorQuery::default()
        };
        let sent = [
            UiCommand::TogglePause,
            UiCommand::ConnectorWindow(q.clone()),
            UiCommand::SelectConnector(Some(7)),
        ];
        assert_eq!(ui.feed(&sent), Feed::Model(Box::new(model)));
        assert!(sim.wants_model());
        assert_eq!(sim.poll_commands(), sent.to_vec());
        assert_eq!(sim.query(), &q);
        assert_eq!(sim.selected(), Some(7));
        assert!(sim.poll_commands().is_empty());
    }

    #[test]
    fn the_last_snapshot_comes_before_finished() {
        let (sim, ui) = bridge();
        sim.publish(DashboardModel::default());
        drop(sim);
        assert!(matches!(ui.feed(&[UiCommand::Quit]), Feed::Model(_)));
        assert_eq!(ui.feed(&[]), Feed::Finished);
    }
}
