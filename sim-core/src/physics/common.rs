//! Shared building blocks of the physics models: parameter validation, piecewise-linear
//! curves and cached exponential decay factors.
//!
//! # Piecewise-linear curve
//!
//! A [`Curve`] holds `N` breakpoints `(x_k, y_k)` with strictly increasing `x_k`. Between two
//! breakpoints it interpolates linearly,
//!
//! ```text
//! y(x) = y_k + (y_{k+1} − y_k) · (x − x_k) / (x_{k+1} − x_k)      for x_k ≤ x ≤ x_{k+1}
//! ```
//!
//! and it holds the end values outside `[x_0, x_{N−1}]` (a table lookup, as a BMS or a module
//! datasheet defines it; no extrapolation).
//!
//! # Exact first-order decay
//!
//! Every first-order state in the models (RC voltage, pack and gun temperature) is advanced with
//! the exact solution for an input held constant over the step,
//!
//! ```text
//! x(t + Δt) = x_∞ + (x(t) − x_∞) · e^(−Δt/τ)
//! ```
//!
//! which is unconditionally stable and never overshoots `x_∞`. A private cache keeps the last
//! `e^(−Δt/τ)` so a fixed tick pays for the exponential once.

use thiserror::Error;

/// One rejected parameter: which field and why.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{field}: {message}")]
pub struct ParamError {
    /// The parameter's field name, as in the struct (e.g. `cell_capacity_ah`).
    pub field: &'static str,
    /// What is wrong with the value received, including the value.
    pub message: String,
}

/// Every problem found by one `validate()` call (never empty).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("invalid physics parameters: {}", join(.0))]
pub struct InvalidParams(pub Vec<ParamError>);

fn join(errors: &[ParamError]) -> String {
    let mut out = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(&e.to_string());
    }
    out
}

/// Collects parameter errors so `validate()` reports all of them at once.
#[derive(Debug, Default)]
pub(crate) struct Checks(Vec<ParamError>);

impl Checks {
    /// Records an error for `field` unless `ok`.
    pub(crate) fn check(
        &mut self,
        ok: bool,
        field: &'static str,
        message: impl FnOnce() -> String,
    ) {
        if !ok {
            self.0.push(ParamError {
                field,
                message: message(),
            });
        }
    }

    /// Requires a finite value strictly above zero.
    pub(crate) fn positive(&mut self, field: &'static str, value: f64) {
        self.check(value.is_finite() && value > 0.0, field, || {
            format!("must be finite and > 0, got {value}")
        });
    }

    /// Requires a finite value in `[lo, hi]`.
    pub(crate) fn within(&mut self, field: &'static str, value: f64, lo: f64, hi: f64) {
        self.check(
            value.is_finite() && value >= lo && value <= hi,
            field,
            || format!("must be within [{lo}, {hi}], got {value}"),
        );
    }

    /// `Ok` when nothing was recorded.
    pub(crate) fn finish(self) -> Result<(), InvalidParams> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(InvalidParams(self.0))
        }
    }
}

/// A piecewise-linear table `y(x)` with `N` breakpoints, held flat outside its range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve<const N: usize> {
    /// Breakpoint abscissae, strictly increasing.
    pub x: [f64; N],
    /// Values at the breakpoints.
    pub y: [f64; N],
}

impl<const N: usize> Curve<N> {
    /// A curve from its breakpoints.
    pub const fn new(x: [f64; N], y: [f64; N]) -> Self {
        Curve { x, y }
    }

    /// The interpolated value at `x` (end values held outside the table).
    pub fn eval(&self, x: f64) -> f64 {
        let (Some(&x0), Some(&y0)) = (self.x.first(), self.y.first()) else {
            return 0.0;
        };
        if x <= x0 {
            return y0;
        }
        for k in 1..N {
            if x <= self.x[k] {
                let (xa, xb, ya, yb) = (self.x[k - 1], self.x[k], self.y[k - 1], self.y[k]);
                return ya + (yb - ya) * (x - xa) / (xb - xa);
            }
        }
        self.y[N - 1]
    }

    /// The smallest value in the table.
    pub fn min_y(&self) -> f64 {
        self.y.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// The largest value in the table.
    pub fn max_y(&self) -> f64 {
        self.y.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    /// Checks that the table is non-empty, finite, strictly increasing in `x`, and that every
    /// `y` lies in `[y_lo, y_hi]`.
    pub(crate) fn check(&self, c: &mut Checks, field: &'static str, y_lo: f64, y_hi: f64) {
        c.check(N >= 2, field, || {
            format!("needs at least 2 breakpoints, has {N}")
        });
        let increasing = self.x.windows(2).all(|w| w[0] < w[1]);
        let finite_x = self.x.iter().all(|v| v.is_finite());
        c.check(increasing && finite_x, field, || {
            format!("x must be finite and strictly increasing, got {:?}", self.x)
        });
        let y_ok = self
            .y
            .iter()
            .all(|v| v.is_finite() && *v >= y_lo && *v <= y_hi);
        c.check(y_ok, field, || {
            format!("y must be within [{y_lo}, {y_hi}], got {:?}", self.y)
        });
    }
}

/// The last segment a [`Curve`] lookup landed in, as `y = a + b·x` on `[lo, hi]`. Inputs that
/// drift slowly (temperatures, SOC) hit the same segment tick after tick, so a lookup costs two
/// comparisons and a multiply-add instead of a scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cursor {
    lo: f64,
    hi: f64,
    a: f64,
    b: f64,
}

impl Default for Cursor {
    /// An empty range: the first lookup always scans.
    fn default() -> Self {
        Cursor {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            a: 0.0,
            b: 0.0,
        }
    }
}

impl Cursor {
    /// `curve.eval(x)`, rescanning only when `x` left the cached segment.
    #[inline]
    pub(crate) fn eval<const N: usize>(&mut self, curve: &Curve<N>, x: f64) -> f64 {
        if !(x >= self.lo && x <= self.hi) {
            *self = Self::segment(curve, x);
        }
        self.a + self.b * x
    }

    fn segment<const N: usize>(curve: &Curve<N>, x: f64) -> Self {
        let flat = |lo: f64, hi: f64, y: f64| Cursor {
            lo,
            hi,
            a: y,
            b: 0.0,
        };
        let (Some(&x0), Some(&xn)) = (curve.x.first(), curve.x.last()) else {
            return flat(f64::NEG_INFINITY, f64::INFINITY, 0.0);
        };
        if x.is_nan() || x <= x0 {
            // Below the table (or NaN): the first value, held.
            return flat(f64::NEG_INFINITY, x0, curve.y[0]);
        }
        if x > xn {
            return flat(xn, f64::INFINITY, curve.y[N - 1]);
        }
        for k in 1..N {
            if x <= curve.x[k] {
                let (xa, xb, ya, yb) = (curve.x[k - 1], curve.x[k], curve.y[k - 1], curve.y[k]);
                let b = (yb - ya) / (xb - xa);
                return Cursor {
                    lo: xa,
                    hi: xb,
                    a: ya - b * xa,
                    b,
                };
            }
        }
        flat(xn, f64::INFINITY, curve.y[N - 1])
    }
}

/// Caches `e^(−Δt/τ)` for the last step length, so a fixed tick costs no exponential.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DecayCache {
    dt_s: f64,
    rate_per_s: f64,
    factor: f64,
    /// `1 − factor` and `1 − factor²`, the integrals of the decay over the step need both.
    one_minus: f64,
    one_minus_sq: f64,
}

impl DecayCache {
    /// A cache for the time constant `1 / rate_per_s` (a rate of zero never decays).
    pub(crate) fn new(rate_per_s: f64) -> Self {
        DecayCache {
            dt_s: 0.0,
            rate_per_s,
            factor: 1.0,
            one_minus: 0.0,
            one_minus_sq: 0.0,
        }
    }

    /// `e^(−Δt · rate)`, recomputed only when `dt_s` changed since the last call.
    pub(crate) fn factor(&mut self, dt_s: f64) -> f64 {
        if dt_s != self.dt_s {
            self.dt_s = dt_s;
            self.factor = (-dt_s * self.rate_per_s).exp();
            self.one_minus = 1.0 - self.factor;
            self.one_minus_sq = 1.0 - self.factor * self.factor;
        }
        self.factor
    }

    /// `(α, 1 − α, 1 − α²)` with `α = e^(−Δt · rate)`, all recomputed only when `dt_s`
    /// changed since the last call (the same arithmetic as computing them from `α` each time).
    pub(crate) fn factor_terms(&mut self, dt_s: f64) -> (f64, f64, f64) {
        let factor = self.factor(dt_s);
        (factor, self.one_minus, self.one_minus_sq)
    }
}

/// 2⁵²: from here on every `f64` is an integer.
const INTEGRAL_FROM: f64 = 4_503_599_627_370_496.0;

/// `x.floor()`, bit for bit (signed zeros, NaN and infinities included), without the libm
/// call that `floor` is on baseline x86-64 (no SSE4.1 `roundsd`): a truncating conversion and
/// one correction.
#[inline]
pub(crate) fn floor_exact(x: f64) -> f64 {
    // NaN, infinities and every value of magnitude ≥ 2⁵² (all integers) are their own floor.
    if x.is_nan() || x.abs() >= INTEGRAL_FROM {
        return x;
    }
    // |x| < 2⁵², so the truncation to i64 is exact and in range.
    let t = x as i64 as f64;
    let f = if t > x { t - 1.0 } else { t };
    // A zero result keeps the sign of x (floor(−0.0) = −0.0; x in (−1, 0) gives −1).
    if f == 0.0 { 0.0f64.copysign(x) } else { f }
}

/// `x.ceil()`, bit for bit (signed zeros, NaN and infinities included), without a libm call;
/// see [`floor_exact`].
#[inline]
pub(crate) fn ceil_exact(x: f64) -> f64 {
    if x.is_nan() || x.abs() >= INTEGRAL_FROM {
        return x;
    }
    let t = x as i64 as f64;
    let c = if t < x { t + 1.0 } else { t };
    // ceil of x in (−1, −0.0] is −0.0; of +0.0 it is +0.0.
    if c == 0.0 { 0.0f64.copysign(x) } else { c }
}

/// Moves `value` towards `target` by at most `up` (rising) or `down` (falling).
pub(crate) fn slew(value: f64, target: f64, up: f64, down: f64) -> f64 {
    if target > value {
        (value + up).min(target)
    } else {
        (value - down).max(target)
    }
}

/// The positive root `I` of `(v_oc + r·I)·I = p` for `v_oc > 0, r ≥ 0, p ≥ 0`: the current a
/// source with open-circuit voltage `v_oc` behind `r` draws at power `p`. Written in the
/// cancellation-free form `2p / (v_oc + √(v_oc² + 4rp))`.
pub(crate) fn current_at_power(v_oc: f64, r: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    let disc = v_oc * v_oc + 4.0 * r * p;
    let denom = v_oc + disc.sqrt();
    if denom > 0.0 { 2.0 * p / denom } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_interpolates_and_holds_ends() {
        let c = Curve::new([0.0, 1.0, 3.0], [10.0, 20.0, 0.0]);
        assert_eq!(c.eval(-5.0), 10.0);
        assert_eq!(c.eval(0.5), 15.0);
        assert_eq!(c.eval(2.0), 10.0);
        assert_eq!(c.eval(9.0), 0.0);
        assert_eq!(c.min_y(), 0.0);
        assert_eq!(c.max_y(), 20.0);
    }

    #[test]
    fn curve_check_rejects_unsorted_x() {
        let mut checks = Checks::default();
        Curve::new([0.0, 0.0], [1.0, 1.0]).check(&mut checks, "c", 0.0, 2.0);
        assert!(checks.finish().is_err());
    }

    #[test]
    fn current_at_power_solves_the_quadratic() {
        let i = current_at_power(400.0, 0.1, 50_000.0);
        let p = (400.0 + 0.1 * i) * i;
        assert!((p - 50_000.0).abs() < 1e-6);
        assert_eq!(current_at_power(400.0, 0.0, 40_000.0), 100.0);
        assert_eq!(current_at_power(400.0, 0.1, 0.0), 0.0);
    }

    #[test]
    fn cursor_matches_eval_everywhere() {
        let c = Curve::new([-20.0, 0.0, 25.0, 60.0], [5.0, 2.0, 1.0, 0.8]);
        let mut cur = Cursor::default();
        let mut x = -40.0;
        while x < 90.0 {
            assert!((cur.eval(&c, x) - c.eval(x)).abs() < 1e-12, "{x}");
            x += 0.37;
        }
        // Going back down re-scans.
        assert!((cur.eval(&c, -10.0) - 3.5).abs() < 1e-12);
        assert_eq!(cur.eval(&c, 1e9), 0.8);
    }

    #[test]
    fn decay_cache_matches_exp() {
        let mut d = DecayCache::new(0.5);
        assert_eq!(d.factor(0.1), (-0.05f64).exp());
        assert_eq!(d.factor(2.0), (-1.0f64).exp());
    }

    /// The cached `1 − α` and `1 − α²` follow every change of the step, and equal computing
    /// them from `α`, bit for bit.
    #[test]
    fn decay_terms_follow_the_step() {
        let mut d = DecayCache::new(0.37);
        for dt in [0.1, 0.1, 0.25, 0.1, 3.0, 0.0, 0.1] {
            let (a, one_minus, one_minus_sq) = d.factor_terms(dt);
            let want = (-dt * 0.37f64).exp();
            assert_eq!(a.to_bits(), want.to_bits(), "{dt}");
            assert_eq!(one_minus.to_bits(), (1.0 - want).to_bits(), "{dt}");
            assert_eq!(
                one_minus_sq.to_bits(),
                (1.0 - want * want).to_bits(),
                "{dt}"
            );
        }
        // The plain factor keeps the terms up to date too.
        let _ = d.factor(0.5);
        let want = (-0.5 * 0.37f64).exp();
        assert_eq!(d.factor_terms(0.5).1.to_bits(), (1.0 - want).to_bits());
    }

    /// The inline floor and ceil agree with libm bit for bit, on edges and at random.
    #[test]
    fn floor_and_ceil_exact_match_libm() {
        let mut edges = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            1.5,
            -1.5,
            1e-300,
            -1e-300,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            0.999_999_999_999_999_9,
            -0.999_999_999_999_999_9,
            INTEGRAL_FROM,
            -INTEGRAL_FROM,
            INTEGRAL_FROM - 0.5,
            -(INTEGRAL_FROM - 0.5),
            INTEGRAL_FROM * 2.0 + 2.0,
            9.3e18,
            -9.3e18,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -1e-9,
            8.0 - 1e-9,
            8.000_000_001,
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Random bit patterns (every exponent) and random values of modest size.
            edges.push(f64::from_bits(x));
            edges.push(((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 64.0);
        }
        for &v in &edges {
            let (f, c) = (floor_exact(v), ceil_exact(v));
            if v.is_nan() {
                assert!(f.is_nan() && c.is_nan());
                continue;
            }
            assert_eq!(f.to_bits(), v.floor().to_bits(), "floor {v:e}");
            assert_eq!(c.to_bits(), v.ceil().to_bits(), "ceil {v:e}");
        }
    }

    #[test]
    fn slew_is_rate_limited_both_ways() {
        assert_eq!(slew(0.0, 10.0, 3.0, 5.0), 3.0);
        assert_eq!(slew(10.0, 0.0, 3.0, 5.0), 5.0);
        assert_eq!(slew(9.0, 10.0, 3.0, 5.0), 10.0);
    }
}
