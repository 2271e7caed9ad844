//! A Linux SocketCAN interface through the `socketcan` crate (tokio).
//!
//! The crate builds on any Linux kernel; opening fails at run time where there is no CAN:
//! ENODEV (19) for an unknown interface name (the name lookup fails first), EAFNOSUPPORT
//! (97) when the kernel has no AF_CAN at all (meters-and-can-hil.md §2.2). [`CanError::Open`]
//! names the interface, the OS error and what it means.

use proto::can::CanFrame;
use socketcan::{EmbeddedFrame, ErrorCause, ExtendedId, Id, SocketOptions, StandardId};

use super::{BusErrors, CanBus, CanError};

/// A SocketCAN interface (`can0`, `vcan0`).
#[derive(Debug)]
pub struct SocketCanBus {
    iface: String,
    socket: socketcan::tokio::CanSocket,
    error_frames: u64,
    last_error: Option<String>,
}

/// What an errno from opening a CAN socket means.
fn hint(err: &std::io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(97) => {
            " (this kernel has no AF_CAN socket support; use --target socketcand:HOST:PORT or the virtual bus)"
        }
        Some(19) => {
            " (no network interface of that name; `ip link` lists them, `ip link add vcan0 type vcan` makes a virtual one)"
        }
        Some(1) | Some(13) => " (permission denied)",
        _ => "",
    }
}

impl SocketCanBus {
    /// Opens interface `iface`. Must be called inside a tokio runtime.
    pub fn open(iface: &str) -> Result<SocketCanBus, CanError> {
        let socket = socketcan::tokio::CanSocket::open(iface).map_err(|source| CanError::Open {
            iface: iface.to_string(),
            hint: hint(&source),
            source,
        })?;
        // Error frames (bus errors, bus-off) are delivered only when asked for.
        socket
            .set_error_filter_accept_all()
            .map_err(|source| CanError::Open {
                iface: iface.to_string(),
                hint: " (cannot enable error frames)",
                source,
            })?;
        Ok(SocketCanBus {
            iface: iface.to_string(),
            socket,
            error_frames: 0,
            last_error: None,
        })
    }

    /// Opens the interface with kernel index `index` (skips the name lookup, so on a
    /// kernel without AF_CAN this shows EAFNOSUPPORT).
    pub fn open_index(index: u32) -> Result<SocketCanBus, CanError> {
        socketcan::tokio::CanSocket::open_if(index)
            .map(|socket| SocketCanBus {
                iface: format!("#{index}"),
                socket,
                error_frames: 0,
                last_error: None,
            })
            .map_err(|source| CanError::Open {
                iface: format!("#{index}"),
                hint: hint(&source),
                source,
            })
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Notes an error frame; bus-off ends the bus with an error naming the interface.
    fn on_error_frame(&mut self, frame: socketcan::CanErrorFrame) -> Result<(), CanError> {
        self.error_frames += 1;
        let (text, bus_off) = decode_error_frame(frame);
        self.last_error = Some(text);
        if bus_off {
            return Err(CanError::BusOff {
                iface: self.iface.clone(),
                error_frames: self.error_frames,
            });
        }
        Ok(())
    }
}

/// An error frame as text, and whether it says the controller went bus-off.
fn decode_error_frame(frame: socketcan::CanErrorFrame) -> (String, bool) {
    let error = socketcan::CanError::from(frame);
    let bus_off = error.causes().any(|c| *c == ErrorCause::BusOff);
    (format!("{error:?}"), bus_off)
}

/// Our frame as the crate's.
pub(crate) fn to_socketcan(frame: &CanFrame) -> Option<socketcan::CanFrame> {
    let id: Id = if frame.is_extended() {
        ExtendedId::new(frame.id())?.into()
    } else {
        StandardId::new(u16::try_from(frame.id()).ok()?)?.into()
    };
    socketcan::CanFrame::new(id, frame.data())
}

/// The crate's data frame as ours; remote and error frames are not representable.
pub(crate) fn from_socketcan(frame: &socketcan::CanFrame) -> Result<CanFrame, CanError> {
    match frame {
        socketcan::CanFrame::Data(d) => {
            let (id, ext) = match d.id() {
                Id::Standard(s) => (u32::from(s.as_raw()), false),
                Id::Extended(e) => (e.as_raw(), true),
            };
            CanFrame::with_width(id, ext, d.data()).map_err(|e| CanError::Unsupported {
                what: e.to_string(),
            })
        }
        socketcan::CanFrame::Remote(_) => Err(CanError::Unsupported {
            what: "remote frame".into(),
        }),
        socketcan::CanFrame::Error(_) => Err(CanError::Unsupported {
            what: "error frame".into(),
        }),
    }
}

impl CanBus for SocketCanBus {
    async fn send(&mut self, frame: CanFrame) -> Result<(), CanError> {
        let f = to_socketcan(&frame).ok_or_else(|| CanError::Unsupported {
            what: frame.to_string(),
        })?;
        self.socket
            .write_frame(f)
            .await
            .map_err(|source| CanError::Io {
                what: self.iface.clone(),
                source,
            })
    }

    async fn recv(&mut self) -> Result<CanFrame, CanError> {
        loop {
            let f = self
                .socket
                .read_frame()
                .await
                .map_err(|source| CanError::Io {
                    what: self.iface.clone(),
                    source,
                })?;
            if let socketcan::CanFrame::Error(e) = f {
                self.on_error_frame(e)?;
                continue;
            }
            // Remote frames are bus noise to a GB/T node: skip them.
            if let Ok(frame) = from_socketcan(&f) {
                return Ok(frame);
            }
        }
    }

    fn bus_errors(&self) -> BusErrors {
        BusErrors {
            error_frames: self.error_frames,
            last: self.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_convert_both_ways() {
        let f = CanFrame::new(0x1826_F456, &[1, 1, 0]).unwrap();
        let s = to_socketcan(&f).unwrap();
        assert_eq!(from_socketcan(&s).unwrap(), f);
        let std = CanFrame::new_standard(0x123, &[9]).unwrap();
        assert_eq!(from_socketcan(&to_socketcan(&std).unwrap()).unwrap(), std);
    }

    #[test]
    fn error_frames_decode_and_bus_off_is_recognised() {
        // Error class bits of linux/can/error.h: CAN_ERR_BUSOFF 0x40, CAN_ERR_ACK 0x20.
        let bus_off = socketcan::CanErrorFrame::new_error(0x40, &[0; 8]).unwrap();
        let (text, off) = decode_error_frame(bus_off);
        assert!(off, "{text}");
        let no_ack = socketcan::CanErrorFrame::new_error(0x20, &[0; 8]).unwrap();
        let (text, off) = decode_error_frame(no_ack);
        assert!(!off);
        assert!(text.contains("NoAck"), "{text}");
        let err = CanError::BusOff {
            iface: "can0".into(),
            error_frames: 3,
        };
        assert!(err.to_string().contains("\"can0\" went bus-off"), "{err}");
    }

    #[tokio::test]
    async fn opening_a_missing_interface_names_it_and_the_cause() {
        let err = SocketCanBus::open("csnone0").expect_err("no such interface");
        let text = err.to_string();
        assert!(text.contains("\"csnone0\""), "{text}");
        match &err {
            CanError::Open { source, .. } => {
                // ENODEV: the name lookup fails before any CAN socket is made.
                assert_eq!(source.raw_os_error(), Some(19), "{text}");
                assert!(text.contains("no network interface of that name"), "{text}");
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_kernel_without_af_can_says_so() {
        // On a kernel with CAN this opens interface 1 (lo) or fails differently; this VM
        // and CI have no AF_CAN, so the socket() call itself fails with EAFNOSUPPORT.
        let has_can = std::fs::read_to_string("/proc/net/protocols")
            .map(|p| p.lines().any(|l| l.starts_with("CAN")))
            .unwrap_or(false);
        let result = SocketCanBus::open_index(1);
        if has_can {
            if let Err(e) = result {
                assert!(!e.to_string().contains("no AF_CAN"), "{e}");
            }
            return;
        }
        let err = result.expect_err("no AF_CAN here");
        let text = err.to_string();
        assert!(text.contains("os error 97"), "{text}");
        assert!(text.contains("no AF_CAN"), "{text}");
    }
}
