//! The broadcast-manager (BCM) mode of a socketcand connection, emulated on a virtual
//! segment: cyclic send jobs (`add`/`update`/`delete`) and receive subscriptions
//! (`subscribe`/`unsubscribe`/`filter`, with the throttle interval and the content mask).

use proto::can::CanFrame;
use tokio::time::{Duration, Instant};

use super::protocol::{ProtocolError, parse_send};

/// A cyclic transmission.
#[derive(Debug, Clone, Copy)]
struct Job {
    frame: CanFrame,
    interval: Duration,
    next: Instant,
}

/// A receive subscription: by id, optionally with a content mask (`filter`).
#[derive(Debug, Clone, Copy)]
struct Sub {
    id: u32,
    extended: bool,
    throttle: Duration,
    mask: Option<(u8, [u8; 8])>,
    last_sent: Option<Instant>,
    last_data: Option<[u8; 8]>,
}

/// The BCM state of one connection.
#[derive(Debug, Default)]
pub(super) struct Bcm {
    jobs: Vec<Job>,
    subs: Vec<Sub>,
}

/// What a BCM command asks the connection to do now.
pub(super) enum BcmOutcome {
    /// Nothing visible.
    Done,
    /// Send this frame once.
    Send(CanFrame),
}

fn interval(secs: &str, usecs: &str, text: &str) -> Result<Duration, ProtocolError> {
    let bad = || ProtocolError::BadFrame {
        text: text.to_string(),
    };
    let s: u64 = secs.parse().map_err(|_| bad())?;
    let us: u64 = usecs.parse().map_err(|_| bad())?;
    Ok(Duration::from_secs(s) + Duration::from_micros(us))
}

fn id_of(word: Option<&str>, text: &str) -> Result<(u32, bool), ProtocolError> {
    let bad = || ProtocolError::BadFrame {
        text: text.to_string(),
    };
    let w = word.ok_or_else(bad)?;
    Ok((u32::from_str_radix(w, 16).map_err(|_| bad())?, w.len() == 8))
}

impl Bcm {
    /// Handles a BCM command (`verb` and the words after it).
    pub(super) fn command<'a>(
        &mut self,
        now: Instant,
        verb: &str,
        text: &str,
        mut args: impl Iterator<Item = &'a str>,
    ) -> Result<Option<BcmOutcome>, ProtocolError> {
        let bad = || ProtocolError::BadFrame {
            text: text.to_string(),
        };
        match verb {
            "add" => {
                let secs = args.next().ok_or_else(bad)?;
                let usecs = args.next().ok_or_else(bad)?;
                let ival = interval(secs, usecs, text)?;
                let frame = parse_send(text, args)?;
                self.jobs.retain(|j| !same(&j.frame, &frame));
                if ival > Duration::ZERO {
                    self.jobs.push(Job {
                        frame,
                        interval: ival,
                        next: now,
                    });
                }
                Ok(Some(BcmOutcome::Done))
            }
            "update" => {
                let frame = parse_send(text, args)?;
                for j in self.jobs.iter_mut().filter(|j| same(&j.frame, &frame)) {
                    j.frame = frame;
                }
                Ok(Some(BcmOutcome::Done))
            }
            "delete" => {
                let (id, ext) = id_of(args.next(), text)?;
                self.jobs
                    .retain(|j| !(j.frame.id() == id && j.frame.is_extended() == ext));
                Ok(Some(BcmOutcome::Done))
            }
            "subscribe" | "filter" => {
                let secs = args.next().ok_or_else(bad)?;
                let usecs = args.next().ok_or_else(bad)?;
                let throttle = interval(secs, usecs, text)?;
                let (mask, id, extended) = if verb == "filter" {
                    let f = parse_send(text, args)?;
                    (Some((f.len(), f.data_padded())), f.id(), f.is_extended())
                } else {
                    let (id, ext) = id_of(args.next(), text)?;
                    (None, id, ext)
                };
                self.subs
                    .retain(|s| !(s.id == id && s.extended == extended));
                self.subs.push(Sub {
                    id,
                    extended,
                    throttle,
                    mask,
                    last_sent: None,
                    last_data: None,
                });
                Ok(Some(BcmOutcome::Done))
            }
            "unsubscribe" => {
                let (id, ext) = id_of(args.next(), text)?;
                self.subs.retain(|s| !(s.id == id && s.extended == ext));
                Ok(Some(BcmOutcome::Done))
            }
            "send" => Ok(Some(BcmOutcome::Send(parse_send(text, args)?))),
            _ => Ok(None),
        }
    }

    /// Whether a received frame goes to the client now (subscription, content change,
    /// throttle).
    pub(super) fn wants(&mut self, now: Instant, frame: &CanFrame) -> bool {
        let Some(s) = self
            .subs
            .iter_mut()
            .find(|s| s.id == frame.id() && s.extended == frame.is_extended())
        else {
            return false;
        };
        if let Some((dlc, mask)) = s.mask {
            let mut masked = frame.data_padded();
            for (b, m) in masked.iter_mut().zip(mask) {
                *b &= m;
            }
            let changed = s.last_data != Some(masked) || frame.len() != dlc;
            s.last_data = Some(masked);
            if !changed {
                return false;
            }
        }
        if s.last_sent.is_some_and(|t| now < t + s.throttle) {
            return false;
        }
        s.last_sent = Some(now);
        true
    }

    /// The next time a cyclic job is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.jobs.iter().map(|j| j.next).min()
    }

    /// Takes one due job's frame and reschedules it.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<CanFrame> {
        let j = self.jobs.iter_mut().find(|j| j.next <= now)?;
        j.next += j.interval;
        if j.next <= now {
            j.next = now + j.interval;
        }
        Some(j.frame)
    }
}

fn same(a: &CanFrame, b: &CanFrame) -> bool {
    a.id() == b.id() && a.is_extended() == b.is_extended()
}
