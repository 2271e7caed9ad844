//! The backend's ledger: every transaction whose end it confirmed, exactly once per
//! (charger, transaction id). A second report of the same transaction (a re-sent
//! StopTransactionReq, the same order uploaded again as an offline order) is counted as a
//! duplicate and answered, never booked twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use proto::mqtt::pb;

/// One booked transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// The charger's device id.
    pub charger: Arc<str>,
    /// The backend's transaction id.
    pub transaction_id: u32,
    /// The charger's record number.
    pub record_id: u32,
    /// The connector.
    pub connector: u32,
    /// Who charged.
    pub id_tag: String,
    /// Meter register at start.
    pub meter_start_wh: u64,
    /// Meter register at stop.
    pub meter_stop_wh: u64,
    /// Start, Unix seconds.
    pub start_unix_s: i64,
    /// Stop, Unix seconds.
    pub stop_unix_s: i64,
    /// Why it stopped.
    pub reason: pb::StopReason,
    /// The charger's bill.
    pub cost: pb::CostDetail,
    /// Reported as an offline order (TransactionReq) rather than StopTransactionReq.
    pub offline_order: bool,
    /// Started offline (authorized from the card cache).
    pub offline_start: bool,
    /// The backend order of a remote start, if any.
    pub order_id: String,
}

impl LedgerEntry {
    /// Energy delivered.
    pub fn energy_wh(&self) -> u64 {
        self.meter_stop_wh.saturating_sub(self.meter_start_wh)
    }
}

/// The ledger.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: BTreeMap<(Arc<str>, u32), LedgerEntry>,
    duplicates: u64,
}

impl Ledger {
    /// Books `entry` unless its (charger, transaction id) is already booked; returns whether
    /// it was new. A repeat is counted in [`Self::duplicates`].
    pub fn book(&mut self, entry: LedgerEntry) -> bool {
        let key = (entry.charger.clone(), entry.transaction_id);
        if self.entries.contains_key(&key) {
            self.duplicates += 1;
            return false;
        }
        self.entries.insert(key, entry);
        true
    }

    /// Transactions booked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is booked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reports of an already booked transaction (answered, not booked).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The entry of `transaction_id` of `charger`.
    pub fn get(&self, charger: &str, transaction_id: u32) -> Option<&LedgerEntry> {
        self.entries.get(&(Arc::from(charger), transaction_id))
    }

    /// Every entry, ordered by charger and transaction id.
    pub fn entries(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.entries.values()
    }

    /// The entries of one charger, by record id order of booking key.
    pub fn of_charger<'a>(&'a self, charger: &'a str) -> impl Iterator<Item = &'a LedgerEntry> {
        self.entries
            .values()
            .filter(move |e| &*e.charger == charger)
    }

    /// Whether `charger`'s record `record_id` is booked.
    pub fn has_record(&self, charger: &str, record_id: u32) -> bool {
        self.of_charger(charger).any(|e| e.record_id == record_id)
    }

    /// Total energy of every booked transaction.
    pub fn total_energy_wh(&self) -> u64 {
        self.entries.values().map(LedgerEntry::energy_wh).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(charger: &str, tx: u32) -> LedgerEntry {
        LedgerEntry {
            charger: Arc::from(charger),
            transaction_id: tx,
            record_id: tx,
            connector: 1,
            id_tag: "T".into(),
            meter_start_wh: 100,
            meter_stop_wh: 350,
            start_unix_s: 0,
            stop_unix_s: 10,
            reason: pb::StopReason::Local,
            cost: pb::CostDetail::default(),
            offline_order: false,
            offline_start: false,
            order_id: String::new(),
        }
    }

    #[test]
    fn books_once_per_charger_and_transaction() {
        let mut ledger = Ledger::default();
        assert!(ledger.book(entry("A", 1)));
        assert!(!ledger.book(entry("A", 1)));
        assert!(ledger.book(entry("B", 1)));
        assert_eq!((ledger.len(), ledger.duplicates()), (2, 1));
        assert_eq!(ledger.total_energy_wh(), 500);
        assert!(ledger.has_record("A", 1));
        assert!(ledger.get("B", 1).is_some());
    }
}
