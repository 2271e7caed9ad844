//! The backend's requests waiting for their confirmation, indexed by charger and seq (a
//! confirmation finds its request in O(log n)) and queued by deadline (expiry and the next
//! timeout look at the front only). A command load of thousands of requests per second
//! keeps tens of thousands outstanding; a linear scan per confirmation and per timer call
//! made the backend itself the bottleneck.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use proto::mqtt::{MessageCode, Seq};

use super::Pending;
use crate::time::Instant;

/// The requests sharing one (charger, seq), each with its serial number.
type SameSeq = Vec<(u64, Pending)>;

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct PendingRequests {
    /// (charger, seq) → the requests with that seq (usually one: a charger's own
    /// SetTariffReq seq may coincide with one of the backend's).
    by_key: BTreeMap<(Arc<str>, Seq), SameSeq>,
    /// (deadline, charger, seq, serial) in insertion order. Deadlines are `now` plus the
    /// fixed response timeout, so insertion order is deadline order; entries whose request
    /// was answered are dropped lazily.
    deadlines: VecDeque<(Instant, Arc<str>, Seq, u64)>,
    next_serial: u64,
}

impl PendingRequests {
    /// Adds a request.
    pub(super) fn push(&mut self, p: Pending) {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.deadlines
            .push_back((p.deadline, p.charger.clone(), p.seq, serial));
        self.by_key
            .entry((p.charger.clone(), p.seq))
            .or_default()
            .push((serial, p));
    }

    /// The earliest deadline (the front of the queue; an answered request's deadline may
    /// stand in for the next one's until the queue is trimmed, which only wakes the timer
    /// early).
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|d| d.0)
    }

    /// The request of `charger` with `seq` that `conf` confirms, else any with that seq.
    pub(super) fn find(&self, charger: &Arc<str>, seq: Seq, conf: MessageCode) -> Option<&Pending> {
        let list = self.by_key.get(&(charger.clone(), seq))?;
        list.iter()
            .find(|(_, p)| conf == MessageCode::MessageError || p.code.conf_of() == Some(conf))
            .or_else(|| list.first())
            .map(|(_, p)| p)
    }

    /// Removes what [`PendingRequests::find`] returns.
    pub(super) fn take(
        &mut self,
        charger: &Arc<str>,
        seq: Seq,
        conf: MessageCode,
    ) -> Option<Pending> {
        let key = (charger.clone(), seq);
        let list = self.by_key.get_mut(&key)?;
        let index = list
            .iter()
            .position(|(_, p)| conf == MessageCode::MessageError || p.code.conf_of() == Some(conf))
            .unwrap_or(0);
        if index >= list.len() {
            return None;
        }
        let (_, p) = list.remove(index);
        if list.is_empty() {
            self.by_key.remove(&key);
        }
        self.trim();
        Some(p)
    }

    /// Removes and returns every request whose deadline is at or before `now`.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<Pending> {
        let mut expired = Vec::new();
        while let Some((deadline, charger, seq, serial)) = self.deadlines.front().cloned() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let key = (charger, seq);
            if let Some(list) = self.by_key.get_mut(&key) {
                if let Some(i) = list.iter().position(|(s, _)| *s == serial) {
                    expired.push(list.remove(i).1);
                }
                if list.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
        self.trim();
        expired
    }

    /// Drops answered requests from the front of the deadline queue.
    fn trim(&mut self) {
        while let Some((_, charger, seq, serial)) = self.deadlines.front() {
            let live = self
                .by_key
                .get(&(charger.clone(), *seq))
                .is_some_and(|l| l.iter().any(|(s, _)| s == serial));
            if live {
                break;
            }
            self.deadlines.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn req(charger: &Arc<str>, seq: Seq, code: MessageCode, at_ms: u64) -> Pending {
        let at = Instant::ZERO + Duration::from_millis(at_ms);
        Pending {
            charger: charger.clone(),
            seq,
            code,
            intended: at,
            sent: at,
            deadline: at + Duration::from_secs(30),
        }
    }

    #[test]
    fn confirmations_find_their_request_and_expiry_takes_only_the_unanswered() {
        let a: Arc<str> = Arc::from("A");
        let b: Arc<str> = Arc::from("B");
        let mut p = PendingRequests::default();
        p.push(req(&a, 1, MessageCode::GetConfigurationReq, 0));
        // The charger's own SetTariffReq seq coincides with the backend's seq 1.
        p.push(req(&a, 1, MessageCode::SetTariffReq, 1));
        p.push(req(&b, 1, MessageCode::GetConfigurationReq, 2));
        p.push(req(&a, 2, MessageCode::GetConfigurationReq, 3));
        let t0 = Instant::ZERO + Duration::from_secs(30);
        assert_eq!(p.next_deadline(), Some(t0));
        // The conf type picks the right one of the two seq-1 requests of A.
        let got = p.take(&a, 1, MessageCode::SetTariffConf).unwrap();
        assert_eq!(got.code, MessageCode::SetTariffReq);
        assert!(p.find(&a, 9, MessageCode::GetConfigurationConf).is_none());
        let got = p.take(&a, 1, MessageCode::GetConfigurationConf).unwrap();
        assert_eq!(got.code, MessageCode::GetConfigurationReq);
        // Both answered requests left the front of the deadline queue.
        assert_eq!(p.next_deadline(), Some(t0 + Duration::from_millis(2)));
        // Expiry at B's deadline takes B only; A's seq 2 expires a millisecond later.
        let expired = p.expire(t0 + Duration::from_millis(2));
        assert_eq!(expired.len(), 1);
        assert_eq!(&*expired[0].charger, "B");
        let expired = p.expire(t0 + Duration::from_secs(1));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].seq, 2);
        assert_eq!(p.next_deadline(), None);
        assert!(p.take(&a, 2, MessageCode::GetConfigurationConf).is_none());
    }
}
