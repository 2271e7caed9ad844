//! The BMS's charging demand (what it sends in BCL) and its stop decisions (BST).
//!
//! # Constant current (CC)
//!
//! The allowed current comes from a table of C-rates over SOC and temperature, bilinearly
//! interpolated and evaluated at both the coldest and the hottest probe (cold limits lithium
//! plating, heat limits ageing), then capped by the BCP maximum:
//!
//! ```text
//! I_table = min(k(SOC, T_min), k(SOC, T_max)) · Q_nom,     I_CC = min(I_table, I_max,BCP)
//! V_dem   = V_max,BCP                                       (a ceiling; the pack voltage floats)
//! ```
//!
//! # Constant voltage (CV)
//!
//! The highest (weakest) cell must not exceed `V_cv` (default `OCV(1)`). The current at which it
//! would reach it now is, from the pack's element model,
//!
//! ```text
//! I_cell = ((V_cv − OCV(SOC_weak)) / r_weak − V_rc) / R0(T)
//! ```
//!
//! The BMS switches to CV (latched) once `I_cell ≤ min(I_table, I_measured)`, i.e. when the cell
//! limit actually binds. In CV it requests a non-increasing current and the pack voltage at that
//! current, so the charger's voltage regulation and its current limit agree:
//!
//! ```text
//! I_CV ← min(I_CV, I_cell, I_table),     V_dem = V_pack(I_CV)
//! ```
//!
//! Because `OCV(SOC_weak) ≤ V_cv = OCV(1)` whenever the current is non-negative, the weakest
//! cell — and so the pack SOC — never passes 100 %.
//!
//! # Stop (BST)
//!
//! Latched, first match wins: hottest probe ≥ BCP max temperature (battery over-temperature),
//! highest cell > BCP max cell voltage (voltage abnormal), SOC ≥ target (SOC target reached),
//! CV current ≤ `cutoff_c_rate · Q_nom` (cell-voltage setpoint reached: full).

use crate::physics::battery::{BatteryPack, Chemistry};
use crate::physics::common::{Checks, InvalidParams};
use std::sync::Arc;

/// Number of SOC breakpoints of a [`DemandTable`].
pub const DEMAND_SOC_POINTS: usize = 6;
/// Number of temperature breakpoints of a [`DemandTable`].
pub const DEMAND_TEMPERATURE_POINTS: usize = 7;

/// Allowed charging C-rate over SOC (columns) and temperature (rows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemandTable {
    /// SOC breakpoints, fraction, strictly increasing.
    pub soc: [f64; DEMAND_SOC_POINTS],
    /// Temperature breakpoints, °C, strictly increasing.
    pub temperature_c: [f64; DEMAND_TEMPERATURE_POINTS],
    /// `c_rate[t][s]`: allowed current as a multiple of the nominal element capacity (1/h).
    pub c_rate: [[f64; DEMAND_SOC_POINTS]; DEMAND_TEMPERATURE_POINTS],
}

/// Segment index and fraction of `x` in `axis`, held flat outside.
fn locate<const N: usize>(axis: &[f64; N], x: f64) -> (usize, f64) {
    if N < 2 || x <= axis[0] {
        return (0, 0.0);
    }
    for k in 1..N {
        if x <= axis[k] {
            return (k - 1, (x - axis[k - 1]) / (axis[k] - axis[k - 1]));
        }
    }
    (N - 2, 1.0)
}

/// [`locate`], trying the segment `hint` first (slowly drifting inputs stay in one segment);
/// updates the hint. Same result as [`locate`].
fn locate_hinted<const N: usize>(axis: &[f64; N], x: f64, hint: &mut usize) -> (usize, f64) {
    let h = *hint;
    if h + 1 < N && x > axis[h] && x <= axis[h + 1] {
        return (h, (x - axis[h]) / (axis[h + 1] - axis[h]));
    }
    let found = locate(axis, x);
    *hint = found.0;
    found
}

/// Segment hints for the three lookups of one demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct TableHints {
    soc: usize,
    t_lo: usize,
    t_hi: usize,
}

/// The cells of a [`DemandTable`] (between neighbouring breakpoints on both axes) whose four
/// corners hold the same C-rate. Inside such a cell the bilinear interpolation returns that
/// rate exactly, whatever the fractions (`v + (v − v)·f = v + 0 = v`), so a lookup that stays
/// in it needs neither the fractions nor the interpolation. A corner of −0.0 would come out as
/// +0.0, so such cells do not count as flat.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FlatCells {
    /// `rate[t][s]`: the rate of the cell from temperature breakpoint `t` and SOC breakpoint
    /// `s` if flat, else NaN.
    rate: [[f64; DEMAND_SOC_POINTS - 1]; DEMAND_TEMPERATURE_POINTS - 1],
}

impl FlatCells {
    fn of(table: &DemandTable) -> Self {
        let mut rate = [[f64::NAN; DEMAND_SOC_POINTS - 1]; DEMAND_TEMPERATURE_POINTS - 1];
        for (row, rows) in rate.iter_mut().zip(table.c_rate.windows(2)) {
            for (s, cell) in row.iter_mut().enumerate() {
                let corners = [
                    rows[0].get(s),
                    rows[0].get(s + 1),
                    rows[1].get(s),
                    rows[1].get(s + 1),
                ];
                let Some(&v) = corners[0] else { continue };
                let same = corners
                    .iter()
                    .all(|c| c.is_some_and(|c| c.to_bits() == v.to_bits()));
                // Finite and not −0.0 (+0.0 is its own sum with +0.0).
                if same && v.is_finite() && (v > 0.0 || v.to_bits() == 0) {
                    *cell = v;
                }
            }
        }
        FlatCells { rate }
    }

    /// The rate of the cell `(t, s)` if it is flat.
    fn get(&self, t: usize, s: usize) -> Option<f64> {
        self.rate
            .get(t)
            .and_then(|r| r.get(s))
            .copied()
            .filter(|v| !v.is_nan())
    }
}

/// The segment `hint` if `x` lies inside it (`axis[h] < x ≤ axis[h+1]`, where
/// [`locate_hinted`] would return it unchanged).
fn inside_hint<const N: usize>(axis: &[f64; N], x: f64, hint: usize) -> Option<usize> {
    match (axis.get(hint), axis.get(hint + 1)) {
        (Some(&a), Some(&b)) if x > a && x <= b => Some(hint),
        _ => None,
    }
}

impl DemandTable {
    /// The allowed C-rate at `soc` (fraction) and `temperature_c`, bilinear, flat outside.
    pub fn c_rate_at(&self, soc: f64, temperature_c: f64) -> f64 {
        self.c_rate_located(
            locate(&self.soc, soc),
            locate(&self.temperature_c, temperature_c),
        )
    }

    /// `min(k(SOC, T_lo), k(SOC, T_hi))`, locating the SOC once.
    pub fn min_c_rate(&self, soc: f64, t_lo_c: f64, t_hi_c: f64) -> f64 {
        self.min_c_rate_hinted(soc, t_lo_c, t_hi_c, &mut TableHints::default())
    }

    fn min_c_rate_hinted(&self, soc: f64, t_lo_c: f64, t_hi_c: f64, h: &mut TableHints) -> f64 {
        let s = locate_hinted(&self.soc, soc, &mut h.soc);
        let lo = self.c_rate_located(s, locate_hinted(&self.temperature_c, t_lo_c, &mut h.t_lo));
        let hi = self.c_rate_located(s, locate_hinted(&self.temperature_c, t_hi_c, &mut h.t_hi));
        lo.min(hi)
    }

    fn c_rate_located(&self, (s, fs): (usize, f64), (t, ft): (usize, f64)) -> f64 {
        let row = |r: &[f64; DEMAND_SOC_POINTS]| {
            let b = r.get(s + 1).copied().unwrap_or(r[s]);
            r[s] + (b - r[s]) * fs
        };
        let lo = row(&self.c_rate[t]);
        let hi = self.c_rate.get(t + 1).map_or(lo, row);
        lo + (hi - lo) * ft
    }

    /// Typical LFP limits: 0.05 C below −10 °C, 0.15 C near 0 °C, up to 1.5 C at 20–40 °C,
    /// tapering above 80 % SOC, none from 55 °C.
    pub const fn lfp() -> Self {
        DemandTable {
            soc: [0.0, 0.5, 0.7, 0.8, 0.9, 1.0],
            temperature_c: [-10.0, 0.0, 10.0, 20.0, 40.0, 50.0, 55.0],
            c_rate: [
                [0.05, 0.05, 0.05, 0.05, 0.05, 0.05],
                [0.15, 0.15, 0.15, 0.12, 0.10, 0.05],
                [0.50, 0.50, 0.40, 0.30, 0.20, 0.10],
                [1.50, 1.50, 1.20, 1.00, 0.50, 0.30],
                [1.50, 1.50, 1.20, 1.00, 0.50, 0.30],
                [0.50, 0.50, 0.40, 0.30, 0.20, 0.10],
                [0.00, 0.00, 0.00, 0.00, 0.00, 0.00],
            ],
        }
    }

    /// Typical NCM limits: up to 2 C at low SOC and 20–40 °C, tapering from 50 % SOC, none from
    /// 55 °C.
    pub const fn ncm() -> Self {
        DemandTable {
            soc: [0.0, 0.5, 0.7, 0.8, 0.9, 1.0],
            temperature_c: [-10.0, 0.0, 10.0, 20.0, 40.0, 50.0, 55.0],
            c_rate: [
                [0.05, 0.05, 0.05, 0.05, 0.05, 0.05],
                [0.20, 0.20, 0.15, 0.12, 0.10, 0.05],
                [0.60, 0.60, 0.50, 0.40, 0.25, 0.10],
                [2.00, 1.60, 1.20, 0.80, 0.40, 0.20],
                [2.00, 1.60, 1.20, 0.80, 0.40, 0.20],
                [0.60, 0.60, 0.50, 0.40, 0.25, 0.10],
                [0.00, 0.00, 0.00, 0.00, 0.00, 0.00],
            ],
        }
    }

    fn check(&self, c: &mut Checks) {
        let inc = |a: &[f64]| a.windows(2).all(|w| w[0] < w[1]) && a.iter().all(|v| v.is_finite());
        c.check(inc(&self.soc), "demand.soc", || {
            format!("must be finite and strictly increasing, got {:?}", self.soc)
        });
        c.check(inc(&self.temperature_c), "demand.temperature_c", || {
            format!(
                "must be finite and strictly increasing, got {:?}",
                self.temperature_c
            )
        });
        let ok = self
            .c_rate
            .iter()
            .flatten()
            .all(|v| v.is_finite() && (0.0..=10.0).contains(v));
        c.check(ok, "demand.c_rate", || {
            "every C-rate must be within [0, 10]".to_string()
        });
    }
}

/// Charging strategy of the BMS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BmsParams {
    /// CC current table.
    pub demand: DemandTable,
    /// Highest-cell voltage held in CV, V; at most the chemistry's full-charge OCV.
    pub cv_cell_voltage_v: f64,
    /// CV ends (full) when the requested current falls to this multiple of `Q_nom`, 1/h.
    pub cutoff_c_rate: f64,
}

impl Default for BmsParams {
    /// The LFP strategy, [`BmsParams::lfp`].
    fn default() -> Self {
        Self::lfp()
    }
}

impl BmsParams {
    /// LFP: CV at 3.65 V per cell, stop at C/20.
    pub fn lfp() -> Self {
        BmsParams {
            demand: DemandTable::lfp(),
            cv_cell_voltage_v: Chemistry::Lfp.ocv().full_voltage_v(),
            cutoff_c_rate: 0.05,
        }
    }

    /// NCM: CV at 4.20 V per cell, stop at C/20.
    pub fn ncm() -> Self {
        BmsParams {
            demand: DemandTable::ncm(),
            cv_cell_voltage_v: Chemistry::Ncm.ocv().full_voltage_v(),
            cutoff_c_rate: 0.05,
        }
    }

    /// The default strategy for `chemistry`.
    pub fn for_chemistry(chemistry: Chemistry) -> Self {
        match chemistry {
            Chemistry::Lfp => Self::lfp(),
            Chemistry::Ncm => Self::ncm(),
        }
    }

    /// Checks the parameters against the pack chemistry they will drive.
    pub fn validate(&self, chemistry: Chemistry) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        self.demand.check(&mut c);
        let ocv = chemistry.ocv();
        c.within(
            "cv_cell_voltage_v",
            self.cv_cell_voltage_v,
            ocv.empty_voltage_v(),
            ocv.full_voltage_v(),
        );
        c.within("cutoff_c_rate", self.cutoff_c_rate, 0.001, 1.0);
        c.finish()
    }
}

/// BCL charging mode (SPN 3074).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChargeMode {
    /// Constant current; BCL mode `0x02`.
    ConstantCurrent,
    /// Constant voltage; BCL mode `0x01`.
    ConstantVoltage,
}

/// Why the BMS stopped the charge (maps onto BST, gbt27930.md §3.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BmsStopReason {
    /// BST byte 1 bits 1–2: SOC target reached.
    SocTargetReached,
    /// BST byte 1 bits 5–6: cell-voltage setpoint reached (CV taper finished: full).
    Full,
    /// BST byte 3 bits 1–2: battery pack over-temperature.
    OverTemperature,
    /// BST byte 4 bits 3–4: voltage abnormal (a cell above the BCP max cell voltage).
    CellOverVoltage,
}

/// One BCL demand plus the stop decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChargeDemand {
    /// Voltage demand (SPN 3072), V: a ceiling in CC, the regulation target in CV.
    pub voltage_v: f64,
    /// Current demand (SPN 3073), A, positive = charging; 0 once stopped.
    pub current_a: f64,
    /// Charging mode (SPN 3074).
    pub mode: ChargeMode,
    /// `Some` once the BMS has decided to stop (latched).
    pub stop: Option<BmsStopReason>,
}

/// The BMS charge controller. Stateful: CV and stop are latched; `reset` starts a new session.
#[derive(Debug, Clone, PartialEq)]
pub struct Bms {
    /// Shared between the BMSs of one profile: the table is 440 bytes and read every tick.
    params: Arc<BmsParams>,
    q_nom_ah: f64,
    max_current_a: f64,
    max_charge_voltage_v: f64,
    max_cell_voltage_v: f64,
    max_temperature_c: f64,
    mode: ChargeMode,
    cv_current_a: f64,
    stop: Option<BmsStopReason>,
    hints: TableHints,
    /// The flat cells of `params.demand` (fixed with the shared parameters).
    flat: FlatCells,
}

impl Bms {
    /// A BMS for `pack` (reads its BCP limits and chemistry) with its own copy of `params`.
    pub fn new(params: &BmsParams, pack: &BatteryPack) -> Result<Self, InvalidParams> {
        Self::new_shared(Arc::new(*params), pack)
    }

    /// A BMS for `pack` sharing `params` with other BMSs (saves memory and cache across a fleet).
    pub fn new_shared(params: Arc<BmsParams>, pack: &BatteryPack) -> Result<Self, InvalidParams> {
        params.validate(pack.chemistry())?;
        let l = pack.limits();
        Ok(Bms {
            flat: FlatCells::of(&params.demand),
            params,
            q_nom_ah: l.rated_capacity_ah,
            max_current_a: l.max_charge_current_a,
            max_charge_voltage_v: l.max_charge_voltage_v,
            max_cell_voltage_v: l.max_cell_voltage_v,
            max_temperature_c: l.max_temperature_c,
            mode: ChargeMode::ConstantCurrent,
            cv_current_a: f64::INFINITY,
            stop: None,
            hints: TableHints::default(),
        })
    }

    /// Forgets the latched mode and stop (a new charging session).
    pub fn reset(&mut self) {
        self.mode = ChargeMode::ConstantCurrent;
        self.cv_current_a = f64::INFINITY;
        self.stop = None;
    }

    /// The latched stop reason, if any.
    pub fn stop_reason(&self) -> Option<BmsStopReason> {
        self.stop
    }

    /// The present mode.
    pub fn mode(&self) -> ChargeMode {
        self.mode
    }

    /// CC table current at the pack's SOC and probe temperatures, capped by BCP, A.
    pub fn table_current_a(&self, pack: &BatteryPack) -> f64 {
        let (t_lo, t_hi) = pack.probe_temperature_range_c();
        let k = self.params.demand.min_c_rate(pack.soc(), t_lo, t_hi);
        (k * self.q_nom_ah).min(self.max_current_a)
    }

    fn check_stop(
        &self,
        soc: f64,
        v_cell_max: f64,
        t_hi: f64,
        target_soc: f64,
    ) -> Option<BmsStopReason> {
        if t_hi >= self.max_temperature_c {
            Some(BmsStopReason::OverTemperature)
        } else if v_cell_max > self.max_cell_voltage_v {
            Some(BmsStopReason::CellOverVoltage)
        } else if soc >= target_soc {
            Some(BmsStopReason::SocTargetReached)
        } else {
            None
        }
    }

    /// `min(k(SOC, T_lo), k(SOC, T_hi))` as [`DemandTable::min_c_rate`] computes it, bit for
    /// bit: when all three lookups stay in their hinted segments and both cells are flat, the
    /// rates are read off [`FlatCells`] (the hints would not change either).
    fn table_rate(&mut self, soc: f64, t_lo: f64, t_hi: f64) -> f64 {
        let d = &self.params.demand;
        let h = self.hints;
        if let (Some(s), Some(a), Some(b)) = (
            inside_hint(&d.soc, soc, h.soc),
            inside_hint(&d.temperature_c, t_lo, h.t_lo),
            inside_hint(&d.temperature_c, t_hi, h.t_hi),
        ) && let (Some(lo), Some(hi)) = (self.flat.get(a, s), self.flat.get(b, s))
        {
            return lo.min(hi);
        }
        d.min_c_rate_hinted(soc, t_lo, t_hi, &mut self.hints)
    }

    /// The demand for this tick (call once per tick, before the charger steps). `target_soc` is
    /// a fraction; 1.0 charges until full. O(1).
    pub fn demand(&mut self, pack: &BatteryPack, target_soc: f64) -> ChargeDemand {
        let soc = pack.soc();
        let (t_lo, t_hi) = pack.probe_temperature_range_c();
        if self.stop.is_none() {
            // While charging the weakest element is the highest (battery module docs).
            self.stop = self.check_stop(soc, pack.weakest_cell_voltage_v(), t_hi, target_soc);
        }
        if let Some(stop) = self.stop {
            return ChargeDemand {
                voltage_v: pack.terminal_voltage_v(0.0),
                current_a: 0.0,
                mode: self.mode,
                stop: Some(stop),
            };
        }
        let k = self.table_rate(soc, t_lo, t_hi);
        let i_table = (k * self.q_nom_ah).min(self.max_current_a);
        let i_cell = pack.current_for_max_cell_voltage_a(self.params.cv_cell_voltage_v);
        // CV starts as soon as the cell-voltage limit, not the table, bounds the current.
        // Checking against the table (not the present current) matters when a shared
        // cabinet holds the current low: otherwise the demand stays at the table value and
        // the current overshoots the cell limit the moment power frees up.
        if self.mode == ChargeMode::ConstantCurrent && i_cell <= i_table {
            self.mode = ChargeMode::ConstantVoltage;
            self.cv_current_a = i_table;
        }
        match self.mode {
            ChargeMode::ConstantCurrent => ChargeDemand {
                voltage_v: self.max_charge_voltage_v,
                current_a: i_table.min(i_cell.max(0.0)),
                mode: ChargeMode::ConstantCurrent,
                stop: None,
            },
            ChargeMode::ConstantVoltage => {
                self.cv_current_a = self.cv_current_a.min(i_cell).min(i_table).max(0.0);
                if self.cv_current_a <= self.params.cutoff_c_rate * self.q_nom_ah {
                    self.stop = Some(BmsStopReason::Full);
                    return ChargeDemand {
                        voltage_v: pack.terminal_voltage_v(0.0),
                        current_a: 0.0,
                        mode: ChargeMode::ConstantVoltage,
                        stop: self.stop,
                    };
                }
                ChargeDemand {
                    voltage_v: pack.terminal_voltage_v(self.cv_current_a),
                    current_a: self.cv_current_a,
                    mode: ChargeMode::ConstantVoltage,
                    stop: None,
                }
            }
        }
    }

    /// Estimated time to reach `target_soc` at the pack's last current (BCS SPN 3079 wants
    /// minutes, 0–600), s. A CV tail is not anticipated; `None` when not charging.
    pub fn remaining_time_s(&self, pack: &BatteryPack, target_soc: f64) -> Option<f64> {
        let i = pack.last_current_a();
        if i <= 0.0 {
            return None;
        }
        let missing_ah = (target_soc.min(1.0) - pack.soc()).max(0.0) * pack.capacity_ah();
        Some(missing_ah / i * 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::battery::{BatteryParams, PackInit};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn pack_at(soc: f64, temp: f64) -> BatteryPack {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let p = BatteryParams::lfp_car_60kwh();
        BatteryPack::new(&p, PackInit::soaked(soc, temp), &mut rng).unwrap()
    }

    #[test]
    fn table_interpolates_bilinearly_and_holds_ends() {
        let t = DemandTable::lfp();
        assert_eq!(t.c_rate_at(0.3, 30.0), 1.5);
        assert!((t.c_rate_at(0.75, 30.0) - 1.1).abs() < 1e-12);
        assert!((t.c_rate_at(0.3, 5.0) - 0.325).abs() < 1e-12);
        assert_eq!(t.c_rate_at(0.3, -40.0), 0.05);
        assert_eq!(t.c_rate_at(0.3, 90.0), 0.0);
        assert_eq!(t.c_rate_at(1.5, 30.0), 0.3);
        assert_eq!(t.min_c_rate(0.3, 5.0, 30.0), t.c_rate_at(0.3, 5.0));
        // Hinted lookups agree with plain ones along a drifting path.
        let mut h = TableHints::default();
        let (mut soc, mut temp) = (0.0, -20.0);
        while soc < 1.2 {
            let a = t.min_c_rate_hinted(soc, temp, temp + 3.0, &mut h);
            assert_eq!(a, t.c_rate_at(soc, temp).min(t.c_rate_at(soc, temp + 3.0)));
            soc += 0.013;
            temp += 0.9;
        }
    }

    /// The flat-cell shortcut returns what the interpolation returns, bit for bit, on the
    /// bundled tables and on one with −0.0 and +0.0 corners, along drifting paths (hints
    /// kept) and at random jumps (hints missed).
    #[test]
    fn flat_cells_change_no_rate() {
        let mut odd = DemandTable::lfp();
        odd.c_rate[0] = [-0.0; DEMAND_SOC_POINTS];
        odd.c_rate[1] = [-0.0, -0.0, 0.0, 0.0, 0.0, 0.0];
        for table in [DemandTable::lfp(), DemandTable::ncm(), odd] {
            let params = BmsParams {
                demand: table,
                ..BmsParams::lfp()
            };
            let mut bms = Bms::new(&params, &pack_at(0.3, 25.0)).unwrap();
            let mut x: u64 = 12345;
            let mut next = move || {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (x >> 11) as f64 / (1u64 << 53) as f64
            };
            let (mut soc, mut temp) = (-0.1, -20.0);
            let mut flat_hits = 0;
            for k in 0..40_000 {
                if k % 97 == 0 {
                    soc = next() * 1.3 - 0.1;
                    temp = next() * 90.0 - 25.0;
                } else {
                    soc += 0.0007;
                    temp += 0.011;
                }
                let spread = next() * 4.0;
                let want = table.min_c_rate(soc, temp, temp + spread);
                let h = bms.hints;
                let got = bms.table_rate(soc, temp, temp + spread);
                assert_eq!(got.to_bits(), want.to_bits(), "{soc} {temp} {spread}");
                flat_hits += u32::from(bms.hints == h);
            }
            assert!(flat_hits > 0);
        }
    }

    #[test]
    fn cc_demand_is_table_capped_by_bcp() {
        let pack = pack_at(0.3, 25.0);
        let mut bms = Bms::new(&BmsParams::lfp(), &pack).unwrap();
        let d = bms.demand(&pack, 1.0);
        assert_eq!(d.mode, ChargeMode::ConstantCurrent);
        assert_eq!(d.current_a, 247.5f64.min(250.0));
        assert_eq!(d.voltage_v, 421.8);
        assert_eq!(d.stop, None);
    }

    #[test]
    fn cold_pack_is_derated() {
        let pack = pack_at(0.3, 3.0);
        let bms = Bms::new(&BmsParams::lfp(), &pack).unwrap();
        let i = bms.table_current_a(&pack);
        // The real cold LFP trace asked for 20–36 A (gbt27930.md §7.3).
        assert!(i > 15.0 && i < 60.0, "{i}");
    }

    #[test]
    fn target_soc_stops_and_latches() {
        let pack = pack_at(0.8, 25.0);
        let mut bms = Bms::new(&BmsParams::lfp(), &pack).unwrap();
        let d = bms.demand(&pack, 0.8);
        assert_eq!(d.stop, Some(BmsStopReason::SocTargetReached));
        assert_eq!(d.current_a, 0.0);
        assert_eq!(
            bms.demand(&pack, 1.0).stop,
            Some(BmsStopReason::SocTargetReached)
        );
        bms.reset();
        assert_eq!(bms.demand(&pack, 1.0).stop, None);
    }

    #[test]
    fn hot_pack_stops() {
        let pack = pack_at(0.5, 70.0);
        let mut bms = Bms::new(&BmsParams::lfp(), &pack).unwrap();
        assert_eq!(
            bms.demand(&pack, 1.0).stop,
            Some(BmsStopReason::OverTemperature)
        );
    }

    #[test]
    fn full_pack_stops_as_full() {
        let mut pack = pack_at(1.0, 25.0);
        let mut bms = Bms::new(&BmsParams::lfp(), &pack).unwrap();
        // A full pack at rest: the weakest cell sits at the CV voltage, so any current is too
        // much; after one tick of current the BMS is in CV with nothing left to give.
        pack.step(0.1, 1.0);
        let d = bms.demand(&pack, 1.01);
        assert_eq!(d.stop, Some(BmsStopReason::Full));
    }

    #[test]
    fn cv_voltage_above_full_ocv_is_rejected() {
        let mut p = BmsParams::lfp();
        p.cv_cell_voltage_v = 3.7;
        assert!(p.validate(Chemistry::Lfp).is_err());
        assert!(BmsParams::ncm().validate(Chemistry::Ncm).is_ok());
        assert!(BmsParams::default().validate(Chemistry::Lfp).is_ok());
    }

    #[test]
    fn shared_params_behave_like_owned() {
        let pack = pack_at(0.3, 25.0);
        let shared = Arc::new(BmsParams::lfp());
        let mut a = Bms::new_shared(Arc::clone(&shared), &pack).unwrap();
        let mut b = Bms::new(&BmsParams::lfp(), &pack).unwrap();
        assert_eq!(a.demand(&pack, 1.0), b.demand(&pack, 1.0));
        assert_eq!(Arc::strong_count(&shared), 2);
    }

    #[test]
    fn remaining_time_uses_last_current() {
        let mut pack = pack_at(0.5, 25.0);
        let bms = Bms::new(&BmsParams::lfp(), &pack).unwrap();
        assert_eq!(bms.remaining_time_s(&pack, 1.0), None);
        pack.step(0.1, 100.0);
        let t = bms.remaining_time_s(&pack, 0.8).unwrap();
        let expected = (0.8 - pack.soc()) * pack.capacity_ah() / 100.0 * 3600.0;
        assert!((t - expected).abs() < 1e-9);
    }
}
