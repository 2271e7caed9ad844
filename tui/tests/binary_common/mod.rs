//! Helpers shared by the tests that drive the real `chargestorm` binary.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `chargestorm ARGS` in `dir` and waits for it.
pub fn chargestorm(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chargestorm"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the chargestorm binary runs")
}

/// A fresh, empty directory for test `suite`/`name` of this process.
pub fn tempdir(suite: &str, name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("chargestorm-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the temp dir is writable");
    dir
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
