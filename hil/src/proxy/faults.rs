//! Faults as data: what a link should suffer, which links a setting applies to, and how
//! the settings at the three levels (all links, a tag, one link) combine.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// Which way bytes flow through a proxied link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From the client that connected to the proxy towards the upstream (charger → broker).
    Up,
    /// From the upstream back to the client (broker → charger).
    Down,
}

impl Direction {
    /// Both directions, `Up` first.
    pub const BOTH: [Direction; 2] = [Direction::Up, Direction::Down];

    /// Index into per-direction arrays (`Up` = 0, `Down` = 1).
    pub const fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

/// The identity of one accepted connection, unique for the proxy's lifetime (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u64);

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link#{}", self.0)
    }
}

/// The faults of one direction of a link.
///
/// `latency` is **one-way**: it delays the bytes of this direction only, so a link with
/// the same latency on both directions adds twice that to a request/response round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathFaults {
    /// Added one-way delay of every chunk of bytes read from the sender.
    pub latency: Duration,
    /// Each chunk's delay is drawn uniformly from `latency ± jitter` (clamped at zero) from
    /// the link's seeded stream. A chunk is never released before the one read before it,
    /// so byte order is preserved; the delay then stays inside the same bounds.
    pub jitter: Duration,
    /// Token-bucket rate limit in bytes per second (`None` = unlimited). The bucket holds
    /// 20 ms worth of bytes, so bursts are short.
    pub bandwidth_bytes_per_s: Option<u64>,
    /// Holds every byte for this long, counted from the moment the setting is applied, then
    /// releases them in order. Bytes arriving after the stall ended flow normally.
    pub stall: Option<Duration>,
    /// Stops forwarding in this direction without closing either socket: bytes, and any
    /// end-of-stream or reset that follows them, are held until the fault is cleared (the
    /// classic dead link; nothing is lost, as TCP would retransmit after a heal).
    pub half_open: bool,
}

impl PathFaults {
    /// No fault.
    pub fn none() -> Self {
        Self::default()
    }

    /// Sets the one-way latency.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the jitter (delay = `latency ± jitter`).
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the bandwidth limit in bytes per second.
    pub fn with_bandwidth(mut self, bytes_per_s: u64) -> Self {
        self.bandwidth_bytes_per_s = Some(bytes_per_s);
        self
    }

    /// Sets a stall of `hold`, counted from when the setting is applied.
    pub fn with_stall(mut self, hold: Duration) -> Self {
        self.stall = Some(hold);
        self
    }

    /// Sets or clears the half-open (dead link) fault.
    pub fn with_half_open(mut self, half_open: bool) -> Self {
        self.half_open = half_open;
        self
    }
}

/// Everything a link should suffer, per direction, plus whether new connections are refused.
///
/// Reset and cut are one-shot actions ([`crate::proxy::ProxyHandle::reset`],
/// [`crate::proxy::ProxyHandle::cut`], [`crate::proxy::FaultAction`]), not standing faults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFaults {
    /// Faults of the client → upstream direction.
    pub up: PathFaults,
    /// Faults of the upstream → client direction.
    pub down: PathFaults,
    /// Accept new connections this setting applies to, then reset them at once (after the
    /// accept, or as soon as a sniffed tag makes the setting apply). Live links are untouched.
    pub refuse_new: bool,
}

impl LinkFaults {
    /// No fault.
    pub fn none() -> Self {
        Self::default()
    }

    /// The same faults in both directions.
    pub fn both(path: PathFaults) -> Self {
        Self {
            up: path.clone(),
            down: path,
            refuse_new: false,
        }
    }

    /// Faults on the client → upstream direction only.
    pub fn up(path: PathFaults) -> Self {
        Self {
            up: path,
            ..Self::default()
        }
    }

    /// Faults on the upstream → client direction only.
    pub fn down(path: PathFaults) -> Self {
        Self {
            down: path,
            ..Self::default()
        }
    }

    /// `one_way` latency in both directions: a round trip gets `2 × one_way` longer.
    pub fn latency(one_way: Duration) -> Self {
        Self::both(PathFaults::none().with_latency(one_way))
    }

    /// A dead link: nothing is forwarded either way, both sockets stay open.
    pub fn half_open() -> Self {
        Self::both(PathFaults::none().with_half_open(true))
    }

    /// Refuse (accept, then reset) new connections.
    pub fn refuse_new() -> Self {
        Self {
            refuse_new: true,
            ..Self::default()
        }
    }

    /// The faults of one direction.
    pub fn path(&self, direction: Direction) -> &PathFaults {
        match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        }
    }
}

/// Which links a setting or an action applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// Every link, present and future.
    All,
    /// One link.
    Link(LinkId),
    /// Every link carrying this tag (charger id), present and future.
    Tag(String),
}

impl Target {
    /// Whether a link with this id and tag is targeted.
    pub fn matches(&self, id: LinkId, tag: Option<&str>) -> bool {
        match self {
            Target::All => true,
            Target::Link(link) => *link == id,
            Target::Tag(wanted) => tag == Some(wanted.as_str()),
        }
    }
}

/// A setting as stored: the faults plus the absolute end of each direction's stall, fixed
/// when the setting was applied so that every link it reaches stalls over the same window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rule {
    /// The faults.
    pub faults: LinkFaults,
    /// End of the stall per direction (`Direction::index`).
    pub stall_until: [Option<Instant>; 2],
}

impl Rule {
    /// A rule applied at `now`.
    pub fn new(faults: LinkFaults, now: Instant) -> Self {
        let stall_until = Direction::BOTH.map(|d| faults.path(d).stall.map(|hold| now + hold));
        Self {
            faults,
            stall_until,
        }
    }
}

/// The standing settings at the three levels. The most specific one wins as a whole:
/// a link's own setting, else its tag's, else the all-links setting; fields are not merged.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    all: Option<Rule>,
    tags: BTreeMap<String, Rule>,
    links: BTreeMap<LinkId, Rule>,
}

impl Rules {
    /// Stores `rule` at `target`'s level, replacing what was there.
    pub fn set(&mut self, target: &Target, rule: Rule) {
        match target {
            Target::All => self.all = Some(rule),
            Target::Link(id) => {
                self.links.insert(*id, rule);
            }
            Target::Tag(tag) => {
                self.tags.insert(tag.clone(), rule);
            }
        }
    }

    /// Removes the setting stored at `target`'s level (not the other levels).
    pub fn clear(&mut self, target: &Target) {
        match target {
            Target::All => self.all = None,
            Target::Link(id) => {
                self.links.remove(id);
            }
            Target::Tag(tag) => {
                self.tags.remove(tag);
            }
        }
    }

    /// Removes every setting at every level.
    pub fn clear_all(&mut self) {
        *self = Self::default();
    }

    /// The setting in force for a link.
    pub fn resolve(&self, id: LinkId, tag: Option<&str>) -> Option<&Rule> {
        self.links
            .get(&id)
            .or_else(|| tag.and_then(|t| self.tags.get(t)))
            .or(self.all.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(ms: u64) -> Rule {
        Rule::new(
            LinkFaults::latency(Duration::from_millis(ms)),
            Instant::now(),
        )
    }

    #[test]
    fn most_specific_setting_wins() {
        let mut rules = Rules::default();
        assert_eq!(rules.resolve(LinkId(1), Some("a")), None);
        rules.set(&Target::All, rule(1));
        rules.set(&Target::Tag("a".into()), rule(2));
        rules.set(&Target::Link(LinkId(1)), rule(3));
        fn ms(rules: &Rules, id: u64, tag: Option<&str>) -> Option<u128> {
            rules
                .resolve(LinkId(id), tag)
                .map(|r| r.faults.up.latency.as_millis())
        }
        assert_eq!(ms(&rules, 1, Some("a")), Some(3));
        assert_eq!(ms(&rules, 2, Some("a")), Some(2));
        assert_eq!(ms(&rules, 2, Some("b")), Some(1));
        assert_eq!(ms(&rules, 2, None), Some(1));
        rules.clear(&Target::Tag("a".into()));
        assert_eq!(ms(&rules, 2, Some("a")), Some(1));
        rules.clear(&Target::All);
        assert_eq!(ms(&rules, 2, Some("a")), None);
        assert_eq!(ms(&rules, 1, None), Some(3));
        rules.clear_all();
        assert_eq!(ms(&rules, 1, None), None);
    }

    #[test]
    fn stall_end_is_fixed_when_applied() {
        let now = Instant::now();
        let faults = LinkFaults::up(PathFaults::none().with_stall(Duration::from_millis(300)));
        let rule = Rule::new(faults, now);
        assert_eq!(rule.stall_until[0], Some(now + Duration::from_millis(300)));
        assert_eq!(rule.stall_until[1], None);
    }

    #[test]
    fn targets_match_by_level() {
        let id = LinkId(7);
        assert!(Target::All.matches(id, None));
        assert!(Target::Link(id).matches(id, Some("x")));
        assert!(!Target::Link(LinkId(8)).matches(id, Some("x")));
        assert!(Target::Tag("x".into()).matches(id, Some("x")));
        assert!(!Target::Tag("x".into()).matches(id, None));
    }
}
