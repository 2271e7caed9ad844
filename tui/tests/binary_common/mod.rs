//! Helpers shared by the tests that drive the real `chargestorm` binary.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `chargestorm ARGS` in `dir` and waits for it.
pub fn chargestorm(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chargestorm"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the chargestorm binary runs")
}

#[path = "../../../tests/src/scratch.rs"]
mod scratch;
pub use scratch::Scratch;

/// A fresh, empty directory for test `suite`/`name` of this process, removed when the
/// test passes.
pub fn tempdir(suite: &str, name: &str) -> Scratch {
    Scratch::new(&format!("chargestorm-{suite}-{name}"))
}

/// A run's exit status and output, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
