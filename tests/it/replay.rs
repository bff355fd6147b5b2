//! Bulk replay from the archive to the broker: a dry run unless `--yes`, the filter's
//! events only, paced by `--rate`, each keeping its id, and resumable with `--after`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::common::*;
use crate::support::rabbit::{amqp_url, unique, Rabbit};

#[test]
fn a_bulk_replay_is_dry_unless_told_filtered_paced_and_keeps_ids() {
    let rabbit = Rabbit::connect();
    let (exchange, queue) = (unique("hg-bulk"), unique("hg-bulk-q"));
    rabbit.owns(&exchange, &[&queue]);
    // Accepted with the embedded store only: 30 events of type a, 10 of type b.
    let mut g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n  - { name: r, path: /r, verify: none, event_id: { header: X-Id }, event_type: { header: X-Type } }\n",
    );
    for i in 0..40 {
        let (id, ty) = (format!("bulk-{i:02}"), if i % 4 == 3 { "b" } else { "a" });
        let r = g.post(
            "/r",
            &[("x-id", &id), ("x-type", ty)],
            format!("{{\"i\":{i}}}").as_bytes(),
        );
        assert_eq!(r.status, 200);
    }
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0));
    let cfg = write(
        g.dir.path(),
        "with-broker.yaml",
        &format!(
            "store: {{ path: \"{}\" }}\nbroker: {{ url: \"{}\", exchange: {exchange} }}\nroutes:\n  - {{ name: r, path: /r, verify: none, queue: {queue} }}\n",
            g.dir.path().join("store").display(),
            amqp_url()
        ),
    );
    let replay = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["store", "replay", "-c"])
            .arg(&cfg)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, _) = replay(&["--type", "a"]);
    assert_eq!(
        (code, out.trim()),
        (
            Some(0),
            "would replay 30 event(s) after seq 0; add --yes to send them"
        )
    );
    assert!(
        rabbit
            .take_all(&queue, 0, Duration::from_millis(300))
            .is_empty(),
        "a dry run sent something"
    );
    // 20 of the 30 at 40 a second: at least half a second, in order, ids kept.
    let started = Instant::now();
    let (code, out, err) = replay(&["--type", "a", "--yes", "--rate", "40", "--limit", "20"]);
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{err}");
    assert!(took >= Duration::from_millis(450), "not paced: {took:?}");
    assert!(err.contains("replayed 20/20"), "{err}");
    let last: i64 = out
        .split("up to seq ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    // Resume after the last confirmed seq: the other 10, none twice.
    let (code, _, err) = replay(&["--type", "a", "--yes", "--after", &last.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    let msgs = rabbit.take_all(&queue, 30, Duration::from_secs(10));
    let ids: Vec<String> = msgs.iter().map(|m| m.id()).collect();
    let want: Vec<String> = (0..40)
        .filter(|i| i % 4 != 3)
        .map(|i| format!("bulk-{i:02}"))
        .collect();
    assert_eq!(ids, want);
}

#[test]
fn a_replay_of_1000_events_killed_with_sigkill_resumes_without_resending_beyond_its_batch() {
    let rabbit = Rabbit::connect();
    let (exchange, queue) = (unique("hg-bulk-kill"), unique("hg-bulk-kill-q"));
    rabbit.owns(&exchange, &[&queue]);
    let mut g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n  - { name: r, path: /r, verify: none, event_id: { header: X-Id } }\n",
    );
    const N: usize = 1000;
    for i in 0..N {
        let r = g.post("/r", &[("x-id", &format!("k-{i:04}"))], b"{}");
        assert_eq!(r.status, 200);
    }
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0));
    let store = g.dir.path().join("store");
    let cfg = write(
        g.dir.path(),
        "with-broker.yaml",
        &format!(
            "store: {{ path: \"{}\" }}\nbroker: {{ url: \"{}\", exchange: {exchange} }}\nroutes:\n  - {{ name: r, path: /r, verify: none, queue: {queue} }}\n",
            store.display(),
            amqp_url()
        ),
    );
    // 250 a second: four seconds for the thousand, in batches of 25; killed after ~1.5 s.
    let args = ["store", "replay", "--yes", "--rate", "250", "-c"];
    let mut child = Command::new(BIN)
        .args(args)
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = rabbit.take_all(&queue, 0, Duration::from_millis(500));
    let job: serde_json::Value = {
        let file = std::fs::read_dir(store.join("replays"))
            .unwrap()
            .flatten()
            .find(|e| e.path().extension().is_some_and(|x| x == "json"))
            .unwrap()
            .path();
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
    };
    let sent = job["sent"].as_u64().unwrap() as usize;
    assert_eq!(job["state"], "running", "{job}");
    assert_eq!(job["total"], N);
    assert!(
        (100..N - 100).contains(&sent),
        "paced: killed midway, {sent} confirmed"
    );
    // Published and not yet confirmed when killed: at most the batch in flight.
    assert!(
        before.len() >= sent && before.len() <= sent + 25,
        "{} in the queue, {sent} confirmed",
        before.len()
    );
    // The same command again resumes after the last confirmed event.
    let out = Command::new(BIN).args(args).arg(&cfg).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "resuming replay job {}",
            job["key"].as_str().unwrap()
        )),
        "{err}"
    );
    assert!(err.contains(&format!("{sent} of {N} sent")), "{err}");
    let after = rabbit.take_all(&queue, N - sent, Duration::from_secs(20));
    let mut ids: Vec<String> = before.iter().chain(&after).map(|m| m.id()).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    let want: Vec<String> = (0..N).map(|i| format!("k-{i:04}")).collect();
    assert_eq!(ids, want, "every event replayed, under its own id");
    let twice = total - N;
    println!(
        "replay of {N}: killed after {sent} confirmed ({} published), resumed; sent twice: {twice}",
        before.len()
    );
    assert!(
        twice <= 25,
        "sent twice beyond the batch in flight: {twice}"
    );
    // Done: the same command does not send it all again.
    let out = Command::new(BIN).args(args).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("was completed"));
    assert!(rabbit
        .take_all(&queue, 0, Duration::from_millis(300))
        .is_empty());
}

#[test]
fn a_replay_to_a_destination_delivers_the_selection_again_with_its_ids() {
    use crate::support::app::{App, Reply};
    let app = App::start(|_, _| Reply::status(200));
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}}, token: {ADMIN_TOKEN} }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - name: orders\n    path: /orders\n    verify: none\n    event_id: {{ json: /id }}\n    event_type: {{ json: /type }}\n    deliver:\n      - {{ name: app, url: \"{}\" }}\n",
        app.url("/o")
    ));
    for (id, ty) in [("d-1", "paid"), ("d-2", "refund"), ("d-3", "paid")] {
        let body = format!(r#"{{"id":"{id}","type":"{ty}"}}"#);
        assert_eq!(g.post("/orders", &[], body.as_bytes()).status, 200);
    }
    assert_eq!(app.wait_for(3, Duration::from_secs(10)).len(), 3);
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["store", "replay", "-c"])
            .arg(&g.config)
            .args(["--route", "orders", "--destination", "app"])
            .args(extra)
            .env("HOOKGATE_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .unwrap()
    };
    let out = run(&["--type", "paid"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "would replay 2 event(s) after seq 0; add --yes to send them"
    );
    let out = run(&["--type", "paid", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = app.wait_for(5, Duration::from_secs(10));
    let again: Vec<String> = seen[3..]
        .iter()
        .map(|s| {
            let v: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(again.len(), 2);
    assert!(again.contains(&"d-1".to_string()) && again.contains(&"d-3".to_string()));
    // Each keeps its id (the header the application dedups on), attempts from one.
    for s in &seen[3..] {
        assert!(
            s.header("idempotency-key")
                .is_some_and(|h| h.starts_with("d-")),
            "{:?}",
            s.headers
        );
        assert_eq!(s.header("hookgate-attempt"), Some("1"));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(app.seen().len(), 5, "nothing else sent");
    let dead = request(g.admin, "GET", "/api/v1/dead", &[AUTH], b"");
    assert_eq!(
        dead.text().trim(),
        "[]",
        "delivered replays leave nothing behind"
    );
}
