//! The BMS's outgoing messages, built from the configuration and the latest battery
//! status on the stack.

use proto::can::CanFrame;
use proto::gbt27930::id::{GbtId, Node, Pgn};
use proto::gbt27930::msg::{
    Bcl, Bcp, Bcs, Bhm, Bro, Bsd, Bsm, ChargingMode, ChargingPermit, GbtMessage, Level2,
    ProtocolVersion, Readiness, Status2, round_half_away,
};

use super::{BatteryStatus, BmsSession, DemandMode};
use crate::gbt::common::encode_frame;

/// The largest payload the BMS builds: a BMV of 256 cells (BRM is 49 bytes, BMT 128).
pub(super) const PAYLOAD_MAX: usize = 512;

/// A single frame carrying `data` as `pgn` from the BMS (a short TP-class message).
pub(super) fn single_frame(pgn: Pgn, data: &[u8]) -> Option<CanFrame> {
    CanFrame::new(GbtId::new(pgn, Node::Bms).raw(), data).ok()
}

/// Packs a cell voltage and its group into the 16-bit BCS/BMV field (0.01 V, 12 bits).
fn cell_raw(voltage_v: f64, group: u8) -> u16 {
    let centi = round_half_away(voltage_v * 100.0).clamp(0.0, 4095.0) as u16;
    centi | u16::from(group & 0x0F) << 12
}

impl BmsSession {
    /// The battery status, or one derived from the configuration before the first update.
    pub(super) fn status(&self) -> BatteryStatus {
        if let Some(b) = self.battery {
            return b;
        }
        let bcp = &self.cfg.bcp;
        let cells = f64::from(self.cfg.cells.max(1));
        let cell_v = bcp.battery_voltage_v / cells;
        BatteryStatus {
            pack_voltage_v: bcp.battery_voltage_v,
            pack_current_a: 0.0,
            soc_pct: bcp.soc_pct,
            remaining_min: 600,
            max_cell_voltage_v: cell_v,
            max_cell_number: 1,
            max_cell_group: 0,
            min_cell_voltage_v: cell_v,
            max_temperature_c: 25,
            max_temperature_probe: 1,
            min_temperature_c: 25,
            min_temperature_probe: 1,
            insulation_ok: true,
            charging_permitted: true,
            demand: super::Demand {
                voltage_v: bcp.max_total_voltage_v,
                current_a: bcp.max_current_a,
                mode: DemandMode::Cc,
            },
            stop_request: None,
        }
    }

    /// The frame of a single-frame message.
    pub(super) fn build_single(&mut self, pgn: Pgn) -> Option<CanFrame> {
        let from = Node::Bms;
        // The status is read where a message needs it, by reference: BCL goes out 20
        // times a second and reads only the demand.
        match pgn {
            Pgn::Bem => encode_frame(&self.bem, from, 8),
            Pgn::Bst => encode_frame(&self.bst.unwrap_or_default(), from, 8),
            Pgn::Bro => {
                let readiness = if self.bro_ready {
                    Readiness::Ready
                } else {
                    Readiness::NotReady
                };
                encode_frame(&Bro { readiness }, from, 8)
            }
            Pgn::Bcl => {
                if let Some(frame) = self.bcl_frame {
                    return Some(frame);
                }
                let demand = match &self.battery {
                    Some(b) => b.demand,
                    None => self.status().demand,
                };
                let mode = match demand.mode {
                    DemandMode::Cc => ChargingMode::ConstantCurrent,
                    DemandMode::Cv => ChargingMode::ConstantVoltage,
                };
                let bcl = Bcl {
                    voltage_demand_v: demand.voltage_v,
                    current_demand_a: demand.current_a,
                    mode,
                };
                self.bcl_frame = self.frames.bcl.frame(bcl, from, 8);
                self.bcl_frame
            }
            Pgn::Bhm => {
                let bhm = Bhm {
                    max_charging_voltage_v: self.cfg.bcp.max_total_voltage_v,
                };
                encode_frame(&bhm, from, 8)
            }
            Pgn::Bsm => {
                let bsm = match &self.battery {
                    Some(b) => self.bsm(b),
                    None => self.bsm(&self.status()),
                };
                self.frames.bsm.frame(bsm, from, 8)
            }
            Pgn::Bsd => {
                let b = self.status();
                let bsd = Bsd {
                    soc_pct: round_half_away(b.soc_pct).clamp(0.0, 100.0) as u8,
                    min_cell_voltage_v: b.min_cell_voltage_v,
                    max_cell_voltage_v: b.max_cell_voltage_v,
                    min_temperature_c: b.min_temperature_c,
                    max_temperature_c: b.max_temperature_c,
                };
                encode_frame(&bsd, from, 8)
            }
            _ => None,
        }
    }

    /// BSM from the battery status with the fault overrides applied.
    fn bsm(&self, b: &BatteryStatus) -> Bsm {
        let o = &self.overrides;
        let insulation = if !b.insulation_ok {
            Status2::Active
        } else {
            o.insulation
        };
        let permitted = b.charging_permitted && !o.suspended;
        Bsm {
            max_cell_voltage_number: b.max_cell_number,
            max_temperature_c: b.max_temperature_c,
            max_temperature_sensor: b.max_temperature_probe,
            min_temperature_c: b.min_temperature_c,
            min_temperature_sensor: b.min_temperature_probe,
            cell_voltage: o.cell_voltage,
            soc: Level2::Normal,
            over_current: o.over_current,
            over_temperature: o.over_temperature,
            insulation,
            output_connector: o.output_connector,
            charging_permitted: if permitted {
                ChargingPermit::Permitted
            } else {
                ChargingPermit::Paused
            },
        }
    }

    /// Writes the payload of a multi-packet message into `buf`, which has room for
    /// [`PAYLOAD_MAX`] bytes (or for the message's own size); returns its length.
    pub(super) fn build_payload(&self, pgn: Pgn, buf: &mut [u8]) -> usize {
        let fallback;
        let b = match &self.battery {
            Some(b) => b,
            None => {
                fallback = self.status();
                &fallback
            }
        };
        let encoded = match pgn {
            Pgn::Brm => {
                let mut brm = self.cfg.brm;
                if self.is_2015() {
                    brm.version = ProtocolVersion::V1_1;
                } else {
                    // 2011: V1.0 and the 41-byte form without the software version.
                    brm.version = ProtocolVersion::V1_0;
                    if let Some(d) = brm.details.as_mut() {
                        d.software_version = None;
                    }
                }
                brm.encode(buf)
            }
            Pgn::Bcp => {
                let bcp = Bcp {
                    soc_pct: b.soc_pct,
                    battery_voltage_v: b.pack_voltage_v,
                    ..self.cfg.bcp
                };
                bcp.encode(buf)
            }
            Pgn::Bcs => {
                let bcs = Bcs {
                    voltage_v: b.pack_voltage_v,
                    current_a: b.pack_current_a,
                    max_cell_voltage_v: b.max_cell_voltage_v,
                    max_cell_group: b.max_cell_group,
                    soc_pct: round_half_away(b.soc_pct).clamp(0.0, 100.0) as u8,
                    remaining_min: b.remaining_min.min(600),
                };
                bcs.encode(buf)
            }
            Pgn::Bmv => return self.bmv(b, buf),
            Pgn::Bmt => return self.bmt(b, buf),
            Pgn::Bsp => {
                // 16 reserved bytes, filled with 1 (clause 7.9).
                let n = 16.min(buf.len());
                buf.iter_mut().take(n).for_each(|x| *x = 0xFF);
                return n;
            }
            _ => return 0,
        };
        encoded.unwrap_or(0)
    }

    /// BMV: every cell at the average voltage, the highest one at its number.
    fn bmv(&self, b: &BatteryStatus, buf: &mut [u8]) -> usize {
        let cells = usize::from(self.cfg.cells.clamp(1, 256));
        let avg = b.pack_voltage_v / cells as f64;
        let max_index = usize::from(b.max_cell_number.max(1)) - 1;
        for (i, pair) in buf.chunks_exact_mut(2).take(cells).enumerate() {
            let v = if i == max_index {
                b.max_cell_voltage_v
            } else {
                avg.min(b.max_cell_voltage_v)
            };
            pair.copy_from_slice(&cell_raw(v, b.max_cell_group).to_le_bytes());
        }
        cells * 2
    }

    /// BMT: probes spread evenly between the lowest and highest temperature.
    fn bmt(&self, b: &BatteryStatus, buf: &mut [u8]) -> usize {
        let probes = usize::from(self.cfg.temperature_probes.clamp(1, 128));
        let lo = f64::from(b.min_temperature_c);
        let hi = f64::from(b.max_temperature_c);
        for (i, byte) in buf.iter_mut().take(probes).enumerate() {
            let t = if probes == 1 {
                hi
            } else {
                lo + (hi - lo) * i as f64 / (probes - 1) as f64
            };
            *byte = (round_half_away(t) + 50.0).clamp(0.0, 255.0) as u8;
        }
        probes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::gbt::bms::{BmsConfig, BmsSession};
    use proto::gbt27930::msg::Bcl;
    use proto::time::Instant;

    /// The BCL kept for a battery snapshot is rebuilt when the snapshot changes, and is
    /// always the encoding of the snapshot's demand.
    #[test]
    fn bcl_frame_follows_the_battery_update() {
        let now = Instant::from_millis(1);
        let mut s = BmsSession::new(BmsConfig::lfp());
        let expect = |b: &super::BatteryStatus| {
            let bcl = Bcl {
                voltage_demand_v: b.demand.voltage_v,
                current_demand_a: b.demand.current_a,
                mode: match b.demand.mode {
                    DemandMode::Cc => ChargingMode::ConstantCurrent,
                    DemandMode::Cv => ChargingMode::ConstantVoltage,
                },
            };
            encode_frame(&bcl, Node::Bms, 8).unwrap()
        };
        let mut status = s.status();
        assert_eq!(s.build_single(Pgn::Bcl), Some(expect(&status)));
        for (i, current_a) in [120.0, 121.5, 121.5, 80.0].into_iter().enumerate() {
            status.demand.current_a = current_a;
            status.demand.mode = if i % 2 == 0 {
                DemandMode::Cc
            } else {
                DemandMode::Cv
            };
            s.update_battery(now, status);
            let first = s.build_single(Pgn::Bcl);
            assert_eq!(first, Some(expect(&status)), "demand {current_a} A");
            // Sent again from the cache until the next snapshot.
            assert_eq!(s.build_single(Pgn::Bcl), first);
        }
    }

    #[test]
    fn cell_field_layout() {
        assert_eq!(cell_raw(3.71, 4), 0x4173);
        assert_eq!(cell_raw(99.0, 0), 0x0FFF);
        assert_eq!(cell_raw(-1.0, 0x1F), 0xF000);
    }
}
