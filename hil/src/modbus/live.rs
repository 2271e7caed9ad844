//! The latest reading of a meter, shared between the thread that produces it and the tasks
//! that serve or consume it.

use proto::modbus::MeterReading;
use std::sync::Arc;
use tokio::sync::watch;

/// A meter reading that one side publishes and any number of others read at any time.
///
/// Publishing replaces the value in O(1) and never waits for readers; readers see the latest
/// value, not a queue. The simulation publishes once per tick from any thread (no runtime is
/// needed); the emulator reads the value at the moment a request arrives, so the registers
/// always show the physics as of the last tick. Clones share the value.
#[derive(Debug, Clone)]
pub struct LiveReading {
    tx: Arc<watch::Sender<MeterReading>>,
}

impl LiveReading {
    /// A shared reading that starts at `initial`.
    pub fn new(initial: MeterReading) -> Self {
        let (tx, _) = watch::channel(initial);
        Self { tx: Arc::new(tx) }
    }

    /// Replace the reading.
    pub fn publish(&self, reading: MeterReading) {
        self.tx.send_replace(reading);
    }

    /// The latest reading.
    pub fn latest(&self) -> MeterReading {
        *self.tx.borrow()
    }

    /// A receiver that is notified of every later publication.
    pub fn subscribe(&self) -> watch::Receiver<MeterReading> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::modbus::{DcReading, MeterKind};

    #[test]
    fn publish_replaces_for_every_clone() {
        let live = LiveReading::new(MeterReading::zero(MeterKind::Dc));
        let other = live.clone();
        let mut rx = live.subscribe();
        let reading = MeterReading::Dc(DcReading {
            voltage_v: 400.0,
            ..DcReading::default()
        });
        other.publish(reading);
        assert_eq!(live.latest(), reading);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), reading);
    }
}
