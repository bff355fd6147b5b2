//! Replicas sharing a Redis (`store.dedup.redis`): a delivery id accepted by one is a
//! duplicate on the others; with Redis stopped they keep accepting, each alone, and say
//! so in `/readyz` and the metrics; a shared per-IP limit holds across replicas.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::common::*;
use crate::support::rabbit::{amqp_url, unique, Rabbit};

/// A private redis-server on a free port, killed when dropped.
pub struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let mut r = Redis {
            child: None,
            port: free_port(),
        };
        r.spawn();
        r
    }

    pub fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) runs the shared-state tests");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn replicas(yaml: &str) -> Vec<Gateway> {
    (0..3).map(|_| Gateway::start(yaml)).collect()
}

fn metric(g: &Gateway, line_start: &str) -> f64 {
    g.metrics()
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in the metrics"))
}

#[test]
fn a_delivery_id_accepted_by_one_replica_is_a_duplicate_on_the_others_and_redis_down_is_survived() {
    let rabbit = Rabbit::connect();
    let (exchange, queue) = (unique("hg-shared"), unique("hg-shared-q"));
    rabbit.owns(&exchange, &[&queue]);
    let mut redis = Redis::start();
    let prefix = unique("hg-test:");
    let yaml = format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\", dedup: {{ redis: {{ url: \"{}\", key_prefix: \"{prefix}\", timeout: 100ms }} }} }}\nbroker: {{ url: \"{}\", exchange: {exchange} }}\nroutes:\n  - {{ name: r, path: /r, verify: none, queue: {queue}, event_id: {{ header: X-Delivery }} }}\n",
        redis.url(),
        amqp_url()
    );
    let gs = replicas(&yaml);
    let send = |g: &Gateway, id: &str| {
        let r = g.post("/r", &[("x-delivery", id)], b"{}");
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let answers: Vec<String> = gs.iter().map(|g| send(g, "same-1")).collect();
    assert_eq!(answers, ["accepted", "duplicate", "duplicate"]);
    let msgs = rabbit.take_all(&queue, 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        msgs.len() + rabbit.take_all(&queue, 0, Duration::from_millis(200)).len(),
        1
    );

    // Redis gone: every replica keeps accepting, deciding alone.
    redis.stop();
    let answers: Vec<String> = gs.iter().map(|g| send(g, "while-down-1")).collect();
    assert_eq!(
        answers,
        ["accepted", "accepted", "accepted"],
        "a duplicate publish, never a refusal"
    );
    // Its own ledger still answers for itself.
    assert_eq!(send(&gs[0], "while-down-1"), "duplicate");
    for g in &gs {
        assert_eq!(metric(g, "hookgate_shared_up "), 0.0);
        assert!(metric(g, "hookgate_shared_errors_total{op=\"dedup_check\"}") >= 1.0);
        let ready = request(g.admin, "GET", "/readyz", &[], b"");
        assert_eq!(ready.status, 200);
        assert!(
            ready.text().contains("shared Redis unavailable"),
            "{}",
            ready.text()
        );
    }
    let down = rabbit.take_all(&queue, 3, Duration::from_secs(10));
    assert!(down.iter().all(|m| m.id() == "while-down-1"));
    // Back: each replica reconnects at its next call, and shares again.
    redis.spawn();
    let back = Instant::now();
    for (i, g) in gs.iter().enumerate() {
        let mut k = 0;
        while metric(g, "hookgate_shared_up ") != 1.0 {
            assert!(
                back.elapsed() < Duration::from_secs(15),
                "replica {i} did not reconnect"
            );
            k += 1;
            send(g, &format!("probe-{i}-{k}"));
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    println!(
        "all three replicas use Redis again {:?} after it restarted",
        back.elapsed()
    );
    let answers: Vec<String> = gs.iter().map(|g| send(g, "after-1")).collect();
    assert_eq!(answers, ["accepted", "duplicate", "duplicate"]);
    assert_eq!(metric(&gs[1], "hookgate_shared_up "), 1.0);
}

#[test]
fn a_shared_per_ip_limit_holds_across_replicas() {
    let redis = Redis::start();
    let prefix = unique("hg-test-rl:");
    let (n, burst) = (20.0, 10.0);
    let yaml = format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\", dedup: {{ redis: {{ url: \"{}\", key_prefix: \"{prefix}\" }} }} }}\nroutes:\n  - {{ name: r, path: /r, verify: none, event_id: {{ header: X-Id }}, rate_limit: {{ per_ip: {n}/s, burst: {burst}, shared: true }} }}\n",
        redis.url()
    );
    let gs = replicas(&yaml);
    // Round robin over the replicas, as fast as they answer, for two seconds.
    let started = Instant::now();
    let (mut ok, mut limited, mut i) = (0.0, 0, 0);
    while started.elapsed() < Duration::from_secs(2) && i < 3000 {
        let r = gs[i % 3].post("/r", &[("x-id", &format!("rl-{i}"))], b"{}");
        match r.status {
            200 => ok += 1.0,
            429 => limited += 1,
            s => panic!("unexpected {s}: {}", r.text()),
        }
        i += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("shared limit {n}/s burst {burst} over 3 replicas: {ok} accepted, {limited} limited of {i} in {secs:.2} s");
    assert!(limited > 0, "the limit never applied");
    assert!(
        ok <= n * secs + burst + 1.0,
        "{ok} accepted in {secs:.2} s: more than {n}/s plus the burst across replicas"
    );
    // Each replica alone would have let through three times as many.
    assert!(
        ok >= n * secs * 0.5,
        "{ok} accepted: the limit refused more than it should"
    );
}
