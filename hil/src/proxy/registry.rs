//! The proxy's shared state: live links, standing fault settings and counters. Every
//! access takes one short lock that is never held across an `.await`.

use super::faults::{Direction, LinkId, Rule, Rules, Target};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::time::Instant;

/// A one-shot way of ending a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kill {
    /// Close both sockets with RST (`SO_LINGER` 0).
    Reset,
    /// Close both sockets with FIN.
    Cut,
}

/// What a link task watches: the setting in force and whether it must end.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkControl {
    /// The setting in force (default: no fault).
    pub rule: Rule,
    /// Set once when the link must be killed.
    pub kill: Option<Kill>,
}

/// Byte counters of one link, updated by its task without taking the registry lock.
#[derive(Debug, Default)]
pub(crate) struct LinkCounters {
    /// Bytes forwarded, per direction.
    pub forwarded: [AtomicU64; 2],
    /// Bytes read but not yet forwarded, per direction.
    pub queued: [AtomicU64; 2],
}

impl LinkCounters {
    pub fn add(counter: &[AtomicU64; 2], direction: Direction, n: u64) {
        counter[direction.index()].fetch_add(n, Ordering::Relaxed);
    }

    pub fn sub(counter: &[AtomicU64; 2], direction: Direction, n: u64) {
        counter[direction.index()].fetch_sub(n, Ordering::Relaxed);
    }

    fn get(counter: &[AtomicU64; 2], direction: Direction) -> u64 {
        counter[direction.index()].load(Ordering::Relaxed)
    }
}

/// The life stage of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Accepted; the connection to the upstream is being made.
    Connecting,
    /// Relaying (possibly with faults).
    Open,
    /// Being closed by a reset, a cut, a refusal or the end of its streams.
    Closing,
}

/// A snapshot of one live link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The link's id.
    pub id: LinkId,
    /// The tag (charger id), once known.
    pub tag: Option<String>,
    /// The client's address as the proxy sees it (its port is the client's local port).
    pub peer: SocketAddr,
    /// Bytes forwarded client → upstream.
    pub bytes_up: u64,
    /// Bytes forwarded upstream → client.
    pub bytes_down: u64,
    /// Bytes read from the client and held (latency, stall, half-open, bandwidth).
    pub queued_up: u64,
    /// Bytes read from the upstream and held.
    pub queued_down: u64,
    /// When the proxy accepted the connection.
    pub opened_at: Instant,
    /// The life stage.
    pub state: LinkState,
}

/// Proxy-wide counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted (including refused ones).
    pub accepted: u64,
    /// Connections reset at once because `refuse_new` applied.
    pub refused: u64,
    /// Connections reset because the upstream could not be reached.
    pub upstream_failures: u64,
    /// Links alive now.
    pub active: u64,
    /// Links that have ended.
    pub closed: u64,
    /// Links ended by an injected reset.
    pub injected_resets: u64,
    /// Links ended by an injected cut.
    pub injected_cuts: u64,
    /// Links ended because one side reset or a write failed (the other side is reset too).
    pub broken: u64,
    /// Bytes forwarded client → upstream, over all links.
    pub bytes_up: u64,
    /// Bytes forwarded upstream → client, over all links.
    pub bytes_down: u64,
}

/// How a link ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Both streams ended normally.
    Closed,
    /// `refuse_new` applied.
    Refused,
    /// The upstream could not be reached.
    UpstreamFailed,
    /// Killed by an injected reset or cut.
    Killed(Kill),
    /// A side reset or a write failed.
    Broken,
}

struct LinkEntry {
    tag: Option<String>,
    peer: SocketAddr,
    opened_at: Instant,
    state: LinkState,
    counters: Arc<LinkCounters>,
    control: watch::Sender<LinkControl>,
}

impl LinkEntry {
    fn info(&self, id: LinkId) -> LinkInfo {
        let c = &self.counters;
        LinkInfo {
            id,
            tag: self.tag.clone(),
            peer: self.peer,
            bytes_up: LinkCounters::get(&c.forwarded, Direction::Up),
            bytes_down: LinkCounters::get(&c.forwarded, Direction::Down),
            queued_up: LinkCounters::get(&c.queued, Direction::Up),
            queued_down: LinkCounters::get(&c.queued, Direction::Down),
            opened_at: self.opened_at,
            state: self.state,
        }
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    links: BTreeMap<LinkId, LinkEntry>,
    rules: Rules,
    stats: ProxyStats,
}

impl State {
    /// Sends every targeted link the setting now in force for it.
    fn push_rules(&self, target: &Target) {
        for (id, link) in &self.links {
            if target.matches(*id, link.tag.as_deref()) {
                let rule = self.rules.resolve(*id, link.tag.as_deref()).cloned();
                link.control
                    .send_modify(|c| c.rule = rule.unwrap_or_default());
            }
        }
    }
}

/// What a newly registered link needs.
pub(crate) struct Registered {
    pub id: LinkId,
    pub control: watch::Receiver<LinkControl>,
    pub counters: Arc<LinkCounters>,
}

/// The shared state.
pub(crate) struct Registry {
    state: Mutex<State>,
    /// Bumped on every change to the set of links or their tags, for waiters.
    changes: watch::Sender<u64>,
}

impl Registry {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            changes: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the maps inconsistent (every update
        // is a single insert, remove or field store), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes whenever links appear, disappear or get tagged.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Adds an accepted connection.
    pub fn register(&self, peer: SocketAddr, tag: Option<String>, now: Instant) -> Registered {
        let mut st = self.lock();
        let id = LinkId(st.next_id);
        st.next_id += 1;
        st.stats.accepted += 1;
        st.stats.active += 1;
        let rule = st.rules.resolve(id, tag.as_deref()).cloned();
        let (control, rx) = watch::channel(LinkControl {
            rule: rule.unwrap_or_default(),
            kill: None,
        });
        let counters = Arc::new(LinkCounters::default());
        st.links.insert(
            id,
            LinkEntry {
                tag,
                peer,
                opened_at: now,
                state: LinkState::Connecting,
                counters: Arc::clone(&counters),
                control,
            },
        );
        drop(st);
        self.bump();
        Registered {
            id,
            control: rx,
            counters,
        }
    }

    /// Tags a live link and sends it the setting now in force. Returns false if the link
    /// is gone.
    pub fn tag(&self, id: LinkId, tag: String) -> bool {
        let mut st = self.lock();
        let Some(link) = st.links.get_mut(&id) else {
            return false;
        };
        link.tag = Some(tag);
        st.push_rules(&Target::Link(id));
        drop(st);
        self.bump();
        true
    }

    /// Records a link's new life stage.
    pub fn set_state(&self, id: LinkId, state: LinkState) {
        if let Some(link) = self.lock().links.get_mut(&id) {
            link.state = state;
        }
    }

    /// Removes a link that ended, folding its counters into the totals.
    pub fn unregister(&self, id: LinkId, ending: Ending) {
        let mut st = self.lock();
        let Some(link) = st.links.remove(&id) else {
            return;
        };
        st.rules.clear(&Target::Link(id));
        let s = &mut st.stats;
        s.active = s.active.saturating_sub(1);
        s.closed += 1;
        s.bytes_up += LinkCounters::get(&link.counters.forwarded, Direction::Up);
        s.bytes_down += LinkCounters::get(&link.counters.forwarded, Direction::Down);
        match ending {
            Ending::Closed => {}
            Ending::Refused => s.refused += 1,
            Ending::UpstreamFailed => s.upstream_failures += 1,
            Ending::Killed(Kill::Reset) => s.injected_resets += 1,
            Ending::Killed(Kill::Cut) => s.injected_cuts += 1,
            Ending::Broken => s.broken += 1,
        }
        drop(st);
        self.bump();
    }

    /// Forgets every link (their tasks were aborted at shutdown).
    pub fn drop_all_links(&self) {
        let ids: Vec<LinkId> = self.lock().links.keys().copied().collect();
        for id in ids {
            self.unregister(id, Ending::Closed);
        }
    }

    /// Stores a setting and sends it to the links it now governs.
    pub fn set_rule(&self, target: &Target, rule: Rule) {
        let mut st = self.lock();
        st.rules.set(target, rule);
        st.push_rules(target);
    }

    /// Removes the setting at `target`'s level and updates the links it governed.
    pub fn clear_rule(&self, target: &Target) {
        let mut st = self.lock();
        st.rules.clear(target);
        st.push_rules(target);
    }

    /// Removes every setting and heals every link.
    pub fn clear_all_rules(&self) {
        let mut st = self.lock();
        st.rules.clear_all();
        st.push_rules(&Target::All);
    }

    /// Tells every targeted live link to die; returns how many were told.
    pub fn kill(&self, target: &Target, kill: Kill) -> usize {
        let st = self.lock();
        let mut n = 0;
        for (id, link) in &st.links {
            if target.matches(*id, link.tag.as_deref()) {
                link.control.send_modify(|c| {
                    c.kill.get_or_insert(kill);
                });
                n += 1;
            }
        }
        n
    }

    /// Snapshots of the live links, by id.
    pub fn links(&self) -> Vec<LinkInfo> {
        let st = self.lock();
        st.links.iter().map(|(id, l)| l.info(*id)).collect()
    }

    /// The totals, including the bytes of links still alive.
    pub fn stats(&self) -> ProxyStats {
        let st = self.lock();
        let mut s = st.stats;
        for link in st.links.values() {
            s.bytes_up += LinkCounters::get(&link.counters.forwarded, Direction::Up);
            s.bytes_down += LinkCounters::get(&link.counters.forwarded, Direction::Down);
        }
        s
    }
}
