//! Topic names, topic filters and the subscription tree that routes a topic to its
//! subscribers (MQTT 3.1.1 §4.7).
//!
//! The tree has one node per filter level, so matching a topic walks at most two branches
//! (the literal level and `+`) per level plus the `#` lists on the way: the cost depends on
//! the topic's depth and the number of matching filters, not on the number of subscriptions.
//! With 20,000 chargers each subscribed to its own `/D/...` topics, a publish costs a few
//! ordered-map look-ups per level, not 20,000 filter comparisons.

use std::collections::BTreeMap;

/// A topic name a client may publish to (MQTT 3.1.1 §4.7.3): not empty, no wildcards, no
/// NUL character.
pub(crate) fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// A topic filter a client may subscribe to (MQTT 3.1.1 §4.7.1): not empty, no NUL; `+`
/// only as a whole level; `#` only as the whole last level.
pub(crate) fn valid_topic_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        match level {
            "+" => {}
            "#" if last => {}
            l if l.contains(['+', '#']) => return false,
            _ => {}
        }
    }
    true
}

/// One subscription in the tree: the subscribing session's id, its granted QoS (0–2) and
/// whatever the router needs to reach the session.
#[derive(Debug, Clone)]
pub(crate) struct Entry<T> {
    /// The session's unique id (the tree's key within one filter).
    pub(crate) id: u64,
    /// Granted QoS, 0–2.
    pub(crate) qos: u8,
    /// The router's handle on the session.
    pub(crate) value: T,
}

/// One level of the tree.
#[derive(Debug)]
struct Node<T> {
    /// Literal next levels.
    children: BTreeMap<Box<str>, Node<T>>,
    /// The `+` next level.
    plus: Option<Box<Node<T>>>,
    /// Filters that end exactly here.
    here: Vec<Entry<T>>,
    /// Filters that end with `#` right after this level.
    hash: Vec<Entry<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            children: BTreeMap::new(),
            plus: None,
            here: Vec::new(),
            hash: Vec::new(),
        }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.here.is_empty()
            && self.hash.is_empty()
    }
}

/// The subscriptions of every session, keyed by filter level.
#[derive(Debug)]
pub(crate) struct SubscriptionTree<T> {
    root: Node<T>,
    len: usize,
}

impl<T> Default for SubscriptionTree<T> {
    fn default() -> Self {
        SubscriptionTree {
            root: Node::default(),
            len: 0,
        }
    }
}

impl<T: Clone> SubscriptionTree<T> {
    /// Number of (filter, session) subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds `entry` under `filter` (already validated); a second subscription of the same
    /// session to the same filter replaces the first (MQTT 3.1.1 §3.8.4).
    pub(crate) fn insert(&mut self, filter: &str, entry: Entry<T>) {
        let (node, hash) = Self::node_mut(&mut self.root, filter);
        let list = if hash { &mut node.hash } else { &mut node.here };
        if let Some(old) = list.iter_mut().find(|e| e.id == entry.id) {
            *old = entry;
        } else {
            list.push(entry);
            self.len += 1;
        }
    }

    /// Walks (creating) the node a filter ends at; `true` when it ends with `#`.
    fn node_mut<'a>(mut node: &'a mut Node<T>, filter: &str) -> (&'a mut Node<T>, bool) {
        for level in filter.split('/') {
            node = match level {
                "#" => return (node, true),
                "+" => node.plus.get_or_insert_with(Box::default),
                l => node.children.entry(l.into()).or_default(),
            };
        }
        (node, false)
    }

    /// Removes session `id`'s subscription to `filter`; `true` if there was one.
    pub(crate) fn remove(&mut self, filter: &str, id: u64) -> bool {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = Self::remove_in(&mut self.root, &levels, id);
        if removed {
            self.len = self.len.saturating_sub(1);
        }
        removed
    }

    /// Removes the entry and prunes the nodes it leaves empty.
    fn remove_in(node: &mut Node<T>, levels: &[&str], id: u64) -> bool {
        let Some((&level, rest)) = levels.split_first() else {
            return take_entry(&mut node.here, id);
        };
        match level {
            "#" => take_entry(&mut node.hash, id),
            "+" => {
                let Some(child) = node.plus.as_deref_mut() else {
                    return false;
                };
                let removed = Self::remove_in(child, rest, id);
                if child.is_empty() {
                    node.plus = None;
                }
                removed
            }
            l => {
                let Some(child) = node.children.get_mut(l) else {
                    return false;
                };
                let removed = Self::remove_in(child, rest, id);
                if child.is_empty() {
                    node.children.remove(l);
                }
                removed
            }
        }
    }

    /// Appends every subscription matching `topic` to `out` (possibly several per session).
    /// Filters starting with a wildcard do not match topics starting with `$` (§4.7.2).
    pub(crate) fn matches(&self, topic: &str, out: &mut Vec<Entry<T>>) {
        let levels: Vec<&str> = topic.split('/').collect();
        let dollar = topic.starts_with('$');
        let root = &self.root;
        if !dollar {
            out.extend(root.hash.iter().cloned());
            if let Some(plus) = root.plus.as_deref() {
                Self::collect(plus, levels.get(1..).unwrap_or_default(), out);
            }
        }
        if let Some(child) = levels.first().and_then(|l| root.children.get(*l)) {
            Self::collect(child, levels.get(1..).unwrap_or_default(), out);
        }
    }

    /// Collects the matches below `node`, which matched the levels before `rest`.
    fn collect(node: &Node<T>, rest: &[&str], out: &mut Vec<Entry<T>>) {
        // `a/#` matches `a` itself as well as everything below it (§4.7.1.2).
        out.extend(node.hash.iter().cloned());
        let Some((&level, rest)) = rest.split_first() else {
            out.extend(node.here.iter().cloned());
            return;
        };
        if let Some(child) = node.children.get(level) {
            Self::collect(child, rest, out);
        }
        if let Some(plus) = node.plus.as_deref() {
            Self::collect(plus, rest, out);
        }
    }
}

/// Removes the entry of session `id` from `list`; `true` if it was there.
fn take_entry<T>(list: &mut Vec<Entry<T>>, id: u64) -> bool {
    match list.iter().position(|e| e.id == id) {
        Some(i) => {
            list.swap_remove(i);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(id: u64) -> Entry<()> {
        Entry {
            id,
            qos: 1,
            value: (),
        }
    }

    fn ids(tree: &SubscriptionTree<()>, topic: &str) -> Vec<u64> {
        let mut out = Vec::new();
        tree.matches(topic, &mut out);
        let mut ids: Vec<u64> = out.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        ids
    }

    /// The reference semantics the tree must agree with: a level-by-level comparison.
    fn reference_match(filter: &str, topic: &str) -> bool {
        if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
            return false;
        }
        let f: Vec<&str> = filter.split('/').collect();
        let t: Vec<&str> = topic.split('/').collect();
        for (i, level) in f.iter().enumerate() {
            if *level == "#" {
                return true;
            }
            match t.get(i) {
                Some(tl) if *level == "+" || level == tl => {}
                _ => return false,
            }
        }
        f.len() == t.len()
    }

    #[test]
    fn validates_names_and_filters() {
        assert!(valid_topic_name("/U/R/CS0001"));
        assert!(!valid_topic_name(""));
        assert!(!valid_topic_name("/U/R/+"));
        assert!(!valid_topic_name("a/#"));
        assert!(valid_topic_filter("/U/R/+"));
        assert!(valid_topic_filter("#"));
        assert!(valid_topic_filter("+/+/#"));
        assert!(valid_topic_filter("/"));
        assert!(!valid_topic_filter(""));
        assert!(!valid_topic_filter("a/#/b"));
        assert!(!valid_topic_filter("a/b#"));
        assert!(!valid_topic_filter("a+/b"));
    }

    #[test]
    fn matches_the_protocol_filters() {
        let mut t = SubscriptionTree::default();
        t.insert("/U/R/+", entry(1));
        t.insert("/U/C/+", entry(1));
        t.insert("/D/R/CS0001", entry(2));
        t.insert("/D/R/CS0002", entry(3));
        t.insert("#", entry(4));
        t.insert("/D/#", entry(5));
        assert_eq!(ids(&t, "/U/R/CS0001"), [1, 4]);
        assert_eq!(ids(&t, "/U/C/CS0002"), [1, 4]);
        assert_eq!(ids(&t, "/U/M/CS0002"), [4]);
        assert_eq!(ids(&t, "/D/R/CS0001"), [2, 4, 5]);
        assert_eq!(ids(&t, "/D"), [4, 5]);
        assert_eq!(ids(&t, "/U/R/CS0001/x"), [4]);
        assert_eq!(ids(&t, "$SYS/x"), Vec::<u64>::new());
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn resubscribing_replaces_and_removal_prunes() {
        let mut t = SubscriptionTree::default();
        t.insert("a/+/c", entry(1));
        t.insert(
            "a/+/c",
            Entry {
                id: 1,
                qos: 2,
                value: (),
            },
        );
        assert_eq!(t.len(), 1);
        let mut out = Vec::new();
        t.matches("a/b/c", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].qos, 2);
        assert!(!t.remove("a/+/c", 2));
        assert!(t.remove("a/+/c", 1));
        assert!(!t.remove("a/+/c", 1));
        assert_eq!(t.len(), 0);
        assert!(t.root.is_empty(), "empty branches are pruned");
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just(String::new()),
            Just("$s".to_owned())
        ]
    }

    fn filter() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(prop_oneof![level(), Just("+".to_owned())], 1..4),
            any::<bool>(),
        )
            .prop_map(|(levels, hash)| {
                let mut f = levels.join("/");
                if hash {
                    f.push_str("/#");
                }
                f
            })
            .prop_filter("a filter is not empty", |f| !f.is_empty())
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference_matcher(
            filters in prop::collection::vec(filter(), 1..8),
            topic in prop::collection::vec(level(), 1..5),
        ) {
            let topic = topic.join("/");
            prop_assume!(valid_topic_name(&topic));
            let mut t = SubscriptionTree::default();
            for (i, f) in filters.iter().enumerate() {
                prop_assert!(valid_topic_filter(f));
                t.insert(f, entry(i as u64));
            }
            let expected: Vec<u64> = filters
                .iter()
                .enumerate()
                .filter(|(_, f)| reference_match(f, &topic))
                .map(|(i, _)| i as u64)
                .collect();
            prop_assert_eq!(ids(&t, &topic), expected);
            for (i, f) in filters.iter().enumerate() {
                prop_assert!(t.remove(f, i as u64));
            }
            prop_assert!(t.root.is_empty());
        }
    }
}
