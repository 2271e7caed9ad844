//! Embedded broker comparison: rumqttd 0.20 (the former default), chargestorm's embedded
//! broker and Mosquitto, with the same rumqttc clients on loopback.
//!
//! ```sh
//! cargo bench -p hil --bench broker                       # everything, all three brokers
//! cargo bench -p hil --bench broker -- --broker embedded --connections 19000 --only connect
//! ```
//!
//! Scenarios, each on a fresh broker:
//! - `rtt`: QoS 2 request/response round trips: a client publishes to `/U/R/<id>`, a
//!   "backend" subscribed to `/U/R/+` answers on `/D/R/<id>`, both at QoS 2.
//! - `connect`: `--connections` clients connect at once; time until the last CONNACK.
//! - `fanin`: `--publishers` clients publish QoS 1 to `/U/C/<id>` at `--rate` msg/s in total
//!   for `--seconds`; one subscriber on `/U/C/+` (QoS 1). Latency is publish → delivery.
//!
//! Every broker runs in its own process (Mosquitto is a child process anyway; the other two
//! run in a copy of this binary), so that the clients of the benchmark get the whole file
//! limit (20,000 here) and every broker is measured the same way.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use hdrhistogram::Histogram;
use hil::mqtt::embedded::BrokerConfig;
use hil::mqtt::{EmbeddedBroker, Mosquitto};
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, MqttOptions, NetworkOptions, QoS};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// Set in the child process: which broker to run.
const CHILD_ENV: &str = "CHARGESTORM_BENCH_BROKER";

#[derive(Debug, Clone)]
struct Args {
    brokers: Vec<String>,
    only: Vec<String>,
    round_trips: u32,
    connections: u32,
    publishers: u32,
    rate: u32,
    seconds: u64,
}

impl Args {
    fn parse() -> Args {
        let mut a = Args {
            brokers: vec!["rumqttd".into(), "embedded".into(), "mosquitto".into()],
            only: vec!["rtt".into(), "connect".into(), "fanin".into()],
            round_trips: 2_000,
            connections: 2_000,
            publishers: 1_000,
            rate: 10_000,
            seconds: 10,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let list = |v: &str| v.split(',').map(str::to_owned).collect();
        for pair in args.windows(2) {
            let v = pair[1].as_str();
            match pair[0].as_str() {
                "--broker" => a.brokers = list(v),
                "--only" => a.only = list(v),
                "--round-trips" => a.round_trips = v.parse().expect("--round-trips N"),
                "--connections" => a.connections = v.parse().expect("--connections N"),
                "--publishers" => a.publishers = v.parse().expect("--publishers N"),
                "--rate" => a.rate = v.parse().expect("--rate MSG_PER_S"),
                "--seconds" => a.seconds = v.parse().expect("--seconds S"),
                _ => {}
            }
        }
        a
    }
}

fn main() {
    if let Ok(kind) = std::env::var(CHILD_ENV) {
        child(&kind);
        return;
    }
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for broker in &args.brokers {
            for scenario in &args.only {
                let mut b = Broker::start(broker).await;
                match scenario.as_str() {
                    "rtt" => rtt(&b, broker, args.round_trips).await,
                    "connect" => connect(&b, broker, args.connections).await,
                    "fanin" => fanin(&b, broker, &args).await,
                    other => panic!("unknown scenario {other}"),
                }
                if let Some(stats) = b.stats() {
                    println!("    broker stats: {stats}");
                }
                b.stop();
            }
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// The broker side: starts `kind`, prints `PORT n`, answers `stats` with one line, exits
/// when stdin closes.
fn child(kind: &str) {
    let broker = match kind {
        "embedded" => EmbeddedBroker::start_with(BrokerConfig {
            max_connections: 19_900,
            ..BrokerConfig::default()
        }),
        "rumqttd" => EmbeddedBroker::start_rumqttd(),
        other => panic!("unknown broker {other}"),
    }
    .expect("broker starts");
    let mut out = std::io::stdout();
    writeln!(out, "PORT {}", broker.addr().port()).unwrap();
    out.flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line == "stats" {
            match broker.stats() {
                Some(s) => writeln!(out, "{s:?}").unwrap(),
                None => writeln!(out, "(none)").unwrap(),
            }
            out.flush().unwrap();
        }
    }
}

/// A broker under test.
enum Broker {
    Child {
        child: Child,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
        port: u16,
    },
    Mosquitto(Mosquitto),
}

impl Broker {
    async fn start(kind: &str) -> Broker {
        if kind == "mosquitto" {
            return Broker::Mosquitto(Mosquitto::start().await.expect("mosquitto starts"));
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("broker process starts");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("broker process said {line:?}"));
        Broker::Child {
            child,
            stdin,
            stdout,
            port,
        }
    }

    fn port(&self) -> u16 {
        match self {
            Broker::Child { port, .. } => *port,
            Broker::Mosquitto(m) => m.addr().port(),
        }
    }

    fn stats(&mut self) -> Option<String> {
        let Broker::Child { stdin, stdout, .. } = self else {
            return None;
        };
        writeln!(stdin, "stats").ok()?;
        let mut line = String::new();
        stdout.read_line(&mut line).ok()?;
        Some(line.trim().to_owned())
    }

    fn stop(self) {
        match self {
            Broker::Child {
                mut child, stdin, ..
            } => {
                drop(stdin);
                let _ = child.wait();
            }
            Broker::Mosquitto(mut m) => m.kill(),
        }
    }
}

fn client(port: u16, id: &str, inflight: u16) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(60));
    o.set_inflight(inflight);
    let (c, mut el) = AsyncClient::new(o, 1_000);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(60);
    el.set_network_options(net);
    (c, el)
}

/// Polls until CONNACK; `false` if the connection failed.
async fn connected(el: &mut EventLoop) -> bool {
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// Polls until SUBACK.
async fn subscribed(el: &mut EventLoop) {
    loop {
        if let Event::Incoming(Incoming::SubAck(_)) = el.poll().await.expect("subscribes") {
            return;
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1e3)
}

async fn rtt(b: &Broker, name: &str, n: u32) {
    let port = b.port();
    let (backend, mut bel) = client(port, "backend", 20);
    backend.subscribe("/U/R/+", QoS::ExactlyOnce).await.unwrap();
    subscribed(&mut bel).await;
    tokio::spawn(async move {
        while let Ok(event) = bel.poll().await {
            if let Event::Incoming(Incoming::Publish(p)) = event
                && let Some(id) = p.topic.strip_prefix("/U/R/")
            {
                let reply = format!("/D/R/{id}");
                let _ = backend.try_publish(reply, QoS::ExactlyOnce, false, p.payload);
            }
        }
    });
    let (c, mut el) = client(port, "CS-rtt", 20);
    c.subscribe("/D/R/CS-rtt", QoS::ExactlyOnce).await.unwrap();
    subscribed(&mut el).await;
    let (tx, mut replies) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = el.poll().await {
            if let Event::Incoming(Incoming::Publish(_)) = event {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let mut hist = histogram();
    for i in 0..(n + 100) {
        let t0 = Instant::now();
        c.publish(
            "/U/R/CS-rtt",
            QoS::ExactlyOnce,
            false,
            i.to_be_bytes().to_vec(),
        )
        .await
        .unwrap();
        let Ok(Some(t1)) = timeout(Duration::from_secs(10), replies.recv()).await else {
            println!("{name:9} rtt: no reply within 10 s after {i} round trips");
            return;
        };
        if i >= 100 {
            hist.record((t1 - t0).as_micros().max(1) as u64).unwrap();
        }
    }
    println!(
        "{name:9} rtt: {} QoS 2 request/response round trips: p50 {}, p99 {}, max {}",
        hist.len(),
        ms(hist.value_at_quantile(0.5)),
        ms(hist.value_at_quantile(0.99)),
        ms(hist.max())
    );
}

async fn connect(b: &Broker, name: &str, n: u32) {
    let port = b.port();
    let t0 = Instant::now();
    let (tx, mut done) = mpsc::unbounded_channel();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    for i in 0..n {
        let (c, mut el) = client(port, &format!("CS{i:05}"), 20);
        let tx = tx.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let ok = connected(&mut el).await;
            let _ = tx.send(ok.then(Instant::now));
            let _keep = c;
            tokio::select! {
                _ = async { while el.poll().await.is_ok() {} } => {}
                _ = stop.changed() => {}
            }
        });
    }
    drop(tx);
    let mut hist = histogram();
    let mut failed = 0;
    let mut last = t0;
    while let Ok(Some(r)) = timeout(Duration::from_secs(120), done.recv()).await {
        match r {
            Some(at) => {
                hist.record((at - t0).as_micros().max(1) as u64).unwrap();
                last = last.max(at);
            }
            None => failed += 1,
        }
    }
    let took = (last - t0).as_secs_f64();
    println!(
        "{name:9} connect: {} of {n} clients connected in {:.2} s ({:.0} connects/s), {failed} failed; \
         time to CONNACK p50 {}, p99 {}",
        hist.len(),
        took,
        hist.len() as f64 / took,
        ms(hist.value_at_quantile(0.5)),
        ms(hist.value_at_quantile(0.99)),
    );
    let _ = stop_tx.send(true);
}

async fn fanin(b: &Broker, name: &str, a: &Args) {
    let port = b.port();
    let base = Instant::now();
    let (sub, mut sel) = client(port, "backend", 20);
    sub.subscribe("/U/C/+", QoS::AtLeastOnce).await.unwrap();
    subscribed(&mut sel).await;
    let (tx, mut delivered) = mpsc::unbounded_channel::<u64>();
    let receiver = tokio::spawn(async move {
        let _keep = sub;
        while let Ok(event) = sel.poll().await {
            if let Event::Incoming(Incoming::Publish(p)) = event
                && let Ok(sent) = <[u8; 8]>::try_from(&p.payload[..8.min(p.payload.len())])
            {
                let now = base.elapsed().as_micros() as u64;
                let _ = tx.send(now.saturating_sub(u64::from_be_bytes(sent)));
            }
        }
    });
    let per_publisher = Duration::from_secs_f64(f64::from(a.publishers) / f64::from(a.rate));
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let run_for = Duration::from_secs(a.seconds);
    let publishers = a.publishers;
    let sent_total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..a.publishers {
        let (c, mut el) = client(port, &format!("CS{i:05}"), 20);
        let ready_tx = ready_tx.clone();
        let sent_total = std::sync::Arc::clone(&sent_total);
        tasks.push(tokio::spawn(async move {
            if !connected(&mut el).await {
                return;
            }
            let _ = ready_tx.send(());
            let pump = tokio::spawn(async move { while el.poll().await.is_ok() {} });
            let topic = format!("/U/C/CS{i:05}");
            // Stagger the publishers over one period.
            let offset = per_publisher.mul_f64(f64::from(i) / f64::from(publishers.max(1)));
            tokio::time::sleep(offset).await;
            let mut tick = tokio::time::interval(per_publisher);
            let end = Instant::now() + run_for;
            while Instant::now() < end {
                tick.tick().await;
                let mut payload = (base.elapsed().as_micros() as u64).to_be_bytes().to_vec();
                payload.resize(64, 0);
                if c.publish(topic.as_str(), QoS::AtLeastOnce, false, payload)
                    .await
                    .is_err()
                {
                    break;
                }
                sent_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_secs(600)).await;
            pump.abort();
        }));
    }
    drop(ready_tx);
    for _ in 0..a.publishers {
        let _ = timeout(Duration::from_secs(120), ready.recv()).await;
    }
    let t0 = Instant::now();
    let mut hist = histogram();
    let mut last = t0;
    // Until everything sent has arrived, or 10 s pass without a delivery after the
    // publishers stopped, or a minute after they stopped.
    let publishing_ends = t0 + run_for + per_publisher;
    let hard_deadline = publishing_ends + Duration::from_secs(60);
    loop {
        let sent = sent_total.load(std::sync::atomic::Ordering::Relaxed);
        let now = Instant::now();
        if now > publishing_ends && hist.len() >= sent {
            break;
        }
        let quiet = if now > publishing_ends {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(60)
        };
        let until = (now + quiet).min(hard_deadline);
        let Ok(Some(lat)) = tokio::time::timeout_at(until, delivered.recv()).await else {
            break;
        };
        hist.record(lat.max(1)).unwrap();
        last = Instant::now();
    }
    let sent = sent_total.load(std::sync::atomic::Ordering::Relaxed);
    let took = (last - t0).as_secs_f64();
    for t in tasks {
        t.abort();
    }
    receiver.abort();
    println!(
        "{name:9} fanin: {} publishers → 1 `+` subscriber, QoS 1, {} msg/s offered for {} s: \
         {} of {sent} delivered in {:.1} s ({:.0} msg/s); latency p50 {}, p99 {}, max {}",
        a.publishers,
        a.rate,
        a.seconds,
        hist.len(),
        took,
        hist.len() as f64 / took,
        ms(hist.value_at_quantile(0.5)),
        ms(hist.value_at_quantile(0.99)),
        ms(hist.max()),
    );
}
