//! Civil time, the envelope `TimeStamp` (`yyyyMMddHHmmss`) and the per-second `Seq`.
//!
//! Nothing here reads a clock. A [`CivilTime`] is built from Unix-epoch seconds or from a
//! virtual [`Instant`] plus a [`CivilEpoch`] (the wall-clock second at virtual time zero and
//! the UTC offset, +08:00 for Chinese platforms). The day arithmetic is the proleptic Gregorian
//! days-from-civil algorithm, written here so no date crate (and no clock access) is needed.

use core::fmt;

use crate::time::Instant;

/// UTC offset of China Standard Time (+08:00), in which the platforms write their timestamps.
pub const CHINA_UTC_OFFSET_S: i32 = 8 * 3600;

/// A civil time is out of range or a string is not in the expected format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// A component is outside its calendar range (month 13, 30 February, hour 24…).
    #[error("{field} {value} is out of range")]
    OutOfRange {
        /// Which component.
        field: &'static str,
        /// The received value.
        value: i64,
    },
    /// A string does not match the format.
    #[error("{value:?} is not in the format {format}")]
    BadFormat {
        /// The expected format, e.g. `yyyyMMddHHmmss`.
        format: &'static str,
        /// The received string (truncated).
        value: String,
    },
}

/// A calendar date and time of day to the second, years 0000–9999, no time zone attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

const SECS_PER_DAY: i64 = 86_400;

/// Days from 1970-01-01 to `y-m-d` (proleptic Gregorian; negative before 1970).
const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `(year, month, day)` that is `z` days after 1970-01-01.
const fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

const fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

const fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `len` ASCII digits of `s` starting at byte `at`.
fn digits(s: &[u8], at: usize, len: usize) -> Option<i64> {
    let part = s.get(at..at + len)?;
    part.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn bad_format(format: &'static str, s: &str) -> TimeError {
    let mut value = s.to_owned();
    crate::tcec::lenient::truncate_for_error(&mut value);
    TimeError::BadFormat { format, value }
}

impl CivilTime {
    /// A validated civil time.
    pub fn new(
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
    ) -> Result<Self, TimeError> {
        let check = |field, value: i64, lo: i64, hi: i64| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(TimeError::OutOfRange { field, value })
            }
        };
        check("year", year, 0, 9999)?;
        check("month", month, 1, 12)?;
        check("day", day, 1, days_in_month(year, month))?;
        check("hour", hour, 0, 23)?;
        check("minute", minute, 0, 59)?;
        check("second", second, 0, 59)?;
        // Every component was range-checked above, so the narrowing casts are exact.
        Ok(CivilTime {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
        })
    }

    /// The UTC civil time `secs` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_seconds(secs: u64) -> Result<Self, TimeError> {
        Self::from_unix_seconds_with_offset(secs, 0)
    }

    /// The local civil time `secs` seconds after the Unix epoch, at `utc_offset_s` from UTC
    /// (use [`CHINA_UTC_OFFSET_S`] for the platforms' Beijing time).
    pub fn from_unix_seconds_with_offset(secs: u64, utc_offset_s: i32) -> Result<Self, TimeError> {
        let out_of_range = TimeError::OutOfRange {
            field: "unix seconds",
            value: i64::try_from(secs).unwrap_or(i64::MAX),
        };
        let local = i64::try_from(secs)
            .ok()
            .and_then(|s| s.checked_add(i64::from(utc_offset_s)))
            .ok_or(out_of_range)?;
        let (days, sod) = (
            local.div_euclid(SECS_PER_DAY),
            local.rem_euclid(SECS_PER_DAY),
        );
        let (y, m, d) = civil_from_days(days);
        Self::new(y, m, d, sod / 3600, sod % 3600 / 60, sod % 60)
    }

    /// Seconds since 1970-01-01T00:00:00 of this civil time read as UTC (negative before 1970).
    pub fn to_unix_seconds(self) -> i64 {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        days * SECS_PER_DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// This time plus `secs` seconds (may be negative).
    pub fn add_seconds(self, secs: i64) -> Result<Self, TimeError> {
        let t = self
            .to_unix_seconds()
            .checked_add(secs)
            .ok_or(TimeError::OutOfRange {
                field: "seconds",
                value: secs,
            })?;
        let (days, sod) = (t.div_euclid(SECS_PER_DAY), t.rem_euclid(SECS_PER_DAY));
        let (y, m, d) = civil_from_days(days);
        Self::new(y, m, d, sod / 3600, sod % 3600 / 60, sod % 60)
    }

    /// Year (0–9999).
    pub const fn year(self) -> u16 {
        self.year
    }
    /// Month (1–12).
    pub const fn month(self) -> u8 {
        self.month
    }
    /// Day of month (1–31).
    pub const fn day(self) -> u8 {
        self.day
    }
    /// Hour (0–23).
    pub const fn hour(self) -> u8 {
        self.hour
    }
    /// Minute (0–59).
    pub const fn minute(self) -> u8 {
        self.minute
    }
    /// Second (0–59).
    pub const fn second(self) -> u8 {
        self.second
    }

    /// `yyyyMMddHHmmss`, the envelope TimeStamp format.
    pub fn format_compact(self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `yyyy-MM-dd HH:mm:ss`, the format of AlarmTime, EventTime, StartTime (102.3)…
    pub fn format_datetime(self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `yyyy-MM-dd`, the format of statistics ranges and ProductionDate.
    pub fn format_date(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Parses `yyyyMMddHHmmss`.
    pub fn parse_compact(s: &str) -> Result<Self, TimeError> {
        const F: &str = "yyyyMMddHHmmss";
        let b = s.as_bytes();
        if b.len() != 14 {
            return Err(bad_format(F, s));
        }
        let p = |at, len| digits(b, at, len).ok_or_else(|| bad_format(F, s));
        Self::new(p(0, 4)?, p(4, 2)?, p(6, 2)?, p(8, 2)?, p(10, 2)?, p(12, 2)?)
    }

    /// Parses `yyyy-MM-dd HH:mm:ss`.
    pub fn parse_datetime(s: &str) -> Result<Self, TimeError> {
        const F: &str = "yyyy-MM-dd HH:mm:ss";
        let b = s.as_bytes();
        let seps = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
        if b.len() != 19 || seps.iter().any(|&(i, c)| b[i] != c) {
            return Err(bad_format(F, s));
        }
        let p = |at, len| digits(b, at, len).ok_or_else(|| bad_format(F, s));
        Self::new(
            p(0, 4)?,
            p(5, 2)?,
            p(8, 2)?,
            p(11, 2)?,
            p(14, 2)?,
            p(17, 2)?,
        )
    }

    /// Parses `yyyy-MM-dd` as midnight of that day.
    pub fn parse_date(s: &str) -> Result<Self, TimeError> {
        const F: &str = "yyyy-MM-dd";
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad_format(F, s));
        }
        let p = |at, len| digits(b, at, len).ok_or_else(|| bad_format(F, s));
        Self::new(p(0, 4)?, p(5, 2)?, p(8, 2)?, 0, 0, 0)
    }

    /// Parses a time of day `HHmmss` into `(hour, minute, second)`.
    pub fn parse_hhmmss(s: &str) -> Result<(u8, u8, u8), TimeError> {
        const F: &str = "HHmmss";
        let b = s.as_bytes();
        if b.len() != 6 {
            return Err(bad_format(F, s));
        }
        let p = |at| digits(b, at, 2).ok_or_else(|| bad_format(F, s));
        let t = Self::new(2000, 1, 1, p(0)?, p(2)?, p(4)?)?;
        Ok((t.hour, t.minute, t.second))
    }
}

/// Maps virtual time to civil time: the wall-clock second at virtual time zero and the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilEpoch {
    /// Unix-epoch seconds (UTC) at virtual [`Instant::ZERO`].
    pub unix_secs_at_zero: u64,
    /// Offset of the platforms' local time from UTC, seconds (usually [`CHINA_UTC_OFFSET_S`]).
    pub utc_offset_s: i32,
}

impl CivilEpoch {
    /// An epoch in Beijing time starting at `unix_secs_at_zero`.
    pub const fn beijing(unix_secs_at_zero: u64) -> Self {
        CivilEpoch {
            unix_secs_at_zero,
            utc_offset_s: CHINA_UTC_OFFSET_S,
        }
    }

    /// The local civil time at virtual time `now` (sub-second part truncated).
    pub fn civil_at(self, now: Instant) -> Result<CivilTime, TimeError> {
        let secs = self
            .unix_secs_at_zero
            .saturating_add(now.as_micros() / 1_000_000);
        CivilTime::from_unix_seconds_with_offset(secs, self.utc_offset_s)
    }
}

/// The envelope TimeStamp, written `yyyyMMddHHmmss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeStamp(pub CivilTime);

impl TimeStamp {
    /// Parses `yyyyMMddHHmmss`.
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        CivilTime::parse_compact(s).map(TimeStamp)
    }
}

impl fmt::Display for TimeStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.format_compact())
    }
}

/// The envelope Seq: four digits, counting up within one TimeStamp second ("新秒重计，如0001").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(u16);

impl Seq {
    /// The largest Seq that fits four digits.
    pub const MAX: u16 = 9999;

    /// A Seq in `0..=9999`, or `None`.
    pub const fn new(n: u16) -> Option<Self> {
        if n <= Self::MAX { Some(Seq(n)) } else { None }
    }

    /// The numeric value.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Parses exactly four ASCII digits.
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        let b = s.as_bytes();
        match digits(b, 0, 4) {
            Some(n) if b.len() == 4 => Ok(Seq(n as u16)),
            _ => Err(bad_format("4-digit Seq", s)),
        }
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

/// More than 9999 requests were sealed within one second.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Seq exhausted: 9999 requests already stamped {time_stamp}; retry in the next second")]
pub struct SeqExhausted {
    /// The second whose Seq space is used up.
    pub time_stamp: TimeStamp,
}

/// Issues `(TimeStamp, Seq)` pairs: Seq restarts at 0001 every new second.
///
/// Time given to [`SeqGenerator::next`] is clamped to never run backwards, so every pair
/// issued by one generator is unique.
#[derive(Debug, Clone, Default)]
pub struct SeqGenerator {
    last: Option<CivilTime>,
    count: u16,
}

impl SeqGenerator {
    /// A generator that has issued nothing.
    pub const fn new() -> Self {
        SeqGenerator {
            last: None,
            count: 0,
        }
    }

    /// The pair for a request sealed at `now`.
    pub fn next(&mut self, now: CivilTime) -> Result<(TimeStamp, Seq), SeqExhausted> {
        let now = match self.last {
            Some(last) if now < last => last,
            _ => now,
        };
        if self.last != Some(now) {
            self.last = Some(now);
            self.count = 0;
        }
        if self.count >= Seq::MAX {
            return Err(SeqExhausted {
                time_stamp: TimeStamp(now),
            });
        }
        self.count += 1;
        Ok((TimeStamp(now), Seq(self.count)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_unix_times() {
        let t = CivilTime::from_unix_seconds(0).unwrap();
        assert_eq!(t.format_datetime(), "1970-01-01 00:00:00");
        // 2016-07-29 14:24:00 +08:00 is 06:24:00Z, the TV-1 TimeStamp.
        let tv1 =
            CivilTime::from_unix_seconds_with_offset(1_469_773_440, CHINA_UTC_OFFSET_S).unwrap();
        assert_eq!(TimeStamp(tv1).to_string(), "20160729142400");
        let leap = CivilTime::from_unix_seconds(951_782_400).unwrap();
        assert_eq!(leap.format_date(), "2000-02-29");
        let end = CivilTime::from_unix_seconds(253_402_300_799).unwrap();
        assert_eq!(end.format_compact(), "99991231235959");
        assert!(CivilTime::from_unix_seconds(253_402_300_800).is_err());
        assert!(CivilTime::from_unix_seconds(u64::MAX).is_err());
    }

    #[test]
    fn epoch_maps_virtual_time() {
        let epoch = CivilEpoch::beijing(1_469_773_440);
        let t = epoch.civil_at(Instant::from_millis(61_999)).unwrap();
        assert_eq!(t.format_datetime(), "2016-07-29 14:25:01");
    }

    #[test]
    fn parsing_rejects_bad_input() {
        assert!(CivilTime::parse_compact("2016072914240").is_err());
        assert!(CivilTime::parse_compact("2016O729142400").is_err());
        assert!(CivilTime::parse_compact("20160229142400").is_ok());
        assert!(CivilTime::parse_compact("20150229142400").is_err());
        assert!(CivilTime::parse_datetime("2017-08-08T18:18:18").is_err());
        assert!(CivilTime::parse_datetime("2017-08-08 24:00:00").is_err());
        assert!(CivilTime::parse_date("2015-10-1").is_err());
        assert!(CivilTime::parse_hhmmss("240000").is_err());
        assert_eq!(CivilTime::parse_hhmmss("083000").unwrap(), (8, 30, 0));
        assert!(CivilTime::parse_datetime("２０１７-08-08 18:18:18").is_err());
    }

    #[test]
    fn seq_formats_and_parses() {
        assert_eq!(Seq::new(1).unwrap().to_string(), "0001");
        assert_eq!(Seq::parse("0042").unwrap().get(), 42);
        assert!(Seq::parse("42").is_err());
        assert!(Seq::parse("00042").is_err());
        assert!(Seq::new(10_000).is_none());
    }

    #[test]
    fn generator_rolls_per_second_and_never_goes_back() {
        let t0 = CivilTime::parse_datetime("2016-07-29 14:24:00").unwrap();
        let t1 = t0.add_seconds(1).unwrap();
        let mut g = SeqGenerator::new();
        let (ts, s) = g.next(t0).unwrap();
        assert_eq!(
            (ts.to_string().as_str(), s.to_string().as_str()),
            ("20160729142400", "0001")
        );
        assert_eq!(g.next(t0).unwrap().1.get(), 2);
        assert_eq!(g.next(t1).unwrap(), (TimeStamp(t1), Seq(1)));
        // Going back in time keeps stamping the latest second.
        assert_eq!(g.next(t0).unwrap(), (TimeStamp(t1), Seq(2)));
    }

    #[test]
    fn generator_reports_exhaustion() {
        let t0 = CivilTime::parse_datetime("2020-01-01 00:00:00").unwrap();
        let mut g = SeqGenerator::new();
        for _ in 0..9999 {
            g.next(t0).unwrap();
        }
        assert_eq!(
            g.next(t0),
            Err(SeqExhausted {
                time_stamp: TimeStamp(t0)
            })
        );
        assert_eq!(g.next(t0.add_seconds(1).unwrap()).unwrap().1.get(), 1);
    }

    proptest! {
        #[test]
        fn unix_round_trip(secs in 0u64..253_402_300_800) {
            let t = CivilTime::from_unix_seconds(secs).unwrap();
            prop_assert_eq!(t.to_unix_seconds(), secs as i64);
            prop_assert_eq!(CivilTime::parse_compact(&t.format_compact()).unwrap(), t);
            prop_assert_eq!(CivilTime::parse_datetime(&t.format_datetime()).unwrap(), t);
        }

        #[test]
        fn parsers_never_panic(s in ".{0,24}") {
            let _ = CivilTime::parse_compact(&s);
            let _ = CivilTime::parse_datetime(&s);
            let _ = CivilTime::parse_date(&s);
            let _ = CivilTime::parse_hhmmss(&s);
            let _ = Seq::parse(&s);
        }
    }
}
