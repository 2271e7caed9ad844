//! The emulated meter: a Modbus server over TCP or RTU that renders one meter model's
//! registers from a [`LiveReading`] at the moment each request arrives.
//!
//! Request handling, in order (the transports only frame bytes):
//! 1. unit id 0 (broadcast): writes are applied, nothing is ever answered (Serial Line §2.1);
//! 2. another unit id: silence, as on a shared RS-485 line; TCP follows the same rule, so a
//!    client addressing the wrong unit times out (tokio-modbus leaves this filter to the
//!    application, reference §2.1);
//! 3. fault "no response": silence;
//! 4. a PDU that does not parse: exception 01 for an unknown function, 03 for a bad length
//!    or quantity (MB AP §7);
//! 5. a range fault that the read touches: its exception, silence, or stale words;
//! 6. otherwise `proto::modbus::respond` on the faulted reading: registers, or the
//!    exception the meter's map gives (01, 02, 03).
//!
//! RTU frames with a bad CRC, truncated or oversized frames are dropped without a reply and
//! counted; a TCP stream whose MBAP header is invalid is closed, as it cannot be resynchronised.

mod rtu;
mod tcp;

use super::faults::{FaultState, MeterFaults, RangeFaultKind};
use super::live::LiveReading;
use super::serial::{SerialSettings, frame_gap};
use proto::modbus::config::ConfigError;
use proto::modbus::{
    FunctionCode, MeterConfig, MeterModel, Request, Response, WordOrder, read_registers, respond,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where the emulated meter listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTransport {
    /// Modbus TCP on this address (port 0 picks a free port; see
    /// [`MeterServerHandle::local_addr`]).
    Tcp(SocketAddr),
    /// Modbus RTU on a serial port.
    Rtu(SerialSettings),
}

/// An emulated meter.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterServerConfig {
    /// Model, unit id, word order and device settings. For RTU, [`MeterServerConfig::new`]
    /// copies the line's baud rate and framing here so the meter's registers show them.
    pub meter: MeterConfig,
    /// Where to listen.
    pub transport: ServerTransport,
    /// Faults in force from the start; change them with [`MeterServerHandle::set_faults`].
    pub faults: MeterFaults,
    /// Seed of the fault decisions that need randomness (wrong-CRC replies).
    pub seed: u64,
}

impl MeterServerConfig {
    /// `model` with its factory settings at unit id 1, healthy, on `transport`.
    pub fn new(model: MeterModel, transport: ServerTransport) -> Self {
        let mut meter = MeterConfig::new(model);
        if let ServerTransport::Rtu(serial) = &transport {
            meter.baud_rate = serial.baud_rate;
            meter.framing = serial.framing;
        }
        Self {
            meter,
            transport,
            faults: MeterFaults::default(),
            seed: 0,
        }
    }

    /// The same configuration answering at `unit_id`.
    pub fn with_unit_id(mut self, unit_id: u8) -> Self {
        self.meter.unit_id = unit_id;
        self
    }

    /// The same configuration with 32-bit values in `word_order`.
    pub fn with_word_order(mut self, word_order: WordOrder) -> Self {
        self.meter.word_order = word_order;
        self
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The meter settings are invalid for the model (unit id, baud rate).
    #[error("meter settings: {0}")]
    Config(#[from] ConfigError),
    /// The TCP address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The serial port could not be opened.
    #[error("cannot open serial port {path}: {source}")]
    Serial {
        /// The port's path.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Counters of an emulator since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ServerStats {
    /// Complete frames received (any unit id).
    pub requests: u64,
    /// Replies sent, exceptions included.
    pub responses: u64,
    /// Exception replies among them.
    pub exceptions: u64,
    /// Requests for another unit id, left unanswered.
    pub other_unit: u64,
    /// Broadcast requests (unit id 0).
    pub broadcasts: u64,
    /// Requests left unanswered by a fault (no response, silent range).
    pub dropped_by_fault: u64,
    /// Replies sent with a corrupted CRC.
    pub corrupted_crc: u64,
    /// Frames dropped as malformed: bad CRC, truncated, oversized, bad MBAP header.
    pub bad_frames: u64,
    /// TCP connections accepted.
    pub connections: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    responses: AtomicU64,
    exceptions: AtomicU64,
    other_unit: AtomicU64,
    broadcasts: AtomicU64,
    dropped_by_fault: AtomicU64,
    corrupted_crc: AtomicU64,
    bad_frames: AtomicU64,
    connections: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> ServerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ServerStats {
            requests: get(&self.requests),
            responses: get(&self.responses),
            exceptions: get(&self.exceptions),
            other_unit: get(&self.other_unit),
            broadcasts: get(&self.broadcasts),
            dropped_by_fault: get(&self.dropped_by_fault),
            corrupted_crc: get(&self.corrupted_crc),
            bad_frames: get(&self.bad_frames),
            connections: get(&self.connections),
        }
    }
}

/// A reply the transport sends after `delay`.
#[derive(Debug, Clone, PartialEq)]
struct Reply {
    unit_id: u8,
    response: Response,
    delay: Duration,
    corrupt_crc: bool,
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it before returning.
    let _ = stop.wait_for(|&stopped| stopped).await.is_ok();
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these plain values half-updated.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the transport tasks of one emulator.
#[derive(Debug)]
struct Shared {
    config: Mutex<MeterConfig>,
    source: LiveReading,
    faults: Mutex<FaultState>,
    stats: Counters,
    transport_error: Mutex<Option<String>>,
}

fn read_range(request: &Request) -> Option<(FunctionCode, u16, u16)> {
    match *request {
        Request::ReadHoldingRegisters { address, quantity }
        | Request::ReadInputRegisters { address, quantity } => {
            Some((request.function(), address, quantity))
        }
        _ => None,
    }
}

impl Shared {
    fn new(config: &MeterServerConfig, source: LiveReading) -> Self {
        let faults = FaultState::new(
            config.faults.clone(),
            config.seed,
            &source.latest(),
            Instant::now(),
        );
        Self {
            config: Mutex::new(config.meter),
            source,
            faults: Mutex::new(faults),
            stats: Counters::default(),
            transport_error: Mutex::new(None),
        }
    }

    /// Decide what to answer to `pdu` sent to `unit_id`; `None` is silence.
    fn handle(&self, unit_id: u8, pdu: &[u8], rtu: bool) -> Option<Reply> {
        bump(&self.stats.requests);
        let mut config = lock(&self.config);
        if unit_id == 0 {
            bump(&self.stats.broadcasts);
            if let Ok(request) = Request::decode(pdu)
                && read_range(&request).is_none()
            {
                respond(&mut config, &self.source.latest(), &request);
            }
            return None;
        }
        if unit_id != config.unit_id {
            bump(&self.stats.other_unit);
            return None;
        }
        let mut faults = lock(&self.faults);
        if faults.faults().no_response {
            bump(&self.stats.dropped_by_fault);
            return None;
        }
        let response = match Request::decode(pdu) {
            Err(error) => {
                let function = FunctionCode::new(pdu.first().copied().unwrap_or_default());
                Response::exception(function, error.exception_code())
            }
            Ok(request) => self.serve(&mut config, &faults, &request)?,
        };
        if matches!(response, Response::Exception { .. }) {
            bump(&self.stats.exceptions);
        }
        let corrupt_crc = rtu && faults.corrupt_next_crc();
        Some(Reply {
            unit_id,
            response,
            delay: Duration::from_millis(faults.faults().response_delay_ms),
            corrupt_crc,
        })
    }

    /// The response to a parsed request under the faults in force; `None` is silence.
    fn serve(
        &self,
        config: &mut MeterConfig,
        faults: &FaultState,
        request: &Request,
    ) -> Option<Response> {
        let range = read_range(request);
        let hit = range.and_then(|(_, address, count)| {
            faults
                .faults()
                .ranges
                .iter()
                .find(|fault| fault.overlaps(address, count))
        });
        match hit.map(|fault| fault.kind) {
            Some(RangeFaultKind::Silence) => {
                bump(&self.stats.dropped_by_fault);
                return None;
            }
            Some(RangeFaultKind::Exception(code)) => {
                return Some(Response::exception(request.function(), code));
            }
            Some(RangeFaultKind::Stale) | None => {}
        }
        let shown = faults.shown(&self.source.latest(), Instant::now());
        let mut response = respond(config, &shown, request);
        if let (Some(stale), Some((function, address, count))) = (faults.stale(), range)
            && let (
                Response::ReadHoldingRegisters(words) | Response::ReadInputRegisters(words),
                Ok(old),
            ) = (
                &mut response,
                read_registers(config, stale, function, address, count),
            )
        {
            overlay_stale(faults.faults(), address, words, &old);
        }
        Some(response)
    }
}

/// Replace the words of `words` (read from `address`) that lie in a stale range with `old`.
fn overlay_stale(faults: &MeterFaults, address: u16, words: &mut [u16], old: &[u16]) {
    let stale_ranges = faults
        .ranges
        .iter()
        .filter(|fault| fault.kind == RangeFaultKind::Stale);
    for fault in stale_ranges {
        for (offset, (word, &old_word)) in words.iter_mut().zip(old).enumerate() {
            if fault.contains(u32::from(address) + offset as u32) {
                *word = old_word;
            }
        }
    }
}

/// Starts emulated meters.
#[derive(Debug)]
pub struct MeterServer;

impl MeterServer {
    /// Validate `config`, open its transport and serve `source` until the handle is shut
    /// down or dropped. Must be called inside a tokio runtime.
    pub async fn start(
        config: MeterServerConfig,
        source: LiveReading,
    ) -> Result<MeterServerHandle, ServerError> {
        config.meter.validate()?;
        let shared = Arc::new(Shared::new(&config, source));
        let (shutdown, stop) = watch::channel(false);
        match &config.transport {
            ServerTransport::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind {
                        addr: *addr,
                        source,
                    })?;
                let local_addr = listener.local_addr().ok();
                let task = tokio::spawn(tcp::serve(listener, Arc::clone(&shared), stop));
                Ok(MeterServerHandle::new(shared, local_addr, shutdown, task))
            }
            ServerTransport::Rtu(serial) => {
                let port = serial.open().map_err(|source| ServerError::Serial {
                    path: serial.path.display().to_string(),
                    source,
                })?;
                let gap = serial.frame_gap();
                let task = tokio::spawn(rtu::serve(port, gap, Arc::clone(&shared), stop));
                Ok(MeterServerHandle::new(shared, None, shutdown, task))
            }
        }
    }

    /// Serve RTU frames over an already open byte stream (a `SerialStream::pair()` end, a
    /// `tokio::io::duplex` in tests, RTU tunnelled over TCP). The transport in `config` is
    /// ignored; the frame gap follows `config.meter`'s baud rate and framing.
    pub fn start_rtu_stream<S>(
        config: MeterServerConfig,
        source: LiveReading,
        stream: S,
    ) -> Result<MeterServerHandle, ServerError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        config.meter.validate()?;
        let gap = frame_gap(config.meter.baud_rate, config.meter.framing);
        let shared = Arc::new(Shared::new(&config, source));
        let (shutdown, stop) = watch::channel(false);
        let task = tokio::spawn(rtu::serve(stream, gap, Arc::clone(&shared), stop));
        Ok(MeterServerHandle::new(shared, None, shutdown, task))
    }
}

/// A running emulator. Dropping it stops the emulator.
#[derive(Debug)]
pub struct MeterServerHandle {
    shared: Arc<Shared>,
    local_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    /// `None` only after [`MeterServerHandle::shutdown`] took it.
    task: Option<JoinHandle<()>>,
}

impl MeterServerHandle {
    fn new(
        shared: Arc<Shared>,
        local_addr: Option<SocketAddr>,
        shutdown: watch::Sender<bool>,
        task: JoinHandle<()>,
    ) -> Self {
        Self {
            shared,
            local_addr,
            shutdown,
            task: Some(task),
        }
    }

    /// The bound TCP address (with the port picked for port 0); `None` for RTU.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Switch to `faults` now.
    pub fn set_faults(&self, faults: MeterFaults) {
        let live = self.shared.source.latest();
        lock(&self.shared.faults).set(faults, &live, Instant::now());
    }

    /// The faults in force.
    pub fn faults(&self) -> MeterFaults {
        lock(&self.shared.faults).faults().clone()
    }

    /// Counters since start.
    pub fn stats(&self) -> ServerStats {
        self.shared.stats.snapshot()
    }

    /// The meter settings, including those clients changed by writing registers.
    pub fn meter_config(&self) -> MeterConfig {
        *lock(&self.shared.config)
    }

    /// Why the transport stopped, if it did on its own (serial port gone, listener error).
    pub fn transport_error(&self) -> Option<String> {
        lock(&self.shared.transport_error).clone()
    }

    /// `true` once the emulator has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stop serving and wait (at most 2 s) for the transport task to end.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for MeterServerHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
