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
        out_w.iter_mut().for_each(|o| *o = 0.0);
        let n = demands_w.len().min(out_w.len());
        let (demands, out) = (&demands_w[..n], &mut out_w[..n]);
        let limit = if limit_w.is_finite() {
            limit_w.max(0.0)
        } else {
            0.0
        };
        let g = self.granularity_w;
        if g.is_finite() && g > 0.0 {
            allocate_units(limit, g, demands, out);
        } else {
            let level = water_level(limit, demands, sanitize);
            for (o, &d) in out.iter_mut().zip(demands) {
                *o = sanitize(d).min(level);
            }
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
    (sanitize(d) / g - 1e-9).ceil().max(0.0)
}

/// Connectors whose module needs are computed once per allocation, on the stack (`ceil` is
/// a library call on this target and the fair share reads each need several times).
const STACK_NEEDS: usize = 16;

fn allocate_units(limit: f64, g: f64, demands: &[f64], out: &mut [f64]) {
    // Whole modules available and needed (a tiny epsilon absorbs float noise like 59.999…).
    let units = (limit / g + 1e-9).floor();
    if demands.len() <= STACK_NEEDS {
        let mut needs = [0.0; STACK_NEEDS];
        for (n, &d) in needs.iter_mut().zip(demands) {
            *n = unit_need(g, d);
        }
        let needs = needs.get(..demands.len()).unwrap_or(&[]);
        let level = water_level(units, needs, |x| x).floor();
        grant_units(units, g, level, demands, out, |i, _| {
            needs.get(i).copied().unwrap_or(0.0)
        });
    } else {
        let level = water_level(units, demands, |d| unit_need(g, d)).floor();
        grant_units(units, g, level, demands, out, |_, d| unit_need(g, d));
    }
}

/// Grants `level` modules to each connector (at most its need, `need(i, d_i)`), the
/// modules left over one each in connector order, and converts modules to power.
fn grant_units(
    units: f64,
    g: f64,
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
    for (o, &d) in out.iter_mut().zip(demands) {
        *o = (*o * g).min(sanitize(d));
    }
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

    /// The stack path (needs computed once) grants exactly what computing every need on
    /// the fly does, bit for bit.
    #[test]
    fn precomputed_needs_change_nothing() {
        let mut next = uniform(99);
        for _ in 0..5000 {
            let n = 1 + (next() * 8.0) as usize;
            let demands: Vec<f64> = (0..n).map(|_| next() * 250e3 - 20e3).collect();
            let limit = next() * 500e3;
            let g = [30e3, 20e3, 7.5e3][(next() * 3.0) as usize % 3];
            let mut fast = vec![0.0; n];
            allocate_units(limit, g, &demands, &mut fast);
            let units = (limit / g + 1e-9).floor();
            let level = water_level(units, &demands, |d| unit_need(g, d)).floor();
            let mut slow = vec![0.0; n];
            grant_units(units, g, level, &demands, &mut slow, |_, d| unit_need(g, d));
            let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&slow), "{limit} {g} {demands:?}");
        }
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
