//! The real binary's dashboard in a real terminal: `chargestorm demo` in a detached tmux
//! session of fixed size shows the overview, switches views with Tab and number keys,
//! opens the help overlay, quits on `q` with exit code 0, and writes its report.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const WIDTH: &str = "120";
const HEIGHT: &str = "40";

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux runs (scripts/test installs it)")
}

fn capture(session: &str) -> String {
    String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", session]).stdout).into_owned()
}

fn keys(session: &str, keys: &[&str]) {
    let mut args = vec!["send-keys", "-t", session];
    args.extend_from_slice(keys);
    assert!(tmux(&args).status.success());
}

/// Waits until the screen contains `text` (at most 30 s); returns the screen.
fn wait_for(session: &str, text: &str) -> String {
    #[expect(clippy::disallowed_methods, reason = "the test polls a real terminal")]
    let start = Instant::now();
    loop {
        let screen = capture(session);
        if screen.contains(text) {
            return screen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waited 30 s for {text:?}; the screen:\n{screen}"
        );
        #[expect(clippy::disallowed_methods, reason = "the test polls a real terminal")]
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the screen no longer contains `text` (at most 30 s).
fn wait_gone(session: &str, text: &str) {
    #[expect(clippy::disallowed_methods, reason = "the test polls a real terminal")]
    let start = Instant::now();
    loop {
        let screen = capture(session);
        if !screen.contains(text) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waited 30 s for {text:?} to go; the screen:\n{screen}"
        );
        #[expect(clippy::disallowed_methods, reason = "the test polls a real terminal")]
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Kills the tmux session however the test ends.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.0]);
    }
}

#[path = "../../tests/src/scratch.rs"]
mod scratch;
use scratch::Scratch;

fn tempdir() -> Scratch {
    Scratch::new("chargestorm-tmux")
}

fn start(dir: &Path, session: &str) -> Session {
    let exit_file = dir.join("exit");
    let command = format!(
        "cd '{}' && '{}' demo --seed 5 --duration 10m; echo $? > '{}'; sleep 600",
        dir.display(),
        env!("CARGO_BIN_EXE_chargestorm"),
        exit_file.display()
    );
    let out = tmux(&[
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        WIDTH,
        "-y",
        HEIGHT,
        &command,
    ]);
    assert!(out.status.success(), "{out:?}");
    Session(session.to_owned())
}

#[test]
fn demo_dashboard_in_tmux_switches_views_shows_help_and_quits_cleanly() {
    let found = Command::new("tmux").arg("-V").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "tmux is not installed: this test needs tmux (scripts/test installs it)"
    );
    let dir = tempdir();
    let name = format!("chargestorm-smoke-{}", std::process::id());
    let session = start(&dir, &name);
    let overview = wait_for(&session.0, "Connectors: 320");
    assert!(overview.contains("1 Overview"), "{overview}");
    assert!(overview.contains("MQTT msg/s"), "{overview}");
    keys(&session.0, &["Tab"]);
    wait_for(&session.0, "from the intended send time");
    keys(&session.0, &["3"]);
    wait_for(&session.0, " kinds ");
    keys(&session.0, &["4"]);
    wait_for(&session.0, "sort id asc");
    keys(&session.0, &["5"]);
    wait_for(&session.0, "Inject a fault");
    keys(&session.0, &["?"]);
    let help = wait_for(&session.0, "show or hide this help");
    assert!(
        help.contains("quit (the report is still written)"),
        "{help}"
    );
    keys(&session.0, &["Escape"]);
    // A key sent right behind Escape reads as Alt+key: wait for the help to close first.
    wait_gone(&session.0, "show or hide this help");
    keys(&session.0, &["1"]);
    wait_for(&session.0, "Connectors: 320");
    keys(&session.0, &["q"]);
    let exit_file = dir.join("exit");
    #[expect(
        clippy::disallowed_methods,
        reason = "the test waits for a real process"
    )]
    let start = Instant::now();
    while !exit_file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no exit after q; the screen:\n{}",
            capture(&session.0)
        );
        #[expect(
            clippy::disallowed_methods,
            reason = "the test waits for a real process"
        )]
        std::thread::sleep(Duration::from_millis(200));
    }
    #[expect(clippy::disallowed_methods, reason = "the file is written in one go")]
    std::thread::sleep(Duration::from_millis(200));
    let code = std::fs::read_to_string(&exit_file).unwrap();
    let screen = capture(&session.0);
    assert_eq!(code.trim(), "0", "exit code; the screen:\n{screen}");
    // The terminal is back to the normal screen with the summary on it.
    assert!(screen.contains("verdict    Pass"), "{screen}");
    assert!(!screen.contains("1 Overview"), "{screen}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("chargestorm-report.json")).unwrap())
            .unwrap();
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["seed"], 5);
}
