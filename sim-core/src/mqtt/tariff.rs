//! Tariff templates (seed section 计费模版) and the per-transaction bill.
//!
//! A [`Tariff`] is the validated form of a [`pb::SetTariffReq`]: energy-based time-of-day
//! segments (electricity + service price per kWh, tagged tip/peak/flat/valley), or time-based
//! power tiers (price per hour), optionally with an occupancy (parking) fee. The seed says a
//! charger supports only one of energy- or time-based billing, so a template with both is
//! rejected, and so is one whose energy segments overlap or leave part of the day unpriced.
//!
//! A [`Bill`] follows one transaction: every meter reading adds the energy since the previous
//! reading, attributed to the tariff segments the interval crosses in proportion to time (the
//! power is taken as constant between two readings). Energy is kept in milliwatt-hours and money
//! in exact integer products, so the result does not depend on how often samples arrive as long
//! as the power is constant between them; each segment's cost is rounded half-up to 0.001 yuan
//! once, and the totals are sums of the rounded parts.

use proto::mqtt::pb;

use super::clock::{DAY_US, WallClock};
use crate::time::Instant;

/// Minutes in a day.
const DAY_MIN: u32 = 1440;
/// Microseconds per hour.
const HOUR_US: u128 = 3_600_000_000;

/// Why a tariff template was refused (the charger answers `SetTariffConf` REJECTED).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TariffError {
    /// Both energy segments and time tiers were given; the seed allows one kind.
    #[error("tariff {tariff_id} has both energy segments and time tiers")]
    MixedKinds {
        /// The template's id.
        tariff_id: u32,
    },
    /// A segment or window is not inside 0..=1440 with start < end.
    #[error("tariff segment {start}-{end} is not a valid minute range")]
    BadRange {
        /// Its start minute.
        start: u32,
        /// Its end minute.
        end: u32,
    },
    /// Energy segments overlap or leave a gap.
    #[error(
        "tariff energy segments do not cover the day exactly: gap or overlap at minute {minute}"
    )]
    Coverage {
        /// The first minute that is covered twice or not at all.
        minute: u32,
    },
    /// A power tier has start >= end, or tiers of one window overlap.
    #[error("tariff power tier {start_w}-{end_w} W is empty or overlaps another")]
    BadTier {
        /// Its lower bound.
        start_w: u32,
        /// Its upper bound.
        end_w: u32,
    },
}

/// One energy-based segment: a local time-of-day range with prices per kWh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnergySegment {
    /// Start minute of the local day (inclusive).
    pub start_min: u32,
    /// End minute of the local day (exclusive), up to 1440.
    pub end_min: u32,
    /// The seed's tag ("tip", "peak", "flat", "valley"), possibly empty.
    pub tag: String,
    /// Electricity price, 0.001 yuan per kWh.
    pub elec_milliyuan_per_kwh: u32,
    /// Service price, 0.001 yuan per kWh.
    pub service_milliyuan_per_kwh: u32,
}

/// One time-based power tier, optionally limited to a local time-of-day window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeTier {
    /// Lower power bound, inclusive.
    pub power_start_w: u32,
    /// Upper power bound, exclusive (the highest tier is open-ended, the seed's 9999).
    pub power_end_w: u32,
    /// Price per hour of charging, 0.001 yuan.
    pub milliyuan_per_hour: u32,
    /// Window start minute (0 with end 0 = all day).
    pub start_min: u32,
    /// Window end minute.
    pub end_min: u32,
}

/// The occupancy (parking) fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Occupancy {
    /// Free minutes before the fee starts.
    pub free_min: u32,
    /// Price per hour after that, 0.001 yuan.
    pub milliyuan_per_hour: u32,
    /// Cap per transaction, 0 = none.
    pub cap_milliyuan: u32,
}

/// A validated tariff template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tariff {
    /// The seed's `tariffid`.
    pub id: u32,
    /// Energy segments sorted by start, covering the whole day (empty for time-based).
    pub energy: Vec<EnergySegment>,
    /// Time tiers (empty for energy-based).
    pub time: Vec<TimeTier>,
    /// The occupancy fee, if any.
    pub occupancy: Option<Occupancy>,
}

impl Tariff {
    /// Validates a template received in `SetTariffReq`.
    pub fn from_pb(req: &pb::SetTariffReq) -> Result<Self, TariffError> {
        if !req.tariff_charge.is_empty() && !req.tariff_time.is_empty() {
            return Err(TariffError::MixedKinds {
                tariff_id: req.tariff_id,
            });
        }
        let energy = energy_segments(&req.tariff_charge)?;
        let time = time_tiers(&req.tariff_time)?;
        let occupancy = req
            .occupancy
            .as_ref()
            .filter(|o| o.price_milliyuan_per_hour > 0)
            .map(|o| Occupancy {
                free_min: o.free_min,
                milliyuan_per_hour: o.price_milliyuan_per_hour,
                cap_milliyuan: o.cap_milliyuan,
            });
        Ok(Tariff {
            id: req.tariff_id,
            energy,
            time,
            occupancy,
        })
    }

    /// The wire form (what the backend pushes).
    pub fn to_pb(&self) -> pb::SetTariffReq {
        pb::SetTariffReq {
            tariff_id: self.id,
            tariff_charge: self
                .energy
                .iter()
                .map(|s| pb::TariffCharge {
                    time_start_min_of_day: s.start_min,
                    time_end_min_of_day: s.end_min,
                    tag: s.tag.clone(),
                    elec_price_milliyuan_per_kwh: s.elec_milliyuan_per_kwh,
                    service_price_milliyuan_per_kwh: s.service_milliyuan_per_kwh,
                })
                .collect(),
            tariff_time: self
                .time
                .iter()
                .map(|t| pb::TariffTime {
                    power_start_w: t.power_start_w,
                    power_end_w: t.power_end_w,
                    price_milliyuan_per_hour: t.milliyuan_per_hour,
                    time_start_min_of_day: t.start_min,
                    time_end_min_of_day: t.end_min,
                })
                .collect(),
            occupancy: self.occupancy.map(|o| pb::OccupancyFee {
                free_min: o.free_min,
                price_milliyuan_per_hour: o.milliyuan_per_hour,
                cap_milliyuan: o.cap_milliyuan,
            }),
        }
    }

    /// The energy segment in force at local minute `minute` (energy tariffs cover the day).
    fn segment_at(&self, minute: u32) -> Option<&EnergySegment> {
        self.energy
            .iter()
            .find(|s| s.start_min <= minute && minute < s.end_min)
    }

    /// The hourly price for average power `power_w` at local minute `minute`: the tier whose
    /// window contains the minute and whose range contains the power; above every tier of the
    /// window, the highest one (the seed writes 9999 for "and above").
    fn hourly_price(&self, minute: u32, power_w: u64) -> u32 {
        let in_window = |t: &&TimeTier| {
            (t.start_min == 0 && t.end_min == 0) || (t.start_min <= minute && minute < t.end_min)
        };
        let mut best: Option<&TimeTier> = None;
        for tier in self.time.iter().filter(in_window) {
            if u64::from(tier.power_start_w) <= power_w && power_w < u64::from(tier.power_end_w) {
                return tier.milliyuan_per_hour;
            }
            if best.is_none_or(|b| tier.power_end_w > b.power_end_w) {
                best = Some(tier);
            }
        }
        best.map_or(0, |t| t.milliyuan_per_hour)
    }

    /// The end (exclusive, minute of day) of the pricing period that contains `minute`: the
    /// energy segment's end, or the next time-window boundary for time tiers.
    fn period_end(&self, minute: u32) -> u32 {
        if let Some(seg) = self.segment_at(minute) {
            return seg.end_min;
        }
        self.time
            .iter()
            .flat_map(|t| [t.start_min, t.end_min])
            .filter(|&m| m > minute)
            .min()
            .unwrap_or(DAY_MIN)
    }
}

fn energy_segments(charges: &[pb::TariffCharge]) -> Result<Vec<EnergySegment>, TariffError> {
    let mut segments: Vec<EnergySegment> = charges
        .iter()
        .map(|c| {
            // The seed's single-segment example has no times: start = end = 0 is all day.
            let whole_day = c.time_start_min_of_day == 0 && c.time_end_min_of_day == 0;
            EnergySegment {
                start_min: c.time_start_min_of_day,
                end_min: if whole_day {
                    DAY_MIN
                } else {
                    c.time_end_min_of_day
                },
                tag: c.tag.clone(),
                elec_milliyuan_per_kwh: c.elec_price_milliyuan_per_kwh,
                service_milliyuan_per_kwh: c.service_price_milliyuan_per_kwh,
            }
        })
        .collect();
    if segments.is_empty() {
        return Ok(segments);
    }
    for s in &segments {
        if s.start_min >= s.end_min || s.end_min > DAY_MIN {
            return Err(TariffError::BadRange {
                start: s.start_min,
                end: s.end_min,
            });
        }
    }
    segments.sort_by_key(|s| s.start_min);
    let mut covered_to = 0;
    for s in &segments {
        if s.start_min != covered_to {
            return Err(TariffError::Coverage {
                minute: covered_to.min(s.start_min),
            });
        }
        covered_to = s.end_min;
    }
    if covered_to != DAY_MIN {
        return Err(TariffError::Coverage { minute: covered_to });
    }
    Ok(segments)
}

fn time_tiers(times: &[pb::TariffTime]) -> Result<Vec<TimeTier>, TariffError> {
    let tiers: Vec<TimeTier> = times
        .iter()
        .map(|t| TimeTier {
            power_start_w: t.power_start_w,
            // The seed's "1 yuan / 4 h" example gives only a price: no bounds means any power.
            power_end_w: if t.power_start_w == 0 && t.power_end_w == 0 {
                u32::MAX
            } else {
                t.power_end_w
            },
            milliyuan_per_hour: t.price_milliyuan_per_hour,
            start_min: t.time_start_min_of_day,
            end_min: t.time_end_min_of_day,
        })
        .collect();
    for (i, t) in tiers.iter().enumerate() {
        let whole_day = t.start_min == 0 && t.end_min == 0;
        if !whole_day && (t.start_min >= t.end_min || t.end_min > DAY_MIN) {
            return Err(TariffError::BadRange {
                start: t.start_min,
                end: t.end_min,
            });
        }
        let bad_tier = || TariffError::BadTier {
            start_w: t.power_start_w,
            end_w: t.power_end_w,
        };
        if t.power_start_w >= t.power_end_w {
            return Err(bad_tier());
        }
        let overlaps = tiers.iter().skip(i + 1).any(|o| {
            o.start_min == t.start_min
                && o.end_min == t.end_min
                && o.power_start_w < t.power_end_w
                && t.power_start_w < o.power_end_w
        });
        if overlaps {
            return Err(bad_tier());
        }
    }
    Ok(tiers)
}

/// The energy of one contiguous period in one energy segment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SegmentAcc {
    /// Index into `Tariff::energy`.
    segment: usize,
    start: Instant,
    end: Instant,
    energy_mwh: u64,
}

/// The running bill of one transaction.
#[derive(Debug, Clone)]
pub struct Bill {
    tariff: Tariff,
    clock: WallClock,
    start: Instant,
    last_at: Instant,
    last_register_mwh: u64,
    segments: Vec<SegmentAcc>,
    /// Time-based charge so far, in 0.001 yuan x microseconds per hour.
    time_acc: u128,
}

impl Bill {
    /// Starts billing at `start` with the meter register at `meter_start_wh`.
    pub fn new(tariff: Tariff, clock: WallClock, start: Instant, meter_start_wh: f64) -> Self {
        Bill {
            tariff,
            clock,
            start,
            last_at: start,
            last_register_mwh: wh_to_mwh(meter_start_wh),
            segments: Vec::new(),
            time_acc: 0,
        }
    }

    /// The tariff this bill uses.
    pub fn tariff(&self) -> &Tariff {
        &self.tariff
    }

    /// Adds a meter reading taken at `at` (readings must not go back in time; an earlier one,
    /// or a register that went backwards, adds nothing).
    pub fn add_reading(&mut self, at: Instant, register_wh: f64) {
        let register = wh_to_mwh(register_wh);
        if at < self.last_at {
            return;
        }
        let delta = register.saturating_sub(self.last_register_mwh);
        self.attribute(self.last_at, at, delta);
        self.last_at = at;
        self.last_register_mwh = self.last_register_mwh.max(register);
    }

    /// Splits `delta_mwh` over `[from, to)` across pricing periods, in proportion to time.
    fn attribute(&mut self, from: Instant, to: Instant, delta_mwh: u64) {
        let total_us = u128::from((to - from).as_micros());
        if total_us == 0 {
            self.add_piece(from, to, delta_mwh, 0, 0);
            return;
        }
        let power_w =
            u64::try_from(u128::from(delta_mwh) * HOUR_US / 1_000 / total_us).unwrap_or(u64::MAX);
        let mut cur = from;
        let mut given = 0u64;
        while cur < to {
            let minute = self.clock.minute_of_day(cur);
            let day_us = u128::from(self.clock.local_us_of_day(cur));
            let period_end_us = u128::from(self.tariff.period_end(minute)) * 60_000_000;
            let left_in_period = period_end_us.saturating_sub(day_us).max(1);
            let until_to = u128::from((to - cur).as_micros());
            let piece_us = left_in_period.min(until_to).min(DAY_US as u128);
            let next = cur + crate::time::Duration::from_micros(piece_us as u64);
            let piece_mwh = if next >= to {
                delta_mwh - given
            } else {
                u64::try_from(u128::from(delta_mwh) * piece_us / total_us).unwrap_or(0)
            };
            given += piece_mwh;
            self.add_piece(cur, next, piece_mwh, piece_us, power_w);
            cur = next;
        }
    }

    /// Books one piece that lies inside one pricing period.
    fn add_piece(&mut self, from: Instant, to: Instant, mwh: u64, dur_us: u128, power_w: u64) {
        let minute = self.clock.minute_of_day(from);
        if !self.tariff.time.is_empty() {
            let price = self.tariff.hourly_price(minute, power_w);
            self.time_acc += dur_us * u128::from(price);
        }
        let Some(segment) = self
            .tariff
            .energy
            .iter()
            .position(|s| s.start_min <= minute && minute < s.end_min)
        else {
            return;
        };
        match self.segments.last_mut() {
            Some(last) if last.segment == segment && last.end == from => {
                last.end = to;
                last.energy_mwh += mwh;
            }
            _ => self.segments.push(SegmentAcc {
                segment,
                start: from,
                end: to,
                energy_mwh: mwh,
            }),
        }
    }

    /// The cost so far, ending at `now` (the occupancy fee runs from the start to `now`).
    pub fn cost(&self, now: Instant) -> pb::CostDetail {
        let mut detail = pb::CostDetail {
            tariff_id: self.tariff.id,
            ..Default::default()
        };
        for acc in &self.segments {
            let Some(seg) = self.tariff.energy.get(acc.segment) else {
                continue;
            };
            let elec = mwh_cost(acc.energy_mwh, seg.elec_milliyuan_per_kwh);
            let service = mwh_cost(acc.energy_mwh, seg.service_milliyuan_per_kwh);
            detail.elec_cost_milliyuan = detail.elec_cost_milliyuan.saturating_add(elec);
            detail.service_cost_milliyuan = detail.service_cost_milliyuan.saturating_add(service);
            detail.segments.push(pb::CostSegment {
                start_unix_s: self.clock.unix_s(acc.start),
                end_unix_s: self.clock.unix_s(acc.end),
                tag: seg.tag.clone(),
                energy_wh: u32::try_from((acc.energy_mwh + 500) / 1_000).unwrap_or(u32::MAX),
                elec_cost_milliyuan: elec,
                service_cost_milliyuan: service,
            });
        }
        detail.time_cost_milliyuan = round_div(self.time_acc, HOUR_US);
        detail.occupancy_cost_milliyuan = self.occupancy_cost(now);
        detail.total_cost_milliyuan = detail
            .elec_cost_milliyuan
            .saturating_add(detail.service_cost_milliyuan)
            .saturating_add(detail.time_cost_milliyuan)
            .saturating_add(detail.occupancy_cost_milliyuan);
        detail
    }

    /// The running total only (no breakdown, no allocation), for ChargingInfoReq and the
    /// amount-mode check.
    pub fn total_milliyuan(&self, now: Instant) -> u32 {
        let mut total = round_div(self.time_acc, HOUR_US);
        for acc in &self.segments {
            if let Some(seg) = self.tariff.energy.get(acc.segment) {
                total = total
                    .saturating_add(mwh_cost(acc.energy_mwh, seg.elec_milliyuan_per_kwh))
                    .saturating_add(mwh_cost(acc.energy_mwh, seg.service_milliyuan_per_kwh));
            }
        }
        total.saturating_add(self.occupancy_cost(now))
    }

    fn occupancy_cost(&self, now: Instant) -> u32 {
        let Some(occ) = self.tariff.occupancy else {
            return 0;
        };
        let free_us = u64::from(occ.free_min) * 60_000_000;
        let billable = (now - self.start).as_micros().saturating_sub(free_us);
        let cost = round_div(
            u128::from(billable) * u128::from(occ.milliyuan_per_hour),
            HOUR_US,
        );
        if occ.cap_milliyuan > 0 {
            cost.min(occ.cap_milliyuan)
        } else {
            cost
        }
    }
}

/// Wh (a physics register, f64) to whole mWh; negative and NaN give 0.
fn wh_to_mwh(wh: f64) -> u64 {
    if wh.is_nan() || wh <= 0.0 {
        0
    } else {
        (wh * 1_000.0).round().min(u64::MAX as f64) as u64
    }
}

/// `mwh` at `price` per kWh, in 0.001 yuan, rounded half up.
fn mwh_cost(mwh: u64, price_per_kwh: u32) -> u32 {
    round_div(u128::from(mwh) * u128::from(price_per_kwh), 1_000_000)
}

/// `num / den` rounded half up, saturating at `u32::MAX`.
fn round_div(num: u128, den: u128) -> u32 {
    u32::try_from((num + den / 2) / den).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
