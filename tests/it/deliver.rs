//! SPEC §6, asynchronous delivery from the embedded store to a real application: the
//! body and headers, retries with backoff and `Retry-After`, the circuit, concurrency and
//! fan-out, order, dead letters and their replay, type filters, kill -9 and SIGTERM.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::app::{App, Reply, Seen};
use super::common::*;
use super::sdk;

/// A route taking `{"id": ..., "type": ...}` bodies, delivering as `deliver` says.
fn config(deliver: &str) -> String {
    format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nshutdown: {{ grace: 5s }}\nroutes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    event_id: {{ json: /id }}\n    event_type: {{ json: /type }}\n    forward_headers: [x-shop]\n    deliver:\n{deliver}\n"
    )
}

fn post(g: &Gateway, id: &str, kind: &str) -> Response {
    let body = format!(r#"{{"id":"{id}","type":"{kind}","amount":12.5}}"#);
    let r = g.post(
        "/hooks/orders",
        &[("content-type", "application/json"), ("x-shop", "acme")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

fn ok() -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    |_, _| Reply::status(200)
}

fn ids(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| s.header("idempotency-key").unwrap_or("").to_string())
        .collect()
}

#[test]
fn an_accepted_event_reaches_the_application_byte_for_byte_with_every_header_and_a_verifiable_signature(
) {
    let app = App::start(ok());
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let g = Gateway::start(&config(&format!(
        "      - {{ name: app, url: \"{}\", sign: {{ secret: \"{secret}\" }} }}",
        app.url("/webhooks")
    )));
    let body = br#"{"id":"ord_1","type":"order.created","amount":12.5}"#;
    let r = g.post(
        "/hooks/orders",
        &[("content-type", "application/json"), ("x-shop", "acme")],
        body,
    );
    assert_eq!(r.json()["status"], "accepted");
    let seen = app.wait_for(1, Duration::from_secs(10));
    assert_eq!(seen.len(), 1, "{}", g.logs());
    let s = &seen[0];
    assert_eq!(s.path, "/webhooks");
    assert_eq!(&s.body[..], &body[..]);
    for (h, want) in [
        ("content-type", "application/json"),
        ("x-shop", "acme"),
        ("idempotency-key", "ord_1"),
        ("hookgate-route", "orders"),
        ("hookgate-destination", "app"),
        ("hookgate-attempt", "1"),
        ("hookgate-event-type", "order.created"),
        ("webhook-id", "ord_1"),
    ] {
        assert_eq!(s.header(h), Some(want), "{h}");
    }
    let headers: Vec<(&str, &str)> = ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .map(|h| (*h, s.header(h).unwrap()))
        .collect();
    assert_eq!(
        sdk::standard_webhooks_verify(secret, &headers, &s.body),
        "ok"
    );
    assert!(sdk::standard_webhooks_verify(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &headers,
        &s.body
    )
    .starts_with("refused"));
    let m = g.metrics();
    assert!(
        m.contains(
            r#"hookgate_delivery_attempts_total{route="orders",destination="app",outcome="2xx"} 1"#
        ),
        "{m}"
    );
}

#[test]
fn three_failures_then_success_waits_the_backoff_and_a_429_retry_after_is_honoured() {
    // Event a: 500 three times, then 200. Event b: 429 with Retry-After: 2, then 200.
    let app = App::start(|s, _| {
        static A: AtomicUsize = AtomicUsize::new(0);
        static B: AtomicUsize = AtomicUsize::new(0);
        match s.header("idempotency-key") {
            Some("a") if A.fetch_add(1, Ordering::SeqCst) < 3 => Reply::status(500),
            Some("b") if B.fetch_add(1, Ordering::SeqCst) < 1 => Reply {
                headers: vec![("retry-after", "2".into())],
                ..Reply::status(429)
            },
            _ => Reply::status(200),
        }
    });
    let g = Gateway::start(&config(&format!(
        "      - {{ url: \"{}\", backoff: {{ first: 300ms, max: 10s }} }}",
        app.url("/x")
    )));
    post(&g, "a", "t");
    post(&g, "b", "t");
    let seen = app.wait_for(6, Duration::from_secs(20));
    let at = |id: &str| -> Vec<Instant> {
        seen.iter()
            .filter(|s| s.header("idempotency-key") == Some(id))
            .map(|s| s.at)
            .collect()
    };
    let a = at("a");
    assert_eq!(a.len(), 4, "delivered on the 4th attempt: {}", g.logs());
    let attempts: Vec<_> = seen
        .iter()
        .filter(|s| s.header("idempotency-key") == Some("a"))
        .map(|s| s.header("hookgate-attempt").unwrap().to_string())
        .collect();
    assert_eq!(attempts, ["1", "2", "3", "4"]);
    for (i, min) in [300u64, 600, 1200].iter().enumerate() {
        let gap = a[i + 1] - a[i];
        assert!(
            gap >= Duration::from_millis(*min),
            "gap {i}: {gap:?} < {min} ms"
        );
    }
    let b = at("b");
    assert_eq!(b.len(), 2);
    assert!(
        b[1] - b[0] >= Duration::from_secs(2),
        "Retry-After: 2 honoured: {:?}",
        b[1] - b[0]
    );
}

#[test]
fn an_application_that_is_down_is_probed_not_hammered_and_gets_everything_once_up() {
    // "Down": a listener that accepts and closes at once, counting connection attempts.
    let port = free_port();
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(true));
    let (a, d) = (attempts.clone(), down.clone());
    listener.set_nonblocking(true).unwrap();
    let refuser = std::thread::spawn(move || {
        while d.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((s, _)) => {
                    a.fetch_add(1, Ordering::SeqCst);
                    drop(s);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    let g = Gateway::start(&config(&format!(
        "      - {{ url: \"http://127.0.0.1:{port}/x\", concurrency: 4, backoff: {{ first: 100ms, max: 30s }} }}"
    )));
    for i in 0..20 {
        post(&g, &format!("e{i}"), "t");
    }
    std::thread::sleep(Duration::from_secs(6));
    down.store(false, Ordering::SeqCst);
    refuser.join().unwrap();
    let while_down = attempts.load(Ordering::SeqCst);
    // Without the circuit: 20 events, each retried from 100 ms doubling, ~150 attempts
    // in 6 s. With it: the first failures (4 at once, 5 to open), then one probe after
    // 1, 2 and 4 s.
    assert!(
        (5..=12).contains(&while_down),
        "{while_down} connection attempts in 6 s while down"
    );
    assert!(g
        .metrics()
        .contains(r#"hookgate_delivery_circuit_open{route="orders",destination="app"} 1"#));
    let app = App::start_on(port, ok());
    let seen = app.wait_for(20, Duration::from_secs(30));
    let mut got = ids(&seen);
    got.sort();
    got.dedup();
    assert_eq!(
        got.len(),
        20,
        "every event delivered once the application is up"
    );
}

#[test]
fn concurrency_is_never_exceeded_and_a_slow_destination_does_not_delay_a_healthy_one() {
    let slow = App::start(|_, _| Reply {
        delay: Duration::from_millis(20),
        ..Reply::status(200)
    });
    let fast = App::start(ok());
    let g = Gateway::start(&config(&format!(
        "      - {{ name: slow, url: \"{}\", concurrency: 4 }}\n      - {{ name: fast, url: \"{}\" }}",
        slow.url("/s"),
        fast.url("/f")
    )));
    for i in 0..500 {
        post(&g, &format!("c{i}"), "t");
    }
    let f = fast.wait_for(500, Duration::from_secs(30));
    let slow_then = slow.seen().len();
    assert_eq!(f.len(), 500);
    assert!(
        slow_then < 500,
        "the healthy destination finished first ({slow_then} at the slow one)"
    );
    let s = slow.wait_for(500, Duration::from_secs(60));
    assert_eq!(s.len(), 500);
    assert!(
        slow.max_in_flight() <= 4,
        "{} at once",
        slow.max_in_flight()
    );
    assert!(
        slow.max_in_flight() >= 2,
        "concurrency used: {}",
        slow.max_in_flight()
    );
}

#[test]
fn ordered_delivery_holds_the_events_behind_a_failing_one() {
    let app = App::start(|s, _| {
        static N: AtomicUsize = AtomicUsize::new(0);
        if s.header("idempotency-key") == Some("o3") && N.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::status(503)
        } else {
            Reply::status(200)
        }
    });
    let g = Gateway::start(&config(&format!(
        "      - {{ url: \"{}\", ordered: true, backoff: {{ first: 200ms }} }}",
        app.url("/o")
    )));
    for i in 0..10 {
        post(&g, &format!("o{i}"), "t");
    }
    let seen = app.wait_for(12, Duration::from_secs(20));
    let got = ids(&seen);
    let mut want: Vec<String> = (0..10).map(|i| format!("o{i}")).collect();
    want.splice(3..3, ["o3".to_string(), "o3".to_string()]);
    assert_eq!(
        got, want,
        "acceptance order, o3 failing twice holds the rest"
    );
}

#[test]
fn after_max_attempts_the_event_is_a_dead_letter_that_replay_delivers() {
    let healthy = Arc::new(AtomicBool::new(false));
    let h = healthy.clone();
    let app =
        App::start(move |_, _| Reply::status(if h.load(Ordering::SeqCst) { 200 } else { 500 }));
    let g = Gateway::start(&config(&format!(
        "      - {{ url: \"{}\", max_attempts: 2, backoff: {{ first: 100ms }} }}",
        app.url("/d")
    )));
    post(&g, "dead1", "t");
    let deadline = Instant::now() + Duration::from_secs(10);
    let store = g.dir.path().join("store");
    let list = || {
        let out = std::process::Command::new(BIN)
            .args(["store", "--path"])
            .arg(&store)
            .args(["dead", "list"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    loop {
        let (code, out, err) = list();
        assert_eq!(code, Some(0), "{err}");
        if out.contains("dead1") {
            assert!(out.contains("HTTP 500"), "{out}");
            break;
        }
        assert!(Instant::now() < deadline, "not dead-lettered: {}", g.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(app.seen().len(), 2);
    let out = std::process::Command::new(BIN)
        .args(["store", "--path"])
        .arg(&store)
        .args(["dead", "show", "dead1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("status 500").count(), 2, "{text}");
    healthy.store(true, Ordering::SeqCst);
    let out = std::process::Command::new(BIN)
        .args(["store", "--path"])
        .arg(&store)
        .args(["dead", "replay", "dead1"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = app.wait_for(3, Duration::from_secs(10));
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[2].header("hookgate-attempt"),
        Some("1"),
        "attempts from zero"
    );
    std::thread::sleep(Duration::from_millis(300));
    let (_, out, _) = list();
    assert!(!out.contains("dead1"), "delivered: no longer dead\n{out}");
}

#[test]
fn a_type_filter_sends_only_matching_events() {
    let app = App::start(ok());
    let all = App::start(ok());
    let g = Gateway::start(&config(&format!(
        "      - {{ name: created, url: \"{}\", types: [\"order.created\", \"refund.*\"] }}\n      - {{ name: all, url: \"{}\" }}",
        app.url("/c"),
        all.url("/a")
    )));
    for (id, t) in [
        ("t1", "order.created"),
        ("t2", "order.paid"),
        ("t3", "refund.issued"),
        ("t4", "order.created"),
    ] {
        post(&g, id, t);
    }
    all.wait_for(4, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ids(&app.seen()), ["t1", "t3", "t4"]);
}

#[test]
fn kill_9_during_delivery_then_restart_delivers_every_accepted_id() {
    let app = App::start(|_, _| Reply {
        delay: Duration::from_millis(2),
        ..Reply::status(200)
    });
    let yaml = format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nshutdown: {{ grace: 5s }}\nroutes:\n  - name: github\n    path: /hooks/github\n    provider: github\n    secrets: [burst-secret]\n    deliver: {{ url: \"{}\", concurrency: 8 }}\n",
        app.url("/gh")
    );
    let mut g = Gateway::start(&yaml);
    let burst = crate::durability::Burst::start(g.port);
    std::thread::sleep(Duration::from_millis(1500));
    g.signal("-KILL");
    g.wait_exit(Duration::from_secs(5));
    let accepted = burst.finish();
    let before = app.seen().len();
    g.spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut by_id: HashMap<String, usize> = HashMap::new();
    loop {
        by_id.clear();
        for s in app.seen() {
            let key = s.header("idempotency-key").unwrap().to_string();
            // Every repeat carries the same key: the event id the provider sent.
            assert_eq!(
                s.header("x-github-delivery")
                    .map(str::to_string)
                    .unwrap_or_else(|| key.clone()),
                key
            );
            *by_id.entry(key).or_default() += 1;
        }
        if accepted.iter().all(|id| by_id.contains_key(id)) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let lost: Vec<_> = accepted
        .iter()
        .filter(|id| !by_id.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted never delivered (before the kill: {before}): {:?}",
        lost.len(),
        accepted.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(accepted.len() >= 500, "burst too small: {}", accepted.len());
}

#[test]
fn sigterm_during_delivery_exits_0_and_the_rest_is_delivered_after_the_next_start() {
    let app = App::start(|_, _| Reply {
        delay: Duration::from_millis(50),
        ..Reply::status(200)
    });
    let mut g = Gateway::start(&config(&format!(
        "      - {{ url: \"{}\", concurrency: 2 }}",
        app.url("/t")
    )));
    for i in 0..200 {
        post(&g, &format!("s{i}"), "t");
    }
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "within the 5 s grace: {:?}",
        t.elapsed()
    );
    let at_stop = app.seen().len();
    assert!(at_stop < 200, "still a backlog at SIGTERM ({at_stop})");
    g.spawn();
    let seen = app.wait_for(200, Duration::from_secs(30));
    let mut got = ids(&seen);
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 200);
}
