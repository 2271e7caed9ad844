//! Station-level power sharing across connectors (max-min fair "water-filling").
//!
//! With a limit `L` and demands `d_i ≥ 0`, the continuous allocation is
//!
//! ```text
//! a_i = min(d_i, λ),      λ the largest level with Σ min(d_i, λ) ≤ L
//! ```
//!
//! (`a_i = d_i` for all when `Σ d_i ≤ L`). With a module granularity `g > 0` (matrix-switched
//! power modules) the same is done in whole modules: `M = ⌊L/g⌋` modules, connector `i` needs
//! `⌈d_i/g⌉`; each unsatisfied connector gets `⌊λ⌋` modules, the `< n` left over go one each in
//! connector order, and the power granted is `min(modules_i·g, d_i)`. Both variants are
//! deterministic, allocation-free and O(n²) for `n` connectors (n is a handful per station).

use crate::physics::common::{ceil_exact, floor_exact};

/// A sharing policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerSharing {
    /// Power of one switchable module, W; 0 shares continuously.
    pub granularity_w: f64,
}

impl PowerSharing {
    /// Continuous sharing.
    pub const CONTINUOUS: PowerSharing = PowerSharing { granularity_w: 0.0 };

    /// Sharing in whole modules of `module_power_w`.
    pub fn modules(module_power_w: f64) -> Self {
        PowerSharing {
            granularity_w: module_power_w,
        }
    }

    /// Fills `out_w[i]` with the power granted to connector `i`. Demands that are negative or
    /// not finite count as zero; `out_w` entries beyond `demands_w` are set to zero.
    pub fn allocate(&self, limit_w: f64, demands_w: &[f64], out_w: &mut [f64]) {
        self.allocate_with(limit_w, demands_w, out_w, None);
    }

    /// [`PowerSharing::allocate`], bit for bit, remembering the last whole-module allocation
    /// in `memo`: while the cabinet's modules and every connector's module need stay the same
    /// (the usual case from one physics tick to the next), the modules each connector gets
    /// cannot change and only the conversion to power is redone.
    pub fn allocate_memo(
        &self,
        memo: &mut SharingMemo,
        limit_w: f64,
        demands_w: &[f64],
        out_w: &mut [f64],
    ) {
        if self.memo_hit(memo, limit_w, demands_w, out_w) {
            return;
        }
        // Forget the old allocation; the full path remembers the new one when it allocates
        // in whole modules, and it is keyed by this limit.
        *memo = SharingMemo::default();
        self.allocate_with(limit_w, demands_w, out_w, Some(memo));
        if memo.len != usize::MAX {
            memo.limit_bits = limit_w.to_bits();
        }
    }

    /// The memo's fast path: when the limit, the module power and the number of connectors
    /// are those of the remembered allocation and every connector still needs the same
    /// (non-zero) number of modules, writes the grants (what the full path would write: the
    /// modules as power, capped at the demand; zero past the demands) and returns true.
    /// Otherwise writes nothing and returns false.
    ///
    /// A need of `k ≥ 1` modules is `⌈y⌉` with `y = d/g − 10⁻⁹`, so the need is unchanged
    /// exactly when `k − 1 < y ≤ k`: two comparisons instead of the rounding. Such a `y` is
    /// positive, so `d` is positive and finite and equals its sanitised value.
    #[inline]
    fn memo_hit(
        &self,
        memo: &SharingMemo,
        limit_w: f64,
        demands_w: &[f64],
        out_w: &mut [f64],
    ) -> bool {
        let n = demands_w.len().min(out_w.len());
        let g = self.granularity_w;
        // `len` is set only by an allocation in whole modules of a valid `g`.
        if n != memo.len
            || limit_w.to_bits() != memo.limit_bits
            || g.to_bits() != memo.granularity_bits
        {
            return false;
        }
        let (Some(demands), Some(needs), Some(modules)) = (
            demands_w.get(..n),
            memo.needs.get(..n),
            memo.modules.get(..n),
        ) else {
            return false;
        };
        for (&d, &k) in demands.iter().zip(needs) {
            let y = d / g - 1e-9;
            if !(k >= 1.0 && y > k - 1.0 && y <= k) {
                return false;
            }
        }
        let (out, rest) = out_w.split_at_mut(n);
        for ((o, &d), &m) in out.iter_mut().zip(demands).zip(modules) {
            *o = modules_to_power_one(g, m, d);
        }
        rest.fill(0.0);
        true
    }

    fn allocate_with(
        &self,
        limit_w: f64,
        demands_w: &[f64],
        out_w: &mut [f64],
        memo: Option<&mut SharingMemo>,
    ) {
        let n = demands_w.len().min(out_w.len());
        let (Some(demands), Some((out, rest))) =
            (demands_w.get(..n), out_w.split_at_mut_checked(n))
        else {
            return;
        };
        // Every entry of `out` is written below; only the ones past the demands are cleared.
        if !rest.is_empty() {
            rest.fill(0.0);
        }
        let limit = if limit_w.is_finite() {
            limit_w.max(0.0)
        } else {
            0.0
        };
        let g = self.granularity_w;
        if g.is_finite() && g > 0.0 {
            allocate_units(limit, g, demands, out, memo);
        } else {
            let level = water_level(limit, demands, sanitize);
            for (o, &d) in out.iter_mut().zip(demands) {
                *o = sanitize(d).min(level);
            }
        }
    }
}

/// Connectors a [`SharingMemo`] remembers (as many as the stack path of the allocation).
const MEMO_SLOTS: usize = STACK_NEEDS;

/// The last whole-module allocation of one cabinet, for [`PowerSharing::allocate_memo`]: the
/// limit and module power it was made for, each connector's need in modules and the modules
/// it was given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharingMemo {
    /// Connectors of the remembered allocation; `usize::MAX` when nothing is remembered.
    len: usize,
    granularity_bits: u64,
    /// The limit as passed in (before it is sanitised and floored to `units`).
    limit_bits: u64,
    needs: [f64; MEMO_SLOTS],
    modules: [f64; MEMO_SLOTS],
}

impl Default for SharingMemo {
    /// Remembers nothing: the first allocation is computed in full.
    fn default() -> Self {
        SharingMemo {
            len: usize::MAX,
            granularity_bits: 0,
            limit_bits: 0,
            needs: [0.0; MEMO_SLOTS],
            modules: [0.0; MEMO_SLOTS],
        }
    }
}

impl SharingMemo {
    fn store(&mut self, g: f64, needs: &[f64], modules: &[f64]) {
        self.len = needs.len();
        self.granularity_bits = g.to_bits();
        for (m, &n) in self.needs.iter_mut().zip(needs) {
            *m = n;
        }
        for (m, &x) in self.modules.iter_mut().zip(modules) {
            *m = x;
        }
    }
}

fn sanitize(d: f64) -> f64 {
    if d.is_finite() && d > 0.0 { d } else { 0.0 }
}

/// The level `λ` of max-min fair sharing of `total` among the needs `need(d_i)`; infinite
/// when everyone is satisfied. Each pass satisfies every need in `(previous level, level]`;
/// the level never falls, and a pass that satisfies nobody ends, so at most n passes.
fn water_level(total: f64, demands: &[f64], need: impl Fn(f64) -> f64) -> f64 {
    let mut remaining = total;
    let mut count = demands.iter().filter(|&&d| need(d) > 0.0).count();
    let mut floor = 0.0;
    while count > 0 {
        let level = remaining / count as f64;
        let (mut newly, mut newly_sum) = (0usize, 0.0);
        for &d in demands {
            let x = need(d);
            if x > floor && x <= level {
                newly += 1;
                newly_sum += x;
            }
        }
        if newly == 0 {
            return level;
        }
        remaining -= newly_sum;
        count -= newly;
        floor = level;
    }
    f64::INFINITY
}

/// The modules connector demand `d` needs at module power `g` (a tiny epsilon absorbs
/// float noise like 60.000…1 kW of 30 kW modules).
fn unit_need(g: f64, d: f64) -> f64 {
    ceil_exact(sanitize(d) / g - 1e-9).max(0.0)
}

/// Connectors whose module needs are computed once per allocation, on the stack (the fair
/// share reads each need several times).
const STACK_NEEDS: usize = 16;

fn allocate_units(
    limit: f64,
    g: f64,
    demands: &[f64],
    out: &mut [f64],
    memo: Option<&mut SharingMemo>,
) {
    // Whole modules available and needed (a tiny epsilon absorbs float noise like 59.999…).
    let units = floor_exact(limit / g + 1e-9);
    if demands.len() <= STACK_NEEDS {
        let mut needs = [0.0; STACK_NEEDS];
        for (n, &d) in needs.iter_mut().zip(demands) {
            *n = unit_need(g, d);
        }
        let needs = needs.get(..demands.len()).unwrap_or(&[]);
        let level = floor_exact(water_level(units, needs, |x| x));
        grant_modules(units, level, demands, out, |i, _| {
            needs.get(i).copied().unwrap_or(0.0)
        });
        if let Some(m) = memo {
            m.store(g, needs, out);
        }
    } else {
        let level = floor_exact(water_level(units, demands, |d| unit_need(g, d)));
        grant_modules(units, level, demands, out, |_, d| unit_need(g, d));
    }
    modules_to_power(g, demands, out);
}

/// Grants `level` modules to each connector (at most its need, `need(i, d_i)`), and the
/// modules left over one each in connector order; `out` holds module counts afterwards.
fn grant_modules(
    units: f64,
    level: f64,
    demands: &[f64],
    out: &mut [f64],
    need: impl Fn(usize, f64) -> f64,
) {
    let mut given_total = 0.0;
    for (i, (o, &d)) in out.iter_mut().zip(demands).enumerate() {
        *o = need(i, d).min(level);
        given_total += *o;
    }
    let mut left = units - given_total;
    for (i, (o, &d)) in out.iter_mut().zip(demands).enumerate() {
        if left < 1.0 {
            break;
        }
        if *o < need(i, d) {
            *o += 1.0;
            left -= 1.0;
        }
    }
}

/// Converts each connector's modules in `out` to power, capped at its demand.
fn modules_to_power(g: f64, demands: &[f64], out: &mut [f64]) {
    for (o, &d) in out.iter_mut().zip(demands) {
        *o = modules_to_power_one(g, *o, d);
    }
}

/// `modules` modules of `g` as power, capped at the demand `d`.
#[inline]
fn modules_to_power_one(g: f64, modules: f64, d: f64) -> f64 {
    (modules * g).min(sanitize(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator of numbers in [0, 1) (a 64-bit LCG's high bits).
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as f64 / (1u64 << 31) as f64
        }
    }

    fn sum(v: &[f64]) -> f64 {
        v.iter().sum()
    }

    /// Trailing zero demands (empty connector slots) change nobody's share: the cabinet
    /// allocates over its used slots only, and must get the bits of the full allocation
    /// for them.
    #[test]
    fn trailing_zero_demands_change_nothing() {
        let policies = [
            PowerSharing::CONTINUOUS,
            PowerSharing::modules(30e3),
            PowerSharing::modules(1.0),
        ];
        let mut next = uniform(777);
        for _ in 0..3000 {
            let used = 1 + (next() * 8.0) as usize % 8;
            let mut demands = [0.0; 8];
            for d in demands.iter_mut().take(used) {
                // Some zero and negative demands inside the used prefix too.
                *d = match (next() * 6.0) as u32 {
                    0 => 0.0,
                    1 => -5e3,
                    _ => next() * 250e3,
                };
            }
            let limit = next() * 500e3;
            for p in policies {
                let mut full = [0.0; 8];
                p.allocate(limit, &demands, &mut full);
                let mut prefix = [0.0; 8];
                p.allocate(limit, &demands[..used], &mut prefix[..used]);
                // The used slots bit for bit; the unused ones are zero either way (the
                // full allocation may write -0.0 there, and the cabinet never reads them).
                for (a, b) in full.iter().zip(&prefix).take(used) {
                    assert_eq!(a.to_bits(), b.to_bits(), "{p:?} {limit} {demands:?}");
                }
                assert!(full.iter().skip(used).all(|&g| g == 0.0));
            }
        }
    }

    #[test]
    fn under_the_limit_everyone_gets_their_demand() {
        let mut out = [0.0; 3];
        PowerSharing::CONTINUOUS.allocate(120e3, &[30e3, 40e3, 10e3], &mut out);
        assert_eq!(out, [30e3, 40e3, 10e3]);
    }

    #[test]
    fn over_the_limit_small_demands_are_met_and_the_rest_split_equally() {
        let mut out = [0.0; 4];
        PowerSharing::CONTINUOUS.allocate(120e3, &[10e3, 100e3, 100e3, 0.0], &mut out);
        assert_eq!(out[0], 10e3);
        assert!((out[1] - 55e3).abs() < 1e-6 && (out[2] - 55e3).abs() < 1e-6);
        assert_eq!(out[3], 0.0);
        assert!(sum(&out) <= 120e3 + 1e-6);
    }

    #[test]
    fn sums_and_caps_hold_for_many_cases() {
        let policies = [PowerSharing::CONTINUOUS, PowerSharing::modules(30e3)];
        let mut next = uniform(12345);
        for _ in 0..2000 {
            let n = 1 + (next() * 6.0) as usize;
            let demands: Vec<f64> = (0..n).map(|_| next() * 250e3).collect();
            let limit = next() * 500e3;
            for p in policies {
                let mut out = vec![0.0; n];
                p.allocate(limit, &demands, &mut out);
                assert!(
                    sum(&out) <= limit + 1e-6,
                    "{p:?} {limit} {demands:?} {out:?}"
                );
                for (o, d) in out.iter().zip(&demands) {
                    assert!(*o >= 0.0 && *o <= *d + 1e-9);
                }
                // Work-conserving: either everyone is served or the limit is (nearly) used up.
                let all_met = out.iter().zip(&demands).all(|(o, d)| (o - d).abs() < 1e-6);
                let slack = p.granularity_w.max(1e-6) * (n + 1) as f64;
                assert!(
                    all_met || sum(&out) >= limit - slack,
                    "{p:?} {limit} {demands:?} {out:?}"
                );
            }
        }
    }

    #[test]
    fn module_granularity_grants_whole_modules_fairly() {
        let mut out = [0.0; 3];
        // 4 × 30 kW modules; three connectors wanting 100, 100 and 20 kW.
        PowerSharing::modules(30e3).allocate(120e3, &[100e3, 100e3, 20e3], &mut out);
        // Level 1 module each, then the leftover module goes to the first connector.
        assert_eq!(out, [60e3, 30e3, 20e3]);
        PowerSharing::modules(30e3).allocate(120e3, &[45e3, 45e3], &mut out);
        assert_eq!(out, [45e3, 45e3, 0.0]);
    }

    /// The allocation as first written (libm `ceil`/`floor`, every need computed on the fly,
    /// all of `out` cleared first): the reference the faster paths must match bit for bit.
    fn reference_allocate(p: PowerSharing, limit_w: f64, demands_w: &[f64], out_w: &mut [f64]) {
        out_w.iter_mut().for_each(|o| *o = 0.0);
        let n = demands_w.len().min(out_w.len());
        let (demands, out) = (&demands_w[..n], &mut out_w[..n]);
        let limit = if limit_w.is_finite() {
            limit_w.max(0.0)
        } else {
            0.0
        };
        let g = p.granularity_w;
        if !(g.is_finite() && g > 0.0) {
            let level = water_level(limit, demands, sanitize);
            for (o, &d) in out.iter_mut().zip(demands) {
                *o = sanitize(d).min(level);
            }
            return;
        }
        let need = |d: f64| (sanitize(d) / g - 1e-9).ceil().max(0.0);
        let units = (limit / g + 1e-9).floor();
        let level = water_level(units, demands, need).floor();
        let mut given_total = 0.0;
        for (o, &d) in out.iter_mut().zip(demands) {
            *o = need(d).min(level);
            given_total += *o;
        }
        let mut left = units - given_total;
        for (o, &d) in out.iter_mut().zip(demands) {
            if left < 1.0 {
                break;
            }
            if *o < need(d) {
                *o += 1.0;
                left -= 1.0;
            }
        }
        for (o, &d) in out.iter_mut().zip(demands) {
            *o = (*o * g).min(sanitize(d));
        }
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|f| f.to_bits()).collect()
    }

    /// The stack path (needs computed once, inline floor and ceil), the path for many
    /// connectors and the memoised path all grant exactly what the reference grants, bit
    /// for bit, zero and negative demands included.
    #[test]
    fn every_path_matches_the_reference() {
        let mut next = uniform(99);
        let mut memo = SharingMemo::default();
        for round in 0..20_000 {
            let n = 1 + (next() * 24.0) as usize;
            let demands: Vec<f64> = (0..n)
                .map(|_| match (next() * 8.0) as u32 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => next() * 250e3 - 20e3,
                })
                .collect();
            let limit = if round % 50 == 0 {
                f64::NAN
            } else {
                next() * 500e3
            };
            let g = [30e3, 20e3, 7.5e3, 15e3, 0.0][(next() * 5.0) as usize % 5];
            let p = PowerSharing::modules(g);
            // One slot more than the demands: it must come back zero.
            let mut want = vec![7.0; n + 1];
            reference_allocate(p, limit, &demands, &mut want);
            let mut plain = vec![7.0; n + 1];
            p.allocate(limit, &demands, &mut plain);
            assert_eq!(bits(&plain), bits(&want), "{limit} {g} {demands:?}");
            // The memo is shared across rounds, and each allocation is repeated: the
            // second one is a memo hit and must still agree.
            for _ in 0..2 {
                let mut memoised = vec![7.0; n + 1];
                p.allocate_memo(&mut memo, limit, &demands, &mut memoised);
                assert_eq!(bits(&memoised), bits(&want), "{limit} {g} {demands:?}");
            }
        }
    }

    /// A memo hit needs the same modules and the same needs: changing the cabinet's limit,
    /// one connector's need or the number of connectors recomputes the allocation.
    #[test]
    fn the_memo_is_invalidated_when_its_inputs_change() {
        let p = PowerSharing::modules(15e3);
        let mut memo = SharingMemo::default();
        let mut out = [0.0; 3];
        p.allocate_memo(&mut memo, 120e3, &[100e3, 100e3], &mut out[..2]);
        assert_eq!(out[..2], [60e3, 60e3]);
        // Fewer modules: 3 each.
        p.allocate_memo(&mut memo, 90e3, &[100e3, 100e3], &mut out[..2]);
        assert_eq!(out[..2], [45e3, 45e3]);
        // One connector needs only 2 modules: the other gets the rest.
        p.allocate_memo(&mut memo, 90e3, &[30e3, 100e3], &mut out[..2]);
        assert_eq!(out[..2], [30e3, 60e3]);
        // Same needs, a demand inside the same module count: only the cap moves.
        p.allocate_memo(&mut memo, 90e3, &[29e3, 100e3], &mut out[..2]);
        assert_eq!(out[..2], [29e3, 60e3]);
        // A third connector with the same first two needs.
        p.allocate_memo(&mut memo, 90e3, &[29e3, 100e3, 100e3], &mut out);
        assert_eq!(out, [29e3, 30e3, 30e3]);
        // Back to two connectors.
        p.allocate_memo(&mut memo, 90e3, &[29e3, 100e3], &mut out[..2]);
        assert_eq!(out[..2], [29e3, 60e3]);
        // The same limit and demands with bigger modules: 2 modules of 45 kW, one each.
        PowerSharing::modules(45e3).allocate_memo(&mut memo, 90e3, &[29e3, 100e3], &mut out[..2]);
        assert_eq!(out[..2], [29e3, 45e3]);
    }

    #[test]
    fn junk_inputs_are_harmless() {
        let mut out = [7.0; 3];
        PowerSharing::CONTINUOUS.allocate(f64::NAN, &[1.0, f64::NAN], &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0]);
        PowerSharing::CONTINUOUS.allocate(10.0, &[-5.0, f64::INFINITY, 4.0], &mut out);
        assert_eq!(out, [0.0, 0.0, 4.0]);
    }
}
