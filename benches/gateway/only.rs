//! `HOOKGATE_BENCH_ONLY`: one part of the benchmark alone, for profiling: the raw lapin
//! publisher, one reference server, or hookgate with RabbitMQ or with its store.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use lapin::{Connection, ConnectionProperties};

use crate::load::{channels_from_env, closed_loop, drive, mode, rate_from_env, Target};
use crate::procs::{
    broker_pid, cpu_of, cpu_secs, per_1000, spawn_bare, spawn_commit, spawn_hookgate, spawn_relay,
    wait_port, ADMIN_PORT,
};
use crate::rabbit::{cleanup, declare, raw_publisher};
use crate::Settings;

/// `HOOKGATE_BENCH_ONLY=raw`: the raw lapin publisher alone (`HOOKGATE_BENCH_CHANNELS`,
/// default 2; `HOOKGATE_BENCH_RATE` for an open loop), with RabbitMQ's CPU per 1 000
/// messages: does the broker's cost depend on how publishes are spread in time?
pub(crate) async fn raw_phase(s: &Settings, body: &Bytes, dur: Duration) -> bool {
    let channels = channels_from_env();
    let rate = rate_from_env();
    let conn = Connection::connect(&s.amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let x = format!("hg-bench-raw-{}", std::process::id());
    let q = format!("{x}-q");
    declare(&conn, &x, &q).await;
    let rabbit = broker_pid();
    let me = std::process::id();
    let (r0, c0) = (cpu_of(rabbit), cpu_secs(me));
    let r = raw_publisher(&s.amqp, &x, channels, s.conns, dur, body.clone(), rate).await;
    println!(
        "raw lapin, {channels} ch x {}, {}   {}  client cpu {:.1}, broker cpu {:.1} ms/1000",
        s.conns,
        mode(rate),
        r.line(),
        per_1000(Some(me), c0, r.ok),
        per_1000(rabbit, r0, r.ok)
    );
    cleanup(&conn, &x, &[format!("{q}.dead"), q]).await;
    true
}

/// `HOOKGATE_BENCH_ONLY=bare|relay|commit`: one reference server alone (bare hyper; the
/// hyper + lapin floor, over `HOOKGATE_BENCH_CHANNELS` channels, default 2; the
/// hyper + group commit floor), closed loop or (with `HOOKGATE_BENCH_RATE`) open loop,
/// with its CPU per 1 000 requests: what the stack costs at that rate here, to set
/// hookgate's figure at the same rate beside, and a pid to profile it by.
pub(crate) async fn server_phase(
    s: &Settings,
    kind: &str,
    target: &dyn Fn(u16, &str) -> Target,
    dur: Duration,
) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let x = format!("hg-bench-raw-{}", std::process::id());
    let q = format!("{x}-q");
    let conn = match kind {
        "relay" => {
            let conn = Connection::connect(&s.amqp, ConnectionProperties::default())
                .await
                .unwrap();
            declare(&conn, &x, &q).await;
            Some(conn)
        }
        _ => None,
    };
    let (server, port) = match kind {
        "relay" => spawn_relay(&s.amqp, &x, channels_from_env()).await,
        "commit" => spawn_commit(dir.path()).await,
        _ => spawn_bare().await,
    };
    println!("{kind} server pid {}", server.0.id());
    let t = target(port, kind);
    let _ = closed_loop(&t, s.conns, Duration::from_secs(1)).await;
    let c0 = cpu_secs(server.0.id());
    let (r, mode) = drive(&t, s.conns, dur).await;
    println!(
        "{kind}, {mode}   {}  server cpu {:.1} ms/1000",
        r.line(),
        per_1000(Some(server.0.id()), c0, r.ok)
    );
    drop(server);
    if let Some(conn) = conn {
        cleanup(&conn, &x, &[format!("{q}.dead"), q]).await;
    }
    true
}

/// `HOOKGATE_BENCH_ONLY=rabbitmq|store`: hookgate alone with that hand-off, closed loop
/// or (with `HOOKGATE_BENCH_RATE`) open loop, with its CPU and the broker's per 1 000
/// requests and a few of its own metrics.
pub(crate) async fn only_phase(
    s: &Settings,
    only: &str,
    target: &dyn Fn(u16, &str) -> Target,
    dur: Duration,
) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let x = format!("hg-bench-{}", std::process::id());
    let q = format!("{x}-github");
    let broker = (only == "rabbitmq").then_some((s.amqp.as_str(), x.as_str(), q.as_str()));
    let (gw, port) = spawn_hookgate(dir.path(), broker, None);
    wait_port(port).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("hookgate pid {}", gw.0.id());
    let t = target(port, "only");
    let cpu0 = cpu_secs(gw.0.id());
    let rabbit = broker_pid().filter(|_| broker.is_some());
    let r0 = cpu_of(rabbit);
    let (r, mode) = drive(&t, s.conns, dur).await;
    let cpu_ms = per_1000(Some(gw.0.id()), cpu0, r.ok);
    let broker_ms = per_1000(rabbit, r0, r.ok);
    println!(
        "hookgate   {only}, {mode}   {}  cpu {cpu_ms:.1}, broker cpu {broker_ms:.1} ms/1000",
        r.line()
    );
    // Where the time goes: hookgate's own view of the broker's confirm latency.
    let admin = ADMIN_PORT.load(Ordering::Relaxed);
    if let Ok(out) = Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{admin}/metrics")])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        for l in text.lines().filter(|l| {
            l.starts_with("hookgate_broker_publish_duration_seconds_bucket")
                || l.starts_with("hookgate_broker_publish_duration_seconds_count")
                || l.starts_with("hookgate_store_commit_events_sum")
                || l.starts_with("hookgate_store_commit_events_count")
        }) {
            println!("  {l}");
        }
    }
    if broker.is_some() {
        let conn = Connection::connect(&s.amqp, ConnectionProperties::default())
            .await
            .unwrap();
        cleanup(&conn, &x, &[q.clone(), format!("{q}.dead")]).await;
    }
    true
}
