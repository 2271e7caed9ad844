//! The J1939 29-bit identifier as GB/T 27930-2015 uses it (gbt27930.md §1.2).
//!
//! ```text
//! bit 28..26  P   priority (0 = highest … 7 = lowest)
//! bit 25      R   reserved  = 0
//! bit 24      DP  data page = 0
//! bit 23..16  PF  PDU format  = second byte of the PGN
//! bit 15..8   PS  = destination address (all GB/T PGNs have PF < 240, PDU1)
//! bit 7..0    SA  source address
//! ```
//!
//! The charger is address 0x56 and the BMS 0xF4. A receiver checks R = 0, DP = 0, that the
//! frame comes from its peer and is addressed to itself ([`classify`]). Frames from other
//! ECUs on the same bus (a real capture has `0x0070F4B5` every 500 ms, §1.1) are
//! [`Inbound::Foreign`]: dropped quietly, not errors.

use core::fmt;

use crate::can::CanFrame;

/// Source address of the off-board charger (gbt27930.md §1.2, table 2).
pub const CHARGER_ADDRESS: u8 = 0x56;
/// Source address of the vehicle BMS (gbt27930.md §1.2, table 2).
pub const BMS_ADDRESS: u8 = 0xF4;

/// One of the two GB/T 27930 nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// The off-board charger, address 0x56.
    Charger,
    /// The vehicle battery management system, address 0xF4.
    Bms,
}

impl Node {
    /// The node's fixed J1939 source address.
    pub const fn address(self) -> u8 {
        match self {
            Node::Charger => CHARGER_ADDRESS,
            Node::Bms => BMS_ADDRESS,
        }
    }

    /// The other node of the point-to-point session.
    pub const fn peer(self) -> Node {
        match self {
            Node::Charger => Node::Bms,
            Node::Bms => Node::Charger,
        }
    }

    /// The node that owns `address`, if it is one of the two GB/T addresses.
    pub const fn from_address(address: u8) -> Option<Node> {
        match address {
            CHARGER_ADDRESS => Some(Node::Charger),
            BMS_ADDRESS => Some(Node::Bms),
            _ => None,
        }
    }
}

/// The parameter group numbers of GB/T 27930-2015 plus the two J1939-21 transport PGNs.
///
/// Every GB/T PGN is `PF << 8` with a zero low byte (gbt27930.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Pgn {
    /// 0x2600 CHM, charger handshake (§3.1).
    Chm = 0x2600,
    /// 0x2700 BHM, vehicle handshake (§3.2).
    Bhm = 0x2700,
    /// 0x0100 CRM, charger recognition (§3.3).
    Crm = 0x0100,
    /// 0x0200 BRM, BMS and vehicle recognition (§3.4).
    Brm = 0x0200,
    /// 0x0600 BCP, battery charging parameters (§3.5).
    Bcp = 0x0600,
    /// 0x0700 CTS, charger time sync (§3.6).
    Cts = 0x0700,
    /// 0x0800 CML, charger maximum output capability (§3.7).
    Cml = 0x0800,
    /// 0x0900 BRO, BMS ready for charging (§3.8).
    Bro = 0x0900,
    /// 0x0A00 CRO, charger output ready (§3.8).
    Cro = 0x0A00,
    /// 0x1000 BCL, battery charging demand (§3.9).
    Bcl = 0x1000,
    /// 0x1100 BCS, battery charging status (§3.10).
    Bcs = 0x1100,
    /// 0x1200 CCS, charger charging status (§3.11).
    Ccs = 0x1200,
    /// 0x1300 BSM, battery status (§3.12).
    Bsm = 0x1300,
    /// 0x1500 BMV, cell voltages (§3.13).
    Bmv = 0x1500,
    /// 0x1600 BMT, battery temperatures (§3.13).
    Bmt = 0x1600,
    /// 0x1700 BSP, battery reserved (§3.13).
    Bsp = 0x1700,
    /// 0x1900 BST, BMS stop charging (§3.14).
    Bst = 0x1900,
    /// 0x1A00 CST, charger stop charging (§3.15).
    Cst = 0x1A00,
    /// 0x1C00 BSD, BMS statistics (§3.16).
    Bsd = 0x1C00,
    /// 0x1D00 CSD, charger statistics (§3.17).
    Csd = 0x1D00,
    /// 0x1E00 BEM, BMS error (§3.18).
    Bem = 0x1E00,
    /// 0x1F00 CEM, charger error (§3.19).
    Cem = 0x1F00,
    /// 0xEC00 TP.CM, J1939-21 transport connection management (§1.4).
    TpCm = 0xEC00,
    /// 0xEB00 TP.DT, J1939-21 transport data transfer (§1.4).
    TpDt = 0xEB00,
}

impl Pgn {
    /// The 22 application messages of GB/T 27930-2015, in table order (§2).
    pub const MESSAGES: [Pgn; 22] = [
        Pgn::Chm,
        Pgn::Bhm,
        Pgn::Crm,
        Pgn::Brm,
        Pgn::Bcp,
        Pgn::Cts,
        Pgn::Cml,
        Pgn::Bro,
        Pgn::Cro,
        Pgn::Bcl,
        Pgn::Bcs,
        Pgn::Ccs,
        Pgn::Bsm,
        Pgn::Bmv,
        Pgn::Bmt,
        Pgn::Bsp,
        Pgn::Bst,
        Pgn::Cst,
        Pgn::Bsd,
        Pgn::Csd,
        Pgn::Bem,
        Pgn::Cem,
    ];

    /// The PGN as a number (e.g. 0x2600 for CHM).
    pub const fn value(self) -> u32 {
        self as u32
    }

    /// The PDU format byte (PF), the PGN's second byte.
    pub const fn pdu_format(self) -> u8 {
        (self.value() >> 8) as u8
    }

    /// The PGN with this number, if it is one of the 22 messages or TP.CM/TP.DT.
    pub const fn from_value(value: u32) -> Option<Pgn> {
        if value & 0xFF != 0 || value > 0xFFFF {
            return None;
        }
        Self::from_pdu_format((value >> 8) as u8)
    }

    /// The PGN whose PDU format byte is `pf` (PDU1, data page 0).
    ///
    /// A table read: every frame sent or received is classified this way.
    pub const fn from_pdu_format(pf: u8) -> Option<Pgn> {
        PGN_BY_PF[pf as usize]
    }

    /// The PGN of `pf` by comparison: the definition [`PGN_BY_PF`] is built from.
    const fn match_pdu_format(pf: u8) -> Option<Pgn> {
        Some(match pf {
            0x26 => Pgn::Chm,
            0x27 => Pgn::Bhm,
            0x01 => Pgn::Crm,
            0x02 => Pgn::Brm,
            0x06 => Pgn::Bcp,
            0x07 => Pgn::Cts,
            0x08 => Pgn::Cml,
            0x09 => Pgn::Bro,
            0x0A => Pgn::Cro,
            0x10 => Pgn::Bcl,
            0x11 => Pgn::Bcs,
            0x12 => Pgn::Ccs,
            0x13 => Pgn::Bsm,
            0x15 => Pgn::Bmv,
            0x16 => Pgn::Bmt,
            0x17 => Pgn::Bsp,
            0x19 => Pgn::Bst,
            0x1A => Pgn::Cst,
            0x1C => Pgn::Bsd,
            0x1D => Pgn::Csd,
            0x1E => Pgn::Bem,
            0x1F => Pgn::Cem,
            0xEC => Pgn::TpCm,
            0xEB => Pgn::TpDt,
            _ => return None,
        })
    }

    /// The three-letter code used by the standard ("CHM", "BRM", …; "TP.CM", "TP.DT").
    pub const fn code(self) -> &'static str {
        match self {
            Pgn::Chm => "CHM",
            Pgn::Bhm => "BHM",
            Pgn::Crm => "CRM",
            Pgn::Brm => "BRM",
            Pgn::Bcp => "BCP",
            Pgn::Cts => "CTS",
            Pgn::Cml => "CML",
            Pgn::Bro => "BRO",
            Pgn::Cro => "CRO",
            Pgn::Bcl => "BCL",
            Pgn::Bcs => "BCS",
            Pgn::Ccs => "CCS",
            Pgn::Bsm => "BSM",
            Pgn::Bmv => "BMV",
            Pgn::Bmt => "BMT",
            Pgn::Bsp => "BSP",
            Pgn::Bst => "BST",
            Pgn::Cst => "CST",
            Pgn::Bsd => "BSD",
            Pgn::Csd => "CSD",
            Pgn::Bem => "BEM",
            Pgn::Cem => "CEM",
            Pgn::TpCm => "TP.CM",
            Pgn::TpDt => "TP.DT",
        }
    }

    /// The priority the standard assigns (§2): 2 for BEM/CEM, 4 for BRO/CRO/BST/CST, 7 for
    /// the TP-carried BMS messages and TP itself, 6 otherwise.
    pub const fn default_priority(self) -> u8 {
        match self {
            Pgn::Bem | Pgn::Cem => 2,
            Pgn::Bro | Pgn::Cro | Pgn::Bst | Pgn::Cst => 4,
            Pgn::Brm | Pgn::Bcp | Pgn::Bcs | Pgn::Bmv | Pgn::Bmt | Pgn::Bsp => 7,
            Pgn::TpCm | Pgn::TpDt => 7,
            _ => 6,
        }
    }

    /// The node that sends this message; `None` for TP.CM/TP.DT, which both nodes send.
    pub const fn sender(self) -> Option<Node> {
        match self {
            Pgn::Chm
            | Pgn::Crm
            | Pgn::Cts
            | Pgn::Cml
            | Pgn::Cro
            | Pgn::Ccs
            | Pgn::Cst
            | Pgn::Csd
            | Pgn::Cem => Some(Node::Charger),
            Pgn::TpCm | Pgn::TpDt => None,
            _ => Some(Node::Bms),
        }
    }

    /// Whether this is one of the J1939-21 transport PGNs rather than a GB/T message.
    pub const fn is_transport(self) -> bool {
        matches!(self, Pgn::TpCm | Pgn::TpDt)
    }
}

impl fmt::Display for Pgn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for Pgn {
    /// Serialized as its code ("BCL"), which is what a person reading JSON looks for.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// Why an identifier is not a valid GB/T 27930 identifier from the expected peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The raw value has bits above bit 28; carries the value.
    #[error("identifier {raw:#x} does not fit in 29 bits")]
    OutOfRange {
        /// The raw identifier received.
        raw: u32,
    },
    /// The reserved bit R (bit 25) is 1; GB/T sets it to 0 and \[SK\] drops such frames.
    #[error("identifier {raw:#010x} has the reserved bit set")]
    ReservedBitSet {
        /// The raw identifier received.
        raw: u32,
    },
    /// The data page bit DP (bit 24) is 1; every GB/T PGN is on page 0.
    #[error("identifier {raw:#010x} has the data page bit set")]
    DataPageSet {
        /// The raw identifier received.
        raw: u32,
    },
    /// The PDU format is PDU2 (PF ≥ 240), which no GB/T message uses.
    #[error("identifier {raw:#010x} is a PDU2 (broadcast) identifier, PF {pdu_format:#04x}")]
    Pdu2 {
        /// The raw identifier received.
        raw: u32,
        /// Its PDU format byte.
        pdu_format: u8,
    },
    /// The PGN is not one of the 22 messages or TP.CM/TP.DT (e.g. a J1939 DM1 diagnostic).
    #[error("PGN {pgn:#06x} in identifier {raw:#010x} is not a GB/T 27930 PGN")]
    UnknownPgn {
        /// The raw identifier received.
        raw: u32,
        /// The PGN it carries.
        pgn: u32,
    },
    /// A GB/T message that the sending node never sends (e.g. CHM from the BMS address).
    #[error("{pgn} must come from the {expected:?}, not from address {source_address:#04x}")]
    WrongSender {
        /// The message received.
        pgn: Pgn,
        /// The node that sends this message.
        expected: Node,
        /// The source address it came from.
        source_address: u8,
    },
    /// A priority above 7 was requested when building an identifier.
    #[error("J1939 priority must be 0..=7, got {priority}")]
    PriorityOutOfRange {
        /// The priority requested.
        priority: u8,
    },
}

/// A parsed GB/T 27930 identifier: PGN, priority, source and destination address.
///
/// It can only hold a PDU1 identifier with R = 0, DP = 0 and a known PGN, so
/// [`raw`](GbtId::raw) always yields a valid 29-bit identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct GbtId {
    pgn: Pgn,
    priority: u8,
    source: u8,
    destination: u8,
}

impl GbtId {
    /// The identifier `from` uses to send `pgn` to its peer, at the standard's priority.
    ///
    /// E.g. `GbtId::new(Pgn::Chm, Node::Charger).raw() == 0x1826_F456`.
    pub const fn new(pgn: Pgn, from: Node) -> GbtId {
        GbtId {
            pgn,
            priority: pgn.default_priority(),
            source: from.address(),
            destination: from.peer().address(),
        }
    }

    /// An identifier with explicit addresses and priority (for fault injection and tests).
    pub const fn with_addresses(
        pgn: Pgn,
        priority: u8,
        source: u8,
        destination: u8,
    ) -> Result<GbtId, IdError> {
        if priority > 7 {
            return Err(IdError::PriorityOutOfRange { priority });
        }
        Ok(GbtId {
            pgn,
            priority,
            source,
            destination,
        })
    }

    /// The same identifier at another priority (0..=7).
    pub const fn with_priority(self, priority: u8) -> Result<GbtId, IdError> {
        Self::with_addresses(self.pgn, priority, self.source, self.destination)
    }

    /// Parses a raw 29-bit identifier: R and DP must be 0, the format PDU1 and the PGN known.
    ///
    /// Addresses are not checked here; [`classify`] does that for a receiving node.
    pub const fn parse(raw: u32) -> Result<GbtId, IdError> {
        if raw > CanFrame::MAX_EXTENDED_ID {
            return Err(IdError::OutOfRange { raw });
        }
        if raw & (1 << 25) != 0 {
            return Err(IdError::ReservedBitSet { raw });
        }
        if raw & (1 << 24) != 0 {
            return Err(IdError::DataPageSet { raw });
        }
        let pdu_format = (raw >> 16) as u8;
        if pdu_format >= 240 {
            return Err(IdError::Pdu2 { raw, pdu_format });
        }
        let Some(pgn) = Pgn::from_pdu_format(pdu_format) else {
            return Err(IdError::UnknownPgn {
                raw,
                pgn: (pdu_format as u32) << 8,
            });
        };
        Ok(GbtId {
            pgn,
            priority: (raw >> 26) as u8 & 0x7,
            source: raw as u8,
            destination: (raw >> 8) as u8,
        })
    }

    /// The raw 29-bit identifier: `(P << 26) | (PF << 16) | (DA << 8) | SA`.
    pub const fn raw(self) -> u32 {
        ((self.priority as u32) << 26)
            | ((self.pgn.pdu_format() as u32) << 16)
            | ((self.destination as u32) << 8)
            | self.source as u32
    }

    /// The parameter group.
    pub const fn pgn(self) -> Pgn {
        self.pgn
    }

    /// The priority, 0 (highest) ..= 7.
    pub const fn priority(self) -> u8 {
        self.priority
    }

    /// The source address (SA).
    pub const fn source(self) -> u8 {
        self.source
    }

    /// The destination address (PS/DA).
    pub const fn destination(self) -> u8 {
        self.destination
    }
}

/// What a receiving node makes of a frame seen on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// A GB/T frame from the peer to this node.
    Accepted(GbtId),
    /// A frame that is not part of this session; drop it.
    Foreign(Foreign),
}

/// Why a frame on the bus is not part of this session. None of these is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// A standard 11-bit frame; GB/T uses extended frames only (§1.1, \[SK\] drops them).
    Standard {
        /// The 11-bit identifier.
        id: u32,
    },
    /// A frame from an address other than the peer's (another ECU, or our own echo).
    OtherSource {
        /// The raw 29-bit identifier.
        raw: u32,
    },
    /// A PDU2 broadcast from the peer address (e.g. J1939 diagnostics), addressed to nobody.
    Broadcast {
        /// The raw 29-bit identifier.
        raw: u32,
    },
    /// A frame from the peer addressed to a third node.
    OtherDestination {
        /// The raw 29-bit identifier.
        raw: u32,
    },
}

/// Classifies `frame` as seen by node `own`: accepted, foreign (drop), or a broken GB/T frame.
///
/// Order of checks: standard frames and frames from other source addresses are foreign;
/// PDU2 broadcasts from the peer are foreign; frames from the peer to a third address are
/// foreign. What remains comes from the peer to us, so R/DP set, an unknown PGN or a PGN
/// that the peer never sends is an [`IdError`] worth reporting.
pub fn classify(frame: &CanFrame, own: Node) -> Result<Inbound, IdError> {
    if !frame.is_extended() {
        return Ok(Inbound::Foreign(Foreign::Standard { id: frame.id() }));
    }
    let raw = frame.id();
    let peer = own.peer();
    if raw as u8 != peer.address() {
        return Ok(Inbound::Foreign(Foreign::OtherSource { raw }));
    }
    if (raw >> 16) as u8 >= 240 {
        return Ok(Inbound::Foreign(Foreign::Broadcast { raw }));
    }
    if (raw >> 8) as u8 != own.address() {
        return Ok(Inbound::Foreign(Foreign::OtherDestination { raw }));
    }
    let id = GbtId::parse(raw)?;
    match id.pgn().sender() {
        Some(sender) if sender != peer => Err(IdError::WrongSender {
            pgn: id.pgn(),
            expected: sender,
            source_address: id.source(),
        }),
        _ => Ok(Inbound::Accepted(id)),
    }
}

/// The PGN of a frame that carries exactly the identifier `own`'s peer uses to send it
/// (its standard priority, the peer's source address, `own` as destination), found with
/// two table reads; `None` for anything else, including valid identifiers at another
/// priority, which the caller then passes to [`classify`].
///
/// It is [`classify`]'s common case made cheap (every frame a GB/T machine receives
/// goes through it): whenever it returns `Some(pgn)`, `classify(frame, own)` returns
/// `Ok(Inbound::Accepted(GbtId::new(pgn, own.peer())))`.
#[inline]
pub fn accept_standard(frame: &CanFrame, own: Node) -> Option<Pgn> {
    let raw = frame.id();
    let pf = usize::from((raw >> 16) as u8);
    let expected = STANDARD_IDS.get(own as usize)?.get(pf).copied()?;
    if expected == 0 || raw != expected || !frame.is_extended() {
        return None;
    }
    PGN_BY_PF.get(pf).copied().flatten()
}

/// [`Pgn::from_pdu_format`] as a table, built at compile time from the match.
const PGN_BY_PF: [Option<Pgn>; 256] = {
    let mut table = [None; 256];
    let mut pf = 0;
    while pf < 256 {
        table[pf] = Pgn::match_pdu_format(pf as u8);
        pf += 1;
    }
    table
};

/// Per receiving node (`Node as usize`) and PDU format: the raw identifier its peer sends
/// that PGN with, or 0 where the peer never sends it (a PGN of the receiver's own side, or
/// no PGN). Every valid entry is non-zero: its destination byte is a node address.
const STANDARD_IDS: [[u32; 256]; 2] = {
    let mut table = [[0u32; 256]; 2];
    let nodes = [Node::Charger, Node::Bms];
    let mut n = 0;
    while n < 2 {
        let own = nodes[n];
        let mut pf = 0;
        while pf < 256 {
            if let Some(pgn) = Pgn::from_pdu_format(pf as u8) {
                let from_peer = match pgn.sender() {
                    Some(sender) => sender as usize == own.peer() as usize,
                    None => true,
                };
                if from_peer {
                    table[own as usize][pf] = GbtId::new(pgn, own.peer()).raw();
                }
            }
            pf += 1;
        }
        n += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `accept_standard`'s promise: `Some(pgn)` only where `classify` accepts the frame
    /// as `pgn` from the peer.
    fn check_accept_standard(frame: &CanFrame, own: Node) {
        if let Some(pgn) = accept_standard(frame, own) {
            assert_eq!(
                classify(frame, own),
                Ok(Inbound::Accepted(GbtId::new(pgn, own.peer()))),
                "{frame:?} to {own:?}"
            );
        }
    }

    #[test]
    fn accept_standard_takes_every_standard_identifier_of_the_peer() {
        let all = Pgn::MESSAGES.iter().chain(&[Pgn::TpCm, Pgn::TpDt]);
        for &pgn in all {
            for own in [Node::Charger, Node::Bms] {
                let from_peer = pgn.sender().is_none_or(|s| s == own.peer());
                let frame = CanFrame::new(GbtId::new(pgn, own.peer()).raw(), &[0; 8]).unwrap();
                assert_eq!(accept_standard(&frame, own), from_peer.then_some(pgn));
                check_accept_standard(&frame, own);
                // Our own identifiers (an echo), other priorities and standard frames
                // are left to `classify`.
                let echo = CanFrame::new(GbtId::new(pgn, own).raw(), &[0; 8]).unwrap();
                assert_eq!(accept_standard(&echo, own), None);
                for priority in 0..8 {
                    let raw = (frame.id() & !(7 << 26)) | (priority << 26);
                    let f = CanFrame::new(raw, &[1, 2, 3]).unwrap();
                    check_accept_standard(&f, own);
                }
                let standard = CanFrame::new_standard(frame.id() & 0x7FF, &[]).unwrap();
                assert_eq!(accept_standard(&standard, own), None);
            }
        }
    }

    #[test]
    fn pdu_format_table_is_the_match() {
        for pf in 0..=255u8 {
            assert_eq!(
                Pgn::from_pdu_format(pf),
                Pgn::match_pdu_format(pf),
                "PF {pf:#04x}"
            );
        }
        assert_eq!(Pgn::from_pdu_format(0x11), Some(Pgn::Bcs));
        assert_eq!(Pgn::from_pdu_format(0xEB), Some(Pgn::TpDt));
        assert_eq!(Pgn::from_pdu_format(0x14), None);
    }

    proptest! {
        #[test]
        fn accept_standard_never_accepts_what_classify_would_not(
            raw in 0u32..=CanFrame::MAX_EXTENDED_ID,
            pf in any::<u8>(),
            own_bms in any::<bool>(),
        ) {
            let own = if own_bms { Node::Bms } else { Node::Charger };
            // Half the cases with the peer's addresses, so that acceptance is reached.
            let with_addresses = (raw & 0x1C00_0000)
                | (u32::from(pf) << 16)
                | (u32::from(own.address()) << 8)
                | u32::from(own.peer().address());
            for id in [raw, with_addresses] {
                let frame = CanFrame::new(id, &[0; 8]).unwrap();
                check_accept_standard(&frame, own);
            }
        }
    }

    /// Every ID in the table of gbt27930.md §2 and §1.4, as (PGN, sender, raw ID).
    const TABLE: [(Pgn, Node, u32); 24] = [
        (Pgn::Chm, Node::Charger, 0x1826F456),
        (Pgn::Bhm, Node::Bms, 0x182756F4),
        (Pgn::Crm, Node::Charger, 0x1801F456),
        (Pgn::Brm, Node::Bms, 0x1C0256F4),
        (Pgn::Bcp, Node::Bms, 0x1C0656F4),
        (Pgn::Cts, Node::Charger, 0x1807F456),
        (Pgn::Cml, Node::Charger, 0x1808F456),
        (Pgn::Bro, Node::Bms, 0x100956F4),
        (Pgn::Cro, Node::Charger, 0x100AF456),
        (Pgn::Bcl, Node::Bms, 0x181056F4),
        (Pgn::Bcs, Node::Bms, 0x1C1156F4),
        (Pgn::Ccs, Node::Charger, 0x1812F456),
        (Pgn::Bsm, Node::Bms, 0x181356F4),
        (Pgn::Bmv, Node::Bms, 0x1C1556F4),
        (Pgn::Bmt, Node::Bms, 0x1C1656F4),
        (Pgn::Bsp, Node::Bms, 0x1C1756F4),
        (Pgn::Bst, Node::Bms, 0x101956F4),
        (Pgn::Cst, Node::Charger, 0x101AF456),
        (Pgn::Bsd, Node::Bms, 0x181C56F4),
        (Pgn::Csd, Node::Charger, 0x181DF456),
        (Pgn::Bem, Node::Bms, 0x081E56F4),
        (Pgn::Cem, Node::Charger, 0x081FF456),
        (Pgn::TpCm, Node::Bms, 0x1CEC56F4),
        (Pgn::TpDt, Node::Charger, 0x1CEBF456),
    ];

    #[test]
    fn builds_and_parses_every_identifier_of_the_table() {
        for (pgn, from, raw) in TABLE {
            let id = GbtId::new(pgn, from);
            assert_eq!(id.raw(), raw, "{pgn}");
            assert_eq!(GbtId::parse(raw), Ok(id), "{pgn}");
            assert_eq!(Pgn::from_value(pgn.value()), Some(pgn));
            let frame = CanFrame::new(raw, &[]).unwrap();
            assert_eq!(
                classify(&frame, from.peer()),
                Ok(Inbound::Accepted(id)),
                "{pgn}"
            );
        }
    }

    #[test]
    fn pgn_numbers_match_the_standard() {
        assert_eq!(Pgn::Crm.value(), 256);
        assert_eq!(Pgn::Bsm.value(), 4864);
        assert_eq!(Pgn::Chm.value(), 9728);
        assert_eq!(Pgn::TpCm.value(), 60416);
        assert_eq!(Pgn::from_value(0x2601), None);
        assert_eq!(Pgn::from_value(0x1400), None);
        assert_eq!(Pgn::from_value(0x1_2600), None);
    }

    #[test]
    fn reserved_and_data_page_bits_are_errors_from_the_peer() {
        let r = CanFrame::new(0x1826F456 | 1 << 25, &[]).unwrap();
        assert_eq!(
            classify(&r, Node::Bms),
            Err(IdError::ReservedBitSet { raw: 0x1A26F456 })
        );
        let dp = CanFrame::new(0x1826F456 | 1 << 24, &[]).unwrap();
        assert_eq!(
            classify(&dp, Node::Bms),
            Err(IdError::DataPageSet { raw: 0x1926F456 })
        );
    }

    #[test]
    fn foreign_frames_are_dropped_not_failed() {
        // Real capture [T1]: another vehicle ECU at 0xB5 talks to 0xF4 every 500 ms.
        let other_ecu = CanFrame::new(0x0070F4B5, &[0, 0, 0xB5]).unwrap();
        assert_eq!(
            classify(&other_ecu, Node::Bms),
            Ok(Inbound::Foreign(Foreign::OtherSource { raw: 0x0070F4B5 }))
        );
        let standard = CanFrame::new_standard(0x123, &[]).unwrap();
        assert_eq!(
            classify(&standard, Node::Charger),
            Ok(Inbound::Foreign(Foreign::Standard { id: 0x123 }))
        );
        // Our own echo: the charger sees its own CHM.
        let echo = CanFrame::new(0x1826F456, &[1, 1, 0]).unwrap();
        assert!(matches!(
            classify(&echo, Node::Charger),
            Ok(Inbound::Foreign(Foreign::OtherSource { .. }))
        ));
        let broadcast = CanFrame::new(0x18FECAF4, &[]).unwrap();
        assert!(matches!(
            classify(&broadcast, Node::Charger),
            Ok(Inbound::Foreign(Foreign::Broadcast { .. }))
        ));
        let third = CanFrame::new(0x182757F4, &[]).unwrap();
        assert!(matches!(
            classify(&third, Node::Charger),
            Ok(Inbound::Foreign(Foreign::OtherDestination { .. }))
        ));
    }

    #[test]
    fn unknown_pgn_and_wrong_sender_from_the_peer_are_reported() {
        // DM1 (PGN 0x2000) from the charger is optional diagnostics, not one of the 22.
        let dm1 = CanFrame::new(0x1820F456, &[]).unwrap();
        assert_eq!(
            classify(&dm1, Node::Bms),
            Err(IdError::UnknownPgn {
                raw: 0x1820F456,
                pgn: 0x2000
            })
        );
        // A "CHM" coming from the BMS address.
        let chm_from_bms = CanFrame::new(0x182656F4, &[]).unwrap();
        assert!(matches!(
            classify(&chm_from_bms, Node::Charger),
            Err(IdError::WrongSender { pgn: Pgn::Chm, .. })
        ));
    }

    #[test]
    fn priority_is_validated_and_carried() {
        let id = GbtId::new(Pgn::Bcl, Node::Bms).with_priority(3).unwrap();
        assert_eq!(id.raw(), 0x0C1056F4);
        assert_eq!(GbtId::parse(0x0C1056F4).unwrap().priority(), 3);
        assert_eq!(
            GbtId::new(Pgn::Bcl, Node::Bms).with_priority(8),
            Err(IdError::PriorityOutOfRange { priority: 8 })
        );
        assert_eq!(
            GbtId::parse(0x2000_0000),
            Err(IdError::OutOfRange { raw: 0x2000_0000 })
        );
    }

    #[test]
    fn node_addresses() {
        assert_eq!(Node::Charger.address(), 0x56);
        assert_eq!(Node::Bms.address(), 0xF4);
        assert_eq!(Node::from_address(0xF4), Some(Node::Bms));
        assert_eq!(Node::from_address(0x00), None);
        assert_eq!(Node::Bms.peer(), Node::Charger);
    }
}
