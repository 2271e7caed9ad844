//! Keep-alive connections to the peers, on hyper's connection-level HTTP/1.1 API: one
//! [`SendRequest`] per connection, each connection driven by a task of its own.
//!
//! Idle connections wait in a stack per origin (`scheme://host:port`); an exchange takes the
//! most recently used one, so a steady load cycles through as few connections as its
//! concurrency needs, and opens a new one only when every connection is busy. A connection
//! the server closed is dropped when it is next taken; a request that a pooled connection
//! gave back unsent (it closed in between) is sent again on another one, and a request that
//! fails after it was written is reported, never repeated (the machine decides on retries).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use sim_core::tcec::{HttpResponse, TransportError};
use tokio::net::TcpStream;

use super::client::{MAX_RESPONSE_BYTES, Target};

/// A connection unused for this long is closed instead of reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Sender = SendRequest<Full<Bytes>>;

#[derive(Debug)]
struct Idle {
    sender: Sender,
    since: tokio::time::Instant,
}

/// Connections per origin; see the module documentation.
pub struct Pool {
    tls: tokio_rustls::TlsConnector,
    idle: Mutex<BTreeMap<String, Vec<Idle>>>,
    opened: AtomicU64,
}

/// hyper's HTTP/1.1 handshake with the head and body of a request flattened into one
/// buffer: one plain `write` per request instead of a `writev` of two slices, for a copy
/// of a few hundred bytes (the bodies here are small).
async fn handshake<T>(io: T) -> Result<(Sender, http1::Connection<T, Full<Bytes>>), hyper::Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send,
{
    http1::Builder::new().writev(false).handshake(io).await
}

/// How the pool has been used (for tests and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections opened so far.
    pub opened: u64,
    /// Connections idle now.
    pub idle: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Pool {
    /// An empty pool; `https://` peers are reached with `tls`.
    pub fn new(mut tls: rustls::ClientConfig) -> Self {
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Pool {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            idle: Mutex::new(BTreeMap::new()),
            opened: AtomicU64::new(0),
        }
    }

    fn idle(&self) -> MutexGuard<'_, BTreeMap<String, Vec<Idle>>> {
        // A panic under this lock can only come from a bug here; the map stays usable.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections opened so far and idle now.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            opened: self.opened.load(Ordering::Relaxed),
            idle: self.idle().values().map(Vec::len).sum(),
        }
    }

    /// Sends `request` to `target` and reads the whole answer.
    pub async fn exchange(
        &self,
        target: &Target,
        mut request: hyper::Request<Full<Bytes>>,
    ) -> Result<HttpResponse, TransportError> {
        loop {
            let (mut sender, fresh) = match self.take_idle(&target.origin) {
                Some(s) => (s, false),
                None => (self.connect(target).await?, true),
            };
            if let Err(e) = sender.ready().await {
                if fresh {
                    return Err(TransportError::Io(super::client::error_chain(&e)));
                }
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                        .collect()
                        .await
                        .map_err(|e| TransportError::Io(format!("reading body: {e}")))?
                        .to_bytes();
                    self.put_back(&target.origin, sender);
                    return Ok(HttpResponse {
                        status,
                        body: Vec::from(body),
                    });
                }
                Err(mut e) => match e.take_message() {
                    // Never written: the connection closed before it was used. Another
                    // connection (or a new one) gets the request.
                    Some(unsent) if !fresh => request = unsent,
                    _ => {
                        return Err(TransportError::Io(super::client::error_chain(
                            &e.into_error(),
                        )));
                    }
                },
            }
        }
    }

    /// The most recently used open connection to `origin`, dropping closed and stale ones.
    fn take_idle(&self, origin: &str) -> Option<Sender> {
        let mut idle = self.idle();
        let stack = idle.get_mut(origin)?;
        while let Some(entry) = stack.pop() {
            if !entry.sender.is_closed() && entry.since.elapsed() < IDLE_TIMEOUT {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Returns a connection after its exchange, and closes the oldest idle one if it has
    /// been unused too long.
    fn put_back(&self, origin: &str, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let now = tokio::time::Instant::now();
        let mut idle = self.idle();
        let stack = match idle.get_mut(origin) {
            Some(s) => s,
            None => idle.entry(origin.to_owned()).or_default(),
        };
        if stack
            .first()
            .is_some_and(|oldest| now.duration_since(oldest.since) >= IDLE_TIMEOUT)
        {
            stack.remove(0);
        }
        stack.push(Idle { sender, since: now });
    }

    /// Opens a connection to `target` (TCP with no-delay, TLS for `https://`) and starts
    /// the task that drives it.
    async fn connect(&self, target: &Target) -> Result<Sender, TransportError> {
        let connect_error = |what: &str, e: &dyn std::error::Error| {
            TransportError::Connect(format!(
                "{what} {}: {}",
                target.origin,
                super::client::error_chain(e)
            ))
        };
        let host = target.host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((host, target.port))
            .await
            .map_err(|e| connect_error("tcp", &e))?;
        tcp.set_nodelay(true)
            .map_err(|e| connect_error("no-delay", &e))?;
        let sender = if target.https {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| connect_error("server name", &e))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| connect_error("tls", &e))?;
            let (sender, conn) = handshake(TokioIo::new(tls))
                .await
                .map_err(|e| connect_error("handshake", &e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            sender
        } else {
            let (sender, conn) = handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| connect_error("handshake", &e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            sender
        };
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(sender)
    }
}
