//! Shared helpers of the HTTP integration tests.

#![allow(dead_code)]

use sim_core::tcec::wire::Interface;
use sim_core::tcec::{OutboundRequest, PeerId, RequestId};
use sim_core::time::{Duration, Instant};
use std::time::Duration as StdDuration;

/// A `query_token` request `id` to peer 0 with an empty body, given up after `timeout`.
pub fn query_token(id: u64, timeout: Duration) -> OutboundRequest {
    OutboundRequest {
        id: RequestId(id),
        peer: PeerId(0),
        interface: Interface::QueryToken,
        path: "/shevcs/v1.0/query_token".into(),
        authorization: None,
        body: b"{}".to_vec(),
        intended_send: Instant::ZERO,
        timeout,
    }
}

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
