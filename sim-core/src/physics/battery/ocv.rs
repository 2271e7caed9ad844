//! Cell chemistries and their open-circuit-voltage curves.
//!
//! Each chemistry has one per-cell OCV table on a uniform SOC grid of 5 % steps
//! (`s_k = k/20`, `k = 0..=20`). Between grid points the OCV is linear:
//!
//! ```text
//! OCV(s) = v_k + (v_{k+1} − v_k) · (20·s − k),      k = ⌊20·s⌋
//! ```
//!
//! Outside `[0, 1]` the end segments are continued linearly (a cell pushed past full keeps
//! rising steeply; the models never rely on this because the BMS holds the highest cell at or
//! below `OCV(1)`).
//!
//! The chemical energy stored per ampere-hour of a cell charged from empty to `s` is the exact
//! integral of the piecewise-linear curve, accumulated once at compile time:
//!
//! ```text
//! W(s) = ∫₀ˢ OCV(σ) dσ          [V = Wh per Ah of capacity]
//!      = W_k + h · (v_k·f + (v_{k+1} − v_k)·f²/2),     h = 0.05, f = 20·s − k
//! ```
//!
//! `OCV(1)` is the full-charge voltage: SOC 100 % is defined as the state a constant-voltage
//! charge at `OCV(1)` approaches as its current tapers to zero. The values are typical of
//! commercial cells (LFP 2.5–3.65 V, NCM 3.0–4.2 V, gbt27930.md §7.1); they are not one vendor's
//! curve.

/// Number of grid points of an OCV table (0 %, 5 %, …, 100 %).
pub const OCV_POINTS: usize = 21;

/// Cell chemistry; selects the OCV table and the BRM battery-type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Chemistry {
    /// Lithium iron phosphate, 2.5–3.65 V. GB/T 27930 BRM battery type `0x03`.
    Lfp,
    /// Lithium nickel-cobalt-manganese oxide (ternary), 3.0–4.2 V. BRM battery type `0x06`.
    Ncm,
}

impl Chemistry {
    /// The per-cell OCV table of this chemistry.
    pub fn ocv(self) -> &'static OcvTable {
        match self {
            Chemistry::Lfp => &LFP,
            Chemistry::Ncm => &NCM,
        }
    }

    /// The GB/T 27930 BRM battery-type code (table 11: `0x03` LFP, `0x06` ternary).
    pub fn brm_code(self) -> u8 {
        match self {
            Chemistry::Lfp => 0x03,
            Chemistry::Ncm => 0x06,
        }
    }
}

/// A per-cell OCV table on the uniform 5 % grid, with its cumulative energy integral.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OcvTable {
    /// OCV in volts at SOC 0 %, 5 %, …, 100 %; non-decreasing.
    pub points_v: [f64; OCV_POINTS],
    /// `W(s_k)` in Wh per Ah at each grid point (see the module docs).
    pub cumulative_wh_per_ah: [f64; OCV_POINTS],
}

const STEP: f64 = 1.0 / (OCV_POINTS - 1) as f64;

impl OcvTable {
    /// Builds the table and its trapezoidal cumulative integral (exact for linear segments).
    pub const fn new(points_v: [f64; OCV_POINTS]) -> Self {
        let mut cumulative_wh_per_ah = [0.0; OCV_POINTS];
        let mut k = 1;
        while k < OCV_POINTS {
            cumulative_wh_per_ah[k] =
                cumulative_wh_per_ah[k - 1] + STEP * 0.5 * (points_v[k - 1] + points_v[k]);
            k += 1;
        }
        OcvTable {
            points_v,
            cumulative_wh_per_ah,
        }
    }

    /// Segment index `k` and the fraction `f = 20·s − k` (outside `[0, 1]` only for `s` outside
    /// `[0, 1]`, which continues the end segment linearly).
    #[inline]
    fn locate(s: f64) -> (usize, f64) {
        let x = s * (OCV_POINTS - 1) as f64;
        // `as` saturates (NaN → 0), `min` keeps the last segment for s ≥ 1.
        // Through i32: a saturating f64 → i32 cast is a few instructions, f64 → usize many more.
        let k = if x > 0.0 {
            (x as i32 as usize).min(OCV_POINTS - 2)
        } else {
            0
        };
        (k, x - k as f64)
    }

    /// Open-circuit voltage of one cell at state of charge `s` (fraction), in volts.
    #[inline]
    pub fn voltage_v(&self, s: f64) -> f64 {
        let (k, f) = Self::locate(s);
        let (a, b) = (self.points_v[k], self.points_v[k + 1]);
        a + (b - a) * f
    }

    /// `W(s)`: chemical energy per Ah of capacity stored from empty to `s`, in Wh/Ah.
    #[inline]
    pub fn energy_wh_per_ah(&self, s: f64) -> f64 {
        let (k, f) = Self::locate(s);
        let (a, b) = (self.points_v[k], self.points_v[k + 1]);
        self.cumulative_wh_per_ah[k] + STEP * (a * f + (b - a) * f * f * 0.5)
    }

    /// `(OCV(s), W(s))` with one segment lookup (the pack's per-step pair).
    #[inline]
    pub fn voltage_and_energy(&self, s: f64) -> (f64, f64) {
        let (k, f) = Self::locate(s);
        let (a, b) = (self.points_v[k], self.points_v[k + 1]);
        let slope = b - a;
        (
            a + slope * f,
            self.cumulative_wh_per_ah[k] + STEP * f * (a + slope * f * 0.5),
        )
    }

    /// The full-charge voltage `OCV(1)`.
    pub fn full_voltage_v(&self) -> f64 {
        self.points_v[OCV_POINTS - 1]
    }

    /// The empty voltage `OCV(0)`.
    pub fn empty_voltage_v(&self) -> f64 {
        self.points_v[0]
    }

    /// Mean OCV over `[0, 1]` (the energy-weighted nominal cell voltage), in volts.
    pub fn mean_voltage_v(&self) -> f64 {
        self.cumulative_wh_per_ah[OCV_POINTS - 1]
    }
}

/// LFP: a steep knee below 10 %, the long 3.26–3.34 V plateau, and the rise to 3.65 V.
static LFP: OcvTable = OcvTable::new([
    2.50, 3.00, 3.15, 3.20, 3.23, 3.25, 3.26, 3.27, 3.28, 3.285, 3.29, 3.295, 3.30, 3.305, 3.31,
    3.315, 3.32, 3.33, 3.34, 3.38, 3.65,
]);

/// NCM: a sloped curve from 3.0 V to 4.2 V, nominal about 3.7 V.
static NCM: OcvTable = OcvTable::new([
    3.00, 3.30, 3.45, 3.52, 3.57, 3.60, 3.62, 3.64, 3.66, 3.68, 3.71, 3.74, 3.78, 3.82, 3.86, 3.90,
    3.95, 4.00, 4.06, 4.12, 4.20,
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_monotone_and_span_the_chemistry() {
        for chem in [Chemistry::Lfp, Chemistry::Ncm] {
            let t = chem.ocv();
            assert!(t.points_v.windows(2).all(|w| w[0] < w[1]), "{chem:?}");
        }
        assert_eq!(Chemistry::Lfp.ocv().full_voltage_v(), 3.65);
        assert_eq!(Chemistry::Ncm.ocv().full_voltage_v(), 4.20);
        assert_eq!(Chemistry::Lfp.ocv().empty_voltage_v(), 2.50);
    }

    #[test]
    fn lookup_hits_grid_points_and_interpolates() {
        let t = Chemistry::Ncm.ocv();
        assert!((t.voltage_v(0.5) - 3.71).abs() < 1e-12);
        assert!((t.voltage_v(0.525) - 3.725).abs() < 1e-12);
        assert!((t.voltage_v(1.0) - 4.20).abs() < 1e-12);
        assert!((t.voltage_v(0.0) - 3.00).abs() < 1e-12);
    }

    #[test]
    fn energy_integral_matches_numeric_quadrature() {
        for chem in [Chemistry::Lfp, Chemistry::Ncm] {
            let t = chem.ocv();
            let n = 200_000;
            let mut acc = 0.0;
            for i in 0..n {
                let s = (i as f64 + 0.5) / n as f64 * 0.73;
                acc += t.voltage_v(s) * 0.73 / n as f64;
            }
            assert!((t.energy_wh_per_ah(0.73) - acc).abs() < 1e-6, "{chem:?}");
            let (v, w) = t.voltage_and_energy(0.73);
            assert!((v - t.voltage_v(0.73)).abs() < 1e-12);
            assert!((w - t.energy_wh_per_ah(0.73)).abs() < 1e-12);
        }
        // The mean voltage is the full integral.
        let lfp = Chemistry::Lfp.ocv();
        assert!((lfp.energy_wh_per_ah(1.0) - lfp.mean_voltage_v()).abs() < 1e-12);
        assert!((lfp.mean_voltage_v() - 3.25925).abs() < 1e-9);
    }

    #[test]
    fn brm_codes() {
        assert_eq!(Chemistry::Lfp.brm_code(), 0x03);
        assert_eq!(Chemistry::Ncm.brm_code(), 0x06);
    }
}
