//! Reading a real meter: [`MeterClient`] sends the model's poll plan over TCP or RTU with a
//! timeout per attempt and bounded retries, and decodes the registers into a
//! `proto::modbus::MeterReading`; [`spawn_poller`] does that at a period and publishes the
//! latest reading.
//!
//! Retries: a timeout, a CRC error, a malformed frame, a reply from another unit and an I/O
//! error are retried up to [`ClientConfig::retries`] times; an exception is the meter's
//! answer and is not. A read of the poll plan that the meter answers with an exception is
//! skipped, so a meter lacking an optional block (the DJSF1352 clock, a DTSU666 energy
//! mirror) still yields a reading when every required quantity was read.

mod link;
mod poller;

pub use poller::{Polled, PollerHandle, spawn_poller};

use super::serial::SerialSettings;
use link::Link;
use proto::modbus::map::PollRead;
use proto::modbus::rtu::RtuError;
use proto::modbus::tcp::TcpError;
use proto::modbus::{
    DecodeError, ExceptionCode, FunctionCode, MeterConfig, MeterModel, MeterReading, RegisterImage,
    Request, Response, decode_reading,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Where the meter is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTransport {
    /// A Modbus TCP meter or gateway.
    Tcp(SocketAddr),
    /// A meter on a serial line.
    Rtu(SerialSettings),
}

/// How to read a meter.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Model, unit id, word order and decoding choices (DJSF1352 energy LSB).
    pub meter: MeterConfig,
    /// Where the meter is.
    pub transport: ClientTransport,
    /// How long one attempt waits for the reply.
    pub timeout: Duration,
    /// Further attempts after a failed one (see the module doc for which failures).
    pub retries: u32,
    /// Silence kept before each request. Some meters need turnaround time between frames
    /// (reference §1.8: EN+ waits 20 ms; tokio-modbus issue #180).
    pub request_gap: Duration,
}

impl ClientConfig {
    /// `model` at unit id 1 with its factory settings: 1 s timeout, 2 retries, and a 20 ms
    /// gap between requests on RTU (none on TCP).
    pub fn new(model: MeterModel, transport: ClientTransport) -> Self {
        let mut meter = MeterConfig::new(model);
        let request_gap = match &transport {
            ClientTransport::Tcp(_) => Duration::ZERO,
            ClientTransport::Rtu(serial) => {
                meter.baud_rate = serial.baud_rate;
                meter.framing = serial.framing;
                Duration::from_millis(20)
            }
        };
        Self {
            meter,
            transport,
            timeout: Duration::from_secs(1),
            retries: 2,
            request_gap,
        }
    }

    /// The same configuration for unit `unit_id`.
    pub fn with_unit_id(mut self, unit_id: u8) -> Self {
        self.meter.unit_id = unit_id;
        self
    }
}

/// Why a request or a reading failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No (complete) reply within the timeout.
    #[error("no reply from unit {unit_id} to function {function:?} within {timeout_ms} ms")]
    Timeout {
        /// The unit asked.
        unit_id: u8,
        /// The request's function.
        function: FunctionCode,
        /// The timeout, ms.
        timeout_ms: u64,
    },
    /// The meter answered with an exception.
    #[error("function {function:?} at {address:#06X}: {code}")]
    Exception {
        /// The request's function.
        function: FunctionCode,
        /// The request's first register.
        address: u16,
        /// The meter's exception.
        code: ExceptionCode,
    },
    /// An RTU reply with a wrong CRC.
    #[error("reply CRC {received:#06X} does not match its contents ({computed:#06X})")]
    Crc {
        /// The CRC of the bytes received.
        computed: u16,
        /// The CRC the reply carried.
        received: u16,
    },
    /// An RTU reply that could not be parsed for another reason.
    #[error("malformed RTU reply: {0}")]
    Rtu(RtuError),
    /// A Modbus TCP reply that could not be parsed.
    #[error("malformed Modbus TCP reply: {0}")]
    Tcp(#[from] TcpError),
    /// A reply from a unit other than the one asked.
    #[error("asked unit {expected}, unit {received} replied")]
    UnexpectedUnit {
        /// The unit asked.
        expected: u8,
        /// The unit in the reply.
        received: u8,
    },
    /// The registers did not make a reading, or a reply did not match its request.
    #[error("decoding: {0}")]
    Decode(#[from] DecodeError),
    /// The connection or port failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<RtuError> for ClientError {
    fn from(error: RtuError) -> Self {
        match error {
            RtuError::BadCrc { computed, received } => Self::Crc { computed, received },
            other => Self::Rtu(other),
        }
    }
}

impl ClientError {
    /// `true` for failures a new attempt may cure.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::Crc { .. }
                | Self::Rtu(_)
                | Self::Tcp(_)
                | Self::UnexpectedUnit { .. }
                | Self::Io(_)
        )
    }
}

/// Counters of a client since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientStats {
    /// Request attempts sent.
    pub requests: u64,
    /// Valid replies received, exceptions included.
    pub responses: u64,
    /// Attempts repeated after a retryable failure.
    pub retries: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Exception replies.
    pub exceptions: u64,
    /// Replies with a wrong CRC.
    pub crc_errors: u64,
    /// Other malformed replies and replies from the wrong unit.
    pub frame_errors: u64,
    /// Readings that failed to decode.
    pub decode_errors: u64,
    /// Connection and port errors.
    pub io_errors: u64,
    /// Complete readings decoded.
    pub readings: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    responses: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    exceptions: AtomicU64,
    crc_errors: AtomicU64,
    frame_errors: AtomicU64,
    decode_errors: AtomicU64,
    io_errors: AtomicU64,
    readings: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientStats {
            requests: get(&self.requests),
            responses: get(&self.responses),
            retries: get(&self.retries),
            timeouts: get(&self.timeouts),
            exceptions: get(&self.exceptions),
            crc_errors: get(&self.crc_errors),
            frame_errors: get(&self.frame_errors),
            decode_errors: get(&self.decode_errors),
            io_errors: get(&self.io_errors),
            readings: get(&self.readings),
        }
    }

    fn count_failure(&self, error: &ClientError) {
        let counter = match error {
            ClientError::Timeout { .. } => &self.timeouts,
            ClientError::Exception { .. } => &self.exceptions,
            ClientError::Crc { .. } => &self.crc_errors,
            ClientError::Rtu(_) | ClientError::Tcp(_) | ClientError::UnexpectedUnit { .. } => {
                &self.frame_errors
            }
            ClientError::Decode(_) => &self.decode_errors,
            ClientError::Io(_) => &self.io_errors,
        };
        bump(counter);
    }
}

/// Any byte stream an RTU client can run over (a serial port, a pty, an in-memory pipe).
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// A client of one meter.
#[derive(Debug)]
pub struct MeterClient {
    config: ClientConfig,
    link: Link,
    stats: Arc<Counters>,
}

impl MeterClient {
    /// A client for `config`: opens the serial port now; a TCP connection is made on the
    /// first request (and again after a failure), so a meter that is not up yet is not an
    /// error here.
    pub fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        let link = match &config.transport {
            ClientTransport::Tcp(addr) => Link::tcp(*addr),
            ClientTransport::Rtu(serial) => Link::rtu(Box::new(serial.open()?), serial.frame_gap()),
        };
        Ok(Self {
            config,
            link,
            stats: Arc::default(),
        })
    }

    /// A client speaking RTU over `stream`; `config.transport` is ignored.
    pub fn over_rtu_stream(config: ClientConfig, stream: impl ByteStream + 'static) -> Self {
        let gap = super::serial::frame_gap(config.meter.baud_rate, config.meter.framing);
        Self {
            link: Link::rtu(Box::new(stream), gap),
            config,
            stats: Arc::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Counters since the client was made.
    pub fn stats(&self) -> ClientStats {
        self.stats.snapshot()
    }

    pub(crate) fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.stats)
    }

    /// Send `request` to the meter's unit and return its reply, exceptions included, retrying
    /// retryable failures.
    pub async fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        let unit_id = self.config.meter.unit_id;
        let mut attempt = 0;
        loop {
            bump(&self.stats.requests);
            let result = self
                .link
                .transaction(
                    unit_id,
                    request,
                    self.config.timeout,
                    self.config.request_gap,
                )
                .await;
            match result {
                Ok(response) => {
                    bump(&self.stats.responses);
                    if matches!(response, Response::Exception { .. }) {
                        bump(&self.stats.exceptions);
                    }
                    return Ok(response);
                }
                Err(error) => {
                    self.stats.count_failure(&error);
                    if !error.is_retryable() || attempt >= self.config.retries {
                        return Err(error);
                    }
                    attempt += 1;
                    bump(&self.stats.retries);
                }
            }
        }
    }

    /// Read `read.count` registers; an exception reply is [`ClientError::Exception`].
    pub async fn read(&mut self, read: PollRead) -> Result<Vec<u16>, ClientError> {
        let response = self.request(&read.request()).await?;
        let mut image = RegisterImage::new();
        image
            .insert_response(&read, &response)
            .map_err(|error| read_error(&read, error))?;
        image
            .words(read.table, read.address, read.count)
            .ok_or(ClientError::Decode(DecodeError::BlockOutOfRange {
                address: read.address,
                len: usize::from(read.count),
            }))
    }

    /// Read the model's poll plan and decode the reading.
    pub async fn read_reading(&mut self) -> Result<MeterReading, ClientError> {
        let mut image = RegisterImage::new();
        for read in self.config.meter.model.register_map().poll_plan {
            let response = self.request(&read.request()).await?;
            match image.insert_response(read, &response) {
                Ok(()) | Err(DecodeError::Exception { .. }) => {}
                Err(error) => {
                    let error = read_error(read, error);
                    self.stats.count_failure(&error);
                    return Err(error);
                }
            }
        }
        match decode_reading(&self.config.meter, &image) {
            Ok(reading) => {
                bump(&self.stats.readings);
                Ok(reading)
            }
            Err(error) => {
                let error = ClientError::Decode(error);
                self.stats.count_failure(&error);
                Err(error)
            }
        }
    }
}

fn read_error(read: &PollRead, error: DecodeError) -> ClientError {
    match error {
        DecodeError::Exception { address, code } => ClientError::Exception {
            function: read.table.read_function(),
            address,
            code,
        },
        other => ClientError::Decode(other),
    }
}

#[cfg(test)]
mod tests;
