//! The real-time loop of one machine: fire its timers when they are due on the wall clock,
//! send the requests it produces, and deliver the answers.
//!
//! The loop sleeps until the machine's next timer or until something wakes it ([`Shared::with`]
//! after a served request or a fleet input). Each outbound request runs in a task of its
//! own; the machine caps how many are in flight. A task that delivered its answer takes
//! the machine's next request itself (and spawns tasks for any further ones), so a steady
//! stream of requests costs no driver wake-up and no task spawn per request; the driver is
//! woken only when an answer brought the machine's next timer forward.

use std::sync::Arc;

use sim_core::tcec::{Exchange, HttpMachine, OutboundRequest};
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
            spawn_exchange(&shared, &client, &routes, request);
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

/// Runs `request` in a task of its own; see the module documentation.
fn spawn_exchange<M: HttpMachine + Send + 'static>(
    shared: &Arc<Shared<M>>,
    client: &HttpClient,
    routes: &Arc<Routes>,
    request: OutboundRequest,
) {
    let (shared, client, routes) = (shared.clone(), client.clone(), routes.clone());
    tokio::spawn(async move {
        let mut next = Some(request);
        while let Some(request) = next.take() {
            let (id, sent) = (request.id, shared.now());
            let result = client.send(&routes, request).await;
            let (more, timer_earlier) = shared.with_quiet(|machine, metrics, now| {
                let before = machine.poll_timeout();
                machine.handle_response(now, id, Exchange { sent, result }, metrics);
                let mut more = Vec::new();
                while let Some(r) = machine.poll_request() {
                    more.push(r);
                }
                let after = machine.poll_timeout();
                let earlier = after.is_some_and(|a| before.is_none_or(|b| a < b));
                (more, earlier)
            });
            if timer_earlier {
                shared.wake();
            }
            let mut more = more.into_iter();
            next = more.next();
            for r in more {
                spawn_exchange(&shared, &client, &routes, r);
            }
        }
    });
}
