//! Scratch directories for tests: removed when the test passes, kept when it fails.
//!
//! One source file, included by every test crate that needs it (`#[path]`), so the
//! workspace's tests share it without a dependency between the crates.

use std::path::{Path, PathBuf};

/// A fresh, empty directory `<temp>/<name>-<pid>`. Dropping it removes it, unless the
/// thread is panicking (a failing test): then it is kept for inspection and its path is
/// printed.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates the directory (emptying a leftover of the same name).
    pub fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        Scratch { path }
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept scratch dir {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
