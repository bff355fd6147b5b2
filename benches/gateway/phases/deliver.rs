//! The delivery phase: events from the provider through hookgate to the application
//! (reverse-proxy mode), with the embedded store and with RabbitMQ, beside the same
//! application receiving the load directly, in the same run. The application is the
//! bare hyper server (reads the body, answers 200); hookgate delivers to it with
//! `concurrency: 32`. The figure is end to end: every event accepted during the load,
//! divided by the time from the load's start until the last of them was delivered (read
//! from hookgate's `hookgate_delivery_attempts_total{outcome="2xx"}`). With RabbitMQ,
//! its floor too: raw lapin publishing, consuming and POSTing (`deliver_floor`).

use std::time::{Duration, Instant};

use crate::load::{closed_loop, Run, Target};
use crate::procs::{spawn_bare, spawn_hookgate, wait_port, ADMIN_PORT};
use crate::Settings;

/// One mode's figures.
pub(crate) struct Delivered {
    pub(crate) accepted: Run,
    /// Events delivered per second, end to end.
    pub(crate) rate: f64,
    /// Every accepted event reached the application.
    pub(crate) complete: bool,
}

/// The application alone, then hookgate delivering to it from the store and, when
/// `amqp` is given, from RabbitMQ. Returns the direct run and each mode's figures.
pub(crate) async fn run(
    s: &Settings,
    target: &dyn Fn(u16, &str) -> Target,
    dur: Duration,
    amqp: Option<(&lapin::Connection, &str)>,
) -> (Run, Vec<(&'static str, Delivered)>) {
    let (app, app_port) = spawn_bare().await;
    let direct = closed_loop(&target(app_port, "direct"), s.conns, dur).await;
    println!(
        "reference  the application directly         {}",
        direct.line()
    );
    let url = format!("http://127.0.0.1:{app_port}/deliveries");
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let store = one(s, target, dur, dir.path(), None, &url).await;
    print("store", &store);
    out.push(("store", store));
    if let Some((conn, amqp)) = amqp {
        let x = format!("hg-bench-deliver-{}", std::process::id());
        let q = format!("{x}-github");
        let dir = tempfile::tempdir().unwrap();
        let r = one(s, target, dur, dir.path(), Some((amqp, &x, &q)), &url).await;
        print("rabbitmq", &r);
        out.push(("rabbitmq", r));
        crate::rabbit::cleanup(conn, &x, &[format!("{q}.deliver.app")]).await;
        let app_addr = ([127, 0, 0, 1], app_port).into();
        let floor = super::deliver_floor::run(amqp, app_addr, crate::load::body(), dur).await;
        println!(
            "reference  raw lapin publish, consume, POST, ack: published {}  delivered end to end {:>6.0} events/s{}",
            floor.accepted.line(),
            floor.rate,
            if floor.complete { "" } else { "  (NOT all delivered within 60 s)" }
        );
        out.push(("rabbitmq floor", floor));
    }
    drop(app);
    (direct, out)
}

fn print(mode: &str, d: &Delivered) {
    println!(
        "hookgate   {mode:<8} -> application, accepted {}  delivered end to end {:>6.0} events/s{}",
        d.accepted.line(),
        d.rate,
        if d.complete {
            ""
        } else {
            "  (NOT all delivered within 60 s)"
        }
    );
}

async fn one(
    s: &Settings,
    target: &dyn Fn(u16, &str) -> Target,
    dur: Duration,
    dir: &std::path::Path,
    broker: Option<(&str, &str, &str)>,
    url: &str,
) -> Delivered {
    let (gw, port) = spawn_hookgate(dir, broker, Some(url));
    wait_port(port).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = delivered();
    let start = Instant::now();
    let accepted = closed_loop(&target(port, "deliver"), s.conns, dur).await;
    let want = before + accepted.ok;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut now = delivered();
    while now < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        now = delivered();
    }
    let took = start.elapsed().as_secs_f64();
    drop(gw);
    Delivered {
        rate: (now - before) as f64 / took,
        complete: now >= want,
        accepted,
    }
}

/// hookgate's count of deliveries the application took (its admin port's metrics).
fn delivered() -> u64 {
    let admin = ADMIN_PORT.load(std::sync::atomic::Ordering::Relaxed);
    let Ok(out) = std::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{admin}/metrics")])
        .output()
    else {
        return 0;
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.starts_with("hookgate_delivery_attempts_total{") && l.contains(r#"outcome="2xx""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}
