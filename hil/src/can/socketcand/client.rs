//! A socketcand client: chargestorm joins a remote socketcand server's bus in raw mode.

use proto::can::CanFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Duration, timeout};

use super::protocol::{Splitter, format_send, parse_frame};
use crate::can::{CanBus, CanError};

/// How long the handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to a socketcand server, in raw mode on one bus.
#[derive(Debug)]
pub struct SocketcandClient {
    what: String,
    wr: OwnedWriteHalf,
    out: String,
    rx: mpsc::Receiver<Result<CanFrame, CanError>>,
    reader: JoinHandle<()>,
}

impl Drop for SocketcandClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads the next `< … >` message into `split`.
async fn next_message(
    rd: &mut OwnedReadHalf,
    split: &mut Splitter,
    what: &str,
) -> Result<(), CanError> {
    let mut byte = [0u8; 1];
    loop {
        let n = rd.read(&mut byte).await.map_err(|source| CanError::Io {
            what: what.to_string(),
            source,
        })?;
        if n == 0 {
            return Err(CanError::Closed {
                what: what.to_string(),
            });
        }
        if split.push(byte[0]).map_err(|e| CanError::Protocol {
            expected: "a socketcand message",
            got: e.to_string(),
        })? {
            return Ok(());
        }
    }
}

async fn expect(
    rd: &mut OwnedReadHalf,
    split: &mut Splitter,
    what: &str,
    expected: &'static str,
) -> Result<(), CanError> {
    next_message(rd, split, what).await?;
    if split.message() == expected {
        Ok(())
    } else {
        Err(CanError::Protocol {
            expected,
            got: split.message().to_string(),
        })
    }
}

impl SocketcandClient {
    /// Connects to `addr` (`host:port`), opens `bus` and switches to raw mode.
    pub async fn connect(addr: &str, bus: &str) -> Result<SocketcandClient, CanError> {
        let what = format!("socketcand {bus}@{addr}");
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| CanError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let mut split = Splitter::default();
        let io = |source| CanError::Io {
            what: what.clone(),
            source,
        };
        let handshake = async {
            expect(&mut rd, &mut split, &what, "< hi >").await?;
            wr.write_all(format!("< open {bus} >").as_bytes())
                .await
                .map_err(io)?;
            next_message(&mut rd, &mut split, &what).await?;
            if split.message() != "< ok >" {
                return Err(CanError::UnknownBus {
                    name: bus.to_string(),
                    available: split.message().to_string(),
                });
            }
            wr.write_all(b"< rawmode >").await.map_err(io)?;
            expect(&mut rd, &mut split, &what, "< ok >").await
        };
        timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| CanError::Protocol {
                expected: "the socketcand handshake within 5 s",
                got: String::new(),
            })??;
        let (tx, rx) = mpsc::channel(1024);
        let reader_what = what.clone();
        let reader = tokio::spawn(async move {
            loop {
                match next_message(&mut rd, &mut split, &reader_what).await {
                    Ok(()) => {
                        let msg = split.message();
                        if msg.starts_with("< frame ")
                            && let Ok((frame, _)) = parse_frame(msg)
                            && tx.send(Ok(frame)).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        Ok(SocketcandClient {
            what,
            wr,
            out: String::with_capacity(64),
            rx,
            reader,
        })
    }
}

impl CanBus for SocketcandClient {
    async fn send(&mut self, frame: CanFrame) -> Result<(), CanError> {
        self.out.clear();
        format_send(&mut self.out, &frame);
        self.wr
            .write_all(self.out.as_bytes())
            .await
            .map_err(|source| CanError::Io {
                what: self.what.clone(),
                source,
            })
    }

    async fn recv(&mut self) -> Result<CanFrame, CanError> {
        match self.rx.recv().await {
            Some(r) => r,
            None => Err(CanError::Closed {
                what: self.what.clone(),
            }),
        }
    }
}
