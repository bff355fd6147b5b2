//! End-to-end benchmark, in one run on this machine, with its references measured in the
//! same run:
//!   * ceiling: a bare hyper server that reads the body and answers 200;
//!   * broker ceiling: a raw lapin publisher sending the same messages with pipelined
//!     confirms into the same kind of queue (quorum), best of several channel counts;
//!     and one confirm at a time (its p99 is the latency floor at low rate);
//!   * the stack's floor: hyper + lapin and nothing else, a server that publishes each
//!     body as the raw publisher does and answers 200 on its confirm (no checks);
//!   * hookgate with RabbitMQ (GitHub route: HMAC-SHA256 + JSON Schema), closed loop at
//!     a fixed concurrency, then open loop at half the measured maximum and at 1 000/s;
//!   * hookgate with the embedded store (fsync-durable), the same; beside it the store's
//!     floor: hyper + one writer thread appending every waiting body to a file with one
//!     `fdatasync` per batch (group commit, no checks);
//!   * delivery: provider to application through hookgate (store, then RabbitMQ), end to
//!     end, beside the same application (bare hyper) receiving the load directly.
//!
//! The figures with a target that compare hookgate with a reference (hookgate/raw lapin,
//! hookgate store/bare hyper, p99 at 1 000/s minus raw lapin's one-at-a-time p99) come
//! from [`ROUNDS`] rounds that alternate the reference and hookgate, a few seconds each;
//! the median of the rounds is the figure.
//!
//! It verifies its own result: every 200 must be a message in the queue (or a row in the
//! store), else the run fails.
//!
//!   cargo bench --bench gateway
//!   HOOKGATE_BENCH_SECS=8 HOOKGATE_BENCH_CONNS=64 AMQP_URL=amqp://... cargo bench --bench gateway
//!   HOOKGATE_BENCH_ONLY=rabbitmq|store [HOOKGATE_BENCH_RATE=1000] cargo bench --bench gateway
//!   HOOKGATE_BENCH_ARCHIVE=true HOOKGATE_BENCH_ONLY=rabbitmq ...   (with `store.archive`)
//!   HOOKGATE_BENCH_ONLY=raw [HOOKGATE_BENCH_CHANNELS=2] [HOOKGATE_BENCH_RATE=N] cargo bench --bench gateway
//!   HOOKGATE_BENCH_ONLY=bare|relay|commit [HOOKGATE_BENCH_RATE=N] cargo bench --bench gateway
//!   HOOKGATE_BENCH_ONLY=deliver cargo bench --bench gateway   (the delivery phase alone)

// Benchmarks and tests may unwrap: a failure ends the run with its message.
#![allow(clippy::unwrap_used)]

mod load;
mod only;
mod phases;
mod procs;
mod rabbit;
mod references;
mod summary;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use load::{body, github_sig, run_tag, Target};
use references::{bare_server, commit_server, relay_server};

/// The ratios with a target are measured in rounds that alternate the reference and
/// hookgate, a few seconds each, and the median of the rounds' ratios is reported: this
/// host is a shared VM whose speed drifts by 2x within minutes (steal), so two phases
/// run a minute apart would measure the host as much as the gateway.
pub(crate) const ROUNDS: u32 = 3;

/// The run's settings, from the environment (see above).
pub(crate) struct Settings {
    pub(crate) secs: u64,
    pub(crate) conns: usize,
    pub(crate) amqp: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--bare-server") {
        return bare_server(args[i + 1].parse().unwrap());
    }
    if let Some(i) = args.iter().position(|a| a == "--commit-server") {
        return commit_server(args[i + 1].parse().unwrap(), args[i + 2].clone());
    }
    if let Some(i) = args.iter().position(|a| a == "--relay-server") {
        return relay_server(
            args[i + 1].parse().unwrap(),
            args[i + 2].clone(),
            args[i + 3].clone(),
            args[i + 4].parse().unwrap(),
        );
    }
    if !args.iter().any(|a| a == "--bench") {
        // Built by `cargo test --all-targets`: nothing to measure there.
        return;
    }
    let s = Settings {
        secs: std::env::var("HOOKGATE_BENCH_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8),
        conns: std::env::var("HOOKGATE_BENCH_CONNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        amqp: std::env::var("AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
    };
    // One load-generator thread (like `wrk -t1`); the gateway and the broker get the rest.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ok = rt.block_on(run(s));
    std::process::exit(if ok { 0 } else { 1 });
}

/// The whole benchmark (or, with `HOOKGATE_BENCH_ONLY`, one part of it): the phases in
/// order, then the summary; true if every 200 was verified.
async fn run(s: Settings) -> bool {
    let dur = Duration::from_secs(s.secs);
    let body = body();
    let sig = github_sig(&body);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!("hookgate benchmark: {cores} cores, {} B signed GitHub push bodies, {} connections, {} s per phase\n", body.len(), s.conns, s.secs);
    let target = |port: u16, tag: &str| Target {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        path: "/hooks/github",
        headers: vec![
            (
                HeaderName::from_static("x-hub-signature-256"),
                HeaderValue::from_str(&sig).unwrap(),
            ),
            (
                HeaderName::from_static("x-github-event"),
                HeaderValue::from_static("push"),
            ),
            (
                HeaderName::from_static("content-type"),
                HeaderValue::from_static("application/json"),
            ),
        ],
        body: body.clone(),
        tag: run_tag(tag),
        next: Arc::new(AtomicU64::new(0)),
    };
    let mut pass = true;
    // HOOKGATE_BENCH_ONLY=rabbitmq|store: just that hookgate phase (for profiling).
    let only = std::env::var("HOOKGATE_BENCH_ONLY").unwrap_or_default();
    if only == "raw" {
        return only::raw_phase(&s, &body, dur).await;
    }
    if matches!(only.as_str(), "bare" | "relay" | "commit") {
        return only::server_phase(&s, &only, &target, dur).await;
    }
    if only == "deliver" {
        let conn = rabbit::connect(&s.amqp).await;
        let amqp = conn.as_ref().map(|c| (c, s.amqp.as_str()));
        let (_, modes) = phases::deliver::run(&s, &target, dur, amqp).await;
        return modes.iter().all(|(_, d)| d.complete);
    }
    if !only.is_empty() {
        return only::only_phase(&s, &only, &target, dur).await;
    }

    // 1. Ceiling: bare hyper. It stays up for the store rounds.
    let (bare, bare_port) = procs::spawn_bare().await;
    let ceiling = phases::ceiling(&s, &target, &bare, bare_port, dur).await;

    // 2. Broker ceiling: raw lapin into a quorum queue; 3. hookgate with RabbitMQ.
    let Some(conn) = rabbit::connect(&s.amqp).await else {
        return false;
    };
    // The connection and both hookgates' directories last until the end of the run.
    let dir = tempfile::tempdir().unwrap();
    let rabbitmq = phases::rabbitmq::run(&s, &conn, dir.path(), &body, &target, dur).await;
    pass &= rabbitmq.verified;

    // 4. hookgate with the embedded store.
    let store_dir = tempfile::tempdir().unwrap();
    let store = phases::store::run(&s, store_dir.path(), &target, bare, bare_port, dur).await;
    pass &= store.sverified;

    // 5. Delivery to the application, store and RabbitMQ, beside the application alone.
    let (direct, delivered) =
        phases::deliver::run(&s, &target, dur, Some((&conn, s.amqp.as_str()))).await;
    for (mode, d) in &delivered {
        println!(
            "verify     every event accepted ({mode}) reached the application -> {}",
            if d.complete { "OK" } else { "FAILED" }
        );
        pass &= d.complete;
    }

    // 6. Summary against the targets.
    summary::print(&s, &ceiling, &rabbitmq, &store, pass);
    for (mode, d) in &delivered {
        println!(
            "  delivery ({mode}) / the application directly {:>6.1} %  ({:.0} events/s end to end vs {:.0} req/s)",
            100.0 * d.rate / direct.rps(),
            d.rate,
            direct.rps()
        );
    }
    // Issue #32's two delivery ratios: the store's delivery against hookgate's own
    // ingest in this run, RabbitMQ's against its floor.
    let rate = |m: &str| {
        delivered
            .iter()
            .find(|(mode, _)| *mode == m)
            .map(|(_, d)| d.rate)
    };
    if let Some(d) = rate("store") {
        let ingest = store.sclosed.rps();
        println!(
            "  delivery (store) / hookgate's ingest (store)   {:>6.2}  ({d:.0} events/s vs {ingest:.0} req/s)",
            d / ingest
        );
    }
    if let (Some(d), Some(floor)) = (rate("rabbitmq"), rate("rabbitmq floor")) {
        println!(
            "  delivery (rabbitmq) / its floor (raw lapin)    {:>6.2}  ({d:.0} vs {floor:.0} events/s)",
            d / floor
        );
    }
    pass
}
