//! HTTP/1.1 pipelining on keep-alive connections (RFC 9112 §9.3.2): several requests
//! written back to back on one connection, their responses read in the same order.
//!
//! hyper's client sends one request per connection at a time (one `write` and one `read`
//! per request); this client queues the requests of a connection in one output buffer, so
//! a burst of requests leaves in one `write`, and cuts every response that arrived from one
//! `read`. Each connection is a single task that owns its socket: requests are appended to
//! its queue with their reply channels (no lock held across I/O), and the task writes
//! whatever is queued and reads until the socket would block.
//!
//! A connection takes at most `depth` requests at once (queued or unanswered); the pool
//! fills the first connection of an origin that has room and opens another only when all
//! are full. When a connection fails or the server closes it, every request on it gets
//! that error as its answer (`TransportError::Connect` if it never opened, `Io` after):
//! nothing is sent twice, the machine decides on retries. A request whose timeout fires is
//! answered `Timeout` by the caller's watchdog; its response, if it comes, is read and
//! discarded in turn, so the order of the others is kept.

pub mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use rustls_pki_types::ServerName;
use sim_core::tcec::{HttpResponse, OutboundRequest, TransportError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::client::{MAX_RESPONSE_BYTES, Target};
use super::pool::PoolStats;
use wire::Parsed;

/// The answer to one request.
type Answer = Result<HttpResponse, TransportError>;

/// Bytes read from the socket at a time (many small responses).
const READ_CHUNK: usize = 64 * 1024;

/// What a connection's task and the senders share.
#[derive(Debug, Default)]
struct Queue {
    /// Encoded requests not yet handed to the socket.
    out: Vec<u8>,
    /// A reply channel for every request queued or written and unanswered, oldest first.
    replies: VecDeque<oneshot::Sender<Answer>>,
    /// The connection ended; it takes no more requests.
    closed: bool,
    /// The task, parked until a request is queued.
    waker: Option<Waker>,
}

#[derive(Debug, Default)]
struct Conn {
    queue: Mutex<Queue>,
}

impl Conn {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic under this lock can only come from a bug here; the queue stays usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the connection: every request on it is answered with `error`.
    fn close(&self, error: &TransportError) {
        let replies = {
            let mut q = self.queue();
            q.closed = true;
            q.out = Vec::new();
            std::mem::take(&mut q.replies)
        };
        for reply in replies {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

/// Pipelined connections per origin; see the module documentation.
pub struct PipelinePool {
    depth: usize,
    tls: tokio_rustls::TlsConnector,
    conns: Mutex<BTreeMap<String, Vec<Arc<Conn>>>>,
    opened: AtomicU64,
}

impl std::fmt::Debug for PipelinePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelinePool")
            .field("depth", &self.depth)
            .field("stats", &self.stats())
            .finish()
    }
}

impl PipelinePool {
    /// An empty pool of connections taking up to `depth` requests each (at least 1);
    /// `https://` peers are reached with `tls`.
    pub fn new(mut tls: rustls::ClientConfig, depth: usize) -> Self {
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        PipelinePool {
            depth: depth.max(1),
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            conns: Mutex::new(BTreeMap::new()),
            opened: AtomicU64::new(0),
        }
    }

    fn conns(&self) -> MutexGuard<'_, BTreeMap<String, Vec<Arc<Conn>>>> {
        // A panic under this lock can only come from a bug here; the map stays usable.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections opened so far, and open ones with nothing in flight.
    pub fn stats(&self) -> PoolStats {
        let idle = self
            .conns()
            .values()
            .flatten()
            .filter(|c| {
                let q = c.queue();
                !q.closed && q.replies.is_empty()
            })
            .count();
        PoolStats {
            opened: self.opened.load(Ordering::Relaxed),
            idle,
        }
    }

    /// Sends `request` to `target` on a pipelined connection and waits for its response.
    pub async fn exchange(&self, target: &Target, request: &OutboundRequest) -> Answer {
        let receiver = self.submit(target, request)?;
        receiver.await.unwrap_or_else(|_| {
            Err(TransportError::Io(
                "the connection's task ended without an answer".to_owned(),
            ))
        })
    }

    /// Queues `request` on the first connection to its origin with room (a new one if
    /// none has), and wakes that connection's task.
    fn submit(
        &self,
        target: &Target,
        request: &OutboundRequest,
    ) -> Result<oneshot::Receiver<Answer>, TransportError> {
        let (sender, receiver) = oneshot::channel();
        let mut conns = self.conns();
        let list = match conns.get_mut(&target.origin) {
            Some(list) => list,
            None => conns.entry(target.origin.clone()).or_default(),
        };
        // Closed connections leave the list when a sender meets one (not on every send:
        // that would lock every connection's queue each time).
        let depth = self.depth;
        let mut any_closed = false;
        let open = list.iter().find(|c| {
            let q = c.queue();
            any_closed |= q.closed;
            !q.closed && q.replies.len() < depth
        });
        let waker = match open {
            Some(conn) => queue_request(&mut conn.queue(), target, request, sender)?,
            None => {
                // Every connection is full: a new one, whose task connects and then writes
                // what was queued meanwhile.
                let conn = Arc::new(Conn::default());
                queue_request(&mut conn.queue(), target, request, sender)?;
                list.push(conn.clone());
                self.opened.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(run(conn, target.clone(), self.tls.clone()));
                None
            }
        };
        if any_closed {
            list.retain(|c| !c.queue().closed);
        }
        drop(conns);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(receiver)
    }
}

/// Appends `request` to a connection's queue; the task's waker if it needs waking.
fn queue_request(
    q: &mut Queue,
    target: &Target,
    request: &OutboundRequest,
    reply: oneshot::Sender<Answer>,
) -> Result<Option<Waker>, TransportError> {
    wire::encode(&mut q.out, target, request)
        .map_err(|e| TransportError::Connect(format!("bad request: {e}")))?;
    q.replies.push_back(reply);
    Ok(q.waker.take())
}

/// A connection's task: connects, then moves requests and responses until it fails.
async fn run(conn: Arc<Conn>, target: Target, tls: tokio_rustls::TlsConnector) {
    let error = match connect(&target).await {
        Err(e) => e,
        Ok(tcp) if target.https => {
            let host = target.host.trim_start_matches('[').trim_end_matches(']');
            match ServerName::try_from(host.to_owned()) {
                Err(e) => connect_error(&target, "server name", &e),
                Ok(name) => match tls.connect(name, tcp).await {
                    Err(e) => connect_error(&target, "tls", &e),
                    Ok(stream) => drive(&conn, stream).await,
                },
            }
        }
        Ok(tcp) => drive(&conn, tcp).await,
    };
    conn.close(&error);
}

fn connect_error(target: &Target, what: &str, e: &dyn std::error::Error) -> TransportError {
    TransportError::Connect(format!(
        "{what} {}: {}",
        target.origin,
        super::client::error_chain(e)
    ))
}

/// TCP with no-delay to `target`.
async fn connect(target: &Target) -> Result<TcpStream, TransportError> {
    let host = target.host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((host, target.port))
        .await
        .map_err(|e| connect_error(target, "tcp", &e))?;
    tcp.set_nodelay(true)
        .map_err(|e| connect_error(target, "no-delay", &e))?;
    Ok(tcp)
}

/// The connection's buffers.
#[derive(Debug, Default)]
struct Buffers {
    /// Requests being written, and how much of them is written.
    write: Vec<u8>,
    written: usize,
    /// Bytes read and not yet consumed: `read[start..filled]`.
    read: Vec<u8>,
    start: usize,
    filled: usize,
}

/// Moves requests out and responses in until the connection fails; the error every
/// request still on it gets.
async fn drive<T: AsyncRead + AsyncWrite + Unpin>(conn: &Conn, mut io: T) -> TransportError {
    let mut b = Buffers {
        read: vec![0; READ_CHUNK],
        ..Buffers::default()
    };
    poll_fn(|cx| match poll_drive(conn, &mut io, &mut b, cx) {
        Poll::Ready(e) => Poll::Ready(e),
        Poll::Pending => Poll::Pending,
    })
    .await
}

fn poll_drive<T: AsyncRead + AsyncWrite + Unpin>(
    conn: &Conn,
    io: &mut T,
    b: &mut Buffers,
    cx: &mut Context<'_>,
) -> Poll<TransportError> {
    let io_error = |what: &str, e: io::Error| TransportError::Io(format!("{what}: {e}"));
    loop {
        let mut progress = false;
        match poll_write(conn, io, b, cx) {
            Poll::Ready(Ok(wrote)) => progress |= wrote,
            Poll::Ready(Err(e)) => return Poll::Ready(io_error("writing", e)),
            Poll::Pending => {}
        }
        match poll_read(io, b, cx) {
            Poll::Ready(Ok(0)) => {
                let q = conn.queue();
                let n = q.replies.len();
                return Poll::Ready(TransportError::Io(format!(
                    "the server closed the connection with {n} request(s) unanswered"
                )));
            }
            Poll::Ready(Ok(_)) => {
                progress = true;
                if let Err(e) = answer(conn, b) {
                    return Poll::Ready(e);
                }
            }
            Poll::Ready(Err(e)) => return Poll::Ready(io_error("reading", e)),
            Poll::Pending => {}
        }
        if !progress {
            return Poll::Pending;
        }
    }
}

/// Writes what is queued; `Ready(Ok(true))` if something was written, `Ready(Ok(false))`
/// if nothing is queued (the waker is then registered for the next request).
fn poll_write<T: AsyncWrite + Unpin>(
    conn: &Conn,
    io: &mut T,
    b: &mut Buffers,
    cx: &mut Context<'_>,
) -> Poll<io::Result<bool>> {
    if b.written == b.write.len() {
        b.write.clear();
        b.written = 0;
        let mut q = conn.queue();
        std::mem::swap(&mut q.out, &mut b.write);
        if b.write.is_empty() {
            if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                q.waker = Some(cx.waker().clone());
            }
            return Poll::Ready(Ok(false));
        }
    }
    while let Some(rest) = b.write.get(b.written..).filter(|r| !r.is_empty()) {
        match Pin::new(&mut *io).poll_write(cx, rest) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => b.written += n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    // TLS streams hold records until flushed; a TCP stream's flush does nothing.
    match Pin::new(&mut *io).poll_flush(cx) {
        Poll::Ready(Ok(())) => Poll::Ready(Ok(true)),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// Reads what the socket has into the free end of the read buffer (compacting or growing
/// it first); the bytes read, 0 at the end of the stream.
fn poll_read<T: AsyncRead + Unpin>(
    io: &mut T,
    b: &mut Buffers,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if b.start == b.filled {
        (b.start, b.filled) = (0, 0);
    }
    if b.filled == b.read.len() {
        if b.start > 0 {
            b.read.copy_within(b.start..b.filled, 0);
            (b.start, b.filled) = (0, b.filled - b.start);
        } else if b.read.len() < MAX_RESPONSE_BYTES + READ_CHUNK {
            // One response larger than the buffer.
            b.read.resize(b.read.len() * 2, 0);
        } else {
            return Poll::Ready(Err(io::Error::other("response exceeds the read limit")));
        }
    }
    let mut buf = ReadBuf::new(b.read.get_mut(b.filled..).unwrap_or_default());
    match Pin::new(&mut *io).poll_read(cx, &mut buf) {
        Poll::Ready(Ok(())) => {
            let n = buf.filled().len();
            b.filled += n;
            Poll::Ready(Ok(n))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// Answers the oldest requests with every whole response in the read buffer.
fn answer(conn: &Conn, b: &mut Buffers) -> Result<(), TransportError> {
    loop {
        let input = b.read.get(b.start..b.filled).unwrap_or_default();
        match wire::parse(input).map_err(|e| TransportError::Io(e.to_string()))? {
            Parsed::Partial => return Ok(()),
            Parsed::Interim(len) => b.start += len,
            Parsed::Final {
                len,
                response,
                close,
            } => {
                b.start += len;
                let reply = conn.queue().replies.pop_front().ok_or_else(|| {
                    TransportError::Io(format!(
                        "unsolicited response {} from the server",
                        response.status
                    ))
                })?;
                // A receiver gone (its timeout fired) just drops the answer.
                let _ = reply.send(Ok(response));
                if close {
                    return Err(TransportError::Io(
                        "the server closed the connection (Connection: close)".to_owned(),
                    ));
                }
            }
        }
    }
}
