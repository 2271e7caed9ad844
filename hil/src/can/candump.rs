//! candump logs: record virtual segments to one, replay one as a peer.

use proto::can::CanFrame;
use proto::gbt27930::candump::{parse_log, write_line};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

use super::{CanBus, CanError, VirtualCan};

/// Writes every frame of some segments to a candump log (`(sec.usec) can0 ID#DATA`), with
/// the segment name as the interface. Stops and flushes with [`finish`](CandumpRecorder::finish).
#[derive(Debug)]
pub struct CandumpRecorder {
    stop: tokio::sync::watch::Sender<bool>,
    taps: Vec<JoinHandle<()>>,
    writer: JoinHandle<Result<u64, CanError>>,
}

impl CandumpRecorder {
    /// Starts recording `buses` to the file at `path` (created or truncated).
    pub async fn start(
        buses: &[VirtualCan],
        path: &std::path::Path,
    ) -> Result<CandumpRecorder, CanError> {
        let io = |source| CanError::Io {
            what: format!("candump log {}", path.display()),
            source,
        };
        let file = tokio::fs::File::create(path).await.map_err(io)?;
        let (tx, mut rx) = mpsc::channel::<(usize, u64, CanFrame)>(4096);
        let names: Vec<String> = buses.iter().map(|b| b.name().to_string()).collect();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut taps = Vec::new();
        for (i, bus) in buses.iter().enumerate() {
            let mut tap = bus.tap();
            let tx = tx.clone();
            let mut stopped = stopped.clone();
            taps.push(tokio::spawn(async move {
                loop {
                    let w = tokio::select! {
                        w = tap.recv() => w,
                        _ = stopped.changed() => {
                            // Write what is already on the segment, then end.
                            while let Ok(w) = tap.try_recv() {
                                let _ = tx.send((i, w.timestamp_us, w.frame)).await;
                            }
                            return;
                        }
                    };
                    match w {
                        Ok(w) => {
                            if tx.send((i, w.timestamp_us, w.frame)).await.is_err() {
                                return;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    }
                }
            }));
        }
        drop(tx);
        let what = format!("candump log {}", path.display());
        let writer = tokio::spawn(async move {
            let mut out = tokio::io::BufWriter::new(file);
            let mut line = String::with_capacity(64);
            let mut n = 0u64;
            let io = |source| CanError::Io {
                what: what.clone(),
                source,
            };
            while let Some((i, ts, frame)) = rx.recv().await {
                line.clear();
                let name = names.get(i).map_or("can", String::as_str);
                if write_line(&mut line, ts, name, &frame).is_ok() {
                    out.write_all(line.as_bytes()).await.map_err(io)?;
                    n += 1;
                }
            }
            out.flush().await.map_err(io)?;
            Ok(n)
        });
        Ok(CandumpRecorder { stop, taps, writer })
    }

    /// Stops recording (after writing every frame already on the segments), flushes the
    /// file and returns the number of frames written.
    pub async fn finish(self) -> Result<u64, CanError> {
        let _ = self.stop.send(true);
        for t in self.taps {
            let _ = t.await;
        }
        self.writer.await.map_err(|e| CanError::Io {
            what: "candump writer".into(),
            source: std::io::Error::other(e.to_string()),
        })?
    }
}

/// A candump log played back as a peer: its frames go out with their original spacing.
#[derive(Debug, Clone)]
pub struct CandumpReplayer {
    frames: Vec<(u64, CanFrame)>,
    skipped: Vec<(usize, String)>,
}

impl CandumpReplayer {
    /// Reads a log. `interface` keeps only lines of that interface; `source_address`
    /// keeps only extended frames from that J1939 source address (e.g. 0xF4 to replay
    /// the BMS side of a capture against a live charger). Lines that do not parse are
    /// listed in [`skipped`](CandumpReplayer::skipped), not fatal.
    pub fn from_log(text: &str, interface: Option<&str>, source_address: Option<u8>) -> Self {
        let mut frames = Vec::new();
        let mut skipped = Vec::new();
        let mut last = 0u64;
        for (line, rec) in parse_log(text) {
            match rec {
                Ok(r) => {
                    if interface.is_some_and(|i| r.interface.is_some_and(|n| n != i)) {
                        continue;
                    }
                    if let Some(sa) = source_address
                        && !(r.frame.is_extended() && r.frame.id() as u8 == sa)
                    {
                        continue;
                    }
                    // Lines without a timestamp go out right after the previous one.
                    let ts = r.timestamp_us.unwrap_or(last);
                    last = ts;
                    frames.push((ts, r.frame));
                }
                Err(e) => skipped.push((line, e.to_string())),
            }
        }
        CandumpReplayer { frames, skipped }
    }

    /// The frames to play, with their timestamps (µs).
    pub fn frames(&self) -> &[(u64, CanFrame)] {
        &self.frames
    }

    /// Lines that could not be read: (line number, why).
    pub fn skipped(&self) -> &[(usize, String)] {
        &self.skipped
    }

    /// Sends every frame on `bus`, keeping the log's spacing (scaled by `1 / speed`).
    /// Returns the number of frames sent.
    pub async fn play<B: CanBus>(&self, bus: &mut B, speed: f64) -> Result<usize, CanError> {
        let Some(&(t0, _)) = self.frames.first() else {
            return Ok(0);
        };
        let start = Instant::now();
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        for (ts, frame) in &self.frames {
            let offset = Duration::from_micros(ts.saturating_sub(t0)).div_f64(speed);
            tokio::time::sleep_until(start + offset).await;
            bus.send(*frame).await?;
        }
        Ok(self.frames.len())
    }
}
