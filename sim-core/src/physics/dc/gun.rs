//! Connector (gun) temperature and its current derating.
//!
//! The DC+ and DC− contacts and the cable heat by `I²·R_c` and cool to ambient:
//!
//! ```text
//! C_g · dT/dt = I²·R_c − h_g·(T − T_amb)
//! T ← T_∞ + (T − T_∞)·e^(−Δt·h_g/C_g),      T_∞ = T_amb + I²·R_c/h_g
//! ```
//!
//! so `T ≤ max(T₀, T_amb + I_max²·R_c/h_g)`. The charger derates linearly from `derate_start_c`
//! to zero at `max_c` (GB/T 20234 guns carry temperature sensors; chargers stop on gun
//! over-temperature, meters-and-can-hil.md §5.4):
//!
//! ```text
//! I_limit = I_rated · clamp((T_max − T) / (T_max − T_derate), 0, 1)
//! ```

use crate::physics::common::{Checks, DecayCache, InvalidParams};

/// Thermal parameters of a charging connector and cable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GunThermalParams {
    /// Total resistance heating the connector (both contacts plus cable share), Ω.
    pub contact_resistance_ohm: f64,
    /// Heat capacity of the connector, J/K.
    pub thermal_mass_j_per_k: f64,
    /// Heat transfer to ambient, W/K.
    pub cooling_w_per_k: f64,
    /// Temperature at which derating starts, °C.
    pub derate_start_c: f64,
    /// Temperature at which the allowed current reaches zero (over-temperature), °C.
    pub max_c: f64,
}

impl Default for GunThermalParams {
    /// A naturally cooled 250 A GB/T gun: 0.4 mΩ, 600 J/K, 0.8 W/K (≈ 31 K rise at 250 A),
    /// derating from 85 °C to 100 °C.
    fn default() -> Self {
        GunThermalParams {
            contact_resistance_ohm: 0.4e-3,
            thermal_mass_j_per_k: 600.0,
            cooling_w_per_k: 0.8,
            derate_start_c: 85.0,
            max_c: 100.0,
        }
    }
}

impl GunThermalParams {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        let mut c = Checks::default();
        self.check(&mut c);
        c.finish()
    }

    pub(crate) fn check(&self, c: &mut Checks) {
        c.positive("gun.contact_resistance_ohm", self.contact_resistance_ohm);
        c.positive("gun.thermal_mass_j_per_k", self.thermal_mass_j_per_k);
        c.positive("gun.cooling_w_per_k", self.cooling_w_per_k);
        c.check(
            self.derate_start_c.is_finite()
                && self.max_c.is_finite()
                && self.derate_start_c < self.max_c,
            "gun.derate_start_c",
            || {
                format!(
                    "must be below max_c {}, got {}",
                    self.max_c, self.derate_start_c
                )
            },
        );
    }

    /// Steady-state temperature at a constant current, °C.
    pub fn steady_state_c(&self, ambient_c: f64, current_a: f64) -> f64 {
        ambient_c + current_a * current_a * self.contact_resistance_ohm / self.cooling_w_per_k
    }
}

/// Connector temperature state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GunThermal {
    params: GunThermalParams,
    temperature_c: f64,
    ambient_c: f64,
    inv_derate_span: f64,
    decay: DecayCache,
}

impl GunThermal {
    /// A connector at ambient temperature.
    pub fn new(params: &GunThermalParams, ambient_c: f64) -> Self {
        GunThermal {
            params: *params,
            temperature_c: ambient_c,
            ambient_c,
            inv_derate_span: 1.0 / (params.max_c - params.derate_start_c),
            decay: DecayCache::new(params.cooling_w_per_k / params.thermal_mass_j_per_k),
        }
    }

    /// Advances by `dt_s` with `current_a` flowing (sign irrelevant).
    pub fn step(&mut self, dt_s: f64, current_a: f64) {
        let t_inf = self.params.steady_state_c(self.ambient_c, current_a);
        let beta = self.decay.factor(dt_s);
        self.temperature_c = t_inf + (self.temperature_c - t_inf) * beta;
    }

    /// Connector temperature, °C.
    pub fn temperature_c(&self) -> f64 {
        self.temperature_c
    }

    /// Sets the temperature directly (fault injection: a hot contact), °C.
    pub fn set_temperature_c(&mut self, temperature_c: f64) {
        self.temperature_c = temperature_c;
    }

    /// Changes the ambient temperature, °C.
    pub fn set_ambient_c(&mut self, ambient_c: f64) {
        self.ambient_c = ambient_c;
    }

    /// The current allowed at the present temperature for a gun rated `rated_a`, A.
    pub fn current_limit_a(&self, rated_a: f64) -> f64 {
        let f = ((self.params.max_c - self.temperature_c) * self.inv_derate_span).clamp(0.0, 1.0);
        rated_a * f
    }

    /// True at or above the over-temperature limit.
    pub fn over_temperature(&self) -> bool {
        self.temperature_c >= self.params.max_c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heats_towards_steady_state_and_never_beyond() {
        let p = GunThermalParams::default();
        let mut g = GunThermal::new(&p, 25.0);
        let bound = p.steady_state_c(25.0, 250.0);
        assert!((bound - 56.25).abs() < 1e-9);
        let mut prev = g.temperature_c();
        for _ in 0..100_000 {
            g.step(0.1, 250.0);
            assert!(g.temperature_c() <= bound && g.temperature_c() >= prev);
            prev = g.temperature_c();
        }
        assert!((g.temperature_c() - bound).abs() < 0.01);
        for _ in 0..100_000 {
            g.step(0.1, 0.0);
        }
        assert!((g.temperature_c() - 25.0).abs() < 0.01);
    }

    #[test]
    fn derates_linearly() {
        let p = GunThermalParams::default();
        let mut g = GunThermal::new(&p, 25.0);
        assert_eq!(g.current_limit_a(250.0), 250.0);
        g.set_temperature_c(92.5);
        assert!((g.current_limit_a(250.0) - 125.0).abs() < 1e-9);
        g.set_temperature_c(100.0);
        assert_eq!(g.current_limit_a(250.0), 0.0);
        assert!(g.over_temperature());
        assert!(p.validate().is_ok());
    }
}
