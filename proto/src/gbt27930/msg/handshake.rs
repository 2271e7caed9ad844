//! Handshake and recognition messages: CHM, BHM, CRM, BRM (gbt27930.md §3.1–3.4).

use super::codec::{GbtDecodeError, GbtEncodeError, GbtMessage, fixed_message, head, head_mut};
use super::fields::{
    BatteryType, FixedAscii, Ownership, ProtocolVersion, Recognition, deci_from_raw, deci_to_raw,
    le16, serialize_hex,
};
use crate::gbt27930::id::Pgn;

/// CHM, charger handshake (PGN 0x2600, 3 bytes, 250 ms): the charger's protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Chm {
    /// Charger protocol version (SPN2600); V1.1 = `01 01 00`.
    pub version: ProtocolVersion,
}

impl Chm {
    fn to_bytes(self) -> [u8; 3] {
        self.version.to_bytes()
    }

    fn from_bytes(b: &[u8; 3]) -> Chm {
        Chm {
            version: ProtocolVersion::from_bytes(*b),
        }
    }
}
fixed_message!(Chm, Pgn::Chm, 3);

/// BHM, vehicle handshake (PGN 0x2700, 2 bytes, 250 ms).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bhm {
    /// Maximum allowed total charging voltage (SPN2601), 0.1 V/bit; chargers use it as the
    /// insulation-test voltage.
    pub max_charging_voltage_v: f64,
}

impl Bhm {
    fn to_bytes(self) -> [u8; 2] {
        deci_to_raw(self.max_charging_voltage_v).to_le_bytes()
    }

    fn from_bytes(b: &[u8; 2]) -> Bhm {
        Bhm {
            max_charging_voltage_v: deci_from_raw(le16(b[0], b[1])),
        }
    }
}
fixed_message!(Bhm, Pgn::Bhm, 2);

/// CRM, charger recognition (PGN 0x0100, 8 bytes, 250 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Crm {
    /// Recognition result (SPN2560): 0x00 not recognised, 0xAA recognised.
    pub recognition: Recognition,
    /// Charger number (SPN2561), bytes 2–5 little-endian.
    pub charger_number: u32,
    /// Charger/station region code (SPN2562), 3 ASCII bytes, optional (0xFF when absent).
    pub region_code: FixedAscii<3>,
}

impl Crm {
    fn to_bytes(self) -> [u8; 8] {
        let n = self.charger_number.to_le_bytes();
        let r = self.region_code.0;
        [
            self.recognition.to_u8(),
            n[0],
            n[1],
            n[2],
            n[3],
            r[0],
            r[1],
            r[2],
        ]
    }

    fn from_bytes(b: &[u8; 8]) -> Crm {
        Crm {
            recognition: Recognition::from_u8(b[0]),
            charger_number: u32::from_le_bytes([b[1], b[2], b[3], b[4]]),
            region_code: FixedAscii([b[5], b[6], b[7]]),
        }
    }
}
fixed_message!(Crm, Pgn::Crm, 8);

/// BRM, BMS and vehicle recognition (PGN 0x0200, 49 bytes via TP, 250 ms).
///
/// The standard's own tables disagree (41 vs 49 bytes); real BMSs send 49 and this type
/// encodes 49 when `details` carries a software version, 41 without one, and 8 without
/// details (gbt27930.md §6.3). Decoding accepts any length ≥ 8 and reads the longest of
/// the three forms that fits.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Brm {
    /// BMS protocol version (SPN2565), bytes 1–3.
    pub version: ProtocolVersion,
    /// Battery type (SPN2566), byte 4.
    pub battery_type: BatteryType,
    /// Rated capacity (SPN2567), 0.1 Ah/bit.
    pub rated_capacity_ah: f64,
    /// Rated total voltage (SPN2568), 0.1 V/bit.
    pub rated_voltage_v: f64,
    /// Bytes 9–49; `None` for the 8-byte form some BMSs send as a single frame.
    pub details: Option<BrmDetails>,
}

/// The optional part of BRM, bytes 9–41 plus the software version in bytes 42–49.
///
/// Real BMSs put garbage in these fields (a production year of 2084 in \[T1\]), so nothing
/// here is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BrmDetails {
    /// Battery manufacturer (SPN2569), 4 ASCII bytes.
    pub manufacturer: FixedAscii<4>,
    /// Pack serial number (SPN2570), vendor defined.
    #[serde(serialize_with = "serialize_hex")]
    pub pack_serial: [u8; 4],
    /// Production year (SPN2571), 1 year/bit with offset 1985 (1985…2240).
    pub production_year: u16,
    /// Production month, 1–12.
    pub production_month: u8,
    /// Production day, 1–31.
    pub production_day: u8,
    /// Pack charge count (SPN2572), 3 bytes little-endian (0…16 777 215).
    pub charge_count: u32,
    /// Ownership (SPN2573).
    pub ownership: Ownership,
    /// Vehicle identification number (SPN2575), 17 ASCII bytes.
    pub vin: FixedAscii<17>,
    /// BMS software version (SPN2576), 8 bytes; `None` in the 41-byte form. Layout per
    /// \[XF\]/\[T1\] (serial, day, month, year LE, 3 reserved) is partly unconfirmed, so the bytes
    /// are kept raw.
    #[serde(serialize_with = "serialize_opt_hex8")]
    pub software_version: Option<[u8; 8]>,
}

fn serialize_opt_hex8<S: serde::Serializer>(
    v: &Option<[u8; 8]>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(bytes) => serialize_hex(bytes, serializer),
        None => serializer.serialize_none(),
    }
}

impl Brm {
    /// Length of the full 2015 form (table 11 and every real BMS).
    pub const LEN: usize = 49;
    /// Length without the software version (table 3 of the standard, 2011 equipment).
    pub const LEN_WITHOUT_SOFTWARE_VERSION: usize = 41;
    /// Length of the short single-frame form (version, type, capacity, voltage).
    pub const LEN_SHORT: usize = 8;

    fn write_base(&self, b: &mut [u8; 8]) {
        let v = self.version.to_bytes();
        let cap = deci_to_raw(self.rated_capacity_ah).to_le_bytes();
        let volt = deci_to_raw(self.rated_voltage_v).to_le_bytes();
        *b = [
            v[0],
            v[1],
            v[2],
            self.battery_type.to_u8(),
            cap[0],
            cap[1],
            volt[0],
            volt[1],
        ];
    }

    fn read_base(b: &[u8; 8]) -> Brm {
        Brm {
            version: ProtocolVersion::from_bytes([b[0], b[1], b[2]]),
            battery_type: BatteryType::from_u8(b[3]),
            rated_capacity_ah: deci_from_raw(le16(b[4], b[5])),
            rated_voltage_v: deci_from_raw(le16(b[6], b[7])),
            details: None,
        }
    }
}

impl BrmDetails {
    /// Writes bytes 9–41 (33 bytes); byte 24 is reserved and filled with 0xFF.
    fn write(&self, b: &mut [u8; 33]) {
        let year = self.production_year.saturating_sub(1985).min(255) as u8;
        let count = self.charge_count.min(0x00FF_FFFF).to_le_bytes();
        b[0..4].copy_from_slice(&self.manufacturer.0);
        b[4..8].copy_from_slice(&self.pack_serial);
        b[8] = year;
        b[9] = self.production_month;
        b[10] = self.production_day;
        b[11..14].copy_from_slice(&count[..3]);
        b[14] = self.ownership.to_u8();
        b[15] = 0xFF;
        b[16..33].copy_from_slice(&self.vin.0);
    }

    fn read(b: &[u8; 33], software_version: Option<[u8; 8]>) -> BrmDetails {
        let mut vin = [0u8; 17];
        vin.copy_from_slice(&b[16..33]);
        BrmDetails {
            manufacturer: FixedAscii([b[0], b[1], b[2], b[3]]),
            pack_serial: [b[4], b[5], b[6], b[7]],
            production_year: 1985 + u16::from(b[8]),
            production_month: b[9],
            production_day: b[10],
            charge_count: u32::from_le_bytes([b[11], b[12], b[13], 0]),
            ownership: Ownership::from_u8(b[14]),
            vin: FixedAscii(vin),
            software_version,
        }
    }
}

impl GbtMessage for Brm {
    const PGN: Pgn = Pgn::Brm;

    fn encoded_len(&self) -> usize {
        match &self.details {
            None => Self::LEN_SHORT,
            Some(d) if d.software_version.is_none() => Self::LEN_WITHOUT_SOFTWARE_VERSION,
            Some(_) => Self::LEN,
        }
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        let len = self.encoded_len();
        let got = out.len();
        let out = out.get_mut(..len).ok_or(GbtEncodeError::BufferTooSmall {
            pgn: Pgn::Brm,
            needed: len,
            got,
        })?;
        let (base, rest) = out.split_at_mut(Self::LEN_SHORT);
        self.write_base(head_mut::<8>(Pgn::Brm, base)?);
        if let Some(details) = &self.details {
            let (middle, tail) = rest.split_at_mut(33);
            details.write(head_mut::<33>(Pgn::Brm, middle)?);
            if let Some(sw) = &details.software_version {
                *head_mut::<8>(Pgn::Brm, tail)? = *sw;
            }
        }
        Ok(len)
    }

    fn decode(bytes: &[u8]) -> Result<Brm, GbtDecodeError> {
        let mut brm = Brm::read_base(head::<8>(Pgn::Brm, bytes)?);
        let rest = bytes.get(Self::LEN_SHORT..).unwrap_or(&[]);
        if let Some(middle) = rest.first_chunk::<33>() {
            let software_version = rest.get(33..).and_then(|t| t.first_chunk::<8>()).copied();
            brm.details = Some(BrmDetails::read(middle, software_version));
        }
        Ok(brm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 49-byte BRM of the real \[T1\] session (7 TP.DT packets, sequence bytes removed).
    pub(crate) const T1_BRM: [u8; 49] = [
        0x01, 0x01, 0x00, // V1.1
        0x03, // LFP
        0xF0, 0x05, // 152.0 Ah
        0x40, 0x0E, // 364.8 V
        0x01, 0x00, 0x00, 0x00, // manufacturer (not ASCII in this car)
        0x01, 0x00, 0x00, 0x00, // pack serial
        0x63, 0x0B, 0x08, // 1985 + 99 = 2084 (garbage), November, 8th
        0x95, 0x00, 0x00, // charge count 149
        0x01, // vehicle owned
        0xFF, // reserved
        b'L', b'1', b'N', b'S', b'P', b'G', b'H', b'9', b'8', b'N', b'A', b'1', b'9', b'6', b'2',
        b'0', b'2', // VIN
        0x00, 0x01, 0x04, 0xE7, 0x07, 0xFF, 0xFF, 0x00, // software version
    ];

    #[test]
    fn real_brm_decodes_to_the_reference_values() {
        let brm = Brm::decode(&T1_BRM).unwrap();
        assert_eq!(brm.version, ProtocolVersion::V1_1);
        assert_eq!(brm.battery_type, BatteryType::LithiumIronPhosphate);
        assert_eq!(brm.rated_capacity_ah, 152.0);
        assert_eq!(brm.rated_voltage_v, 364.8);
        let d = brm.details.unwrap();
        assert_eq!(d.vin.to_string(), "L1NSPGH98NA196202");
        assert_eq!(d.charge_count, 149);
        assert_eq!(d.production_year, 2084);
        assert_eq!(d.ownership, Ownership::VehicleOwned);
        assert_eq!(
            d.software_version,
            Some([0x00, 0x01, 0x04, 0xE7, 0x07, 0xFF, 0xFF, 0x00])
        );
        let mut out = [0u8; 64];
        assert_eq!(brm.encode(&mut out), Ok(49));
        assert_eq!(out[..49], T1_BRM);
    }

    #[test]
    fn short_brm_forms_decode_and_re_encode_at_their_length() {
        let b41 = Brm::decode(&T1_BRM[..41]).unwrap();
        assert_eq!(b41.details.unwrap().software_version, None);
        assert_eq!(b41.encoded_len(), 41);
        let b8 = Brm::decode(&T1_BRM[..8]).unwrap();
        assert_eq!(b8.details, None);
        let mut out = [0u8; 8];
        assert_eq!(b8.encode(&mut out), Ok(8));
        assert_eq!(out, T1_BRM[..8]);
        // A 20-byte BRM reads as the 8-byte form: the details need all 33 bytes.
        assert_eq!(Brm::decode(&T1_BRM[..20]).unwrap().details, None);
        assert!(matches!(
            Brm::decode(&T1_BRM[..7]),
            Err(GbtDecodeError::TooShort { min: 8, .. })
        ));
        assert!(matches!(
            Brm::decode(&T1_BRM).unwrap().encode(&mut [0u8; 48]),
            Err(GbtEncodeError::BufferTooSmall { needed: 49, .. })
        ));
    }

    #[test]
    fn real_t2_brm_header_is_ncm_catl() {
        // [T2] candump3 DT#1/#2: 01 01 00 06 08 07 8A | 0D 'C' 'A' 'T' 'L' FF FF …
        let mut bytes = [0xFF; 49];
        bytes[..12].copy_from_slice(&[
            0x01, 0x01, 0x00, 0x06, 0x08, 0x07, 0x8A, 0x0D, b'C', b'A', b'T', b'L',
        ]);
        let brm = Brm::decode(&bytes).unwrap();
        assert_eq!(brm.battery_type, BatteryType::Ternary);
        assert_eq!(brm.rated_capacity_ah, 180.0);
        assert_eq!(brm.rated_voltage_v, 346.6);
        assert_eq!(brm.details.unwrap().manufacturer.to_string(), "CATL");
    }

    #[test]
    fn handshake_messages_match_real_frames() {
        // [T1] CHM 01 01 00, BHM A5 10 = 426.1 V; [T2] BHM D8 0F = 405.6 V.
        assert_eq!(
            Chm::decode(&[0x01, 0x01, 0x00]).unwrap().version,
            ProtocolVersion::V1_1
        );
        let bhm = Bhm::decode(&[0xA5, 0x10]).unwrap();
        assert_eq!(bhm.max_charging_voltage_v, 426.1);
        let mut out = [0u8; 2];
        Bhm {
            max_charging_voltage_v: 405.6,
        }
        .encode(&mut out)
        .unwrap();
        assert_eq!(out, [0xD8, 0x0F]);
        // [T1] CRM(0xAA) AA 01 01 01 01 31 32 33: charger 0x01010101, region "123".
        let crm = Crm::decode(&[0xAA, 1, 1, 1, 1, 0x31, 0x32, 0x33]).unwrap();
        assert_eq!(crm.recognition, Recognition::Recognized);
        assert_eq!(crm.charger_number, 0x0101_0101);
        assert_eq!(crm.region_code.to_string(), "123");
    }
}
