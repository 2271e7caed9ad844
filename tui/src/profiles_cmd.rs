//! `chargestorm profiles validate|list`.

use crate::cli::ProfilesCommand;
use anyhow::{Context, Result};
use profiles::library::validate_text;
use profiles::{Library, ProfileError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs a `profiles` subcommand.
pub fn run(cmd: ProfilesCommand) -> Result<ExitCode> {
    match cmd {
        ProfilesCommand::List => list(),
        ProfilesCommand::Validate { paths } => validate(&paths),
    }
}

fn list() -> Result<ExitCode> {
    let lib = Library::bundled().context("the bundled profiles are broken")?;
    println!("chargers:");
    for c in lib.chargers.values() {
        println!("  {:<18} {}", c.name, c.description);
    }
    println!("vehicles:");
    for v in lib.vehicles.values() {
        println!("  {:<18} {}", v.name, v.description);
    }
    println!("fleets:");
    for f in lib.fleets.values() {
        println!("  {:<18} {}", f.name, f.description);
    }
    println!("benches:");
    for (path, text) in profiles::bench::BUNDLED_BENCHES {
        let bench = profiles::bench::load_bench(path, text).map_err(anyhow::Error::msg)?;
        println!("  {:<18} {}", bench.name, bench.description);
    }
    println!("scenarios:");
    for name in lib.scenarios.keys() {
        let resolved = lib.load_scenario(name)?;
        println!(
            "  {:<18} {} ({} connectors)",
            name,
            resolved.scenario.scenario.description,
            resolved.connector_count()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    let lib = Library::bundled().context("the bundled profiles are broken")?;
    let mut failed = 0;
    for file in &files {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {shown}"))?;
        if profiles::bench::is_bench_text(&text) {
            match profiles::bench::load_bench(&shown, &text) {
                Ok(_) => println!("ok      {shown} (Bench)"),
                Err(e) => {
                    failed += 1;
                    println!("invalid {e}");
                }
            }
            continue;
        }
        let outcome = match profiles::library::detect_kind(&shown, &text) {
            // A scenario is only valid if its references resolve too; resolution validates
            // the scenario itself as well, so every problem is listed at once.
            Ok(kind @ profiles::ProfileKind::Scenario) => lib.load_scenario(&shown).map(|_| kind),
            Ok(_) | Err(_) => validate_text(&shown, &text),
        };
        match outcome {
            Ok(kind) => println!("ok      {shown} ({kind:?})"),
            Err(ProfileError::Invalid(errors)) => {
                failed += 1;
                println!("invalid {shown}: {} problem(s)", errors.len());
                for e in errors {
                    println!("  - {e}");
                }
            }
            Err(e) => {
                failed += 1;
                println!("invalid {e}");
            }
        }
    }
    println!("{} file(s), {} invalid", files.len(), failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // A crate directory holds Cargo.toml and sources next to its profiles.
            if matches!(name, "Cargo.toml" | "src" | "tests" | "target") {
                continue;
            }
            if p.is_dir() || p.extension().is_some_and(|e| e == "toml") {
                collect(&p, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}
