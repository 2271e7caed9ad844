//! Every bundled profile parses, validates and resolves; broken profiles report every
//! error with its path.

use profiles::library::{BUNDLED, validate_text};
use profiles::{Library, ProfileError};

#[test]
fn every_bundled_profile_validates() {
    for (path, text) in BUNDLED {
        if let Err(e) = validate_text(path, text) {
            panic!("{path} is invalid: {e}");
        }
    }
}

#[test]
fn every_file_on_disk_is_bundled() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<std::path::PathBuf> = ["chargers", "vehicles", "fleets", "scenarios"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    let mut seen = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                assert!(
                    BUNDLED.iter().any(|(p, _)| *p == rel),
                    "{rel} is not in BUNDLED"
                );
                seen += 1;
            }
        }
    }
    assert_eq!(
        seen,
        BUNDLED.len(),
        "BUNDLED lists a file that is not on disk"
    );
}

#[test]
fn bundled_scenarios_resolve() {
    let lib = Library::bundled().unwrap();
    let demo = lib.load_scenario("demo").unwrap();
    assert!(
        (200..=1000).contains(&demo.connector_count()),
        "{}",
        demo.connector_count()
    );
    let smoke = lib.load_scenario("ci-smoke").unwrap();
    assert_eq!(smoke.connector_count(), 10);
    assert_eq!(smoke.scenario.scenario.seed, Some(20261121));
}

#[test]
fn a_broken_scenario_reports_every_error_with_its_path() {
    let text = r#"
[scenario]
name = ""
duration = "2h"
physics_tick_ms = 1

[[fleet.groups]]
name = "a"
charger = "no-such-charger"
count = 0

[[fleet.groups]]
name = "b"
charger = "ac-7kw-1ph"
count = 3
vehicle_mix = [{ vehicle = "lfp-bus-350kwh", weight = -1.0 }]

[traffic]
initial_occupancy = 2.0
arrival_soc_pct = { min = 60.0, max = 20.0 }
"#;
    let scenario = toml::from_str(text).unwrap();
    let lib = Library::bundled().unwrap();
    let Err(ProfileError::Invalid(errors)) = lib.resolve(scenario, "t.toml", None) else {
        panic!("accepted a broken scenario");
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    for expected in [
        "t.toml: scenario.name",
        "t.toml: scenario.physics_tick_ms",
        "t.toml: fleet.groups[0].charger",
        "t.toml: fleet.groups[0].count",
        "t.toml: fleet.groups[1].vehicle_mix[0].weight",
        "t.toml: fleet.groups[1].vehicle_mix[0].vehicle",
        "t.toml: traffic.initial_occupancy",
        "t.toml: traffic.arrival_soc_pct.min",
    ] {
        assert!(
            paths.contains(&expected),
            "missing {expected} in {paths:#?}"
        );
    }
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let text = "[scenario]\nname = \"x\"\nduraton = \"1h\"\n[fleet]\nuse = \"small-mixed\"\n";
    let err = validate_text("x.toml", text).unwrap_err().to_string();
    assert!(err.contains("duraton"), "{err}");
}
