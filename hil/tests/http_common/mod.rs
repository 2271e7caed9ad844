//! Shared helpers of the HTTP integration tests.

#![allow(dead_code)]

use std::time::Duration as StdDuration;

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub async fn wait_for(what: &str, limit: StdDuration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}
