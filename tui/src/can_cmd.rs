//! `chargestorm can decode FILE` and `chargestorm conformance …`.
//!
//! `decode` reads a candump log and prints one JSON object per decoded GB/T 27930
//! message: time, identifier, source and destination, message code and fields with units;
//! multi-packet (TP) messages are reassembled; lines or frames that do not decode are
//! reported as objects with an `error`, and decoding goes on.
//!
//! `conformance` runs GB/T 34658-style cases with chargestorm playing the opposite role
//! of the device under test, prints a pass/fail table and optionally writes JUnit XML.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use hil::can::realtime::run_case;
use hil::can::{CanBus, SocketCanBus, SocketcandClient};
use proto::can::CanFrame;
use proto::gbt27930::candump::parse_log;
use proto::gbt27930::id::{GbtId, Node, Pgn};
use proto::gbt27930::msg::Message;
use proto::gbt27930::tp::{TpConfig, TpEvent, TpReceiver};
use proto::time::Instant;
use sim_core::gbt::conformance::{
    Case, CaseReport, DutAction, VirtualOptions, catalogue, run_virtual,
};

/// `chargestorm can decode`.
#[derive(Debug, Args, Clone)]
pub struct DecodeArgs {
    /// A candump log (`candump -l` format or plain `candump` output).
    pub file: PathBuf,
}

/// Which device is under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The device under test is a CHARGER; chargestorm plays the BMS (cases DP/DN).
    Charger,
    /// The device under test is a BMS (vehicle); chargestorm plays the charger (cases BP/BN).
    Bms,
}

/// `chargestorm conformance`.
#[derive(Debug, Args, Clone)]
pub struct ConformanceArgs {
    /// The role of the DEVICE UNDER TEST: `charger` tests a charger (chargestorm plays the
    /// BMS, cases DP/DN); `bms` tests a BMS (chargestorm plays the charger, cases BP/BN).
    #[arg(long, value_enum)]
    pub role: Role,
    /// Where the device under test is: `virtual` (chargestorm's own, in virtual time),
    /// `socketcan:IFACE` (a Linux CAN interface) or `socketcand:HOST:PORT[/BUS]` (a
    /// socketcand server; BUS defaults to can0).
    #[arg(long, default_value = "virtual")]
    pub target: String,
    /// Only these case ids, comma-separated (default: every case for the role).
    #[arg(long, value_delimiter = ',')]
    pub cases: Vec<String>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// Runs `can decode`: prints to stdout; exit 0 unless the file cannot be read.
pub fn decode(args: DecodeArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    decode_text(&text, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

/// Reassembles TP sessions in both directions.
struct Reassembly {
    /// Index 0 receives BMS → charger, 1 charger → BMS.
    rx: [TpReceiver; 2],
}

impl Reassembly {
    fn new() -> Reassembly {
        let cfg = |n: Node| {
            let mut c = TpConfig::new(n);
            c.max_message_size = 1785;
            TpReceiver::new(c)
        };
        Reassembly {
            rx: [cfg(Node::Charger), cfg(Node::Bms)],
        }
    }
}

/// Decodes a whole log into JSON lines on `out`.
pub fn decode_text(text: &str, out: &mut impl Write) -> Result<()> {
    // One reassembly per interface: a log of a whole fleet interleaves the transport
    // sessions of many segments.
    let mut by_interface: std::collections::BTreeMap<String, Reassembly> =
        std::collections::BTreeMap::new();
    for (line, rec) in parse_log(text) {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let v = serde_json::json!({"line": line, "error": e.to_string()});
                writeln!(out, "{v}")?;
                continue;
            }
        };
        let time = rec.timestamp_us.map(|us| us as f64 / 1e6);
        let tp = by_interface
            .entry(rec.interface.unwrap_or_default().to_owned())
            .or_insert_with(Reassembly::new);
        for v in decode_frame(tp, line, time, rec.interface, &rec.frame) {
            writeln!(out, "{v}")?;
        }
    }
    Ok(())
}

fn node_name(address: u8) -> serde_json::Value {
    match Node::from_address(address) {
        Some(Node::Charger) => "charger".into(),
        Some(Node::Bms) => "bms".into(),
        None => format!("0x{address:02X}").into(),
    }
}

/// The JSON objects one frame yields (none for a TP frame that completes nothing).
fn decode_frame(
    tp: &mut Reassembly,
    line: usize,
    time: Option<f64>,
    interface: Option<&str>,
    frame: &CanFrame,
) -> Vec<serde_json::Value> {
    let base = serde_json::json!({
        "line": line, "time": time, "interface": interface, "frame": frame,
    });
    let with = |mut v: serde_json::Value, extra: serde_json::Value| {
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    if !frame.is_extended() {
        return vec![with(
            base,
            serde_json::json!({"error": "standard 11-bit frame (GB/T uses extended frames)"}),
        )];
    }
    let id = match GbtId::parse(frame.id()) {
        Ok(id) => id,
        Err(e) => return vec![with(base, serde_json::json!({"error": e.to_string()}))],
    };
    let head = serde_json::json!({
        "source": node_name(id.source()),
        "destination": node_name(id.destination()),
    });
    let base = with(base, head);
    if id.pgn().is_transport() {
        let dir = usize::from(id.source() == Node::Charger.address());
        let Some(rx) = tp.rx.get_mut(dir) else {
            return Vec::new();
        };
        let now = Instant::from_micros(time.map_or(0, |t| (t * 1e6) as u64));
        if let Err(e) = rx.handle_frame(now, frame) {
            return vec![with(base, serde_json::json!({"error": e.to_string()}))];
        }
        while rx.poll_transmit(now).is_some() {}
        let mut out = Vec::new();
        while let Some(ev) = rx.poll_event() {
            match ev {
                TpEvent::Received { pgn, data } => {
                    let v = match Pgn::from_value(pgn).map(|p| (p, Message::decode(p, data))) {
                        Some((p, Ok(m))) => serde_json::json!({"code": p.code(), "tp": true, "length": data.len(), "message": m}),
                        Some((p, Err(e))) => serde_json::json!({"code": p.code(), "tp": true, "error": e.to_string()}),
                        None => serde_json::json!({"tp": true, "error": format!("unknown PGN {pgn:#06x}")}),
                    };
                    out.push(with(base.clone(), v));
                }
                TpEvent::Aborted { pgn, cause } => out.push(with(
                    base.clone(),
                    serde_json::json!({"tp": true, "error": format!("transfer of PGN {pgn:#06x} aborted: {cause:?}")}),
                )),
                TpEvent::Delivered { .. } => {}
            }
        }
        return out;
    }
    let v = match Message::decode(id.pgn(), frame.data()) {
        Ok(m) => serde_json::json!({"code": id.pgn().code(), "message": m}),
        Err(e) => serde_json::json!({"code": id.pgn().code(), "error": e.to_string()}),
    };
    vec![with(base, v)]
}

/// Runs `conformance`: exit 0 only if every selected case passed.
pub fn conformance(args: ConformanceArgs) -> Result<ExitCode> {
    let cases = select(&args)?;
    let target = Target::parse(&args.target)?;
    let reports = match &target {
        Target::Virtual => cases
            .iter()
            .map(|c| run_virtual(c, &VirtualOptions::default()))
            .collect(),
        _ => run_real(&target, &cases)?,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    print_table(&reports, &mut out)?;
    if let Some(path) = &args.junit {
        let suite = format!("gbt34658.{}", role_name(args.role));
        std::fs::write(path, junit_xml(&suite, &reports))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if reports.iter().all(|r| r.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Charger => "charger",
        Role::Bms => "bms",
    }
}

/// The cases for the role, narrowed to `--cases`.
fn select(args: &ConformanceArgs) -> Result<Vec<Case>> {
    let node = match args.role {
        Role::Charger => Node::Charger,
        Role::Bms => Node::Bms,
    };
    let all: Vec<Case> = catalogue()
        .into_iter()
        .filter(|c| c.role_under_test == node)
        .collect();
    if args.cases.is_empty() {
        return Ok(all);
    }
    let mut picked = Vec::new();
    for id in &args.cases {
        match all.iter().find(|c| c.id.eq_ignore_ascii_case(id.trim())) {
            Some(c) => picked.push(*c),
            None => bail!(
                "no case {id:?} for a {} under test (ids start with {})",
                role_name(args.role),
                if node == Node::Charger {
                    "DP/DN"
                } else {
                    "BP/BN"
                }
            ),
        }
    }
    Ok(picked)
}

/// Where the device under test is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Virtual,
    SocketCan(String),
    Socketcand { addr: String, bus: String },
}

impl Target {
    fn parse(text: &str) -> Result<Target> {
        if text == "virtual" {
            return Ok(Target::Virtual);
        }
        if let Some(iface) = text.strip_prefix("socketcan:") {
            return Ok(Target::SocketCan(iface.to_string()));
        }
        if let Some(rest) = text.strip_prefix("socketcand:") {
            let (addr, bus) = rest.split_once('/').unwrap_or((rest, "can0"));
            if !addr.contains(':') {
                bail!("socketcand target needs HOST:PORT, got {rest:?}");
            }
            return Ok(Target::Socketcand {
                addr: addr.to_string(),
                bus: bus.to_string(),
            });
        }
        bail!("unknown target {text:?}: use virtual, socketcan:IFACE or socketcand:HOST:PORT")
    }
}

/// Tells the operator what to do to the device under test.
fn operator(action: DutAction) -> bool {
    let what = match action {
        DutAction::Start => "start the session: plug the gun in / start charging".to_string(),
        DutAction::ManualStop => "press STOP on the charger now".to_string(),
        DutAction::ChargerFault(f) => format!("cause this charger fault now: {f:?}"),
        DutAction::VehicleStop(c) => format!("make the vehicle stop charging now ({c:?})"),
        DutAction::AuxPower(on) => format!(
            "switch the 12 V auxiliary supply {}",
            if on { "ON" } else { "OFF" }
        ),
    };
    eprintln!("[operator] {what}");
    true
}

fn run_real(target: &Target, cases: &[Case]) -> Result<Vec<CaseReport>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let mut reports = Vec::new();
        for case in cases {
            eprintln!("running {} {}", case.id, case.title);
            let report = match target {
                Target::SocketCan(iface) => {
                    let mut bus = SocketCanBus::open(iface)?;
                    run_one(*case, &mut bus).await?
                }
                Target::Socketcand { addr, bus } => {
                    let mut b = SocketcandClient::connect(addr, bus).await?;
                    run_one(*case, &mut b).await?
                }
                Target::Virtual => run_virtual(case, &VirtualOptions::default()),
            };
            reports.push(report);
        }
        Ok(reports)
    })
}

async fn run_one<B: CanBus>(case: Case, bus: &mut B) -> Result<CaseReport> {
    let mut op = operator;
    let (report, periods) = run_case(case, bus, &mut op).await?;
    for p in periods.iter().filter(|p| p.count >= 3) {
        eprintln!(
            "  {} {:?}: median {:.1} ms (nominal {} ms, min {:.1}, max {:.1}, n={}){}",
            p.code,
            p.direction,
            p.median_ms,
            p.nominal_ms,
            p.min_ms,
            p.max_ms,
            p.count,
            if p.within_tolerance {
                ""
            } else {
                "  OUT OF TOLERANCE"
            }
        );
    }
    Ok(report)
}

fn print_table(reports: &[CaseReport], out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "{:<8} {:<5} {:>8}  {:<48} detail",
        "case", "result", "time", "title"
    )?;
    for r in reports {
        let detail: String = r.detail.chars().take(160).collect();
        writeln!(
            out,
            "{:<8} {:<5} {:>7.2}s  {:<48} {}",
            r.id,
            if r.passed { "PASS" } else { "FAIL" },
            r.duration.as_micros() as f64 / 1e6,
            r.title.chars().take(48).collect::<String>(),
            detail
        )?;
    }
    let passed = reports.iter().filter(|r| r.passed).count();
    writeln!(out, "{passed} passed, {} failed", reports.len() - passed)?;
    Ok(())
}

fn xml_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => s.push(c),
        }
    }
    s
}

/// A JUnit XML report (testsuites/testsuite/testcase/failure with time attributes).
pub fn junit_xml(suite: &str, reports: &[CaseReport]) -> String {
    let secs = |r: &CaseReport| r.duration.as_micros() as f64 / 1e6;
    let total: f64 = reports.iter().map(secs).sum();
    let failures = reports.iter().filter(|r| !r.passed).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{s}\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.3}\">",
        s = xml_escape(suite),
        n = reports.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{s}\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{total:.3}\">",
        s = xml_escape(suite),
        n = reports.len()
    );
    for r in reports {
        let _ = write!(
            x,
            "    <testcase classname=\"{s}\" name=\"{id} {title}\" time=\"{t:.3}\"",
            s = xml_escape(suite),
            id = r.id,
            title = xml_escape(r.title),
            t = secs(r)
        );
        if r.passed {
            let _ = writeln!(
                x,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                xml_escape(&r.detail)
            );
        } else {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{m}\" type=\"conformance\">{m}</failure>\n    </testcase>",
                m = xml_escape(&r.detail)
            );
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CHM, BHM, a 49-byte BRM by TP (RTS, CTS, 7 DT, EndOfMsgAck), a BCL, a bad line and
    /// a foreign frame; the BRM bytes are the [T1] capture's first packets.
    const FIXTURE: &str = "\
(1700000000.000000) can0 1826F456#010100
(1700000000.015000) can0 182756F4#A510
(1700000016.500000) can0 1801F456#0001000000FFFFFF
(1700000016.512800) can0 1CEC56F4#10310007FF000200
(1700000016.513300) can0 1CECF456#1107 01FFFF000200
(1700000016.521200) can0 1CEB56F4#0101010003F00540
(1700000016.531200) can0 1CEB56F4#020E010000000100
(1700000016.541200) can0 1CEB56F4#0343534D00000001
(1700000016.551200) can0 1CEB56F4#04E7070101010001
(1700000016.561200) can0 1CEB56F4#054C314E53504748
(1700000016.571200) can0 1CEB56F4#0639384E41313936
(1700000016.581200) can0 1CEB56F4#0732303200010400
(1700000016.581700) can0 1CECF456#13310007FF000200
(1700000018.000000) can0 181056F4#A510DA0502
this is not a frame
(1700000018.100000) can0 0070F4B5#0000000000000000
";

    fn decoded() -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        decode_text(&FIXTURE.replace("#1107 01", "#110701"), &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn decode_prints_messages_with_units_and_reassembles_tp() {
        let v = decoded();
        let chm = &v[0];
        assert_eq!(chm["code"], "CHM");
        assert_eq!(chm["source"], "charger");
        assert_eq!(chm["destination"], "bms");
        assert_eq!(chm["time"], 1_700_000_000.0);
        let bhm = v.iter().find(|o| o["code"] == "BHM").unwrap();
        assert_eq!(bhm["message"]["max_charging_voltage_v"], 426.1);
        let brm = v.iter().find(|o| o["code"] == "BRM").unwrap();
        assert_eq!(brm["tp"], true);
        assert_eq!(brm["length"], 49);
        assert!(brm["message"].is_object(), "{brm}");
        let bcl = v.iter().find(|o| o["code"] == "BCL").unwrap();
        assert_eq!(bcl["message"]["voltage_demand_v"], 426.1);
        assert_eq!(bcl["message"]["current_demand_a"], 250.2);
        // The bad line and the foreign frame are reported, not fatal.
        let errors: Vec<_> = v.iter().filter(|o| o.get("error").is_some()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0]["line"], 15);
    }

    #[test]
    fn decode_reads_a_file() {
        let path = std::env::temp_dir().join(format!("cs-decode-{}.log", std::process::id()));
        std::fs::write(&path, FIXTURE).unwrap();
        let code = decode(DecodeArgs { file: path.clone() }).unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        std::fs::remove_file(&path).ok();
        assert!(decode(DecodeArgs { file: path }).is_err());
    }

    #[test]
    fn conformance_on_the_virtual_target_passes_and_writes_junit() {
        let junit = std::env::temp_dir().join(format!("cs-junit-{}.xml", std::process::id()));
        let args = ConformanceArgs {
            role: Role::Charger,
            target: "virtual".into(),
            cases: vec!["DP.1001".into(), "dn.3006".into(), "DP.3007".into()],
            junit: Some(junit.clone()),
        };
        assert_eq!(conformance(args).unwrap(), ExitCode::SUCCESS);
        let xml = std::fs::read_to_string(&junit).unwrap();
        std::fs::remove_file(&junit).ok();
        assert!(xml.starts_with("<?xml"));
        assert!(
            xml.contains("<testsuite name=\"gbt34658.charger\" tests=\"3\" failures=\"0\""),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"DN.3006 BCL stops during charging\" time=\""),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 3);
        let bms = ConformanceArgs {
            role: Role::Bms,
            target: "virtual".into(),
            cases: vec!["BN.3002".into()],
            junit: None,
        };
        assert_eq!(conformance(bms).unwrap(), ExitCode::SUCCESS);
    }

    #[test]
    fn conformance_rejects_unknown_or_wrong_role_cases_and_targets() {
        let mut args = ConformanceArgs {
            role: Role::Bms,
            target: "virtual".into(),
            cases: vec!["DP.1001".into()],
            junit: None,
        };
        let e = conformance(args.clone()).unwrap_err().to_string();
        assert!(e.contains("BP/BN"), "{e}");
        args.cases.clear();
        args.target = "carrier-pigeon".into();
        assert!(conformance(args).is_err());
        assert_eq!(
            Target::parse("socketcand:127.0.0.1:29536").unwrap(),
            Target::Socketcand {
                addr: "127.0.0.1:29536".into(),
                bus: "can0".into()
            }
        );
    }

    #[test]
    fn socketcan_target_fails_clearly_without_the_interface() {
        let args = ConformanceArgs {
            role: Role::Charger,
            target: "socketcan:csnone0".into(),
            cases: vec!["DP.1001".into()],
            junit: None,
        };
        let e = format!("{:#}", conformance(args).unwrap_err());
        assert!(e.contains("csnone0") && e.contains("os error 19"), "{e}");
    }

    #[test]
    fn junit_failures_are_escaped() {
        let r = CaseReport {
            id: "DN.1001",
            title: "BRM <timeout>",
            role_under_test: Node::Charger,
            passed: false,
            detail: "CEM \"late\" & <wrong>".into(),
            duration: proto::time::Duration::from_millis(5_500),
            frames: 10,
        };
        let xml = junit_xml("s", &[r]);
        assert!(
            xml.contains("<failure message=\"CEM &quot;late&quot; &amp; &lt;wrong&gt;\""),
            "{xml}"
        );
        assert!(xml.contains("time=\"5.500\""));
        assert!(xml.contains("name=\"DN.1001 BRM &lt;timeout&gt;\""));
    }
}
