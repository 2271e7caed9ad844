//! Deterministic cell-to-cell spread without per-cell storage.
//!
//! A pack draws one 64-bit spread seed from the caller's RNG at construction. The spread value of
//! element `i` is then a pure function of `(seed, i)`:
//!
//! ```text
//! h      = splitmix64(seed ⊕ (i + 1)·0x9E37_79B9_7F4A_7C15)
//! u_1..4 = the four 16-bit lanes of h, each mapped to (0, 1)
//! z_i    = √3 · (u_1 + u_2 + u_3 + u_4 − 2)                  (Irwin–Hall, mean 0, σ = 1)
//! ```
//!
//! `z_i` is bounded, `|z_i| ≤ 2√3 ≈ 3.46`, so a spread `1 − σ·z_i` stays positive for any
//! `σ < 0.28`. Packs centre the values on their sample mean once at construction (one O(N) pass,
//! never per tick), which makes the per-element factors average to exactly one. Because the
//! values are recomputed on demand, a 256-cell BMV frame costs 256 hashes and no memory is held
//! per cell: 100,000 packs keep only their seeds.

/// The largest magnitude an uncentred spread value [`unit_spread`] can take: `2√3`.
pub const UNIT_SPREAD_BOUND: f64 = 3.464_101_615_137_754_6;

/// SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
const fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The uncentred spread value of element `index` for `seed`: mean 0, standard deviation 1,
/// bounded by [`UNIT_SPREAD_BOUND`].
pub fn unit_spread(seed: u64, index: u32) -> f64 {
    let h = splitmix64(
        seed ^ u64::from(index)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let mut sum = 0.0;
    for lane in 0..4 {
        let bits = (h >> (16 * lane)) & 0xFFFF;
        // Centre of each 1/65536 bin, so every lane lies strictly inside (0, 1).
        sum += (bits as f64 + 0.5) / 65_536.0;
    }
    (sum - 2.0) * 3f64.sqrt()
}

/// The extremes and the mean of the spread over `count` elements, computed once at construction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpreadSummary {
    /// Sample mean of the uncentred values (subtracted to centre them).
    pub mean: f64,
    /// Index of the largest value.
    pub argmax: u32,
    /// The largest centred value.
    pub max: f64,
    /// Index of the smallest value.
    pub argmin: u32,
    /// The smallest centred value.
    pub min: f64,
}

impl SpreadSummary {
    /// Scans `count` elements of `seed` (O(count), construction only). `count == 0` gives zeros.
    pub fn scan(seed: u64, count: u32) -> Self {
        let mut sum = 0.0;
        let (mut argmax, mut max) = (0, f64::NEG_INFINITY);
        let (mut argmin, mut min) = (0, f64::INFINITY);
        for i in 0..count {
            let z = unit_spread(seed, i);
            sum += z;
            // Strict comparisons keep the lowest index on ties, so the result is deterministic.
            if z > max {
                (argmax, max) = (i, z);
            }
            if z < min {
                (argmin, min) = (i, z);
            }
        }
        if count == 0 {
            return SpreadSummary {
                mean: 0.0,
                argmax: 0,
                max: 0.0,
                argmin: 0,
                min: 0.0,
            };
        }
        let mean = sum / f64::from(count);
        SpreadSummary {
            mean,
            argmax,
            max: max - mean,
            argmin,
            min: min - mean,
        }
    }

    /// The centred spread value of element `index`.
    pub fn centred(&self, seed: u64, index: u32) -> f64 {
        unit_spread(seed, index) - self.mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_bounded_and_roughly_unit() {
        let n = 20_000u32;
        let (mut s, mut s2) = (0.0, 0.0);
        for i in 0..n {
            let z = unit_spread(42, i);
            assert!(z.abs() <= UNIT_SPREAD_BOUND);
            s += z;
            s2 += z * z;
        }
        let mean = s / f64::from(n);
        let var = s2 / f64::from(n) - mean * mean;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }

    #[test]
    fn summary_finds_extremes_of_centred_values() {
        let seed = 7;
        let sum = SpreadSummary::scan(seed, 96);
        let mut total = 0.0;
        for i in 0..96 {
            let z = sum.centred(seed, i);
            total += z;
            assert!(z <= sum.max && z >= sum.min);
        }
        assert!(total.abs() < 1e-9);
        assert_eq!(sum.centred(seed, sum.argmax), sum.max);
        assert_eq!(sum.centred(seed, sum.argmin), sum.min);
    }

    #[test]
    fn different_seeds_differ() {
        assert_ne!(unit_spread(1, 0), unit_spread(2, 0));
        assert_eq!(unit_spread(1, 5), unit_spread(1, 5));
    }
}
