//! The network stack of a real-time run: the tokio runtime, the embedded MQTT broker, the
//! reference backend on its own MQTT connection, and the bridge carrying the chargers'
//! traffic.

use anyhow::{Context, Result, bail};
use hil::bridge::{InboxWaiter, MqttBridge};
use hil::mqtt::{BackendRunner, BrokerUrl, EmbeddedBroker, MqttSettings, RealClock, RunnerStats};
use hil::pace::{Sleep, Waiter};
use profiles::ResolvedScenario;
use profiles::scenario::BackendKind;
use sim_core::fleet::World;
use sim_core::mqtt::backend::Backend;
use std::path::PathBuf;

/// Where the chargers' broker is, from `--broker`, the scenario, or the embedded one.
pub fn broker_choice(flag: Option<&str>, scenario: &ResolvedScenario) -> String {
    flag.map(str::to_owned)
        .or_else(|| scenario.scenario.mqtt.broker_url.clone())
        .unwrap_or_else(|| "embedded".to_owned())
}

/// The running network stack.
pub struct Stack {
    runtime: tokio::runtime::Runtime,
    /// The embedded broker, when the run uses it.
    pub broker: Option<EmbeddedBroker>,
    /// Connection settings every client uses.
    pub settings: MqttSettings,
    backend: Option<BackendRunner>,
    bridge: MqttBridge,
}

impl Stack {
    /// Starts the broker (if `url` is `embedded`), the reference backend (if the scenario
    /// asks for it) and one connection per charger of `world`.
    pub fn start(
        url: &str,
        ca_file: Option<PathBuf>,
        scenario: &ResolvedScenario,
        world: &World,
    ) -> Result<Stack> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("chargestorm-io")
            .build()
            .context("cannot start the I/O runtime")?;
        let _guard = runtime.enter();
        let (broker, broker_url) = if url == "embedded" {
            let b = EmbeddedBroker::start().context("cannot start the embedded MQTT broker")?;
            let u = b.url();
            (Some(b), u)
        } else {
            (
                None,
                BrokerUrl::parse(url).with_context(|| format!("invalid --broker {url}"))?,
            )
        };
        let spec = &scenario.scenario.mqtt;
        let mut settings = MqttSettings::new(broker_url);
        settings.keep_alive = std::time::Duration::from_secs(u64::from(spec.heartbeat_interval_s));
        settings.ca_file = ca_file;
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
                let runner = runtime
                    .block_on(BackendRunner::start(&settings, backend, RealClock::start()))
                    .context("the reference backend could not connect to the broker")?;
                Some(runner)
            }
            BackendKind::External => None,
        };
        let bridge =
            MqttBridge::new(&settings, world).context("cannot create the charger connections")?;
        drop(_guard);
        Ok(Stack {
            runtime,
            broker,
            settings,
            backend,
            bridge,
        })
    }

    /// A waiter that wakes the simulation when a connection has news.
    pub fn waiter(&self) -> InboxWaiter {
        self.bridge.waiter(self.runtime.handle().clone())
    }

    /// Moves traffic between the world and the connections.
    pub fn pump(&mut self, world: &mut World) {
        let _guard = self.runtime.enter();
        self.bridge.pump(world);
    }

    /// Closes the connections and stops the backend; returns it with its counters.
    pub fn finish(self) -> Result<Option<(Backend, RunnerStats)>> {
        self.bridge.shutdown();
        let Some(runner) = self.backend else {
            return Ok(None);
        };
        let out = self
            .runtime
            .block_on(runner.stop())
            .context("the reference backend did not stop cleanly")?;
        self.runtime
            .shutdown_timeout(std::time::Duration::from_secs(2));
        Ok(Some(out))
    }
}

/// Either a plain sleep or the stack's inbox waiter.
pub enum AnyWaiter {
    /// No sockets: sleep to the next deadline.
    Sleep(Sleep),
    /// Sockets: wake on input.
    Inbox(InboxWaiter),
}

impl Waiter for AnyWaiter {
    fn wait(&mut self, timeout: std::time::Duration) {
        match self {
            AnyWaiter::Sleep(s) => s.wait(timeout),
            AnyWaiter::Inbox(w) => w.wait(timeout),
        }
    }
}

/// Refuses a real broker at a speed it cannot keep.
pub fn check_speed_for_real_io(speed: hil::pace::Speed) -> Result<()> {
    if speed != hil::pace::Speed::REALTIME {
        bail!(
            "a run on a real broker or platform runs in real time: use --speed realtime \
             (or --transport memory for an in-process broker at any speed)"
        );
    }
    Ok(())
}
