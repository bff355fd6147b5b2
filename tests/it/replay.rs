//! Bulk replay from the archive to the broker: a dry run unless `--yes`, the filter's
//! events only, paced by `--rate`, each keeping its id, and resumable with `--after`.

use std::process::Command;
use std::time::{Duration, Instant};

use super::common::*;
use super::rabbit::{amqp_url, unique, Rabbit};

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
    let last: i64 = out.trim().rsplit(' ').next().unwrap().parse().unwrap();
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
