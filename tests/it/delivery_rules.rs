//! docs/delivery.md, "Rules per destination": what reaches each destination and how
//! fast, in both modes (the embedded store and RabbitMQ).

use std::time::Duration;

use crate::deliver::{setup, Mode};
use crate::support::app::{App, Reply};
use crate::support::common::*;

both_modes!(a_rate_of_10_a_second_spreads_40_events_over_4_seconds);

fn a_rate_of_10_a_second_spreads_40_events_over_4_seconds(mode: Mode) {
    let app = App::start(|_, _| Reply::status(200));
    let routes = format!(
        "routes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    deliver:\n      - {{ name: app, url: \"{}\", concurrency: 8, rate: 10/s }}\n",
        app.url("/webhooks")
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app"]);
    let g = Gateway::start(&yaml);
    for i in 0..40 {
        let body = format!(r#"{{"id":"rate-{i}"}}"#);
        let r = g.post(
            "/hooks/orders",
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let seen = app.wait_for(40, Duration::from_secs(20));
    assert_eq!(seen.len(), 40, "all delivered");
    let first = seen.iter().map(|s| s.at).min().unwrap();
    let last = seen.iter().map(|s| s.at).max().unwrap();
    assert!(
        last - first >= Duration::from_millis(2500),
        "40 events at 10/s take at least 2.5 s, took {:?}",
        last - first
    );
    // No window of one second holds more than 12 starts.
    let mut at: Vec<Duration> = seen.iter().map(|s| s.at - first).collect();
    at.sort();
    for (i, t) in at.iter().enumerate() {
        let within = at[i..]
            .iter()
            .take_while(|u| **u < *t + Duration::from_secs(1))
            .count();
        assert!(
            within <= 12,
            "{within} deliveries within a second from {t:?}: {at:?}"
        );
    }
}

both_modes!(
    a_filter_on_body_and_headers_delivers_only_what_matches_and_another_destination_gets_all
);

fn a_filter_on_body_and_headers_delivers_only_what_matches_and_another_destination_gets_all(
    mode: Mode,
) {
    let (app, all) = (
        App::start(|_, _| Reply::status(200)),
        App::start(|_, _| Reply::status(200)),
    );
    let filter = r#"body.action == \"opened\" && headers[\"x-github-event\"] == \"pull_request\""#;
    let routes = format!(
        "routes:\n  - name: prs\n    path: /hooks/prs\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    forward_headers: [x-github-event]\n    deliver:\n      - {{ name: app, url: \"{}\", filter: \"{filter}\" }}\n      - {{ name: all, url: \"{}\" }}\n",
        app.url("/app"),
        all.url("/all")
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app", "all"]);
    let g = Gateway::start(&yaml);
    for (id, action, event) in [
        ("f-1", "opened", "pull_request"),
        ("f-2", "closed", "pull_request"),
        ("f-3", "opened", "issues"),
        ("f-4", "opened", "pull_request"),
    ] {
        let body = format!(r#"{{"id":"{id}","action":"{action}"}}"#);
        let r = g.post(
            "/hooks/prs",
            &[
                ("content-type", "application/json"),
                ("x-github-event", event),
            ],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let everything = all.wait_for(4, Duration::from_secs(15));
    assert_eq!(
        everything.len(),
        4,
        "the destination without a filter gets all"
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut ids: Vec<String> = app
        .seen()
        .iter()
        .map(|s| s.header("idempotency-key").unwrap_or("").to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["f-1", "f-4"], "only the opened pull requests");
    let m = g.metrics();
    assert!(
        m.contains(r#"hookgate_delivery_filtered_total{route="prs",destination="app"} 2"#),
        "{m}"
    );
}

#[test]
fn a_filter_that_does_not_compile_is_refused_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "hookgate.yaml",
        "listen: 127.0.0.1:0\nstore: { path: ./data }\nroutes:\n  - name: o\n    path: /o\n    verify: none\n    deliver:\n      - { name: app, url: \"http://127.0.0.1:9/x\", filter: \"body.action ==\" }\n      - { name: two, url: \"http://127.0.0.1:9/y\", filter: \"1 + 2\" }\n      - { name: three, url: \"http://127.0.0.1:9/z\", transform: \"{id: .a,\" }\n      - { name: four, url: \"http://127.0.0.1:9/w\", filter: \"headers[\\\"x-github-event\\\"] == \\\"push\\\"\" }\n",
    );
    let out = std::process::Command::new(BIN)
        .args(["check", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("hookgate.yaml:8:")
            && err.contains("routes[0].deliver[0].filter: the filter does not compile"),
        "{err}"
    );
    assert!(
        err.contains("routes[0].deliver[1].filter: the filter is not a boolean expression"),
        "{err}"
    );
    assert!(
        err.contains("hookgate.yaml:10:")
            && err.contains("routes[0].deliver[2].transform: the transform does not compile at 1:"),
        "{err}"
    );
    assert!(
        err.contains(r#"routes[0].deliver[3].filter: the filter reads headers["x-github-event"], which this route does not keep"#),
        "{err}"
    );
}

both_modes!(a_transform_reshapes_what_one_destination_receives_and_the_store_keeps_the_original);

fn a_transform_reshapes_what_one_destination_receives_and_the_store_keeps_the_original(mode: Mode) {
    let (app, raw) = (
        App::start(|_, _| Reply::status(200)),
        App::start(|_, _| Reply::status(200)),
    );
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let routes = format!(
        "routes:\n  - name: prs\n    path: /hooks/prs\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    deliver:\n      - {{ name: app, url: \"{}\", transform: \"{{id: .pull_request.id, act: .action}}\", sign: {{ secret: \"{secret}\" }} }}\n      - {{ name: raw, url: \"{}\" }}\n",
        app.url("/app"),
        raw.url("/raw")
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app", "raw"]);
    // With a broker, the archive is what keeps the original.
    let yaml = yaml.replace(
        "store: { path: \"{STORE}\" }",
        "store: { path: \"{STORE}\", archive: true }",
    );
    let g = Gateway::start(&yaml);
    let body = r#"{"id":"t-1","action":"opened","pull_request":{"id":42,"title":"Fix"}}"#;
    let r = g.post(
        "/hooks/prs",
        &[("content-type", "text/plain")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.wait_for(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "{}", g.logs());
    let v: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(v, serde_json::json!({"id": 42, "act": "opened"}));
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    // The signature covers the body the application received.
    let headers: Vec<(&str, &str)> = ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .map(|h| (*h, got[0].header(h).unwrap()))
        .collect();
    assert_eq!(
        crate::support::sdk::standard_webhooks_verify(secret, &headers, &got[0].body),
        "ok"
    );
    let untouched = raw.wait_for(1, Duration::from_secs(15));
    assert_eq!(
        &untouched[0].body[..],
        body.as_bytes(),
        "another destination: as received"
    );
    assert_eq!(untouched[0].header("content-type"), Some("text/plain"));
    let out = std::process::Command::new(BIN)
        .args(["store", "-c"])
        .arg(&g.config)
        .args(["show", "t-1"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(r#""title":"Fix""#),
        "the store keeps the original: {shown}"
    );
    // A reload applies a new program to the events that come after it.
    let old = std::fs::read_to_string(&g.config).unwrap();
    let new = old.replace("act: .action}", "title: .pull_request.title}");
    assert_ne!(old, new);
    std::fs::write(&g.config, new).unwrap();
    g.signal("-HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !g.logs().contains("configuration reloaded") {
        assert!(std::time::Instant::now() < deadline, "{}", g.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = r#"{"id":"t-2","action":"closed","pull_request":{"id":43,"title":"Two"}}"#;
    let r = g.post(
        "/hooks/prs",
        &[("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.wait_for(2, Duration::from_secs(15));
    let v: serde_json::Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(v, serde_json::json!({"id": 43, "title": "Two"}));
}

both_modes!(a_transform_that_fails_dead_letters_the_event_at_once_and_the_next_is_delivered);

fn a_transform_that_fails_dead_letters_the_event_at_once_and_the_next_is_delivered(mode: Mode) {
    let app = App::start(|_, _| Reply::status(200));
    // One program, a way to fail per event kind: an error, two values, a loop that
    // would never end, and a string past the worker's address space (its process dies).
    let program = "if .kind == \\\"fail\\\" then error(\\\"refused\\\") elif .kind == \\\"two\\\" then (1, 2) elif .kind == \\\"loop\\\" then last(range(1e15)) elif .kind == \\\"huge\\\" then (\\\"x\\\" * 2000000000) else {ok: .id} end";
    let routes = format!(
        "routes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    deliver:\n      - {{ name: app, url: \"{}\", max_attempts: 5, transform: \"{program}\" }}\n",
        app.url("/webhooks")
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app"]);
    let g = Gateway::start(&yaml);
    for kind in ["fail", "two", "loop", "huge", "fine"] {
        let body = format!(r#"{{"id":"x-{kind}","kind":"{kind}"}}"#);
        let r = g.post(
            "/hooks/orders",
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let got = app.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "{}", g.logs());
    let v: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(v, serde_json::json!({"ok": "x-fine"}));
    let dead = |id: &str| -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let out = std::process::Command::new(BIN)
                .args(["store", "-c"])
                .arg(&g.config)
                .args(["dead", "show", id])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    for (id, reason) in [
        ("x-fail", r#"transform failed: "refused""#),
        ("x-two", "transform gave more than one value"),
        ("x-loop", "transform ran past its 50 ms budget"),
        ("x-huge", "transform stopped: the program's process ended"),
    ] {
        let shown = dead(id);
        println!(
            "{id}: {}",
            shown
                .lines()
                .find(|l| l.contains("attempt at"))
                .unwrap_or("")
        );
        assert!(shown.contains(reason), "{id}: {shown}");
        // Dead at the first attempt: retrying a deterministic failure is pointless.
        assert_eq!(
            shown.matches("transform").count(),
            1,
            "{id}: one attempt: {shown}"
        );
    }
    let out = std::process::Command::new(BIN)
        .args(["store", "-c"])
        .arg(&g.config)
        .args(["dead", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    for id in ["x-fail", "x-two", "x-loop", "x-huge"] {
        let line = list
            .lines()
            .find(|l| l.contains(&format!(" {id} ")))
            .unwrap_or("");
        assert!(line.contains("transform "), "{id} in dead list: {list}");
    }
    let m = g.metrics();
    assert!(
        m.contains(r#"hookgate_delivery_attempts_total{route="orders",destination="app",outcome="transform"} 4"#),
        "{m}"
    );
}

both_modes!(a_paused_destination_stays_paused_across_a_restart_and_resume_delivers_everything);

fn deliver_cli(g: &Gateway, action: &str) -> String {
    let out = std::process::Command::new(BIN)
        .args(["deliver", "-c"])
        .arg(&g.config)
        .args([action, "--route", "orders", "--destination", "app"])
        .env_remove("HOOKGATE_ADMIN_TOKEN")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "deliver {action}: {text}");
    text
}

fn paused(g: &Gateway) -> bool {
    let r = request(
        g.admin,
        "GET",
        "/api/v1/destinations",
        &[("authorization", "Bearer admin-token-Ls93kf0")],
        b"",
    );
    let v = r.json();
    v.as_array()
        .and_then(|a| a.iter().find(|d| d["destination"] == "app"))
        .map(|d| d["paused"] == true)
        .unwrap_or_else(|| panic!("no destination app in {v}"))
}

fn a_paused_destination_stays_paused_across_a_restart_and_resume_delivers_everything(mode: Mode) {
    let app = App::start(|_, _| Reply::status(200));
    let routes = format!(
        "routes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    deliver:\n      - {{ name: app, url: \"{}\" }}\n",
        app.url("/webhooks")
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app"]);
    let mut g = Gateway::start(&yaml);
    assert!(deliver_cli(&g, "pause").contains(r#""paused":true"#));
    assert!(paused(&g));
    for i in 0..10 {
        let body = format!(r#"{{"id":"held-{i}"}}"#);
        let r = g.post(
            "/hooks/orders",
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(
            r.status,
            200,
            "events are accepted while paused: {}",
            r.text()
        );
    }
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(20)), Some(0));
    g.spawn();
    assert!(paused(&g), "a restart keeps the pause");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(app.seen().len(), 0, "nothing delivered while paused");
    assert!(g
        .metrics()
        .contains(r#"hookgate_delivery_paused{route="orders",destination="app"} 1"#));
    assert!(deliver_cli(&g, "resume").contains(r#""paused":false"#));
    let seen = app.wait_for(10, Duration::from_secs(15));
    assert_eq!(seen.len(), 10, "resumed: all delivered");
    assert!(!paused(&g));
}
