//! The RabbitMQ hand-off against the real broker: properties and headers of docs/reference.md,
//! duplicates, kill -9 and SIGTERM during a burst, outages (spool and reject), and
//! topology errors at startup.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::common::*;
use crate::support::rabbit::*;

struct Names {
    exchange: String,
    queue: String,
}

fn names(rabbit: &Rabbit, test: &str) -> Names {
    let n = Names {
        exchange: unique(&format!("hg-{test}")),
        queue: unique(&format!("hg-{test}-q")),
    };
    rabbit.owns(&n.exchange, &[&n.queue]);
    n
}

fn config(url: &str, n: &Names, broker_extra: &str, limits: &str) -> String {
    format!(
        r#"
listen: 127.0.0.1:{{PORT}}
admin: {{ listen: 127.0.0.1:{{ADMIN}} }}
store: {{ path: "{{STORE}}" }}
limits: {{ {limits} }}
shutdown: {{ grace: 10s }}
broker:
  url: "{url}"
  exchange: {exchange}
  {broker_extra}
routes:
  - name: github
    path: /hooks/github
    provider: github
    secrets: [broker-secret]
    queue: {queue}
    forward_headers: [X-GitHub-Event, X-GitHub-Hook-ID]
"#,
        exchange = n.exchange,
        queue = n.queue
    )
}

fn signed(g_port: u16, id: &str, body: &[u8]) -> std::io::Result<Response> {
    let sig = github_sig("broker-secret", body);
    try_request(
        g_port,
        "POST",
        "/hooks/github",
        &[
            ("X-Hub-Signature-256", &sig),
            ("X-GitHub-Delivery", id),
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

#[test]
fn accepted_event_arrives_byte_for_byte_with_every_property_and_once() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "props");
    let g = Gateway::start(&config(&amqp_url(), &n, "", ""));
    // Bytes a re-serializing gateway would change: spacing, key order, escapes, unicode.
    let body = "{\"b\":1,  \"a\":\"caf\u{e9} \\u00e9\",\n\"z\":[1.0e2]}".as_bytes();
    let sig = github_sig("broker-secret", body);
    let h = [
        ("X-Hub-Signature-256", sig.as_str()),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("X-GitHub-Event", "push"),
        ("X-GitHub-Hook-ID", "42"),
        ("X-Not-Forwarded", "x"),
        ("Content-Type", "application/json; charset=utf-8"),
    ];
    let before = now();
    let r = g.post("/hooks/github", &h, body);
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("accepted")),
        "{}",
        r.text()
    );
    let r = g.post("/hooks/github", &h, body);
    assert_eq!(r.json()["status"], "duplicate");

    let msgs = rabbit.take_all(&n.queue, 1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1, "a duplicate must arrive once");
    let m = &msgs[0];
    assert_eq!(m.body, body, "body byte for byte");
    assert_eq!(m.routing_key, "github.push");
    let p = &m.props;
    assert_eq!(m.id(), "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(*p.delivery_mode(), Some(2));
    assert_eq!(p.kind().as_ref().map(|s| s.as_str()), Some("push"));
    assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("hookgate"));
    let ts = p.timestamp().expect("timestamp") as i64;
    assert!((before - 1..=now() + 1).contains(&ts), "timestamp {ts}");
    assert_eq!(m.header("hookgate-route").as_deref(), Some("github"));
    assert_eq!(m.header("hookgate-source-ip").as_deref(), Some("127.0.0.1"));
    let at = m.header("hookgate-received-at").unwrap();
    assert!(
        at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.',
        "RFC 3339 with ms: {at}"
    );
    assert_eq!(m.header("x-github-event").as_deref(), Some("push"));
    assert_eq!(m.header("x-github-hook-id").as_deref(), Some("42"));
    assert_eq!(m.header("x-not-forwarded"), None);
    let metrics = g.metrics();
    assert!(metrics.contains("hookgate_broker_connected 1"), "{metrics}");
    assert!(
        metrics.contains(r#"hookgate_broker_publishes_total{result="ack"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains("guest:guest"));
    assert!(
        !g.logs().contains("guest:guest"),
        "the broker password leaked into the logs"
    );
}

/// 16 clients send signed requests until `total` are sent or the gateway dies; returns
/// the ids answered `accepted`.
/// The dedup filter in front of the ledger: ids accepted before a restart (loaded from
/// the ledger at start) and right now (before the 100 ms ledger flush) are duplicates;
/// new ids are accepted.
#[test]
fn duplicates_are_recognised_right_away_and_after_a_restart() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "dedup");
    let mut g = Gateway::start(&config(&amqp_url(), &n, "", ""));
    let body = br#"{"zen":"Keep it logically awesome."}"#;
    let status = |g: &Gateway, id: &str| {
        let r = signed(g.port, id, body).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["status"].as_str().unwrap().to_string()
    };
    // Enough pairs to span several 100 ms ledger flushes.
    for i in 0..150 {
        assert_eq!(status(&g, &format!("before-{i}")), "accepted");
        assert_eq!(status(&g, &format!("before-{i}")), "duplicate");
    }
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(15)), Some(0));
    g.spawn();
    // The ledger loads in the background; look-ups read SQLite until then, so the
    // answers are the same before and after.
    for round in 0..2 {
        for i in 0..50 {
            assert_eq!(
                status(&g, &format!("before-{i}")),
                "duplicate",
                "round {round}"
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    for i in 0..50 {
        assert_eq!(status(&g, &format!("after-{i}")), "accepted");
    }
    let msgs = rabbit.take_all(&n.queue, 200, Duration::from_secs(5));
    assert_eq!(msgs.len(), 200, "each id published once");
}

fn burst(port: u16, total: usize, on_half: impl FnOnce() + Send + 'static) -> Vec<String> {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let fired = Arc::new(AtomicBool::new(false));
    let on_half = Arc::new(Mutex::new(Some(on_half)));
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (accepted, sent, fired, on_half) = (
                accepted.clone(),
                sent.clone(),
                fired.clone(),
                on_half.clone(),
            );
            std::thread::spawn(move || loop {
                let i = sent.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return;
                }
                if i == total / 2 && !fired.swap(true, Ordering::SeqCst) {
                    if let Some(f) = on_half.lock().unwrap().take() {
                        f();
                    }
                }
                let id = format!("b{w}-{i}");
                let body = format!(r#"{{"n":{i},"pad":"{}"}}"#, "p".repeat(1400));
                match signed(port, &id, body.as_bytes()) {
                    Ok(r) if r.status == 200 => accepted.lock().unwrap().push(id),
                    Ok(r) => assert_eq!(r.status, 503, "{}", r.text()),
                    Err(_) => {} // connection refused or reset: the gateway is gone
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let v = accepted.lock().unwrap().clone();
    v
}

#[test]
fn kill_9_during_a_burst_every_accepted_id_is_in_the_queue() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "kill");
    let mut g = Gateway::start(&config(&amqp_url(), &n, "", ""));
    let pid = g.pid();
    let accepted = burst(g.port, 4000, move || {
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    });
    let _ = g.wait_exit(Duration::from_secs(5));
    assert!(
        accepted.len() >= 1000,
        "only {} accepted before the kill",
        accepted.len()
    );
    let in_queue: HashSet<String> = rabbit
        .take_all(&n.queue, accepted.len(), Duration::from_secs(10))
        .iter()
        .map(Msg::id)
        .collect();
    let lost: Vec<_> = accepted
        .iter()
        .filter(|id| !in_queue.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted ids missing from the queue: {:?}",
        lost.len(),
        accepted.len(),
        &lost[..lost.len().min(5)]
    );
    eprintln!(
        "broker kill -9: {} accepted, all in the queue",
        accepted.len()
    );
}

#[test]
fn sigterm_during_a_burst_exits_0_with_every_accepted_id_in_the_queue() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "term");
    let mut g = Gateway::start(&config(&amqp_url(), &n, "", ""));
    let pid = g.pid();
    let accepted = burst(g.port, 3000, move || {
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
    });
    assert_eq!(
        g.wait_exit(Duration::from_secs(15)),
        Some(0),
        "{}",
        g.logs()
    );
    assert!(accepted.len() >= 1000, "only {} accepted", accepted.len());
    let in_queue: HashSet<String> = rabbit
        .take_all(&n.queue, accepted.len(), Duration::from_secs(10))
        .iter()
        .map(Msg::id)
        .collect();
    let lost = accepted.iter().filter(|id| !in_queue.contains(*id)).count();
    assert_eq!(lost, 0, "{lost} of {} accepted ids missing", accepted.len());
}

/// Sequential senders, each remembering the order of its accepted ids.
fn steady_load(
    port: u16,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<(Vec<String>, usize)>> {
    (0..clients)
        .map(|c| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut accepted = Vec::new();
                let mut unavailable = 0;
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("c{c}-{i:05}");
                    match signed(port, &id, format!(r#"{{"c":{c},"i":{i}}}"#).as_bytes()) {
                        Ok(r) if r.status == 200 => accepted.push(id),
                        Ok(r) if r.status == 503 => {
                            assert!(r.header("retry-after").is_some());
                            unavailable += 1;
                        }
                        Ok(r) => panic!("{}: {}", r.status, r.text()),
                        Err(e) => panic!("request failed: {e}"),
                    }
                    i += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
                (accepted, unavailable)
            })
        })
        .collect()
}

fn metric(g: &Gateway, name: &str) -> f64 {
    g.metrics()
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(-1.0)
}

#[test]
fn broker_outage_with_spool_every_event_arrives_once_in_order() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "spool");
    let proxy = Proxy::start(broker_addr());
    let g = Gateway::start(&config(
        &proxy.url(),
        &n,
        "confirm_timeout: 1s\n  when_unavailable: spool",
        "",
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = steady_load(g.port, 4, stop.clone());
    std::thread::sleep(Duration::from_millis(700));
    proxy.cut();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        request(g.admin, "GET", "/readyz", &[], b"").status,
        200,
        "spooling keeps the gateway ready"
    );
    std::thread::sleep(Duration::from_millis(1200));
    let spooled = metric(&g, "hookgate_spool_depth ");
    assert!(spooled > 0.0, "nothing was spooled during the outage");
    assert_eq!(metric(&g, "hookgate_broker_connected "), 0.0);
    proxy.restore();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let mut per_client = Vec::new();
    for c in clients {
        let (accepted, unavailable) = c.join().unwrap();
        assert_eq!(unavailable, 0, "with spool nothing is refused");
        per_client.push(accepted);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&g, "hookgate_spool_depth ") != 0.0 {
        assert!(Instant::now() < deadline, "spool not drained");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The drain's start and end are logged, for an operator watching the recovery.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !g.logs().contains("spool drained") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let logs = g.logs();
    assert!(
        logs.contains("broker connected; draining the spool") && logs.contains("spool drained"),
        "{logs}"
    );
    let total: usize = per_client.iter().map(Vec::len).sum();
    let msgs = rabbit.take_all(&n.queue, total, Duration::from_secs(10));
    let ids: Vec<String> = msgs.iter().map(Msg::id).collect();
    // Every accepted event arrived; only publishes in flight at the cut (their confirm
    // was lost with the connection) may arrive twice, and `message_id` dedups those.
    let mut count: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *count.entry(id).or_default() += 1;
    }
    for list in &per_client {
        for id in list {
            assert!(
                count.contains_key(id.as_str()),
                "accepted {id} never arrived"
            );
        }
    }
    let repeated = count.values().filter(|c| **c > 1).count();
    assert!(
        repeated <= 4,
        "{repeated} ids arrived more than once (more than the 4 in flight at the cut)"
    );
    // Each client's events arrive in the order they were accepted (first arrival).
    let mut first_pos: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        first_pos.entry(id).or_insert(i);
    }
    for list in &per_client {
        let positions: Vec<usize> = list.iter().map(|id| first_pos[id.as_str()]).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "out of order for {}",
            list[0]
        );
    }
    eprintln!(
        "spool outage: {total} accepted ({spooled} spooled at the peak), {} messages, {repeated} repeated",
        ids.len()
    );
}

#[test]
fn broker_outage_with_reject_answers_503_then_recovers_without_restart() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "reject");
    let proxy = Proxy::start(broker_addr());
    let g = Gateway::start(&config(
        &proxy.url(),
        &n,
        "confirm_timeout: 1s\n  when_unavailable: reject",
        "",
    ));
    assert_eq!(signed(g.port, "before", b"{}").unwrap().status, 200);
    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(5);
    let r = loop {
        let r = signed(g.port, "during", b"{}").unwrap();
        if r.status == 503 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((r.status, r.error()), (503, "unavailable".into()));
    assert!(r.header("retry-after").is_some());
    assert_eq!(request(g.admin, "GET", "/readyz", &[], b"").status, 503);
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = signed(g.port, "during", b"{}").unwrap();
        if r.status == 200 {
            // A delivery refused with 503 is processed afresh on retry, never `duplicate`.
            assert_eq!(r.json()["status"], "accepted");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after the broker came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(request(g.admin, "GET", "/readyz", &[], b"").status, 200);
    let ids: Vec<String> = rabbit
        .take_all(&n.queue, 2, Duration::from_secs(5))
        .iter()
        .map(Msg::id)
        .collect();
    assert_eq!(ids, vec!["before", "during"]);
}

#[test]
fn gateway_starts_and_serves_when_the_broker_is_down_at_start() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "late");
    let proxy = Proxy::start(broker_addr());
    proxy.cut();
    let g = Gateway::start(&config(&proxy.url(), &n, "when_unavailable: spool", ""));
    assert_eq!(signed(g.port, "early", b"{}").unwrap().status, 200);
    proxy.restore();
    let msgs = rabbit.take_all(&n.queue, 1, Duration::from_secs(10));
    assert_eq!(msgs.iter().map(Msg::id).collect::<Vec<_>>(), vec!["early"]);
}

fn start_expecting_failure(yaml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let text = yaml
        .replace("{PORT}", &free_port().to_string())
        .replace("{ADMIN}", &free_port().to_string())
        .replace("{STORE}", &dir.path().join("store").display().to_string());
    let cfg = write(dir.path(), "hookgate.yaml", &text);
    let out = std::process::Command::new(BIN)
        .args(["serve", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "expected a startup failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn conflicting_queue_or_missing_exchange_is_a_clear_startup_error() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "conflict");
    rabbit.declare_classic(&n.queue);
    let err = start_expecting_failure(&config(&amqp_url(), &n, "", ""));
    assert!(
        err.contains(&n.queue) && err.contains("exists with other settings"),
        "{err}"
    );
    assert!(!err.contains("guest:guest"));

    let m = names(&rabbit, "missing");
    let err = start_expecting_failure(&config(&amqp_url(), &m, "declare: false", ""));
    assert!(
        err.contains(&m.exchange) && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn store_replay_publishes_stored_events_to_the_broker() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "replay");
    // Accept three events with the embedded store only.
    let mut g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n  - { name: github, path: /hooks/github, provider: github, secrets: [broker-secret] }\n",
    );
    for i in 0..3 {
        assert_eq!(
            signed(
                g.port,
                &format!("stored-{i}"),
                format!(r#"{{"i":{i}}}"#).as_bytes()
            )
            .unwrap()
            .status,
            200
        );
    }
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0));
    // The same store, now with a broker: replay everything after the first event.
    let cfg = config(&amqp_url(), &n, "", "")
        .replace("{STORE}", &g.dir.path().join("store").display().to_string());
    let cfg = cfg.replace("{PORT}", "0").replace("{ADMIN}", "0");
    let file = write(g.dir.path(), "with-broker.yaml", &cfg);
    let out = std::process::Command::new(BIN)
        .args(["store", "-c"])
        .arg(&file)
        .args(["replay", "--after", "1", "--yes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("replayed 2 event(s)"), "{stdout}");
    let msgs = rabbit.take_all(&n.queue, 2, Duration::from_secs(5));
    let got: Vec<(String, Vec<u8>)> = msgs.iter().map(|m| (m.id(), m.body.clone())).collect();
    assert_eq!(
        got,
        vec![
            ("stored-1".into(), br#"{"i":1}"#.to_vec()),
            ("stored-2".into(), br#"{"i":2}"#.to_vec())
        ]
    );
    assert_eq!(msgs[0].header("hookgate-route").as_deref(), Some("github"));
}

#[test]
fn a_deleted_queue_is_declared_again_and_nothing_is_lost() {
    let rabbit = Rabbit::connect();
    let n = names(&rabbit, "heal");
    let g = Gateway::start(&config(&amqp_url(), &n, "when_unavailable: spool", ""));
    assert_eq!(signed(g.port, "before-delete", b"{}").unwrap().status, 200);
    assert_eq!(
        rabbit.take_all(&n.queue, 1, Duration::from_secs(5)).len(),
        1
    );
    rabbit.delete_queue(&n.queue);
    // Unroutable now: spooled (200), and the return makes the gateway redeclare.
    assert_eq!(signed(g.port, "after-delete", b"{}").unwrap().status, 200);
    let msgs = rabbit.take_all(&n.queue, 1, Duration::from_secs(10));
    assert_eq!(
        msgs.iter().map(Msg::id).collect::<Vec<_>>(),
        vec!["after-delete"]
    );
    assert!(g
        .metrics()
        .contains(r#"hookgate_broker_publishes_total{result="returned"} 1"#));
}
