//! A built-in charging profile for a meter emulated on its own (`chargestorm meter serve`):
//! one connector's physics, stepped by the caller, charging one car after another.
//!
//! * DC meters (DJSF1352): a 60 kW single-gun charger (`DcChargerParams::dc_60kw_single`)
//!   charging an LFP 60 kWh car; each session pre-charges, closes the contactors, follows the
//!   BMS demand to 80 % SoC, opens and bleeds the output;
//! * single-phase AC meters (DDSU666, SDM120): a 7 kW wallbox (`ac_7kw_1ph`) and a 7 kW OBC;
//! * three-phase AC meters (DTSU666, SDM630): a 22 kW charger (`ac_22kw_3ph`) and a 22 kW OBC.
//!
//! The first car plugs in after [`FIRST_SESSION_S`]; between sessions the connector idles
//! for [`IDLE_S`]. Each car arrives with a state of charge
//! drawn from the profile's seeded ChaCha8 stream (10–40 %); the meter's noise comes from its
//! own stream; nothing else is random, so a seed replays the same profile. The meter keeps
//! counting across sessions, as a real one does.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim_core::physics::meter::MeterReading as SimReading;
use sim_core::physics::{
    AcCharger, AcChargerParams, BatteryPack, BatteryParams, Bms, BmsParams, CpState,
    DcChargerParams, DcOutput, EnergyMeter, InvalidParams, MeterKind, MeterParams, Obc, ObcParams,
    PackInit,
};

use super::convert::sim_kind;
use proto::modbus::MeterModel;

/// Seconds the connector stays idle between cars.
pub const IDLE_S: f64 = 20.0;
/// Seconds before the first car plugs in: short, so a board under test sees current soon.
pub const FIRST_SESSION_S: f64 = 2.0;
/// The state of charge each session charges to.
pub const TARGET_SOC: f64 = 0.8;
/// Ambient temperature of the built-in profile, °C.
const AMBIENT_C: f64 = 25.0;

/// Why the profile could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A physics parameter is out of range (a power limit the charger cannot take).
    #[error("profile physics: {0}")]
    Params(#[from] InvalidParams),
    /// The battery model rejected its initial state.
    #[error("profile battery: {0}")]
    Battery(String),
    /// The power limit is not a positive number.
    #[error("power limit {power_w} W is not positive")]
    PowerLimit {
        /// The limit given.
        power_w: f64,
    },
}

/// What the connector is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfilePhase {
    /// No car charging.
    Idle,
    /// DC output pre-charging to the battery voltage.
    Precharge,
    /// Energy flowing into the car.
    Charging,
}

/// A snapshot for status lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileStatus {
    /// What the connector is doing.
    pub phase: ProfilePhase,
    /// Sessions started so far.
    pub sessions: u64,
    /// State of charge of the current (or last) car, 0..=1.
    pub soc: f64,
    /// Import energy the meter has counted, exact, Wh.
    pub import_energy_wh: f64,
    /// Simulated time since the start, s.
    pub elapsed_s: f64,
}

#[expect(
    clippy::large_enum_variant,
    reason = "one plant per emulated meter, never moved after construction"
)]
enum Plant {
    Dc {
        params: DcChargerParams,
        output: DcOutput,
    },
    Ac {
        charger: AcCharger,
        obc_params: ObcParams,
        obc: Obc,
    },
}

/// One connector's physics following the built-in profile.
pub struct ChargingProfile {
    plant: Plant,
    pack: BatteryPack,
    bms: Bms,
    meter: EnergyMeter,
    rng: ChaCha8Rng,
    phase: ProfilePhase,
    idle_until_s: f64,
    elapsed_s: f64,
    sessions: u64,
}

impl std::fmt::Debug for ChargingProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargingProfile")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

fn new_pack(soc: f64, rng: &mut ChaCha8Rng) -> Result<BatteryPack, ProfileError> {
    BatteryPack::new(
        &BatteryParams::lfp_car_60kwh(),
        PackInit::soaked(soc, AMBIENT_C),
        rng,
    )
    .map_err(|error| ProfileError::Battery(error.to_string()))
}

impl ChargingProfile {
    /// The profile for `model`, its charger limited to `power_limit_w` if given (the DC
    /// station limit, or the AC current limit that gives this power), seeded by `seed`.
    pub fn new(
        model: MeterModel,
        power_limit_w: Option<f64>,
        seed: u64,
    ) -> Result<Self, ProfileError> {
        if let Some(power_w) = power_limit_w.filter(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(ProfileError::PowerLimit { power_w });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let kind = sim_kind(model);
        let (plant, meter_params) = match kind {
            MeterKind::Dc => {
                let mut params = DcChargerParams::dc_60kw_single();
                if let Some(limit) = power_limit_w {
                    params.station_power_limit_w = limit.min(params.rated_power_w());
                }
                let output = DcOutput::new(&params, AMBIENT_C)?;
                (Plant::Dc { params, output }, MeterParams::dc())
            }
            MeterKind::AcSinglePhase | MeterKind::AcThreePhase => {
                let single = kind == MeterKind::AcSinglePhase;
                let (params, obc_params, meter) = if single {
                    let obc = ObcParams::single_phase_7kw();
                    (
                        AcChargerParams::ac_7kw_1ph(),
                        obc,
                        MeterParams::ac_single_phase(),
                    )
                } else {
                    let obc = ObcParams::three_phase_22kw();
                    (
                        AcChargerParams::ac_22kw_3ph(),
                        obc,
                        MeterParams::ac_three_phase(),
                    )
                };
                let mut charger = AcCharger::new(&params)?;
                if let Some(limit) = power_limit_w {
                    let supply = params.supply;
                    let per_amp =
                        f64::from(supply.phases) * supply.phase_voltage_v * supply.power_factor;
                    charger.set_current_limit_a(limit / per_amp);
                }
                let obc = Obc::new(&obc_params)?;
                let plant = Plant::Ac {
                    charger,
                    obc_params,
                    obc,
                };
                (plant, meter)
            }
        };
        let meter = EnergyMeter::new(&meter_params, ChaCha8Rng::seed_from_u64(seed ^ 0x4D45))?;
        let pack = new_pack(0.2, &mut rng)?;
        let bms = Bms::new(&BmsParams::lfp(), &pack)?;
        Ok(Self {
            plant,
            pack,
            bms,
            meter,
            rng,
            phase: ProfilePhase::Idle,
            idle_until_s: FIRST_SESSION_S,
            elapsed_s: 0.0,
            sessions: 0,
        })
    }

    /// Where the profile is.
    pub fn status(&self) -> ProfileStatus {
        ProfileStatus {
            phase: self.phase,
            sessions: self.sessions,
            soc: self.pack.soc(),
            import_energy_wh: self.meter.import_energy_wh(),
            elapsed_s: self.elapsed_s,
        }
    }

    /// The meter's reading now (with its measurement noise; each call draws new noise).
    pub fn reading(&mut self) -> SimReading {
        self.meter.reading()
    }

    /// Advance the physics by `dt_s` seconds (0.1 s steps keep the models accurate).
    pub fn step(&mut self, dt_s: f64) {
        self.elapsed_s += dt_s;
        if self.phase == ProfilePhase::Idle && self.elapsed_s >= self.idle_until_s {
            self.start_session();
        }
        match &mut self.plant {
            Plant::Dc { params, output } => {
                let limit = params.station_power_limit_w;
                let (current, voltage) = if self.phase == ProfilePhase::Charging {
                    let demand = self.bms.demand(&self.pack, TARGET_SOC);
                    if demand.stop.is_some() {
                        output.open_contactors();
                        output.start_bleed();
                        self.phase = ProfilePhase::Idle;
                        self.idle_until_s = self.elapsed_s + IDLE_S;
                    }
                    (demand.current_a, demand.voltage_v)
                } else {
                    (0.0, 0.0)
                };
                let s = output.step(dt_s, current, voltage, limit, &mut self.pack);
                self.meter.step(dt_s, s.voltage_v, s.current_a);
                if self.phase == ProfilePhase::Precharge && output.precharge().is_done() {
                    let battery_v = self.pack.terminal_voltage_v(0.0);
                    self.phase = match output.close_contactors(battery_v) {
                        Ok(()) => ProfilePhase::Charging,
                        Err(_) => {
                            self.idle_until_s = self.elapsed_s + IDLE_S;
                            ProfilePhase::Idle
                        }
                    };
                }
            }
            Plant::Ac { charger, obc, .. } => {
                let demand = self.bms.demand(&self.pack, TARGET_SOC);
                if self.phase == ProfilePhase::Charging && demand.stop.is_some() {
                    charger.set_pilot_state(CpState::A);
                    self.phase = ProfilePhase::Idle;
                    self.idle_until_s = self.elapsed_s + IDLE_S;
                }
                let s = charger.step(dt_s, obc, &demand, &mut self.pack);
                self.meter.step_ac(dt_s, &s.obc.ac);
            }
        }
    }

    /// A new car arrives and plugs in.
    fn start_session(&mut self) {
        let soc = self.rng.random_range(0.1..0.4);
        let car = new_pack(soc, &mut self.rng).and_then(|pack| {
            let bms = Bms::new(&BmsParams::lfp(), &pack)?;
            Ok((pack, bms))
        });
        // The parameters are fixed and valid, so this only guards against a model change;
        // a car that cannot be built is skipped rather than stopping the emulator.
        let Ok((pack, bms)) = car else {
            self.idle_until_s = self.elapsed_s + IDLE_S;
            return;
        };
        self.pack = pack;
        self.bms = bms;
        self.sessions += 1;
        match &mut self.plant {
            Plant::Dc { output, .. } => {
                output.start_precharge(self.pack.terminal_voltage_v(0.0));
                self.phase = ProfilePhase::Precharge;
            }
            Plant::Ac {
                charger,
                obc_params,
                obc,
            } => {
                if let Ok(fresh) = Obc::new(obc_params) {
                    *obc = fresh;
                }
                charger.set_pilot_state(CpState::C);
                self.phase = ProfilePhase::Charging;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(profile: &mut ChargingProfile, seconds: f64) {
        for _ in 0..(seconds * 10.0) as usize {
            profile.step(0.1);
        }
    }

    #[test]
    fn dc_profile_charges_at_the_limit() {
        let mut profile = ChargingProfile::new(MeterModel::Djsf1352, Some(40_000.0), 3).unwrap();
        run(&mut profile, FIRST_SESSION_S - 0.5);
        assert_eq!(profile.status().phase, ProfilePhase::Idle);
        assert_eq!(profile.status().import_energy_wh, 0.0);
        run(&mut profile, 120.0);
        let status = profile.status();
        assert_eq!((status.phase, status.sessions), (ProfilePhase::Charging, 1));
        let reading = profile.reading();
        assert!(reading.voltage_v > 300.0, "{reading:?}");
        assert!(
            (reading.power_w / 40_000.0 - 1.0).abs() < 0.03,
            "{reading:?}"
        );
        assert!(status.import_energy_wh > 100.0);
    }

    #[test]
    fn ac_profiles_draw_their_rating() {
        for (model, phases, amps) in [
            (MeterModel::Ddsu666, 1, 32.0),
            (MeterModel::Sdm630, 3, 32.0),
        ] {
            let mut profile = ChargingProfile::new(model, None, 4).unwrap();
            run(&mut profile, FIRST_SESSION_S + 30.0);
            let reading = profile.reading();
            assert_eq!(profile.status().phase, ProfilePhase::Charging);
            for k in 0..phases {
                assert!(
                    (reading.phase_current_a[k] / amps - 1.0).abs() < 0.02,
                    "{reading:?}"
                );
            }
            assert!((reading.frequency_hz - 50.0).abs() < 1e-9);
        }
        let mut limited = ChargingProfile::new(MeterModel::Sdm120, Some(3_500.0), 4).unwrap();
        run(&mut limited, FIRST_SESSION_S + 30.0);
        let reading = limited.reading();
        assert!(
            (reading.power_w / 3_500.0 - 1.0).abs() < 0.05,
            "{reading:?}"
        );
    }

    #[test]
    fn sessions_end_at_the_target_and_the_next_car_comes() {
        let mut profile = ChargingProfile::new(MeterModel::Djsf1352, None, 5).unwrap();
        let mut last_energy = 0.0;
        let mut saw_idle_after_charging = false;
        let mut was_charging = false;
        for _ in 0..(3 * 3600 * 10) {
            profile.step(0.1);
            let status = profile.status();
            assert!(status.import_energy_wh >= last_energy);
            last_energy = status.import_energy_wh;
            let charging = status.phase == ProfilePhase::Charging;
            saw_idle_after_charging |= was_charging && status.phase == ProfilePhase::Idle;
            was_charging = charging;
        }
        assert!(saw_idle_after_charging);
        assert!(profile.status().sessions >= 2, "{:?}", profile.status());
    }

    #[test]
    fn same_seed_same_profile_and_sessions_repeat() {
        let mut a = ChargingProfile::new(MeterModel::Sdm120, Some(7_000.0), 9).unwrap();
        let mut b = ChargingProfile::new(MeterModel::Sdm120, Some(7_000.0), 9).unwrap();
        run(&mut a, 100.0);
        run(&mut b, 100.0);
        assert_eq!(a.reading(), b.reading());
        assert!(ChargingProfile::new(MeterModel::Sdm120, Some(-1.0), 9).is_err());
    }
}
