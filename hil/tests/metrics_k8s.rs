//! The Kubernetes deployment (deploy/k8s): schema validation with `kubernetes-validate`
//! (PyPI; scripts/test installs it) through scripts/validate-k8s, and the files the
//! ConfigMaps carry checked with the real programs: the scenario builds its shards, and
//! Mosquitto (Debian; scripts/test installs it) accepts the broker configuration.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use profiles::Library;
use sim_core::fleet::{Shard, World, WorldConfig};
use sim_core::time::Instant;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

fn tempdir(name: &str) -> Scratch {
    Scratch::new(&format!("chargestorm-k8s-{name}"))
}

/// Runs scripts/validate-k8s with `args`; panics naming kubernetes-validate if it is missing.
fn validate(args: &[&str]) -> Output {
    let out = Command::new(repo().join("scripts/validate-k8s"))
        .args(args)
        .output()
        .expect("scripts/validate-k8s runs (bash)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() != Some(127),
        "kubernetes-validate is needed to validate the manifests (PyPI package \
         kubernetes-validate; scripts/test installs it): {stderr}"
    );
    out
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Validates the shipped manifests and extracts the ConfigMaps' files into a temp dir.
fn extracted(name: &str) -> Scratch {
    let dir = tempdir(name);
    let out = validate(&["--extract", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    dir
}

#[test]
fn the_manifests_pass_the_schemas_and_the_cross_checks() {
    let dir = tempdir("valid");
    let out = validate(&["--extract", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1000000 chargers in 200 shards of 5000"),
        "{stdout}"
    );
    assert!(dir.join("chargestorm-scenario/scenario.toml").is_file());
    assert!(dir.join("mosquitto-config/mosquitto.conf").is_file());
}

/// Copies deploy/k8s to a temp dir with `from` replaced by `to` in job-shards.yaml.
fn broken_copy(name: &str, from: &str, to: &str) -> Scratch {
    let dir = tempdir(name);
    for entry in std::fs::read_dir(repo().join("deploy/k8s")).unwrap() {
        let path = entry.unwrap().path();
        let mut body = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == "job-shards.yaml" {
            assert!(body.contains(from), "job-shards.yaml lacks {from:?}");
            body = body.replacen(from, to, 1);
        }
        std::fs::write(dir.join(path.file_name().unwrap()), body).unwrap();
    }
    dir
}

#[test]
fn a_broken_manifest_is_refused() {
    // An unknown field: only a strict schema validation sees it.
    let dir = broken_copy("unknown-field", "completionMode:", "completionMod:");
    let out = validate(&["--dir", dir.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("completionMod"), "{}", text(&out));
    // Schema-valid but inconsistent: N differs between parallelism and SHARDS.
    let dir = broken_copy("parallelism", "parallelism: 200", "parallelism: 100");
    let out = validate(&["--dir", dir.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("must be equal"), "{}", text(&out));
    // The scrape annotation names another port than the metrics listener.
    let dir = broken_copy(
        "port",
        "prometheus.io/port: \"9898\"",
        "prometheus.io/port: \"9090\"",
    );
    let out = validate(&["--dir", dir.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn the_scenario_configmap_builds_balanced_shards() {
    let dir = extracted("scenario");
    let path = dir.join("chargestorm-scenario/scenario.toml");
    let lib = Library::bundled().unwrap();
    let scenario = lib.load_scenario(path.to_str().unwrap()).unwrap();
    assert_eq!(scenario.charger_count(), 1_000_000);
    for index in [0, 199] {
        let mut world = World::new(
            &scenario,
            WorldConfig {
                seed: 20261121,
                duration: None,
                trace_level: None,
                shard: Shard { index, count: 200 },
                sample_interval: None,
                http_external: false,
            },
        )
        .unwrap();
        world.run_until(Instant::from_secs(30));
        let connectors: u64 = world.snapshot().states.iter().sum();
        // Shards take whole stations (of 10 or 20 chargers) in turn: each holds about
        // 500 dual DC + 500 single DC + 4,000 AC chargers, within one station per group.
        assert!(
            (5_440..=5_560).contains(&connectors),
            "shard {index}/200: {connectors}"
        );
        let report = world.finish(0.0);
        assert!(
            (1_440..=1_560).contains(&report.connectors.dc),
            "{:?}",
            report.connectors
        );
        assert!(
            (3_960..=4_040).contains(&report.connectors.ac),
            "{:?}",
            report.connectors
        );
    }
}

#[test]
fn mosquitto_accepts_the_broker_configuration() {
    let dir = extracted("mosquitto");
    let conf = std::fs::read_to_string(dir.join("mosquitto-config/mosquitto.conf")).unwrap();
    let addr = hil::mqtt::free_loopback_port().unwrap();
    let listener = "listener 1883 0.0.0.0";
    assert!(conf.contains(listener), "{conf}");
    let conf = conf.replace(listener, &format!("listener {} 127.0.0.1", addr.port()));
    let path = dir.join("mosquitto.conf");
    std::fs::write(&path, conf).unwrap();
    let mut broker = Command::new("mosquitto")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("mosquitto is needed (Debian package mosquitto; scripts/test installs it): {e}")
        });
    // MQTT 3.1.1 CONNECT, clean session, keep-alive 60 s, client id "k8s".
    let connect = [
        0x10, 15, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 60, 0x00, 0x03, b'k', b'8',
        b's',
    ];
    let mut connack = [0u8; 4];
    let mut result = Err(std::io::Error::other("not tried"));
    for _ in 0..50 {
        result = std::net::TcpStream::connect(addr).and_then(|mut s| {
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
            s.write_all(&connect)?;
            s.read_exact(&mut connack)
        });
        if result.is_ok() {
            break;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "a test waiting for a child process's listener"
        )]
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = broker.kill();
    let output = broker.wait_with_output().unwrap();
    assert!(
        result.is_ok(),
        "mosquitto with the deployed configuration did not answer: {result:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // CONNACK, remaining length 2, no session present, return code 0 (accepted).
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
}
