//! The event-driven scheduler: one priority queue of deadlines for every entity.
//!
//! Each entity has at most one live deadline (its `poll_timeout`). Re-arming pushes a new
//! heap entry and records it as the live one; stale entries are skipped when they reach
//! the top ("lazy deletion"), so re-arming is `O(log n)` and nothing is searched. The heap
//! is pre-sized; in steady state no event allocates.
//!
//! Order is total and independent of insertion order: `(deadline, key)`. Simultaneous
//! deadlines fire in key order, so a run is reproducible however its events were queued.
//! A heap entry packs `(deadline, kind, index)` into one `u128` whose integer order is that
//! order, so a heap comparison is one wide compare instead of a chain of branches.

use crate::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Who a deadline belongs to. Keys order simultaneous events: kind first, then index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The entity kind (its table).
    pub kind: EntityKind,
    /// The index in that kind's table.
    pub index: u32,
}

/// The kinds of scheduled entities, in the order they fire at equal deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum EntityKind {
    /// The scenario's timeline (faults, load shape changes): fires first.
    Timeline = 0,
    /// The in-memory network: delivers messages due at this time.
    Network = 1,
    /// Server-side peers: the reference backend and platform.
    Server = 2,
    /// A charger (equipment) with its connectors.
    Charger = 3,
    /// Periodic sampling of fleet-wide metrics.
    Sampler = 4,
}

const N_KINDS: usize = 5;

/// The priority queue of entity deadlines.
#[derive(Debug)]
pub struct Scheduler {
    heap: BinaryHeap<Reverse<u128>>,
    /// The live deadline of every entity, per kind, indexed by entity index.
    armed: [Vec<Option<Instant>>; N_KINDS],
    stale_popped: u64,
}

impl Scheduler {
    /// A scheduler with room for `capacity` live deadlines before the heap grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Scheduler {
            heap: BinaryHeap::with_capacity(capacity.saturating_mul(2).max(16)),
            armed: Default::default(),
            stale_popped: 0,
        }
    }

    /// Sets (or clears, with `None`) the deadline of `key`. Re-arming to the same deadline
    /// is free.
    pub fn arm(&mut self, key: Key, deadline: Option<Instant>) {
        let table = &mut self.armed[key.kind as usize];
        let index = key.index as usize;
        if table.len() <= index {
            table.resize(index + 1, None);
        }
        if table[index] == deadline {
            return;
        }
        table[index] = deadline;
        if let Some(at) = deadline {
            self.heap.push(Reverse(pack(at, key)));
        }
    }

    /// The live deadline of `key`.
    pub fn deadline(&self, key: Key) -> Option<Instant> {
        self.armed[key.kind as usize]
            .get(key.index as usize)
            .copied()
            .flatten()
    }

    /// The earliest live deadline, skipping (and discarding) stale entries.
    pub fn peek(&mut self) -> Option<(Instant, Key)> {
        while let Some(&Reverse(entry)) = self.heap.peek() {
            let (at, key) = unpack(entry);
            if self.deadline(key) == Some(at) {
                return Some((at, key));
            }
            self.heap.pop();
            self.stale_popped += 1;
        }
        None
    }

    /// Removes and returns the earliest live deadline if it is at or before `limit`.
    /// The entity is disarmed; the caller re-arms it after handling.
    pub fn pop_due(&mut self, limit: Instant) -> Option<(Instant, Key)> {
        let (at, key) = self.peek()?;
        if at > limit {
            return None;
        }
        self.heap.pop();
        self.armed[key.kind as usize][key.index as usize] = None;
        Some((at, key))
    }

    /// Number of heap entries, live and stale (for diagnostics).
    pub fn queued(&self) -> usize {
        self.heap.len()
    }

    /// How many stale entries were skipped so far (for diagnostics).
    pub fn stale_popped(&self) -> u64 {
        self.stale_popped
    }
}

/// A heap entry: the deadline in the high 64 bits, then the kind, then the index.
fn pack(at: Instant, key: Key) -> u128 {
    (u128::from(at.as_micros()) << 64) | (u128::from(key.kind as u8) << 32) | u128::from(key.index)
}

/// The deadline and key of a heap entry made by [`pack`].
fn unpack(entry: u128) -> (Instant, Key) {
    let kind = match (entry >> 32) as u8 {
        0 => EntityKind::Timeline,
        1 => EntityKind::Network,
        2 => EntityKind::Server,
        3 => EntityKind::Charger,
        _ => EntityKind::Sampler,
    };
    let key = Key {
        kind,
        index: entry as u32,
    };
    (Instant::from_micros((entry >> 64) as u64), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charger(index: u32) -> Key {
        Key {
            kind: EntityKind::Charger,
            index,
        }
    }

    #[test]
    fn pops_in_deadline_then_key_order() {
        let mut s = Scheduler::with_capacity(4);
        s.arm(charger(2), Some(Instant::from_millis(10)));
        s.arm(charger(1), Some(Instant::from_millis(10)));
        s.arm(charger(3), Some(Instant::from_millis(5)));
        let limit = Instant::from_secs(1);
        assert_eq!(
            s.pop_due(limit),
            Some((Instant::from_millis(5), charger(3)))
        );
        assert_eq!(
            s.pop_due(limit),
            Some((Instant::from_millis(10), charger(1)))
        );
        assert_eq!(
            s.pop_due(limit),
            Some((Instant::from_millis(10), charger(2)))
        );
        assert_eq!(s.pop_due(limit), None);
    }

    #[test]
    fn rearming_replaces_the_live_deadline() {
        let mut s = Scheduler::with_capacity(4);
        s.arm(charger(0), Some(Instant::from_millis(10)));
        s.arm(charger(0), Some(Instant::from_millis(30)));
        s.arm(charger(1), Some(Instant::from_millis(20)));
        s.arm(charger(1), None);
        let limit = Instant::from_secs(1);
        assert_eq!(
            s.pop_due(limit),
            Some((Instant::from_millis(30), charger(0)))
        );
        assert_eq!(s.pop_due(limit), None);
        assert_eq!(s.stale_popped(), 2);
    }

    #[test]
    fn packing_keeps_the_order_and_round_trips() {
        let keys = [
            (Instant::from_micros(5), EntityKind::Sampler, 0),
            (Instant::from_micros(5), EntityKind::Timeline, u32::MAX),
            (Instant::from_micros(4), EntityKind::Charger, 7),
            (Instant::from_micros(5), EntityKind::Charger, 3),
            (Instant::from_micros(u64::MAX - 1), EntityKind::Network, 1),
        ];
        for &(a, ka, ia) in &keys {
            let x = Key {
                kind: ka,
                index: ia,
            };
            assert_eq!(unpack(pack(a, x)), (a, x));
            for &(b, kb, ib) in &keys {
                let y = Key {
                    kind: kb,
                    index: ib,
                };
                assert_eq!(pack(a, x).cmp(&pack(b, y)), (a, x).cmp(&(b, y)));
            }
        }
    }

    #[test]
    fn respects_the_limit_and_keeps_later_deadlines() {
        let mut s = Scheduler::with_capacity(4);
        s.arm(charger(0), Some(Instant::from_millis(10)));
        assert_eq!(s.pop_due(Instant::from_millis(9)), None);
        assert_eq!(s.deadline(charger(0)), Some(Instant::from_millis(10)));
        assert!(s.pop_due(Instant::from_millis(10)).is_some());
        assert_eq!(s.deadline(charger(0)), None);
    }
}
