//! [`Mosquitto`]: an Eclipse Mosquitto broker started as a child process on a free loopback
//! port with a generated configuration, for tests and local runs against a real broker.
//!
//! The configuration is the one the traps were measured with (reliability.md §1): loopback
//! only, anonymous, `max_inflight_messages 20`, no persistence (so a restart keeps no
//! session), TCP no-delay; plus a queue deep enough that a burst to the backend's single
//! subscription is not dropped (`max_queued_messages`, default 1,000).

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::MqttError;

/// A running mosquitto child process (killed on drop).
#[derive(Debug)]
pub struct Mosquitto {
    child: Option<Child>,
    binary: PathBuf,
    config: PathBuf,
    addr: SocketAddr,
}

impl Mosquitto {
    /// The mosquitto binary: on `PATH`, or Debian's `/usr/sbin/mosquitto`.
    pub fn find() -> Option<PathBuf> {
        let on_path = std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("mosquitto"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        on_path
            .into_iter()
            .chain([
                PathBuf::from("/usr/sbin/mosquitto"),
                PathBuf::from("/usr/local/sbin/mosquitto"),
            ])
            .find(|p| p.is_file())
    }

    /// Starts mosquitto on `127.0.0.1` at a free port. Fails with [`MqttError::NoMosquitto`]
    /// when it is not installed (`apt-get install -y mosquitto`).
    pub async fn start() -> Result<Self, MqttError> {
        Self::start_with_inflight(super::MAX_INFLIGHT).await
    }

    /// [`Mosquitto::start`] with `max_inflight_messages` set to `max_inflight` (at least 1):
    /// for a client that needs a wider QoS 1/2 window than the chargers' 20, such as a
    /// backend sending thousands of QoS 2 commands per second on one connection. Its own
    /// rumqttc in-flight setting must not exceed this, or QoS 2 messages are lost silently.
    pub async fn start_with_inflight(max_inflight: u16) -> Result<Self, MqttError> {
        let binary = Self::find().ok_or(MqttError::NoMosquitto)?;
        let addr = super::broker::free_loopback_port()?;
        let config = std::env::temp_dir().join(format!(
            "chargestorm-mosquitto-{}-{}.conf",
            std::process::id(),
            addr.port()
        ));
        let text = format!(
            "listener {} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages {}\n\
             persistence false\nset_tcp_nodelay true\nmax_queued_messages 200000\n\
             max_packet_size 1048576\n",
            addr.port(),
            max_inflight.max(1)
        );
        std::fs::write(&config, text)
            .map_err(|e| MqttError::Broker(format!("writing {}: {e}", config.display())))?;
        let mut m = Mosquitto {
            child: None,
            binary,
            config,
            addr,
        };
        m.spawn().await?;
        Ok(m)
    }

    async fn spawn(&mut self) -> Result<(), MqttError> {
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| MqttError::Broker(format!("starting {}: {e}", self.binary.display())))?;
        self.child = Some(child);
        for _ in 0..250 {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(MqttError::Broker(format!(
            "mosquitto did not listen on {}",
            self.addr
        )))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> super::BrokerUrl {
        super::BrokerUrl::loopback(self.addr.port())
    }

    /// Its process id while it runs (to read its CPU and memory from `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it with SIGKILL (no clean shutdown, nothing persisted).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with no memory of the previous run.
    pub async fn restart(&mut self) -> Result<(), MqttError> {
        self.kill();
        self.spawn().await
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.config);
    }
}
