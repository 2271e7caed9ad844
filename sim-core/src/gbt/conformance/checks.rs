//! Building blocks of the checks: periods, lengths, timeout windows and SPN fields.

use proto::can::CanFrame;
use proto::gbt27930::id::Pgn;
use proto::time::{Duration, Instant};

use super::Verdict;
use super::key::Key;
use super::trace::{Rec, Trace};

/// The result of one expectation: `Err` carries why it failed.
pub(super) type Check = Result<(), String>;

/// Measurements noted while checking, reported with the verdict.
#[derive(Debug, Default)]
pub(super) struct Notes(Vec<String>);

impl Notes {
    pub(super) fn add(&mut self, note: String) {
        self.0.push(note);
    }
}

/// Runs `body` and turns its outcome and notes into a verdict.
pub(super) fn judge(body: impl FnOnce(&mut Notes) -> Check) -> Verdict {
    let mut notes = Notes::default();
    let outcome = body(&mut notes);
    let mut text = notes.0.join("; ");
    match outcome {
        Ok(()) => Verdict::pass(text),
        Err(why) => {
            if !text.is_empty() {
                text = format!("{why} [{text}]");
            } else {
                text = why;
            }
            Verdict::fail(text)
        }
    }
}

/// Fails with `why` unless `cond`.
pub(super) fn ensure(cond: bool, why: impl FnOnce() -> String) -> Check {
    if cond { Ok(()) } else { Err(why()) }
}

/// Milliseconds with one decimal, for notes.
pub(super) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_micros() as f64 / 1000.0)
}

/// A human name for a key.
pub(super) fn name(key: Key) -> String {
    match key {
        Key::Msg(p) => p.code().to_string(),
        Key::Variant(p, v) => format!("{}({v:#04X})", p.code()),
        Key::Rts(p) => format!("RTS({})", p.code()),
        Key::Cts(p) => format!("CTS({})", p.code()),
        Key::Abort(p) => format!("Abort({})", p.code()),
        Key::EndOfMsgAck(p) => format!("EndOfMsgAck({})", p.code()),
        Key::Any => "any frame".to_string(),
    }
}

/// The DUT's first frame of `key`, or a failure naming it.
pub(super) fn first(tr: &Trace, key: Key) -> Result<&Rec, String> {
    tr.first_dut(key)
        .ok_or_else(|| format!("the DUT never sent {}", name(key)))
}

/// The DUT's first frame of `key` at or after `from`.
pub(super) fn first_after(tr: &Trace, key: Key, from: Instant) -> Result<&Rec, String> {
    tr.first_dut_after(key, from)
        .ok_or_else(|| format!("the DUT sent no {} after {from}", name(key)))
}

/// The median period of DUT frames of `key` in `[from, to)` is `nominal_ms` ± 10 %.
pub(super) fn period(
    tr: &Trace,
    key: Key,
    nominal_ms: u64,
    from: Instant,
    to: Instant,
    notes: &mut Notes,
) -> Check {
    let stats = tr
        .periods(key, from, to)
        .ok_or_else(|| format!("fewer than two {} frames to measure a period", name(key)))?;
    notes.add(format!(
        "{} period median {} (min {}, max {}, n={})",
        name(key),
        ms(stats.median),
        ms(stats.min),
        ms(stats.max),
        stats.count
    ));
    period_within(name(key), stats.median, nominal_ms)
}

/// The median period of whole TP messages (RTS to RTS) is `nominal_ms` ± 10 %.
pub(super) fn tp_period(
    tr: &Trace,
    pgn: Pgn,
    nominal_ms: u64,
    from: Instant,
    to: Instant,
    notes: &mut Notes,
) -> Check {
    let stats = tr.tp_periods(pgn, from, to).ok_or_else(|| {
        format!(
            "fewer than two {} transfers to measure a period",
            pgn.code()
        )
    })?;
    notes.add(format!(
        "{} (TP) period median {} (min {}, max {}, n={})",
        pgn.code(),
        ms(stats.median),
        ms(stats.min),
        ms(stats.max),
        stats.count
    ));
    period_within(pgn.code().to_string(), stats.median, nominal_ms)
}

fn period_within(what: String, median: Duration, nominal_ms: u64) -> Check {
    let nominal = nominal_ms * 1000;
    let tol = (nominal / 10).max(2_000);
    let m = median.as_micros();
    ensure(m + tol >= nominal && m <= nominal + tol, || {
        format!("{what} period {} is not {nominal_ms} ms ± 10 %", ms(median))
    })
}

/// Every DUT frame of `key` has one of the `allowed` lengths (and there is at least one).
pub(super) fn lengths(tr: &Trace, key: Key, allowed: &[u8], notes: &mut Notes) -> Check {
    let mut n = 0;
    for r in tr.dut_frames(key) {
        n += 1;
        let len = r.frame.len();
        ensure(allowed.contains(&len), || {
            format!(
                "{} sent with {len} data bytes, expected {allowed:?}",
                name(key)
            )
        })?;
    }
    ensure(n > 0, || format!("the DUT never sent {}", name(key)))?;
    notes.add(format!("{} length ok ({n} frames)", name(key)));
    Ok(())
}

/// `t_err − t_ref` is the nominal timeout within the module's tolerance.
pub(super) fn timeout_window(
    what: &str,
    t_ref: Instant,
    t_err: Instant,
    nominal: Duration,
    notes: &mut Notes,
) -> Check {
    let took = t_err.saturating_since(t_ref);
    let n = nominal.as_micros();
    let early = n / 50 + 50_000;
    let late = n / 10 + 300_000;
    notes.add(format!(
        "{what} after {} (nominal {})",
        ms(took),
        ms(nominal)
    ));
    ensure(
        t_err >= t_ref && took.as_micros() + early >= n && took.as_micros() <= n + late,
        || format!("{what} came after {}, expected {}", ms(took), ms(nominal)),
    )
}

/// A 2-bit field of a frame: byte index (0-based) and bit shift.
pub(super) fn field2(frame: &CanFrame, byte: usize, shift: u8) -> Option<u8> {
    frame.data().get(byte).map(|b| (b >> shift) & 0b11)
}

/// Where each timeout SPN of CEM and BEM sits: (SPN, byte, shift).
const ERROR_SPNS: [(u16, usize, u8); 14] = [
    (3901, 0, 0),
    (3902, 0, 2),
    (3903, 1, 0),
    (3904, 1, 2),
    (3905, 2, 0),
    (3906, 2, 2),
    (3907, 3, 0),
    (3921, 0, 0),
    (3922, 1, 0),
    (3923, 1, 2),
    (3924, 2, 0),
    (3925, 2, 2),
    (3926, 2, 4),
    (3927, 3, 0),
];

/// Whether the CEM/BEM frame reports the timeout `spn` (value 01).
pub(super) fn spn_active(frame: &CanFrame, spn: u16) -> bool {
    ERROR_SPNS
        .iter()
        .find(|(s, _, _)| *s == spn)
        .and_then(|&(_, byte, shift)| field2(frame, byte, shift))
        == Some(0b01)
}

/// The first error frame (CEM from a charger, BEM from a BMS) with `spn` set.
pub(super) fn error_with(tr: &Trace, spn: u16) -> Result<&Rec, String> {
    let pgn = if spn >= 3921 { Pgn::Cem } else { Pgn::Bem };
    let first_any = tr.first_dut(Key::Msg(pgn));
    tr.dut_frames(Key::Msg(pgn))
        .find(|r| spn_active(&r.frame, spn))
        .ok_or_else(|| match first_any {
            Some(r) => format!(
                "{} sent but without SPN{spn}: {}",
                pgn.code(),
                hex(r.frame.data())
            ),
            None => format!("the DUT never sent {} with SPN{spn}", pgn.code()),
        })
}

/// Data bytes as spaced hex.
pub(super) fn hex(data: &[u8]) -> String {
    data.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The DUT sent nothing of `key` in `[from, to)`.
pub(super) fn none_between(tr: &Trace, key: Key, from: Instant, to: Instant) -> Check {
    match tr.dut_frames(key).find(|r| r.at >= from && r.at < to) {
        Some(r) => Err(format!(
            "the DUT sent {} at {} (not expected between {from} and {to})",
            name(key),
            r.at
        )),
        None => Ok(()),
    }
}
