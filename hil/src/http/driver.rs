//! The real-time loop of one machine: fire its timers when they are due on the wall clock,
//! send the requests it produces, and deliver the answers.
//!
//! The loop sleeps until the machine's next timer or until something wakes it ([`Shared::with`]
//! after a served request, a delivered answer or a fleet input). Each outbound request runs
//! in its own task; the machine caps how many are in flight.

use std::sync::Arc;

use sim_core::tcec::{Exchange, HttpMachine};
use tokio::sync::watch;

use super::client::{HttpClient, Routes};
use super::shared::Shared;

/// Drives `shared` until `shutdown` changes.
pub async fn run<M: HttpMachine + Send + 'static>(
    shared: Arc<Shared<M>>,
    client: HttpClient,
    routes: Arc<Routes>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (requests, next) = {
            let mut guard = shared.lock();
            let now = shared.now();
            let inner = &mut *guard;
            if inner.machine.poll_timeout().is_some_and(|t| t <= now) {
                inner.machine.handle_timeout(now, &mut inner.metrics);
            }
            let mut requests = Vec::new();
            while let Some(r) = inner.machine.poll_request() {
                requests.push(r);
            }
            (requests, inner.machine.poll_timeout())
        };
        for request in requests {
            let (shared, client, routes) = (shared.clone(), client.clone(), routes.clone());
            tokio::spawn(async move {
                let sent = shared.now();
                let result = client.send(&routes, &request).await;
                shared.with(|machine, metrics, now| {
                    machine.handle_response(now, request.id, Exchange { sent, result }, metrics);
                });
            });
        }
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(shared.clock().deadline(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = shared.woken() => {}
            _ = shutdown.changed() => break,
        }
    }
}
