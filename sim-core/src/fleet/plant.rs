//! The plant: the physics of one charger and its connectors, composed from the models in
//! [`crate::physics`] and parameterised from the profiles.
//!
//! A DC connector is a [`DcOutput`] (its share of the modules, pre-charge, contactors,
//! insulation monitor, gun) feeding the vehicle's [`BatteryPack`]; the cabinet shares its
//! power among the guns by water-filling ([`PowerSharing`]). An AC connector is an
//! [`AcCharger`] (pilot PWM, relay) feeding the vehicle's [`Obc`]. Both are metered by an
//! [`EnergyMeter`] with seeded noise.
//!
//! Energy accounting per session, for the conservation check:
//! `E_meter = ΔE_chemical + ΔE_rc_stored + E_ohmic + E_rc_loss + E_cable (DC) | E_obc (AC)`.

use super::events::StopReason;
use super::traffic::Arrival;
use crate::physics::{
    AcCharger, AcChargerParams, AcSupply, BatteryPack, BatteryParams, Bms, BmsParams,
    BmsStopReason, ChargeDemand, Chemistry, CpState, Curve, DEFAULT_MODULE_EFFICIENCY,
    DcChargerParams, DcOutput, EFFICIENCY_POINTS, EnergyMeter, GunThermalParams, MeterParams, Obc,
    ObcParams, PackInit, PowerSharing, PwmTable, SharingMemo,
};
use crate::rng::EntityRng;
use crate::time::{Duration, Instant};
use profiles::charger::{ChargerProfile, PowerSharing as SharingSpec};
use profiles::{ChargerKind, VehicleProfile};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Ambient temperature of every site, °C (a scenario setting later).
const AMBIENT_C: f64 = 25.0;

/// Default margin of the CV cell voltage below the BCP max cell voltage, V.
const CV_MARGIN_V: f64 = 0.02;

/// Most connectors a charger may have (profiles validate `connectors ≤ 8`).
pub const MAX_CONNECTORS: usize = 8;

/// A vehicle profile turned into physics parameters, shared by its sessions.
#[derive(Debug, Clone)]
pub struct VehicleModel {
    /// Profile name.
    pub name: String,
    /// The GB/T 27930 version its BMS speaks.
    pub gbt_version: crate::gbt::Version,
    battery: BatteryParams,
    bms: Arc<BmsParams>,
    obc: Option<ObcParams>,
}

impl VehicleModel {
    /// Maps a vehicle profile onto the physics parameters and validates them.
    pub fn from_profile(v: &VehicleProfile) -> Result<Self, String> {
        let b = &v.battery;
        let chemistry = match b.chemistry {
            profiles::Chemistry::Lfp => Chemistry::Lfp,
            profiles::Chemistry::Ncm => Chemistry::Ncm,
        };
        let r1_ohm = (b.cell_rc_resistance_mohm / 1000.0).max(1e-6);
        let battery = BatteryParams {
            chemistry,
            cells_series: b.cells_series.min(u32::from(u16::MAX)) as u16,
            cells_parallel: b.cells_parallel.min(u32::from(u16::MAX)) as u16,
            cell_capacity_ah: b.cell_capacity_ah,
            cell_r0_ohm: b.cell_resistance_mohm / 1000.0,
            cell_r1_ohm: r1_ohm,
            cell_c1_f: b.cell_rc_time_constant_s / r1_ohm,
            thermal_mass_j_per_k: b.heat_capacity_kj_per_k * 1000.0,
            cooling_w_per_k: b.cooling_w_per_k,
            max_cell_voltage_v: v.bms.max_cell_voltage_v,
            max_charge_voltage_v: v.max_pack_voltage_v(),
            max_charge_current_a: v.bms.max_charge_current_a,
            max_temperature_c: v.bms.max_temperature_c,
            temperature_probes: b.temperature_probes.clamp(1, 128) as u8,
            cell_groups: b.cells_series.clamp(1, 8) as u8,
            capacity_spread: b.capacity_spread_pct / 100.0,
            resistance_spread: b.resistance_spread_pct / 100.0,
            temperature_probe_spread_c: b.temperature_spread_c,
            ..BatteryParams::lfp_car_60kwh()
        };
        battery.validate().map_err(|e| e.to_string())?;
        let mut bms = BmsParams::for_chemistry(chemistry);
        // The CV target keeps a margin below the hard cell limit (BCP), as real BMSs do, so
        // regulation ripple never trips the over-voltage stop.
        bms.cv_cell_voltage_v = v.bms.cv_cell_voltage_v.unwrap_or_else(|| {
            bms.cv_cell_voltage_v
                .min(v.bms.max_cell_voltage_v - CV_MARGIN_V)
        });
        let element_ah = f64::from(b.cells_parallel) * b.cell_capacity_ah;
        bms.cutoff_c_rate = (v.bms.cutoff_current_a / element_ah).max(1e-4);
        bms.validate(chemistry).map_err(|e| e.to_string())?;
        let obc = v.obc.as_ref().map(|o| {
            let phases = o.phases.clamp(1, 3);
            let max_power_w = o.max_power_kw * 1000.0;
            ObcParams {
                phases,
                max_current_a: max_power_w / (f64::from(phases) * 220.0),
                max_power_w,
                efficiency: o.efficiency_pct / 100.0,
                ramp_a_per_s: 5.0,
            }
        });
        if let Some(o) = &obc {
            o.validate().map_err(|e| e.to_string())?;
        }
        Ok(VehicleModel {
            name: v.name.clone(),
            gbt_version: match v.bms.gbt_version {
                profiles::vehicle::GbtVersion::V2015 => crate::gbt::Version::V2015,
                profiles::vehicle::GbtVersion::V2011 => crate::gbt::Version::V2011,
            },
            battery,
            bms: Arc::new(bms),
            obc,
        })
    }
}

impl VehicleModel {
    /// A fresh pack of this vehicle at `soc` (0–1), soaked at the ambient temperature, and
    /// its BMS charge controller (for a bench BMS that plays this vehicle).
    pub fn pack_and_bms(
        &self,
        soc: f64,
        rng: &mut impl rand::Rng,
    ) -> Result<(BatteryPack, Bms), String> {
        let pack = BatteryPack::new(
            &self.battery,
            PackInit::soaked(soc.clamp(0.0, 1.0), AMBIENT_C),
            rng,
        )
        .map_err(|e| e.to_string())?;
        let bms = Bms::new_shared(Arc::clone(&self.bms), &pack).map_err(|e| e.to_string())?;
        Ok((pack, bms))
    }
}

/// The vehicle of one session: its pack, BMS and on-board charger.
#[derive(Debug)]
pub struct Ev {
    pack: BatteryPack,
    bms: Bms,
    obc: Option<Obc>,
    /// The driver's plan.
    pub arrival: Arrival,
    /// Session number at this connector.
    pub session: u32,
    /// When the vehicle was plugged in.
    pub plugged_at: Instant,
    /// The vehicle identification number its BMS reports (BRM) and VIN starts use.
    pub vin: String,
    target_soc: f64,
    last_soc: f64,
}

impl Ev {
    /// A vehicle arriving with the state drawn in `arrival`; `rng` seeds its cell spread.
    ///
    /// # Panics
    /// Never for validated profiles: `VehicleModel::from_profile` validated the parameters
    /// the pack and BMS constructors check.
    pub fn new(
        model: &VehicleModel,
        arrival: Arrival,
        session: u32,
        now: Instant,
        rng: &mut EntityRng,
    ) -> Ev {
        let soc = (arrival.arrival_soc_pct / 100.0).clamp(0.0, 1.0);
        let pack = BatteryPack::new(&model.battery, PackInit::soaked(soc, AMBIENT_C), rng)
            .expect("vehicle parameters were validated when the fleet was built");
        let bms = Bms::new_shared(Arc::clone(&model.bms), &pack)
            .expect("BMS parameters were validated when the fleet was built");
        let obc = model
            .obc
            .as_ref()
            .map(|p| Obc::new(p).expect("OBC parameters were validated when the fleet was built"));
        Ev {
            last_soc: pack.soc(),
            pack,
            bms,
            obc,
            target_soc: (arrival.target_soc_pct / 100.0).clamp(0.0, 1.0),
            arrival,
            session,
            plugged_at: now,
            vin: String::new(),
        }
    }

    /// State of charge, %.
    pub fn soc_pct(&self) -> f64 {
        self.pack.soc() * 100.0
    }

    /// The battery pack.
    pub fn pack(&self) -> &BatteryPack {
        &self.pack
    }

    /// The vehicle's BMS model.
    pub fn bms(&self) -> &Bms {
        &self.bms
    }

    /// The driver's target state of charge, fraction.
    pub fn target_soc(&self) -> f64 {
        self.target_soc
    }
}

/// Why the plant ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantStop {
    /// The BMS asked to stop.
    Bms(BmsStopReason),
    /// The gun overheated.
    GunOverTemperature,
    /// The insulation monitor found a fault.
    Insulation,
    /// The contactors could not close (pre-charge mismatch).
    Contactors,
}

impl From<PlantStop> for StopReason {
    fn from(s: PlantStop) -> StopReason {
        match s {
            PlantStop::Bms(BmsStopReason::SocTargetReached) => StopReason::TargetSocReached,
            PlantStop::Bms(BmsStopReason::Full) => StopReason::BatteryFull,
            PlantStop::Bms(BmsStopReason::OverTemperature) | PlantStop::GunOverTemperature => {
                StopReason::OverTemperature
            }
            PlantStop::Bms(_) => StopReason::BmsFault,
            PlantStop::Insulation => StopReason::InsulationFault,
            PlantStop::Contactors => StopReason::ChargerFault,
        }
    }
}

/// Invariant counters checked on every physics step.
#[derive(Debug, Default, Clone, Copy)]
pub struct StepInvariants {
    /// Connector steps taken.
    pub steps: u64,
    /// AC connector steps taken.
    pub ac_steps: u64,
    /// Steps where SOC exceeded 100 % or fell while charging.
    pub soc_violations: u64,
    /// Steps with a temperature outside −40…150 °C.
    pub temperature_violations: u64,
    /// AC steps drawing more than the PWM-allowed current.
    pub pwm_violations: u64,
}

/// A session's energy by the meter and by the models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionEnergy {
    /// Energy through the meter, Wh.
    pub meter_wh: f64,
    /// Battery energy gained plus modelled losses, Wh.
    pub accounted_wh: f64,
}

impl SessionEnergy {
    /// `|meter − accounted| / meter`.
    pub fn conservation_error_rel(&self) -> f64 {
        if self.meter_wh <= 0.0 {
            return 0.0;
        }
        (self.meter_wh - self.accounted_wh).abs() / self.meter_wh
    }
}

/// Per-session energy baselines.
#[derive(Debug, Clone, Copy, Default)]
struct Baseline {
    meter_wh: f64,
    pack_wh: f64,
    charger_loss_wh: f64,
}

#[derive(Debug)]
enum Stage {
    Dc(Box<DcOutput>),
    Ac(Box<AcCharger>),
}

/// The hardware of one connector: its power stage and meter.
#[derive(Debug)]
pub struct ConnectorPlant {
    stage: Stage,
    meter: EnergyMeter,
    /// Time of the last physics step of the current session.
    last_step: Instant,
    start_delay: Duration,
    precharge_s: f64,
    /// `precharge_s` as a duration, converted once: the conversion rounds through libm,
    /// and the compiler hoisted it into every GB/T link step, where it is rarely needed.
    precharge: Duration,
    insulation_check: Duration,
    baseline: Baseline,
}

impl ConnectorPlant {
    /// The hardware of one connector of a charger built from `profile`; `meter_seed` seeds
    /// the meter's noise.
    ///
    /// # Panics
    /// Never for a profile accepted by [`CabinetPlant::from_profile`], which validates the
    /// same parameters first.
    pub fn new(profile: &ChargerProfile, meter_seed: u64) -> Self {
        let meter_params = meter_params(profile);
        let meter = EnergyMeter::new(&meter_params, ChaCha8Rng::seed_from_u64(meter_seed))
            .expect("meter parameters were validated by CabinetPlant::from_profile");
        let precharge_s = dc_params(profile).precharge.duration_s;
        let (stage, start_delay) = match profile.kind {
            ChargerKind::Dc => {
                let params = dc_params(profile);
                let out = DcOutput::new(&params, AMBIENT_C)
                    .expect("DC parameters were validated by CabinetPlant::from_profile");
                // Handshake and insulation check, then pre-charge, before energy flows.
                let delay = Duration::from_millis(profile.insulation.check_ms)
                    + Duration::from_secs_f64(params.precharge.duration_s)
                    + Duration::from_millis(500);
                (Stage::Dc(Box::new(out)), delay)
            }
            ChargerKind::Ac => {
                let params = ac_params(profile);
                let ac = AcCharger::new(&params)
                    .expect("AC parameters were validated by CabinetPlant::from_profile");
                (Stage::Ac(Box::new(ac)), Duration::from_secs(2))
            }
        };
        ConnectorPlant {
            stage,
            meter,
            last_step: Instant::ZERO,
            start_delay,
            precharge_s,
            precharge: Duration::from_secs_f64(precharge_s),
            insulation_check: Duration::from_millis(profile.insulation.check_ms),
            baseline: Baseline::default(),
        }
    }

    /// Time from the start request to energy flowing (handshake, checks, pre-charge).
    pub fn start_delay(&self, _kind: ChargerKind) -> Duration {
        self.start_delay
    }

    /// The meter's energy register, Wh (exact, before display noise).
    pub fn meter_energy_wh(&self) -> f64 {
        self.meter.import_energy_wh()
    }

    /// Energy of the session in progress, Wh (zero between sessions).
    pub fn session_energy_wh(&self) -> f64 {
        self.meter.import_energy_wh() - self.baseline.meter_wh
    }

    /// Connects the power stage to `ev` directly (no GB/T session: pre-charge and close at
    /// once) and starts the session's energy accounting.
    pub fn begin_session(&mut self, now: Instant, ev: &mut Ev) {
        match &mut self.stage {
            Stage::Dc(out) => {
                out.start_precharge(ev.pack.terminal_voltage_v(0.0));
                // The pre-charge time was spent in the Starting phase; settle it in one step.
                let settle_s = self.precharge_s + 0.01;
                out.step(settle_s, 0.0, 0.0, 0.0, &mut ev.pack);
                // A refused close leaves the contactors open; the first tick then stops the
                // session as a charger fault.
                let _ = out.close_contactors(ev.pack.terminal_voltage_v(0.0));
            }
            Stage::Ac(ac) => ac.set_pilot_state(CpState::C),
        }
        self.begin_accounting(now, ev);
    }

    /// Starts the session's energy accounting (the GB/T session connects the stage itself
    /// through [`Self::start_precharge`] and [`Self::close_contactors`]).
    pub fn begin_accounting(&mut self, now: Instant, ev: &Ev) {
        self.last_step = now;
        self.baseline = Baseline {
            meter_wh: self.meter.import_energy_wh(),
            pack_wh: pack_accounted_wh(&ev.pack),
            charger_loss_wh: self.charger_loss_wh(ev),
        };
    }

    /// The insulation check: raises the module output to `test_voltage_v` with K1/K2 open
    /// and returns the insulation resistance the monitor measures, Ω.
    pub fn insulation_check(&mut self, test_voltage_v: f64) -> f64 {
        match &mut self.stage {
            Stage::Dc(out) => {
                out.start_cable_check(test_voltage_v);
                out.insulation().resistance_ohm()
            }
            Stage::Ac(_) => f64::INFINITY,
        }
    }

    /// How long the insulation check takes.
    pub fn insulation_check_time(&self) -> Duration {
        self.insulation_check
    }

    /// How long the pre-charge takes.
    pub fn precharge_time(&self) -> Duration {
        self.precharge
    }

    /// Starts matching the module output to `target_voltage_v`.
    pub fn start_precharge(&mut self, target_voltage_v: f64) {
        if let Stage::Dc(out) = &mut self.stage {
            out.start_precharge(target_voltage_v);
        }
    }

    /// Completes the pre-charge; true when the output matches the battery.
    pub fn finish_precharge(&mut self, ev: &mut Ev) -> bool {
        let settle_s = self.precharge_s + 0.01;
        match &mut self.stage {
            Stage::Dc(out) => {
                out.step(settle_s, 0.0, 0.0, 0.0, &mut ev.pack);
                out.precharge().matches(ev.pack.terminal_voltage_v(0.0))
            }
            Stage::Ac(_) => true,
        }
    }

    /// Commands K1/K2 closed; false if the output does not match the battery.
    pub fn close_contactors(&mut self, ev: &Ev) -> bool {
        match &mut self.stage {
            Stage::Dc(out) => out
                .close_contactors(ev.pack.terminal_voltage_v(0.0))
                .is_ok(),
            Stage::Ac(_) => true,
        }
    }

    /// Opens K1/K2 (and bleeds the output).
    pub fn open_contactors(&mut self) {
        if let Stage::Dc(out) = &mut self.stage {
            out.open_contactors();
            out.start_bleed();
        }
    }

    /// Sets the insulation resistance of both poles (fault injection), Ω.
    pub fn set_insulation_ohm(&mut self, ohm: f64) {
        if let Stage::Dc(out) = &mut self.stage {
            out.insulation_mut().set_resistances(ohm, ohm);
        }
    }

    /// The gun temperature, °C (ambient for AC).
    pub fn gun_temperature_c(&self) -> f64 {
        match &self.stage {
            Stage::Dc(out) => out.gun().temperature_c(),
            Stage::Ac(_) => AMBIENT_C,
        }
    }

    fn charger_loss_wh(&self, ev: &Ev) -> f64 {
        match &self.stage {
            Stage::Dc(out) => out.energy().cable_loss_wh,
            Stage::Ac(_) => ev.obc.as_ref().map_or(0.0, |o| o.energy().loss_wh),
        }
    }

    /// Disconnects the power stage and returns the session's energy.
    pub fn finish_session(&mut self, now: Instant, ev: &mut Ev) -> SessionEnergy {
        let _ = now;
        match &mut self.stage {
            Stage::Dc(out) => out.open_contactors(),
            Stage::Ac(ac) => ac.set_pilot_state(CpState::B),
        }
        let meter_wh = self.meter.import_energy_wh() - self.baseline.meter_wh;
        let accounted_wh = (pack_accounted_wh(&ev.pack) - self.baseline.pack_wh)
            + (self.charger_loss_wh(ev) - self.baseline.charger_loss_wh);
        SessionEnergy {
            meter_wh,
            accounted_wh,
        }
    }

    /// The vehicle left.
    pub fn end_session(&mut self, _now: Instant) {
        if let Stage::Ac(ac) = &mut self.stage {
            ac.set_pilot_state(CpState::A);
        }
    }
}

fn pack_accounted_wh(pack: &BatteryPack) -> f64 {
    let e = pack.energy();
    e.chemical_wh + e.rc_stored_wh + e.ohmic_loss_wh + e.rc_loss_wh
}

/// A charger's shared hardware: the cabinet's power limit and how guns share it.
#[derive(Debug)]
pub struct CabinetPlant {
    limit_w: f64,
    sharing: PowerSharing,
    /// The last module allocation: from one tick to the next the guns' module needs rarely
    /// change, and then neither does the allocation.
    sharing_memo: SharingMemo,
    fixed_share_w: Option<f64>,
    dc: bool,
}

/// One connector's input to a physics tick.
#[derive(Debug)]
pub struct SessionSlot<'a> {
    /// The connector's hardware.
    pub plant: &'a mut ConnectorPlant,
    /// The vehicle.
    pub ev: &'a mut Ev,
    /// The GB/T charger's setpoint `(voltage_v, current_a)`; `None` couples the power stage
    /// to the BMS demand directly.
    pub setpoint: Option<(f64, f64)>,
}

/// One connector's outcome of a physics tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickResult {
    /// A reason to stop, if the plant found one.
    pub stop: Option<PlantStop>,
    /// What the BMS asks for now (sent in BCL under GB/T).
    pub demand: ChargeDemand,
    /// Output voltage at the charger, V.
    pub voltage_v: f64,
    /// Output current, A (charging positive).
    pub current_a: f64,
    /// Whether K1/K2 are closed.
    pub contactors_closed: bool,
    /// Gun temperature, °C.
    pub gun_temperature_c: f64,
}

impl CabinetPlant {
    /// Maps a charger profile onto the physics parameters and validates them.
    pub fn from_profile(profile: &ChargerProfile) -> Result<Self, String> {
        meter_params(profile)
            .validate()
            .map_err(|e| e.to_string())?;
        match profile.kind {
            ChargerKind::Dc => {
                let p = dc_params(profile);
                p.validate().map_err(|e| e.to_string())?;
                let fixed_share_w = profile.dc.as_ref().and_then(|dc| {
                    (dc.sharing == SharingSpec::Fixed)
                        .then(|| p.station_power_limit_w / f64::from(p.connectors.max(1)))
                });
                Ok(CabinetPlant {
                    limit_w: p.station_power_limit_w,
                    sharing: p.sharing(),
                    sharing_memo: SharingMemo::default(),
                    fixed_share_w,
                    dc: true,
                })
            }
            ChargerKind::Ac => {
                let p = ac_params(profile);
                p.validate().map_err(|e| e.to_string())?;
                Ok(CabinetPlant {
                    limit_w: f64::INFINITY,
                    sharing: PowerSharing::modules(1.0),
                    sharing_memo: SharingMemo::default(),
                    fixed_share_w: None,
                    dc: false,
                })
            }
        }
    }

    /// Steps every connector with a session (`Some`) from its last step to `now`, sharing
    /// the cabinet's power; writes each connector's outcome into `results` (slot `i` of
    /// `sessions` is connector `i` of the charger; the caller passes as many slots as the
    /// charger has connectors, at most [`MAX_CONNECTORS`], so that a dual-gun charger does
    /// not walk eight).
    pub fn step(
        &mut self,
        now: Instant,
        sessions: &mut [Option<SessionSlot<'_>>],
        results: &mut [Option<TickResult>],
        inv: &mut StepInvariants,
    ) {
        let mut pending: [Option<(ChargeDemand, f64, f64, f64)>; MAX_CONNECTORS] =
            [None; MAX_CONNECTORS];
        let mut demands_w = [0.0; MAX_CONNECTORS];
        // Slots from `used` on hold no session (their demand stays 0).
        let mut used = 0;
        let n = sessions.len().min(results.len()).min(MAX_CONNECTORS);
        let (sessions, results) = (&mut sessions[..n], &mut results[..n]);
        for (i, slot) in sessions.iter_mut().enumerate() {
            let Some(SessionSlot {
                plant,
                ev,
                setpoint,
            }) = slot
            else {
                continue;
            };
            used = i + 1;
            let dt_s = (now - plant.last_step).as_secs_f64();
            plant.last_step = now;
            let demand = ev.bms.demand(&ev.pack, ev.target_soc);
            let stop = demand.stop.map(PlantStop::Bms);
            let (v_set, i_set) = setpoint.unwrap_or((demand.voltage_v, demand.current_a));
            // Without a GB/T session the BMS's stop cuts the current at once; with one the
            // stop travels as BST and the charger ramps down on its own.
            if dt_s <= 0.0 || (setpoint.is_none() && stop.is_some()) {
                results[i] = Some(idle_result(plant, ev, demand, stop));
                continue;
            }
            if let Stage::Dc(out) = &plant.stage {
                demands_w[i] = out.power_demand_w(i_set, v_set, &ev.pack);
            }
            pending[i] = Some((demand, dt_s, v_set, i_set));
        }
        let mut granted_w = [0.0; MAX_CONNECTORS];
        if self.dc {
            match self.fixed_share_w {
                Some(share) => {
                    for (g, d) in granted_w.iter_mut().zip(demands_w) {
                        *g = d.min(share);
                    }
                }
                // Trailing zero demands change no one's share (a zero need is never
                // counted, granted or given a leftover module) and are granted zero, as
                // `granted_w` already holds: the allocation reads only the used slots.
                None => self.sharing.allocate_memo(
                    &mut self.sharing_memo,
                    self.limit_w,
                    demands_w.get(..used).unwrap_or(&demands_w),
                    granted_w.get_mut(..used).unwrap_or(&mut []),
                ),
            }
        }
        for (i, slot) in sessions.iter_mut().enumerate() {
            let (Some(SessionSlot { plant, ev, .. }), Some((demand, dt_s, v_set, i_set))) =
                (slot, pending[i])
            else {
                continue;
            };
            results[i] = Some(step_connector(
                plant,
                ev,
                demand,
                dt_s,
                (v_set, i_set),
                granted_w[i],
                inv,
            ));
        }
    }
}

fn idle_result(
    plant: &ConnectorPlant,
    ev: &Ev,
    demand: ChargeDemand,
    stop: Option<PlantStop>,
) -> TickResult {
    TickResult {
        stop,
        demand,
        voltage_v: ev.pack.terminal_voltage_v(0.0),
        current_a: 0.0,
        contactors_closed: matches!(&plant.stage, Stage::Dc(out) if out.contactors().is_closed()),
        gun_temperature_c: plant.gun_temperature_c(),
    }
}

fn step_connector(
    plant: &mut ConnectorPlant,
    ev: &mut Ev,
    demand: ChargeDemand,
    dt_s: f64,
    (v_set, i_set): (f64, f64),
    granted_w: f64,
    inv: &mut StepInvariants,
) -> TickResult {
    inv.steps += 1;
    let mut stop = demand.stop.map(PlantStop::Bms);
    let (voltage_v, current_a, contactors_closed) = match &mut plant.stage {
        Stage::Dc(out) => {
            let (voltage_v, current_a, closed) =
                out.step_output(dt_s, i_set, v_set, granted_w, &mut ev.pack);
            plant.meter.step(dt_s, voltage_v, current_a);
            if !closed && out.contactors().fault().is_some() {
                stop = Some(PlantStop::Contactors);
            }
            if closed
                && out.insulation().classify(voltage_v.max(1.0))
                    == crate::physics::InsulationState::Fault
            {
                stop = Some(PlantStop::Insulation);
            }
            if out.gun().over_temperature() {
                stop = Some(PlantStop::GunOverTemperature);
            }
            (voltage_v, current_a, closed)
        }
        Stage::Ac(ac) => {
            inv.ac_steps += 1;
            let Some(obc) = ev.obc.as_mut() else {
                return idle_result(plant, ev, demand, Some(PlantStop::Contactors));
            };
            let s = ac.step(dt_s, obc, &demand, &mut ev.pack);
            plant.meter.step_ac(dt_s, &s.obc.ac);
            if s.obc.ac.phase_current_a > s.allowed_current_a + 1e-6 {
                inv.pwm_violations += 1;
            }
            (
                s.obc.ac.phase_voltage_v,
                s.obc.ac.phase_current_a,
                s.relay_closed,
            )
        }
    };
    let gun_temperature_c = plant.gun_temperature_c();
    let soc = ev.pack.soc();
    if soc > 1.0 + 1e-9 || soc < ev.last_soc - 1e-12 {
        inv.soc_violations += 1;
    }
    ev.last_soc = soc;
    let t = ev.pack.temperature_c();
    if !(-40.0..=150.0).contains(&t) || !(-40.0..=150.0).contains(&gun_temperature_c) {
        inv.temperature_violations += 1;
    }
    TickResult {
        stop,
        demand,
        voltage_v,
        current_a,
        contactors_closed,
        gun_temperature_c,
    }
}

fn meter_params(profile: &ChargerProfile) -> MeterParams {
    let base = match (profile.kind, profile.ac.as_ref().map(|a| a.phases)) {
        (ChargerKind::Dc, _) => MeterParams::dc(),
        (ChargerKind::Ac, Some(3)) => MeterParams::ac_three_phase(),
        (ChargerKind::Ac, _) => MeterParams::ac_single_phase(),
    };
    MeterParams {
        accuracy_class_pct: profile.meter.accuracy_class_pct,
        ..base
    }
}

fn dc_params(profile: &ChargerProfile) -> DcChargerParams {
    let base = DcChargerParams::dc_60kw_single();
    let Some(dc) = &profile.dc else {
        return base;
    };
    let module_power_w = dc.module_power_kw * 1000.0;
    let gun = &profile.gun;
    let cooling_w_per_k = GunThermalParams::default().cooling_w_per_k;
    DcChargerParams {
        connectors: profile.connectors,
        module_count: dc.module_count.min(u32::from(u16::MAX)) as u16,
        module_power_w,
        module_current_max_a: module_power_w / dc.output_voltage_min_v.max(300.0),
        output_voltage_min_v: dc.output_voltage_min_v,
        output_voltage_max_v: dc.output_voltage_max_v,
        output_current_max_a: dc.output_current_max_a,
        output_current_min_a: dc.output_current_min_a,
        ramp_up_a_per_s: dc.ramp_a_per_s,
        ramp_down_a_per_s: (dc.ramp_a_per_s * 5.0).max(100.0),
        station_power_limit_w: dc.cabinet_power_w(),
        efficiency: efficiency_curve(&dc.efficiency_curve),
        supply: AcSupply {
            phases: 3,
            phase_voltage_v: dc.ac_input_voltage_v / 3f64.sqrt(),
            frequency_hz: 50.0,
            power_factor: dc.ac_input_power_factor,
        },
        insulation: crate::physics::InsulationParams {
            healthy_resistance_ohm: profile
                .insulation
                .resistance_pos_kohm
                .min(profile.insulation.resistance_neg_kohm)
                * 1000.0,
            ..base.insulation
        },
        precharge: crate::physics::PreChargeParams {
            duration_s: dc.precharge_ms as f64 / 1000.0,
            ..base.precharge
        },
        gun: GunThermalParams {
            // Steady state: ΔT = I²·R / k, so R = ΔT·k / I²; time constant τ = C / k.
            contact_resistance_ohm: gun.rise_at_rated_c * cooling_w_per_k
                / (gun.rated_current_a * gun.rated_current_a),
            thermal_mass_j_per_k: gun.time_constant_s * cooling_w_per_k,
            cooling_w_per_k,
            derate_start_c: gun.trip_c - 15.0,
            max_c: gun.trip_c,
        },
        ..base
    }
}

/// Resamples a profile's `[load_pct, efficiency_pct]` points onto the model's breakpoints.
fn efficiency_curve(points: &[[f64; 2]]) -> Curve<EFFICIENCY_POINTS> {
    if points.is_empty() {
        return DEFAULT_MODULE_EFFICIENCY;
    }
    let xs: Vec<f64> = points.iter().map(|p| p[0] / 100.0).collect();
    let ys: Vec<f64> = points.iter().map(|p| p[1] / 100.0).collect();
    let mut y = [0.0; EFFICIENCY_POINTS];
    for (out, &x) in y.iter_mut().zip(&DEFAULT_MODULE_EFFICIENCY.x) {
        *out = interpolate(&xs, &ys, x);
    }
    Curve::new(DEFAULT_MODULE_EFFICIENCY.x, y)
}

fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let n = xs.len().min(ys.len());
    if n == 0 {
        return 0.95;
    }
    if x <= xs[0] {
        return ys[0];
    }
    for k in 1..n {
        if x <= xs[k] {
            let f = (x - xs[k - 1]) / (xs[k] - xs[k - 1]).max(1e-12);
            return ys[k - 1] + f * (ys[k] - ys[k - 1]);
        }
    }
    ys[n - 1]
}

fn ac_params(profile: &ChargerProfile) -> AcChargerParams {
    let base = AcChargerParams::ac_7kw_1ph();
    let Some(ac) = &profile.ac else {
        return base;
    };
    AcChargerParams {
        supply: AcSupply {
            phases: ac.phases,
            phase_voltage_v: ac.phase_voltage_v,
            frequency_hz: 50.0,
            power_factor: 0.99,
        },
        max_current_a: ac.current_max_a,
        cable_max_current_a: profile.gun.rated_current_a,
        pwm_table: PwmTable::Gbt18487,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_profile_maps_onto_valid_physics() {
        let lib = profiles::Library::bundled().unwrap();
        for c in lib.chargers.values() {
            CabinetPlant::from_profile(c).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            let _ = ConnectorPlant::new(c, 1);
        }
        for v in lib.vehicles.values() {
            VehicleModel::from_profile(v).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        }
    }

    #[test]
    fn efficiency_resampling_interpolates() {
        let c = efficiency_curve(&[[0.0, 80.0], [100.0, 100.0]]);
        assert!((c.eval(0.5) - 0.9).abs() < 1e-9);
    }
}
