//! One proxied connection: connects to the upstream, relays both directions through their
//! fault pipelines, and closes both sockets the way the faults or the peers ask.
//!
//! Each direction is a reader and a writer joined by a queue. The reader stamps every chunk
//! with its release time (latency, jitter) and stops reading while the queue holds more than
//! the byte budget (backpressure instead of memory growth). The writer holds chunks while the
//! direction is half-open or stalled or the release time is ahead, then meters them through
//! the bandwidth bucket. End-of-stream and resets travel through the same queue, so they are
//! delayed and held exactly like the bytes before them.

use super::faults::{Direction, LinkId, PathFaults};
use super::registry::{Ending, Kill, LinkControl, LinkCounters, LinkState, Registry};
use super::shaping::{DelayLine, TokenBucket};
use super::sniff::{Sniff, sniff_client_id};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};

/// Size of one read.
pub(crate) const READ_CHUNK: usize = 16 * 1024;
/// Bookkeeping charged per queued chunk on top of its bytes, so a stream of one-byte
/// chunks cannot grow memory past the budget either.
const CHUNK_OVERHEAD: usize = 64;
/// Longest CONNECT prefix held while looking for the client identifier; past it the bytes
/// are forwarded untagged.
const SNIFF_LIMIT: usize = 8 * 1024;
/// How much earlier than its due time a delayed chunk is aimed. Tokio's timer wheel ticks
/// in whole milliseconds and both it and the OS poll round a sleep up, so a sleep overshoots
/// by 0–2 ms; aiming 1 ms early centres the release on the due time (measured: +1.3 ms per
/// hop without the lead). A stall's end is honoured exactly.
const TIMER_LEAD: Duration = Duration::from_millis(1);
/// The smallest per-direction queue budget: a sniffed prefix plus one read must fit.
pub(crate) const MIN_QUEUE_LIMIT: usize = SNIFF_LIMIT + READ_CHUNK + 2 * CHUNK_OVERHEAD;

/// What a link task needs besides its sockets.
pub(crate) struct LinkSetup {
    pub registry: Arc<Registry>,
    pub id: LinkId,
    pub upstream: SocketAddr,
    pub control: watch::Receiver<LinkControl>,
    pub counters: Arc<LinkCounters>,
    pub delay_lines: [DelayLine; 2],
    pub sniff: bool,
    pub queue_limit: usize,
    pub connect_timeout: Duration,
    pub cut_drain: Duration,
}

/// Runs one link to its end and unregisters it.
pub(crate) async fn run(client: TcpStream, setup: LinkSetup) {
    let registry = Arc::clone(&setup.registry);
    let id = setup.id;
    let ending = run_inner(client, setup).await;
    registry.unregister(id, ending);
}

async fn run_inner(mut client: TcpStream, setup: LinkSetup) -> Ending {
    if setup.control.borrow().rule.faults.refuse_new {
        setup.registry.set_state(setup.id, LinkState::Closing);
        reset(&client);
        return Ending::Refused;
    }
    let connect = timeout(setup.connect_timeout, TcpStream::connect(setup.upstream));
    let mut upstream = tokio::select! {
        r = connect => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(link = %setup.id, error = %e, "upstream refused");
                reset(&client);
                return Ending::UpstreamFailed;
            }
            Err(_) => {
                tracing::debug!(link = %setup.id, "upstream connect timed out");
                reset(&client);
                return Ending::UpstreamFailed;
            }
        },
        kill = wait_kill(setup.control.clone()) => {
            close(&mut client, None, kill, setup.cut_drain).await;
            return Ending::Killed(kill);
        }
    };
    // Small writes (MQTT pings) must not wait for Nagle; failures only cost latency.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    setup.registry.set_state(setup.id, LinkState::Open);
    let outcome = relay(&mut client, &mut upstream, &setup).await;
    setup.registry.set_state(setup.id, LinkState::Closing);
    match outcome {
        Outcome::Closed => Ending::Closed,
        Outcome::Broken(e) => {
            tracing::debug!(link = %setup.id, error = %e, "link broken; resetting both sides");
            reset(&client);
            reset(&upstream);
            Ending::Broken
        }
        Outcome::Refused => {
            reset(&client);
            reset(&upstream);
            Ending::Refused
        }
        Outcome::Killed(kill) => {
            close(&mut client, Some(&mut upstream), kill, setup.cut_drain).await;
            Ending::Killed(kill)
        }
    }
}

/// Arms an abortive close: when the socket is dropped the kernel sends RST, not FIN.
fn reset(stream: &TcpStream) {
    if let Err(e) = stream.set_zero_linger() {
        tracing::debug!(error = %e, "SO_LINGER 0 failed; the close will be graceful");
    }
}

/// Ends the sockets as `kill` says: reset, or FIN then a bounded drain of what the peer
/// still sends (closing a socket with unread bytes would make the kernel send RST).
async fn close(a: &mut TcpStream, b: Option<&mut TcpStream>, kill: Kill, drain: Duration) {
    match kill {
        Kill::Reset => {
            reset(a);
            if let Some(b) = b {
                reset(b);
            }
        }
        Kill::Cut => match b {
            Some(b) => {
                tokio::join!(graceful(a, drain), graceful(b, drain));
            }
            None => graceful(a, drain).await,
        },
    }
}

async fn graceful(stream: &mut TcpStream, drain: Duration) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let _ = timeout(drain, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Resolves when the link is told to die.
async fn wait_kill(mut control: watch::Receiver<LinkControl>) -> Kill {
    loop {
        if let Some(kill) = control.borrow_and_update().kill {
            return kill;
        }
        changed(&mut control).await;
    }
}

/// Resolves when the control value changes; never, once the registry dropped the link
/// (then nothing can change any more, and returning would spin the caller).
async fn changed(control: &mut watch::Receiver<LinkControl>) {
    if control.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How the relay ended.
enum Outcome {
    /// Both directions reached end-of-stream and forwarded it.
    Closed,
    /// A side reset or a write failed.
    Broken(io::Error),
    /// A sniffed tag made `refuse_new` apply.
    Refused,
    /// An injected reset or cut.
    Killed(Kill),
}

/// Why a direction stopped early.
enum Stop {
    Io(io::Error),
    Refused,
}

async fn relay(client: &mut TcpStream, upstream: &mut TcpStream, setup: &LinkSetup) -> Outcome {
    let (client_rd, client_wr) = client.split();
    let (upstream_rd, upstream_wr) = upstream.split();
    let [up_line, down_line] = &setup.delay_lines;
    let up = direction(
        client_rd,
        upstream_wr,
        Direction::Up,
        setup,
        up_line.clone(),
    );
    let down = direction(
        upstream_rd,
        client_wr,
        Direction::Down,
        setup,
        down_line.clone(),
    );
    tokio::select! {
        r = async { tokio::try_join!(up, down) } => match r {
            Ok(_) => Outcome::Closed,
            Err(Stop::Io(e)) => Outcome::Broken(e),
            Err(Stop::Refused) => Outcome::Refused,
        },
        kill = wait_kill(setup.control.clone()) => Outcome::Killed(kill),
    }
}

/// A queued unit: bytes, or the end of the stream, with its release time.
enum Item {
    Data(Vec<u8>, Instant),
    Eof(Instant),
    Reset(io::ErrorKind, Instant),
}

/// One direction: reader and writer joined by a byte-budgeted queue.
async fn direction(
    rd: ReadHalf<'_>,
    wr: WriteHalf<'_>,
    dir: Direction,
    setup: &LinkSetup,
    line: DelayLine,
) -> Result<(), Stop> {
    let (tx, rx) = mpsc::unbounded_channel();
    let budget = Semaphore::new(setup.queue_limit.max(MIN_QUEUE_LIMIT));
    let sniff = setup.sniff && dir == Direction::Up;
    let reader = read_side(rd, tx, &budget, dir, setup, line, sniff);
    let writer = write_side(wr, rx, &budget, dir, setup);
    tokio::try_join!(reader, writer).map(|_| ())
}

/// Reads chunks, stamps their release times and queues them. Ends after queueing the
/// end-of-stream or the read error.
async fn read_side(
    mut rd: ReadHalf<'_>,
    tx: mpsc::UnboundedSender<Item>,
    budget: &Semaphore,
    dir: Direction,
    setup: &LinkSetup,
    mut line: DelayLine,
    sniff: bool,
) -> Result<(), Stop> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut sniffer = sniff.then(Sniffer::default);
    loop {
        let Ok(permit) = budget.acquire_many(budget_cost_u32(READ_CHUNK)).await else {
            return Ok(());
        };
        let read = rd.read(&mut buf).await;
        permit.forget();
        let n = match &read {
            Ok(n) => *n,
            Err(_) => 0,
        };
        budget.add_permits(READ_CHUNK - n);
        let mut chunk = buf.get(..n).unwrap_or_default().to_vec();
        if let Some(s) = sniffer.as_mut() {
            // Bytes held for the sniff are outside the budget (the sniffer bounds them);
            // they are charged when they are queued.
            budget.add_permits(budget_cost(n));
            let Sniffed::Release { bytes, client_id } = s.feed(&chunk, n == 0) else {
                continue;
            };
            sniffer = None;
            if let Some(tag) = client_id {
                setup.registry.tag(setup.id, tag);
                if setup.control.borrow().rule.faults.refuse_new {
                    return Err(Stop::Refused);
                }
            }
            // Nothing is queued yet, so this takes the budget without waiting.
            if !bytes.is_empty()
                && let Ok(p) = budget.acquire_many(budget_cost_u32(bytes.len())).await
            {
                p.forget();
            }
            chunk = bytes;
        }
        let now = Instant::now();
        let rule = setup.control.borrow().rule.clone();
        let path = rule.faults.path(dir);
        let at = line.release_at(now, path.latency, path.jitter);
        if !chunk.is_empty() {
            LinkCounters::add(&setup.counters.queued, dir, chunk.len() as u64);
            let _ = tx.send(Item::Data(chunk, at));
        }
        match read {
            Ok(0) => {
                let _ = tx.send(Item::Eof(at));
                return Ok(());
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Item::Reset(e.kind(), at));
                return Ok(());
            }
        }
    }
}

/// Holds the first bytes of a client's stream until they name the MQTT client identifier,
/// prove not to be a CONNECT, or exceed [`SNIFF_LIMIT`].
#[derive(Default)]
struct Sniffer {
    held: Vec<u8>,
}

/// What the sniffer does with the bytes so far.
enum Sniffed {
    /// Keep holding; more bytes are needed.
    Hold,
    /// Forward these bytes (everything held), tagging the link if an identifier was found.
    Release {
        bytes: Vec<u8>,
        client_id: Option<String>,
    },
}

impl Sniffer {
    /// Adds a chunk (`end`: the stream ended or failed, nothing more will come).
    fn feed(&mut self, chunk: &[u8], end: bool) -> Sniffed {
        self.held.extend_from_slice(chunk);
        let result = sniff_client_id(&self.held);
        if result == Ok(Sniff::Incomplete) && !end && self.held.len() < SNIFF_LIMIT {
            return Sniffed::Hold;
        }
        let client_id = match result {
            Ok(Sniff::ClientId(id)) => Some(id),
            Ok(Sniff::Incomplete) | Err(_) => None,
        };
        Sniffed::Release {
            bytes: std::mem::take(&mut self.held),
            client_id,
        }
    }
}

/// The budget a chunk of `n` bytes uses.
fn budget_cost(n: usize) -> usize {
    n + CHUNK_OVERHEAD
}

/// [`budget_cost`] as the semaphore's permit count (chunks are far below `u32::MAX`).
fn budget_cost_u32(n: usize) -> u32 {
    u32::try_from(budget_cost(n)).unwrap_or(u32::MAX)
}

/// Forwards queued items when the faults allow.
async fn write_side(
    mut wr: WriteHalf<'_>,
    mut rx: mpsc::UnboundedReceiver<Item>,
    budget: &Semaphore,
    dir: Direction,
    setup: &LinkSetup,
) -> Result<(), Stop> {
    let mut control = setup.control.clone();
    let mut bucket: Option<TokenBucket> = None;
    while let Some(item) = rx.recv().await {
        match item {
            Item::Data(bytes, at) => {
                let mut off = 0;
                while off < bytes.len() {
                    let n = gate(&mut control, dir, at, &mut bucket, bytes.len() - off).await;
                    let slice = bytes.get(off..off + n).unwrap_or_default();
                    wr.write_all(slice).await.map_err(Stop::Io)?;
                    off += n;
                    LinkCounters::add(&setup.counters.forwarded, dir, n as u64);
                    LinkCounters::sub(&setup.counters.queued, dir, n as u64);
                }
                budget.add_permits(budget_cost(bytes.len()));
            }
            Item::Eof(at) => {
                gate(&mut control, dir, at, &mut bucket, 0).await;
                // The peer may already be gone; the other direction reports that.
                let _ = wr.shutdown().await;
                return Ok(());
            }
            Item::Reset(kind, at) => {
                gate(&mut control, dir, at, &mut bucket, 0).await;
                return Err(Stop::Io(io::Error::from(kind)));
            }
        }
    }
    Ok(())
}

/// Waits until the faults let bytes through, then returns how many of `want` may go now
/// (1..=want; 0 when `want` is 0).
async fn gate(
    control: &mut watch::Receiver<LinkControl>,
    dir: Direction,
    release_at: Instant,
    bucket: &mut Option<TokenBucket>,
    want: usize,
) -> usize {
    loop {
        let (path, stall_until): (PathFaults, Option<Instant>) = {
            let c = control.borrow_and_update();
            (
                c.rule.faults.path(dir).clone(),
                c.rule.stall_until[dir.index()],
            )
        };
        let now = Instant::now();
        let wake = if path.half_open {
            None
        } else {
            let due = release_at.checked_sub(TIMER_LEAD).unwrap_or(release_at);
            let hold = stall_until.map_or(due, |s| s.max(due));
            if hold > now {
                Some(hold)
            } else {
                match (path.bandwidth_bytes_per_s, want) {
                    (_, 0) | (None, _) => return want,
                    (Some(rate), _) => {
                        let b = match bucket {
                            Some(b) if b.rate() == rate.max(1) => b,
                            _ => bucket.insert(TokenBucket::new(rate, now)),
                        };
                        match b.take(now, want) {
                            Ok(n) => return n,
                            Err(at) => Some(at),
                        }
                    }
                }
            }
        };
        match wake {
            Some(at) => {
                tokio::select! {
                    () = sleep_until(at) => {}
                    () = changed(control) => {}
                }
            }
            None => changed(control).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3.1.1 CONNECT with client id "cp1": 10 0f | 00 04 'MQTT' | 04 | 02 | 00 3c | 00 03 'cp1'.
    const CONNECT: [u8; 17] = [
        0x10, 0x0f, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x03, b'c',
        b'p', b'1',
    ];

    #[test]
    fn sniffer_holds_a_split_connect_then_releases_it_whole() {
        let mut s = Sniffer::default();
        assert!(matches!(s.feed(&CONNECT[..9], false), Sniffed::Hold));
        match s.feed(&CONNECT[9..], false) {
            Sniffed::Release { bytes, client_id } => {
                assert_eq!(bytes, CONNECT);
                assert_eq!(client_id.as_deref(), Some("cp1"));
            }
            Sniffed::Hold => panic!("still holding a complete CONNECT"),
        }
    }

    #[test]
    fn sniffer_releases_other_protocols_and_ends_at_once() {
        let mut s = Sniffer::default();
        assert!(matches!(
            s.feed(b"GET / HTTP/1.1", false),
            Sniffed::Release {
                client_id: None,
                ..
            }
        ));
        let mut s = Sniffer::default();
        assert!(matches!(s.feed(&CONNECT[..5], false), Sniffed::Hold));
        match s.feed(&[], true) {
            Sniffed::Release { bytes, client_id } => {
                assert_eq!(bytes, &CONNECT[..5]);
                assert_eq!(client_id, None);
            }
            Sniffed::Hold => panic!("held past the end of the stream"),
        }
    }

    #[test]
    fn sniffer_gives_up_at_its_limit() {
        // Remaining length 81 919 (ff ff 04) and a 65 535-byte client id: it never completes
        // within the limit.
        let mut head = vec![0x10, 0xff, 0xff, 0x04, 0x00, 0x04, b'M', b'Q', b'T', b'T'];
        head.extend_from_slice(&[0x04, 0x02, 0x00, 0x3c, 0xff, 0xff]);
        let mut s = Sniffer::default();
        assert!(matches!(s.feed(&head, false), Sniffed::Hold));
        let filler = vec![b'x'; SNIFF_LIMIT];
        match s.feed(&filler, false) {
            Sniffed::Release { bytes, client_id } => {
                assert_eq!(bytes.len(), head.len() + SNIFF_LIMIT);
                assert_eq!(client_id, None);
            }
            Sniffed::Hold => panic!("held past the limit"),
        }
    }
}
