//! The peer the MQTT figures are compared with: a bare rumqttc publisher, one connection
//! per client, QoS 0 publishes round-robin at a fixed total rate — what a load generator
//! that simulates nothing costs. It runs in its own process (`chargestorm bench-baseline`)
//! so its CPU and memory are accounted apart from everything else.

use anyhow::{Context, Result, bail};
use clap::Args;
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Packet, QoS};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `chargestorm bench-baseline` (used by `chargestorm bench`).
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct BaselineParams {
    /// The broker, `HOST:PORT`.
    #[arg(long)]
    pub broker: SocketAddr,
    /// Connections (one client each).
    #[arg(long)]
    pub clients: usize,
    /// Total publishes per second over all clients.
    #[arg(long)]
    pub rate_per_s: f64,
    /// How long to publish, s.
    #[arg(long)]
    pub seconds: f64,
    /// Also connect one subscriber on `/U/M/+` and count what the broker delivers to it
    /// (the publishers' topics): the broker's own ceiling with bare clients on both ends.
    #[arg(long)]
    #[serde(default)]
    pub subscribe: bool,
}

/// What the baseline process measured of itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineResult {
    /// Connections that were up when publishing began.
    pub connected: usize,
    /// Publishes handed to the clients.
    pub published: u64,
    /// CPU seconds (user + system) of the whole process, connecting included.
    pub cpu_s: f64,
    /// Peak resident set size, KiB.
    pub max_rss_kib: u64,
    /// Publishes the subscriber received (with `--subscribe`).
    #[serde(default)]
    pub delivered: u64,
    /// Wall time from the first publish to the last delivery counted, s.
    #[serde(default)]
    pub publish_wall_s: f64,
    /// Delivery latency from each publish's intended send time, ms: p50, p99, max.
    #[serde(default)]
    pub latency_ms: Option<[f64; 3]>,
}

impl BaselineResult {
    /// CPU per publish, µs.
    pub fn cpu_per_message_us(&self) -> f64 {
        self.cpu_s * 1e6 / self.published.max(1) as f64
    }
}

/// Runs the baseline in a child process of `exe` and returns its result.
pub fn run_isolated(exe: &Path, params: &BaselineParams) -> Result<BaselineResult> {
    let output = std::process::Command::new(exe)
        .args([
            "bench-baseline",
            "--broker",
            &params.broker.to_string(),
            "--clients",
            &params.clients.to_string(),
            "--rate-per-s",
            &params.rate_per_s.to_string(),
            "--seconds",
            &params.seconds.to_string(),
        ])
        .args(params.subscribe.then_some("--subscribe"))
        .output()
        .context("cannot start the baseline process")?;
    if !output.status.success() {
        bail!(
            "the baseline process failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("the baseline printed no result")
}

/// The baseline process's body: connect, publish, print a [`BaselineResult`] as JSON.
pub fn main(params: &BaselineParams) -> Result<ExitCode> {
    if params.clients == 0
        || params.rate_per_s.is_nan()
        || params.rate_per_s < 0.0
        || params.seconds.is_nan()
        || params.seconds <= 0.0
    {
        bail!("bench-baseline needs --clients > 0, --rate-per-s >= 0 and --seconds > 0");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(publish(params));
    println!("{}", serde_json::to_string(&result)?);
    Ok(ExitCode::SUCCESS)
}

/// Connects every client (at the fleet scenario's 2,000 connections/s) and returns how
/// many were up after at most 30 s.
async fn connect_all(params: &BaselineParams) -> (Vec<AsyncClient>, usize) {
    let connected = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::with_capacity(params.clients);
    for i in 0..params.clients {
        let mut options = MqttOptions::new(
            format!("baseline-{i}"),
            params.broker.ip().to_string(),
            params.broker.port(),
        );
        options.set_keep_alive(Duration::from_secs(60));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let mut net = NetworkOptions::new();
        net.set_tcp_nodelay(true);
        eventloop.set_network_options(net);
        let up = Arc::clone(&connected);
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        up.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        clients.push(client);
        if i % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while (connected.load(Ordering::Relaxed) as usize) < params.clients
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let up = connected.load(Ordering::Relaxed) as usize;
    (clients, up)
}

/// What the subscriber counts: deliveries and their latency from the intended send time
/// each publish carries (µs since the process's epoch, first 8 bytes).
struct Deliveries {
    count: AtomicU64,
    latency_us: std::sync::Mutex<hdrhistogram::Histogram<u64>>,
}

/// A bare rumqttc subscriber on `/U/M/+`: what it received.
async fn subscriber(broker: SocketAddr, epoch: tokio::time::Instant) -> Result<Arc<Deliveries>> {
    let mut options = MqttOptions::new("baseline-sub", broker.ip().to_string(), broker.port());
    options.set_keep_alive(Duration::from_secs(60));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    let received = Arc::new(Deliveries {
        count: AtomicU64::new(0),
        latency_us: std::sync::Mutex::new(
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .context("histogram bounds")?,
        ),
    });
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let count = Arc::clone(&received);
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe("/U/M/+", QoS::AtMostOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    count.count.fetch_add(1, Ordering::Relaxed);
                    if let Some(sent) = p.payload.get(..8) {
                        let mut at = [0u8; 8];
                        at.copy_from_slice(sent);
                        let intended = epoch + Duration::from_micros(u64::from_le_bytes(at));
                        let late = tokio::time::Instant::now().saturating_duration_since(intended);
                        if let Ok(mut h) = count.latency_us.lock() {
                            let _ = h.record((late.as_micros() as u64).clamp(1, 3_600_000_000));
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("bench-baseline: the subscriber's connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .context("the baseline subscriber got no SUBACK within 10 s")?
        .context("the baseline subscriber stopped")?;
    Ok(received)
}

async fn publish(params: &BaselineParams) -> BaselineResult {
    let epoch = tokio::time::Instant::now();
    let received = match params.subscribe {
        true => match subscriber(params.broker, epoch).await {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("bench-baseline: {e:#}");
                None
            }
        },
        false => None,
    };
    let (clients, connected) = connect_all(params).await;
    let started = tokio::time::Instant::now();
    let payload = vec![0x5a_u8; 80];
    let topics: Vec<String> = (0..clients.len())
        .map(|i| format!("/U/M/baseline-{i}"))
        .collect();
    let tick = Duration::from_millis(10);
    let per_tick = params.rate_per_s * tick.as_secs_f64();
    let ticks = (params.seconds / tick.as_secs_f64()).round() as u64;
    let mut interval = tokio::time::interval(tick);
    let mut owed = 0.0;
    let mut published = 0_u64;
    let mut next = 0_usize;
    for _ in 0..ticks {
        // The tick's scheduled instant is every publish's intended send time (a late tick
        // fires at once, and its publishes carry how late they are).
        let due = interval.tick().await;
        let stamp = (due.saturating_duration_since(epoch).as_micros() as u64).to_le_bytes();
        let mut payload = payload.clone();
        payload[..8].copy_from_slice(&stamp);
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            let i = next % clients.len();
            next += 1;
            if clients[i]
                .try_publish(topics[i].clone(), QoS::AtMostOnce, false, payload.clone())
                .is_ok()
            {
                published += 1;
            }
        }
    }
    // Let the last publishes leave (and, with a subscriber, arrive: until its count stops
    // growing for half a second, at most 30 s).
    let mut delivered = 0;
    let mut last_growth = tokio::time::Instant::now();
    match &received {
        Some(d) => {
            let give_up = last_growth + Duration::from_secs(30);
            while last_growth.elapsed() < Duration::from_millis(500)
                && tokio::time::Instant::now() < give_up
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let now = d.count.load(Ordering::Relaxed);
                if now > delivered {
                    delivered = now;
                    last_growth = tokio::time::Instant::now();
                }
            }
        }
        None => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            last_growth = tokio::time::Instant::now();
        }
    }
    let usage = crate::usage::process().unwrap_or_default();
    BaselineResult {
        connected,
        published,
        cpu_s: usage.cpu_user_s + usage.cpu_system_s,
        max_rss_kib: usage.max_rss_kib,
        delivered,
        publish_wall_s: (last_growth - started).as_secs_f64(),
        latency_ms: received.as_ref().and_then(|d| {
            let h = d.latency_us.lock().ok()?;
            (!h.is_empty()).then(|| {
                [
                    h.value_at_quantile(0.5) as f64 / 1000.0,
                    h.value_at_quantile(0.99) as f64 / 1000.0,
                    h.max() as f64 / 1000.0,
                ]
            })
        }),
    }
}
