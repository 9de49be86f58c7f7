//! The benchmark driver for the official async Rust SDK, `centrifuge-client` 0.1.0 (imported
//! as `centrifuge`), on tokio. Contract: `tests/peers/README.md`. It mirrors the reference
//! driver `tests/peers/runner/src/bin/driver-ours.rs`: the same measured phases, the same
//! payloads and the same result fields.
//!
//! Every scenario is supported: 0.1.0 has `rpc`, `publish`, subscriptions with handlers, and
//! `ready()` to wait for a connection.
//!
//! How the SDK is used, and why:
//!
//! - The runtime is tokio's multi-thread runtime with its defaults (one worker per CPU), as the
//!   SDK's README sets it up; the clients run on it as an application would run them.
//! - Each client keeps the SDK's default event delivery, `EventDelivery::Thread`: one
//!   `centrifuge-events` thread per client runs its handlers. It is the default a user gets,
//!   so `idle` reports its threads and memory as they are.
//! - The format is chosen with `ClientBuilder::protocol` (`Protocol::Json` needs the `json`
//!   feature; Protobuf, the SDK's default, is always built in).
//! - The proxy is off (`ProxyConfig::None`): the SDK's default reads proxy variables from the
//!   environment, and the bench must reach 127.0.0.1 directly, as every other driver does.
//! - Handlers only count and signal through unbounded channels, never block: the SDK runs a
//!   client's handlers one at a time and processes nothing else meanwhile.
//! - Calls (`publish`, `rpc`) are bounded by the SDK's own command timeout (5 s by default), so
//!   they need no timer of ours; every other wait is bounded by [`WAIT`].

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use centrifuge::{Client, Protocol, ProxyConfig, Subscription};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

mod measure;

use measure::Args;

/// Every wait of the driver ends by this.
const WAIT: Duration = Duration::from_secs(60);
/// Untimed calls before a round-trip measurement.
const WARM_UP: usize = 200;
/// How long `idle` waits after the last connect before it measures.
const SETTLE: Duration = Duration::from_secs(1);
/// How long the driver waits for its clients to close once it has measured: closing is not
/// measured, it only keeps the server's side clean, so a slow close is not a failure.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let outcome = Args::from_env().and_then(|args| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|err| format!("cannot start the tokio runtime: {err}"))?;
        let outcome = runtime.block_on(run(&args));
        // The clients are closed already; nothing left on the runtime is worth waiting for.
        runtime.shutdown_background();
        outcome
    });
    match outcome {
        Ok(result) => {
            measure::result(&result);
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("{why}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<Value, String> {
    match args.scenario.as_str() {
        "ingest" => ingest(args).await,
        "roundtrip" => roundtrip(args).await,
        "pipelined" => pipelined(args).await,
        "fanin" => fanin(args).await,
        "idle" => idle(args).await,
        other => Err(format!("unsupported scenario {other}")),
    }
}

fn protocol(args: &Args) -> Result<Protocol, String> {
    match args.text("format")? {
        "json" => Ok(Protocol::Json),
        "protobuf" => Ok(Protocol::Protobuf),
        other => Err(format!("format={other}: expected json or protobuf")),
    }
}

/// An anonymous client (no token) speaking the `format=` of the arguments, not yet connected.
/// `connected`, when given, hears of every connect. Background errors go to stderr, so a run
/// that times out says why.
fn new_client(args: &Args, connected: Option<UnboundedSender<()>>) -> Result<Client, String> {
    let mut builder = Client::builder(args.text("url")?)
        .protocol(protocol(args)?)
        .proxy(ProxyConfig::None)
        .on_error(|_, event| eprintln!("client error: {}", event.error));
    if let Some(connected) = connected {
        builder = builder.on_connected(move |_, _| {
            let _ = connected.send(());
        });
    }
    builder.build().map_err(|err| format!("cannot build the client: {err}"))
}

/// A client once it has connected.
async fn connected(args: &Args) -> Result<Client, String> {
    let client = new_client(args, None)?;
    client.connect().map_err(|err| format!("connect: {err}"))?;
    client.ready(Some(WAIT)).await.map_err(|err| format!("not connected: {err}"))?;
    Ok(client)
}

/// Closes `clients` together, waiting at most [`CLOSE_WAIT`]. `close()` starts closing when it
/// is called; the futures only wait for the end.
async fn close(clients: &[Client]) {
    let closing: Vec<_> = clients.iter().map(Client::close).collect();
    let all = async {
        for done in closing {
            done.await;
        }
    };
    if tokio::time::timeout(CLOSE_WAIT, all).await.is_err() {
        eprintln!("the clients did not close within {CLOSE_WAIT:?}");
    }
}

async fn ingest(args: &Args) -> Result<Value, String> {
    let count = args.positive("count")?;
    let channel = args.text("channel")?;
    let cpu_start = measure::cpu_time();
    let client = new_client(args, None)?;
    let (subscribed, mut subscribed_rx) = unbounded_channel();
    let (first, mut first_rx) = unbounded_channel();
    let (last, mut last_rx) = unbounded_channel();
    // Handlers of one client run one at a time, so a plain counter owned by the handler is
    // enough.
    let mut seen = 0u64;
    let sub = client
        .new_subscription(channel)
        .on_publication(move |_, _| {
            seen += 1;
            if seen == 1 {
                let _ = first.send(Instant::now());
            }
            if seen == count {
                let _ = last.send(Instant::now());
            }
        })
        .on_subscribed(move |_, _| {
            let _ = subscribed.send(Instant::now());
        })
        .on_error(|sub, event| eprintln!("subscription {} error: {}", sub.channel(), event.error))
        .build()
        .map_err(|err| format!("new subscription: {err}"))?;
    // Subscribing before connecting sends the subscribe right after the connect reply, as the
    // other drivers do.
    sub.subscribe();
    client.connect().map_err(|err| format!("connect: {err}"))?;
    wait(&mut subscribed_rx, "subscribed").await?;
    measure::ready();
    let started = wait(&mut first_rx, "the first publication").await?;
    let ended = wait(&mut last_rx, "the last publication").await?;
    let cpu = measure::cpu_time().saturating_sub(cpu_start);
    let result = json!({
        "count": count,
        "wall_s": (ended - started).as_secs_f64(),
        "cpu_s": cpu.as_secs_f64(),
        "rss_kib": measure::rss_kib(),
    });
    close(&[client]).await;
    Ok(result)
}

/// The call `roundtrip` times.
enum Op {
    Rpc,
    Publish(String),
}

impl Op {
    async fn call(&self, client: &Client) -> Result<(), centrifuge::Error> {
        // `Bytes::from_static`: the payload is not copied per call.
        let payload = centrifuge::Bytes::from_static(b"{}");
        match self {
            Op::Rpc => client.rpc("ping", payload).await.map(drop),
            Op::Publish(channel) => client.publish(channel, payload).await,
        }
    }
}

async fn roundtrip(args: &Args) -> Result<Value, String> {
    let count = usize::try_from(args.number("count")?).map_err(|_| "count= is too large")?;
    let op = match args.text("op")? {
        "rpc" => Op::Rpc,
        "publish" => Op::Publish(args.text("channel")?.to_string()),
        other => return Err(format!("op={other}: expected rpc or publish")),
    };
    let client = connected(args).await?;
    for _ in 0..WARM_UP {
        op.call(&client).await.map_err(|err| format!("warm-up call failed: {err}"))?;
    }
    let cpu_start = measure::cpu_time();
    let started = Instant::now();
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = Instant::now();
        op.call(&client).await.map_err(|err| format!("call failed: {err}"))?;
        samples.push(sent.elapsed());
    }
    let wall = started.elapsed();
    let cpu = measure::cpu_time().saturating_sub(cpu_start);
    let (p50, p99) = measure::percentiles(samples);
    let result = json!({
        "count": count, "p50_us": p50, "p99_us": p99,
        "wall_s": wall.as_secs_f64(), "cpu_s": cpu.as_secs_f64(),
    });
    close(&[client]).await;
    Ok(result)
}

async fn pipelined(args: &Args) -> Result<Value, String> {
    let count = args.number("count")?;
    let workers = args.positive("workers")?;
    let channel: Arc<str> = Arc::from(args.text("channel")?);
    let client = connected(args).await?;
    // Each worker takes the next publish number from here until `count` are taken.
    let issued = Arc::new(AtomicU64::new(0));
    let (cpu_start, wakeups_start) = (measure::cpu_time(), measure::wakeups());
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, channel, issued) = (client.clone(), channel.clone(), issued.clone());
            tokio::spawn(async move { publish_until(&client, &channel, &issued, count).await })
        })
        .collect();
    // Each publish is bounded by the SDK's timeout, so every task ends.
    for task in tasks {
        task.await.map_err(|err| format!("a worker ended abnormally: {err}"))??;
    }
    let wall = started.elapsed();
    let cpu = measure::cpu_time().saturating_sub(cpu_start);
    let wakeups = measure::wakeups().saturating_sub(wakeups_start);
    let result = json!({
        "count": count, "wall_s": wall.as_secs_f64(), "cpu_s": cpu.as_secs_f64(),
        "msgs_per_s": count as f64 / wall.as_secs_f64(), "wakeups": wakeups,
    });
    close(&[client]).await;
    Ok(result)
}

/// One pipelined worker: publishes `{"n":<i>}` and awaits its reply before its next publish,
/// until `count` publishes have been taken by all workers together.
async fn publish_until(client: &Client, channel: &str, issued: &AtomicU64, count: u64) -> Result<(), String> {
    loop {
        let n = issued.fetch_add(1, Ordering::Relaxed);
        if n >= count {
            return Ok(());
        }
        // A fresh buffer per publish, like the other drivers; `Bytes` takes the String as is.
        let data = format!(r#"{{"n":{n}}}"#);
        client.publish(channel, data).await.map_err(|err| format!("publish failed: {err}"))?;
    }
}

async fn fanin(args: &Args) -> Result<Value, String> {
    let channels = args.positive("channels")?;
    let prefix = args.text("prefix")?;
    let rss_base = measure::rss_kib();
    let client = connected(args).await?;
    let (done, mut done_rx) = unbounded_channel();
    // Handlers of one client run one at a time, but each subscription owns its handler, so
    // the count they share lives here.
    let subscribed = Arc::new(AtomicU64::new(0));
    let cpu_start = measure::cpu_time();
    let started = Instant::now();
    let mut subs: Vec<Subscription> = Vec::new();
    for n in 0..channels {
        let (subscribed, done) = (subscribed.clone(), done.clone());
        let sub = client
            .new_subscription(format!("{prefix}{n}"))
            .on_subscribed(move |_, _| {
                if subscribed.fetch_add(1, Ordering::Relaxed) + 1 == channels {
                    let _ = done.send(Instant::now());
                }
            })
            .on_error(|sub, event| {
                eprintln!("subscription {} error: {}", sub.channel(), event.error);
            })
            .build()
            .map_err(|err| format!("new subscription: {err}"))?;
        // Never waits: the SDK sends the subscribe (batched with others queued meanwhile) and
        // reports the reply as an `on_subscribed` event.
        sub.subscribe();
        subs.push(sub);
    }
    let ended = wait(&mut done_rx, "every subscription").await?;
    let cpu = measure::cpu_time().saturating_sub(cpu_start);
    let result = json!({
        "channels": channels, "wall_s": (ended - started).as_secs_f64(), "cpu_s": cpu.as_secs_f64(),
        "rss_kib": measure::rss_kib(), "rss_base_kib": rss_base,
    });
    drop(subs);
    close(&[client]).await;
    Ok(result)
}

async fn idle(args: &Args) -> Result<Value, String> {
    let clients = args.number("clients")?;
    let seconds = args.number("seconds")?;
    let rss_base = measure::rss_kib();
    let (connected, mut connected_rx) = unbounded_channel();
    let mut all = Vec::new();
    for _ in 0..clients {
        let client = new_client(args, Some(connected.clone()))?;
        client.connect().map_err(|err| format!("connect: {err}"))?;
        all.push(client);
    }
    // One deadline for all of them: K connects may not take K minutes.
    let deadline = tokio::time::Instant::now() + WAIT;
    for _ in 0..clients {
        match tokio::time::timeout_at(deadline, connected_rx.recv()).await {
            Ok(Some(())) => {}
            _ => return Err(format!("not every client connected within {WAIT:?}")),
        }
    }
    // Let every thread and task finish its connect work first: idle means idle.
    tokio::time::sleep(SETTLE).await;
    let (cpu_start, wakeups_start) = (measure::cpu_time(), measure::wakeups());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let cpu = measure::cpu_time().saturating_sub(cpu_start);
    let wakeups = measure::wakeups().saturating_sub(wakeups_start);
    let result = json!({
        "clients": clients, "seconds": seconds, "cpu_s": cpu.as_secs_f64(), "wakeups": wakeups,
        "rss_kib": measure::rss_kib(), "rss_base_kib": rss_base, "threads": measure::threads(),
    });
    close(&all).await;
    Ok(result)
}

/// The first moment `receiver` got, or an error after [`WAIT`].
async fn wait(receiver: &mut UnboundedReceiver<Instant>, what: &str) -> Result<Instant, String> {
    match tokio::time::timeout(WAIT, receiver.recv()).await {
        Ok(Some(at)) => Ok(at),
        Ok(None) => Err(format!("no {what}: the client went away")),
        Err(_) => Err(format!("no {what} within {WAIT:?}")),
    }
}
