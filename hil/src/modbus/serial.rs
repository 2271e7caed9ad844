//! Serial-line settings shared by the emulator and the client, and RTU timing.

use proto::modbus::config::Framing;
use std::path::PathBuf;
use std::time::Duration;
use tokio_serial::{DataBits, FlowControl, Parity, SerialStream, StopBits};

/// The shortest silence taken as the end of an incomplete or malformed RTU frame.
///
/// The standard's 3.5 character times (4 ms at 9600 baud) assume a UART that timestamps
/// bytes; behind a USB adapter, a pseudo-terminal or a busy scheduler, bytes of one frame
/// arrive in bursts several milliseconds apart. Complete frames are cut by their length as
/// soon as they arrive, so this only delays the handling of broken ones.
pub const MIN_FRAME_GAP: Duration = Duration::from_millis(15);

/// A serial port and its character framing (always 8 data bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialSettings {
    /// Device path, e.g. `/dev/ttyUSB0` or a pty link made by socat.
    pub path: PathBuf,
    /// Line speed.
    pub baud_rate: u32,
    /// Parity and stop bits.
    pub framing: Framing,
}

impl SerialSettings {
    /// `path` at `baud_rate`, 8N1.
    pub fn new(path: impl Into<PathBuf>, baud_rate: u32) -> Self {
        Self {
            path: path.into(),
            baud_rate,
            framing: Framing::N1,
        }
    }

    /// Open the port for tokio.
    pub fn open(&self) -> std::io::Result<SerialStream> {
        let (parity, stop_bits) = match self.framing {
            Framing::N1 => (Parity::None, StopBits::One),
            Framing::E1 => (Parity::Even, StopBits::One),
            Framing::O1 => (Parity::Odd, StopBits::One),
            Framing::N2 => (Parity::None, StopBits::Two),
        };
        let builder = tokio_serial::new(self.path.to_string_lossy(), self.baud_rate)
            .data_bits(DataBits::Eight)
            .parity(parity)
            .stop_bits(stop_bits)
            .flow_control(FlowControl::None);
        SerialStream::open(&builder).map_err(std::io::Error::from)
    }

    /// The silence that ends a frame on this line: 3.5 character times (1.75 ms above
    /// 19200 baud, Serial Line §2.5.1.1), but at least [`MIN_FRAME_GAP`].
    pub fn frame_gap(&self) -> Duration {
        frame_gap(self.baud_rate, self.framing)
    }
}

/// See [`SerialSettings::frame_gap`].
pub fn frame_gap(baud_rate: u32, framing: Framing) -> Duration {
    let bits_per_char = match framing {
        Framing::N1 => 10.0,
        Framing::E1 | Framing::O1 | Framing::N2 => 11.0,
    };
    let t35 = if baud_rate > 19_200 || baud_rate == 0 {
        Duration::from_micros(1750)
    } else {
        Duration::from_secs_f64(3.5 * bits_per_char / f64::from(baud_rate))
    };
    t35.max(MIN_FRAME_GAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps() {
        assert_eq!(frame_gap(9600, Framing::N1), MIN_FRAME_GAP);
        // 1200 baud 8E1: 3.5 × 11 / 1200 s = 32.08 ms.
        let slow = frame_gap(1200, Framing::E1);
        assert!(slow > Duration::from_millis(32) && slow < Duration::from_millis(33));
        assert_eq!(frame_gap(115_200, Framing::N1), MIN_FRAME_GAP);
        assert_eq!(frame_gap(0, Framing::N2), MIN_FRAME_GAP);
    }

    #[test]
    fn opening_a_missing_port_fails_cleanly() {
        let settings = SerialSettings::new("/nonexistent/chargestorm-tty", 9600);
        assert!(settings.open().is_err());
    }
}
