//! A socketcand server for virtual segments.
//!
//! Each TCP client walks socketcand's states: NO_BUS (`< hi >`, `< open NAME >`), then BCM
//! (the default: `send`, `add`/`update`/`delete`, `subscribe`/`unsubscribe`/`filter`,
//! `echo`), RAW after `< rawmode >` (every frame on the bus as `< frame … >`, `send`,
//! `echo`, `< bcmmode >` back). A client never receives its own frames; every other node
//! on the segment does, in-process ports included, which models the bus.
//!
//! One deviation for robustness: frames start flowing 50 ms after the `< ok >` of
//! `< rawmode >`, so that a client reading the `< ok >` with one `recv` (python-can) does
//! not get a frame glued to it. Frames of that window are queued, not lost.

use std::net::SocketAddr;
use std::sync::Arc;

use proto::can::CanFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

use super::bcm::{Bcm, BcmOutcome};
use super::protocol::{Splitter, format_frame, words};
use crate::can::{CanError, VirtualCan, WireFrame};

/// How long frames are held back after `< rawmode >` is acknowledged.
const RAW_HOLD: Duration = Duration::from_millis(50);

/// A socketcand server serving named [`VirtualCan`] segments; stops when dropped.
#[derive(Debug)]
pub struct SocketcandServer {
    addr: SocketAddr,
    buses: Arc<Vec<VirtualCan>>,
    task: JoinHandle<()>,
}

impl SocketcandServer {
    /// Listens on `addr` (e.g. `127.0.0.1:0`) and serves `buses`. Needs a tokio runtime.
    pub async fn bind(
        addr: impl ToSocketAddrs,
        buses: Vec<VirtualCan>,
    ) -> Result<SocketcandServer, CanError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| CanError::Io {
                what: "socketcand listener".into(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| CanError::Io {
            what: "socketcand listener".into(),
            source,
        })?;
        let buses = Arc::new(buses);
        let shared = Arc::clone(&buses);
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let buses = Arc::clone(&shared);
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, &buses).await {
                        tracing::debug!(%peer, error = %e, "socketcand client ended");
                    }
                });
            }
        });
        Ok(SocketcandServer {
            addr: local,
            buses,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The segment called `name`.
    pub fn bus(&self, name: &str) -> Option<&VirtualCan> {
        self.buses.iter().find(|b| b.name() == name)
    }

    /// Every segment served.
    pub fn buses(&self) -> &[VirtualCan] {
        &self.buses
    }
}

impl Drop for SocketcandServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The state of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    NoBus,
    Bcm,
    Raw,
}

/// One client's session.
struct Conn {
    wr: OwnedWriteHalf,
    out: String,
    mode: Mode,
    bus: Option<(VirtualCan, u64)>,
    rx: Option<broadcast::Receiver<WireFrame>>,
    hold_until: Option<Instant>,
    bcm: Bcm,
}

async fn serve(stream: TcpStream, buses: &[VirtualCan]) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (mut rd, wr) = stream.into_split();
    let mut c = Conn {
        wr,
        out: String::with_capacity(128),
        mode: Mode::NoBus,
        bus: None,
        rx: None,
        hold_until: None,
        bcm: Bcm::default(),
    };
    c.wr.write_all(b"< hi >").await?;
    let mut split = Splitter::default();
    let mut buf = [0u8; 1024];
    loop {
        let hold = c.hold_until.filter(|t| *t > Instant::now());
        let due = c.bcm.next_due();
        let wake = match (hold, due) {
            (Some(h), Some(d)) => Some(h.min(d)),
            (h, d) => h.or(d),
        };
        let listening = c.rx.is_some() && hold.is_none();
        tokio::select! {
            n = rd.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Ok(());
                }
                for &b in buf.get(..n).unwrap_or(&[]) {
                    match split.push(b) {
                        Ok(true) => {
                            if !c.command(split.message(), buses).await? {
                                return Ok(());
                            }
                        }
                        Ok(false) => {}
                        Err(_) => c.reply("< error command too long >").await?,
                    }
                }
            }
            w = recv(c.rx.as_mut()), if listening => match w {
                Ok(w) => c.deliver(&w).await?,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(lost = n, "socketcand client too slow, frames lost");
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = sleep_until(wake), if wake.is_some() => {
                c.hold_until = c.hold_until.filter(|t| *t > Instant::now());
                while let Some(frame) = c.bcm.take_due(Instant::now()) {
                    c.publish(frame);
                }
            }
        }
    }
}

async fn recv(
    rx: Option<&mut broadcast::Receiver<WireFrame>>,
) -> Result<WireFrame, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        self.wr.write_all(text.as_bytes()).await
    }

    fn publish(&self, frame: CanFrame) {
        if let Some((bus, id)) = &self.bus {
            bus.publish(*id, frame);
        }
    }

    /// Writes a frame from the bus to the client if its mode wants it.
    async fn deliver(&mut self, w: &WireFrame) -> std::io::Result<()> {
        let own = self.bus.as_ref().is_some_and(|(_, id)| *id == w.origin);
        let wanted = match self.mode {
            Mode::Raw => true,
            Mode::Bcm => self.bcm.wants(Instant::now(), &w.frame),
            Mode::NoBus => false,
        };
        if own || !wanted {
            return Ok(());
        }
        self.out.clear();
        format_frame(&mut self.out, &w.frame, w.timestamp_us);
        if self.mode == Mode::Bcm {
            // BCM mode writes each byte as "%02X " (state_bcm.c).
            bcm_spacing(&mut self.out);
        }
        self.wr.write_all(self.out.as_bytes()).await
    }

    /// Handles one message; false to close the connection.
    async fn command(&mut self, msg: &str, buses: &[VirtualCan]) -> std::io::Result<bool> {
        let Ok(mut w) = words(msg) else {
            self.reply("< error unknown command >").await?;
            return Ok(true);
        };
        let verb = w.next().unwrap_or("");
        match (self.mode, verb) {
            (Mode::NoBus, "open") => {
                let name = w.next().unwrap_or("");
                match buses.iter().find(|b| b.name() == name) {
                    Some(bus) => {
                        self.rx = Some(bus.tap());
                        self.bus = Some((bus.clone(), bus.allocate_id()));
                        self.mode = Mode::Bcm;
                        self.reply("< ok >").await?;
                    }
                    None => {
                        self.reply("< error could not open bus >").await?;
                        return Ok(false);
                    }
                }
            }
            // Bit timing and control modes of a bus (`< can0 B … >`, `< can0 C … >`)
            // mean nothing on a virtual segment: accepted.
            (Mode::NoBus, name) if buses.iter().any(|b| b.name() == name) => {
                self.reply("< ok >").await?;
            }
            (Mode::Bcm | Mode::Raw, "echo") => self.reply("< echo >").await?,
            (Mode::Bcm, "rawmode") => {
                self.mode = Mode::Raw;
                self.reply("< ok >").await?;
                self.hold_until = Some(Instant::now() + RAW_HOLD);
            }
            (Mode::Raw, "bcmmode") => {
                self.mode = Mode::Bcm;
                self.reply("< ok >").await?;
            }
            (Mode::Raw, "send") => match super::protocol::parse_send(msg, w) {
                Ok(frame) => self.publish(frame),
                Err(e) => tracing::debug!(error = %e, "socketcand: syntax error in send"),
            },
            (Mode::Bcm, verb) => match self.bcm.command(Instant::now(), verb, msg, w) {
                Ok(Some(BcmOutcome::Send(frame))) => self.publish(frame),
                Ok(Some(BcmOutcome::Done)) => {}
                Ok(None) => self.reply("< error unknown command >").await?,
                Err(e) => tracing::debug!(error = %e, "socketcand: syntax error"),
            },
            _ => self.reply("< error unknown command >").await?,
        }
        Ok(true)
    }
}

/// Rewrites `< frame ID TS DATA >` into BCM's `< frame ID TS B0 B1 … >` in place.
fn bcm_spacing(out: &mut String) {
    let Some(data_at) = out.rfind(' ').and_then(|end| out.get(..end)?.rfind(' ')) else {
        return;
    };
    let tail_len = out.len() - data_at - 1 - 2;
    let mut spaced = [0u8; 24];
    let mut n = 0;
    for (i, b) in out.bytes().skip(data_at + 1).take(tail_len).enumerate() {
        if let Some(slot) = spaced.get_mut(n) {
            *slot = b;
            n += 1;
        }
        if i % 2 == 1
            && let Some(slot) = spaced.get_mut(n)
        {
            *slot = b' ';
            n += 1;
        }
    }
    out.truncate(data_at + 1);
    out.push_str(std::str::from_utf8(spaced.get(..n).unwrap_or(&[])).unwrap_or(""));
    out.push_str(" >");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcm_frames_space_their_bytes() {
        let mut s = String::from("< frame 123 1.000000 0102 >");
        bcm_spacing(&mut s);
        assert_eq!(s, "< frame 123 1.000000 01 02  >");
        let mut e = String::from("< frame 123 1.000000  >");
        bcm_spacing(&mut e);
        assert_eq!(e, "< frame 123 1.000000  >");
    }
}
