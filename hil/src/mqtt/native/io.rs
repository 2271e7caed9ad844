//! The I/O thread of the native engine: one `mio` poll over every connection's
//! non-blocking socket. Each turn of the loop drains readiness events (reading each ready
//! socket until it would block and decoding what arrived), applies the world's batch of
//! commands, runs the coarse timer tick (connect timeouts, keep-alive), writes every dirty
//! connection once, and hands the turn's events to the inbox in one push.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use mio::net::TcpStream;
use mio::{Interest, Token};
use rumqttc::mqttbytes::Error as CodecError;
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Disconnect, Login, Packet};

use super::session::{Incoming, Request, Session};
use super::{Command, Config, Shared, WAKER};
use crate::mqtt::fleet::TransportEvent;

/// How often connect timeouts and keep-alives are checked.
const TICK: Duration = Duration::from_millis(250);
/// The poll timeout during a shutdown's drain (how often it checks that it is done).
const CLOSE_POLL: Duration = Duration::from_millis(5);
/// Size of the one read buffer every connection reads into.
const SCRATCH: usize = 64 * 1024;
/// A write buffer drained with more capacity than this is given back.
const KEEP_CAPACITY: usize = 2 * 1024;

/// The wall clock of the I/O thread (the engine's only clock).
fn wall_now() -> Instant {
    #[expect(
        clippy::disallowed_methods,
        reason = "the I/O shell times keep-alives and connect timeouts on the wall clock"
    )]
    Instant::now()
}

/// Connections between TCP connect and CONNACK at once. Mosquitto listens with a backlog
/// of 100: a burst of connects past it loses handshakes, which the kernel retries after
/// 1 s, 3 s, … (a CONNECT p99 of seconds at 19,000 chargers). Below it, a burst waits here
/// instead, and the wait counts in the connect latency, which the chargers measure from
/// their scheduled time.
pub(super) const MAX_HANDSHAKES: usize = 64;

/// Connections of one engine that connect from the kernel's automatic source address and
/// port; the ones past it bind their own source address first ([`source_for`]).
const AUTO_SOURCE: usize = 8192;
/// Connections per extra loopback source address.
const PER_SOURCE: usize = 1024;
/// Linux's `EINPROGRESS`: a non-blocking connect has started.
const EINPROGRESS: i32 = 115;

/// The local address connection `i` binds before it connects, if any.
///
/// Linux picks a `connect`'s source port among the even half of the ephemeral range first
/// (the odd half is left to `bind`), and scans every even port before it tries an odd one:
/// once some 14,000 connections to one broker address hold the even ports, every further
/// connect costs milliseconds of kernel time on the I/O thread, which then serves no other
/// connection (measured here: the first 14,000 loopback connects took 0.9 s, the next
/// 2,000 took 7.3 s; a 19,000-charger ramp stalled at 14,100 connected). Connections past
/// [`AUTO_SOURCE`] of a loopback broker therefore bind 127.0.0.2, .3, … ([`PER_SOURCE`]
/// each) with port 0: the kernel's `bind` takes the first free port of that address at
/// once, and the connect only checks that the four-tuple is unused. The first
/// [`AUTO_SOURCE`] stay on automatic ports, so that a fleet does not fill the bound-port
/// table that every other process's automatic connects must avoid.
fn source_for(broker: SocketAddr, i: usize) -> Option<SocketAddr> {
    let SocketAddr::V4(b) = broker else {
        return None;
    };
    if !cfg!(target_os = "linux") || !b.ip().is_loopback() || i < AUTO_SOURCE {
        return None;
    }
    let k = u32::try_from((i - AUTO_SOURCE) / PER_SOURCE).ok()?;
    let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)).checked_add(k)?);
    ip.is_loopback().then_some(SocketAddr::from((ip, 0)))
}

/// A non-blocking connect to `addr`, from `source` when given.
fn connect_from(addr: SocketAddr, source: Option<SocketAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(addr);
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.bind(&source.into())?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) || e.kind() == ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(std::net::TcpStream::from(socket)))
}

/// Where a connection's link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No socket.
    Idle,
    /// TCP connect in progress.
    Connecting,
    /// CONNECT written, waiting for the CONNACK.
    AwaitConnAck,
    /// Past a successful CONNACK.
    Up,
}

/// One connection.
#[derive(Debug)]
struct Conn {
    link: Link,
    stream: Option<TcpStream>,
    session: Session,
    /// Bytes encoded and not yet written.
    out: BytesMut,
    /// Bytes read and not yet a whole packet.
    partial: BytesMut,
    /// When the connect started (connecting) or the last PINGREQ went (up).
    since: Instant,
    awaiting_pingresp: bool,
    /// A `connect` not yet used (rumqttc's engine keeps one the same way).
    permit: bool,
    /// Waiting for a handshake slot ([`MAX_HANDSHAKES`]).
    queued: bool,
    /// A `disconnect` asked while the link was not up: it runs after the next CONNACK.
    disconnect_pending: bool,
    hold_until: Option<Instant>,
    dirty: bool,
    /// The socket is registered for writability too: while connecting, and while a write
    /// would block. Otherwise every ACK from the broker would wake the thread for nothing.
    write_interest: bool,
}

impl Conn {
    fn new(now: Instant) -> Self {
        Conn {
            link: Link::Idle,
            stream: None,
            session: Session::default(),
            out: BytesMut::new(),
            partial: BytesMut::new(),
            since: now,
            awaiting_pingresp: false,
            permit: false,
            queued: false,
            disconnect_pending: false,
            hold_until: None,
            dirty: false,
            write_interest: false,
        }
    }
}

/// The I/O thread's state. See the module documentation.
pub(super) struct Engine {
    poll: mio::Poll,
    cfg: Config,
    shared: Arc<Shared>,
    conns: Vec<Conn>,
    dirty: Vec<usize>,
    events: Vec<TransportEvent>,
    commands: Vec<Command>,
    scratch: Vec<u8>,
    /// Connections between TCP connect and CONNACK.
    handshakes: usize,
    /// Connections with a permit waiting for a handshake slot, in order.
    waiting: VecDeque<usize>,
}

impl Engine {
    /// An engine with every connection idle.
    pub(super) fn new(poll: mio::Poll, cfg: Config, shared: Arc<Shared>) -> Self {
        let now = wall_now();
        let conns = cfg.client_ids.iter().map(|_| Conn::new(now)).collect();
        Engine {
            poll,
            cfg,
            shared,
            conns,
            dirty: Vec::new(),
            events: Vec::new(),
            commands: Vec::new(),
            scratch: vec![0; SCRATCH],
            handshakes: 0,
            waiting: VecDeque::new(),
        }
    }

    /// The loop; returns when the fleet shuts down (every socket is then dropped).
    pub(super) fn run(mut self) {
        let mut ready = mio::Events::with_capacity(1024);
        let mut next_tick = wall_now() + TICK;
        // Set once the fleet shuts down: the end of the graceful drain.
        let mut close_by: Option<Instant> = None;
        // The drain's second step: every link is half-closed, waiting for the broker's EOF.
        let mut half_closed = false;
        loop {
            let mut timeout = if self.dirty.is_empty() {
                next_tick.saturating_duration_since(wall_now())
            } else {
                Duration::ZERO
            };
            if close_by.is_some() {
                timeout = timeout.min(CLOSE_POLL);
            }
            if let Err(e) = self.poll.poll(&mut ready, Some(timeout))
                && e.kind() != ErrorKind::Interrupted
            {
                tracing::error!("MQTT I/O poll failed: {e}");
                self.abandon();
                return;
            }
            let now = wall_now();
            if let Some(by) = close_by {
                if now >= by || (half_closed && !self.any_up()) {
                    self.abandon();
                    return;
                }
                if !half_closed && self.drained() {
                    self.half_close();
                    half_closed = true;
                }
            } else if self.shared.closing.load(Ordering::Acquire) {
                close_by = Some(now + super::CLOSE_GRACE);
                // Nothing new connects during the drain.
                self.waiting.clear();
                for c in &mut self.conns {
                    c.permit = false;
                }
            }
            for ev in ready.iter() {
                if ev.token() != WAKER {
                    self.on_ready(ev, now);
                }
            }
            self.take_commands(now);
            if now >= next_tick {
                self.tick(now);
                next_tick = now + TICK;
            }
            self.admit(now);
            self.flush();
            self.shared.inbox.push_batch(&mut self.events);
        }
    }

    /// Whether every connection that is up has written all it was handed and finished
    /// every QoS 1/2 exchange (what waits for a connection that is not up cannot be written
    /// in a drain). Mosquitto hands a QoS 2 publish on only at its PUBREL: a link closed
    /// between PUBLISH and PUBCOMP loses it.
    fn drained(&self) -> bool {
        self.dirty.is_empty()
            && self.conns.iter().enumerate().all(|(i, c)| {
                c.link != Link::Up
                    || (c.out.is_empty()
                        && c.session.in_window() == 0
                        && self
                            .shared
                            .queued
                            .get(i)
                            .is_none_or(|q| q.load(Ordering::Acquire) == 0))
            })
    }

    /// The drain's last step: each link that is up stops writing (a FIN after its last
    /// byte) and stays open until the broker, having read everything before the FIN, closes
    /// it. Dropping the socket at once could reset it with bytes the broker had not read
    /// yet (a close with unread input sends a reset, and a broker that then fails to write
    /// drops the connection with what it had not read).
    fn half_close(&mut self) {
        for c in &mut self.conns {
            if c.link == Link::Up
                && let Some(s) = c.stream.as_ref()
            {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
        }
    }

    /// Whether any link is still up (the broker has not closed it).
    fn any_up(&self) -> bool {
        self.conns.iter().any(|c| c.link == Link::Up)
    }

    /// Counts what was handed over and never written, or written with its QoS 1/2
    /// exchange unfinished (the I/O thread is about to stop).
    fn abandon(&self) {
        let queued: u64 = self
            .shared
            .queued
            .iter()
            .map(|q| u64::from(q.load(Ordering::Acquire)))
            .sum();
        let unfinished: usize = self
            .conns
            .iter()
            .filter(|c| c.link == Link::Up)
            .map(|c| c.session.in_window())
            .sum();
        let unwritten = queued + unfinished as u64;
        if unwritten > 0 {
            tracing::warn!("MQTT shutdown: {unwritten} requests never reached the wire");
        }
        self.shared
            .inbox
            .counters()
            .abandoned
            .fetch_add(unwritten, Ordering::Relaxed);
    }

    fn mark(&mut self, i: usize) {
        if let Some(c) = self.conns.get_mut(i)
            && !c.dirty
        {
            c.dirty = true;
            self.dirty.push(i);
        }
    }

    fn on_ready(&mut self, ev: &mio::event::Event, now: Instant) {
        let i = ev.token().0;
        let Some(c) = self.conns.get(i) else {
            return;
        };
        if c.stream.is_none() {
            return;
        }
        if c.link == Link::Connecting {
            self.finish_connect(i, now);
        }
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            self.read(i, now);
        }
        if ev.is_writable() {
            self.mark(i);
        }
    }

    fn take_commands(&mut self, now: Instant) {
        {
            let mut batch = self
                .shared
                .commands
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::swap(&mut *batch, &mut self.commands);
        }
        let mut commands = std::mem::take(&mut self.commands);
        for command in commands.drain(..) {
            self.apply(command, now);
        }
        self.commands = commands;
    }

    fn apply(&mut self, command: Command, now: Instant) {
        match command {
            Command::Connect(i) => {
                let Some(c) = self.conns.get_mut(i) else {
                    return;
                };
                c.permit = true;
                if c.link == Link::Idle {
                    self.start_connect(i, now);
                }
            }
            Command::Disconnect(i) => self.disconnect(i),
            Command::Cut(i, hold) => {
                let Some(c) = self.conns.get_mut(i) else {
                    return;
                };
                c.hold_until = Some(now + hold);
                if c.link != Link::Idle {
                    self.lost(i, Some("network cut (fault injection)".to_owned()), now);
                }
            }
            Command::Subscribe(i, filters) => self.request(i, Request::Subscribe(filters)),
            Command::Publish(i, publish) => self.request(i, Request::Publish(publish)),
        }
    }

    fn request(&mut self, i: usize, request: Request) {
        if let Some(c) = self.conns.get_mut(i) {
            c.session.push(request);
            if c.link == Link::Up {
                self.mark(i);
            }
        }
    }

    /// Connects `i` now if a handshake slot is free, otherwise when one is
    /// ([`Engine::admit`]).
    fn start_connect(&mut self, i: usize, now: Instant) {
        if self.handshakes < MAX_HANDSHAKES {
            self.open(i, now);
        } else if let Some(c) = self.conns.get_mut(i)
            && !c.queued
        {
            c.queued = true;
            self.waiting.push_back(i);
        }
    }

    /// Starts the waiting connections that still hold a permit, while slots are free.
    fn admit(&mut self, now: Instant) {
        while self.handshakes < MAX_HANDSHAKES
            && let Some(i) = self.waiting.pop_front()
        {
            let c = &mut self.conns[i];
            c.queued = false;
            if c.permit && c.link == Link::Idle {
                self.open(i, now);
            }
        }
    }

    /// Uses the connection's permit: opens the socket, unless a cut still holds it down.
    fn open(&mut self, i: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        c.permit = false;
        if let Some(until) = c.hold_until {
            if now < until {
                self.connect_failed(i, "network partitioned (fault injection)".to_owned());
                return;
            }
            c.hold_until = None;
        }
        let opened = connect_from(self.cfg.addr, source_for(self.cfg.addr, i)).and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, Token(i), Interest::READABLE | Interest::WRITABLE)
                .map(|()| s)
        });
        match opened {
            Ok(s) => {
                c.stream = Some(s);
                c.write_interest = true;
                c.link = Link::Connecting;
                c.since = now;
                self.handshakes += 1;
            }
            Err(e) => self.connect_failed(i, e.to_string()),
        }
    }

    fn connect_failed(&mut self, i: usize, error: String) {
        self.shared
            .inbox
            .counters()
            .connect_failures
            .fetch_add(1, Ordering::Relaxed);
        self.events
            .push(TransportEvent::ConnectFailed { conn: i, error });
    }

    /// The socket became writable (or failed) while connecting: on success, no-delay is set
    /// and the CONNECT queued.
    fn finish_connect(&mut self, i: usize, now: Instant) {
        let Some(stream) = self.conns.get(i).and_then(|c| c.stream.as_ref()) else {
            return;
        };
        let failure = match stream.take_error() {
            Ok(Some(e)) | Err(e) => Some(e.to_string()),
            Ok(None) => match stream.peer_addr() {
                Ok(_) => stream.set_nodelay(true).err().map(|e| e.to_string()),
                Err(e) if e.kind() == ErrorKind::NotConnected => return,
                Err(e) => Some(e.to_string()),
            },
        };
        if let Some(error) = failure {
            self.lost(i, Some(error), now);
            return;
        }
        let mut connect = Connect::new(self.cfg.client_ids[i].as_str());
        connect.keep_alive = u16::try_from(self.cfg.keep_alive.as_secs()).unwrap_or(u16::MAX);
        connect.clean_session = self.cfg.clean_session;
        connect.login = self
            .cfg
            .credentials
            .as_ref()
            .map(|(u, p)| Login::new(u.as_str(), p.as_str()));
        let c = &mut self.conns[i];
        c.link = Link::AwaitConnAck;
        if let Err(e) = Packet::Connect(connect).write(&mut c.out, self.cfg.max_packet) {
            self.lost(i, Some(format!("cannot encode CONNECT: {e}")), now);
            return;
        }
        self.mark(i);
    }

    /// Reads until the socket's receive queue is empty, decoding every whole packet.
    fn read(&mut self, i: usize, now: Instant) {
        loop {
            let Some(stream) = self.conns.get_mut(i).and_then(|c| c.stream.as_mut()) else {
                return;
            };
            let n = match stream.read(&mut self.scratch) {
                Ok(0) => {
                    self.lost(i, Some("connection closed by the broker".to_owned()), now);
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.lost(i, Some(e.to_string()), now);
                    return;
                }
            };
            let c = &mut self.conns[i];
            c.partial.extend_from_slice(&self.scratch[..n]);
            if !self.decode(i, now) {
                return;
            }
            // A short read emptied the socket's receive queue: data arriving later raises
            // a new edge, so the extra read that would only say "would block" is saved.
            if n < self.scratch.len() {
                return;
            }
        }
    }

    /// Decodes and handles the whole packets in the connection's read buffer; false when
    /// the link was closed on the way.
    fn decode(&mut self, i: usize, now: Instant) -> bool {
        loop {
            let c = &mut self.conns[i];
            let packet = match Packet::read(&mut c.partial, self.cfg.max_packet) {
                Ok(p) => p,
                Err(CodecError::InsufficientBytes(_)) => break,
                Err(e) => {
                    self.lost(i, Some(format!("MQTT decode error: {e:?}")), now);
                    return false;
                }
            };
            if !self.on_packet(i, packet, now) {
                return false;
            }
        }
        // Publishes handed on share the buffer's allocation: an empty buffer lets it go.
        let c = &mut self.conns[i];
        if c.partial.is_empty() {
            c.partial = BytesMut::new();
        }
        true
    }

    /// Handles one packet; false when the link was closed.
    fn on_packet(&mut self, i: usize, packet: Packet, now: Instant) -> bool {
        match self.conns[i].link {
            Link::AwaitConnAck => return self.on_connack(i, packet, now),
            Link::Up => {}
            Link::Idle | Link::Connecting => return true,
        }
        let c = &mut self.conns[i];
        let handled = c.session.on_packet(packet, &mut c.out);
        let wrote = !c.out.is_empty();
        match handled {
            Ok(Incoming::Nothing) => {}
            Ok(Incoming::Deliver(publish)) => {
                let counters = self.shared.inbox.counters();
                counters.received.fetch_add(1, Ordering::Relaxed);
                self.events
                    .push(TransportEvent::Publish { conn: i, publish });
            }
            Ok(Incoming::WindowOpened) => self.mark(i),
            Ok(Incoming::PingResp) => c.awaiting_pingresp = false,
            Ok(Incoming::Unexpected(what)) => {
                self.lost(i, Some(format!("the broker sent {what}")), now);
                return false;
            }
            Err(e) => {
                self.lost(i, Some(format!("MQTT encode error: {e:?}")), now);
                return false;
            }
        }
        if wrote {
            self.mark(i);
        }
        true
    }

    fn on_connack(&mut self, i: usize, packet: Packet, now: Instant) -> bool {
        let ack = match packet {
            Packet::ConnAck(ack) if ack.code == ConnectReturnCode::Success => ack,
            Packet::ConnAck(ack) => {
                self.lost(i, Some(format!("connection refused: {:?}", ack.code)), now);
                return false;
            }
            other => {
                let error = format!("expected CONNACK, got {other:?}");
                self.lost(i, Some(error), now);
                return false;
            }
        };
        self.handshakes = self.handshakes.saturating_sub(1);
        let c = &mut self.conns[i];
        c.link = Link::Up;
        c.since = now;
        c.awaiting_pingresp = false;
        let dropped = match c.session.connected(ack.session_present, &mut c.out) {
            Ok(n) => n,
            Err(e) => {
                self.lost(i, Some(format!("MQTT encode error: {e:?}")), now);
                return false;
            }
        };
        self.release(i, dropped);
        let counters = self.shared.inbox.counters();
        counters.connects.fetch_add(1, Ordering::Relaxed);
        self.events.push(TransportEvent::Connected {
            conn: i,
            session_present: ack.session_present,
        });
        self.mark(i);
        if std::mem::take(&mut self.conns[i].disconnect_pending) {
            self.disconnect(i);
            return false;
        }
        true
    }

    /// `n` requests of connection `i` left its queue (sent or dropped).
    fn release(&self, i: usize, n: usize) {
        if let Some(q) = self.shared.queued.get(i) {
            q.fetch_sub(u32::try_from(n).unwrap_or(u32::MAX), Ordering::AcqRel);
        }
    }

    /// A requested close: what is queued goes first (as far as the window allows), then a
    /// DISCONNECT, then the socket is closed. Before the link is up, the close waits for
    /// the next CONNACK (as rumqttc's queued request does).
    fn disconnect(&mut self, i: usize) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if c.link != Link::Up {
            c.disconnect_pending = true;
            return;
        }
        let (moved, _) = c
            .session
            .fill(&mut c.out, self.cfg.window, self.cfg.max_packet);
        let _ = Disconnect.write(&mut c.out);
        self.release(i, moved);
        self.write_out(i);
        if self.conns[i].link != Link::Up {
            // The write failed: the link is already reported lost.
            return;
        }
        let c = &mut self.conns[i];
        if let Some(mut s) = c.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        self.close_buffers(i);
        let c = &mut self.conns[i];
        c.link = Link::Idle;
        c.session.link_lost();
        let counters = self.shared.inbox.counters();
        counters.disconnects.fetch_add(1, Ordering::Relaxed);
        self.events.push(TransportEvent::Disconnected {
            conn: i,
            error: None,
        });
        if self.conns[i].permit {
            self.start_connect(i, wall_now());
        }
    }

    /// The link failed (or was cut): the socket is dropped without DISCONNECT. An up link
    /// reports `Disconnected`, an attempt `ConnectFailed`. A stored permit reconnects.
    fn lost(&mut self, i: usize, error: Option<String>, now: Instant) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if let Some(mut s) = c.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        let was = std::mem::replace(&mut c.link, Link::Idle);
        self.close_buffers(i);
        match was {
            Link::Idle => return,
            Link::Up => {
                self.conns[i].session.link_lost();
                let counters = self.shared.inbox.counters();
                counters.disconnects.fetch_add(1, Ordering::Relaxed);
                self.events
                    .push(TransportEvent::Disconnected { conn: i, error });
            }
            Link::Connecting | Link::AwaitConnAck => {
                self.handshakes = self.handshakes.saturating_sub(1);
                let error = error.unwrap_or_else(|| "connection failed".to_owned());
                self.connect_failed(i, error);
            }
        }
        if self.conns[i].permit {
            self.start_connect(i, now);
        }
    }

    fn close_buffers(&mut self, i: usize) {
        let c = &mut self.conns[i];
        c.out = BytesMut::new();
        c.partial = BytesMut::new();
        c.awaiting_pingresp = false;
    }

    /// Connect timeouts and keep-alive: a PINGREQ every keep-alive; a link whose previous
    /// PINGREQ is still unanswered by then is dead.
    fn tick(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            let c = &mut self.conns[i];
            let age = now.saturating_duration_since(c.since);
            match c.link {
                Link::Idle => {}
                Link::Connecting | Link::AwaitConnAck => {
                    if age >= self.cfg.connect_timeout {
                        self.lost(i, Some("connection timed out".to_owned()), now);
                    }
                }
                Link::Up if age >= self.cfg.keep_alive => {
                    if c.awaiting_pingresp {
                        let error = "no PINGRESP within the keep-alive (dead link)".to_owned();
                        self.lost(i, Some(error), now);
                    } else if Session::ping(&mut c.out).is_ok() {
                        c.awaiting_pingresp = true;
                        c.since = now;
                        self.mark(i);
                    }
                }
                Link::Up => {}
            }
        }
    }

    /// Moves queued requests of every dirty connection into its buffer and writes it.
    fn flush(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &i in &dirty {
            let c = &mut self.conns[i];
            c.dirty = false;
            if c.link == Link::Up {
                let (moved, failure) =
                    c.session
                        .fill(&mut c.out, self.cfg.window, self.cfg.max_packet);
                if let Some(e) = failure {
                    tracing::warn!("connection {i}: a request could not be encoded: {e:?}");
                }
                self.release(i, moved);
            }
            self.write_out(i);
        }
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
    }

    /// Writes the connection's buffer until done or the socket would block (then the
    /// socket is registered for writability, whose edge marks it dirty again).
    fn write_out(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if c.link == Link::Connecting {
            return;
        }
        let Some(stream) = c.stream.as_mut() else {
            return;
        };
        let mut blocked = false;
        while !c.out.is_empty() {
            match stream.write(&c.out) {
                Ok(0) => {
                    self.lost(i, Some("connection closed (write)".to_owned()), wall_now());
                    return;
                }
                Ok(n) => c.out.advance(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    blocked = true;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.lost(i, Some(e.to_string()), wall_now());
                    return;
                }
            }
        }
        if blocked != c.write_interest {
            let interest = if blocked {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if let Err(e) = self.poll.registry().reregister(stream, Token(i), interest) {
                self.lost(i, Some(format!("epoll: {e}")), wall_now());
                return;
            }
            c.write_interest = blocked;
        }
        if blocked {
            return;
        }
        if c.out.capacity() > KEEP_CAPACITY {
            c.out = BytesMut::new();
        } else {
            c.out.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_past_the_automatic_ones_bind_their_own_loopback_source() {
        let loopback: SocketAddr = "127.0.0.1:1883".parse().unwrap();
        assert_eq!(source_for(loopback, 0), None);
        assert_eq!(source_for(loopback, AUTO_SOURCE - 1), None);
        let first = source_for(loopback, AUTO_SOURCE).unwrap();
        assert_eq!(first, "127.0.0.2:0".parse().unwrap());
        assert_eq!(
            source_for(loopback, AUTO_SOURCE + PER_SOURCE - 1),
            Some(first)
        );
        assert_eq!(
            source_for(loopback, AUTO_SOURCE + PER_SOURCE),
            Some("127.0.0.3:0".parse().unwrap())
        );
        // 100,000 connections in one engine still stay inside 127/8.
        assert!(source_for(loopback, 100_000).unwrap().ip().is_loopback());
        // A remote or IPv6 broker is reached from the kernel's choice.
        assert_eq!(source_for("10.0.0.5:1883".parse().unwrap(), 20_000), None);
        assert_eq!(source_for("[::1]:1883".parse().unwrap(), 20_000), None);
    }

    #[test]
    fn a_bound_source_connects_to_a_loopback_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let source = source_for(addr, AUTO_SOURCE + 5 * PER_SOURCE);
        let stream = connect_from(addr, source).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), source.unwrap().ip());
        drop(stream);
    }
}
