//! Child processes and their accounting: free ports, starting hookgate and the
//! reference servers (this binary with a server flag), CPU seconds and memory from
//! /proc.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::load::SECRET;

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn wait_port(port: u16) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listening on {port}");
}

/// CPU seconds (user + system) a process has used so far.
pub(crate) fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    ticks / hz
}

/// The local RabbitMQ node's Erlang VM, to show where the two cores go (None if the
/// broker is elsewhere or not readable).
pub(crate) fn broker_pid() -> Option<u32> {
    let out = Command::new("pgrep")
        .args(["-o", "beam.smp"])
        .output()
        .ok()?;
    let pid: u32 = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(pid)
}

/// CPU ms per 1 000 events of `pid` since `since` (its CPU seconds then), or 0 without
/// a pid.
pub(crate) fn per_1000(pid: Option<u32>, since: f64, events: u64) -> f64 {
    pid.map_or(0.0, |p| ms_per_1000(cpu_secs(p) - since, events))
}

pub(crate) fn ms_per_1000(cpu_secs: f64, events: u64) -> f64 {
    cpu_secs * 1e6 / events.max(1) as f64
}

/// CPU seconds of `pid` (0 without one), for deltas summed over rounds.
pub(crate) fn cpu_of(pid: Option<u32>) -> f64 {
    pid.map_or(0.0, cpu_secs)
}

pub(crate) fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bare hyper server (this binary with `--bare-server`), listening.
pub(crate) async fn spawn_bare() -> (Proc, u16) {
    let port = free_port();
    let bare = Proc(
        Command::new(std::env::current_exe().unwrap())
            .args(["--bare-server", &port.to_string()])
            .spawn()
            .unwrap(),
    );
    wait_port(port).await;
    (bare, port)
}

/// The relay (see [`relay_server`](crate::references::relay_server)) publishing into
/// `exchange`, listening.
pub(crate) async fn spawn_relay(amqp: &str, exchange: &str, channels: usize) -> (Proc, u16) {
    let port = free_port();
    let relay = Proc(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--relay-server",
                &port.to_string(),
                amqp,
                exchange,
                &channels.to_string(),
            ])
            .spawn()
            .unwrap(),
    );
    wait_port(port).await;
    (relay, port)
}

/// The commit server (see [`commit_server`](crate::references::commit_server)) appending
/// to a file in `dir`, listening.
pub(crate) async fn spawn_commit(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let server = Proc(
        Command::new(std::env::current_exe().unwrap())
            .arg("--commit-server")
            .arg(port.to_string())
            .arg(dir.join("commit.log"))
            .spawn()
            .unwrap(),
    );
    wait_port(port).await;
    (server, port)
}

/// The admin port of the last hookgate started (for scraping /metrics).
pub(crate) static ADMIN_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// hookgate on the GitHub route, with RabbitMQ (`broker`: url, exchange, queue) or its
/// embedded store, delivering to `deliver` (a URL) when given.
pub(crate) fn spawn_hookgate(
    dir: &Path,
    broker: Option<(&str, &str, &str)>,
    deliver: Option<&str>,
) -> (Proc, u16) {
    let port = free_port();
    let admin = free_port();
    ADMIN_PORT.store(admin, Ordering::Relaxed);
    std::fs::write(
        dir.join("push.json"),
        r#"{"type":"object","required":["ref","repository"],"properties":{"ref":{"type":"string"},
            "repository":{"type":"object","required":["full_name"],"properties":{"full_name":{"type":"string"}}}}}"#,
    )
    .unwrap();
    let broker_yaml = match broker {
        Some((url, exchange, _)) => {
            format!("broker: {{ url: \"{url}\", exchange: {exchange}, when_unavailable: reject }}")
        }
        None => String::new(),
    };
    // The route's optional settings, each with its leading ", ".
    let mut extra = broker
        .map(|(_, _, q)| format!(", queue: {q}"))
        .unwrap_or_default();
    if let Some(url) = deliver {
        // HOOKGATE_BENCH_RULES=1: the destination filters and transforms each event
        // (docs/benchmarks.md, "Delivery rules").
        let rules = match std::env::var("HOOKGATE_BENCH_RULES").as_deref() {
            Ok("1") => {
                r#", filter: 'body.ref == "refs/heads/main"', transform: '{ref: .ref, repo: .repository.full_name, after: .after}'"#
            }
            _ => "",
        };
        extra.push_str(&format!(
            ", deliver: {{ url: \"{url}\", concurrency: 32{rules} }}"
        ));
    }
    // HOOKGATE_BENCH_ARCHIVE=true: with a broker, keep the archive's copy too.
    let archive = std::env::var("HOOKGATE_BENCH_ARCHIVE").unwrap_or_else(|_| "false".into());
    // HOOKGATE_BENCH_TRACES=URL: every request traced (sample 1.0), spans exported to
    // the OTLP/HTTP collector at URL (docs/benchmarks.md, "Traces").
    let traces = std::env::var("HOOKGATE_BENCH_TRACES")
        .map(|url| format!("traces: {{ otlp: \"{url}\", sample: 1.0 }}\n"))
        .unwrap_or_default();
    std::fs::write(
        dir.join("hookgate.yaml"),
        format!(
            "listen: 127.0.0.1:{port}\nadmin: {{ listen: 127.0.0.1:{admin} }}\nstore: {{ path: {}, archive: {archive} }}\nlog: {{ level: warn }}\n{traces}{broker_yaml}\nroutes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [{SECRET}], schema: push.json{extra} }}\n",
            dir.join("store").display()
        ),
    )
    .unwrap();
    // HOOKGATE_BENCH_BIN: another build of hookgate (an earlier commit), for A/B runs
    // on one host with the same load generator.
    let bin = std::env::var("HOOKGATE_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_hookgate").to_string());
    let child = Command::new(bin)
        .args(["serve", "-c"])
        .arg(dir.join("hookgate.yaml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (Proc(child), port)
}
