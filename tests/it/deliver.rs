//! docs/delivery.md, asynchronous delivery from the embedded store to a real application: the
//! body and headers, retries with backoff and `Retry-After`, the circuit, concurrency and
//! fan-out, order, dead letters and their replay, type filters, kill -9 and SIGTERM.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::app::{App, Reply, Seen};
use crate::support::common::*;
use crate::support::rabbit::{amqp_url, unique, Rabbit};
use crate::support::sdk;

/// Where accepted events wait for delivery: the embedded store, or RabbitMQ.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    Store,
    Rabbit,
}

both_modes!(
    an_accepted_event_reaches_the_application_byte_for_byte_with_every_header_and_a_verifiable_signature,
    three_failures_then_success_waits_the_backoff_and_a_429_retry_after_is_honoured,
    an_application_that_is_down_is_probed_not_hammered_and_gets_everything_once_up,
    concurrency_is_never_exceeded_and_a_slow_destination_does_not_delay_a_healthy_one,
    ordered_delivery_holds_the_events_behind_a_failing_one,
    after_max_attempts_the_event_is_a_dead_letter_that_replay_delivers,
    a_type_filter_sends_only_matching_events,
    kill_9_during_delivery_then_restart_delivers_every_accepted_id,
    sigterm_during_delivery_exits_0_and_the_rest_is_delivered_after_the_next_start,
);

/// A configuration for `mode` (a unique exchange and queues in RabbitMQ, deleted when
/// the returned guard goes) around `routes`, which may say `{QUEUE}` for the route's
/// queue; `dests` are its destinations' names.
pub(crate) fn setup(mode: Mode, routes: &str, dests: &[&str]) -> (String, Option<Rabbit>) {
    let head = "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN}, token: admin-token-Ls93kf0 }\nstore: { path: \"{STORE}\" }\nshutdown: { grace: 5s }\n";
    match mode {
        Mode::Store => (
            format!("{head}{}", routes.replace("    queue: {QUEUE}\n", "")),
            None,
        ),
        Mode::Rabbit => {
            let rabbit = Rabbit::connect();
            let exchange = unique("hg-deliver");
            let queue = format!("{exchange}.q");
            let mut queues: Vec<String> = dests
                .iter()
                .map(|d| format!("{queue}.deliver.{d}"))
                .collect();
            queues.push(queue.clone());
            rabbit.owns(
                &exchange,
                &queues.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            let broker = format!(
                "broker: {{ url: \"{}\", exchange: {exchange} }}\n",
                amqp_url()
            );
            (
                format!("{head}{broker}{}", routes.replace("{QUEUE}", &queue)),
                Some(rabbit),
            )
        }
    }
}

/// A route taking `{"id": ..., "type": ...}` bodies, delivering as `deliver` says.
fn config(mode: Mode, deliver: &str) -> (String, Option<Rabbit>) {
    let dests: Vec<&str> = deliver
        .match_indices("name: ")
        .map(|(i, _)| {
            deliver[i + 6..]
                .split([',', ' ', '}'])
                .next()
                .unwrap_or("app")
        })
        .collect();
    let dests = if dests.is_empty() { vec!["app"] } else { dests };
    let routes = format!("routes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    event_type: {{ json: /type }}\n    forward_headers: [x-shop]\n    deliver:\n{deliver}\n");
    setup(mode, &routes, &dests)
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

fn an_accepted_event_reaches_the_application_byte_for_byte_with_every_header_and_a_verifiable_signature(
    mode: Mode,
) {
    let app = App::start(ok());
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (yaml, _rabbit) = config(
        mode,
        &format!(
            "      - {{ name: app, url: \"{}\", sign: {{ secret: \"{secret}\" }} }}",
            app.url("/webhooks")
        ),
    );
    let g = Gateway::start(&yaml);
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
    if let Mode::Rabbit = mode {
        // Taken from the destination's own queue, not the store.
        assert!(g.logs().contains("consuming for delivery"), "{}", g.logs());
        assert!(g.stored_ids().is_empty());
    }
}

fn three_failures_then_success_waits_the_backoff_and_a_429_retry_after_is_honoured(mode: Mode) {
    // Event a: 500 three times, then 200. Event b: 429 with Retry-After: 2, then 200.
    let (a_n, b_n) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let app = App::start(move |s, _| match s.header("idempotency-key") {
        Some("a") if a_n.fetch_add(1, Ordering::SeqCst) < 3 => Reply::status(500),
        Some("b") if b_n.fetch_add(1, Ordering::SeqCst) < 1 => Reply {
            headers: vec![("retry-after", "2".into())],
            ..Reply::status(429)
        },
        _ => Reply::status(200),
    });
    let (yaml, _rabbit) = config(
        mode,
        &format!(
            "      - {{ url: \"{}\", backoff: {{ first: 300ms, max: 10s }} }}",
            app.url("/x")
        ),
    );
    let g = Gateway::start(&yaml);
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

fn an_application_that_is_down_is_probed_not_hammered_and_gets_everything_once_up(mode: Mode) {
    // Down, first as nothing listening (connections refused), then as a listener that
    // accepts and closes at once, counting every connection attempt.
    let port = free_port();
    let (yaml, _rabbit) = config(mode, &format!(
        "      - {{ url: \"http://127.0.0.1:{port}/x\", concurrency: 4, backoff: {{ first: 100ms, max: 30s }} }}"
    ));
    let g = Gateway::start(&yaml);
    for i in 0..20 {
        post(&g, &format!("e{i}"), "t");
    }
    std::thread::sleep(Duration::from_secs(2));
    let refused = metric(
        &g,
        r#"hookgate_delivery_attempts_total{route="orders",destination="app",outcome="connect_error"}"#,
    );
    assert!(refused >= 5.0, "{refused} refused attempts");
    assert_eq!(
        metric(
            &g,
            r#"hookgate_delivery_circuit_open{route="orders",destination="app"}"#
        ),
        1.0
    );
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(true));
    let (a, d) = (attempts.clone(), down.clone());
    listener.set_nonblocking(true).unwrap();
    let counter = std::thread::spawn(move || {
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
    std::thread::sleep(Duration::from_secs(5));
    down.store(false, Ordering::SeqCst);
    counter.join().unwrap();
    let while_down = attempts.load(Ordering::SeqCst);
    // Without the circuit: 20 events, each retried from 100 ms doubling, some 100
    // attempts in these 5 s. With it: one probe at a time, the pause doubling from 1 s
    // (probes at about 1, 3, 7, 15 s after the first failures).
    assert!(
        (1..=3).contains(&while_down),
        "{while_down} connection attempts in 5 s while down"
    );
    let app = App::start_on(port, ok());
    let seen = app.wait_for(20, Duration::from_secs(40));
    let mut got = ids(&seen);
    got.sort();
    got.dedup();
    assert_eq!(
        got.len(),
        20,
        "every event delivered once the application is up"
    );
    assert_eq!(
        metric(
            &g,
            r#"hookgate_delivery_circuit_open{route="orders",destination="app"}"#
        ),
        0.0
    );
}

/// The value of one series on the gateway's `/metrics`.
fn metric(g: &Gateway, series: &str) -> f64 {
    let m = g.metrics();
    m.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{m}"))
}

fn concurrency_is_never_exceeded_and_a_slow_destination_does_not_delay_a_healthy_one(mode: Mode) {
    let slow = App::start(|_, _| Reply {
        delay: Duration::from_millis(50),
        ..Reply::status(200)
    });
    let fast = App::start(ok());
    let (yaml, _rabbit) = config(mode, &format!(
        "      - {{ name: slow, url: \"{}\", concurrency: 4 }}\n      - {{ name: fast, url: \"{}\" }}",
        slow.url("/s"),
        fast.url("/f")
    ));
    let g = Gateway::start(&yaml);
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

fn ordered_delivery_holds_the_events_behind_a_failing_one(mode: Mode) {
    let failures = Arc::new(AtomicUsize::new(0));
    let app = App::start(move |s, _| {
        if s.header("idempotency-key") == Some("o3") && failures.fetch_add(1, Ordering::SeqCst) < 2
        {
            Reply::status(503)
        } else {
            Reply::status(200)
        }
    });
    let (yaml, _rabbit) = config(
        mode,
        &format!(
            "      - {{ url: \"{}\", ordered: true, backoff: {{ first: 200ms }} }}",
            app.url("/o")
        ),
    );
    let g = Gateway::start(&yaml);
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

/// `hookgate store --path STORE dead ARGS`: exits 0; its output.
fn dead(store: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(BIN)
        .args(["store", "--path"])
        .arg(store)
        .arg("dead")
        .args(args)
        .env("HOOKGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn after_max_attempts_the_event_is_a_dead_letter_that_replay_delivers(mode: Mode) {
    let healthy = Arc::new(AtomicBool::new(false));
    let h = healthy.clone();
    let app =
        App::start(move |_, _| Reply::status(if h.load(Ordering::SeqCst) { 200 } else { 500 }));
    let (yaml, _rabbit) = config(
        mode,
        &format!(
            "      - {{ url: \"{}\", max_attempts: 2, backoff: {{ first: 100ms }} }}",
            app.url("/d")
        ),
    );
    let mut g = Gateway::start(&yaml);
    let store = g.dir.path().join("store");
    let wait_dead = |id: &str, g: &Gateway| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = dead(&store, &["list"]);
            if out.contains(id) {
                assert!(out.contains("HTTP 500"), "{out}");
                return;
            }
            assert!(Instant::now() < deadline, "not dead-lettered: {}", g.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // While the gateway serves: listed and replayed through its admin API.
    post(&g, "dead1", "t");
    wait_dead("dead1", &g);
    assert_eq!(app.seen().len(), 2);
    let text = dead(&store, &["show", "dead1"]);
    assert_eq!(text.matches("status 500").count(), 2, "{text}");
    healthy.store(true, Ordering::SeqCst);
    assert!(dead(&store, &["replay", "dead1"]).contains("1 dead letter(s)"));
    let seen = app.wait_for(3, Duration::from_secs(10));
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[2].header("hookgate-attempt"),
        Some("1"),
        "attempts from zero"
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = dead(&store, &["list"]);
    assert!(!out.contains("dead1"), "delivered: no longer dead\n{out}");

    // With the gateway stopped: read and marked in the store, delivered at the next start.
    healthy.store(false, Ordering::SeqCst);
    post(&g, "dead2", "t");
    wait_dead("dead2", &g);
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(dead(&store, &["list", "--json"]).contains(r#""id":"dead2""#));
    healthy.store(true, Ordering::SeqCst);
    assert!(dead(&store, &["replay", "--all"]).contains("1 dead letter(s)"));
    g.spawn();
    let seen = app.wait_for(6, Duration::from_secs(10));
    assert_eq!(ids(&seen)[5], "dead2", "{}", g.logs());
}

fn a_type_filter_sends_only_matching_events(mode: Mode) {
    let app = App::start(ok());
    let all = App::start(ok());
    let (yaml, _rabbit) = config(mode, &format!(
        "      - {{ name: created, url: \"{}\", types: [\"order.created\", \"refund.*\"] }}\n      - {{ name: all, url: \"{}\" }}",
        app.url("/c"),
        all.url("/a")
    ));
    let g = Gateway::start(&yaml);
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
    let mut got = ids(&app.seen());
    got.sort();
    assert_eq!(got, ["t1", "t3", "t4"]);
}

fn kill_9_during_delivery_then_restart_delivers_every_accepted_id(mode: Mode) {
    let app = App::start(|_, _| Reply {
        delay: Duration::from_millis(2),
        ..Reply::status(200)
    });
    let routes = format!(
        "routes:\n  - name: github\n    path: /hooks/github\n    provider: github\n    secrets: [burst-secret]\n    queue: {{QUEUE}}\n    deliver: {{ url: \"{}\", concurrency: 8 }}\n",
        app.url("/gh")
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app"]);
    let mut g = Gateway::start(&yaml);
    // Kill it once 2 000 events were accepted from 16 clients, in the middle of their
    // delivery.
    let burst = crate::durability::Burst::start(g.port);
    let t = Instant::now();
    while burst.count() < 2000 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
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
    assert!(
        accepted.len() >= 2000,
        "burst too small: {}",
        accepted.len()
    );
}

fn sigterm_during_delivery_exits_0_and_the_rest_is_delivered_after_the_next_start(mode: Mode) {
    let app = App::start(|_, _| Reply {
        delay: Duration::from_millis(50),
        ..Reply::status(200)
    });
    let (yaml, _rabbit) = config(
        mode,
        &format!("      - {{ url: \"{}\", concurrency: 2 }}", app.url("/t")),
    );
    let mut g = Gateway::start(&yaml);
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

#[test]
fn reload_adds_changes_and_removes_destinations_without_losing_a_backlog() {
    let (a, b, c) = (App::start(ok()), App::start(ok()), App::start(ok()));
    // Destination `b` points at a port nobody listens on until it is put back.
    let down = free_port();
    let one = format!("      - {{ name: a, url: \"{}\" }}", a.url("/a"));
    let (yaml, _) = config(Mode::Store, &one);
    let g = Gateway::start(&yaml);
    post(&g, "r1", "t");
    assert_eq!(a.wait_for(1, Duration::from_secs(10)).len(), 1);
    let reload = |g: &Gateway, deliver: &str| {
        let before = g.logs().matches("configuration reloaded").count();
        let (yaml, _) = config(Mode::Store, deliver);
        let text = yaml
            .replace("{PORT}", &g.port.to_string())
            .replace("{ADMIN}", &g.admin.to_string())
            .replace("{STORE}", &g.dir.path().join("store").display().to_string());
        std::fs::write(&g.config, text).unwrap();
        g.signal("-HUP");
        let deadline = Instant::now() + Duration::from_secs(10);
        while g.logs().matches("configuration reloaded").count() <= before {
            assert!(Instant::now() < deadline, "{}", g.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // Change `a`'s URL to `c`'s, add `b` (down): `a`'s events now reach `c`; `b` starts
    // with the events accepted from its start, and keeps them while it is down.
    reload(&g, &format!("      - {{ name: a, url: \"{}\" }}\n      - {{ name: b, url: \"http://127.0.0.1:{down}/b\", backoff: {{ first: 100ms, max: 200ms }} }}", c.url("/c")));
    std::thread::sleep(Duration::from_millis(300));
    post(&g, "r2", "t");
    post(&g, "r3", "t");
    let mut got = ids(&c.wait_for(2, Duration::from_secs(10)));
    got.sort();
    assert_eq!(got, ["r2", "r3"]);
    // Remove `b` with its backlog, then put it back pointing at a live application: the
    // backlog resumes from its cursor, nothing skipped.
    reload(
        &g,
        &format!("      - {{ name: a, url: \"{}\" }}", c.url("/c")),
    );
    post(&g, "r4", "t");
    reload(
        &g,
        &format!(
            "      - {{ name: a, url: \"{}\" }}\n      - {{ name: b, url: \"{}\" }}",
            c.url("/c"),
            b.url("/b")
        ),
    );
    // Not `ordered`: a retried event may come after a newer one.
    let mut got = ids(&b.wait_for(3, Duration::from_secs(15)));
    got.sort();
    assert_eq!(got, ["r2", "r3", "r4"], "{}", g.logs());
    let mut got = ids(&c.wait_for(3, Duration::from_secs(5)));
    got.sort();
    assert_eq!(got, ["r2", "r3", "r4"]);
    assert_eq!(ids(&a.seen()), ["r1"]);
}

#[test]
fn a_2xx_with_a_large_body_takes_the_event_once() {
    // Only the status counts: an application that echoes a big page still took it.
    let app = App::start(|_, _| Reply {
        body: vec![b'x'; 256 << 10],
        ..Reply::status(200)
    });
    let (yaml, _) = config(
        Mode::Store,
        &format!(
            "      - {{ url: \"{}\", backoff: {{ first: 100ms }} }}",
            app.url("/big")
        ),
    );
    let g = Gateway::start(&yaml);
    post(&g, "big1", "t");
    assert_eq!(app.wait_for(1, Duration::from_secs(10)).len(), 1);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(ids(&app.seen()), ["big1"], "delivered once, not retried");
    assert_eq!(
        metric(
            &g,
            r#"hookgate_delivery_attempts_total{route="orders",destination="app",outcome="2xx"}"#
        ),
        1.0
    );
}
