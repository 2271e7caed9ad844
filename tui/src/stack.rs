//! The network stack of a real-time run: one tokio runtime carrying the embedded MQTT
//! broker, the reference backend on its own MQTT connection, the bridge with the chargers'
//! connections, the fleet's operator platform served on real HTTP, and the reference
//! monitoring platform (or the routes to a real one).

use anyhow::{Context, Result, bail};
use hil::bridge::{InboxWaiter, MqttBridge};
use hil::http::{
    ClientTls, PlatformServerConfig, Routes, RunningServer, SharedOperator, WallClock,
};
use hil::mqtt::{BackendRunner, BrokerUrl, EmbeddedBroker, MqttSettings, RealClock, RunnerStats};
use hil::pace::{Pacing, Sleep, Spin, Waiter};
use profiles::ResolvedScenario;
use profiles::scenario::BackendKind;
use sim_core::fleet::{ExternalAction, World};
use sim_core::mqtt::backend::Backend;
use sim_core::tcec::exchange::PeerId;
use sim_core::tcec::operator::OperatorPlatform;
use sim_core::tcec::platform::MonitoringPlatform;
use std::path::{Path, PathBuf};

/// Where the chargers' broker is, from `--broker`, the scenario, or the embedded one.
pub fn broker_choice(flag: Option<&str>, scenario: &ResolvedScenario) -> String {
    flag.map(str::to_owned)
        .or_else(|| scenario.scenario.mqtt.broker_url.clone())
        .unwrap_or_else(|| "embedded".to_owned())
}

/// Where the monitoring platform is, from `--platform`, the scenario, or the reference one.
pub fn platform_choice(flag: Option<&str>, scenario: &ResolvedScenario) -> String {
    flag.map(str::to_owned)
        .or_else(|| scenario.scenario.http.platform_url.clone())
        .unwrap_or_else(|| "reference".to_owned())
}

/// Options of the real-time stack.
pub struct StackOptions {
    /// The chargers' broker (`embedded` or a URL), if MQTT runs over a real broker.
    pub broker: Option<String>,
    /// CA for `mqtts://`.
    pub ca_file: Option<PathBuf>,
    /// The chargers' MQTT client engine.
    pub mqtt_client: hil::mqtt::MqttTransport,
    /// The monitoring platform (`reference` or a URL), if HTTP runs over real sockets.
    pub platform: Option<String>,
    /// Keys for a real platform.
    pub tcec_keys: Option<PathBuf>,
    /// Requests pipelined per connection to the platform (0: none).
    pub http_pipeline: usize,
    /// Put the TCP fault proxy between the chargers and the broker (also when the
    /// timeline has `net_*` actions).
    pub net_proxy: bool,
}

struct MqttPart {
    broker: Option<EmbeddedBroker>,
    settings: MqttSettings,
    backend: Option<BackendRunner>,
    bridge: MqttBridge,
    /// The fault proxy the chargers connect through, if any.
    proxy: Option<crate::netproxy::NetProxy>,
}

struct HttpPart {
    operator: RunningServer<OperatorPlatform>,
    platform: Option<RunningServer<MonitoringPlatform>>,
}

/// The setting a timeline action on a real peer replaced, restored when it ends.
enum Saved {
    Backend(sim_core::mqtt::backend::BackendFaults),
    Platform(sim_core::tcec::platform::PlatformFaults),
}

/// The running network stack.
pub struct Stack {
    runtime: tokio::runtime::Runtime,
    mqtt: Option<MqttPart>,
    http: Option<HttpPart>,
    /// Settings replaced by running timeline actions, by entry index.
    saved: std::collections::BTreeMap<u32, Saved>,
    /// The timeline actions carried out on real peers, for the report.
    applied: Vec<sim_core::report::InjectedFault>,
}

impl Stack {
    /// Starts what `options` asks for and attaches `world` to it.
    pub fn start(
        options: &StackOptions,
        scenario: &ResolvedScenario,
        world: &mut World,
    ) -> Result<Stack> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("chargestorm-io")
            .build()
            .context("cannot start the I/O runtime")?;
        let mqtt = match &options.broker {
            Some(url) => {
                let proxy = options.net_proxy
                    || scenario
                        .scenario
                        .timeline
                        .iter()
                        .any(|t| t.action.is_network());
                Some(start_mqtt(
                    &runtime,
                    url,
                    options.ca_file.clone(),
                    options.mqtt_client,
                    proxy,
                    scenario,
                    world,
                )?)
            }
            None => None,
        };
        let http = match &options.platform {
            Some(url) => Some(start_http(
                &runtime,
                url,
                options.tcec_keys.as_deref(),
                options.http_pipeline,
                scenario,
                world,
            )?),
            None => None,
        };
        Ok(Stack {
            runtime,
            mqtt,
            http,
            saved: std::collections::BTreeMap::new(),
            applied: Vec::new(),
        })
    }

    /// One line saying what runs where.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.mqtt {
            parts.push(format!(
                "MQTT broker mqtt://{}:{}{}",
                m.settings.url.host,
                m.settings.url.port,
                if m.broker.is_some() {
                    " (embedded)"
                } else {
                    ""
                }
            ));
            if let Some(p) = &m.proxy {
                parts.push(p.describe());
            }
        }
        if let Some(h) = &self.http {
            parts.push(format!("operator platform {}", h.operator.base_url()));
            if let Some(p) = &h.platform {
                parts.push(format!("reference monitoring platform {}", p.base_url()));
            }
        }
        parts.join(", ")
    }

    /// A waiter that wakes the simulation when a connection has news.
    pub fn waiter(&self) -> AnyWaiter {
        match &self.mqtt {
            Some(m) => AnyWaiter::Inbox(m.bridge.waiter(self.runtime.handle().clone())),
            None => AnyWaiter::Sleep(Sleep),
        }
    }

    /// Moves traffic between the world and the connections, and carries out the timeline
    /// actions the world handed over for the real peers.
    pub fn pump(&mut self, world: &mut World) {
        {
            let _guard = self.runtime.enter();
            if let Some(m) = self.mqtt.as_mut() {
                m.bridge.pump(world);
            }
            if self.http.is_some() {
                world.poll_http_commands();
            }
        }
        for action in world.take_external_actions() {
            let reached = self.apply_external(&action);
            world.record_external_action(&action, reached);
            if !action.ending {
                self.applied.push(sim_core::report::InjectedFault {
                    at_s: world.now().as_secs_f64(),
                    fault: action.spec.action.name().to_owned(),
                    target: format!("timeline {}", action.spec.label()),
                    reached: u64::from(reached),
                });
            }
        }
    }

    /// The fault proxy's counters, when the chargers connect through it.
    pub fn net_proxy_details(&self) -> Option<sim_core::report::NetProxyDetails> {
        self.mqtt
            .as_ref()
            .and_then(|m| m.proxy.as_ref())
            .map(crate::netproxy::NetProxy::details)
    }

    /// The timeline actions carried out on real peers so far, with their reach.
    pub fn applied_actions(&self) -> &[sim_core::report::InjectedFault] {
        &self.applied
    }

    /// Carries out (or ends) a timeline action on the real peers; returns how many targets
    /// it reached: chargers for `mqtt_disconnect`, 1 for a broker, backend or platform that
    /// took it, 0 when none here can.
    pub fn apply_external(&mut self, action: &ExternalAction) -> u32 {
        use profiles::timeline::Action as A;
        match action.spec.action {
            A::RestartBroker => u32::from(self.broker_action(action.ending)),
            A::MqttDisconnect => self.cut_chargers(action),
            A::Reboot | A::FirmwareUpdate => self.backend_command(action),
            a if a.is_network() => self
                .mqtt
                .as_ref()
                .and_then(|m| m.proxy.as_ref())
                .map_or(0, |p| p.apply(action)),
            A::BackendSlowdown
            | A::BackendDropResponses
            | A::BackendMalformed
            | A::BackendNeverAnswer => u32::from(self.backend_action(action)),
            A::Platform500
            | A::PlatformTimeout
            | A::PlatformExpiredToken
            | A::PlatformWrongSignature => u32::from(self.platform_action(action)),
            _ => 0,
        }
    }

    /// A broker restart on the embedded broker: it stops now and comes back when the
    /// action ends (a broker that cannot stop, rumqttd, restarts at once instead).
    fn broker_action(&mut self, ending: bool) -> bool {
        let Some(broker) = self.mqtt.as_mut().and_then(|m| m.broker.as_mut()) else {
            return false;
        };
        if ending {
            let up = self.runtime.block_on(broker.restart()).is_ok();
            if let Some(runner) = self.mqtt.as_ref().and_then(|m| m.backend.as_ref()) {
                runner.reconnect_now();
            }
            return up;
        }
        self.runtime.block_on(broker.stop()).is_ok()
            || self.runtime.block_on(broker.restart()).is_ok()
    }

    /// Cuts the chosen chargers' connections, held down for the action's duration.
    fn cut_chargers(&mut self, action: &ExternalAction) -> u32 {
        let Some(m) = self.mqtt.as_ref() else {
            return 0;
        };
        let hold = action.duration().map_or(std::time::Duration::ZERO, |d| {
            std::time::Duration::from_micros(d.as_micros())
        });
        let _guard = self.runtime.enter();
        action
            .chargers
            .iter()
            .filter(|&&k| m.bridge.cut(k, hold))
            .count() as u32
    }

    /// The reference backend resets the targeted chargers or sends them a firmware update
    /// (`fail = true`: with a wrong MD5); returns how many it sent. A real backend cannot
    /// be told to: 0.
    fn backend_command(&mut self, action: &ExternalAction) -> u32 {
        let Some(runner) = self.mqtt.as_ref().and_then(|m| m.backend.as_ref()) else {
            return 0;
        };
        if action.ending {
            return 0;
        }
        let devices = action.devices.clone();
        let reboot = action.spec.action == profiles::timeline::Action::Reboot;
        let fail = action.spec.fail.unwrap_or(false);
        let sent = self.runtime.block_on(runner.call(move |backend, now| {
            let mut sent = 0u32;
            for device in &devices {
                let ok = if reboot {
                    backend.reset(now, device, proto::mqtt::control::ResetKind::Program)
                } else {
                    let md5 = fail.then_some("00000000000000000000000000000000");
                    backend.update_firmware(now, device, "chargestorm-fw.bin", "9.9.9", md5)
                };
                sent += u32::from(ok.is_ok());
            }
            sent
        }));
        sent.unwrap_or(0)
    }

    /// Changes (or restores) the reference backend runner's faults.
    fn backend_action(&mut self, action: &ExternalAction) -> bool {
        let Some(runner) = self.mqtt.as_ref().and_then(|m| m.backend.as_ref()) else {
            return false;
        };
        let restore = match self.saved.remove(&action.entry) {
            Some(Saved::Backend(f)) if action.ending => Some(f),
            _ if action.ending => return false,
            _ => None,
        };
        let change = action.clone();
        let old = self.runtime.block_on(runner.call(move |backend, _now| {
            let old = backend.faults().clone();
            let new = restore.unwrap_or_else(|| {
                let mut f = old.clone();
                change.apply_to_backend(&mut f);
                f
            });
            backend.set_faults(new);
            old
        }));
        match old {
            Some(old) => {
                if !action.ending {
                    self.saved.insert(action.entry, Saved::Backend(old));
                }
                true
            }
            None => false,
        }
    }

    /// Changes (or restores) the served reference monitoring platform's faults.
    fn platform_action(&mut self, action: &ExternalAction) -> bool {
        let Some(server) = self.http.as_ref().and_then(|h| h.platform.as_ref()) else {
            return false;
        };
        if action.ending {
            return match self.saved.remove(&action.entry) {
                Some(Saved::Platform(f)) => {
                    server.shared().with(|p, _, _| p.set_faults(f));
                    true
                }
                _ => false,
            };
        }
        let old = server.shared().with(|p, _, _| {
            let old = *p.faults();
            let mut new = old;
            action.apply_to_platform(&mut new);
            p.set_faults(new);
            old
        });
        self.saved.insert(action.entry, Saved::Platform(old));
        true
    }

    /// The metrics the served operator platform has recorded so far (HTTP messages,
    /// latency, errors), added to `into`. They join the world's metrics only when the
    /// run finishes, so a live view adds them itself.
    pub fn add_http_metrics(&self, into: &mut sim_core::metrics::Metrics) {
        if let Some(h) = &self.http {
            into.absorb(&h.operator.shared().lock().metrics);
        }
    }

    /// Whether part of the run's metrics live outside the world until it finishes.
    pub fn has_http(&self) -> bool {
        self.http.is_some()
    }

    /// Cuts the real broker connections of local chargers `chargers` (they reconnect with
    /// their back-off at once); returns how many were cut.
    pub fn cut_network(&mut self, chargers: &[usize]) -> usize {
        let Some(m) = self.mqtt.as_ref() else {
            return 0;
        };
        let _guard = self.runtime.enter();
        chargers
            .iter()
            .filter(|&&k| m.bridge.cut(k, std::time::Duration::ZERO))
            .count()
    }

    /// Restarts the embedded broker (every connection drops; the chargers reconnect with
    /// back-off). False when the chargers use another broker or the restart failed.
    pub fn restart_broker(&mut self) -> bool {
        let Some(broker) = self.mqtt.as_mut().and_then(|m| m.broker.as_mut()) else {
            return false;
        };
        let up = self.runtime.block_on(broker.restart()).is_ok();
        if let Some(runner) = self.mqtt.as_ref().and_then(|m| m.backend.as_ref()) {
            runner.reconnect_now();
        }
        up
    }

    /// Delays every answer of the reference backend by `delay`. False when the chargers
    /// talk to an external backend.
    pub fn slow_down_backend(&mut self, delay: std::time::Duration) -> bool {
        let Some(runner) = self.mqtt.as_ref().and_then(|m| m.backend.as_ref()) else {
            return false;
        };
        let delay = sim_core::time::Duration::from_micros(delay.as_micros() as u64);
        self.runtime
            .block_on(runner.call(move |backend, _now| {
                let mut faults = backend.faults().clone();
                faults.response_delay = delay;
                backend.set_faults(faults);
            }))
            .is_some()
    }

    /// Stops everything; adds the served operator's metrics to the world; returns the
    /// reference backend with its counters.
    pub fn finish(self, world: &mut World) -> Result<Option<(Backend, RunnerStats)>> {
        let Stack {
            runtime,
            mqtt,
            http,
            ..
        } = self;
        if let Some(h) = http {
            world.absorb_metrics(&h.operator.shared().lock().metrics);
            runtime.block_on(h.operator.shutdown());
            if let Some(p) = h.platform {
                runtime.block_on(p.shutdown());
            }
        }
        let mut out = None;
        if let Some(m) = mqtt {
            m.bridge.shutdown();
            if let Some(p) = &m.proxy {
                p.shutdown(&runtime);
            }
            if let Some(runner) = m.backend {
                out = Some(
                    runtime
                        .block_on(runner.stop())
                        .context("the reference backend did not stop cleanly")?,
                );
            }
        }
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        Ok(out)
    }
}

fn start_mqtt(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    ca_file: Option<PathBuf>,
    mqtt_client: hil::mqtt::MqttTransport,
    with_proxy: bool,
    scenario: &ResolvedScenario,
    world: &World,
) -> Result<MqttPart> {
    let _guard = runtime.enter();
    let (broker, broker_url) = if url == "embedded" {
        let b = EmbeddedBroker::start().context("cannot start the embedded MQTT broker")?;
        let u = b.url();
        (Some(b), u)
    } else {
        (
            None,
            BrokerUrl::parse(url).with_context(|| format!("invalid broker URL {url}"))?,
        )
    };
    let spec = &scenario.scenario.mqtt;
    let mut settings = MqttSettings::new(broker_url);
    settings.keep_alive = std::time::Duration::from_secs(u64::from(spec.heartbeat_interval_s));
    settings.ca_file = ca_file;
    settings.transport = mqtt_client;
    if let (Ok(user), Ok(password)) = (
        std::env::var("CHARGESTORM_MQTT_USER"),
        std::env::var("CHARGESTORM_MQTT_PASSWORD"),
    ) {
        settings.credentials = Some((user, password));
    }
    let backend = match spec.backend {
        BackendKind::Reference => {
            let backend =
                sim_core::fleet::reference_backend(spec, world.wall_clock(), world.seed())
                    .map_err(anyhow::Error::msg)?;
            Some(
                runtime
                    .block_on(BackendRunner::start(&settings, backend, RealClock::start()))
                    .context("the reference backend could not connect to the broker")?,
            )
        }
        BackendKind::External => None,
    };
    let (proxy, charger_settings) = if with_proxy {
        let (proxy, url) = crate::netproxy::NetProxy::start(
            runtime,
            &settings.url,
            world.mqtt_client_ids(),
            world.seed(),
        )?;
        let mut through = settings.clone();
        through.url = url;
        (Some(proxy), through)
    } else {
        (None, settings.clone())
    };
    let bridge = MqttBridge::new(&charger_settings, world)
        .context("cannot create the charger connections")?;
    Ok(MqttPart {
        broker,
        settings,
        backend,
        bridge,
        proxy,
    })
}

fn start_http(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    keys: Option<&Path>,
    pipeline: usize,
    scenario: &ResolvedScenario,
    world: &mut World,
) -> Result<HttpPart> {
    let _guard = runtime.enter();
    let spec = &scenario.scenario.http;
    let operator_listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .context("cannot bind the operator platform's port")?;
    let operator_url = format!("http://{}", operator_listener.local_addr()?);
    let clock = WallClock::start();
    let epoch = clock.beijing_epoch();
    let (_, mut platform_config) =
        sim_core::fleet::http_configs(spec, world.seed(), epoch).map_err(anyhow::Error::msg)?;
    let (platform, platform_url) = if url == "reference" {
        platform_config.epoch = epoch;
        let server = runtime
            .block_on(hil::http::serve_platform(
                "127.0.0.1:0".parse()?,
                PlatformServerConfig {
                    platform: platform_config,
                    operator_urls: vec![operator_url.clone()],
                    tls: None,
                    client_tls: ClientTls::default(),
                },
            ))
            .context("cannot start the reference monitoring platform")?;
        let base = server.base_url();
        (Some(server), base)
    } else {
        if keys.is_none() {
            bail!("a real monitoring platform needs the keys it issued: --tcec-keys FILE");
        }
        (None, url.trim_end_matches('/').to_owned())
    };
    let mut operator = world
        .take_http_operator()
        .context("the scenario has no [http] enabled = true")?;
    operator.start_clock(clock.now());
    if let Some(path) = keys {
        let peer = keys_file(path)?;
        operator.set_peer_keys(PeerId(0), peer.0, peer.1);
    }
    let routes = Routes::new()
        .with(PeerId(0), &platform_url)
        .with_context(|| format!("invalid platform URL {platform_url}"))?;
    let client_tls = ClientTls {
        native_roots: true,
        ca_pem: None,
    };
    let client = hil::http::HttpClient::pipelined(&client_tls, pipeline)
        .context("cannot build the operator's HTTP client")?;
    let server = hil::http::serve_machine_with_client(
        operator_listener,
        operator,
        clock,
        routes,
        None,
        client,
    )
    .context("cannot serve the operator platform")?;
    world.attach_http_operator(Box::new(SharedOperator(server.shared().clone())));
    Ok(HttpPart {
        operator: server,
        platform,
    })
}

/// Reads a keys file: `[outbound]` (the keys the platform issued to us) and `[inbound]`
/// (the keys we issued to it), each with `operator_id`, `operator_secret`, `data_secret`,
/// `data_secret_iv` and `sig_secret`. The file is read, never echoed.
pub fn keys_file(path: &Path) -> Result<(proto::tcec::TcecKeys, proto::tcec::TcecKeys)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct KeySet {
        operator_id: String,
        operator_secret: String,
        data_secret: String,
        data_secret_iv: String,
        sig_secret: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        outbound: KeySet,
        inbound: KeySet,
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: File =
        toml::from_str(&text).with_context(|| format!("{}: not a keys file", path.display()))?;
    let make = |k: KeySet, which: &str| {
        proto::tcec::TcecKeys::new(
            k.operator_id,
            k.operator_secret,
            &k.data_secret,
            &k.data_secret_iv,
            k.sig_secret,
        )
        .with_context(|| format!("{}: [{which}] keys are invalid", path.display()))
    };
    Ok((
        make(file.outbound, "outbound")?,
        make(file.inbound, "inbound")?,
    ))
}

/// Either a plain sleep or the stack's inbox waiter.
pub enum AnyWaiter {
    /// No sockets: sleep to the next deadline (`--pacing sleep`).
    Sleep(Sleep),
    /// No sockets: spin to the next deadline (`--pacing spin`).
    Spin(Spin),
    /// Sockets: wake on input.
    Inbox(InboxWaiter),
}

impl Waiter for AnyWaiter {
    fn wait(&mut self, timeout: std::time::Duration) {
        match self {
            AnyWaiter::Sleep(s) => s.wait(timeout),
            AnyWaiter::Spin(s) => s.wait(timeout),
            AnyWaiter::Inbox(w) => w.wait(timeout),
        }
    }

    fn granularity(&self) -> std::time::Duration {
        match self {
            AnyWaiter::Sleep(s) => s.granularity(),
            AnyWaiter::Spin(s) => s.granularity(),
            AnyWaiter::Inbox(w) => w.granularity(),
        }
    }
}

impl From<Pacing> for AnyWaiter {
    /// The waiter of a run with no sockets.
    fn from(pacing: Pacing) -> Self {
        match pacing {
            Pacing::Sleep => AnyWaiter::Sleep(Sleep),
            Pacing::Spin => AnyWaiter::Spin(Spin),
        }
    }
}

/// Refuses a real broker or platform at a speed they cannot keep.
pub fn check_speed_for_real_io(speed: hil::pace::Speed) -> Result<()> {
    if speed != hil::pace::Speed::REALTIME {
        bail!(
            "a run on a real broker or platform runs in real time: use --speed realtime \
             (or --transport memory for in-process peers at any speed)"
        );
    }
    Ok(())
}
