//! Modbus TCP transport of the emulator: one task per connection, MBAP framing by
//! `proto::modbus::tcp`.

use super::{Reply, Shared, bump};
use proto::modbus::tcp;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Accept connections until `stop` turns true; connection tasks end with this one.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = super::stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    bump(&shared.stats.connections);
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(stream, Arc::clone(&shared)));
                }
                Err(error) => {
                    // Out of file descriptors and the like: keep serving the connections
                    // there are, and try again shortly.
                    tracing::warn!(%error, "modbus tcp accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serve one connection until the peer closes it or sends an invalid MBAP header.
async fn connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::with_capacity(2 * tcp::MAX_ADU_LEN);
    let mut chunk = [0u8; 512];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        loop {
            let (transaction_id, unit_id, reply, used) = match tcp::decode_stream(&buf) {
                Ok(None) => break,
                Ok(Some((frame, used))) => (
                    frame.transaction_id,
                    frame.unit_id,
                    shared.handle(frame.unit_id, frame.pdu, false),
                    used,
                ),
                Err(error) => {
                    bump(&shared.stats.bad_frames);
                    tracing::debug!(%error, "modbus tcp: closing a connection with a bad header");
                    return;
                }
            };
            buf.drain(..used);
            if let Some(reply) = reply
                && send(&mut stream, &shared, transaction_id, unit_id, reply)
                    .await
                    .is_err()
            {
                return;
            }
        }
    }
}

async fn send(
    stream: &mut TcpStream,
    shared: &Shared,
    transaction_id: u16,
    unit_id: u8,
    reply: Reply,
) -> std::io::Result<()> {
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut out = Vec::with_capacity(tcp::MAX_ADU_LEN);
    if tcp::encode_response(transaction_id, unit_id, &reply.response, &mut out).is_err() {
        // Responses built from the map always fit an ADU; drop one that does not.
        return Ok(());
    }
    stream.write_all(&out).await?;
    bump(&shared.stats.responses);
    Ok(())
}
