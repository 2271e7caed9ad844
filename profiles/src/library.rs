//! The profile library: bundled profiles, files on disk, and scenario resolution.

use crate::charger::{ChargerKind, ChargerProfile};
use crate::scenario::{FleetGroup, FleetProfile, Scenario, TrafficSpec, VehicleShare};
use crate::validate::{Errors, ValidationError};
use crate::vehicle::VehicleProfile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bundled profile files, embedded in the binary: `(relative path, text)`.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "chargers/dc-60kw-single.toml",
        include_str!("../chargers/dc-60kw-single.toml"),
    ),
    (
        "chargers/dc-120kw-dual.toml",
        include_str!("../chargers/dc-120kw-dual.toml"),
    ),
    (
        "chargers/dc-360kw-split.toml",
        include_str!("../chargers/dc-360kw-split.toml"),
    ),
    (
        "chargers/ac-7kw-1ph.toml",
        include_str!("../chargers/ac-7kw-1ph.toml"),
    ),
    (
        "chargers/ac-22kw-3ph.toml",
        include_str!("../chargers/ac-22kw-3ph.toml"),
    ),
    (
        "vehicles/lfp-car-60kwh.toml",
        include_str!("../vehicles/lfp-car-60kwh.toml"),
    ),
    (
        "vehicles/ncm-car-75kwh.toml",
        include_str!("../vehicles/ncm-car-75kwh.toml"),
    ),
    (
        "vehicles/ncm-800v-90kwh.toml",
        include_str!("../vehicles/ncm-800v-90kwh.toml"),
    ),
    (
        "vehicles/lfp-bus-350kwh.toml",
        include_str!("../vehicles/lfp-bus-350kwh.toml"),
    ),
    (
        "fleets/demo-mixed.toml",
        include_str!("../fleets/demo-mixed.toml"),
    ),
    (
        "fleets/small-mixed.toml",
        include_str!("../fleets/small-mixed.toml"),
    ),
    (
        "scenarios/demo.toml",
        include_str!("../scenarios/demo.toml"),
    ),
    (
        "scenarios/ci-smoke.toml",
        include_str!("../scenarios/ci-smoke.toml"),
    ),
    (
        "scenarios/bench/engine-1k.toml",
        include_str!("../scenarios/bench/engine-1k.toml"),
    ),
    (
        "scenarios/bench/engine-1k-can.toml",
        include_str!("../scenarios/bench/engine-1k-can.toml"),
    ),
    (
        "scenarios/bench/engine-100k.toml",
        include_str!("../scenarios/bench/engine-100k.toml"),
    ),
    (
        "scenarios/bench/mqtt-19k.toml",
        include_str!("../scenarios/bench/mqtt-19k.toml"),
    ),
    (
        "scenarios/bench/mqtt-100k.toml",
        include_str!("../scenarios/bench/mqtt-100k.toml"),
    ),
    (
        "scenarios/bench/mqtt-qos0-100k.toml",
        include_str!("../scenarios/bench/mqtt-qos0-100k.toml"),
    ),
    (
        "scenarios/bench/mqtt-qos2-10k.toml",
        include_str!("../scenarios/bench/mqtt-qos2-10k.toml"),
    ),
    (
        "scenarios/faults/blackout-reconnect-storm.toml",
        include_str!("../scenarios/faults/blackout-reconnect-storm.toml"),
    ),
    (
        "scenarios/faults/bms-comm-loss.toml",
        include_str!("../scenarios/faults/bms-comm-loss.toml"),
    ),
    (
        "scenarios/faults/broker-restart.toml",
        include_str!("../scenarios/faults/broker-restart.toml"),
    ),
    (
        "scenarios/faults/firmware-update-storm.toml",
        include_str!("../scenarios/faults/firmware-update-storm.toml"),
    ),
    (
        "scenarios/faults/meter-failure.toml",
        include_str!("../scenarios/faults/meter-failure.toml"),
    ),
    (
        "scenarios/faults/network-partition.toml",
        include_str!("../scenarios/faults/network-partition.toml"),
    ),
    (
        "scenarios/faults/network-degradation.toml",
        include_str!("../scenarios/faults/network-degradation.toml"),
    ),
    (
        "scenarios/faults/platform-outage.toml",
        include_str!("../scenarios/faults/platform-outage.toml"),
    ),
    (
        "scenarios/faults/slow-backend.toml",
        include_str!("../scenarios/faults/slow-backend.toml"),
    ),
    (
        "scenarios/faults/insulation-fault.toml",
        include_str!("../scenarios/faults/insulation-fault.toml"),
    ),
];

/// Why profiles could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not valid TOML for its schema (syntax, unknown field, wrong type).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// The profile parsed but is invalid; every problem is listed.
    #[error("{} problem(s):\n{}", .0.len(), list(.0))]
    Invalid(Vec<ValidationError>),
    /// A file's kind could not be recognised.
    #[error("{path}: not a scenario, fleet, charger or vehicle profile ({hint})")]
    UnknownKind {
        /// The file.
        path: String,
        /// What was looked for.
        hint: &'static str,
    },
}

fn list(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What kind of profile a TOML file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// A scenario (`[scenario]` table).
    Scenario,
    /// A fleet (`groups` array at the top).
    Fleet,
    /// A charger (`kind` and `connectors`).
    Charger,
    /// A vehicle (`[battery]` table).
    Vehicle,
}

/// Recognises a profile's kind from its top-level keys.
pub fn detect_kind(path: &str, text: &str) -> Result<ProfileKind, ProfileError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ProfileError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if table.contains_key("scenario") {
        Ok(ProfileKind::Scenario)
    } else if table.contains_key("battery") {
        Ok(ProfileKind::Vehicle)
    } else if table.contains_key("groups") {
        Ok(ProfileKind::Fleet)
    } else if table.contains_key("kind") {
        Ok(ProfileKind::Charger)
    } else {
        Err(ProfileError::UnknownKind {
            path: path.to_owned(),
            hint: "expected a [scenario] table, a [battery] table, a groups array, or a kind key",
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, ProfileError> {
    toml::from_str(text).map_err(|e| ProfileError::Parse {
        path: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })
}

/// Parses and validates one profile file of any kind; returns its kind.
pub fn validate_text(path: &str, text: &str) -> Result<ProfileKind, ProfileError> {
    let kind = detect_kind(path, text)?;
    let mut e = Errors::new(path.to_owned());
    match kind {
        ProfileKind::Scenario => parse::<Scenario>(path, text)?.validate(&mut e),
        ProfileKind::Fleet => parse::<FleetProfile>(path, text)?.validate(&mut e),
        ProfileKind::Charger => parse::<ChargerProfile>(path, text)?.validate(&mut e),
        ProfileKind::Vehicle => parse::<VehicleProfile>(path, text)?.validate(&mut e),
    }
    if e.list.is_empty() {
        Ok(kind)
    } else {
        Err(ProfileError::Invalid(e.list))
    }
}

/// Named charger, vehicle and fleet profiles, bundled and from disk.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// Charger profiles by name.
    pub chargers: BTreeMap<String, ChargerProfile>,
    /// Vehicle profiles by name.
    pub vehicles: BTreeMap<String, VehicleProfile>,
    /// Fleet profiles by name.
    pub fleets: BTreeMap<String, FleetProfile>,
    /// Bundled scenario texts by name.
    pub scenarios: BTreeMap<String, &'static str>,
}

impl Library {
    /// The profiles shipped with chargestorm.
    pub fn bundled() -> Result<Self, ProfileError> {
        let mut lib = Library::default();
        for (path, text) in BUNDLED {
            let name = Path::new(path)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            match detect_kind(path, text)? {
                ProfileKind::Scenario => {
                    // Fault scenarios keep their folder: `faults/broker-restart`.
                    let name = match path.strip_prefix("scenarios/faults/") {
                        Some(_) => format!("faults/{name}"),
                        None => name,
                    };
                    lib.scenarios.insert(name, text);
                }
                ProfileKind::Fleet => {
                    let f: FleetProfile = parse(path, text)?;
                    lib.fleets.insert(f.name.clone(), f);
                }
                ProfileKind::Charger => {
                    let c: ChargerProfile = parse(path, text)?;
                    lib.chargers.insert(c.name.clone(), c);
                }
                ProfileKind::Vehicle => {
                    let v: VehicleProfile = parse(path, text)?;
                    lib.vehicles.insert(v.name.clone(), v);
                }
            }
        }
        Ok(lib)
    }

    /// Loads a scenario by bundled name (`demo`) or path, and resolves it.
    pub fn load_scenario(&self, name_or_path: &str) -> Result<ResolvedScenario, ProfileError> {
        let (source, text, base) = if let Some(text) = self.scenarios.get(name_or_path) {
            (format!("bundled:{name_or_path}"), (*text).to_owned(), None)
        } else {
            let path = PathBuf::from(name_or_path);
            let text = read(&path)?;
            let base = path.parent().map(Path::to_path_buf);
            (path.display().to_string(), text, base)
        };
        let scenario: Scenario = parse(&source, &text)?;
        self.resolve(scenario, &source, base.as_deref())
    }

    /// Resolves every reference of `scenario` and validates the whole; `base` is the
    /// directory relative paths start from.
    pub fn resolve(
        &self,
        scenario: Scenario,
        source: &str,
        base: Option<&Path>,
    ) -> Result<ResolvedScenario, ProfileError> {
        let mut e = Errors::new(String::new());
        scenario.validate(&mut e);
        let groups = match &scenario.fleet.use_fleet {
            Some(name) => match self.fleet(name, base) {
                Ok(f) => f.groups,
                Err(msg) => {
                    e.push("fleet.use", msg);
                    Vec::new()
                }
            },
            None => scenario.fleet.groups.clone(),
        };
        let mut resolved = Vec::with_capacity(groups.len());
        for (i, g) in groups.iter().enumerate() {
            e.nested(&format!("fleet.groups[{i}]"), |e| {
                if let Some(r) = self.resolve_group(g, &scenario.traffic, base, e) {
                    resolved.push(r);
                }
            });
        }
        if !e.list.is_empty() {
            for err in &mut e.list {
                err.path = format!("{source}: {}", err.path);
            }
            return Err(ProfileError::Invalid(e.list));
        }
        Ok(ResolvedScenario {
            source: source.to_owned(),
            groups: resolved,
            scenario,
        })
    }

    fn resolve_group(
        &self,
        g: &FleetGroup,
        traffic: &TrafficSpec,
        base: Option<&Path>,
        e: &mut Errors,
    ) -> Option<ResolvedGroup> {
        g.validate(e);
        let charger = match self.charger(&g.charger, base) {
            Ok(c) => c,
            Err(msg) => {
                e.push("charger", msg);
                return None;
            }
        };
        let mix_src = g.vehicle_mix.as_ref().unwrap_or(&traffic.vehicle_mix);
        let mix_field = if g.vehicle_mix.is_some() {
            "vehicle_mix"
        } else {
            "(traffic.vehicle_mix)"
        };
        let mut mix = Vec::with_capacity(mix_src.len());
        for (i, VehicleShare { vehicle, weight }) in mix_src.iter().enumerate() {
            let field = format!("{mix_field}[{i}].vehicle");
            match self.vehicle(vehicle, base) {
                Ok(v) => {
                    let usable = match charger.kind {
                        ChargerKind::Dc => v.dc_inlet,
                        ChargerKind::Ac => v.obc.is_some(),
                    };
                    if !usable {
                        e.push(
                            &field,
                            format!("{} cannot charge at a {:?} charger", v.name, charger.kind),
                        );
                    }
                    mix.push((v, *weight));
                }
                Err(msg) => e.push(&field, msg),
            }
        }
        Some(ResolvedGroup {
            name: g.name.clone(),
            charger,
            count: g.count,
            chargers_per_station: g.chargers_per_station,
            arrivals_per_connector_per_h: g
                .arrivals_per_connector_per_h
                .unwrap_or(traffic.arrivals_per_connector_per_h),
            vehicle_mix: mix,
        })
    }

    fn charger(&self, name: &str, base: Option<&Path>) -> Result<ChargerProfile, String> {
        self.named_or_file(name, base, &self.chargers, |c: &ChargerProfile, e| {
            c.validate(e)
        })
    }

    fn vehicle(&self, name: &str, base: Option<&Path>) -> Result<VehicleProfile, String> {
        self.named_or_file(name, base, &self.vehicles, |v: &VehicleProfile, e| {
            v.validate(e)
        })
    }

    fn fleet(&self, name: &str, base: Option<&Path>) -> Result<FleetProfile, String> {
        self.named_or_file(name, base, &self.fleets, |f: &FleetProfile, e| {
            f.validate(e)
        })
    }

    fn named_or_file<T: Clone + serde::de::DeserializeOwned>(
        &self,
        name: &str,
        base: Option<&Path>,
        named: &BTreeMap<String, T>,
        validate: impl Fn(&T, &mut Errors),
    ) -> Result<T, String> {
        if !name.ends_with(".toml") {
            return named.get(name).cloned().ok_or_else(|| {
                let known: Vec<&str> = named.keys().map(String::as_str).collect();
                format!("unknown profile {name:?}; known: {}", known.join(", "))
            });
        }
        let path = base.map_or_else(|| PathBuf::from(name), |b| b.join(name));
        let shown = path.display().to_string();
        let text = read(&path).map_err(|e| e.to_string())?;
        let value: T = parse(&shown, &text).map_err(|e| e.to_string())?;
        let mut e = Errors::new(shown);
        validate(&value, &mut e);
        if e.list.is_empty() {
            Ok(value)
        } else {
            Err(list(&e.list))
        }
    }
}

fn read(path: &Path) -> Result<String, ProfileError> {
    std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// A charger group with its profiles resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedGroup {
    /// Group name.
    pub name: String,
    /// The charger profile.
    pub charger: ChargerProfile,
    /// How many chargers.
    pub count: u32,
    /// Chargers per station.
    pub chargers_per_station: u32,
    /// Mean arrivals per connector per hour.
    pub arrivals_per_connector_per_h: f64,
    /// Vehicles with relative weights.
    pub vehicle_mix: Vec<(VehicleProfile, f64)>,
}

/// A scenario with every reference resolved and everything validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedScenario {
    /// Where it came from (`bundled:demo` or a path).
    pub source: String,
    /// The scenario as written.
    pub scenario: Scenario,
    /// Its charger groups, in fleet order.
    pub groups: Vec<ResolvedGroup>,
}

impl ResolvedScenario {
    /// Total chargers in the fleet.
    pub fn charger_count(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.count)).sum()
    }

    /// Total connectors in the fleet.
    pub fn connector_count(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| u64::from(g.count) * u64::from(g.charger.connectors))
            .sum()
    }
}
