//! The warning bitmap of [`pb::TelemetryReq`] (seed "uint64 warningBitmap ///故障告警位表").
//!
//! The seed gives the field but not its bit layout; chargestorm's `warning.proto` numbers every
//! standard [`pb::WarningCode`] below 64 so that bit `n` is set while code `n` is active. Bit 0
//! (code `NONE`) is never set.

use super::pb;

/// The set of active standard warnings of one component, as sent in
/// `TelemetryReq.warning_bitmap`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct WarningBitmap(pub u64);

impl WarningBitmap {
    /// The bit of `code`, or `None` for `NONE` (which has no bit).
    pub const fn bit(code: pb::WarningCode) -> Option<u64> {
        let n = code as i32;
        if n > 0 && n < 64 { Some(1 << n) } else { None }
    }

    /// Marks `code` active.
    pub fn set(&mut self, code: pb::WarningCode) {
        if let Some(bit) = Self::bit(code) {
            self.0 |= bit;
        }
    }

    /// Marks `code` cleared.
    pub fn clear(&mut self, code: pb::WarningCode) {
        if let Some(bit) = Self::bit(code) {
            self.0 &= !bit;
        }
    }

    /// Whether `code` is active.
    pub const fn contains(self, code: pb::WarningCode) -> bool {
        match Self::bit(code) {
            Some(bit) => self.0 & bit != 0,
            None => false,
        }
    }

    /// Whether no warning is active.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The active standard codes, lowest first. Bits without a defined code (a newer peer's
    /// codes) are skipped; [`Self::unknown_bits`] returns them.
    pub fn iter(self) -> impl Iterator<Item = pb::WarningCode> {
        (1..64).filter_map(move |n: i32| {
            let code = pb::WarningCode::try_from(n).ok()?;
            self.contains(code).then_some(code)
        })
    }

    /// Set bits that no standard code defines.
    pub fn unknown_bits(self) -> u64 {
        let known = (1..64)
            .filter(|&n: &i32| pb::WarningCode::try_from(n).is_ok())
            .fold(0u64, |mask, n| mask | (1 << n));
        self.0 & !known
    }
}

impl FromIterator<pb::WarningCode> for WarningBitmap {
    fn from_iter<I: IntoIterator<Item = pb::WarningCode>>(codes: I) -> Self {
        let mut bitmap = Self::default();
        for code in codes {
            bitmap.set(code);
        }
        bitmap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::WarningCode as W;

    #[test]
    fn every_code_has_its_own_bit_below_64() {
        let mut seen = 0u64;
        for n in 1..=i32::from(u8::MAX) {
            if let Ok(code) = W::try_from(n) {
                let bit = WarningBitmap::bit(code).unwrap();
                assert_eq!(seen & bit, 0, "{code:?}");
                seen |= bit;
            }
        }
        assert_eq!(WarningBitmap::bit(W::None), None);
        assert_eq!(seen & 1, 0, "bit 0 stays clear");
    }

    #[test]
    fn set_clear_iterate() {
        let mut bitmap: WarningBitmap =
            [W::EmergencyStop, W::HighTemperature].into_iter().collect();
        assert_eq!(bitmap.0, (1 << 16) | (1 << 4));
        assert_eq!(
            bitmap.iter().collect::<Vec<_>>(),
            [W::HighTemperature, W::EmergencyStop]
        );
        bitmap.clear(W::HighTemperature);
        assert!(!bitmap.contains(W::HighTemperature));
        assert!(bitmap.contains(W::EmergencyStop));
        bitmap.set(W::None);
        assert_eq!(bitmap.0, 1 << 16);
        bitmap.clear(W::EmergencyStop);
        assert!(bitmap.is_empty());
    }

    #[test]
    fn bits_of_unknown_codes_are_reported_not_lost() {
        let bitmap = WarningBitmap((1 << 63) | (1 << 2) | 1);
        assert_eq!(bitmap.iter().collect::<Vec<_>>(), [W::EvCommunicationError]);
        assert_eq!(bitmap.unknown_bits(), (1 << 63) | 1);
    }
}
