//! The event archive: `hookgate store list` selects stored events by route, type (with
//! `*`), and time range, exactly; a filter that matches nothing exits 1.

use std::time::{Duration, SystemTime};

use crate::support::common::*;

fn ids(g: &Gateway, extra: &[&str]) -> Vec<String> {
    let mut v = list_ids(&g.dir.path().join("store"), extra);
    v.sort();
    v
}

#[test]
fn list_filters_select_exactly_the_expected_events() {
    let g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n  - { name: gh, path: /gh, verify: none, event_id: { header: X-Id }, event_type: { header: X-Type } }\n  - { name: other, path: /other, verify: none, event_id: { header: X-Id } }\n",
    );
    let post = |path: &str, id: &str, ty: &str| {
        let r = g.post(path, &[("x-id", id), ("x-type", ty)], br#"{"n":1}"#);
        assert_eq!(r.status, 200, "{}", r.text());
    };
    post("/gh", "e1-push", "push");
    post("/gh", "e2-pr", "pull_request");
    std::thread::sleep(Duration::from_millis(50));
    let middle = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    std::thread::sleep(Duration::from_millis(50));
    post("/gh", "e3-review", "pull_request_review");
    post("/gh", "e4-issues", "issues");
    post("/other", "e5-other", "-");
    assert_eq!(
        ids(&g, &["--type", "pull_request*"]),
        ["e2-pr", "e3-review"]
    );
    assert_eq!(ids(&g, &["--type", "push"]), ["e1-push"]);
    assert_eq!(ids(&g, &["--route", "other"]), ["e5-other"]);
    assert_eq!(ids(&g, &["--until", &middle]), ["e1-push", "e2-pr"]);
    assert_eq!(
        ids(&g, &["--since", &middle, "--route", "gh"]),
        ["e3-review", "e4-issues"]
    );
    assert_eq!(ids(&g, &["--since", "1h"]).len(), 5);
    let store = g.dir.path().join("store");
    let run = |extra: &[&str]| {
        std::process::Command::new(BIN)
            .args(["store", "--path"])
            .arg(&store)
            .arg("list")
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--type", "deployment"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no events match"));
    let out = run(&["--since", "yesterday-ish"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}

#[test]
fn the_status_filter_tells_accepted_delivered_pending_and_dead_apart() {
    use crate::support::app::{App, Reply};
    let app = App::start(|seen, _| {
        let dead = String::from_utf8_lossy(&seen.body).contains("o-dead");
        Reply::status(if dead { 500 } else { 200 })
    });
    // Nothing listens on a port just freed: `slow`'s events wait for their retry.
    let nowhere = free_port();
    let mut g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - name: orders\n    path: /orders\n    verify: none\n    event_id: {{ json: /id }}\n    deliver:\n      - {{ name: app, url: \"{}\", max_attempts: 2, backoff: {{ first: 50ms }} }}\n  - name: slow\n    path: /slow\n    verify: none\n    event_id: {{ json: /id }}\n    deliver:\n      - {{ name: away, url: \"http://127.0.0.1:{nowhere}/\", max_attempts: 10, backoff: {{ first: 60s }} }}\n  - {{ name: plain, path: /plain, verify: none, event_id: {{ json: /id }} }}\n",
        app.url("/o")
    ));
    for (path, id) in [
        ("/orders", "o-1"),
        ("/orders", "o-dead"),
        ("/orders", "o-2"),
        ("/slow", "s-1"),
        ("/plain", "p-1"),
    ] {
        let r = g.post(path, &[], format!(r#"{{"id":"{id}"}}"#).as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let store = g.dir.path().join("store");
    let by_status = |s: &str| ids(&g, &["--status", s]);
    // Delivered and dead-lettered: the destination's cursor passes all three.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while by_status("dead") != ["o-dead"] || by_status("delivered") != ["o-1", "o-2"] {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?} {:?}: {}",
            by_status("dead"),
            by_status("delivered"),
            g.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(by_status("pending"), ["s-1"]);
    assert_eq!(by_status("accepted"), ["p-1"]);
    // The API answers the same, with each event's status.
    let r = request(g.admin, "GET", "/api/v1/events?status=pending", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v[0]["id"], "s-1");
    assert_eq!(v[0]["status"], "pending");
    // With the gateway stopped, from the cursors it wrote.
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(30)), Some(0));
    let local = |s: &str| {
        let mut v = list_ids(&store, &["--status", s]);
        v.sort();
        v
    };
    assert_eq!(local("delivered"), ["o-1", "o-2"]);
    assert_eq!(local("dead"), ["o-dead"]);
    assert_eq!(local("pending"), ["s-1"]);
    assert_eq!(local("accepted"), ["p-1"]);
    let out = std::process::Command::new(BIN)
        .args(["store", "--path"])
        .arg(&store)
        .args(["list", "--status", "lost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn with_a_broker_store_archive_keeps_a_copy_of_each_confirmed_event() {
    use crate::support::rabbit::{amqp_url, unique, Rabbit};
    let rabbit = Rabbit::connect();
    let (exchange, queue) = (unique("hg-archive"), unique("hg-archive-q"));
    rabbit.owns(&exchange, &[&queue]);
    let yaml = |archive: bool| {
        format!(
            "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\", archive: {archive} }}\nbroker: {{ url: \"{}\", exchange: {exchange} }}\nroutes:\n  - {{ name: r, path: /r, verify: none, queue: {queue}, event_id: {{ header: X-Id }}, event_type: {{ header: X-Type }} }}\n",
            amqp_url()
        )
    };
    for archive in [true, false] {
        let g = Gateway::start(&yaml(archive));
        for (id, ty) in [("a-1", "push"), ("a-2", "issues"), ("a-3", "push")] {
            let r = g.post("/r", &[("x-id", id), ("x-type", ty)], b"{}");
            assert_eq!(r.status, 200, "{}", r.text());
        }
        assert_eq!(rabbit.take_all(&queue, 3, Duration::from_secs(10)).len(), 3);
        std::thread::sleep(Duration::from_millis(200));
        if archive {
            assert_eq!(ids(&g, &[]), ["a-1", "a-2", "a-3"]);
            assert_eq!(
                ids(&g, &["--type", "push", "--status", "accepted"]),
                ["a-1", "a-3"]
            );
        } else {
            let out = std::process::Command::new(BIN)
                .args(["store", "--path"])
                .arg(g.dir.path().join("store"))
                .args(["list", "--json"])
                .output()
                .unwrap();
            assert!(out.stdout.is_empty(), "archive off: nothing kept");
        }
    }
}
