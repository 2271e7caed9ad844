//! The local ID-card cache (seed 离线鉴权, OCPP 1.6 local list + authorization cache).
//!
//! Two ways fill it (seed): every online AuthorizeConf (and Start/StopTransactionConf) refreshes
//! the card it answered, and UpdateIdCardCacheReq replaces or edits it by list version. While
//! offline, a card is accepted if the cache holds it as ACCEPTED and not expired.

use std::collections::BTreeMap;

use proto::mqtt::pb;

/// The cache: card number to its authorization data.
#[derive(Debug, Clone, Default)]
pub struct CardCache {
    cards: BTreeMap<String, pb::IdTagInfo>,
    list_version: u32,
    capacity: usize,
}

impl CardCache {
    /// An empty cache holding at most `capacity` cards.
    pub fn new(capacity: usize) -> Self {
        CardCache {
            cards: BTreeMap::new(),
            list_version: 0,
            capacity,
        }
    }

    /// The list version last installed by UpdateIdCardCacheReq.
    pub fn list_version(&self) -> u32 {
        self.list_version
    }

    /// Cards cached.
    pub fn len(&self) -> usize {
        self.cards.len()
    }

    /// Whether no card is cached.
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }

    /// Whether `id_tag` may charge offline at `now_unix_s`.
    pub fn accepts(&self, id_tag: &str, now_unix_s: i64) -> bool {
        self.cards.get(id_tag).is_some_and(|info| {
            info.status() == pb::AuthorizationStatus::Accepted
                && (info.expiry_unix_s == 0 || info.expiry_unix_s > now_unix_s)
        })
    }

    /// Refreshes one card from an online answer (seed: "每次用户刷卡时...更新"). A full cache
    /// keeps its cards and does not learn new ones.
    pub fn learn(&mut self, id_tag: &str, info: &pb::IdTagInfo) {
        if let Some(slot) = self.cards.get_mut(id_tag) {
            *slot = info.clone();
        } else if self.cards.len() < self.capacity {
            self.cards.insert(id_tag.to_owned(), info.clone());
        }
    }

    /// Applies UpdateIdCardCacheReq (OCPP SendLocalList semantics).
    pub fn update(&mut self, req: &pb::UpdateIdCardCacheReq) -> pb::CacheUpdateStatus {
        use pb::CacheUpdateStatus as S;
        match req.update_type() {
            pb::CacheUpdateType::Full => {
                let mut cards = BTreeMap::new();
                for e in &req.entries {
                    if e.action() != pb::CacheEntryAction::Delete {
                        cards.insert(e.id_tag.clone(), e.id_tag_info.clone().unwrap_or_default());
                    }
                }
                if cards.len() > self.capacity {
                    return S::Failed;
                }
                self.cards = cards;
            }
            pb::CacheUpdateType::Differential => {
                if req.list_version <= self.list_version {
                    return S::VersionMismatch;
                }
                let added = req
                    .entries
                    .iter()
                    .filter(|e| e.action() != pb::CacheEntryAction::Delete)
                    .filter(|e| !self.cards.contains_key(&e.id_tag))
                    .count();
                if self.cards.len() + added > self.capacity {
                    return S::Failed;
                }
                for e in &req.entries {
                    match e.action() {
                        pb::CacheEntryAction::Delete => {
                            self.cards.remove(&e.id_tag);
                        }
                        _ => {
                            self.cards.insert(
                                e.id_tag.clone(),
                                e.id_tag_info.clone().unwrap_or_default(),
                            );
                        }
                    }
                }
            }
            pb::CacheUpdateType::Unspecified => return S::Failed,
        }
        self.list_version = req.list_version;
        S::Accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        tag: &str,
        action: pb::CacheEntryAction,
        status: pb::AuthorizationStatus,
    ) -> pb::IdCardEntry {
        pb::IdCardEntry {
            id_tag: tag.into(),
            action: action as i32,
            id_tag_info: Some(pb::IdTagInfo {
                status: status as i32,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn full_then_differential_updates() {
        use pb::AuthorizationStatus::*;
        use pb::CacheEntryAction::*;
        let mut cache = CardCache::new(3);
        let full = pb::UpdateIdCardCacheReq {
            list_version: 1,
            update_type: pb::CacheUpdateType::Full as i32,
            entries: vec![entry("A", Add, Accepted), entry("B", Add, Blocked)],
        };
        assert_eq!(cache.update(&full), pb::CacheUpdateStatus::Accepted);
        assert!(cache.accepts("A", 0));
        assert!(!cache.accepts("B", 0));
        let stale = pb::UpdateIdCardCacheReq {
            update_type: pb::CacheUpdateType::Differential as i32,
            ..full.clone()
        };
        assert_eq!(cache.update(&stale), pb::CacheUpdateStatus::VersionMismatch);
        let diff = pb::UpdateIdCardCacheReq {
            list_version: 2,
            update_type: pb::CacheUpdateType::Differential as i32,
            entries: vec![entry("A", Delete, Accepted), entry("C", Add, Accepted)],
        };
        assert_eq!(cache.update(&diff), pb::CacheUpdateStatus::Accepted);
        assert!(!cache.accepts("A", 0));
        assert!(cache.accepts("C", 0));
        assert_eq!((cache.list_version(), cache.len()), (2, 2));
        let too_many = pb::UpdateIdCardCacheReq {
            list_version: 3,
            update_type: pb::CacheUpdateType::Differential as i32,
            entries: vec![entry("D", Add, Accepted), entry("E", Add, Accepted)],
        };
        assert_eq!(cache.update(&too_many), pb::CacheUpdateStatus::Failed);
    }

    #[test]
    fn expired_cards_are_refused_offline() {
        let mut cache = CardCache::new(10);
        cache.learn(
            "X",
            &pb::IdTagInfo {
                status: pb::AuthorizationStatus::Accepted as i32,
                expiry_unix_s: 100,
                ..Default::default()
            },
        );
        assert!(cache.accepts("X", 99));
        assert!(!cache.accepts("X", 100));
    }
}
