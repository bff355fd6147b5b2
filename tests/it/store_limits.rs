//! The store's bounds (issue 16): retention removes kept events and the store shrinks; a
//! full disk answers 503 with its cause (log line and metric) and `/readyz` 503, loses
//! nothing answered 200, and serves again once space is freed, in the same process.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::common::*;

fn route(store: &str, extra: &str) -> String {
    format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{store}\"{extra} }}\nroutes:\n  - name: gh\n    path: /gh\n    provider: github\n    secrets: [s3cr3t]\n"
    )
}

fn post(g: &Gateway, id: &str, size: usize) -> Response {
    let body = format!(r#"{{"id":"{id}","pad":"{}"}}"#, "x".repeat(size));
    g.post(
        "/gh",
        &[
            (
                "X-Hub-Signature-256",
                &github_sig("s3cr3t", body.as_bytes()),
            ),
            ("X-GitHub-Delivery", id),
        ],
        body.as_bytes(),
    )
}

fn journal_bytes(g: &Gateway) -> u64 {
    std::fs::read_dir(g.dir.path().join("store/events"))
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn retention_removes_old_events_and_the_store_shrinks() {
    let g = Gateway::start(&route("{STORE}", ", retention: 1s"));
    for i in 0..20 {
        assert_eq!(post(&g, &format!("old-{i}"), 2000).status, 200);
    }
    assert_eq!(g.stored_ids().len(), 20);
    let before = journal_bytes(&g);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !g.stored_ids().is_empty() {
        assert!(
            Instant::now() < deadline,
            "events past retention are still listed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = journal_bytes(&g);
    eprintln!("journal {before} bytes with 20 events, {after} after retention");
    assert!(before > 40_000 && after < 1_000, "{before} -> {after}");
    assert!(g.logs().contains("removed kept events past the retention"));
    assert_eq!(post(&g, "new-1", 10).status, 200);
    assert_eq!(g.stored_ids(), vec!["new-1".to_string()]);
    let m = g.metrics();
    assert!(m.contains("hookgate_store_bytes "), "{m}");
}

/// A size-limited tmpfs, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            ok.success(),
            "mount tmpfs (the tests run as root, as CI does)"
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_is_503_with_its_cause_and_recovers_once_space_is_freed() {
    // Larger than the 16 MiB the store keeps free, so that freeing the ballast is enough.
    let fs = Tmpfs::mount("64m");
    let store = fs.0.path().join("store");
    let mut g = Gateway::start(&route(&store.display().to_string(), ""));
    let pid = g.pid();
    let mut accepted = Vec::new();
    for i in 0..5 {
        let id = format!("before-{i}");
        assert_eq!(post(&g, &id, 4000).status, 200);
        accepted.push(id);
    }
    // Fill the filesystem but for a little (the store keeps 16 MiB free: it refuses
    // before the disk is full), then post until the store cannot write.
    let ballast = fs.0.path().join("ballast");
    let free = {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(fs.0.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    std::fs::write(&ballast, vec![0u8; (free - (200 << 10)) as usize]).unwrap_or(());
    let mut refused = None;
    for i in 0..400 {
        let id = format!("filling-{i}");
        let r = post(&g, &id, 8000);
        match r.status {
            200 => accepted.push(id),
            503 => {
                refused = Some(r);
                break;
            }
            s => panic!("{s}: {}", r.text()),
        }
    }
    let r = refused.expect("the disk never filled");
    assert_eq!(r.error(), "unavailable");
    assert!(r.header("retry-after").is_some());
    eprintln!("503 after {} accepted events", accepted.len());
    let ready = request(g.admin, "GET", "/readyz", &[], b"");
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert!(g.logs().contains("disk_full"), "{}", g.logs());
    assert!(
        g.metrics()
            .contains(r#"hookgate_unavailable_total{route="gh",cause="disk_full"}"#),
        "{}",
        g.metrics()
    );
    // Space freed: ready again by itself, and serving, in the same process.
    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while request(g.admin, "GET", "/readyz", &[], b"").status != 200 {
        assert!(Instant::now() < deadline, "not ready again: {}", g.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..5 {
        let id = format!("after-{i}");
        assert_eq!(post(&g, &id, 4000).status, 200, "{}", g.logs());
        accepted.push(id);
    }
    assert_eq!(g.pid(), pid);
    assert!(g.child.as_mut().unwrap().try_wait().unwrap().is_none());
    // Everything answered 200 is there, before and after, read by a second process.
    let listed = Command::new(BIN)
        .args(["store", "--path"])
        .arg(&store)
        .args(["list", "--json", "--limit", "100000"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    for id in &accepted {
        assert!(listed.contains(&format!("\"{id}\"")), "{id} missing");
    }
}

#[test]
fn a_store_in_an_earlier_layout_is_refused_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    // What every layout before hookgate-store 2 had: its SQLite database.
    std::fs::write(store.join("hookgate.db"), b"SQLite format 3\0").unwrap();
    std::fs::create_dir_all(store.join("db")).unwrap();
    let (port, admin) = (free_port(), free_port());
    let cfg = write(
        dir.path(),
        "c.yaml",
        &route(&store.display().to_string(), "")
            .replace("{PORT}", &port.to_string())
            .replace("{ADMIN}", &admin.to_string()),
    );
    let serve = Command::new(BIN)
        .args(["serve", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let list = Command::new(BIN)
        .args(["store", "--path"])
        .arg(&store)
        .arg("list")
        .output()
        .unwrap();
    for (what, out, code) in [("serve", serve, 2), ("store list", list, 2)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
        assert!(
            stderr.contains("was written by another version of hookgate (hookgate.db, the SQLite database of the layouts before hookgate-store 2)")
                && stderr.contains("There is no migration before 1.0"),
            "{what}: {stderr}"
        );
    }
    assert!(!store.join("FORMAT").exists());
}

fn store_cmd(store: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(["store", "--path"])
        .arg(store)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn store_list_and_show_work_while_the_gateway_serves_a_burst() {
    let g = Gateway::start(&route("{STORE}", ""));
    let store = g.dir.path().join("store");
    let port = g.port;
    let burst = std::thread::spawn(move || {
        std::thread::scope(|s| {
            for c in 0..16 {
                s.spawn(move || {
                    for i in 0..40 {
                        let id = format!("burst-{c}-{i}");
                        let body = format!(r#"{{"id":"{id}"}}"#);
                        let r = request(
                            port,
                            "POST",
                            "/gh",
                            &[
                                (
                                    "X-Hub-Signature-256",
                                    &github_sig("s3cr3t", body.as_bytes()),
                                ),
                                ("X-GitHub-Delivery", &id),
                            ],
                            body.as_bytes(),
                        );
                        assert_eq!(r.status, 200, "{}", r.text());
                    }
                });
            }
        });
    });
    let mut reads = 0;
    while !burst.is_finished() || reads < 3 {
        let (code, out, err) = store_cmd(&store, &["list", "--json", "--limit", "100000"]);
        assert_eq!(code, Some(0), "{err}");
        if let Some(id) = out.lines().last().and_then(|l| {
            serde_json::from_str::<serde_json::Value>(l).ok()?["id"]
                .as_str()
                .map(str::to_string)
        }) {
            let (code, shown, err) = store_cmd(&store, &["show", &id]);
            assert_eq!(code, Some(0), "{err}");
            assert!(shown.contains(&format!(r#"{{"id":"{id}"}}"#)), "{shown}");
        }
        reads += 1;
    }
    burst.join().unwrap();
    assert_eq!(g.stored_ids().len(), 16 * 40);
    eprintln!("{reads} list + show runs during the burst");
}

#[test]
fn the_spool_is_read_through_the_running_gateway_and_directly_once_it_stopped() {
    let unreachable = format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port());
    let mut g = Gateway::start(&format!(
        "{}broker: {{ url: \"{unreachable}\", when_unavailable: spool }}\n",
        route("{STORE}", "")
    ));
    let store = g.dir.path().join("store");
    for i in 0..5 {
        assert_eq!(post(&g, &format!("spooled-{i}"), 10).status, 200);
    }
    let want: Vec<String> = (0..5).map(|i| format!("spooled-{i}")).collect();
    // The gateway holds the database: read through its admin API.
    assert_eq!(list_ids(&store, &["--spool"]), want);
    let (code, shown, err) = store_cmd(&store, &["show", "spooled-3"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        shown.contains("(in the spool, waiting for the broker)")
            && shown.contains(r#""id":"spooled-3""#),
        "{shown}"
    );
    // The API itself: JSON for the CLI, and a JSON error for what it does not know.
    let r = request(g.admin, "GET", "/api/v1/spool?limit=2&route=gh", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().map(Vec::len), Some(2), "{}", r.text());
    let r = request(g.admin, "GET", "/api/v1/spool?bogus=%22x", &[], b"");
    assert_eq!(
        (r.status, r.error()),
        (400, r#"unknown parameter "bogus""#.to_string())
    );
    // Stopped: read directly.
    g.signal("-TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(30)), Some(0));
    assert_eq!(list_ids(&store, &["--spool"]), want);
}
