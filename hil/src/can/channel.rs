//! A named in-process CAN segment: a broadcast channel every port sends to and receives
//! from, each port skipping its own frames (CAN has no echo to the sender by default).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proto::can::CanFrame;
use tokio::sync::broadcast;

use super::{CanBus, CanError, wall_clock_us};

/// Frames a slow port may fall behind before it loses the oldest.
const CAPACITY: usize = 4096;

/// A frame on a virtual segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireFrame {
    /// The port that sent it.
    pub origin: u64,
    /// The frame.
    pub frame: CanFrame,
    /// When it was sent, microseconds since the Unix epoch.
    pub timestamp_us: u64,
}

/// A named in-process CAN segment (cheap to clone; clones are the same segment).
#[derive(Debug, Clone)]
pub struct VirtualCan {
    name: Arc<str>,
    tx: broadcast::Sender<WireFrame>,
    next_port: Arc<AtomicU64>,
}

impl VirtualCan {
    /// A new segment called `name` (the socketcand bus name, e.g. `can0`).
    pub fn new(name: &str) -> VirtualCan {
        let (tx, _) = broadcast::channel(CAPACITY);
        VirtualCan {
            name: Arc::from(name),
            tx,
            next_port: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new node on the segment.
    pub fn port(&self) -> VirtualPort {
        VirtualPort {
            id: self.next_port.fetch_add(1, Ordering::Relaxed),
            rx: self.tx.subscribe(),
            can: self.clone(),
            lost: 0,
        }
    }

    /// Every frame on the segment, including each sender's own (for recorders).
    pub fn tap(&self) -> broadcast::Receiver<WireFrame> {
        self.tx.subscribe()
    }

    /// Puts a frame from port `origin` on the segment.
    pub(crate) fn publish(&self, origin: u64, frame: CanFrame) {
        // No receiver is not an error: a bus with one node loses its frames.
        let _ = self.tx.send(WireFrame {
            origin,
            frame,
            timestamp_us: wall_clock_us(),
        });
    }

    /// A fresh port id (for server connections that publish on their own).
    pub(crate) fn allocate_id(&self) -> u64 {
        self.next_port.fetch_add(1, Ordering::Relaxed)
    }
}

/// One node on a [`VirtualCan`].
#[derive(Debug)]
pub struct VirtualPort {
    id: u64,
    rx: broadcast::Receiver<WireFrame>,
    can: VirtualCan,
    lost: u64,
}

impl VirtualPort {
    /// Frames this port lost because it fell more than the channel capacity behind.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The next frame from another node, with its send timestamp.
    pub async fn recv_stamped(&mut self) -> Result<WireFrame, CanError> {
        loop {
            match self.rx.recv().await {
                Ok(w) if w.origin == self.id => continue,
                Ok(w) => return Ok(w),
                Err(broadcast::error::RecvError::Lagged(n)) => self.lost += n,
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(CanError::Closed {
                        what: self.can.name().to_string(),
                    });
                }
            }
        }
    }
}

impl CanBus for VirtualPort {
    async fn send(&mut self, frame: CanFrame) -> Result<(), CanError> {
        self.can.publish(self.id, frame);
        Ok(())
    }

    async fn recv(&mut self) -> Result<CanFrame, CanError> {
        self.recv_stamped().await.map(|w| w.frame)
    }
}
