//! The `broker` case of `chargestorm bench` (`--only broker`): the embedded MQTT broker
//! against rumqttd 0.20 (the former default) and Mosquitto, with the same rumqttc clients
//! on loopback. Each scenario runs on a fresh broker:
//! - `rtt`: QoS 2 request/response round trips: a client publishes to `/U/R/<id>`, a
//!   "backend" subscribed to `/U/R/+` answers on `/D/R/<id>`, both at QoS 2.
//! - `connect`: many clients connect at once; time until the last CONNACK.
//! - `fanin`: publishers send QoS 1 to `/U/C/<id>` at a fixed total rate; one subscriber
//!   on `/U/C/+` (QoS 1). Latency runs from each message's scheduled send time (carried in
//!   its payload) to its delivery, so a broker that falls behind shows it.
//!
//! Every broker runs in its own process (`chargestorm bench-broker KIND`; Mosquitto is a
//! child process anyway), so that the clients get the whole file limit and each broker is
//! measured the same way.

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use hil::mqtt::EmbeddedBroker;
use hil::mqtt::Mosquitto;
use hil::mqtt::embedded::BrokerConfig;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, MqttOptions, NetworkOptions, QoS};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// The group name `--only` selects.
pub const GROUP: &str = "broker";

/// The brokers compared, in table order.
const BROKERS: [&str; 3] = ["rumqttd", "embedded", "mosquitto"];

/// The sizes of one comparison.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    round_trips: u32,
    connections: u32,
    publishers: u32,
    rate_per_s: u32,
    seconds: u64,
}

/// What one broker measured.
#[derive(Debug, Default)]
pub struct BrokerRow {
    /// `rumqttd`, `embedded` or `mosquitto`.
    pub broker: &'static str,
    /// Round trips done, p50 and p99, ms.
    pub rtt: Option<(u64, f64, f64)>,
    /// Clients connected of those tried, failures, connects per second, CONNACK p99 ms.
    pub connect: Option<(u64, u32, u32, f64, f64)>,
    /// Delivered of sent, msg/s delivered, latency p50 / p99 / max ms.
    pub fanin: Option<(u64, u64, f64, f64, f64, f64)>,
}

/// The comparison's rows and sizes.
#[derive(Debug)]
pub struct BrokerOutcome {
    /// One row per broker.
    pub rows: Vec<BrokerRow>,
    sizes: Sizes,
}

/// The broker side, in its own process: starts `kind`, prints `PORT n`, exits when stdin
/// closes.
pub fn child(kind: &str) -> Result<()> {
    let broker = match kind {
        "embedded" => EmbeddedBroker::start_with(BrokerConfig {
            max_connections: 19_900,
            ..BrokerConfig::default()
        }),
        "rumqttd" => EmbeddedBroker::start_rumqttd(),
        other => bail!("unknown broker {other:?}: embedded or rumqttd"),
    }
    .context("the broker did not start")?;
    let mut out = std::io::stdout();
    writeln!(out, "PORT {}", broker.addr().port())?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    Ok(())
}

/// A broker under test.
enum Broker {
    Child {
        child: Child,
        stdin: ChildStdin,
        port: u16,
    },
    Mosquitto(Mosquitto),
}

impl Broker {
    async fn start(exe: &Path, kind: &str) -> Result<Broker> {
        if kind == "mosquitto" {
            return Ok(Broker::Mosquitto(Mosquitto::start().await.context(
                "the broker comparison needs mosquitto (apt-get install -y mosquitto)",
            )?));
        }
        let mut child = Command::new(exe)
            .args(["bench-broker", kind])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let stdin = child.stdin.take().context("the broker's stdin")?;
        let mut stdout: BufReader<ChildStdout> =
            BufReader::new(child.stdout.take().context("the broker's stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("the {kind} broker process said {line:?}"))?;
        Ok(Broker::Child { child, stdin, port })
    }

    fn port(&self) -> u16 {
        match self {
            Broker::Child { port, .. } => *port,
            Broker::Mosquitto(m) => m.addr().port(),
        }
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

/// Runs the comparison on every broker, its clients on `runtime`.
pub fn run(exe: &Path, runtime: &tokio::runtime::Runtime, quick: bool) -> Result<BrokerOutcome> {
    let sizes = if quick {
        Sizes {
            round_trips: 500,
            connections: 1_000,
            publishers: 500,
            rate_per_s: 5_000,
            seconds: 5,
        }
    } else {
        Sizes {
            round_trips: 2_000,
            connections: 2_000,
            publishers: 1_000,
            rate_per_s: 10_000,
            seconds: 10,
        }
    };
    let mut rows = Vec::new();
    for broker in BROKERS {
        eprintln!("bench: broker {broker}");
        let mut row = BrokerRow {
            broker,
            ..BrokerRow::default()
        };
        let b = runtime.block_on(Broker::start(exe, broker))?;
        row.rtt = runtime.block_on(rtt(b.port(), sizes.round_trips))?;
        b.stop();
        let b = runtime.block_on(Broker::start(exe, broker))?;
        row.connect = Some(runtime.block_on(connect(b.port(), sizes.connections))?);
        b.stop();
        let b = runtime.block_on(Broker::start(exe, broker))?;
        row.fanin = Some(runtime.block_on(fanin(b.port(), sizes))?);
        b.stop();
        rows.push(row);
    }
    Ok(BrokerOutcome { rows, sizes })
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
async fn subscribed(el: &mut EventLoop) -> Result<()> {
    loop {
        if let Event::Incoming(Incoming::SubAck(_)) =
            el.poll().await.context("subscribing failed")?
        {
            return Ok(());
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant histogram bounds are valid")
}

fn ms(us: u64) -> f64 {
    us as f64 / 1e3
}

/// QoS 2 round trips through a `+` subscriber: (done, p50 ms, p99 ms), `None` if the
/// broker stopped answering.
async fn rtt(port: u16, n: u32) -> Result<Option<(u64, f64, f64)>> {
    let (backend, mut bel) = client(port, "backend", 20);
    backend.subscribe("/U/R/+", QoS::ExactlyOnce).await?;
    subscribed(&mut bel).await?;
    let answering = tokio::spawn(async move {
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
    c.subscribe("/D/R/CS-rtt", QoS::ExactlyOnce).await?;
    subscribed(&mut el).await?;
    let (tx, mut replies) = mpsc::unbounded_channel();
    let receiving = tokio::spawn(async move {
        while let Ok(event) = el.poll().await {
            if let Event::Incoming(Incoming::Publish(_)) = event {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let mut hist = histogram();
    let mut result = None;
    for i in 0..(n + 100) {
        let t0 = Instant::now();
        c.publish(
            "/U/R/CS-rtt",
            QoS::ExactlyOnce,
            false,
            i.to_be_bytes().to_vec(),
        )
        .await?;
        let Ok(Some(t1)) = timeout(Duration::from_secs(10), replies.recv()).await else {
            eprintln!("bench: no reply within 10 s after {i} round trips");
            break;
        };
        if i >= 100 {
            let _ = hist.record((t1 - t0).as_micros().max(1) as u64);
        }
        if i + 1 == n + 100 {
            result = Some((
                hist.len(),
                ms(hist.value_at_quantile(0.5)),
                ms(hist.value_at_quantile(0.99)),
            ));
        }
    }
    answering.abort();
    receiving.abort();
    Ok(result)
}

/// `n` clients connecting at once: (connected, tried, failed, connects/s, CONNACK p99 ms).
async fn connect(port: u16, n: u32) -> Result<(u64, u32, u32, f64, f64)> {
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
    // Every client reports once (its task lives on, holding its sender, until `stop`).
    for _ in 0..n {
        let Ok(Some(r)) = timeout(Duration::from_secs(120), done.recv()).await else {
            break;
        };
        match r {
            Some(at) => {
                let _ = hist.record((at - t0).as_micros().max(1) as u64);
                last = last.max(at);
            }
            None => failed += 1,
        }
    }
    let _ = stop_tx.send(true);
    let took_s = (last - t0).as_secs_f64().max(1e-6);
    Ok((
        hist.len(),
        n,
        failed,
        hist.len() as f64 / took_s,
        ms(hist.value_at_quantile(0.99)),
    ))
}

/// Publishers fanning into one wildcard subscriber: (delivered, sent, msg/s delivered,
/// latency p50 / p99 / max ms from each message's scheduled send time).
async fn fanin(port: u16, s: Sizes) -> Result<(u64, u64, f64, f64, f64, f64)> {
    let base = Instant::now();
    let (sub, mut sel) = client(port, "backend", 20);
    sub.subscribe("/U/C/+", QoS::AtLeastOnce).await?;
    subscribed(&mut sel).await?;
    let (tx, mut delivered) = mpsc::unbounded_channel::<u64>();
    let receiver = tokio::spawn(async move {
        let _keep = sub;
        while let Ok(event) = sel.poll().await {
            if let Event::Incoming(Incoming::Publish(p)) = event
                && let Ok(due) = <[u8; 8]>::try_from(&p.payload[..8.min(p.payload.len())])
            {
                let now = base.elapsed().as_micros() as u64;
                let _ = tx.send(now.saturating_sub(u64::from_be_bytes(due)));
            }
        }
    });
    let period = Duration::from_secs_f64(f64::from(s.publishers) / f64::from(s.rate_per_s));
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let run_for = Duration::from_secs(s.seconds);
    let sent_total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..s.publishers {
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
            // Staggered over one period; each send's due time is on the schedule, so a
            // publisher held up by the broker does not hide the wait (no coordinated
            // omission).
            let first = base.elapsed() + period.mul_f64(f64::from(i) / f64::from(s.publishers));
            let mut due = first;
            while due < first + run_for {
                tokio::time::sleep_until(base + due).await;
                let mut payload = (due.as_micros() as u64).to_be_bytes().to_vec();
                payload.resize(64, 0);
                if c.publish(topic.as_str(), QoS::AtLeastOnce, false, payload)
                    .await
                    .is_err()
                {
                    break;
                }
                sent_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                due += period;
            }
            tokio::time::sleep(Duration::from_secs(600)).await;
            pump.abort();
        }));
    }
    drop(ready_tx);
    for _ in 0..s.publishers {
        let _ = timeout(Duration::from_secs(120), ready.recv()).await;
    }
    let t0 = Instant::now();
    let mut hist = histogram();
    let mut last = t0;
    // Until everything sent has arrived, or 10 s pass without a delivery after the
    // publishers stopped, or a minute after they stopped.
    let publishing_ends = t0 + run_for + period;
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
        let _ = hist.record(lat.max(1));
        last = Instant::now();
    }
    let sent = sent_total.load(std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    receiver.abort();
    let took_s = (last - t0).as_secs_f64().max(1e-6);
    Ok((
        hist.len(),
        sent,
        hist.len() as f64 / took_s,
        ms(hist.value_at_quantile(0.5)),
        ms(hist.value_at_quantile(0.99)),
        ms(hist.max()),
    ))
}

/// Appends the comparison's table to `md`.
pub fn render(md: &mut String, o: &BrokerOutcome) {
    let s = o.sizes;
    let _ = writeln!(
        md,
        "## Embedded MQTT broker against rumqttd 0.20 and Mosquitto (loopback, rumqttc clients)\n\n\
         | Broker | QoS 2 round trip p50 / p99 | {} clients connecting at once | CONNACK p99 | \
         {} publishers → one `+` subscriber, QoS 1, {} msg/s for {} s | delivered | latency p50 / p99 / max |\n\
         |---|---|---|---|---|---|---|",
        s.connections, s.publishers, s.rate_per_s, s.seconds
    );
    for r in &o.rows {
        let rtt = r
            .rtt
            .map_or("no answer within 10 s".to_owned(), |(_, p50, p99)| {
                format!("{p50:.2} / {p99:.2} ms")
            });
        let (connect, connack) =
            r.connect
                .map_or(("–".into(), "–".into()), |(ok, n, f, rate, p99)| {
                    (
                        format!("{ok} of {n} ({f} failed), {rate:.0}/s"),
                        format!("{p99:.1} ms"),
                    )
                });
        let (fanin, delivered, latency) = r.fanin.map_or(
            ("–".into(), "–".into(), "–".into()),
            |(got, sent, rate, p50, p99, max)| {
                (
                    format!("{rate:.0} msg/s delivered"),
                    format!("{got} of {sent}"),
                    format!("{p50:.1} / {p99:.1} / {max:.1} ms"),
                )
            },
        );
        let _ = writeln!(
            md,
            "| {} | {rtt} | {connect} | {connack} | {fanin} | {delivered} | {latency} |",
            r.broker
        );
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_broker_is_refused() {
        let e = child("hivemq").unwrap_err();
        assert!(e.to_string().contains("hivemq"), "{e}");
    }

    #[test]
    fn renders_a_row_per_broker_and_a_silent_one_as_such() {
        let o = BrokerOutcome {
            rows: vec![
                BrokerRow {
                    broker: "rumqttd",
                    rtt: None,
                    connect: Some((1_000, 1_000, 0, 339.0, 2_936.8)),
                    fanin: Some((25_000, 25_000, 5_049.0, 1.3, 8.0, 30.3)),
                },
                BrokerRow {
                    broker: "embedded",
                    rtt: Some((500, 0.14, 0.22)),
                    ..BrokerRow::default()
                },
            ],
            sizes: Sizes {
                round_trips: 500,
                connections: 1_000,
                publishers: 500,
                rate_per_s: 5_000,
                seconds: 5,
            },
        };
        let mut md = String::new();
        render(&mut md, &o);
        assert!(
            md.contains(
                "| rumqttd | no answer within 10 s | 1000 of 1000 (0 failed), 339/s | 2936.8 ms |"
            ),
            "{md}"
        );
        assert!(md.contains("| embedded | 0.14 / 0.22 ms | – |"), "{md}");
        assert!(md.contains("25000 of 25000"), "{md}");
    }
}
