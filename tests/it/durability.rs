//! "Accepted" means durable: kill -9 in the middle of a burst loses no accepted event,
//! and SIGTERM lets in-flight requests finish before a clean exit.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::common::*;

const CONFIG: &str = r#"
listen: 127.0.0.1:{PORT}
admin: { listen: 127.0.0.1:{ADMIN} }
store: { path: "{STORE}" }
shutdown: { delay: 1s, grace: 10s }
routes:
  - name: github
    path: /hooks/github
    provider: github
    secrets: [burst-secret]
"#;

/// 16 clients posting signed events until stopped or the gateway is gone.
pub(crate) struct Burst {
    workers: Vec<std::thread::JoinHandle<()>>,
    accepted: Arc<Mutex<Vec<String>>>,
    /// Each worker's last accepted id: accepted in the instant before a kill, when its
    /// dedup record was most likely still buffered in memory.
    last: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Burst {
    pub(crate) fn start(port: u16) -> Burst {
        let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
        let last = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..16)
            .map(|w| {
                let (accepted, stop, last) = (accepted.clone(), stop.clone(), last.clone());
                std::thread::spawn(move || {
                    let mut i = 0;
                    let mut mine = None;
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("w{w}-{i}");
                        let body =
                            format!(r#"{{"worker":{w},"n":{i},"pad":"{}"}}"#, "x".repeat(1200));
                        let sig = github_sig("burst-secret", body.as_bytes());
                        let h = [
                            ("X-Hub-Signature-256", sig.as_str()),
                            ("X-GitHub-Delivery", id.as_str()),
                        ];
                        match try_request(port, "POST", "/hooks/github", &h, body.as_bytes()) {
                            Ok(r) if r.status == 200 => {
                                assert_eq!(r.json()["status"], "accepted");
                                accepted.lock().unwrap().push(id.clone());
                                mine = Some(id);
                            }
                            // Draining after SIGTERM: refused, never accepted.
                            Ok(r) if r.status == 503 => {}
                            Ok(r) => panic!("unexpected {}: {}", r.status, r.text()),
                            Err(_) => break, // the gateway died or closed under us
                        }
                        i += 1;
                    }
                    last.lock().unwrap().extend(mine);
                })
            })
            .collect();
        Burst {
            workers,
            accepted,
            last,
            stop,
        }
    }

    /// How many were accepted so far.
    pub(crate) fn count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    /// Stop the clients; every id answered `accepted`.
    pub(crate) fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.join().unwrap();
        }
        let accepted = self.accepted.lock().unwrap().clone();
        assert!(
            accepted.len() > 100,
            "the burst was too small to mean anything: {}",
            accepted.len()
        );
        accepted
    }
}

fn assert_all_stored(g: &Gateway, accepted: &[String]) -> std::collections::HashSet<String> {
    let stored: std::collections::HashSet<String> = g.stored_ids().into_iter().collect();
    let lost: Vec<_> = accepted.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted events lost: {:?}",
        lost.len(),
        accepted.len(),
        &lost[..lost.len().min(5)]
    );
    stored
}

#[test]
fn kill_9_during_a_burst_loses_no_accepted_event() {
    let mut g = Gateway::start(CONFIG);
    let burst = Burst::start(g.port);
    let last = burst.last.clone();
    std::thread::sleep(Duration::from_millis(1500));
    g.signal("-KILL");
    let _ = g.wait_exit(Duration::from_secs(5));
    let accepted = burst.finish();

    g.spawn(); // restart on the same store
    let stored = assert_all_stored(&g, &accepted);
    eprintln!(
        "kill -9: {} accepted before the kill, all {} in the store after restart",
        accepted.len(),
        accepted.len()
    );
    // A redelivery of an accepted event after the restart is still a duplicate: the
    // first of the burst, and the last of each worker (see `last`).
    let mut again = last.lock().unwrap().clone();
    assert!(!again.is_empty());
    again.extend(accepted.iter().find(|i| *i == "w0-0").cloned());
    let body = br#"{"redelivery":true}"#;
    let sig = github_sig("burst-secret", body);
    for id in &again {
        let r = g.post(
            "/hooks/github",
            &[("X-Hub-Signature-256", &sig), ("X-GitHub-Delivery", id)],
            body,
        );
        assert_eq!(r.json()["status"], "duplicate", "{id} after the restart");
    }
    assert_eq!(g.stored_ids().len(), stored.len(), "nothing stored twice");
}

#[test]
fn sigterm_during_a_burst_exits_0_and_loses_no_accepted_event() {
    let mut g = Gateway::start(CONFIG);
    let burst = Burst::start(g.port);
    std::thread::sleep(Duration::from_millis(1500));
    g.signal("-TERM");
    assert_eq!(
        g.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        g.logs()
    );
    let accepted = burst.finish();
    let stored = assert_all_stored(&g, &accepted);
    eprintln!(
        "SIGTERM: {} accepted during the burst and the drain, all in the store ({} stored)",
        accepted.len(),
        stored.len()
    );
}

#[test]
fn sigterm_turns_readyz_off_first_then_finishes_in_flight_and_exits_0() {
    let mut g = Gateway::start(CONFIG);
    assert_eq!(request(g.admin, "GET", "/readyz", &[], b"").status, 200);
    let body = br#"{"in":"flight"}"#;
    let sig = github_sig("burst-secret", body);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    write!(
        s,
        "POST /hooks/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Hub-Signature-256: {sig}\r\nX-GitHub-Delivery: inflight-1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    g.signal("-TERM");
    std::thread::sleep(Duration::from_millis(200));
    // During shutdown.delay: not ready, but new connections are still served.
    assert_eq!(request(g.admin, "GET", "/readyz", &[], b"").status, 503);
    let b2 = br#"{"late":"arrival"}"#;
    let r = g.post(
        "/hooks/github",
        &[
            ("X-Hub-Signature-256", &github_sig("burst-secret", b2)),
            ("X-GitHub-Delivery", "late-1"),
        ],
        b2,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    s.write_all(&body[5..]).unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!(
        (r.status, r.json()["id"].as_str()),
        (200, Some("inflight-1"))
    );
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", g.port)).is_err(),
        "listener closed after exit"
    );
    let out = std::process::Command::new(BIN)
        .args(["store", "--path"])
        .arg(g.dir.path().join("store"))
        .args(["show", "inflight-1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#"{"in":"flight"}"#));
}
