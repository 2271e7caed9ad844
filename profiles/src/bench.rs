//! Bench files (`profiles/benches/*.toml`): which parts of a hardware-in-the-loop bench are
//! real and which chargestorm simulates, per connector.
//!
//! A bench maps each connector's CAN bus (an in-process virtual segment, a SocketCAN
//! interface or a socketcand server), its energy meter (simulated, served to a real board
//! over Modbus TCP or RTU, or read from a real meter) and the backend (embedded, or an
//! external broker and platform). `chargestorm hil BENCH.toml` starts what the file names.
//!
//! ```toml
//! name = "board-bms"
//! [backend]
//! kind = "embedded"
//! [[connectors]]
//! name = "gun1"
//! can = { endpoint = "socketcan:can0", role = "bms" }
//! meter = { mode = "serve", model = "djsf1352", serial = "/dev/ttyUSB0", baud = 9600 }
//! ```

use crate::charger::MeterModel;
use crate::validate::{Errors, ValidationError};
use serde::{Deserialize, Serialize};

/// Bundled bench files: `(relative path, text)`.
pub const BUNDLED_BENCHES: &[(&str, &str)] = &[
    (
        "benches/board-bms.toml",
        include_str!("../benches/board-bms.toml"),
    ),
    (
        "benches/bms-under-test.toml",
        include_str!("../benches/bms-under-test.toml"),
    ),
    ("benches/mixed.toml", include_str!("../benches/mixed.toml")),
    (
        "benches/virtual.toml",
        include_str!("../benches/virtual.toml"),
    ),
];

/// A bench file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchFile {
    /// Bench name, shown in reports.
    pub name: String,
    /// What the bench is for.
    #[serde(default)]
    pub description: String,
    /// The backend the real boards and the simulated fleet talk to.
    #[serde(default)]
    pub backend: BackendSpec,
    /// A simulated fleet run against the same backend (a mixed bench).
    #[serde(default)]
    pub fleet: Option<FleetSpec>,
    /// The connectors of the bench, at least one.
    pub connectors: Vec<ConnectorSpec>,
}

/// Embedded or external backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// chargestorm's own broker, backend and reference platform.
    #[default]
    Embedded,
    /// A broker and platform under test elsewhere.
    External,
}

/// `[backend]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// Embedded or external.
    #[serde(default)]
    pub kind: BackendKind,
    /// `mqtt://HOST:PORT` or `mqtts://HOST:PORT`; required when external.
    #[serde(default)]
    pub broker: Option<String>,
    /// `http(s)://HOST:PORT` of the monitoring platform; optional when external.
    #[serde(default)]
    pub platform: Option<String>,
}

/// `[fleet]`: a simulated fleet next to the real boards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// A bundled scenario name (`ci-smoke`) or a scenario path relative to the bench file.
    pub scenario: String,
}

/// One connector of the bench.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSpec {
    /// Connector name, unique in the bench (report keys, trace entities).
    pub name: String,
    /// The connector's CAN bus and the part chargestorm plays on it.
    pub can: CanSpec,
    /// The connector's energy meter.
    #[serde(default)]
    pub meter: MeterSpec,
    /// How chargestorm's side of the session behaves.
    #[serde(default)]
    pub session: SessionSpec,
    /// Bench signals driven during the run.
    #[serde(default)]
    pub signals: SignalsSpec,
}

/// The part chargestorm plays on a connector's CAN bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanRole {
    /// chargestorm is the vehicle's BMS: the device under test is a charger board.
    Bms,
    /// chargestorm is the charger: the device under test is a BMS.
    Charger,
}

/// A parsed CAN endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanEndpoint {
    /// An in-process segment: chargestorm plays both sides (a dry run of the bench).
    Virtual,
    /// A Linux SocketCAN interface (`can0`, `vcan0`).
    SocketCan {
        /// Interface name.
        iface: String,
    },
    /// A socketcand server at `host:port`.
    Socketcand {
        /// `HOST:PORT`.
        addr: String,
    },
}

impl CanEndpoint {
    /// Parses `virtual`, `socketcan:IFACE` or `socketcand:HOST:PORT`.
    pub fn parse(text: &str) -> Result<CanEndpoint, String> {
        let text = text.trim();
        if text == "virtual" {
            return Ok(CanEndpoint::Virtual);
        }
        if let Some(iface) = text.strip_prefix("socketcan:") {
            // Linux limits interface names to 15 bytes (IFNAMSIZ − 1).
            if iface.is_empty() || iface.len() > 15 || iface.contains(['/', ' ']) {
                return Err(format!("{iface:?} is not a network interface name"));
            }
            return Ok(CanEndpoint::SocketCan {
                iface: iface.to_owned(),
            });
        }
        if let Some(addr) = text.strip_prefix("socketcand:") {
            return match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(CanEndpoint::Socketcand {
                        addr: addr.to_owned(),
                    })
                }
                _ => Err(format!("{addr:?} is not HOST:PORT")),
            };
        }
        Err(format!(
            "{text:?}: expected virtual, socketcan:IFACE or socketcand:HOST:PORT"
        ))
    }
}

/// `can = { … }` of a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanSpec {
    /// `virtual`, `socketcan:IFACE` or `socketcand:HOST:PORT`.
    pub endpoint: String,
    /// The part chargestorm plays.
    pub role: CanRole,
    /// socketcand only: serve the bus on `HOST:PORT` (port 0: any) instead of joining a
    /// server there, so a second chargestorm or a bench box can join it.
    #[serde(default)]
    pub listen: bool,
    /// socketcand only: the bus name on the server (default `can0`).
    #[serde(default = "default_bus")]
    pub bus: String,
}

fn default_bus() -> String {
    "can0".into()
}

impl CanSpec {
    /// The parsed endpoint (validation has checked it).
    pub fn parsed(&self) -> Result<CanEndpoint, String> {
        CanEndpoint::parse(&self.endpoint)
    }

    fn validate(&self, e: &mut Errors) {
        match self.parsed() {
            Err(m) => e.push("endpoint", m),
            Ok(CanEndpoint::Socketcand { .. }) => e.non_empty("bus", &self.bus),
            Ok(_) if self.listen => e.push("listen", "only a socketcand endpoint can listen"),
            Ok(_) => {}
        }
    }
}

/// Where a connector's meter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MeterMode {
    /// The simulated meter, seen only by chargestorm.
    #[default]
    Simulated,
    /// The simulated meter served over Modbus to the board under test.
    Serve,
    /// A real meter read over Modbus; its readings replace the simulated meter's.
    Read,
}

/// Serial parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Parity {
    /// 8N1.
    #[default]
    None,
    /// 8E1.
    Even,
    /// 8O1.
    Odd,
}

/// `meter = { … }` of a connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterSpec {
    /// Simulated, served or read.
    #[serde(default)]
    pub mode: MeterMode,
    /// Register map (default the DC meter of most Chinese chargers).
    #[serde(default = "default_meter_model")]
    pub model: MeterModel,
    /// Modbus TCP address: where to serve, or the real meter to read.
    #[serde(default)]
    pub tcp: Option<String>,
    /// Serial port for Modbus RTU (RS-485 adapter).
    #[serde(default)]
    pub serial: Option<String>,
    /// Serial baud rate.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Serial parity.
    #[serde(default)]
    pub parity: Parity,
    /// Modbus unit id, 1..=247.
    #[serde(default = "default_unit")]
    pub unit: u8,
    /// Read mode: poll period, ms.
    #[serde(default = "default_period")]
    pub period_ms: u64,
    /// Faults of the simulated meter (also what a served meter shows).
    #[serde(default)]
    pub faults: MeterFaultSpec,
}

fn default_meter_model() -> MeterModel {
    MeterModel::Djsf1352
}
fn default_baud() -> u32 {
    9600
}
fn default_unit() -> u8 {
    1
}
fn default_period() -> u64 {
    1000
}

impl Default for MeterSpec {
    fn default() -> Self {
        MeterSpec {
            mode: MeterMode::Simulated,
            model: default_meter_model(),
            tcp: None,
            serial: None,
            baud: default_baud(),
            parity: Parity::None,
            unit: default_unit(),
            period_ms: default_period(),
            faults: MeterFaultSpec::default(),
        }
    }
}

impl MeterSpec {
    fn validate(&self, e: &mut Errors) {
        let wired = self.mode != MeterMode::Simulated;
        match (&self.tcp, &self.serial) {
            (Some(_), Some(_)) => e.push("serial", "give either tcp or serial, not both"),
            (None, None) if wired => e.push("tcp", "a served or read meter needs tcp or serial"),
            (Some(_), None) | (None, Some(_)) if !wired => {
                e.push("mode", "tcp or serial given but the meter is simulated");
            }
            _ => {}
        }
        if let Some(addr) = &self.tcp
            && addr.parse::<std::net::SocketAddr>().is_err()
        {
            e.push("tcp", format!("{addr:?} is not IP:PORT"));
        }
        if let Some(path) = &self.serial {
            e.non_empty("serial", path);
        }
        if self.model != MeterModel::Djsf1352 {
            e.push(
                "model",
                "a GB/T 27930 connector is DC: its meter is a djsf1352 (AC meters have no CAN session)",
            );
        }
        if !(300..=115_200).contains(&self.baud) {
            e.push(
                "baud",
                format!("{} is out of range 300..=115200", self.baud),
            );
        }
        if !(1..=247).contains(&self.unit) {
            e.push("unit", format!("{} is out of range 1..=247", self.unit));
        }
        if !(50..=60_000).contains(&self.period_ms) {
            e.push(
                "period_ms",
                format!("{} is out of range 50..=60000", self.period_ms),
            );
        }
        e.nested("faults", |f| self.faults.validate(f, self.mode));
    }
}

/// `meter.faults`: what goes wrong with the meter during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MeterFaultSpec {
    /// Freeze every value this many seconds into the run.
    #[serde(default)]
    pub stuck_after_s: Option<f64>,
    /// Import energy drift, Wh per hour of run time (negative runs back).
    #[serde(default)]
    pub drift_wh_per_h: f64,
    /// Served meters: drop every request.
    #[serde(default)]
    pub no_response: bool,
    /// Served RTU meters: fraction of replies with a wrong CRC, 0..=1.
    #[serde(default)]
    pub wrong_crc_ratio: f64,
    /// Served meters: delay before each reply, ms.
    #[serde(default)]
    pub response_delay_ms: u64,
}

impl MeterFaultSpec {
    fn validate(&self, e: &mut Errors, mode: MeterMode) {
        if let Some(s) = self.stuck_after_s {
            e.range("stuck_after_s", s, 0.0, 1e7);
        }
        e.range("drift_wh_per_h", self.drift_wh_per_h, -1e6, 1e6);
        e.range("wrong_crc_ratio", self.wrong_crc_ratio, 0.0, 1.0);
        if self.response_delay_ms > 60_000 {
            e.push("response_delay_ms", "at most 60000");
        }
        let wire = self.no_response || self.wrong_crc_ratio > 0.0 || self.response_delay_ms > 0;
        if wire && mode != MeterMode::Serve {
            e.push(
                "",
                "no_response, wrong_crc_ratio and response_delay_ms need mode = \"serve\"",
            );
        }
        if mode == MeterMode::Read && (self.stuck_after_s.is_some() || self.drift_wh_per_h != 0.0) {
            e.push(
                "",
                "a read meter is real: it cannot be given simulated faults",
            );
        }
    }
}

/// `session = { … }`: chargestorm's side of the GB/T session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// Vehicle profile of a BMS role (its pack voltage and limits), bundled name or path.
    #[serde(default = "default_vehicle")]
    pub vehicle: String,
    /// Charger profile of a charger role (its output limits), bundled name or path.
    #[serde(default = "default_charger")]
    pub charger: String,
    /// End the session normally after charging this long, s (none: the peer ends it).
    #[serde(default)]
    pub stop_after_charging_s: Option<f64>,
}

fn default_vehicle() -> String {
    "lfp-car-60kwh".into()
}
fn default_charger() -> String {
    "dc-60kw-single".into()
}

impl Default for SessionSpec {
    fn default() -> Self {
        SessionSpec {
            vehicle: default_vehicle(),
            charger: default_charger(),
            stop_after_charging_s: None,
        }
    }
}

/// `signals = { … }`: what the relay/IO box does during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SignalsSpec {
    /// Insulation resistance DC± → PE injected, Ω (none: healthy).
    #[serde(default)]
    pub insulation_ohm: Option<f64>,
    /// When the insulation fault is injected, s into the run.
    #[serde(default)]
    pub insulation_at_s: f64,
    /// Press the emergency stop this many seconds into the run.
    #[serde(default)]
    pub emergency_stop_at_s: Option<f64>,
}

impl SignalsSpec {
    fn validate(&self, e: &mut Errors) {
        if let Some(ohm) = self.insulation_ohm {
            e.range("insulation_ohm", ohm, 0.0, 1e9);
        }
        e.range("insulation_at_s", self.insulation_at_s, 0.0, 1e7);
        if let Some(s) = self.emergency_stop_at_s {
            e.range("emergency_stop_at_s", s, 0.0, 1e7);
        }
    }
}

impl BenchFile {
    /// Parses a bench file's text (structural errors carry line and key).
    pub fn parse(text: &str) -> Result<BenchFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Every semantic problem, each with its dotted path.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::new("");
        e.non_empty("name", &self.name);
        e.nested("backend", |b| self.backend.validate(b));
        if let Some(fleet) = &self.fleet {
            e.nested("fleet", |f| f.non_empty("scenario", &fleet.scenario));
        }
        if self.connectors.is_empty() {
            e.push("connectors", "a bench needs at least one connector");
        }
        for (i, c) in self.connectors.iter().enumerate() {
            e.nested(&format!("connectors[{i}]"), |e| c.validate(e));
            if self.connectors[..i].iter().any(|o| o.name == c.name) {
                e.push(
                    &format!("connectors[{i}].name"),
                    format!("{:?} is used twice", c.name),
                );
            }
        }
        self.check_shared_ports(&mut e);
        if e.list.is_empty() {
            Ok(())
        } else {
            Err(e.list)
        }
    }

    /// Two served meters cannot own the same TCP address or serial port.
    fn check_shared_ports(&self, e: &mut Errors) {
        let mut seen: Vec<&str> = Vec::new();
        for (i, c) in self.connectors.iter().enumerate() {
            if c.meter.mode == MeterMode::Simulated {
                continue;
            }
            for port in [&c.meter.tcp, &c.meter.serial].into_iter().flatten() {
                if seen.contains(&port.as_str()) {
                    e.push(
                        &format!("connectors[{i}].meter"),
                        format!("{port} is already used by another connector's meter"),
                    );
                }
                seen.push(port);
            }
        }
    }
}

impl ConnectorSpec {
    fn validate(&self, e: &mut Errors) {
        e.non_empty("name", &self.name);
        e.nested("can", |c| self.can.validate(c));
        e.nested("meter", |m| self.meter.validate(m));
        e.nested("session", |s| {
            s.non_empty("vehicle", &self.session.vehicle);
            s.non_empty("charger", &self.session.charger);
            if let Some(t) = self.session.stop_after_charging_s {
                s.range("stop_after_charging_s", t, 0.0, 1e7);
            }
        });
        e.nested("signals", |s| self.signals.validate(s));
    }
}

impl BackendSpec {
    fn validate(&self, e: &mut Errors) {
        match self.kind {
            BackendKind::Embedded => {
                if self.broker.is_some() || self.platform.is_some() {
                    e.push("kind", "an embedded backend takes no broker or platform");
                }
            }
            BackendKind::External => match &self.broker {
                None => e.push("broker", "an external backend needs a broker URL"),
                Some(b) if !(b.starts_with("mqtt://") || b.starts_with("mqtts://")) => {
                    e.push(
                        "broker",
                        format!("{b:?} is not mqtt://HOST:PORT or mqtts://"),
                    );
                }
                Some(_) => {}
            },
        }
        if let Some(p) = &self.platform
            && !(p.starts_with("http://") || p.starts_with("https://"))
        {
            e.push("platform", format!("{p:?} is not an http(s):// URL"));
        }
    }
}

/// Whether `text` looks like a bench file (a top-level `connectors` array), as opposed to
/// a scenario, fleet, charger or vehicle profile.
pub fn is_bench_text(text: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .is_ok_and(|t| t.get("connectors").is_some_and(toml::Value::is_array))
}

/// Parses and validates a bench file; the error lists every problem with `path` in front.
pub fn load_bench(path: &str, text: &str) -> Result<BenchFile, String> {
    let bench = BenchFile::parse(text).map_err(|m| format!("{path}: {m}"))?;
    bench.validate().map_err(|list| {
        list.iter()
            .map(|e| format!("{path}: {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(bench)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_bench_validates() {
        for (path, text) in BUNDLED_BENCHES {
            if let Err(e) = load_bench(path, text) {
                panic!("{e}");
            }
        }
    }

    #[test]
    fn every_bench_on_disk_is_bundled() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("benches/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|p| p.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = BUNDLED_BENCHES.iter().map(|(p, _)| (*p).into()).collect();
        bundled.sort();
        assert_eq!(on_disk, bundled);
    }

    #[test]
    fn bench_files_are_told_from_profiles() {
        assert!(BUNDLED_BENCHES.iter().all(|(_, t)| is_bench_text(t)));
        assert!(!is_bench_text("kind = \"dc\"\nconnectors = 2\n"));
        assert!(!is_bench_text("not toml ["));
    }

    #[test]
    fn endpoints_parse() {
        assert_eq!(CanEndpoint::parse("virtual"), Ok(CanEndpoint::Virtual));
        assert_eq!(
            CanEndpoint::parse("socketcan:can0"),
            Ok(CanEndpoint::SocketCan {
                iface: "can0".into()
            })
        );
        assert_eq!(
            CanEndpoint::parse("socketcand:127.0.0.1:29536"),
            Ok(CanEndpoint::Socketcand {
                addr: "127.0.0.1:29536".into()
            })
        );
        for bad in [
            "socketcan:",
            "socketcan:a-very-long-interface-name",
            "socketcand:host",
            "socketcand::1",
            "socketcand:h:99999",
            "can0",
        ] {
            assert!(CanEndpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let text = r#"
            name = ""
            [backend]
            kind = "external"
            platform = "ftp://x"
            [[connectors]]
            name = "a"
            can = { endpoint = "socketcan:can0", role = "bms", listen = true }
            meter = { mode = "serve", unit = 0, faults = { wrong_crc_ratio = 2.0 } }
            signals = { insulation_ohm = -1.0 }
            [[connectors]]
            name = "a"
            can = { endpoint = "nowhere", role = "charger" }
            meter = { mode = "read", tcp = "127.0.0.1:502", faults = { drift_wh_per_h = 5.0 } }
        "#;
        let bench = BenchFile::parse(text).unwrap();
        let errors = bench.validate().unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        for want in [
            "name",
            "backend.broker",
            "backend.platform",
            "connectors[0].can.listen",
            "connectors[0].meter.tcp",
            "connectors[0].meter.unit",
            "connectors[0].meter.faults.wrong_crc_ratio",
            "connectors[0].signals.insulation_ohm",
            "connectors[1].can.endpoint",
            "connectors[1].meter.faults",
            "connectors[1].name",
        ] {
            assert!(paths.contains(&want), "{want} missing from {paths:?}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let text = r#"
            name = "x"
            [[connectors]]
            name = "a"
            can = { endpoint = "virtual", role = "bms", speed = 1 }
        "#;
        let err = BenchFile::parse(text).unwrap_err();
        assert!(err.contains("speed"), "{err}");
    }

    #[test]
    fn two_meters_cannot_share_a_port() {
        let text = r#"
            name = "x"
            [[connectors]]
            name = "a"
            can = { endpoint = "virtual", role = "bms" }
            meter = { mode = "serve", tcp = "127.0.0.1:5020" }
            [[connectors]]
            name = "b"
            can = { endpoint = "virtual", role = "bms" }
            meter = { mode = "serve", tcp = "127.0.0.1:5020" }
        "#;
        let errors = BenchFile::parse(text).unwrap().validate().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "connectors[1].meter");
    }
}
