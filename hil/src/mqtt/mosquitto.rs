//! [`Mosquitto`]: an Eclipse Mosquitto broker started as a child process on a free loopback
//! port with a generated configuration, for tests and local runs against a real broker.
//!
//! The configuration is the one the traps were measured with (reliability.md §1): loopback
//! only, anonymous, `max_inflight_messages 20`, no persistence (so a restart keeps no
//! session), TCP no-delay; plus a queue deep enough that a burst to the backend's single
//! subscription is not dropped (`max_queued_messages`, default 1,000). Its `$SYS` counters
//! are refreshed every second ([`Mosquitto::publish_counters`]) and its CPU time is read from
//! `/proc` ([`Mosquitto::cpu_time`]), so that a benchmark can attribute lost messages and
//! show the broker's share of the machine.

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
             max_packet_size 1048576\nsys_interval 1\n",
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

    /// The broker process's id (`None` once killed).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// CPU time (user and system) the broker process has used so far, from
    /// `/proc/PID/stat` (Linux; `None` elsewhere or once killed).
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        proc_stat_cpu(&stat)
    }

    /// The broker's own publish counters (`$SYS/broker/publish/messages/{received,sent,
    /// dropped}`, refreshed every second): read with a short-lived client, at most 5 s.
    pub async fn publish_counters(&self) -> Result<PublishCounters, MqttError> {
        let id = format!("chargestorm-sys-{}", std::process::id());
        let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", self.addr.port());
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = rumqttc::AsyncClient::new(options, 10);
        client
            .subscribe("$SYS/broker/publish/messages/+", rumqttc::QoS::AtMostOnce)
            .await
            .map_err(|e| MqttError::Broker(format!("$SYS subscription: {e}")))?;
        let mut found = [None; 3];
        let read = async {
            while found.iter().any(Option::is_none) {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let slot = match p.topic.rsplit('/').next() {
                            Some("received") => 0,
                            Some("sent") => 1,
                            Some("dropped") => 2,
                            _ => continue,
                        };
                        found[slot] = std::str::from_utf8(&p.payload)
                            .ok()
                            .and_then(|t| t.trim().parse::<u64>().ok());
                    }
                    Ok(_) => {}
                    Err(e) => return Err(MqttError::Broker(format!("$SYS read: {e}"))),
                }
            }
            Ok(())
        };
        let outcome = tokio::time::timeout(Duration::from_secs(5), read).await;
        let _ = client.try_disconnect();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(MqttError::Broker(
                    "the broker published no $SYS counters within 5 s".to_owned(),
                ));
            }
        }
        // A counter the broker never published (nothing dropped yet) is zero.
        Ok(PublishCounters {
            received: found[0].unwrap_or(0),
            sent: found[1].unwrap_or(0),
            dropped: found[2].unwrap_or(0),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> super::BrokerUrl {
        super::BrokerUrl::loopback(self.addr.port())
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

/// Mosquitto's own publish counters since it started (its `$SYS` tree).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishCounters {
    /// PUBLISH packets received from clients.
    pub received: u64,
    /// PUBLISH packets sent to clients (its `$SYS` messages included).
    pub sent: u64,
    /// Publishes dropped at the `max_inflight_messages` / `max_queued_messages` limits.
    pub dropped: u64,
}

/// User plus system CPU time in a `/proc/PID/stat` line (clock ticks of 10 ms, Linux's
/// `USER_HZ`); `None` if the line does not parse.
fn proc_stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_cpu_counts_user_and_system_ticks_after_the_name() {
        // pid (comm with a space) state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime=150 stime=25 ...
        let line = "42 (mos quitto) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 1 0";
        assert_eq!(proc_stat_cpu(line), Some(Duration::from_millis(1750)));
        assert_eq!(proc_stat_cpu("42 (x) S 1"), None);
        assert_eq!(proc_stat_cpu("garbage"), None);
    }
}
