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
//! are full. A connection keeps each request's bytes until its response has come, so when
//! the connection ends it can tell which requests the server cannot have acted on and send
//! those again on a fresh connection of its own (RFC 9112 §9.3.2):
//! - after a response with `Connection: close` (a server's keep-alive request limit, such
//!   as nginx's `keepalive_requests`), every request behind it: the server must not
//!   process requests after that response (RFC 9112 §9.6);
//! - after any other failure (reset, end of stream, unreadable response), the requests
//!   not yet wholly written; those written and unanswered may have been acted on, so each
//!   gets the error as its answer (`TransportError::Io`) and the machine decides on
//!   retries. Nothing the server may have seen is sent twice.
//!
//! A connection that cannot be opened answers everything on it `TransportError::Connect`,
//! and one that ends without answering or wholly writing anything is not reopened. A
//! request whose timeout fires is answered `Timeout` by the caller's watchdog; its
//! response, if it comes, is read and discarded in turn, so the order of the others is
//! kept (if it is re-sent, its answer is discarded the same way).

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

/// A request on a connection, queued or written and unanswered.
#[derive(Debug)]
struct Pending {
    reply: oneshot::Sender<Answer>,
    /// Where its bytes end in the connection's request stream (bytes queued on the
    /// connection before it and its own).
    end: u64,
}

/// What a connection's task and the senders share.
#[derive(Debug, Default)]
struct Queue {
    /// Encoded requests the task has not yet taken.
    out: Vec<u8>,
    /// Bytes ever queued on the connection: where the next request starts.
    queued: u64,
    /// Every request queued or written and unanswered, oldest first.
    replies: VecDeque<Pending>,
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
        for p in replies {
            let _ = p.reply.send(Err(error.clone()));
        }
    }
}

/// Pipelined connections per origin; see the module documentation.
pub struct PipelinePool {
    depth: usize,
    tls: tokio_rustls::TlsConnector,
    conns: Mutex<BTreeMap<String, Vec<Arc<Conn>>>>,
    /// Connections opened (reconnections included).
    opened: Arc<AtomicU64>,
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
            opened: Arc::new(AtomicU64::new(0)),
        }
    }

    fn conns(&self) -> MutexGuard<'_, BTreeMap<String, Vec<Arc<Conn>>>> {
        // A panic under this lock can only come from a bug here; the map stays usable.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections opened so far (reconnections included), and open ones with nothing in
    /// flight.
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
                tokio::spawn(run(
                    conn,
                    target.clone(),
                    self.tls.clone(),
                    self.opened.clone(),
                ));
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
    let before = q.out.len();
    wire::encode(&mut q.out, target, request)
        .map_err(|e| TransportError::Connect(format!("bad request: {e}")))?;
    q.queued += (q.out.len() - before) as u64;
    let end = q.queued;
    q.replies.push_back(Pending { reply, end });
    Ok(q.waker.take())
}

/// A connection's task: connects, then moves requests and responses until the
/// connection ends; reconnects for the requests the server cannot have acted on (see the
/// module documentation) and answers the others with the error.
async fn run(
    conn: Arc<Conn>,
    target: Target,
    tls: tokio_rustls::TlsConnector,
    opened: Arc<AtomicU64>,
) {
    let mut out = Outbox::default();
    loop {
        opened.fetch_add(1, Ordering::Relaxed);
        let ended = match connect(&target).await {
            Err(e) => Ended::unopened(e),
            Ok(tcp) if target.https => {
                let host = target.host.trim_start_matches('[').trim_end_matches(']');
                match ServerName::try_from(host.to_owned()) {
                    Err(e) => Ended::unopened(connect_error(&target, "server name", &e)),
                    Ok(name) => match tls.connect(name, tcp).await {
                        Err(e) => Ended::unopened(connect_error(&target, "tls", &e)),
                        Ok(stream) => drive(&conn, stream, &mut out).await,
                    },
                }
            }
            Ok(tcp) => drive(&conn, tcp, &mut out).await,
        };
        if !ended.progress || !out.fail_acted_on(&conn, &ended) {
            conn.close(&ended.error);
            return;
        }
    }
}

/// How a connection ended.
#[derive(Debug)]
struct Ended {
    error: TransportError,
    /// The server answered `Connection: close`: it acted on nothing after that answer.
    server_closed: bool,
    /// A response was read or a request wholly written on the connection.
    progress: bool,
}

impl Ended {
    fn unopened(error: TransportError) -> Ended {
        Ended {
            error,
            server_closed: false,
            progress: false,
        }
    }
}

/// The request bytes of a connection from its oldest unanswered request on, across
/// reconnections: `bytes[i]` is byte `base + i` of the connection's request stream.
#[derive(Debug, Default)]
struct Outbox {
    bytes: Vec<u8>,
    base: u64,
    /// Bytes of the stream handed to the socket.
    written: u64,
    /// Bytes of the stream taken from the queue (`base + bytes.len()`).
    taken: u64,
}

impl Outbox {
    /// Takes what is queued; `false` if nothing is left to write.
    fn refill(&mut self, q: &mut Queue) -> bool {
        if self.written == self.taken {
            if q.out.is_empty() {
                return false;
            }
            self.taken += q.out.len() as u64;
            self.bytes.extend_from_slice(&q.out);
            q.out.clear();
        }
        true
    }

    /// The bytes not yet written.
    fn unwritten(&self) -> &[u8] {
        let from = usize::try_from(self.written - self.base).unwrap_or(usize::MAX);
        self.bytes.get(from..).unwrap_or_default()
    }

    /// Forgets the bytes of the stream before `end` (their request was answered).
    fn release(&mut self, end: u64) {
        let n = usize::try_from(end.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let n = n.min(self.bytes.len());
        // Drained in bulk: the buffer holds at most `depth` requests.
        self.bytes.drain(..n);
        self.base += n as u64;
        self.written = self.written.max(self.base);
    }

    /// After the connection ended: answers with its error the unanswered requests the
    /// server may have acted on and rewinds to re-send the others. `false` if none is
    /// left to re-send (the task then ends).
    fn fail_acted_on(&mut self, conn: &Conn, ended: &Ended) -> bool {
        let mut q = conn.queue();
        let mut failed = Vec::new();
        if !ended.server_closed {
            // Wholly written requests may have been acted on.
            while q.replies.front().is_some_and(|p| p.end <= self.written) {
                if let Some(p) = q.replies.pop_front() {
                    self.release(p.end);
                    failed.push(p.reply);
                }
            }
        }
        self.written = self.base;
        let resend = !q.replies.is_empty();
        drop(q);
        for reply in failed {
            let _ = reply.send(Err(ended.error.clone()));
        }
        resend
    }
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

/// One connection's buffers.
#[derive(Debug)]
struct Buffers<'a> {
    out: &'a mut Outbox,
    /// Bytes read and not yet consumed: `read[start..filled]`.
    read: Vec<u8>,
    start: usize,
    filled: usize,
    /// Whether a response was read or a request wholly written.
    progress: bool,
}

/// Moves requests out and responses in until the connection ends.
async fn drive<T: AsyncRead + AsyncWrite + Unpin>(
    conn: &Conn,
    mut io: T,
    out: &mut Outbox,
) -> Ended {
    let mut b = Buffers {
        out,
        read: vec![0; READ_CHUNK],
        start: 0,
        filled: 0,
        progress: false,
    };
    let (error, server_closed) = poll_fn(|cx| poll_drive(conn, &mut io, &mut b, cx)).await;
    Ended {
        error,
        server_closed,
        progress: b.progress,
    }
}

/// `Ready` with the error and whether the server answered `Connection: close`.
fn poll_drive<T: AsyncRead + AsyncWrite + Unpin>(
    conn: &Conn,
    io: &mut T,
    b: &mut Buffers<'_>,
    cx: &mut Context<'_>,
) -> Poll<(TransportError, bool)> {
    let io_error = |what: &str, e: io::Error| (TransportError::Io(format!("{what}: {e}")), false);
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
                return Poll::Ready((
                    TransportError::Io(format!(
                        "the server closed the connection with {n} request(s) unanswered"
                    )),
                    false,
                ));
            }
            Poll::Ready(Ok(_)) => {
                progress = true;
                if let Err(ended) = answer(conn, b) {
                    return Poll::Ready(ended);
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
    b: &mut Buffers<'_>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<bool>> {
    {
        let mut q = conn.queue();
        if !b.out.refill(&mut q) {
            if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                q.waker = Some(cx.waker().clone());
            }
            return Poll::Ready(Ok(false));
        }
    }
    loop {
        let rest = b.out.unwritten();
        if rest.is_empty() {
            break;
        }
        match Pin::new(&mut *io).poll_write(cx, rest) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => {
                b.out.written += n as u64;
                // Everything taken is written: those requests are whole on the wire
                // (checked without taking the queue's lock on every write).
                b.progress |= b.out.written == b.out.taken;
            }
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
    b: &mut Buffers<'_>,
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

/// Answers the oldest requests with every whole response in the read buffer; `Err` with
/// the error and whether the server answered `Connection: close` when the connection
/// must end.
fn answer(conn: &Conn, b: &mut Buffers<'_>) -> Result<(), (TransportError, bool)> {
    loop {
        let input = b.read.get(b.start..b.filled).unwrap_or_default();
        match wire::parse(input).map_err(|e| (TransportError::Io(e.to_string()), false))? {
            Parsed::Partial => return Ok(()),
            Parsed::Interim(len) => b.start += len,
            Parsed::Final {
                len,
                response,
                close,
            } => {
                b.start += len;
                let pending = conn.queue().replies.pop_front().ok_or_else(|| {
                    (
                        TransportError::Io(format!(
                            "unsolicited response {} from the server",
                            response.status
                        )),
                        false,
                    )
                })?;
                b.out.release(pending.end);
                b.progress = true;
                // A receiver gone (its timeout fired) just drops the answer.
                let _ = pending.reply.send(Ok(response));
                if close {
                    return Err((
                        TransportError::Io(
                            "the server closed the connection (Connection: close)".to_owned(),
                        ),
                        true,
                    ));
                }
            }
        }
    }
}
