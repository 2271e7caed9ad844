//! Battery pack: equivalent circuit, charge and energy bookkeeping, lumped thermal model and
//! analytic cell-to-cell spread.
//!
//! # Equivalent circuit (per series element, then × N)
//!
//! Every element is a Thevenin model: OCV source, ohmic `R0` and one RC pair `R1 ∥ C1`.
//! With `I` the current into the pack (A, **positive = charging**) and `q` the charge each
//! element holds since empty (Ah; all elements carry the same series current and the pack is
//! taken as bottom-balanced, so `q` is common):
//!
//! ```text
//! dq/dt      = I / 3600                                    [Ah/s]
//! dV_rc/dt   = (I·R1 − V_rc) / τ,       τ = R1·C1          [V/s]
//! V_element  = OCV(q/Q) + I·R0(T) + V_rc                   [V]
//! V_pack     = N · V_element(nominal element)              [V]
//! ```
//!
//! Element values: `Q = P·Q_cell`, `R0 = R0_cell/P`, `R1 = R1_cell/P`, `C1 = P·C1_cell`
//! (P cells in parallel). `R0(T) = R0 · f(T)` with the table `r0_temperature_factor`.
//! `V_rc` is advanced with the exact solution for `I` constant over the step
//! (`α = e^(−Δt/τ)`): `V_rc ← I·R1 + (V_rc − I·R1)·α`.
//!
//! # Energy bookkeeping (all in Wh, exact per step for `I` constant over the step)
//!
//! ```text
//! E_chem(q)     = N · Q · W(q/Q)                   W = ∫ OCV ds (see [`ocv`])
//! E_ohmic      += N · I²·R0(T)·Δt / 3600
//! E_rc_loss    += N · ∫ V_rc²/R1 dt / 3600         (closed form of the exponential)
//! E_rc_stored   = N · ½·C1·V_rc² / 3600
//! E_terminal   += ΔE_chem + ΔE_ohmic + ΔE_rc_loss + ΔE_rc_stored
//! ```
//!
//! so `E_terminal = ΔE_chem + E_ohmic + E_rc_loss + ΔE_rc_stored` holds to rounding. The step
//! returns the *average* terminal voltage `V̄ = ΔE_terminal·3600 / (I·Δt)`, which is what an
//! energy meter integrating `V̄·I·Δt` must see for conservation to hold.
//!
//! # Lumped thermal model
//!
//! ```text
//! C_th · dT/dt = P_loss − h·(T − T_amb),   P_loss = N·(I²·R0(T) + V_rc²/R1)   [W]
//! T ← T_∞ + (T − T_∞)·e^(−Δt·h/C_th),      T_∞ = T_amb + P̄_loss/h
//! ```
//!
//! The update is a convex combination of `T` and `T_∞`, so the pack temperature stays within
//! `[min(T₀, T_amb), max(T₀, T_amb + P_max/h)]` with `P_max` the largest loss ever applied; no
//! clamping is needed. Reversible (entropic) heat is neglected.
//!
//! # Cell-to-cell spread (O(1) per tick)
//!
//! Each element `i` has one bounded, centred spread value `z_i` ([`spread`](crate::physics::spread), σ = 1) that sets
//! both its capacity and its resistance — weak cells are both smaller and more resistive:
//!
//! ```text
//! c_i = 1 − σ_c·z_i          Q_i = c_i·Q          SOC_i = q / Q_i
//! r_i = 1 + σ_r·z_i          V_i = OCV(SOC_i) + r_i·(I·R0(T) + V_rc)
//! ```
//!
//! (the RC pair of element `i` is `r_i·R1 ∥ C1/r_i`, same `τ`, so its voltage is `r_i·V_rc`).
//! Because `Σ z_i = 0`, `Σ r_i = N` and the pack voltage uses the nominal element. With `q ≥ 0`
//! and `I·R0 + V_rc ≥ 0` (charging, or resting after charging) `V_i` is non-decreasing in `z_i`,
//! so the highest cell is always `argmax z` (the weakest) and the lowest `argmin z`: the pack
//! tracks only those two elements and is exact, not sampled. The pack SOC is the weakest
//! element's, `SOC = q / Q_weak`: the pack is full when its weakest cell is.
//!
//! Temperature probe `j` reads `T + σ_T·z'_j` (a second spread stream), so the hottest and
//! coldest probes are fixed at construction.

pub mod ocv;
pub mod params;

pub use ocv::{Chemistry, OCV_POINTS, OcvTable};
pub use params::{BatteryParams, DEFAULT_R0_TEMPERATURE_FACTOR};

use crate::physics::common::{Cursor, Curve, DecayCache, InvalidParams};
use crate::physics::spread::SpreadSummary;
use thiserror::Error;

/// Why a pack could not be built.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BatteryError {
    /// The parameters failed [`BatteryParams::validate`].
    #[error(transparent)]
    InvalidParams(#[from] InvalidParams),
    /// The initial SOC is outside `[0, 1]`.
    #[error("initial SOC {soc} is outside [0, 1]")]
    InitialSocOutOfRange {
        /// The SOC received (fraction).
        soc: f64,
    },
    /// The initial or ambient temperature is not finite or outside −60…+100 °C.
    #[error("temperature {temperature_c} °C is not a plausible pack or ambient temperature")]
    TemperatureOutOfRange {
        /// The temperature received, °C.
        temperature_c: f64,
    },
}

/// Initial state of a pack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackInit {
    /// Pack SOC (weakest element), fraction 0–1.
    pub soc: f64,
    /// Pack temperature, °C.
    pub temperature_c: f64,
    /// Ambient temperature, °C.
    pub ambient_c: f64,
}

impl PackInit {
    /// A pack at `soc` soaked at `ambient_c`.
    pub fn soaked(soc: f64, ambient_c: f64) -> Self {
        PackInit {
            soc,
            temperature_c: ambient_c,
            ambient_c,
        }
    }
}

/// The BCP limits of a pack (what the BMS tells the charger).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackLimits {
    /// Max allowed cell charging voltage (SPN 2816), V.
    pub max_cell_voltage_v: f64,
    /// Max allowed charging current (SPN 2817), A.
    pub max_charge_current_a: f64,
    /// Nominal total energy (SPN 2818), Wh.
    pub nominal_energy_wh: f64,
    /// Max allowed total charging voltage (SPN 2819), V.
    pub max_charge_voltage_v: f64,
    /// Max allowed battery temperature (SPN 2820), °C.
    pub max_temperature_c: f64,
    /// Rated capacity (BRM), Ah: the nominal element capacity.
    pub rated_capacity_ah: f64,
    /// Rated total voltage (BRM), V.
    pub rated_voltage_v: f64,
}

/// Extreme cells and probes (BCS/BSM/BSD, DB4403 `BmsInfo`), evaluated at the last current.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellExtremes {
    /// Highest element voltage, V.
    pub max_cell_voltage_v: f64,
    /// Its 0-based element index (BSM sends index + 1).
    pub max_cell_index: u16,
    /// Its group number 0–15 (BCS).
    pub max_cell_group: u8,
    /// Lowest element voltage, V.
    pub min_cell_voltage_v: f64,
    /// Its 0-based element index.
    pub min_cell_index: u16,
    /// Highest probe temperature, °C.
    pub max_temperature_c: f64,
    /// Its 0-based probe index (BSM sends index + 1).
    pub max_temperature_probe: u8,
    /// Lowest probe temperature, °C.
    pub min_temperature_c: f64,
    /// Its 0-based probe index.
    pub min_temperature_probe: u8,
}

/// Energy accounting since construction, Wh.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PackEnergy {
    /// Energy that entered at the terminals, `∫ V·I dt`.
    pub terminal_wh: f64,
    /// Change of chemical energy `E_chem(q) − E_chem(q₀)`.
    pub chemical_wh: f64,
    /// Heat in the ohmic resistances.
    pub ohmic_loss_wh: f64,
    /// Heat in the RC-pair resistances.
    pub rc_loss_wh: f64,
    /// Change of the energy held in the RC capacitors.
    pub rc_stored_wh: f64,
}

impl PackEnergy {
    /// `terminal − (chemical + losses + stored)`: zero up to rounding.
    pub fn residual_wh(&self) -> f64 {
        self.terminal_wh
            - (self.chemical_wh + self.ohmic_loss_wh + self.rc_loss_wh + self.rc_stored_wh)
    }
}

/// What one pack step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackStep {
    /// Current applied, A (positive = charging).
    pub current_a: f64,
    /// Average terminal voltage over the step, V (`ΔE_terminal / (I·Δt)`; the instantaneous
    /// end-of-step value when `I = 0`).
    pub terminal_voltage_v: f64,
    /// Average heat generated over the step, W.
    pub heat_w: f64,
}

/// Spread of one kind (cells or probes): seed, scan summary and scale.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    seed: u64,
    summary: SpreadSummary,
}

/// Values that depend only on the state, refreshed once per step so queries are loads.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Derived {
    /// Element `R0(T)`, Ω.
    r0_ohm: f64,
    /// OCV of the nominal, weakest and strongest elements, V.
    ocv_mean_v: f64,
    ocv_weak_v: f64,
}

impl Spread {
    /// Draws a seed from `rng` (one `next_u64`) and scans `count` elements once.
    fn draw(rng: &mut impl rand::Rng, count: u32) -> Self {
        let seed = rng.next_u64();
        Spread {
            seed,
            summary: SpreadSummary::scan(seed, count),
        }
    }
}

impl PackLimits {
    fn from_params(params: &BatteryParams) -> Self {
        PackLimits {
            max_cell_voltage_v: params.max_cell_voltage_v,
            max_charge_current_a: params.max_charge_current_a,
            nominal_energy_wh: params.nominal_energy_wh(),
            max_charge_voltage_v: params.max_charge_voltage_v,
            max_temperature_c: params.max_temperature_c,
            rated_capacity_ah: params.element_capacity_ah(),
            rated_voltage_v: params.nominal_voltage_v(),
        }
    }
}

/// A battery pack; see the module docs for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct BatteryPack {
    chemistry: Chemistry,
    n_series: f64,
    /// `n_series · q_nom_ah`, the chemical energy's scale (multiplied in that order).
    n_q_nom_ah: f64,
    /// `n_series / 3600`: J per element to Wh per pack.
    n_per_wh: f64,
    cells_series: u16,
    temperature_probes: u8,
    cell_groups: u8,
    r0_factor: Curve<7>,
    r0_cursor: Cursor,
    q_nom_ah: f64,
    q_weak_ah: f64,
    inv_q_nom: f64,
    inv_q_weak: f64,
    inv_q_strong: f64,
    max_cell_group: u8,
    r0_ohm: f64,
    r1_ohm: f64,
    c1_f: f64,
    tau_s: f64,
    r_weak: f64,
    r_strong: f64,
    capacity_spread: f64,
    resistance_spread: f64,
    probe_spread_c: f64,
    cells: Spread,
    probes: Spread,
    inv_cooling: f64,
    rc_decay: DecayCache,
    thermal_decay: DecayCache,
    limits: PackLimits,
    // State.
    q_ah: f64,
    v_rc: f64,
    temperature_c: f64,
    ambient_c: f64,
    last_current_a: f64,
    last_terminal_voltage_v: f64,
    e_chem_wh: f64,
    e_chem0_wh: f64,
    energy: PackEnergy,
    now: Derived,
}

fn plausible_temperature(t: f64) -> Result<(), BatteryError> {
    if t.is_finite() && (-60.0..=100.0).contains(&t) {
        Ok(())
    } else {
        Err(BatteryError::TemperatureOutOfRange { temperature_c: t })
    }
}

impl BatteryPack {
    /// Builds a pack, drawing its cell and probe spread seeds from `rng` (two `next_u64`
    /// calls). Scans the spread once (O(cells + probes)); every later call is O(1).
    pub fn new(
        params: &BatteryParams,
        init: PackInit,
        rng: &mut impl rand::Rng,
    ) -> Result<Self, BatteryError> {
        params.validate()?;
        if !(init.soc.is_finite() && (0.0..=1.0).contains(&init.soc)) {
            return Err(BatteryError::InitialSocOutOfRange { soc: init.soc });
        }
        plausible_temperature(init.temperature_c)?;
        plausible_temperature(init.ambient_c)?;
        let cells = Spread::draw(rng, u32::from(params.cells_series));
        let probes = Spread::draw(rng, u32::from(params.temperature_probes));
        let p = f64::from(params.cells_parallel);
        let q_nom_ah = params.element_capacity_ah();
        let (sc, sr) = (params.capacity_spread, params.resistance_spread);
        let q_weak_ah = q_nom_ah * (1.0 - sc * cells.summary.max);
        let q_strong_ah = q_nom_ah * (1.0 - sc * cells.summary.min);
        let (r1_ohm, c1_f) = (params.cell_r1_ohm / p, params.cell_c1_f * p);
        let tau_s = r1_ohm * c1_f;
        let mut pack = BatteryPack {
            chemistry: params.chemistry,
            n_series: f64::from(params.cells_series),
            n_q_nom_ah: f64::from(params.cells_series) * q_nom_ah,
            n_per_wh: f64::from(params.cells_series) / 3600.0,
            cells_series: params.cells_series,
            temperature_probes: params.temperature_probes,
            cell_groups: params.cell_groups,
            r0_factor: params.r0_temperature_factor,
            r0_cursor: Cursor::default(),
            q_nom_ah,
            q_weak_ah,
            inv_q_nom: 1.0 / q_nom_ah,
            inv_q_weak: 1.0 / q_weak_ah,
            inv_q_strong: 1.0 / q_strong_ah,
            max_cell_group: 0,
            r0_ohm: params.cell_r0_ohm / p,
            r1_ohm,
            c1_f,
            tau_s,
            r_weak: 1.0 + sr * cells.summary.max,
            r_strong: 1.0 + sr * cells.summary.min,
            capacity_spread: sc,
            resistance_spread: sr,
            probe_spread_c: params.temperature_probe_spread_c,
            cells,
            probes,
            inv_cooling: 1.0 / params.cooling_w_per_k,
            rc_decay: DecayCache::new(1.0 / tau_s),
            thermal_decay: DecayCache::new(params.cooling_w_per_k / params.thermal_mass_j_per_k),
            limits: PackLimits::from_params(params),
            q_ah: init.soc * q_weak_ah,
            v_rc: 0.0,
            temperature_c: init.temperature_c,
            ambient_c: init.ambient_c,
            last_current_a: 0.0,
            last_terminal_voltage_v: 0.0,
            e_chem_wh: 0.0,
            e_chem0_wh: 0.0,
            energy: PackEnergy::default(),
            now: Derived::default(),
        };
        pack.max_cell_group = pack.cell_group(cells.summary.argmax as u16).unwrap_or(0);
        let (_, w) = pack
            .chemistry
            .ocv()
            .voltage_and_energy(pack.q_ah * pack.inv_q_nom);
        pack.e_chem_wh = pack.n_series * q_nom_ah * w;
        pack.e_chem0_wh = pack.e_chem_wh;
        pack.refresh();
        pack.last_terminal_voltage_v = pack.terminal_voltage_v(0.0);
        Ok(pack)
    }

    /// Recomputes the state-derived values (R0 at the present temperature, the mean and
    /// weakest OCV; the strongest element is only needed for telemetry and computed there).
    fn refresh(&mut self) {
        let ocv_mean_v = self.chemistry.ocv().voltage_v(self.q_ah * self.inv_q_nom);
        self.refresh_with_mean(ocv_mean_v);
    }

    /// [`Self::refresh`] with the mean element's OCV at the present charge already known (the
    /// step evaluates it together with the chemical energy, with the same arithmetic).
    #[inline]
    fn refresh_with_mean(&mut self, ocv_mean_v: f64) {
        let ocv = self.chemistry.ocv();
        self.now = Derived {
            r0_ohm: self.r0_ohm * self.r0_cursor.eval(&self.r0_factor, self.temperature_c),
            ocv_mean_v,
            ocv_weak_v: ocv.voltage_v(self.q_ah * self.inv_q_weak),
        };
    }

    /// Advances the pack by `dt_s` seconds with `current_a` held constant (positive = charging).
    /// O(1), allocation-free.
    pub fn step(&mut self, dt_s: f64, current_a: f64) -> PackStep {
        let i = current_a;
        let r0 = self.now.r0_ohm;
        // RC pair, exact for constant I.
        let (alpha, one_minus_alpha, one_minus_alpha_sq) = self.rc_decay.factor_terms(dt_s);
        let v0 = self.v_rc;
        let v_inf = i * self.r1_ohm;
        let d = v0 - v_inf;
        let v1 = v_inf + d * alpha;
        let int_v2 = v_inf * v_inf * dt_s
            + 2.0 * v_inf * d * self.tau_s * one_minus_alpha
            + d * d * 0.5 * self.tau_s * one_minus_alpha_sq;
        let rc_loss_j = int_v2 / self.r1_ohm;
        let rc_stored_j = 0.5 * self.c1_f * (v1 * v1 - v0 * v0);
        let ohmic_j = i * i * r0 * dt_s;
        self.v_rc = v1;
        // Charge and chemical energy (a state function of q).
        self.q_ah += i * dt_s / 3600.0;
        // `voltage_and_energy` computes the OCV as `voltage_v` does, bit for bit, and q does not
        // change again this step: the refresh below reuses it.
        let (ocv_mean_v, w) = self
            .chemistry
            .ocv()
            .voltage_and_energy(self.q_ah * self.inv_q_nom);
        let e_chem = self.n_q_nom_ah * w;
        let d_chem_wh = e_chem - self.e_chem_wh;
        self.e_chem_wh = e_chem;
        let n_per_wh = self.n_per_wh;
        let d_ohmic_wh = ohmic_j * n_per_wh;
        let d_rc_loss_wh = rc_loss_j * n_per_wh;
        let d_rc_stored_wh = rc_stored_j * n_per_wh;
        let d_terminal_wh = d_chem_wh + d_ohmic_wh + d_rc_loss_wh + d_rc_stored_wh;
        let e = &mut self.energy;
        e.terminal_wh += d_terminal_wh;
        e.chemical_wh = self.e_chem_wh - self.e_chem0_wh;
        e.ohmic_loss_wh += d_ohmic_wh;
        e.rc_loss_wh += d_rc_loss_wh;
        e.rc_stored_wh += d_rc_stored_wh;
        // Lumped thermal model, exact for constant heat over the step.
        let heat_w = if dt_s > 0.0 {
            (d_ohmic_wh + d_rc_loss_wh) * 3600.0 / dt_s
        } else {
            0.0
        };
        let t_inf = self.ambient_c + heat_w * self.inv_cooling;
        let beta = self.thermal_decay.factor(dt_s);
        self.temperature_c = t_inf + (self.temperature_c - t_inf) * beta;
        self.last_current_a = i;
        self.refresh_with_mean(ocv_mean_v);
        let q = i * dt_s;
        self.last_terminal_voltage_v = if q.abs() > 1e-12 {
            d_terminal_wh * 3600.0 / q
        } else {
            self.terminal_voltage_v(0.0)
        };
        PackStep {
            current_a: i,
            terminal_voltage_v: self.last_terminal_voltage_v,
            heat_w,
        }
    }

    /// Pack ohmic resistance `N·R0(T)` at the present temperature, Ω.
    pub fn internal_resistance_ohm(&self) -> f64 {
        self.n_series * self.now.r0_ohm
    }

    /// Pack open-circuit voltage `N·OCV(q/Q)` (no polarisation), V.
    pub fn open_circuit_voltage_v(&self) -> f64 {
        self.n_series * self.now.ocv_mean_v
    }

    /// Thevenin source voltage seen by a new current: `N·(OCV + V_rc)`, V.
    pub fn source_voltage_v(&self) -> f64 {
        self.n_series * (self.now.ocv_mean_v + self.v_rc)
    }

    /// Instantaneous terminal voltage if `current_a` flowed now: `source + I·N·R0(T)`, V.
    pub fn terminal_voltage_v(&self, current_a: f64) -> f64 {
        self.source_voltage_v() + current_a * self.internal_resistance_ohm()
    }

    /// The current that makes the terminal voltage equal `voltage_v` now (may be negative), A.
    pub fn current_for_terminal_voltage_a(&self, voltage_v: f64) -> f64 {
        (voltage_v - self.source_voltage_v()) / self.internal_resistance_ohm()
    }

    /// The current at which the highest (weakest) element reaches `cell_voltage_v` now
    /// (negative if it is already above at zero current), A.
    pub fn current_for_max_cell_voltage_a(&self, cell_voltage_v: f64) -> f64 {
        ((cell_voltage_v - self.now.ocv_weak_v) / self.r_weak - self.v_rc) / self.now.r0_ohm
    }

    /// Pack SOC, fraction: the weakest element's `q / Q_weak` (what the BMS reports).
    pub fn soc(&self) -> f64 {
        self.q_ah * self.inv_q_weak
    }

    /// SOC of the nominal (mean) element, fraction.
    pub fn mean_soc(&self) -> f64 {
        self.q_ah / self.q_nom_ah
    }

    /// Usable capacity (the weakest element's), Ah.
    pub fn capacity_ah(&self) -> f64 {
        self.q_weak_ah
    }

    /// Charge held per element since empty, Ah.
    pub fn charge_ah(&self) -> f64 {
        self.q_ah
    }

    /// Lumped pack temperature, °C.
    pub fn temperature_c(&self) -> f64 {
        self.temperature_c
    }

    /// Ambient temperature, °C.
    pub fn ambient_c(&self) -> f64 {
        self.ambient_c
    }

    /// Changes the ambient temperature (weather, garage), °C.
    pub fn set_ambient_c(&mut self, ambient_c: f64) {
        self.ambient_c = ambient_c;
    }

    /// Current of the last step, A (positive = charging).
    pub fn last_current_a(&self) -> f64 {
        self.last_current_a
    }

    /// Average terminal voltage of the last step, V (BCS measured voltage).
    pub fn last_terminal_voltage_v(&self) -> f64 {
        self.last_terminal_voltage_v
    }

    /// The pack's chemistry.
    pub fn chemistry(&self) -> Chemistry {
        self.chemistry
    }

    /// Number of series elements.
    pub fn cells_series(&self) -> u16 {
        self.cells_series
    }

    /// Number of temperature probes.
    pub fn temperature_probes(&self) -> u8 {
        self.temperature_probes
    }

    /// BCP/BRM limits.
    pub fn limits(&self) -> &PackLimits {
        &self.limits
    }

    /// Chemical energy held now, `N·Q·W(q/Q)` from empty, Wh.
    pub fn energy_stored_wh(&self) -> f64 {
        self.e_chem_wh
    }

    /// Energy accounting since construction.
    pub fn energy(&self) -> &PackEnergy {
        &self.energy
    }

    /// Capacity factor `c_i` and resistance factor `r_i` of element `index`.
    fn cell_factors(&self, index: u16) -> (f64, f64) {
        let z = self
            .cells
            .summary
            .centred(self.cells.seed, u32::from(index));
        (
            1.0 - self.capacity_spread * z,
            1.0 + self.resistance_spread * z,
        )
    }

    /// The nominal element's polarisation at the last current, `I·R0(T) + V_rc`, V.
    fn drop_v(&self) -> f64 {
        self.last_current_a * self.now.r0_ohm + self.v_rc
    }

    /// SOC of element `index` (fraction), or `None` past the last element.
    pub fn cell_soc(&self, index: u16) -> Option<f64> {
        (index < self.cells_series).then(|| {
            let (c, _) = self.cell_factors(index);
            self.q_ah * (1.0 / (self.q_nom_ah * c))
        })
    }

    /// Voltage of element `index` at the last current (BMV), or `None` past the last element.
    /// O(1) per call (recomputed from the spread seed).
    pub fn cell_voltage_v(&self, index: u16) -> Option<f64> {
        (index < self.cells_series).then(|| {
            let (c, r) = self.cell_factors(index);
            // Same arithmetic as the cached extremes, so a full scan agrees bit for bit.
            let ocv = self
                .chemistry
                .ocv()
                .voltage_v(self.q_ah * (1.0 / (self.q_nom_ah * c)));
            ocv + r * self.drop_v()
        })
    }

    /// Group number (0–15) of element `index`: elements split evenly over `cell_groups`.
    pub fn cell_group(&self, index: u16) -> Option<u8> {
        (index < self.cells_series).then(|| {
            let g = u32::from(index) * u32::from(self.cell_groups) / u32::from(self.cells_series);
            u8::try_from(g).unwrap_or(u8::MAX)
        })
    }

    /// Temperature of probe `probe` (BMT), or `None` past the last probe, °C.
    pub fn probe_temperature_c(&self, probe: u8) -> Option<f64> {
        (probe < self.temperature_probes).then(|| {
            let z = self
                .probes
                .summary
                .centred(self.probes.seed, u32::from(probe));
            self.temperature_c + self.probe_spread_c * z
        })
    }

    /// Voltage of the weakest element at the last current, V: the highest cell whenever the
    /// pack is charging or resting after a charge (see the module docs). O(1), cheaper than
    /// [`BatteryPack::extremes`].
    pub fn weakest_cell_voltage_v(&self) -> f64 {
        self.now.ocv_weak_v + self.r_weak * self.drop_v()
    }

    /// `(coldest, hottest)` probe temperatures, °C. O(1).
    pub fn probe_temperature_range_c(&self) -> (f64, f64) {
        let p = &self.probes.summary;
        (
            self.temperature_c + self.probe_spread_c * p.min,
            self.temperature_c + self.probe_spread_c * p.max,
        )
    }

    /// Highest/lowest element voltages and probe temperatures with their indices. O(1).
    pub fn extremes(&self) -> CellExtremes {
        let s = &self.cells.summary;
        let drop = self.drop_v();
        let v_weak = self.now.ocv_weak_v + self.r_weak * drop;
        let ocv_strong = self
            .chemistry
            .ocv()
            .voltage_v(self.q_ah * self.inv_q_strong);
        let v_strong = ocv_strong + self.r_strong * drop;
        // Indices are < cells_series ≤ 256, so the casts are lossless.
        let (weak, strong) = (s.argmax as u16, s.argmin as u16);
        let ((v_max, i_max, g_max), (v_min, i_min)) = if v_weak >= v_strong {
            ((v_weak, weak, self.max_cell_group), (v_strong, strong))
        } else {
            let g = self.cell_group(strong).unwrap_or(0);
            ((v_strong, strong, g), (v_weak, weak))
        };
        let p = &self.probes.summary;
        CellExtremes {
            max_cell_voltage_v: v_max,
            max_cell_index: i_max,
            max_cell_group: g_max,
            min_cell_voltage_v: v_min,
            min_cell_index: i_min,
            max_temperature_c: self.temperature_c + self.probe_spread_c * p.max,
            max_temperature_probe: p.argmax as u8,
            min_temperature_c: self.temperature_c + self.probe_spread_c * p.min,
            min_temperature_probe: p.argmin as u8,
        }
    }
}

#[cfg(test)]
mod tests;
