//! Frame keys: how a case names "a frame of this message" (or of one content variant of
//! it), and the attribution of transport frames to the message they carry.

use proto::can::CanFrame;
use proto::gbt27930::id::{Node, Pgn};

/// A class of frames a script or a check refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// Every frame of a message: single frames by identifier, TP frames by the message the
    /// transport session carries (RTS, DT, CTS, EndOfMsgAck and Abort alike).
    Msg(Pgn),
    /// A single-frame message whose first data byte is the given value: CRM(0x00) is
    /// `Variant(Crm, 0x00)`, BRO(0xAA) `Variant(Bro, 0xAA)`.
    Variant(Pgn, u8),
    /// A TP.CM request to send for the message.
    Rts(Pgn),
    /// A TP.CM clear to send for the message.
    Cts(Pgn),
    /// A TP.CM connection abort for the message.
    Abort(Pgn),
    /// A TP.CM end-of-message acknowledgement for the message.
    EndOfMsgAck(Pgn),
    /// Any frame at all.
    Any,
}

/// CRM(0x00): the charger has not recognised the BMS yet.
pub const CRM_00: Key = Key::Variant(Pgn::Crm, 0x00);
/// CRM(0xAA): the charger recognised the BMS.
pub const CRM_AA: Key = Key::Variant(Pgn::Crm, 0xAA);
/// BRO(0x00): the BMS is not ready.
pub const BRO_00: Key = Key::Variant(Pgn::Bro, 0x00);
/// BRO(0xAA): the BMS is ready.
pub const BRO_AA: Key = Key::Variant(Pgn::Bro, 0xAA);
/// CRO(0x00): the charger is not ready.
pub const CRO_00: Key = Key::Variant(Pgn::Cro, 0x00);
/// CRO(0xAA): the charger is ready.
pub const CRO_AA: Key = Key::Variant(Pgn::Cro, 0xAA);

/// The TP.CM control bytes (gbt27930.md §1.4).
const RTS: u8 = 0x10;
const CTS: u8 = 0x11;
const EOMA: u8 = 0x13;
const ABORT: u8 = 0xFF;

/// What a frame is, as far as keys are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameClass {
    /// The identifier's PGN, if it is a GB/T one.
    pub pgn: Option<Pgn>,
    /// The message the frame belongs to (for TP frames, the carried message).
    pub message: Option<Pgn>,
    /// The TP.CM control byte, for TP.CM frames.
    pub tp_control: Option<u8>,
}

impl FrameClass {
    /// Whether `frame` (of this class) matches `key`.
    pub fn matches(&self, key: Key, frame: &CanFrame) -> bool {
        match key {
            Key::Any => true,
            Key::Msg(p) => self.message == Some(p),
            Key::Variant(p, v) => self.pgn == Some(p) && frame.data().first() == Some(&v),
            Key::Rts(p) => self.cm(RTS, p),
            Key::Cts(p) => self.cm(CTS, p),
            Key::Abort(p) => self.cm(ABORT, p),
            Key::EndOfMsgAck(p) => self.cm(EOMA, p),
        }
    }

    fn cm(&self, control: u8, p: Pgn) -> bool {
        self.tp_control == Some(control) && self.message == Some(p)
    }
}

/// Follows TP sessions per sender so that TP.DT frames can be attributed to the message
/// their session carries. Allocation-free.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attributor {
    /// The message of the last RTS per sender (index 0 charger, 1 BMS).
    open: [Option<Pgn>; 2],
}

impl Attributor {
    /// Classifies a frame sent by `from` and updates the session table.
    pub fn classify(&mut self, from: Node, frame: &CanFrame) -> FrameClass {
        let none = FrameClass {
            pgn: None,
            message: None,
            tp_control: None,
        };
        if !frame.is_extended() {
            return none;
        }
        let Some(pgn) = Pgn::from_pdu_format((frame.id() >> 16) as u8) else {
            return none;
        };
        let side = usize::from(from == Node::Bms);
        let d = frame.data();
        match pgn {
            Pgn::TpCm => {
                let carried = match (d.get(5), d.get(6), d.get(7)) {
                    (Some(&a), Some(&b), Some(&c)) => {
                        Pgn::from_value(u32::from_le_bytes([a, b, c, 0]))
                    }
                    _ => None,
                };
                let control = d.first().copied();
                if control == Some(RTS)
                    && let Some(slot) = self.open.get_mut(side)
                {
                    *slot = carried;
                }
                FrameClass {
                    pgn: Some(pgn),
                    message: carried,
                    tp_control: control,
                }
            }
            Pgn::TpDt => FrameClass {
                pgn: Some(pgn),
                message: self.open.get(side).copied().flatten(),
                tp_control: None,
            },
            other => FrameClass {
                pgn: Some(other),
                message: Some(other),
                tp_control: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tp_frames_are_attributed_and_variants_match_on_the_first_byte() {
        let mut a = Attributor::default();
        let rts = CanFrame::new(0x1CEC56F4, &[0x10, 0x31, 0, 7, 0xFF, 0, 2, 0]).unwrap();
        let dt = CanFrame::new(0x1CEB56F4, &[1, 1, 1, 0, 3, 0xF0, 5, 0x40]).unwrap();
        let cts = CanFrame::new(0x1CECF456, &[0x11, 7, 1, 0xFF, 0xFF, 0, 2, 0]).unwrap();
        let c = a.classify(Node::Bms, &rts);
        assert!(c.matches(Key::Rts(Pgn::Brm), &rts));
        assert!(c.matches(Key::Msg(Pgn::Brm), &rts));
        let c = a.classify(Node::Bms, &dt);
        assert!(c.matches(Key::Msg(Pgn::Brm), &dt));
        assert!(!c.matches(Key::Rts(Pgn::Brm), &dt));
        let c = a.classify(Node::Charger, &cts);
        assert!(c.matches(Key::Cts(Pgn::Brm), &cts));
        let crm = CanFrame::new(0x1801F456, &[0xAA, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF]).unwrap();
        let c = a.classify(Node::Charger, &crm);
        assert!(c.matches(CRM_AA, &crm));
        assert!(!c.matches(CRM_00, &crm));
        let foreign = CanFrame::new_standard(0x123, &[]).unwrap();
        assert_eq!(a.classify(Node::Bms, &foreign).message, None);
    }
}
