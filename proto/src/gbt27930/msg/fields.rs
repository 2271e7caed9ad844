//! Field codecs shared by the GB/T 27930 messages: scaled numbers, spec enums, 2-bit status
//! fields and fixed ASCII fields.
//!
//! Physical values are `f64` in the unit named by the field (`_v`, `_a`, `_kwh`, `_ah`,
//! `_pct`); integer-resolution values (°C, minutes, whole-percent SOC) are integers. Encoding
//! rounds to the nearest step and saturates at the field's range (NaN encodes as raw 0), so
//! encoding never fails on a value. Decoding divides the raw integer once, which gives the
//! nearest `f64` to the decimal value (`405.6`, not `405.59999`).

use core::fmt;

/// `x.round()` (half away from zero, the sign of zero kept, NaN and infinities unchanged),
/// bit for bit, without the libm call `f64::round` compiles to on a baseline x86-64 target:
/// every encoded field and every physics tick rounds, so the call showed in profiles.
///
/// Below 2^52 in magnitude, adding and subtracting 2^52 rounds `|x|` to the nearest
/// integer with ties to even (in `[2^52, 2^53)` the spacing of `f64` is exactly 1, so the
/// sum is one correctly rounded operation), and `|x| - r` is exact; a tie that went down
/// to the even integer is moved up, which is "half away from zero" for `|x|`. This avoids
/// the saturating `f64 -> i64 -> f64` round trip. From 2^52 on every `f64` is an integer.
#[inline]
pub fn round_half_away(x: f64) -> f64 {
    const EXACT: f64 = 4_503_599_627_370_496.0; // 2^52
    let a = x.abs();
    if a < EXACT {
        let mut r = (a + EXACT) - EXACT;
        if a - r == 0.5 {
            r += 1.0;
        }
        // `-0.3` rounds to `-0.0`, like `f64::round`.
        r.copysign(x)
    } else {
        x
    }
}

/// Rounds and saturates `scaled` into a raw `u16` field; NaN gives 0.
fn saturate_u16(scaled: f64) -> u16 {
    let r = round_half_away(scaled);
    if r.is_nan() || r <= 0.0 {
        0
    } else if r >= f64::from(u16::MAX) {
        u16::MAX
    } else {
        r as u16
    }
}

/// Raw value of a 0.1-unit field with zero offset (voltages, energy, capacity, 0.1 % SOC).
pub(crate) fn deci_to_raw(value: f64) -> u16 {
    saturate_u16(value * 10.0)
}

/// Physical value of a 0.1-unit field with zero offset.
pub(crate) fn deci_from_raw(raw: u16) -> f64 {
    f64::from(raw) / 10.0
}

/// Raw value of a 0.01-unit field (cell voltages), saturating at `max_raw`.
pub(crate) fn centi_to_raw(value: f64, max_raw: u16) -> u16 {
    saturate_u16(value * 100.0).min(max_raw)
}

/// Physical value of a 0.01-unit field.
pub(crate) fn centi_from_raw(raw: u16) -> f64 {
    f64::from(raw) / 100.0
}

/// Raw value of a current field: 0.1 A/bit, −400 A offset, charging positive
/// (`raw = 4000 − 10·A`, gbt27930.md §1.3). Saturates to 0..=65535, i.e. +400 A … −6153.5 A.
pub(crate) fn current_to_raw(charging_a: f64) -> u16 {
    saturate_u16(4000.0 - charging_a * 10.0)
}

/// Charging current in amperes from a raw current field (`A = (4000 − raw) / 10`).
pub(crate) fn current_from_raw(raw: u16) -> f64 {
    f64::from(4000 - i32::from(raw)) / 10.0
}

/// Raw value of a temperature byte: 1 °C/bit, −50 °C offset (−50 … +205 °C).
pub(crate) fn temperature_to_raw(celsius: i16) -> u8 {
    (celsius.saturating_add(50)).clamp(0, 255) as u8
}

/// Temperature in °C from a raw byte.
pub(crate) fn temperature_from_raw(raw: u8) -> i16 {
    i16::from(raw) - 50
}

/// Reads a little-endian `u16` from two bytes.
pub(crate) fn le16(lo: u8, hi: u8) -> u16 {
    u16::from_le_bytes([lo, hi])
}

/// A protocol version as carried by CHM and BRM: 3 bytes, `minor` then a 16-bit `major`.
///
/// V1.1 (2015) is `01 01 00`; V1.0 (2011 equipment) is `00 01 00` (gbt27930.md §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ProtocolVersion {
    /// Major version, bytes 2–3 (little-endian).
    pub major: u16,
    /// Minor version, byte 1.
    pub minor: u8,
}

impl ProtocolVersion {
    /// V1.1, the GB/T 27930-2015 version: `01 01 00`.
    pub const V1_1: ProtocolVersion = ProtocolVersion { major: 1, minor: 1 };
    /// V1.0, used by GB/T 27930-2011 equipment: `00 01 00`.
    pub const V1_0: ProtocolVersion = ProtocolVersion { major: 1, minor: 0 };

    /// The three wire bytes.
    pub const fn to_bytes(self) -> [u8; 3] {
        let major = self.major.to_le_bytes();
        [self.minor, major[0], major[1]]
    }

    /// Parses the three wire bytes.
    pub const fn from_bytes(b: [u8; 3]) -> ProtocolVersion {
        ProtocolVersion {
            major: u16::from_le_bytes([b[1], b[2]]),
            minor: b[0],
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "V{}.{}", self.major, self.minor)
    }
}

/// Defines a byte-coded spec enum with an `Unknown(u8)` catch-all so decoding never fails
/// and every received byte re-encodes unchanged.
macro_rules! byte_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value the standard does not define; kept as received.
            Unknown(u8),
        }

        impl $name {
            /// The enum for a wire byte; undefined bytes map to `Unknown`.
            pub const fn from_u8(value: u8) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }

            /// The wire byte.
            pub const fn to_u8(self) -> u8 {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

byte_enum! {
    /// Battery chemistry, BRM byte 4 (SPN2566, gbt27930.md §3.4).
    pub enum BatteryType {
        /// 0x01 lead-acid.
        LeadAcid = 0x01,
        /// 0x02 nickel-metal hydride.
        NickelMetalHydride = 0x02,
        /// 0x03 lithium iron phosphate (LFP).
        LithiumIronPhosphate = 0x03,
        /// 0x04 lithium manganate (LiMn2O4).
        LithiumManganate = 0x04,
        /// 0x05 lithium cobaltate (LiCoO2).
        LithiumCobaltate = 0x05,
        /// 0x06 ternary (NCM/NCA).
        Ternary = 0x06,
        /// 0x07 lithium-ion polymer.
        LithiumPolymer = 0x07,
        /// 0x08 lithium titanate (LTO).
        LithiumTitanate = 0x08,
        /// 0xFF other battery.
        Other = 0xFF,
    }
}

byte_enum! {
    /// Battery ownership, BRM byte 23 (SPN2573, §3.4).
    pub enum Ownership {
        /// 0 leased.
        Leased = 0x00,
        /// 1 owned by the vehicle.
        VehicleOwned = 0x01,
    }
}

byte_enum! {
    /// CRM recognition result, byte 1 (SPN2560, §3.3).
    pub enum Recognition {
        /// 0x00 the charger has not recognised the BMS.
        NotRecognized = 0x00,
        /// 0xAA the charger has recognised the BMS.
        Recognized = 0xAA,
    }
}

byte_enum! {
    /// BRO (SPN2829) / CRO (SPN2830) readiness byte (§3.8).
    pub enum Readiness {
        /// 0x00 not ready.
        NotReady = 0x00,
        /// 0xAA ready.
        Ready = 0xAA,
        /// 0xFF invalid.
        Invalid = 0xFF,
    }
}

byte_enum! {
    /// BCL charging mode, byte 5 (SPN3074, §3.9).
    pub enum ChargingMode {
        /// 0x01 constant voltage (CV).
        ConstantVoltage = 0x01,
        /// 0x02 constant current (CC).
        ConstantCurrent = 0x02,
    }
}

/// Defines a 2-bit status enum: all four codes are defined, so decoding is total.
macro_rules! two_bit_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(#[$m0:meta])* $v0:ident,
            $(#[$m1:meta])* $v1:ident,
            $(#[$m2:meta])* $v2:ident,
            $(#[$m3:meta])* $v3:ident,
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[derive(serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[$m0])* #[default] $v0,
            $(#[$m1])* $v1,
            $(#[$m2])* $v2,
            $(#[$m3])* $v3,
        }

        impl $name {
            /// The enum for the two bits at `shift` of `byte`.
            pub const fn from_bits(byte: u8, shift: u8) -> Self {
                match (byte >> shift) & 0b11 {
                    0b00 => $name::$v0,
                    0b01 => $name::$v1,
                    0b10 => $name::$v2,
                    _ => $name::$v3,
                }
            }

            /// The two-bit code, 0..=3.
            pub const fn bits(self) -> u8 {
                match self {
                    $name::$v0 => 0b00,
                    $name::$v1 => 0b01,
                    $name::$v2 => 0b10,
                    $name::$v3 => 0b11,
                }
            }
        }
    };
}

two_bit_enum! {
    /// The common 2-bit status code of GB/T 27930 (gbt27930.md §3 conventions): normal,
    /// active (reached / fault / timeout / abnormal, per field), untrusted, or not used.
    pub enum Status2 {
        /// `00` normal / not reached / no fault / no timeout.
        Normal,
        /// `01` active: the condition the field names holds (reached, fault, timeout, abnormal).
        Active,
        /// `10` untrusted ("不可信"); Annex C.3: keep the previous state.
        Untrusted,
        /// `11` not used (the fill value).
        NotUsed,
    }
}

two_bit_enum! {
    /// A 2-bit high/low level, BSM SPN3090 (cell voltage) and SPN3091 (SOC) (§3.12).
    pub enum Level2 {
        /// `00` normal.
        Normal,
        /// `01` too high.
        TooHigh,
        /// `10` too low.
        TooLow,
        /// `11` not used (the fill value).
        NotUsed,
    }
}

two_bit_enum! {
    /// Charging permission: CCS SPN3929 (§3.11) and BSM SPN3096 (§3.12).
    pub enum ChargingPermit {
        /// `00` paused / forbidden: output stops (CCS) or must pause (BSM).
        Paused,
        /// `01` permitted.
        Permitted,
        /// `10` not defined by the standard for this field.
        Undefined,
        /// `11` not used (the fill value).
        NotUsed,
    }
}

impl Status2 {
    /// Whether the field reports its condition (`01`).
    pub const fn is_active(self) -> bool {
        matches!(self, Status2::Active)
    }
}

/// Packs four 2-bit codes into a byte, the first at bits 1–2 (LSB).
pub(crate) const fn pack4(a: u8, b: u8, c: u8, d: u8) -> u8 {
    (a & 3) | (b & 3) << 2 | (c & 3) << 4 | (d & 3) << 6
}

/// A fixed-width ASCII field (VIN, manufacturer, region code), kept byte for byte.
///
/// Real devices put anything in optional text fields, so the bytes are not validated. JSON
/// and `Display` show printable ASCII as text and any other byte as `\xNN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FixedAscii<const N: usize>(pub [u8; N]);

impl<const N: usize> FixedAscii<N> {
    /// `text` truncated or padded to N bytes; padding is 0xFF, the standard's fill value.
    pub fn from_text(text: &str) -> FixedAscii<N> {
        let mut bytes = [0xFF; N];
        for (dst, src) in bytes.iter_mut().zip(text.bytes()) {
            *dst = src;
        }
        FixedAscii(bytes)
    }

    /// A field filled with 0xFF ("not provided").
    pub const fn unfilled() -> FixedAscii<N> {
        FixedAscii([0xFF; N])
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Display for FixedAscii<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02X}")?;
            }
        }
        Ok(())
    }
}

impl<const N: usize> serde::Serialize for FixedAscii<N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Serializes a byte array as an upper-case hex string (for opaque vendor fields).
pub(crate) fn serialize_hex<S: serde::Serializer, const N: usize>(
    bytes: &[u8; N],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut s = String::with_capacity(2 * N);
    crate::can::push_hex(&mut s, bytes);
    serializer.serialize_str(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_half_away_matches_f64_round_at_the_edges() {
        let edges = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            -0.3,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9_007_199_254_740_993.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        assert!(round_half_away(f64::NAN).is_nan());
        for x in edges {
            assert_eq!(round_half_away(x).to_bits(), x.round().to_bits(), "{x}");
        }
    }

    proptest! {
        #[test]
        fn round_half_away_is_f64_round_bit_for_bit(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            if x.is_nan() {
                // libm may quiet a signalling NaN; a NaN stays a NaN either way.
                prop_assert!(round_half_away(x).is_nan());
            } else {
                prop_assert_eq!(round_half_away(x).to_bits(), x.round().to_bits());
            }
        }

        #[test]
        fn round_half_away_is_f64_round_in_the_field_range(x in -1.0e7f64..1.0e7, k in 0u32..60) {
            // Field values, and the same mantissa scaled towards 2^52 where the spacing of
            // `f64` reaches 1/2 and 1.
            for v in [x, x * f64::from(2u32.pow(k.min(31))), x.fract(), x.fract() * 0.5] {
                prop_assert_eq!(round_half_away(v).to_bits(), v.round().to_bits(), "{}", v);
            }
        }

        #[test]
        fn round_half_away_is_f64_round_on_halves(n in -100_000_000i64..100_000_000) {
            let x = n as f64 / 2.0;
            prop_assert_eq!(round_half_away(x).to_bits(), x.round().to_bits());
        }
    }

    #[test]
    fn current_codec_matches_the_reference_examples() {
        // gbt27930.md §1.3: 200 A → D0 07, 250 A → DC 05, 0 A → A0 0F.
        assert_eq!(current_to_raw(200.0), 0x07D0);
        assert_eq!(current_to_raw(250.0), 0x05DC);
        assert_eq!(current_to_raw(0.0), 0x0FA0);
        assert_eq!(current_from_raw(0x0B1C), 115.6);
        assert_eq!(current_from_raw(0x0FA0), 0.0);
        assert_eq!(current_to_raw(500.0), 0, "saturates at +400 A");
        assert_eq!(current_to_raw(f64::NAN), 0);
        assert_eq!(current_from_raw(0xFFFF), -6153.5);
    }

    #[test]
    fn decimal_fields_decode_to_the_nearest_double() {
        assert_eq!(deci_from_raw(4056), 405.6);
        assert_eq!(deci_to_raw(405.6), 4056);
        assert_eq!(centi_from_raw(371), 3.71);
        assert_eq!(centi_to_raw(24.5, 0x0FFF), 2450);
        assert_eq!(centi_to_raw(99.0, 0x0FFF), 0x0FFF);
        assert_eq!(deci_to_raw(-1.0), 0);
        assert_eq!(deci_to_raw(1e9), u16::MAX);
    }

    #[test]
    fn temperature_offset_is_minus_50() {
        assert_eq!(temperature_from_raw(0x69), 55);
        assert_eq!(temperature_to_raw(65), 0x73);
        assert_eq!(temperature_to_raw(-60), 0);
        assert_eq!(temperature_to_raw(300), 255);
    }

    #[test]
    fn byte_enums_keep_unknown_values() {
        assert_eq!(BatteryType::from_u8(3), BatteryType::LithiumIronPhosphate);
        assert_eq!(BatteryType::from_u8(0x42), BatteryType::Unknown(0x42));
        assert_eq!(BatteryType::Unknown(0x42).to_u8(), 0x42);
        assert_eq!(Readiness::Ready.to_u8(), 0xAA);
    }

    #[test]
    fn two_bit_fields_pack_lsb_first() {
        assert_eq!(pack4(0, 1, 0, 0), 0x04);
        assert_eq!(pack4(0, 0, 0, 1), 0x40);
        assert_eq!(Status2::from_bits(0x40, 6), Status2::Active);
        assert_eq!(Level2::from_bits(0b1000, 2), Level2::TooLow);
        assert_eq!(
            ChargingPermit::from_bits(0x10, 4),
            ChargingPermit::Permitted
        );
    }

    #[test]
    fn ascii_fields_show_non_printable_bytes_escaped() {
        let vin = FixedAscii::<4>([b'C', b'A', 0x00, 0xFF]);
        assert_eq!(vin.to_string(), "CA\\x00\\xFF");
        assert_eq!(FixedAscii::<3>::from_text("UA").0, [b'U', b'A', 0xFF]);
        assert_eq!(ProtocolVersion::V1_1.to_bytes(), [1, 1, 0]);
        assert_eq!(
            ProtocolVersion::from_bytes([0, 1, 0]),
            ProtocolVersion::V1_0
        );
    }
}
