//! Support code for chargestorm's end-to-end tests.

use std::path::PathBuf;
use std::process::ExitCode;

/// A fresh, empty directory for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chargestorm-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the temp dir is writable");
    dir
}

/// Runs the chargestorm command line in-process with `args` (without the program name).
pub fn chargestorm(args: &[&str]) -> ExitCode {
    let mut all = vec!["chargestorm"];
    all.extend_from_slice(args);
    tui::main_with_args(all)
}

/// Reads a JSON report.
pub fn read_report(path: &std::path::Path) -> serde_json::Value {
    let bytes = std::fs::read(path).expect("the report was written");
    serde_json::from_slice(&bytes).expect("the report is JSON")
}
