//! The last few APDUs each charger sent or received, for the dashboard's connector view:
//! a fixed ring per charger, so keeping it costs no allocation per message.

use crate::time::Instant;

/// How many APDUs a charger's ring keeps.
const KEPT: usize = 6;

/// One APDU as the connector view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentApdu {
    /// When it was sent or received.
    pub at: Instant,
    /// Message name.
    pub code: &'static str,
    /// APDU sequence number.
    pub seq: u32,
    /// `true` when the charger sent it (uplink).
    pub up: bool,
}

/// A charger's last [`KEPT`] APDUs, oldest overwritten first.
#[derive(Debug, Clone, Default)]
pub(super) struct RecentApdus {
    items: [Option<RecentApdu>; KEPT],
    next: usize,
}

impl RecentApdus {
    /// Keeps `apdu`, dropping the oldest when full.
    pub(super) fn push(&mut self, apdu: RecentApdu) {
        if let Some(slot) = self.items.get_mut(self.next) {
            *slot = Some(apdu);
        }
        self.next = (self.next + 1) % KEPT;
    }

    /// The kept APDUs, oldest first.
    pub(super) fn oldest_first(&self) -> impl Iterator<Item = &RecentApdu> {
        (0..KEPT).filter_map(move |i| self.items[(self.next + i) % KEPT].as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apdu(seq: u32) -> RecentApdu {
        RecentApdu {
            at: Instant::from_secs(u64::from(seq)),
            code: "TelemetryReq",
            seq,
            up: seq.is_multiple_of(2),
        }
    }

    #[test]
    fn keeps_the_last_few_oldest_first() {
        let mut r = RecentApdus::default();
        assert_eq!(r.oldest_first().count(), 0);
        for seq in 1..=3 {
            r.push(apdu(seq));
        }
        let seqs: Vec<u32> = r.oldest_first().map(|a| a.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        for seq in 4..=10 {
            r.push(apdu(seq));
        }
        let seqs: Vec<u32> = r.oldest_first().map(|a| a.seq).collect();
        assert_eq!(seqs, [5, 6, 7, 8, 9, 10]);
    }
}
