//! One request, one reply: the client's TCP and RTU transports on `proto::modbus`'s codecs.

use super::{ByteStream, ClientError};
use proto::modbus::{Request, Response, rtu, tcp};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

/// The connection to the meter.
pub(super) enum Link {
    /// Modbus TCP; connected lazily, dropped after a stream error.
    Tcp {
        addr: SocketAddr,
        stream: Option<TcpStream>,
        /// Bytes received but not yet used (a late reply to an earlier attempt).
        buf: Vec<u8>,
        next_transaction: u16,
    },
    /// Modbus RTU over a byte stream.
    Rtu {
        io: Box<dyn ByteStream>,
        /// The silence that ends a frame.
        gap: Duration,
    },
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp { addr, stream, .. } => f
                .debug_struct("Tcp")
                .field("addr", addr)
                .field("connected", &stream.is_some())
                .finish(),
            Self::Rtu { gap, .. } => f.debug_struct("Rtu").field("gap", gap).finish(),
        }
    }
}

fn timed_out(unit_id: u8, request: &Request, limit: Duration) -> ClientError {
    ClientError::Timeout {
        unit_id,
        function: request.function(),
        timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
    }
}

impl Link {
    pub(super) fn tcp(addr: SocketAddr) -> Self {
        Self::Tcp {
            addr,
            stream: None,
            buf: Vec::new(),
            next_transaction: 1,
        }
    }

    pub(super) fn rtu(io: Box<dyn ByteStream>, gap: Duration) -> Self {
        Self::Rtu { io, gap }
    }

    /// Send `request` to `unit_id` and wait at most `limit` for its reply.
    pub(super) async fn transaction(
        &mut self,
        unit_id: u8,
        request: &Request,
        limit: Duration,
        request_gap: Duration,
    ) -> Result<Response, ClientError> {
        if !request_gap.is_zero() {
            tokio::time::sleep(request_gap).await;
        }
        match self {
            Self::Tcp {
                addr,
                stream,
                buf,
                next_transaction,
            } => {
                let transaction_id = *next_transaction;
                *next_transaction = next_transaction.wrapping_add(1);
                let result =
                    tcp_transaction(*addr, stream, buf, transaction_id, unit_id, request, limit)
                        .await;
                if matches!(result, Err(ClientError::Io(_) | ClientError::Tcp(_))) {
                    // The stream cannot be trusted any more; reconnect next time.
                    *stream = None;
                    buf.clear();
                }
                result
            }
            Self::Rtu { io, gap } => rtu_transaction(io, *gap, unit_id, request, limit).await,
        }
    }
}

async fn tcp_transaction(
    addr: SocketAddr,
    stream: &mut Option<TcpStream>,
    buf: &mut Vec<u8>,
    transaction_id: u16,
    unit_id: u8,
    request: &Request,
    limit: Duration,
) -> Result<Response, ClientError> {
    let deadline = Instant::now() + limit;
    if stream.is_none() {
        let connected = timeout_at(deadline, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out(unit_id, request, limit))??;
        let _ = connected.set_nodelay(true);
        *stream = Some(connected);
        buf.clear();
    }
    let Some(io) = stream.as_mut() else {
        return Err(timed_out(unit_id, request, limit));
    };
    let mut out = Vec::with_capacity(tcp::MAX_ADU_LEN);
    tcp::encode_request(transaction_id, unit_id, request, &mut out)?;
    io.write_all(&out).await?;
    let mut chunk = [0u8; 512];
    loop {
        while let Some((frame, response, used)) = tcp::decode_response(buf)? {
            let (received_id, received_unit) = (frame.transaction_id, frame.unit_id);
            buf.drain(..used);
            // A late reply to an earlier, timed-out attempt: skip it.
            if received_id != transaction_id {
                continue;
            }
            if received_unit != unit_id {
                return Err(ClientError::UnexpectedUnit {
                    expected: unit_id,
                    received: received_unit,
                });
            }
            return Ok(response);
        }
        let n = timeout_at(deadline, io.read(&mut chunk))
            .await
            .map_err(|_| timed_out(unit_id, request, limit))??;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// Read and drop whatever arrives until the line has been quiet for `gap` (at most one
/// frame's worth of waiting past the first quiet moment).
async fn drain(io: &mut Box<dyn ByteStream>, gap: Duration) {
    let mut chunk = [0u8; 256];
    let give_up = Instant::now() + gap * 20;
    while Instant::now() < give_up {
        match timeout(gap, io.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => continue,
            _ => return,
        }
    }
}

/// Drop bytes already waiting (a late reply to an earlier attempt) without waiting.
async fn discard_pending(io: &mut Box<dyn ByteStream>) {
    let mut chunk = [0u8; 256];
    // `timeout` polls the read once before looking at the (already expired) deadline.
    while let Ok(Ok(n)) = timeout(Duration::ZERO, io.read(&mut chunk)).await {
        if n == 0 {
            return;
        }
    }
}

async fn rtu_transaction(
    io: &mut Box<dyn ByteStream>,
    gap: Duration,
    unit_id: u8,
    request: &Request,
    limit: Duration,
) -> Result<Response, ClientError> {
    discard_pending(io).await;
    let mut out = Vec::with_capacity(rtu::MAX_ADU_LEN);
    rtu::encode_request(unit_id, request, &mut out)?;
    io.write_all(&out).await?;
    io.flush().await?;
    let deadline = Instant::now() + limit;
    let mut buf = Vec::with_capacity(rtu::MAX_ADU_LEN);
    let mut chunk = [0u8; 256];
    loop {
        match rtu::decode_response(&buf) {
            Ok(Some((received, response, _))) if received == unit_id => return Ok(response),
            Ok(Some((received, _, _))) => {
                return Err(ClientError::UnexpectedUnit {
                    expected: unit_id,
                    received,
                });
            }
            Ok(None) => {}
            Err(error) => {
                drain(io, gap).await;
                return Err(error.into());
            }
        }
        let n = timeout_at(deadline, io.read(&mut chunk))
            .await
            .map_err(|_| timed_out(unit_id, request, limit))??;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}
