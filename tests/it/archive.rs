//! The event archive: `hookgate store list` selects stored events by route, type (with
//! `*`), and time range, exactly; a filter that matches nothing exits 1.

use std::time::{Duration, SystemTime};

use super::common::*;

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
