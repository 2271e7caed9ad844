//! Support code for chargestorm's end-to-end tests.

use std::process::ExitCode;

pub mod scratch;
pub use scratch::Scratch;

/// A fresh, empty directory for one test, removed when the test passes.
pub fn tempdir(name: &str) -> Scratch {
    Scratch::new(&format!("chargestorm-e2e-{name}"))
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

#[cfg(test)]
mod tests {
    use super::Scratch;

    #[test]
    fn a_scratch_dir_goes_when_its_test_passes_and_stays_when_it_fails() {
        let passed = Scratch::new("chargestorm-scratch-passed");
        std::fs::write(passed.join("file"), "x").unwrap();
        let path = passed.to_path_buf();
        drop(passed);
        assert!(!path.exists());

        let kept = std::thread::spawn(|| {
            let failed = Scratch::new("chargestorm-scratch-failed");
            std::fs::write(failed.join("file"), "x").unwrap();
            panic!("{}", failed.display());
        })
        .join()
        .unwrap_err();
        let path = std::path::PathBuf::from(kept.downcast_ref::<String>().unwrap());
        assert!(path.join("file").is_file());
        std::fs::remove_dir_all(&path).unwrap();
    }
}
