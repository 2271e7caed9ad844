//! Parameter-configuration messages: BCP, CTS, CML, BRO, CRO (gbt27930.md §3.5–3.8).

use super::codec::{GbtDecodeError, GbtEncodeError, GbtMessage, fixed_message, head, head_mut};
use super::fields::{
    Readiness, centi_from_raw, centi_to_raw, current_from_raw, current_to_raw, deci_from_raw,
    deci_to_raw, le16, temperature_from_raw, temperature_to_raw,
};
use crate::gbt27930::id::Pgn;

/// BCP, battery charging parameters (PGN 0x0600, 13 bytes via TP, 500 ms).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bcp {
    /// Maximum allowed cell charging voltage (SPN2816), 0.01 V/bit.
    pub max_cell_voltage_v: f64,
    /// Maximum allowed charging current (SPN2817), 0.1 A/bit, −400 A offset.
    pub max_current_a: f64,
    /// Nominal total energy (SPN2818), 0.1 kWh/bit.
    pub nominal_energy_kwh: f64,
    /// Maximum allowed total charging voltage (SPN2819), 0.1 V/bit.
    pub max_total_voltage_v: f64,
    /// Maximum allowed battery temperature (SPN2820), 1 °C/bit, −50 °C offset.
    pub max_temperature_c: i16,
    /// Vehicle state of charge (SPN2821), **0.1 %/bit** (BCS and BSD use 1 %/bit).
    pub soc_pct: f64,
    /// Present battery voltage (SPN2822), 0.1 V/bit; the charger's pre-charge reference.
    pub battery_voltage_v: f64,
}

impl Bcp {
    fn to_bytes(self) -> [u8; 13] {
        let cell = centi_to_raw(self.max_cell_voltage_v, u16::MAX).to_le_bytes();
        let cur = current_to_raw(self.max_current_a).to_le_bytes();
        let energy = deci_to_raw(self.nominal_energy_kwh).to_le_bytes();
        let total = deci_to_raw(self.max_total_voltage_v).to_le_bytes();
        let soc = deci_to_raw(self.soc_pct).to_le_bytes();
        let batt = deci_to_raw(self.battery_voltage_v).to_le_bytes();
        [
            cell[0],
            cell[1],
            cur[0],
            cur[1],
            energy[0],
            energy[1],
            total[0],
            total[1],
            temperature_to_raw(self.max_temperature_c),
            soc[0],
            soc[1],
            batt[0],
            batt[1],
        ]
    }

    fn from_bytes(b: &[u8; 13]) -> Bcp {
        Bcp {
            max_cell_voltage_v: centi_from_raw(le16(b[0], b[1])),
            max_current_a: current_from_raw(le16(b[2], b[3])),
            nominal_energy_kwh: deci_from_raw(le16(b[4], b[5])),
            max_total_voltage_v: deci_from_raw(le16(b[6], b[7])),
            max_temperature_c: temperature_from_raw(b[8]),
            soc_pct: deci_from_raw(le16(b[9], b[10])),
            battery_voltage_v: deci_from_raw(le16(b[11], b[12])),
        }
    }
}
fixed_message!(Bcp, Pgn::Bcp, 13);

/// CTS, charger time synchronisation (PGN 0x0700, 7 bytes, 500 ms). The whole content is
/// optional.
///
/// Real chargers send all `FF` or non-BCD garbage (`1A 06 14 14 15 00 00` in \[T2\]), so the
/// bytes are kept raw and [`Cts::time`] interprets them only when they are valid BCD.
/// Decoding accepts any length: missing bytes read as 0xFF (not provided).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cts {
    /// The seven wire bytes: second, minute, hour, day, month, year % 100, century (BCD).
    pub bytes: [u8; 7],
}

/// A wall-clock time as CTS carries it (packed BCD, seconds first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct CtsTime {
    /// Year, 0…9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
}

fn to_bcd(v: u8) -> u8 {
    let v = v % 100;
    (v / 10) << 4 | (v % 10)
}

fn from_bcd(b: u8) -> Option<u8> {
    let (hi, lo) = (b >> 4, b & 0x0F);
    (hi < 10 && lo < 10).then_some(hi * 10 + lo)
}

impl Cts {
    /// A CTS with no time (all `FF`), as most real chargers send.
    pub const NOT_PROVIDED: Cts = Cts { bytes: [0xFF; 7] };

    /// A CTS carrying `time` in packed BCD; byte 6 is `year % 100`, byte 7 the century.
    pub fn from_time(time: CtsTime) -> Cts {
        let year = time.year % 10_000;
        Cts {
            bytes: [
                to_bcd(time.second),
                to_bcd(time.minute),
                to_bcd(time.hour),
                to_bcd(time.day),
                to_bcd(time.month),
                to_bcd((year % 100) as u8),
                to_bcd((year / 100) as u8),
            ],
        }
    }

    /// The carried time, if every byte is valid BCD in range; `None` for `FF` or garbage.
    pub fn time(&self) -> Option<CtsTime> {
        let [s, mi, h, d, mo, y_lo, y_hi] = self.bytes;
        let t = CtsTime {
            second: from_bcd(s)?,
            minute: from_bcd(mi)?,
            hour: from_bcd(h)?,
            day: from_bcd(d)?,
            month: from_bcd(mo)?,
            year: u16::from(from_bcd(y_hi)?) * 100 + u16::from(from_bcd(y_lo)?),
        };
        let valid = t.second < 60
            && t.minute < 60
            && t.hour < 24
            && (1..=31).contains(&t.day)
            && (1..=12).contains(&t.month);
        valid.then_some(t)
    }
}

impl serde::Serialize for Cts {
    /// `{"bytes":"FFFFFFFFFFFFFF","time":null}`: the raw bytes and, when valid, the time.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut hex = String::with_capacity(14);
        crate::can::push_hex(&mut hex, &self.bytes);
        let mut s = serializer.serialize_struct("Cts", 2)?;
        s.serialize_field("bytes", &hex)?;
        s.serialize_field("time", &self.time())?;
        s.end()
    }
}

impl GbtMessage for Cts {
    const PGN: Pgn = Pgn::Cts;

    fn encoded_len(&self) -> usize {
        7
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        *head_mut::<7>(Pgn::Cts, out)? = self.bytes;
        Ok(7)
    }

    fn decode(bytes: &[u8]) -> Result<Cts, GbtDecodeError> {
        let mut cts = Cts::NOT_PROVIDED;
        for (dst, src) in cts.bytes.iter_mut().zip(bytes) {
            *dst = *src;
        }
        Ok(cts)
    }
}

/// CML, charger maximum output capability (PGN 0x0800, 8 bytes, 250 ms).
///
/// Decoded as sent: one real charger swaps the two current fields (\[T2\] candump2), so use
/// [`Cml::normalized`] before acting on the limits.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Cml {
    /// Maximum output voltage (SPN2824), 0.1 V/bit.
    pub max_voltage_v: f64,
    /// Minimum output voltage (SPN2825), 0.1 V/bit.
    pub min_voltage_v: f64,
    /// Maximum output current (SPN2826), 0.1 A/bit, −400 A offset.
    pub max_current_a: f64,
    /// Minimum output current (SPN2827); added in 2015, `None` in the 6-byte 2011 CML.
    pub min_current_a: Option<f64>,
}

impl Cml {
    /// The defined length (2015).
    pub const LEN: usize = 8;
    /// Length of a GB/T 27930-2011 CML, without the minimum current.
    pub const LEN_2011: usize = 6;

    /// The same limits with each min/max pair in order (the reference's advice for BMSs
    /// facing chargers that swap the current fields).
    pub fn normalized(&self) -> Cml {
        let (min_v, max_v) = ordered(self.min_voltage_v, self.max_voltage_v);
        let (min_a, max_a) = match self.min_current_a {
            Some(min_a) => {
                let (lo, hi) = ordered(min_a, self.max_current_a);
                (Some(lo), hi)
            }
            None => (None, self.max_current_a),
        };
        Cml {
            max_voltage_v: max_v,
            min_voltage_v: min_v,
            max_current_a: max_a,
            min_current_a: min_a,
        }
    }
}

fn ordered(a: f64, b: f64) -> (f64, f64) {
    if a <= b { (a, b) } else { (b, a) }
}

impl GbtMessage for Cml {
    const PGN: Pgn = Pgn::Cml;

    fn encoded_len(&self) -> usize {
        if self.min_current_a.is_some() {
            Self::LEN
        } else {
            Self::LEN_2011
        }
    }

    fn encode(&self, out: &mut [u8]) -> Result<usize, GbtEncodeError> {
        let max_v = deci_to_raw(self.max_voltage_v).to_le_bytes();
        let min_v = deci_to_raw(self.min_voltage_v).to_le_bytes();
        let max_a = current_to_raw(self.max_current_a).to_le_bytes();
        let base = [max_v[0], max_v[1], min_v[0], min_v[1], max_a[0], max_a[1]];
        match self.min_current_a {
            Some(min_a) => {
                let min_a = current_to_raw(min_a).to_le_bytes();
                let b = head_mut::<8>(Pgn::Cml, out)?;
                b[..6].copy_from_slice(&base);
                b[6..].copy_from_slice(&min_a);
                Ok(Self::LEN)
            }
            None => {
                *head_mut::<6>(Pgn::Cml, out)? = base;
                Ok(Self::LEN_2011)
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Cml, GbtDecodeError> {
        let b = head::<6>(Pgn::Cml, bytes)?;
        let min_current_a = bytes
            .get(6..8)
            .and_then(|t| t.first_chunk::<2>())
            .map(|t| current_from_raw(le16(t[0], t[1])));
        Ok(Cml {
            max_voltage_v: deci_from_raw(le16(b[0], b[1])),
            min_voltage_v: deci_from_raw(le16(b[2], b[3])),
            max_current_a: current_from_raw(le16(b[4], b[5])),
            min_current_a,
        })
    }
}

/// BRO, BMS ready for charging (PGN 0x0900, 1 byte, 250 ms, priority 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bro {
    /// BMS readiness (SPN2829): 0x00 not ready, 0xAA ready, 0xFF invalid.
    pub readiness: Readiness,
}

impl Bro {
    fn to_bytes(self) -> [u8; 1] {
        [self.readiness.to_u8()]
    }

    fn from_bytes(b: &[u8; 1]) -> Bro {
        Bro {
            readiness: Readiness::from_u8(b[0]),
        }
    }
}
fixed_message!(Bro, Pgn::Bro, 1);

/// CRO, charger output ready (PGN 0x0A00, 1 byte, 250 ms, priority 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cro {
    /// Charger readiness (SPN2830): 0x00 not ready, 0xAA ready, 0xFF invalid.
    pub readiness: Readiness,
}

impl Cro {
    fn to_bytes(self) -> [u8; 1] {
        [self.readiness.to_u8()]
    }

    fn from_bytes(b: &[u8; 1]) -> Cro {
        Cro {
            readiness: Readiness::from_u8(b[0]),
        }
    }
}
fixed_message!(Cro, Pgn::Cro, 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_bcp_frames_decode_and_re_encode() {
        // [T1] BCP via TP: 72 01 | DA 05 | 2A 02 | A5 10 | 73 | 08 03 | C6 0E
        let t1 = [
            0x72, 0x01, 0xDA, 0x05, 0x2A, 0x02, 0xA5, 0x10, 0x73, 0x08, 0x03, 0xC6, 0x0E,
        ];
        let bcp = Bcp::decode(&t1).unwrap();
        assert_eq!(
            bcp,
            Bcp {
                max_cell_voltage_v: 3.70,
                max_current_a: 250.2,
                nominal_energy_kwh: 55.4,
                max_total_voltage_v: 426.1,
                max_temperature_c: 65,
                soc_pct: 77.6,
                battery_voltage_v: 378.2,
            }
        );
        let mut out = [0u8; 13];
        assert_eq!(bcp.encode(&mut out), Ok(13));
        assert_eq!(out, t1);
    }

    #[test]
    fn cts_keeps_garbage_and_reads_valid_bcd() {
        // [T2] candump2 garbage CTS and [T1] all-FF CTS both decode.
        let garbage = Cts::decode(&[0x1A, 0x06, 0x14, 0x14, 0x15, 0x00, 0x00]).unwrap();
        assert_eq!(garbage.time(), None);
        assert_eq!(Cts::decode(&[0xFF; 7]).unwrap(), Cts::NOT_PROVIDED);
        assert_eq!(
            Cts::decode(&[0x41]).unwrap().bytes,
            [0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        let t = CtsTime {
            year: 2023,
            month: 12,
            day: 25,
            hour: 22,
            minute: 8,
            second: 41,
        };
        let cts = Cts::from_time(t);
        assert_eq!(cts.bytes, [0x41, 0x08, 0x22, 0x25, 0x12, 0x23, 0x20]);
        assert_eq!(cts.time(), Some(t));
        assert_eq!(
            serde_json::to_string(&Cts::NOT_PROVIDED).unwrap(),
            r#"{"bytes":"FFFFFFFFFFFFFF","time":null}"#
        );
    }

    #[test]
    fn cml_real_frames_and_the_swapped_anomaly() {
        // [T1] 1C 25 7C 01 DC 05 A0 0F = 950 V / 38 V / 250 A / 0 A.
        let t1 = [0x1C, 0x25, 0x7C, 0x01, 0xDC, 0x05, 0xA0, 0x0F];
        let cml = Cml::decode(&t1).unwrap();
        assert_eq!(
            cml,
            Cml {
                max_voltage_v: 950.0,
                min_voltage_v: 38.0,
                max_current_a: 250.0,
                min_current_a: Some(0.0),
            }
        );
        let mut out = [0u8; 8];
        assert_eq!(cml.encode(&mut out), Ok(8));
        assert_eq!(out, t1);
        // [T2] candump2: 64 19 D0 07 AC 0D B0 04, "max" 50 A and "min" 280 A.
        let swapped = Cml::decode(&[0x64, 0x19, 0xD0, 0x07, 0xAC, 0x0D, 0xB0, 0x04]).unwrap();
        assert_eq!(swapped.max_current_a, 50.0);
        assert_eq!(swapped.min_current_a, Some(280.0));
        let n = swapped.normalized();
        assert_eq!((n.min_current_a, n.max_current_a), (Some(50.0), 280.0));
        assert_eq!((n.min_voltage_v, n.max_voltage_v), (200.0, 650.0));
    }

    #[test]
    fn cml_2011_has_six_bytes_and_no_min_current() {
        let cml = Cml::decode(&[0x94, 0x11, 0xD0, 0x07, 0xF0, 0x0A]).unwrap();
        assert_eq!(cml.min_current_a, None);
        assert_eq!(cml.max_current_a, 120.0);
        let mut out = [0u8; 8];
        assert_eq!(cml.encode(&mut out), Ok(6));
        assert!(matches!(
            Cml::decode(&[0x94, 0x11, 0xD0, 0x07, 0xF0]),
            Err(GbtDecodeError::TooShort { min: 6, .. })
        ));
        // A 7-byte CML has only half a minimum current: read as the 2011 form.
        assert_eq!(
            Cml::decode(&[0, 0, 0, 0, 0, 0, 0]).unwrap().min_current_a,
            None
        );
    }

    #[test]
    fn bro_cro_readiness() {
        assert_eq!(Bro::decode(&[0xAA]).unwrap().readiness, Readiness::Ready);
        assert_eq!(Cro::decode(&[0x00]).unwrap().readiness, Readiness::NotReady);
        assert_eq!(
            Cro::decode(&[0x55, 0xFF]).unwrap().readiness,
            Readiness::Unknown(0x55)
        );
        assert!(Bro::decode(&[]).is_err());
    }
}
