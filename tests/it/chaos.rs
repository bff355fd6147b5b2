//! The chaos campaign: three replicas behind a small TCP load balancer, sharing a Redis
//! and a 3-node RabbitMQ cluster of private nodes (the route's quorum queue replicated
//! on all three, `broker.url` naming every node); 16 clients send signed events and
//! retry like a provider (a 503, a reset or a timeout is sent again with the same
//! delivery id). Meanwhile a replica is killed with SIGKILL and restarted, a broker node
//! is stopped and started (replicas on it fail over to another), a replica reloads
//! (SIGHUP), and Redis is stopped and started. At the end every id answered 200 must be
//! in the queue.
//!
//! Short form in `cargo test` (20 s); the long form: `HOOKGATE_CHAOS_SECS=600 cargo test
//! --test it chaos -- --nocapture`.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::shared::Redis;
use crate::support::common::*;
use crate::support::rabbit::{unique, Rabbit};
use crate::support::rabbit_node::cluster;

const SECRET: &str = "chaos-secret";

/// Round robin over `backends`, skipping one that refuses the connection.
fn balancer(backends: Vec<u16>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let next = AtomicUsize::new(0);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let start = next.fetch_add(1, Ordering::Relaxed);
            let server = (0..backends.len())
                .map(|k| backends[(start + k) % backends.len()])
                .find_map(|p| TcpStream::connect(("127.0.0.1", p)).ok());
            let Some(server) = server else {
                let _ = client.shutdown(Shutdown::Both);
                continue;
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    port
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// One POST with a deadline: the status, or `None` (reset, refused, timed out).
fn post(port: u16, id: &str, body: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    let sig = github_sig(SECRET, body);
    let head = format!(
        "POST /hooks/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: {id}\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn chaos_every_event_answered_200_is_in_the_queue() {
    let secs: u64 = std::env::var("HOOKGATE_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let nodes = cluster("chaos");
    // The test reads the queue through the first node, which stays up.
    let rabbit = Rabbit::connect_to(&nodes[0].url());
    let (exchange, queue) = (unique("hg-chaos"), unique("hg-chaos-q"));
    let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
    let mut redis = Redis::start();
    let yaml = format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\", dedup: {{ redis: {{ url: \"{}\", key_prefix: \"{}\" }} }} }}\nbroker: {{ url: \"{}\", exchange: {exchange}, when_unavailable: spool }}\nroutes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [{SECRET}], queue: {queue} }}\n",
        redis.url(),
        unique("hg-chaos:"),
        urls.join(",")
    );
    let mut gs: Vec<Gateway> = (0..3).map(|_| Gateway::start(&yaml)).collect();
    let rss_start: Vec<u64> = gs.iter().map(|g| rss_kb(g.pid())).collect();
    let lb = balancer(gs.iter().map(|g| g.port).collect());

    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let retries = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let (stop, accepted, retries) = (stop.clone(), accepted.clone(), retries.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = format!("chaos-{c}-{n}");
                    let body = format!(r#"{{"ref":"refs/heads/main","n":{n},"client":{c}}}"#);
                    // A provider retries for days; here, for up to a minute.
                    let deadline = Instant::now() + Duration::from_secs(60);
                    loop {
                        match post(lb, &id, body.as_bytes()) {
                            Some(200) => {
                                accepted.lock().unwrap().push(id);
                                break;
                            }
                            Some(s) if s != 503 => panic!("{id}: unexpected {s}"),
                            _ => {
                                retries.fetch_add(1, Ordering::Relaxed);
                                assert!(Instant::now() < deadline, "{id}: not taken in a minute");
                                std::thread::sleep(Duration::from_millis(200));
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();

    // The faults, at fixed points of the run.
    let started = Instant::now();
    let at = |f: f64| {
        let t = Duration::from_secs_f64(secs as f64 * f);
        if let Some(wait) = t.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        format!("{:>6.1} s", started.elapsed().as_secs_f64())
    };
    let mut faults = Vec::new();
    faults.push(format!("{}  kill -9 replica 0", at(0.15)));
    gs[0].signal("-KILL");
    gs[0].wait_exit(Duration::from_secs(10));
    faults.push(format!("{}  restart replica 0", at(0.25)));
    gs[0].spawn();
    faults.push(format!("{}  broker node 2 of 3 stopped", at(0.35)));
    nodes[1].stop();
    faults.push(format!("{}  broker node 2 started", at(0.5)));
    nodes[1].launch();
    faults.push(format!("{}  SIGHUP replica 1", at(0.55)));
    gs[1].signal("-HUP");
    faults.push(format!("{}  Redis stopped", at(0.65)));
    redis.stop();
    faults.push(format!("{}  Redis started", at(0.75)));
    redis.spawn();
    at(1.0);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let unique_accepted: HashSet<&String> = accepted.iter().collect();
    // Everything answered 200 reaches the queue (spools drain once the broker is back).
    let msgs = rabbit.take_all(&queue, unique_accepted.len(), Duration::from_secs(60));
    let ids: Vec<String> = msgs.iter().map(|m| m.id()).collect();
    let in_queue: HashSet<&String> = ids.iter().collect();
    let missing: Vec<&&String> = unique_accepted
        .iter()
        .filter(|id| !in_queue.contains(**id))
        .collect();
    let rss_end: Vec<u64> = gs.iter().map(|g| rss_kb(g.pid())).collect();
    println!("chaos campaign, {secs} s, 3 replicas, 3 RabbitMQ nodes, 16 clients:");
    for f in &faults {
        println!("  {f}");
    }
    println!(
        "  ids answered 200: {}; in the queue: {} distinct ids in {} messages; missing: {}; duplicates in the queue: {}; client retries: {}",
        unique_accepted.len(),
        in_queue.len(),
        ids.len(),
        missing.len(),
        ids.len() - in_queue.len(),
        retries.load(Ordering::Relaxed)
    );
    let lost: usize = gs
        .iter()
        .map(|g| g.logs().matches("broker connection lost").count())
        .sum();
    println!("  broker connections lost and re-established on another node: {lost}");
    println!("  RSS (KiB) at start {rss_start:?}, at the end {rss_end:?}");
    assert!(
        missing.is_empty(),
        "answered 200 and not in the queue: {missing:?}"
    );
    assert!(
        unique_accepted.len() > 100,
        "too little traffic to mean anything"
    );
    for kb in rss_end {
        assert!(kb < 300 * 1024, "a replica's RSS grew to {kb} KiB");
    }
}
