//! Modbus RTU transport of the emulator over a serial line (or any byte stream).
//!
//! Complete frames are cut by length as soon as their bytes are in (`rtu::decode_stream`).
//! Anything that cannot be cut that way — a bad CRC, an unknown function code, a truncated or
//! oversized frame — is collected until the line has been silent for one frame gap and then
//! judged as one frame, as a meter's UART would: a frame with a good CRC gets an exception
//! (its unit id permitting), anything else is dropped and counted.

use super::{Reply, Shared, bump};
use proto::modbus::crc::crc16;
use proto::modbus::rtu::{self, Direction, RtuFrame};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// Bytes kept while waiting for a gap; a line that never goes quiet is reset past this.
const MAX_BUFFER: usize = 4 * rtu::MAX_ADU_LEN;

/// What the receive buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Nothing, or the start of a frame that may still complete.
    Frames,
    /// Bytes that cannot be cut by length; judged whole at the next gap.
    Unframed,
}

/// Serve frames from `io` until `stop` turns true or the stream ends.
pub(super) async fn serve<S>(
    mut io: S,
    gap: Duration,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut buf = Vec::with_capacity(MAX_BUFFER);
    let mut chunk = [0u8; 256];
    let mut pending = Pending::Frames;
    loop {
        let idle = async {
            if buf.is_empty() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(gap).await;
        };
        tokio::select! {
            () = super::stopped(&mut stop) => return,
            () = idle => {
                // The line went quiet with bytes that never made a frame.
                if let Some(reply) = judge_unframed(&buf, &shared)
                    && send(&mut io, &shared, reply).await.is_err()
                {
                    return;
                }
                buf.clear();
                pending = Pending::Frames;
            }
            read = io.read(&mut chunk) => {
                let n = match read {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(error) => {
                        *super::lock(&shared.transport_error) = Some(error.to_string());
                        return;
                    }
                };
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                if buf.len() > MAX_BUFFER {
                    bump(&shared.stats.bad_frames);
                    buf.clear();
                    pending = Pending::Unframed;
                    continue;
                }
                if pending == Pending::Frames {
                    match serve_buffered(&mut io, &mut buf, &shared).await {
                        Ok(next) => pending = next,
                        Err(_) => return,
                    }
                }
            }
        }
    }
}

/// Answer every complete frame at the start of `buf`; report whether what is left can still
/// become a frame.
async fn serve_buffered<S>(
    io: &mut S,
    buf: &mut Vec<u8>,
    shared: &Shared,
) -> std::io::Result<Pending>
where
    S: AsyncWrite + Unpin,
{
    loop {
        let (reply, used) = match rtu::decode_stream(buf, Direction::Request) {
            Ok(None) => return Ok(Pending::Frames),
            Ok(Some((frame, used))) => (shared.handle(frame.unit_id, frame.pdu, true), used),
            Err(_) => return Ok(Pending::Unframed),
        };
        buf.drain(..used);
        if let Some(reply) = reply {
            send(io, shared, reply).await?;
        }
    }
}

/// The reply to bytes delimited by silence: an exception for a frame with a good CRC whose
/// PDU does not parse, nothing for anything else.
fn judge_unframed(buf: &[u8], shared: &Shared) -> Option<Reply> {
    match RtuFrame::decode(buf) {
        Ok(frame) => shared.handle(frame.unit_id, frame.pdu, true),
        Err(_) => {
            bump(&shared.stats.bad_frames);
            None
        }
    }
}

async fn send<S>(io: &mut S, shared: &Shared, reply: Reply) -> std::io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut pdu = Vec::with_capacity(reply.response.encoded_len());
    if reply.response.encode(&mut pdu).is_err() {
        return Ok(());
    }
    let frame = RtuFrame {
        unit_id: reply.unit_id,
        pdu: &pdu,
    };
    let mut out = Vec::with_capacity(rtu::MAX_ADU_LEN);
    let encoded = if reply.corrupt_crc {
        let mut covered = Vec::with_capacity(pdu.len() + 1);
        covered.push(reply.unit_id);
        covered.extend_from_slice(&pdu);
        // Flipping every bit guarantees the CRC is wrong.
        frame.encode_with_crc(!crc16(&covered), &mut out)
    } else {
        frame.encode(&mut out)
    };
    if encoded.is_err() {
        return Ok(());
    }
    io.write_all(&out).await?;
    io.flush().await?;
    bump(&shared.stats.responses);
    if reply.corrupt_crc {
        bump(&shared.stats.corrupted_crc);
    }
    Ok(())
}
