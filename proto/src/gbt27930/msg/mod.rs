//! The 22 application messages of GB/T 27930-2015 as typed structs with physical units.
//!
//! Each message type implements [`GbtMessage`] (encode/decode that round-trip); [`Message`]
//! is the sum over all of them, keyed by PGN. Layouts, resolutions and offsets follow
//! gbt27930.md §3; the lenient receive rules follow §1.3, §6.3 and §9 item 7:
//!
//! | Rule | Where |
//! |---|---|
//! | Payload longer than the defined length: extra bytes ignored | all fixed-length messages |
//! | Reserved bits sent as 0: ignored | BST, CST, BEM, CEM, CCS, BSM |
//! | CCS of 6 (2011), 7 (real chargers) or 8 bytes | [`Ccs`] |
//! | CML of 6 bytes (2011) | [`Cml`] |
//! | CSD of 5 bytes (2011) | [`Csd`] |
//! | BRM of 8, 41 or 49 bytes | [`Brm`] |
//! | BCS as a single 8-byte frame | [`Bcs`] |
//! | CTS all `FF`, garbage or short | [`Cts`] |
//! | CML with max/min current swapped: decoded as sent | [`Cml::normalized`] |
//!
//! On send, reserved bits and undefined fields inside the defined length are 1 (clause 7.9).

mod charging;
mod codec;
mod config;
mod ending;
mod fault;
mod fields;
mod handshake;
mod optional;
mod spec;

#[cfg(test)]
mod tests;

pub use charging::{Bcl, Bcs, Bsm, Ccs};
pub use codec::{GbtDecodeError, GbtEncodeError, GbtMessage};
pub use config::{Bcp, Bro, Cml, Cro, Cts, CtsTime};
pub use ending::{
    Bsd, Bst, BstError, BstFault, BstReason, Csd, Cst, CstError, CstFault, CstReason,
};
pub use fault::{Bem, Cem};
pub use fields::{
    BatteryType, ChargingMode, ChargingPermit, FixedAscii, Level2, Ownership, ProtocolVersion,
    Readiness, Recognition, Status2, round_half_away,
};
pub use handshake::{Bhm, Brm, BrmDetails, Chm, Crm};
pub use optional::{Bmt, Bmv, Bsp, CellVoltage};
pub use spec::{
    CRM_AFTER_CHM_TIMEOUT_MS, CRM_WITHOUT_CHM_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, MessageSpec,
    PAUSE_LIMIT_MS, READY_TIMEOUT_MS, spec,
};

use crate::can::CanFrame;
use crate::gbt27930::id::{GbtId, Node, Pgn};

/// Any GB/T 27930-2015 message.
///
/// Serializes as one JSON object tagged with the message code, fields in units:
/// `{"msg":"BCL","voltage_demand_v":405.6,"current_demand_a":200.0,"mode":"constant_current"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "msg", rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Message {
    /// Charger handshake.
    Chm(Chm),
    /// Vehicle handshake.
    Bhm(Bhm),
    /// Charger recognition.
    Crm(Crm),
    /// BMS and vehicle recognition.
    Brm(Brm),
    /// Battery charging parameters.
    Bcp(Bcp),
    /// Charger time sync.
    Cts(Cts),
    /// Charger maximum output capability.
    Cml(Cml),
    /// BMS ready.
    Bro(Bro),
    /// Charger output ready.
    Cro(Cro),
    /// Battery charging demand.
    Bcl(Bcl),
    /// Battery charging status.
    Bcs(Bcs),
    /// Charger charging status.
    Ccs(Ccs),
    /// Battery status.
    Bsm(Bsm),
    /// Cell voltages.
    Bmv(Bmv),
    /// Battery temperatures.
    Bmt(Bmt),
    /// Battery reserved.
    Bsp(Bsp),
    /// BMS stop.
    Bst(Bst),
    /// Charger stop.
    Cst(Cst),
    /// BMS statistics.
    Bsd(Bsd),
    /// Charger statistics.
    Csd(Csd),
    /// BMS error.
    Bem(Bem),
    /// Charger error.
    Cem(Cem),
}

/// Applies `$body` to the message inside any variant, bound as `$m`.
macro_rules! each_variant {
    ($self:expr, $m:ident => $body:expr) => {
        match $self {
            Message::Chm($m) => $body,
            Message::Bhm($m) => $body,
            Message::Crm($m) => $body,
            Message::Brm($m) => $body,
            Message::Bcp($m) => $body,
            Message::Cts($m) => $body,
            Message::Cml($m) => $body,
            Message::Bro($m) => $body,
            Message::Cro($m) => $body,
            Message::Bcl($m) => $body,
            Message::Bcs($m) => $body,
            Message::Ccs($m) => $body,
            Message::Bsm($m) => $body,
            Message::Bmv($m) => $body,
            Message::Bmt($m) => $body,
            Message::Bsp($m) => $body,
            Message::Bst($m) => $body,
            Message::Cst($m) => $body,
            Message::Bsd($m) => $body,
            Message::Csd($m) => $body,
            Message::Bem($m) => $body,
            Message::Cem($m) => $body,
        }
    };
}

/// The PGN of a message value, through its [`GbtMessage`] impl.
fn pgn_of<M: GbtMessage>(_: &M) -> Pgn {
    M::PGN
}

impl Message {
    /// The message's PGN.
    pub fn pgn(&self) -> Pgn {
        each_variant!(self, m => pgn_of(m))
    }

    /// The standard's priority for this message.
    pub fn priority(&self) -> u8 {
        self.pgn().default_priority()
    }

    /// The number of bytes [`encode`](Message::encode) writes.
    pub fn encoded_len(&self) -> usize {
        each_variant!(self, m => m.encoded_len())
    }

    /// Writes the payload to the front of `out`; returns its length. Never allocates.
    ///
    /// Payloads above 8 bytes (BRM, BCP, BCS, long BMV/BMT/BSP) go to the transport
    /// protocol ([`crate::gbt27930::tp::TpSender`]); shorter ones fit one frame
    /// ([`Message::to_frame`]).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        each_variant!(self, m => m.encode(out))
    }

    /// Decodes the payload of `pgn`; TP.CM/TP.DT are rejected (they are not messages).
    pub fn decode(pgn: Pgn, bytes: &[u8]) -> Result<Message, GbtDecodeError> {
        Ok(match pgn {
            Pgn::Chm => Message::Chm(Chm::decode(bytes)?),
            Pgn::Bhm => Message::Bhm(Bhm::decode(bytes)?),
            Pgn::Crm => Message::Crm(Crm::decode(bytes)?),
            Pgn::Brm => Message::Brm(Brm::decode(bytes)?),
            Pgn::Bcp => Message::Bcp(Bcp::decode(bytes)?),
            Pgn::Cts => Message::Cts(Cts::decode(bytes)?),
            Pgn::Cml => Message::Cml(Cml::decode(bytes)?),
            Pgn::Bro => Message::Bro(Bro::decode(bytes)?),
            Pgn::Cro => Message::Cro(Cro::decode(bytes)?),
            Pgn::Bcl => Message::Bcl(Bcl::decode(bytes)?),
            Pgn::Bcs => Message::Bcs(Bcs::decode(bytes)?),
            Pgn::Ccs => Message::Ccs(Ccs::decode(bytes)?),
            Pgn::Bsm => Message::Bsm(Bsm::decode(bytes)?),
            Pgn::Bmv => Message::Bmv(Bmv::decode(bytes)?),
            Pgn::Bmt => Message::Bmt(Bmt::decode(bytes)?),
            Pgn::Bsp => Message::Bsp(Bsp::decode(bytes)?),
            Pgn::Bst => Message::Bst(Bst::decode(bytes)?),
            Pgn::Cst => Message::Cst(Cst::decode(bytes)?),
            Pgn::Bsd => Message::Bsd(Bsd::decode(bytes)?),
            Pgn::Csd => Message::Csd(Csd::decode(bytes)?),
            Pgn::Bem => Message::Bem(Bem::decode(bytes)?),
            Pgn::Cem => Message::Cem(Cem::decode(bytes)?),
            Pgn::TpCm | Pgn::TpDt => return Err(GbtDecodeError::TransportPgn { pgn }),
        })
    }

    /// The single CAN frame `from` sends for this message (DLC = encoded length, §1.3).
    ///
    /// Fails with [`GbtEncodeError::NeedsTransport`] for payloads above 8 bytes. BRM, BCP
    /// and BCS always exceed 8 bytes; send them with the transport protocol even when short.
    pub fn to_frame(&self, from: Node) -> Result<CanFrame, GbtEncodeError> {
        let mut data = [0u8; 8];
        let pgn = self.pgn();
        let len = self.encoded_len();
        if len > data.len() {
            return Err(GbtEncodeError::NeedsTransport { pgn, len });
        }
        let len = self.encode(&mut data)?;
        let id = GbtId::new(pgn, from).raw();
        // The identifier is 29 bits by construction and `len <= 8` was checked above.
        CanFrame::from_parts(id, true, len as u8, data)
            .map_err(|_| GbtEncodeError::NeedsTransport { pgn, len })
    }
}

macro_rules! impl_from {
    ($($ty:ident),+) => {
        $(impl From<$ty> for Message {
            fn from(m: $ty) -> Message {
                Message::$ty(m)
            }
        })+
    };
}
impl_from!(
    Chm, Bhm, Crm, Brm, Bcp, Cts, Cml, Bro, Cro, Bcl, Bcs, Ccs, Bsm, Bmv, Bmt, Bsp, Bst, Cst, Bsd,
    Csd, Bem, Cem
);
