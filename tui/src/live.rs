//! The simulation thread's side of an interactive run: applies the dashboard's commands
//! to the world (and to the real peers of the network stack) and publishes a model when
//! the screen has taken the last one.

use crate::dashboard::adapter::Adapter;
use crate::dashboard::bridge::SimEnd;
use crate::dashboard::model::Title;
use crate::dashboard::{FaultKind, FaultTarget, UiCommand};
use crate::stack::Stack;
use sim_core::fleet::{Fault, World};
use sim_core::report::InjectedFault;

/// Downtime of a broker restarted from the fault menu (the in-process broker), s.
const BROKER_DOWNTIME_S: f64 = 5.0;
/// Added answer delay of the "backend slow-down" fault, ms.
const BACKEND_DELAY_MS: f64 = 2_000.0;
/// Insulation resistance of the "insulation fault" (each pole to PE), kΩ: far below the
/// 100 Ω/V fault threshold of GB/T 18487.1 at any DC output voltage.
const INSULATION_KOHM: f64 = 10.0;

/// Faults injected during a run, for the report.
pub type FaultLog = Vec<InjectedFault>;

/// The dashboard's hold on a running world.
#[derive(Debug)]
pub struct Live {
    sim: SimEnd,
    adapter: Adapter,
    paused: bool,
    factor: f64,
    faults: FaultLog,
}

impl Live {
    /// Control through `sim` of the run named by `title`.
    pub fn new(sim: SimEnd, title: Title) -> Self {
        Live {
            sim,
            adapter: Adapter::new(title),
            paused: false,
            factor: 1.0,
            faults: Vec::new(),
        }
    }

    /// Runs after every chunk: applies the user's commands, updates the rolling windows
    /// and publishes a model if the screen wants one. Returns false when the user quit.
    pub fn tick(&mut self, world: &mut World, stack: Option<&mut Stack>, wall_s: f64) -> bool {
        let mut stack = stack;
        let mut go_on = true;
        for command in self.sim.poll_commands() {
            match command {
                UiCommand::Quit => go_on = false,
                UiCommand::TogglePause => {
                    self.paused = !self.paused;
                    world.set_arrival_rate_factor(if self.paused { 0.0 } else { self.factor });
                }
                UiCommand::ArrivalRate(f) => {
                    self.factor = if f.is_finite() { f.max(0.0) } else { 1.0 };
                    if !self.paused {
                        world.set_arrival_rate_factor(self.factor);
                    }
                }
                UiCommand::InjectFault { target, fault } => {
                    let entry = inject(world, stack.as_deref_mut(), target, fault);
                    self.faults.push(entry);
                }
                UiCommand::SelectConnector(_) | UiCommand::ConnectorWindow(_) => {}
            }
        }
        match stack.as_deref() {
            Some(s) if s.has_http() => {
                let add = |m: &mut sim_core::metrics::Metrics| s.add_http_metrics(m);
                self.adapter.observe(world, Some(&add));
            }
            _ => self.adapter.observe(world, None),
        }
        if self.sim.wants_model() {
            let model = self.adapter.build(
                world,
                self.sim.query(),
                self.sim.selected(),
                wall_s,
                self.paused,
            );
            self.sim.publish(model);
        }
        go_on
    }

    /// The faults injected so far.
    pub fn into_faults(self) -> FaultLog {
        self.faults
    }
}

/// The world's fault for a menu entry.
pub fn fault_of(kind: FaultKind) -> Fault {
    match kind {
        FaultKind::CutNetwork => Fault::CutNetwork,
        FaultKind::RestartBroker => Fault::RestartBroker {
            downtime_s: BROKER_DOWNTIME_S,
        },
        FaultKind::BmsTimeout => Fault::BmsTimeout,
        FaultKind::InsulationFault => Fault::InsulationFault {
            resistance_kohm: INSULATION_KOHM,
        },
        FaultKind::OverTemperature => Fault::OverTemperature,
        FaultKind::EmergencyStop => Fault::EmergencyStop,
        FaultKind::BackendSlowdown => Fault::BackendSlowdown {
            delay_ms: BACKEND_DELAY_MS,
        },
    }
}

/// Injects one fault: into the world, or for the shared components of a real-time run
/// into the real broker or backend (recorded in the world's trace all the same).
pub fn inject(
    world: &mut World,
    stack: Option<&mut Stack>,
    target: FaultTarget,
    kind: FaultKind,
) -> InjectedFault {
    let fault = fault_of(kind);
    let (world_target, target_text) = match target {
        FaultTarget::Selected(id) => (
            sim_core::fleet::FaultTarget::Connector(id),
            format!("connector {id}"),
        ),
        FaultTarget::All => (sim_core::fleet::FaultTarget::All, "all".to_owned()),
    };
    let mut reached = world.inject(&world_target, &fault) as u64;
    if reached == 0
        && let Some(stack) = stack
    {
        let applied = match &fault {
            Fault::CutNetwork => {
                let chargers = world.target_chargers(&world_target);
                let cut = stack.cut_network(&chargers);
                if cut > 0 {
                    world.record_external_fault(&world_target, &fault);
                }
                reached = cut as u64;
                false
            }
            Fault::RestartBroker { .. } => stack.restart_broker(),
            Fault::BackendSlowdown { delay_ms } => {
                stack.slow_down_backend(std::time::Duration::from_secs_f64(delay_ms / 1000.0))
            }
            _ => false,
        };
        if applied {
            world.record_external_fault(&world_target, &fault);
            reached = 1;
        }
    }
    InjectedFault {
        at_s: world.now().as_secs_f64(),
        fault: fault.name().to_owned(),
        target: target_text,
        reached,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::bridge::bridge;
    use crate::dashboard::terminal::Feed;
    use sim_core::fleet::WorldConfig;
    use sim_core::time::{Duration, Instant};

    fn world() -> World {
        let lib = profiles::Library::bundled().unwrap();
        let scenario = lib.load_scenario("ci-smoke").unwrap();
        World::new(
            &scenario,
            WorldConfig {
                seed: 11,
                duration: Some(Duration::from_secs(3600)),
                trace_level: Some(sim_core::trace::TraceLevel::Session),
                shard: sim_core::fleet::Shard::WHOLE,
                sample_interval: None,
                http_external: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn commands_reach_the_world_and_faults_are_traced_and_logged() {
        let (sim, ui) = bridge();
        let mut live = Live::new(sim, Title::default());
        let mut w = world();
        w.run_until(Instant::from_secs(120));
        assert!(live.tick(&mut w, None, 0.0));
        let Feed::Model(first) = ui.feed(&[]) else {
            panic!("the first tick publishes a model");
        };
        assert!(!first.paused);
        let _ = ui.feed(&[
            UiCommand::TogglePause,
            UiCommand::InjectFault {
                target: FaultTarget::All,
                fault: FaultKind::BmsTimeout,
            },
            UiCommand::InjectFault {
                target: FaultTarget::All,
                fault: FaultKind::RestartBroker,
            },
        ]);
        assert!(live.tick(&mut w, None, 1.0));
        assert_eq!(w.arrival_rate_factor(), 0.0);
        let Feed::Model(paused) = ui.feed(&[UiCommand::ArrivalRate(2.0)]) else {
            panic!("a model after the commands");
        };
        assert!(paused.paused);
        assert!(live.tick(&mut w, None, 2.0));
        assert_eq!(w.arrival_rate_factor(), 0.0, "the rate waits for resume");
        let _ = ui.feed(&[UiCommand::TogglePause]);
        assert!(live.tick(&mut w, None, 3.0));
        assert_eq!(w.arrival_rate_factor(), 2.0);
        let _ = ui.feed(&[UiCommand::Quit]);
        assert!(!live.tick(&mut w, None, 4.0));
        let trace = String::from_utf8(w.take_trace_lines()).unwrap();
        assert!(trace.contains("fault_injected"), "faults are traced");
        assert!(trace.contains("bms_timeout"));
        assert!(trace.contains("arrival_rate_set"));
        let faults = live.into_faults();
        assert_eq!(faults.len(), 2);
        assert_eq!(faults[0].fault, "bms_timeout");
        assert!(faults[0].reached > 0, "DC sessions take a BMS timeout");
        assert_eq!(faults[1].fault, "restart_broker");
        assert_eq!(faults[1].reached, 1, "the in-process broker restarts");
    }

    #[test]
    fn cut_network_from_the_dashboard_cuts_a_real_broker_connection() {
        use crate::stack::{Stack, StackOptions};
        let lib = profiles::Library::bundled().unwrap();
        let mut scenario = lib.load_scenario("faults/network-partition").unwrap();
        scenario.scenario.timeline.clear();
        scenario.scenario.expect.clear();
        scenario.scenario.mqtt.transport = profiles::scenario::MqttTransport::Broker;
        let mut w = World::new(
            &scenario,
            WorldConfig {
                seed: 3,
                duration: Some(Duration::from_secs(60)),
                trace_level: Some(sim_core::trace::TraceLevel::Protocol),
                shard: sim_core::fleet::Shard::WHOLE,
                sample_interval: None,
                http_external: false,
            },
        )
        .unwrap();
        let options = StackOptions {
            broker: Some("embedded".into()),
            ca_file: None,
            mqtt_client: hil::mqtt::MqttTransport::default(),
            platform: None,
            tcec_keys: None,
            http_pipeline: 0,
            net_proxy: false,
        };
        let mut stack = Stack::start(&options, &scenario, &mut w).unwrap();
        // Drive the world in 10 ms steps (virtual time follows the steps, not the wall).
        let step = |w: &mut World, stack: &mut Stack, n: usize| {
            for _ in 0..n {
                stack.pump(w);
                let next = w.now() + Duration::from_millis(10);
                w.run_until(next);
                #[expect(
                    clippy::disallowed_methods,
                    reason = "the real connections need wall time to connect and drop"
                )]
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        step(&mut w, &mut stack, 150);
        let before = String::from_utf8(w.take_trace_lines()).unwrap();
        assert!(
            before.contains(r#""entity":"ch0","event":"mqtt_link","up":true"#),
            "charger 0 connected to the embedded broker"
        );
        let injected = inject(
            &mut w,
            Some(&mut stack),
            FaultTarget::Selected(0),
            FaultKind::CutNetwork,
        );
        assert_eq!(injected.reached, 1, "{injected:?}");
        step(&mut w, &mut stack, 100);
        let after = String::from_utf8(w.take_trace_lines()).unwrap();
        assert!(after.contains("cut_network"), "the cut is traced");
        assert!(
            after.contains(r#""entity":"ch0","event":"mqtt_link","up":false"#),
            "charger 0's connection dropped: {after}"
        );
        assert!(
            !after.contains(r#""entity":"ch1","event":"mqtt_link","up":false"#),
            "only charger 0's"
        );
        stack.finish(&mut w).unwrap();
    }

    #[test]
    fn a_real_http_run_samples_the_served_operators_traffic_over_time() {
        use crate::stack::{Stack, StackOptions};
        let lib = profiles::Library::bundled().unwrap();
        let mut scenario = lib.load_scenario("faults/platform-outage").unwrap();
        scenario.scenario.timeline.clear();
        scenario.scenario.expect.clear();
        scenario.scenario.mqtt.enabled = false;
        scenario.scenario.http.transport = profiles::scenario::HttpTransport::Network;
        let mut w = World::new(
            &scenario,
            WorldConfig {
                seed: 5,
                duration: Some(Duration::from_secs(60)),
                trace_level: None,
                shard: sim_core::fleet::Shard::WHOLE,
                sample_interval: Some(Duration::SECOND),
                http_external: true,
            },
        )
        .unwrap();
        let options = StackOptions {
            broker: None,
            ca_file: None,
            mqtt_client: hil::mqtt::MqttTransport::default(),
            platform: Some("reference".into()),
            tcec_keys: None,
            http_pipeline: 0,
            net_proxy: false,
        };
        let mut stack = Stack::start(&options, &scenario, &mut w).unwrap();
        for _ in 0..400 {
            stack.pump(&mut w);
            let next = w.now() + Duration::from_millis(10);
            w.run_until(next);
            #[expect(
                clippy::disallowed_methods,
                reason = "the served platforms answer in wall time"
            )]
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let samples = &w.series().samples;
        assert!(samples.len() >= 3, "{} samples", samples.len());
        let last = samples.last().unwrap();
        assert!(
            last.messages.get("http").copied().unwrap_or(0) > 0,
            "HTTP messages are in the series: {:?}",
            last.messages
        );
        assert!(
            samples
                .iter()
                .any(|s| s.latency.keys().any(|k| k.starts_with("http."))),
            "HTTP latency is sampled per interval"
        );
        stack.finish(&mut w).unwrap();
    }
}
