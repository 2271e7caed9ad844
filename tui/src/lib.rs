//! The chargestorm command line as a library: the `chargestorm` binary is a thin wrapper
//! around [`main_with_args`], and end-to-end tests call the same entry point in-process.

pub mod bench_cmd;
pub mod can_cmd;
pub mod cli;
pub mod dashboard;
pub mod hil_cmd;
pub mod html_report;
mod live;
pub mod meter_cmd;
mod netproxy;
mod profiles_cmd;
pub mod report_cmd;
mod run;
#[cfg(test)]
#[path = "../../tests/src/scratch.rs"]
mod scratch;
pub mod serve_cmd;
mod stack;
pub mod tcec_cmd;
pub mod usage;
pub mod verdict;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

/// Runs one parsed command; errors are for the caller to print.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        cli::Command::Run(args) => verdict::sweep(&args),
        cli::Command::Demo(args) => run::run(&args.to_run_args()),
        cli::Command::Profiles(cmd) => profiles_cmd::run(cmd),
        cli::Command::Can(cli::CanCommand::Decode(args)) => can_cmd::decode(args),
        cli::Command::Conformance(args) => can_cmd::conformance(args),
        cli::Command::Meter(cmd) => meter_cmd::run(cmd),
        cli::Command::Tcec(args) => tcec_cmd::run(args.command),
        cli::Command::Bench(args) => bench_cmd::run(&args),
        cli::Command::BenchBaseline(params) => bench_cmd::baseline::main(&params),
        cli::Command::BenchBroker { kind } => {
            bench_cmd::broker::child(&kind)?;
            Ok(ExitCode::SUCCESS)
        }
        cli::Command::Report(cmd) => report_cmd::run(cmd),
        cli::Command::Backend(args) => serve_cmd::backend(&args),
        cli::Command::Platform(args) => serve_cmd::platform(&args),
        cli::Command::Hil(args) => hil_cmd::run(&args),
    }
}

/// Parses `args` (the first is the program name) and runs the command, printing errors.
/// Exit codes: 0 pass, 1 a failed verdict or invalid profiles, 2 an error.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
