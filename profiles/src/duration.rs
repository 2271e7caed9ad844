//! Human durations: `90s`, `15m`, `1h30m`, `2h`, `250ms`, `1d`.

use std::fmt;

/// A duration written for humans, parsed to whole microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration {
    /// The duration in microseconds.
    pub micros: u64,
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (examples: 90s, 15m, 1h30m, 250ms)")]
pub struct DurationError {
    /// The rejected text.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl HumanDuration {
    /// Parses `1h30m`, `90s`, `250ms`, `2d`, `1.5h`; a bare number means seconds.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let err = |reason| DurationError {
            input: input.to_owned(),
            reason,
        };
        let text = input.trim();
        if text.is_empty() {
            return Err(err("empty"));
        }
        if let Ok(secs) = text.parse::<f64>() {
            return Self::from_secs_f64(secs).ok_or_else(|| err("out of range"));
        }
        let mut total_us: f64 = 0.0;
        let mut rest = text;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| err("a number needs a unit"))?;
            if num_len == 0 {
                return Err(err("expected a number"));
            }
            let value: f64 = rest[..num_len].parse().map_err(|_| err("bad number"))?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit_us = match rest[..unit_len].trim() {
                "us" | "µs" => 1.0,
                "ms" => 1e3,
                "s" | "sec" => 1e6,
                "m" | "min" => 60e6,
                "h" => 3600e6,
                "d" => 86_400e6,
                _ => return Err(err("unknown unit (use us, ms, s, m, h, d)")),
            };
            rest = &rest[unit_len..];
            total_us += value * unit_us;
        }
        Self::from_secs_f64(total_us / 1e6).ok_or_else(|| err("out of range"))
    }

    fn from_secs_f64(secs: f64) -> Option<Self> {
        let micros = (secs * 1e6).round();
        (0.0..1.8e19).contains(&micros).then_some(HumanDuration {
            micros: micros as u64,
        })
    }

    /// The duration in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.micros as f64 / 1e6
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.micros / 1_000_000;
        let sub = self.micros % 1_000_000;
        if sub != 0 {
            return write!(f, "{}ms", self.micros as f64 / 1000.0);
        }
        let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
        let mut wrote = false;
        if h > 0 {
            write!(f, "{h}h")?;
            wrote = true;
        }
        if m > 0 {
            write!(f, "{m}m")?;
            wrote = true;
        }
        if s > 0 || !wrote {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_and_bare_forms() {
        let secs = |s: &str| HumanDuration::parse(s).unwrap().as_secs_f64();
        assert_eq!(secs("90"), 90.0);
        assert_eq!(secs("90s"), 90.0);
        assert_eq!(secs("1h30m"), 5400.0);
        assert_eq!(secs("250ms"), 0.25);
        assert_eq!(secs("1.5h"), 5400.0);
        assert_eq!(secs("2d"), 172_800.0);
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in ["", "h", "10x", "-5s", "1h-", "1e400"] {
            assert!(HumanDuration::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["1h30m", "45s", "2h", "0s"] {
            assert_eq!(HumanDuration::parse(s).unwrap().to_string(), s);
        }
    }
}
