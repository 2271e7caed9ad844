//! `chargestorm meter serve`: one emulated meter on its own, following a built-in charging
//! profile, for a board that only needs its meter answered.
//!
//! The profile's physics (`hil::modbus::profile`) is stepped every 100 ms of wall time and
//! each reading is published to the emulator, which renders it at the moment a request
//! arrives. It runs until Ctrl-C or `--duration`.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use hil::modbus::convert::from_sim;
use hil::modbus::profile::ChargingProfile;
use hil::modbus::{
    LiveReading, MeterFaults, MeterServer, MeterServerConfig, MeterServerHandle, RangeFault,
    RangeFaultKind, SerialSettings, ServerTransport,
};
use profiles::HumanDuration;
use proto::modbus::config::Framing;
use proto::modbus::{ExceptionCode, MeterModel, WordOrder};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};

/// The profile's physics step, also the publishing period.
const STEP: Duration = Duration::from_millis(100);

/// `chargestorm meter …`.
#[derive(Debug, Subcommand)]
pub enum MeterCommand {
    /// Emulate one meter following a built-in charging profile (DC 60 kW charging an LFP car
    /// for the DJSF1352; a 7 kW or 22 kW AC session for the AC meters).
    Serve(ServeArgs),
}

/// A meter model on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// Acrel DJSF1352-RN DC meter.
    Djsf1352,
    /// Chint DDSU666 single-phase meter.
    Ddsu666,
    /// Chint DTSU666 three-phase meter.
    Dtsu666,
    /// Eastron SDM630 three-phase meter.
    Sdm630,
    /// Eastron SDM120 single-phase meter.
    Sdm120,
}

impl From<ModelArg> for MeterModel {
    fn from(model: ModelArg) -> Self {
        match model {
            ModelArg::Djsf1352 => Self::Djsf1352,
            ModelArg::Ddsu666 => Self::Ddsu666,
            ModelArg::Dtsu666 => Self::Dtsu666,
            ModelArg::Sdm630 => Self::Sdm630,
            ModelArg::Sdm120 => Self::Sdm120,
        }
    }
}

/// Serial parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParityArg {
    /// No parity.
    None,
    /// Even parity.
    Even,
    /// Odd parity.
    Odd,
}

/// Order of the words of 32-bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WordOrderArg {
    /// High word first, bytes big-endian (the meters' own order).
    Abcd,
    /// Low word first ("word swap"; mbpoll's default float order).
    Cdab,
    /// High word first, bytes swapped.
    Badc,
    /// Fully reversed.
    Dcba,
}

impl From<WordOrderArg> for WordOrder {
    fn from(order: WordOrderArg) -> Self {
        match order {
            WordOrderArg::Abcd => Self::Abcd,
            WordOrderArg::Cdab => Self::Cdab,
            WordOrderArg::Badc => Self::Badc,
            WordOrderArg::Dcba => Self::Dcba,
        }
    }
}

/// `chargestorm meter serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// The meter to emulate.
    #[arg(long, value_enum)]
    pub model: ModelArg,
    /// Serve Modbus TCP on this address, e.g. 127.0.0.1:1502.
    #[arg(
        long,
        value_name = "ADDR",
        required_unless_present = "serial",
        conflicts_with = "serial"
    )]
    pub tcp: Option<SocketAddr>,
    /// Serve Modbus RTU on this serial port.
    #[arg(long, value_name = "PATH")]
    pub serial: Option<PathBuf>,
    /// Serial speed (default: the model's factory rate, 9600; 2400 for the SDM120).
    #[arg(long)]
    pub baud: Option<u32>,
    /// Serial parity.
    #[arg(long, value_enum, default_value = "none")]
    pub parity: ParityArg,
    /// Serial stop bits (2 only without parity).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub stop_bits: u8,
    /// Modbus unit id, 1..=247.
    #[arg(long, default_value_t = 1)]
    pub unit: u8,
    /// Word order of 32-bit values.
    #[arg(long, value_enum, default_value = "abcd")]
    pub word_order: WordOrderArg,
    /// A fault, repeatable: stuck, no-response, drift=WH_PER_H, wrong-crc=RATIO, delay=MS,
    /// exception=ADDR[+COUNT]:CODE, silent=ADDR[+COUNT], stale=ADDR[+COUNT].
    #[arg(long = "fault", value_name = "FAULT")]
    pub faults: Vec<String>,
    /// Switch the faults on this long after the start (default: at once), e.g. 30s.
    #[arg(long, value_name = "DURATION")]
    pub fault_after: Option<String>,
    /// Power limit of the built-in profile's charger, kW (default: its rating).
    #[arg(long, value_name = "KW")]
    pub profile_power_kw: Option<f64>,
    /// Stop after this long, e.g. 10m (default: until Ctrl-C).
    #[arg(long)]
    pub duration: Option<String>,
    /// Seed of the profile (cars' arrival SoC, meter noise, CRC faults).
    #[arg(long, env = "CHARGESTORM_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Seconds between status lines on stderr (0: none).
    #[arg(long, default_value_t = 10.0)]
    pub status_every_s: f64,
}

/// Run a `meter` subcommand.
pub fn run(command: MeterCommand) -> Result<ExitCode> {
    match command {
        MeterCommand::Serve(args) => serve(&args),
    }
}

/// Everything `serve` needs, checked before anything is opened.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    server: MeterServerConfig,
    faults: MeterFaults,
    fault_after: Duration,
    power_limit_w: Option<f64>,
    duration: Option<Duration>,
    status_every: Option<Duration>,
}

fn parse_duration(text: Option<&str>) -> Result<Option<Duration>> {
    Ok(text
        .map(HumanDuration::parse)
        .transpose()?
        .map(|d| Duration::from_micros(d.micros)))
}

fn framing(parity: ParityArg, stop_bits: u8) -> Result<Framing> {
    Ok(match (parity, stop_bits) {
        (ParityArg::None, 1) => Framing::N1,
        (ParityArg::Even, 1) => Framing::E1,
        (ParityArg::Odd, 1) => Framing::O1,
        (ParityArg::None, 2) => Framing::N2,
        (parity, bits) => bail!("{parity:?} parity with {bits} stop bits is not a Modbus framing"),
    })
}

fn plan(args: &ServeArgs) -> Result<Plan> {
    let model = MeterModel::from(args.model);
    let transport = match (&args.tcp, &args.serial) {
        (Some(_), _) if args.baud.is_some() => bail!("--baud is for --serial only"),
        (Some(addr), _) => ServerTransport::Tcp(*addr),
        (None, Some(path)) => ServerTransport::Rtu(SerialSettings {
            path: path.clone(),
            baud_rate: args.baud.unwrap_or(model.default_baud_rate()),
            framing: framing(args.parity, args.stop_bits)?,
        }),
        (None, None) => bail!("give --tcp ADDR or --serial PATH"),
    };
    let mut server = MeterServerConfig::new(model, transport)
        .with_unit_id(args.unit)
        .with_word_order(args.word_order.into());
    server.seed = args.seed;
    server.meter.validate()?;
    let mut faults = MeterFaults::default();
    for spec in &args.faults {
        apply_fault(&mut faults, spec).with_context(|| format!("--fault {spec}"))?;
    }
    let power_limit_w = args.profile_power_kw.map(|kw| kw * 1000.0);
    if let Some(power_w) = power_limit_w.filter(|p| !(p.is_finite() && *p > 0.0)) {
        bail!(
            "--profile-power-kw must be positive, got {} kW",
            power_w / 1000.0
        );
    }
    let status_every = (args.status_every_s.is_finite() && args.status_every_s > 0.0)
        .then(|| Duration::from_secs_f64(args.status_every_s));
    Ok(Plan {
        server,
        faults,
        fault_after: parse_duration(args.fault_after.as_deref())?.unwrap_or_default(),
        power_limit_w,
        duration: parse_duration(args.duration.as_deref())?,
        status_every,
    })
}

fn parse_u16(text: &str) -> Result<u16> {
    let text = text.trim();
    let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => text.parse(),
    };
    value.with_context(|| format!("{text:?} is not a register number or count"))
}

/// `ADDR[+COUNT]`, addresses 0-based as on the wire, decimal or 0x-hex.
fn parse_range(text: &str, kind: RangeFaultKind) -> Result<RangeFault> {
    let (address, count) = match text.split_once('+') {
        Some((address, count)) => (parse_u16(address)?, parse_u16(count)?),
        None => (parse_u16(text)?, 1),
    };
    if count == 0 {
        bail!("a register range needs at least one register");
    }
    Ok(RangeFault {
        address,
        count,
        kind,
    })
}

fn apply_fault(faults: &mut MeterFaults, spec: &str) -> Result<()> {
    let (name, value) = match spec.split_once('=') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => (spec.trim(), None),
    };
    let number = |what: &str| -> Result<f64> {
        let text = value.with_context(|| format!("{name} needs ={what}"))?;
        let number: f64 = text
            .parse()
            .with_context(|| format!("{text:?} is not a number"))?;
        if !number.is_finite() {
            bail!("{text:?} is not a finite number");
        }
        Ok(number)
    };
    match name {
        "stuck" => faults.stuck = true,
        "no-response" => faults.no_response = true,
        "drift" => faults.drift_wh_per_h = number("WH_PER_H")?,
        "wrong-crc" => {
            let ratio = number("RATIO")?;
            if !(0.0..=1.0).contains(&ratio) {
                bail!("the wrong-CRC ratio is a fraction 0..=1, got {ratio}");
            }
            faults.wrong_crc_ratio = ratio;
        }
        "delay" => faults.response_delay_ms = number("MS")?.max(0.0).round() as u64,
        "exception" => {
            let text = value.context("exception needs =ADDR[+COUNT]:CODE")?;
            let (range, code) = text
                .rsplit_once(':')
                .context("exception needs =ADDR[+COUNT]:CODE")?;
            let code: u8 = code
                .trim()
                .parse()
                .context("the exception code is 1..=255")?;
            let kind = RangeFaultKind::Exception(ExceptionCode::new(code));
            faults.ranges.push(parse_range(range, kind)?);
        }
        "silent" => {
            let range = value.context("silent needs =ADDR[+COUNT]")?;
            faults
                .ranges
                .push(parse_range(range, RangeFaultKind::Silence)?);
        }
        "stale" => {
            let range = value.context("stale needs =ADDR[+COUNT]")?;
            faults
                .ranges
                .push(parse_range(range, RangeFaultKind::Stale)?);
        }
        other => bail!(
            "unknown fault {other:?}: use stuck, no-response, drift=, wrong-crc=, delay=, \
             exception=, silent= or stale="
        ),
    }
    Ok(())
}

/// `chargestorm meter serve`: emulate until Ctrl-C or `--duration`.
pub fn serve(args: &ServeArgs) -> Result<ExitCode> {
    let plan = plan(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    runtime.block_on(serve_plan(plan))
}

fn describe(plan: &Plan, server: &MeterServerHandle) -> String {
    let meter = &plan.server.meter;
    let place = match (&plan.server.transport, server.local_addr()) {
        (_, Some(addr)) => format!("Modbus TCP {addr}"),
        (ServerTransport::Rtu(serial), _) => format!(
            "Modbus RTU {} {} {:?}",
            serial.path.display(),
            serial.baud_rate,
            serial.framing
        ),
        (ServerTransport::Tcp(addr), None) => format!("Modbus TCP {addr}"),
    };
    format!(
        "{} unit {} on {place}, words {}",
        meter.model.name(),
        meter.unit_id,
        meter.word_order
    )
}

async fn serve_plan(plan: Plan) -> Result<ExitCode> {
    let model = plan.server.meter.model;
    let mut profile = ChargingProfile::new(model, plan.power_limit_w, plan.server.seed)?;
    let live = LiveReading::new(from_sim(&profile.reading()));
    let server = MeterServer::start(plan.server.clone(), live.clone()).await?;
    eprintln!(
        "chargestorm meter: {}; Ctrl-C to stop",
        describe(&plan, &server)
    );
    let start = Instant::now();
    let mut ticks = tokio::time::interval(STEP);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut faults_pending = !plan.faults.is_healthy();
    let mut next_status = plan.status_every.map(|every| start + every);
    let stop_at = plan.duration.map(|d| start + d);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                eprintln!("chargestorm meter: interrupted");
                break;
            }
            () = sleep_until(stop_at) => break,
            _ = ticks.tick() => {
                profile.step(STEP.as_secs_f64());
                live.publish(from_sim(&profile.reading()));
                let now = Instant::now();
                if faults_pending && now >= start + plan.fault_after {
                    server.set_faults(plan.faults.clone());
                    eprintln!("chargestorm meter: faults on: {:?}", plan.faults);
                    faults_pending = false;
                }
                if let (Some(at), Some(every)) = (next_status, plan.status_every)
                    && now >= at
                {
                    print_status(&profile, &server);
                    next_status = Some(at + every);
                }
                if server.is_finished() {
                    let reason = server.transport_error().unwrap_or_else(|| "stopped".into());
                    bail!("the meter's transport failed: {reason}");
                }
            }
        }
    }
    print_status(&profile, &server);
    server.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn print_status(profile: &ChargingProfile, server: &MeterServerHandle) {
    let status = profile.status();
    let stats = server.stats();
    eprintln!(
        "chargestorm meter: t={:.0}s {:?} session {} SoC {:.1}% import {:.3} kWh | \
         requests {} replies {} exceptions {} other-unit {} bad-frames {} dropped {}",
        status.elapsed_s,
        status.phase,
        status.sessions,
        status.soc * 100.0,
        status.import_energy_wh / 1000.0,
        stats.requests,
        stats.responses,
        stats.exceptions,
        stats.other_unit,
        stats.bad_frames,
        stats.dropped_by_fault,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: MeterCommand,
    }

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let mut full = vec!["meter", "serve"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).map(|cli| match cli.command {
            MeterCommand::Serve(args) => args,
        })
    }

    #[test]
    fn tcp_and_serial_plans() {
        let args = parse(&[
            "--model",
            "dtsu666",
            "--tcp",
            "127.0.0.1:1502",
            "--unit",
            "3",
        ])
        .unwrap();
        let tcp = plan(&args).unwrap();
        assert_eq!(tcp.server.meter.model, MeterModel::Dtsu666);
        assert_eq!(tcp.server.meter.unit_id, 3);
        assert_eq!(
            tcp.server.transport,
            ServerTransport::Tcp(([127, 0, 0, 1], 1502).into())
        );
        assert!(tcp.faults.is_healthy() && tcp.duration.is_none());

        let args = parse(&[
            "--model",
            "sdm120",
            "--serial",
            "/dev/ttyUSB0",
            "--parity",
            "even",
            "--word-order",
            "cdab",
            "--duration",
            "90s",
            "--profile-power-kw",
            "3.5",
        ])
        .unwrap();
        let rtu = plan(&args).unwrap();
        let ServerTransport::Rtu(serial) = &rtu.server.transport else {
            panic!("RTU expected")
        };
        assert_eq!((serial.baud_rate, serial.framing), (2400, Framing::E1));
        assert_eq!(rtu.server.meter.word_order, WordOrder::Cdab);
        assert_eq!(rtu.duration, Some(Duration::from_secs(90)));
        assert_eq!(rtu.power_limit_w, Some(3500.0));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        assert!(parse(&["--model", "djsf1352"]).is_err(), "no transport");
        assert!(parse(&["--model", "x", "--tcp", "127.0.0.1:1"]).is_err());
        assert!(
            parse(&[
                "--model",
                "djsf1352",
                "--tcp",
                "127.0.0.1:1",
                "--serial",
                "/x"
            ])
            .is_err()
        );
        let refused = |args: &[&str]| plan(&parse(args).unwrap()).is_err();
        assert!(refused(&[
            "--model",
            "djsf1352",
            "--tcp",
            "127.0.0.1:1",
            "--baud",
            "9600"
        ]));
        assert!(refused(&[
            "--model",
            "djsf1352",
            "--tcp",
            "127.0.0.1:1",
            "--unit",
            "0"
        ]));
        assert!(refused(&[
            "--model", "djsf1352", "--serial", "/x", "--baud", "115200"
        ]));
        assert!(refused(&[
            "--model",
            "djsf1352",
            "--serial",
            "/x",
            "--parity",
            "odd",
            "--stop-bits",
            "2"
        ]));
        assert!(refused(&[
            "--model",
            "djsf1352",
            "--tcp",
            "127.0.0.1:1",
            "--fault",
            "melt"
        ]));
        assert!(refused(&[
            "--model",
            "djsf1352",
            "--tcp",
            "127.0.0.1:1",
            "--profile-power-kw=-2",
        ]));
    }

    #[test]
    fn fault_specs() {
        let mut faults = MeterFaults::default();
        for spec in [
            "stuck",
            "no-response",
            "drift=120.5",
            "wrong-crc=0.25",
            "delay=300",
            "exception=0x0004:4",
            "silent=0x0013",
            "stale=0x000C+4",
        ] {
            apply_fault(&mut faults, spec).unwrap();
        }
        assert!(faults.stuck && faults.no_response);
        assert_eq!(faults.drift_wh_per_h, 120.5);
        assert_eq!(faults.wrong_crc_ratio, 0.25);
        assert_eq!(faults.response_delay_ms, 300);
        assert_eq!(
            faults.ranges,
            vec![
                RangeFault {
                    address: 4,
                    count: 1,
                    kind: RangeFaultKind::Exception(ExceptionCode::ServerDeviceFailure)
                },
                RangeFault {
                    address: 0x13,
                    count: 1,
                    kind: RangeFaultKind::Silence
                },
                RangeFault {
                    address: 0x0C,
                    count: 4,
                    kind: RangeFaultKind::Stale
                },
            ]
        );
        for bad in [
            "drift",
            "drift=x",
            "wrong-crc=2",
            "exception=4",
            "silent=0x10000",
            "stale=5+0",
        ] {
            assert!(apply_fault(&mut faults, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serves_the_profile_until_the_duration() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let args = parse(&[
            "--model",
            "ddsu666",
            "--tcp",
            &addr,
            "--duration",
            "4s",
            "--status-every-s",
            "0",
            "--fault",
            "delay=10",
            "--fault-after",
            "1s",
        ])
        .unwrap();
        let server = std::thread::spawn(move || serve(&args).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let reading = runtime.block_on(async {
            // The first car plugs in after 2 s; the OBC ramps its current up from there.
            tokio::time::sleep(Duration::from_millis(3200)).await;
            let transport = hil::modbus::ClientTransport::Tcp(addr.parse().unwrap());
            let config = hil::modbus::ClientConfig::new(MeterModel::Ddsu666, transport);
            let mut client = hil::modbus::MeterClient::connect(config).unwrap();
            client.read_reading().await.unwrap()
        });
        let proto::modbus::MeterReading::Ac(ac) = reading else {
            panic!("AC reading expected")
        };
        assert!((ac.voltage_v[0] / 220.0 - 1.0).abs() < 0.01, "{ac:?}");
        assert!(ac.current_a[0] > 1.0, "charging by now: {ac:?}");
        assert_eq!(ac.frequency_hz, 50.0);
        assert_eq!(server.join().unwrap(), ExitCode::SUCCESS);
    }
}
