//! Serving a machine over HTTP/1.1, plain or TLS.
//!
//! Every POST goes to the machine whatever its path (the machine maps `/shevcs/v1.0/x`,
//! `/evcs/v1.0/x`, bare `/x` and the known misspellings to interfaces, and answers 404 for
//! the rest); other methods get 405. The answer is held until the machine's `respond_at`
//! (the slow-response fault) without holding the machine's lock.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use sim_core::tcec::wire::envelope::CONTENT_TYPE;
use sim_core::tcec::{HttpMachine, InboundRequest};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::shared::Shared;

/// Largest request body accepted.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// The router serving `shared` on every path.
pub fn router<M: HttpMachine + Send + 'static>(shared: Arc<Shared<M>>) -> Router {
    Router::new()
        .fallback(handle::<M>)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(shared)
}

async fn handle<M: HttpMachine + Send + 'static>(
    State(shared): State<Arc<Shared<M>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "POST only (DB4403/T 77 §10.3.2)",
        )
            .into_response();
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let response = shared.with(|machine, metrics, now| {
        let request = InboundRequest {
            path: uri.path(),
            authorization,
            body: &body,
        };
        machine.handle_request(now, request, metrics)
    });
    if response.respond_at > shared.now() {
        tokio::time::sleep_until(shared.clock().deadline(response.respond_at)).await;
    }
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if response.status == 200 || response.status == 500 {
        CONTENT_TYPE
    } else {
        "text/plain;charset=utf-8"
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        response.body,
    )
        .into_response()
}

/// Accepts connections on `listener` until `shutdown` changes, serving `router` on each
/// (through TLS when `tls` is set). Open connections finish their current request.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let acceptor = acceptor.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls_stream) => {
                        serve_connection(TokioIo::new(tls_stream), service, shutdown).await
                    }
                    Err(e) => tracing::debug!("TLS handshake failed: {e}"),
                },
                None => serve_connection(TokioIo::new(stream), service, shutdown).await,
            }
        });
    }
}

async fn serve_connection<I>(
    io: I,
    service: TowerToHyperService<Router>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // Pipelined requests are answered with one write per batch instead of one per response.
    builder.http1().pipeline_flush(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        r = connection.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("connection ended: {e}");
            }
        }
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
