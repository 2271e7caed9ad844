//! Shared helpers of the Modbus integration tests: external peers (mbpoll, pymodbus, socat),
//! bounded child processes, sample readings from the physics, and the register probes each
//! meter must answer, written from the reference (§1.1–§1.5) rather than from proto's maps
//! so the emulator is checked against an independent statement of the layout.

#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    reason = "test helpers: a failed step is a failed test, and external peers run on the wall clock"
)]

use hil::modbus::convert::{from_sim, sim_kind};
use proto::modbus::{MeterModel, MeterReading};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_core::physics::{AcSupply, EnergyMeter, MeterKind, MeterParams};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Fail, naming the peer, when `tool` is not on the PATH.
pub fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "peer missing: {tool} (run scripts/test)");
}

/// Fail, naming the peer, when python3 cannot import pymodbus.
pub fn require_pymodbus() {
    require("python3");
    let ok = Command::new("python3")
        .args([
            "-c",
            "import pymodbus.client, pymodbus.server, pymodbus.simulator",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "peer missing: pymodbus (python3 package; run scripts/test)"
    );
}

/// Fail, naming the peer, when pymodbus's serial transport (pyserial) is missing.
pub fn require_pyserial() {
    require_pymodbus();
    let ok = Command::new("python3")
        .args(["-c", "import serial"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "peer missing: pyserial (python3 package for pymodbus RTU; run scripts/test)"
    );
}

/// A runtime whose worker threads serve the emulator while the test thread runs peers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Run `command` to completion, killing it after `limit`; panics on timeout.
pub fn run(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if waited >= limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
        waited += Duration::from_millis(5);
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// A child process killed when dropped.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

#[path = "../../../tests/src/scratch.rs"]
mod scratch;
pub use scratch::Scratch;

/// A fresh directory under the system temp dir, removed when the test passes.
pub fn temp_dir(tag: &str) -> Scratch {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Scratch::new(&format!("chargestorm-{tag}-{n}"))
}

/// Two connected pseudo-terminals made by socat: what is written to one is read from the
/// other, like the two ends of an RS-485 line.
pub struct PtyPair {
    _socat: Peer,
    /// One end (the emulator's).
    pub a: PathBuf,
    /// The other end (the client's).
    pub b: PathBuf,
    /// Holds the links (removed with the pair when the test passes).
    _dir: Scratch,
}

pub fn pty_pair() -> PtyPair {
    require("socat");
    let dir = temp_dir("pty");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let child = Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("socat starts");
    let socat = Peer(child);
    for _ in 0..500 {
        if a.exists() && b.exists() {
            return PtyPair {
                _socat: socat,
                a,
                b,
                _dir: dir,
            };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("socat did not create {} and {}", a.display(), b.display());
}

/// A free TCP port on 127.0.0.1 (for peers that cannot bind port 0 and report it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// Run the pymodbus client with `spec` (see peers/modbus_client.py) and return its results.
pub fn pymodbus_read(spec: &serde_json::Value, limit: Duration) -> Vec<Vec<serde_json::Value>> {
    require_pymodbus();
    if spec.to_string().contains("\"rtu\"") {
        require_pyserial();
    }
    let output = run(
        Command::new("python3")
            .arg(peer_script("modbus_client.py"))
            .arg(spec.to_string()),
        limit,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pymodbus client failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("pymodbus client printed {stdout:?}: {e}"));
    serde_json::from_value(doc["results"].clone()).unwrap()
}

/// Start the pymodbus simulator with `spec` (see peers/modbus_server.py).
pub fn pymodbus_server(spec: &serde_json::Value) -> Peer {
    require_pymodbus();
    if spec["transport"] == "rtu" {
        require_pyserial();
    }
    let child = Command::new("python3")
        .arg(peer_script("modbus_server.py"))
        .arg(spec.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 starts");
    Peer(child)
}

/// Values printed by `mbpoll` (`[ref]: value` lines), in order.
pub fn mbpoll_values(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (head, value) = line.split_once("]:")?;
            head.trim_start()
                .starts_with('[')
                .then(|| value.trim().to_string())
        })
        .collect()
}

/// A mid-session reading of the simulated meter for `model`: 30 min of charging through the
/// physics meter (with its seeded noise), in the register maps' view.
pub fn sample_reading(model: MeterModel) -> MeterReading {
    let kind = sim_kind(model);
    let params = match kind {
        MeterKind::Dc => MeterParams::dc(),
        MeterKind::AcSinglePhase => MeterParams::ac_single_phase(),
        MeterKind::AcThreePhase => MeterParams::ac_three_phase(),
    };
    let mut meter = EnergyMeter::new(&params, ChaCha8Rng::seed_from_u64(2026)).unwrap();
    match kind {
        MeterKind::Dc => meter.step(1800.0, 563.4, 104.2),
        MeterKind::AcSinglePhase => {
            let q = AcSupply::default()
                .single_phase()
                .quantities_at_current(31.7);
            meter.step_ac(1800.0, &q);
        }
        MeterKind::AcThreePhase => {
            let q = AcSupply::default().quantities_at_current(31.7);
            meter.step_ac(1800.0, &q);
        }
    }
    from_sim(&meter.reading())
}

/// How a probed register is laid out (reference §1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    /// IEEE-754 float32, two words.
    F32,
    /// Unsigned 32-bit integer, two words.
    U32,
    /// One unsigned word.
    U16,
    /// DJSF1352 mantissa word then decimal code word: `m × 10^(code − 3)`.
    DecimalPair { signed: bool },
}

/// One register a peer reads and the value it must show, in the register's own unit.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub name: &'static str,
    pub fc: u8,
    pub address: u16,
    pub layout: Layout,
    pub expected: f64,
}

impl Probe {
    pub fn words(&self) -> u16 {
        match self.layout {
            Layout::U16 => 1,
            _ => 2,
        }
    }

    /// `true` when `got` shows `expected` within the register's resolution (`code` is the
    /// decimal code of a DJSF pair); `relative` is the peer's print precision for floats.
    pub fn accepts(&self, got: f64, code: i32, relative: f64) -> bool {
        let tolerance = match self.layout {
            Layout::F32 => relative * self.expected.abs() + 1e-6,
            Layout::U32 | Layout::U16 => 0.5,
            Layout::DecimalPair { .. } => 0.5 * 10f64.powi(code - 3) + 1e-9,
        };
        (got - self.expected).abs() <= tolerance
    }
}

fn probe(name: &'static str, fc: u8, address: u16, layout: Layout, expected: f64) -> Probe {
    Probe {
        name,
        fc,
        address,
        layout,
        expected,
    }
}

/// The registers every peer checks for `model`, with values from `reading`.
pub fn probes(model: MeterModel, reading: &MeterReading) -> Vec<Probe> {
    use Layout::*;
    match (model, reading) {
        (MeterModel::Djsf1352, MeterReading::Dc(dc)) => vec![
            // §1.1: U, I, P as mantissa + decimal code; energy u32 in Wh; temperature 0.1 °C.
            probe("U", 3, 0x0000, DecimalPair { signed: false }, dc.voltage_v),
            probe("I", 3, 0x0002, DecimalPair { signed: true }, dc.current_a),
            probe("T", 3, 0x0005, U16, dc.temperature_c * 10.0),
            probe("P", 3, 0x0008, DecimalPair { signed: true }, dc.power_w),
            probe("Epos", 3, 0x000C, U32, dc.import_energy_wh),
            probe("Eneg", 3, 0x000E, U32, dc.export_energy_wh),
        ],
        (MeterModel::Ddsu666, MeterReading::Ac(ac)) => {
            // §1.2: unscaled floats (kW, kWh), FC03 and FC04 reach the same bank.
            let mut list = Vec::new();
            for fc in [3, 4] {
                list.extend([
                    probe("U", fc, 0x2000, F32, ac.voltage_v[0]),
                    probe("I", fc, 0x2002, F32, ac.current_a[0]),
                    probe("P", fc, 0x2004, F32, ac.active_power_w[0] / 1000.0),
                    probe("PF", fc, 0x200A, F32, ac.power_factor[0]),
                    probe("Freq", fc, 0x200E, F32, ac.frequency_hz),
                    probe("Ep+", fc, 0x4000, F32, ac.import_energy_wh / 1000.0),
                ]);
            }
            list
        }
        (MeterModel::Dtsu666, MeterReading::Ac(ac)) => {
            // §1.3: floats scaled by 0.1 V, 0.001 A, 0.1 W, PF × 1000, 0.01 Hz; energy kWh.
            let mut list = Vec::new();
            for fc in [3, 4] {
                list.extend([
                    probe("Ua", fc, 0x2006, F32, ac.voltage_v[0] * 10.0),
                    probe("Ub", fc, 0x2008, F32, ac.voltage_v[1] * 10.0),
                    probe("Uc", fc, 0x200A, F32, ac.voltage_v[2] * 10.0),
                    probe("Ia", fc, 0x200C, F32, ac.current_a[0] * 1000.0),
                    probe("Ic", fc, 0x2010, F32, ac.current_a[2] * 1000.0),
                    probe("Pt", fc, 0x2012, F32, ac.total_active_power_w * 10.0),
                    probe("Pa", fc, 0x2014, F32, ac.active_power_w[0] * 10.0),
                    probe("PFt", fc, 0x202A, F32, ac.total_power_factor * 1000.0),
                    probe("Freq", fc, 0x2044, F32, ac.frequency_hz * 100.0),
                    probe("Ep+", fc, 0x4000, F32, ac.import_energy_wh / 1000.0),
                ]);
            }
            list.push(probe("ImpEp", 3, 0x101E, F32, ac.import_energy_wh / 1000.0));
            list
        }
        (MeterModel::Sdm630, MeterReading::Ac(ac)) => vec![
            // §1.5: FC04 input registers, unscaled SI floats, energy kWh.
            probe("V1", 4, 0x0000, F32, ac.voltage_v[0]),
            probe("V2", 4, 0x0002, F32, ac.voltage_v[1]),
            probe("V3", 4, 0x0004, F32, ac.voltage_v[2]),
            probe("I1", 4, 0x0006, F32, ac.current_a[0]),
            probe("P1", 4, 0x000C, F32, ac.active_power_w[0]),
            probe("Ptot", 4, 0x0034, F32, ac.total_active_power_w),
            probe("PFtot", 4, 0x003E, F32, ac.total_power_factor),
            probe("Hz", 4, 0x0046, F32, ac.frequency_hz),
            probe("Eimp", 4, 0x0048, F32, ac.import_energy_wh / 1000.0),
        ],
        (MeterModel::Sdm120, MeterReading::Ac(ac)) => vec![
            probe("V", 4, 0x0000, F32, ac.voltage_v[0]),
            probe("I", 4, 0x0006, F32, ac.current_a[0]),
            probe("P", 4, 0x000C, F32, ac.active_power_w[0]),
            probe("PF", 4, 0x001E, F32, ac.power_factor[0]),
            probe("Hz", 4, 0x0046, F32, ac.frequency_hz),
            probe("Eimp", 4, 0x0048, F32, ac.import_energy_wh / 1000.0),
        ],
        (model, reading) => panic!("{model:?} cannot show {reading:?}"),
    }
}

/// The pymodbus read of `probe` (type names of peers/modbus_client.py).
pub fn pymodbus_probe(unit: u8, probe: &Probe, word_order: &str) -> serde_json::Value {
    let kind = match probe.layout {
        Layout::F32 => "float32",
        Layout::U32 => "uint32",
        Layout::U16 => "uint16",
        Layout::DecimalPair { signed: true } => "int16",
        Layout::DecimalPair { signed: false } => "uint16",
    };
    serde_json::json!({
        "unit": unit, "fc": probe.fc, "address": probe.address, "count": probe.words(),
        "type": kind, "word_order": word_order,
    })
}

/// Check one pymodbus result against `probe`.
pub fn check_pymodbus(model: MeterModel, probe: &Probe, result: &serde_json::Value) {
    let values: Vec<f64> = serde_json::from_value(result["values"].clone())
        .unwrap_or_else(|_| panic!("{model:?} {}: pymodbus got {result}", probe.name));
    let (got, code) = match probe.layout {
        Layout::DecimalPair { .. } => {
            let code = values[1] as i32;
            (values[0] * 10f64.powi(code - 3), code)
        }
        _ => (values[0], 0),
    };
    assert!(
        probe.accepts(got, code, 1e-6),
        "{model:?} {} (fc {}, {:#06X}): pymodbus read {got}, published {}",
        probe.name,
        probe.fc,
        probe.address,
        probe.expected
    );
}

/// mbpoll's data type for `probe` (`-t 4` is holding registers = FC03, `-t 3` input = FC04).
fn mbpoll_type(probe: &Probe) -> String {
    let table = if probe.fc == 3 { 4 } else { 3 };
    match probe.layout {
        Layout::F32 => format!("{table}:float"),
        Layout::U32 => format!("{table}:int"),
        Layout::U16 | Layout::DecimalPair { .. } => format!("{table}:hex"),
    }
}

/// Where mbpoll talks to the meter.
pub enum MbpollLink<'a> {
    /// Modbus TCP on 127.0.0.1 at this port.
    Tcp(u16),
    /// Modbus RTU on this device at 9600 8N1.
    Rtu(&'a Path),
}

/// The mbpoll command reading `count` values of `kind` at `address` once.
pub fn mbpoll(
    link: &MbpollLink<'_>,
    unit: u8,
    kind: &str,
    address: u16,
    count: u16,
    big_endian: bool,
) -> Command {
    require("mbpoll");
    let mut command = Command::new("mbpoll");
    command.args(["-a", &unit.to_string(), "-0", "-1", "-o", "0.5"]);
    command.args([
        "-r",
        &address.to_string(),
        "-c",
        &count.to_string(),
        "-t",
        kind,
    ]);
    if big_endian {
        command.arg("-B");
    }
    match link {
        MbpollLink::Tcp(port) => {
            command.args(["-m", "tcp", "-p", &port.to_string(), "127.0.0.1"]);
        }
        MbpollLink::Rtu(device) => {
            command.args(["-m", "rtu", "-b", "9600", "-P", "none", "-s", "1"]);
            command.arg(device);
        }
    }
    command
}

fn parse_word(text: &str) -> f64 {
    let hex = text.trim_start_matches("0x").trim_start_matches("0X");
    f64::from(u16::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("not a hex word: {text}")))
}

/// Read `probe` with mbpoll and check the value against the published reading.
pub fn check_with_mbpoll(
    link: &MbpollLink<'_>,
    model: MeterModel,
    unit: u8,
    probe: &Probe,
    big_endian: bool,
) {
    let values = match probe.layout {
        Layout::DecimalPair { .. } => 2,
        _ => 1,
    };
    let output = run(
        &mut mbpoll(
            link,
            unit,
            &mbpoll_type(probe),
            probe.address,
            values,
            big_endian,
        ),
        Duration::from_secs(5),
    );
    let printed = mbpoll_values(&output);
    assert!(
        output.status.success() && printed.len() == usize::from(values),
        "{model:?} {}: mbpoll failed: {}{}",
        probe.name,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let (got, code) = match probe.layout {
        Layout::F32 | Layout::U32 => (printed[0].parse::<f64>().unwrap(), 0),
        Layout::U16 => (parse_word(&printed[0]), 0),
        Layout::DecimalPair { signed } => {
            let raw = parse_word(&printed[0]);
            let mantissa = if signed {
                f64::from(raw as u16 as i16)
            } else {
                raw
            };
            let code = parse_word(&printed[1]) as i32;
            (mantissa * 10f64.powi(code - 3), code)
        }
    };
    // mbpoll prints floats with 6 significant digits.
    assert!(
        probe.accepts(got, code, 6e-6),
        "{model:?} {} (fc {}, {:#06X}): mbpoll read {got}, published {}",
        probe.name,
        probe.fc,
        probe.address,
        probe.expected
    );
}
