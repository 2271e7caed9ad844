//! Read-only views of the fleet for dashboards and reports.

use super::{ConnectorState, Phase, World};
use crate::time::Instant;
use profiles::ChargerKind;

/// One connector as a dashboard row and detail view.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorView {
    /// Fleet id.
    pub id: u32,
    /// The charger's serial number.
    pub charger_serial: String,
    /// DC or AC.
    pub dc: bool,
    /// What it is doing.
    pub state: ConnectorState,
    /// Output voltage, V (last physics tick).
    pub voltage_v: f64,
    /// Output current, A.
    pub current_a: f64,
    /// Output power, kW.
    pub power_kw: f64,
    /// Vehicle state of charge, %, while a vehicle is plugged in.
    pub soc_pct: Option<f64>,
    /// Energy of the current session, kWh.
    pub session_energy_kwh: f64,
    /// Session number, while a vehicle is plugged in.
    pub session: Option<u32>,
    /// Gun temperature, °C.
    pub gun_temperature_c: f64,
    /// Pack temperature range (min, max), °C, while a vehicle is plugged in.
    pub pack_temperature_c: Option<(f64, f64)>,
    /// What the BMS asks for (voltage, current) while charging.
    pub demand: Option<(f64, f64)>,
    /// The GB/T 27930 charger phase, while a session runs.
    pub gbt_phase: Option<String>,
    /// The MQTT transaction's record id, while charging.
    pub transaction: Option<u32>,
    /// The vehicle's VIN, while plugged in.
    pub vin: Option<String>,
}

/// `Bcl { voltage_v: 1.0 }` → `voltage_v: 1.0`: the line already starts with the
/// message's name, so the Debug text's type name and braces only take room.
fn strip_type_name(debug: &str) -> &str {
    match debug.split_once(" { ") {
        Some((name, rest)) if !name.contains(' ') => rest.strip_suffix(" }").unwrap_or(rest),
        _ => debug,
    }
}

impl World {
    /// Number of connectors in this world.
    pub fn connector_count(&self) -> usize {
        self.connectors.len()
    }

    /// A view of local connector `ci`.
    pub fn connector_view(&self, ci: usize) -> Option<ConnectorView> {
        let c = self.connectors.get(ci)?;
        let offline = self.mqtt.as_ref().is_some_and(|m| !m.online(c.charger));
        let ev = match &c.phase {
            Phase::Plugged { ev, .. }
            | Phase::Authorizing { ev, .. }
            | Phase::Starting { ev, .. }
            | Phase::Charging { ev, .. }
            | Phase::Finishing { ev, .. } => Some(ev),
            Phase::Idle { .. } | Phase::Moving => None,
        };
        let charging = matches!(c.phase, Phase::Charging { .. });
        let (v, i, gun) = if charging {
            c.last_tick
        } else {
            (0.0, 0.0, c.last_tick.2)
        };
        let serial = self
            .mqtt_serial(c.charger)
            .unwrap_or_else(|| format!("#{}", self.chargers[c.charger].global_index + 1));
        Some(ConnectorView {
            id: c.global_id,
            charger_serial: serial,
            dc: self.groups[c.group].kind == ChargerKind::Dc,
            state: if offline {
                ConnectorState::Offline
            } else {
                c.phase.state()
            },
            voltage_v: v,
            current_a: i,
            power_kw: v * i / 1000.0,
            soc_pct: ev.map(|e| e.soc_pct()),
            session_energy_kwh: if charging {
                c.plant.session_energy_wh() / 1000.0
            } else {
                0.0
            },
            session: ev.map(|e| e.session),
            gun_temperature_c: gun,
            pack_temperature_c: ev.map(|e| {
                let (lo, hi) = e.pack().probe_temperature_range_c();
                (lo, hi)
            }),
            demand: c.link.as_ref().filter(|_| charging).map(|l| l.setpoint()),
            gbt_phase: c.link.as_ref().map(|l| {
                serde_json::to_value(l.pair.charger.phase())
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            }),
            transaction: c.tx.as_ref().map(|t| t.record),
            vin: ev.map(|e| e.vin.clone()).filter(|v| !v.is_empty()),
        })
    }

    /// The GB/T 27930 messages of the connector's session as the charger last decoded
    /// them (BMS to charger: BHM, BRM, BCP, BRO, BCL, BCS, BSM, BST, BSD, BEM) and what
    /// it sends (setpoint, CEM, CST), one formatted line each; empty without a session.
    pub fn connector_gbt_messages(&self, ci: usize) -> Vec<String> {
        let Some(link) = self.connectors.get(ci).and_then(|c| c.link.as_ref()) else {
            return Vec::new();
        };
        let charger = &link.pair.charger;
        let d = charger.bms_data();
        let mut out = Vec::new();
        let mut push = |name: &str, text: Option<String>| {
            if let Some(t) = text {
                out.push(format!("{name} {}", strip_type_name(&t)));
            }
        };
        push("BHM", d.bhm.as_ref().map(|m| format!("{m:?}")));
        push("BRM", d.brm.as_ref().map(|m| format!("{m:?}")));
        push("BCP", d.bcp.as_ref().map(|m| format!("{m:?}")));
        push("BRO", d.bro.as_ref().map(|m| format!("{m:?}")));
        push("BCL", d.bcl.as_ref().map(|m| format!("{m:?}")));
        push("BCS", d.bcs.as_ref().map(|m| format!("{m:?}")));
        push("BSM", d.bsm.as_ref().map(|m| format!("{m:?}")));
        push("BST", d.bst.as_ref().map(|m| format!("{m:?}")));
        push("BSD", d.bsd.as_ref().map(|m| format!("{m:?}")));
        push("BEM", d.bem.as_ref().map(|m| format!("{m:?}")));
        push("setpoint", Some(format!("{:?}", charger.setpoint())));
        push("CEM", Some(format!("{:?}", charger.cem())));
        push("CST", charger.cst().map(|m| format!("{m:?}")));
        out
    }

    /// The MQTT client of local connector `ci`'s charger as a few formatted lines: its
    /// protocol phase, APDUs sent and received, logins, the connector's last reported
    /// status and the transaction outbox; empty when the fleet runs without MQTT.
    pub fn connector_mqtt_summary(&self, ci: usize) -> Vec<String> {
        let Some(c) = self.connectors.get(ci) else {
            return Vec::new();
        };
        let Some(client) = self.mqtt.as_ref().and_then(|m| m.client(c.charger)) else {
            return Vec::new();
        };
        let stats = client.stats();
        let outbox = client.outbox_stats();
        let mut out = vec![
            format!("MQTT {:?}, {} logins", client.phase(), stats.logins),
            format!(
                "APDUs {} sent, {} received ({} telemetry, {} charging info)",
                stats.published, stats.received, stats.telemetries, stats.charging_infos
            ),
            format!(
                "transactions {} started, {} confirmed, {} pending in the outbox",
                outbox.created,
                outbox.confirmed,
                client.outbox().count()
            ),
        ];
        if let Some(status) = client.connector_status(self.connectors[ci].gun) {
            out.push(format!("last status sent: {status:?}"));
        }
        for a in self.connector_recent_apdus(ci) {
            out.push(format!(
                "{:>9.1} s {} {} #{}",
                a.at.as_secs_f64(),
                if a.up { "sent" } else { "recv" },
                a.code,
                a.seq
            ));
        }
        out
    }

    /// The last APDUs the MQTT client of local connector `ci`'s charger sent or received,
    /// oldest first (empty without MQTT).
    pub fn connector_recent_apdus(&self, ci: usize) -> Vec<super::RecentApdu> {
        let Some(c) = self.connectors.get(ci) else {
            return Vec::new();
        };
        self.mqtt
            .as_ref()
            .and_then(|m| m.recent.get(c.charger))
            .map(|r| r.oldest_first().copied().collect())
            .unwrap_or_default()
    }

    /// Whether the MQTT client of local connector `ci`'s charger is logged in (`None`
    /// when the fleet runs without MQTT).
    pub fn connector_online(&self, ci: usize) -> Option<bool> {
        let c = self.connectors.get(ci)?;
        self.mqtt.as_ref().map(|m| m.online(c.charger))
    }

    /// CAN frames of the GB/T sessions still running (both directions). The run's metrics
    /// count a session's frames when it ends; a live frame rate adds these.
    pub fn can_frames_in_progress(&self) -> u64 {
        self.connectors
            .iter()
            .filter_map(|c| c.link.as_ref())
            .map(|l| l.frame_counts().iter().map(|p| p.total()).sum::<u64>())
            .sum()
    }

    /// The local index of the connector with fleet id `id`.
    pub fn connector_index(&self, id: u32) -> Option<usize> {
        self.connectors.iter().position(|c| c.global_id == id)
    }

    /// Chargers whose MQTT client is logged in, and all chargers with a client.
    pub fn mqtt_online(&self) -> (u64, u64) {
        match &self.mqtt {
            Some(m) => {
                let online = (0..self.chargers.len()).filter(|&k| m.online(k)).count();
                (online as u64, self.chargers.len() as u64)
            }
            None => (0, 0),
        }
    }

    /// Virtual time at which the current run reached `now` (for rate computations).
    pub fn virtual_now(&self) -> Instant {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{Shard, WorldConfig};
    use crate::time::Duration;

    #[test]
    fn type_names_are_stripped_only_from_struct_debug_text() {
        assert_eq!(strip_type_name("Bcl { voltage_v: 1.0 }"), "voltage_v: 1.0");
        assert_eq!(strip_type_name("Ready"), "Ready");
        assert_eq!(strip_type_name("a b { c }"), "a b { c }");
    }

    #[test]
    fn charging_dc_connectors_show_their_gbt_messages_and_live_frames() {
        let lib = profiles::Library::bundled().unwrap();
        let scenario = lib.load_scenario("ci-smoke").unwrap();
        let mut w = World::new(
            &scenario,
            WorldConfig {
                seed: 3,
                duration: Some(Duration::from_secs(3600)),
                trace_level: None,
                shard: Shard::WHOLE,
                sample_interval: None,
                http_external: false,
            },
        )
        .unwrap();
        w.run_until(Instant::from_secs(300));
        let charging_dc = (0..w.connector_count())
            .find(|&ci| {
                w.connector_view(ci)
                    .is_some_and(|v| v.dc && v.state == ConnectorState::Charging)
            })
            .expect("ci-smoke has DC connectors charging after 5 minutes");
        let lines = w.connector_gbt_messages(charging_dc);
        assert!(lines.iter().any(|l| l.starts_with("BCL ")), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("BCS ")), "{lines:?}");
        assert!(w.can_frames_in_progress() > 0);
        assert_eq!(w.connector_online(charging_dc), Some(true));
        let mqtt = w.connector_mqtt_summary(charging_dc);
        assert!(mqtt[0].starts_with("MQTT Online"), "{mqtt:?}");
        assert!(
            mqtt.iter().any(|l| l.contains("last status sent")),
            "{mqtt:?}"
        );
        assert!(w.connector_gbt_messages(usize::MAX).is_empty());
        // The last APDUs (a charging charger mostly sends telemetry and charging
        // information), oldest first, also listed in the summary.
        let recent = w.connector_recent_apdus(charging_dc);
        assert_eq!(recent.len(), 6, "{recent:?}");
        assert!(
            recent.iter().any(|a| a.code == "ChargingInfoReq" && a.up),
            "{recent:?}"
        );
        assert!(recent.windows(2).all(|p| p[0].at <= p[1].at), "{recent:?}");
        let last = recent.last().unwrap();
        assert!(
            mqtt.last()
                .unwrap()
                .contains(&format!("{} #{}", last.code, last.seq)),
            "{mqtt:?}"
        );
        assert!(w.connector_recent_apdus(usize::MAX).is_empty());
    }
}
