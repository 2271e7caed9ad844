//! The scenario schema of chargestorm and its bundled profiles.
//!
//! Profiles are TOML files with a typed schema: unknown keys are rejected, units are in
//! the key names (`module_power_kw`, `dwell_min`, `plug_to_start_s`), and every field
//! documents its default. Parsing catches structural errors (syntax, unknown keys, wrong
//! types) with their line and key; `validate()` then reports *every* semantic problem,
//! each with the dotted path of the field.
//!
//! Kinds: chargers (`chargers/*.toml`), vehicles (`vehicles/*.toml`), fleets
//! (`fleets/*.toml`) and scenarios (`scenarios/*.toml`). A scenario names its fleet and
//! vehicles; [`Library::load_scenario`] resolves the names against the bundled library or
//! paths relative to the scenario file, and returns a [`ResolvedScenario`].

pub mod bench;
pub mod charger;
pub mod civil;
pub mod duration;
pub mod library;
pub mod scenario;
pub mod timeline;
pub mod validate;
pub mod vehicle;

pub use charger::{ChargerKind, ChargerProfile, MeterModel};
pub use duration::HumanDuration;
pub use library::{Library, ProfileError, ProfileKind, ResolvedGroup, ResolvedScenario};
pub use scenario::{Scenario, TrafficSpec};
pub use validate::ValidationError;
pub use vehicle::{Chemistry, VehicleProfile};
