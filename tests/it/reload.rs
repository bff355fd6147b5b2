//! Reload without restart: a secret rotated the way Kubernetes rotates a mounted Secret
//! (new directory, atomic `..data` symlink swap) while requests flow, and SIGHUP with a
//! broken configuration (refused, located, the old one keeps serving).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::common::*;

/// Lay out a Secret volume as the kubelet does: `..<ts>/` with the keys, `..data` ->
/// `..<ts>`, and each key a symlink through `..data`.
fn kube_secret(dir: &Path, version: &str, keys: &[(&str, &str)]) {
    let data = dir.join(format!("..{version}"));
    std::fs::create_dir_all(&data).unwrap();
    for (k, v) in keys {
        std::fs::write(data.join(k), v).unwrap();
    }
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    symlink(format!("..{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap(); // atomic swap
    for (k, _) in keys {
        let link = dir.join(k);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(format!("..data/{k}"), &link).unwrap();
        }
    }
}

const CONFIG: &str = r#"
listen: 127.0.0.1:{PORT}
admin: { listen: 127.0.0.1:{ADMIN} }
store: { path: "{STORE}" }
limits: { request_timeout: 10s }
routes:
  - name: github
    path: /hooks/github
    provider: github
    secrets: [{ file: secrets/current }, { file: secrets/previous }]
"#;

fn post(port: u16, secret: &str, id: &str) -> u16 {
    let body = format!(r#"{{"id":"{id}"}}"#);
    let sig = github_sig(secret, body.as_bytes());
    match try_request(
        port,
        "POST",
        "/hooks/github",
        &[("X-Hub-Signature-256", &sig), ("X-GitHub-Delivery", id)],
        body.as_bytes(),
    ) {
        Ok(r) => r.status,
        Err(_) => 0,
    }
}

#[test]
fn secret_rotated_by_symlink_swap_is_picked_up_while_requests_flow() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    kube_secret(
        &secrets,
        "2026_11_01",
        &[("current", "secret-v1\n"), ("previous", "secret-v0\n")],
    );
    let mut g = Gateway::start_in(dir, CONFIG);
    let pid = g.pid();

    // Steady traffic signed with v1, which stays valid (as `previous`) after the rotation.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let port = g.port;
    let senders: Vec<_> = (0..4)
        .map(|c| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let status = post(port, "secret-v1", &format!("steady-{c}-{i}"));
                    if status == 200 {
                        ok.fetch_add(1, Ordering::Relaxed)
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed)
                    };
                    i += 1;
                }
            })
        })
        .collect();
    // A request in flight across the swap: head and half the body now, the rest after.
    use std::io::Write;
    let body = br#"{"slow":true}"#;
    let sig = github_sig("secret-v1", body);
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    write!(slow, "POST /hooks/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Hub-Signature-256: {sig}\r\nX-GitHub-Delivery: slow-1\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    slow.write_all(&body[..4]).unwrap();

    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        post(g.port, "secret-v2", "early-v2"),
        401,
        "v2 is not valid before the rotation"
    );
    kube_secret(
        &g.dir.path().join("secrets"),
        "2026_11_22",
        &[("current", "secret-v2\n"), ("previous", "secret-v1\n")],
    );
    let swapped = Instant::now();
    let mut n = 0;
    while post(g.port, "secret-v2", &format!("v2-{n}")) != 200 {
        assert!(
            swapped.elapsed() < Duration::from_secs(2),
            "v2 not accepted within 2 s of the swap"
        );
        n += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = swapped.elapsed();
    slow.write_all(&body[4..]).unwrap();
    let r = read_response(&mut slow).unwrap();
    assert_eq!(
        r.status,
        200,
        "the request in flight across the swap failed: {}",
        r.text()
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during the rotation"
    );
    assert!(ok.load(Ordering::Relaxed) > 20);
    assert_eq!(
        post(g.port, "secret-v0", "old-v0"),
        401,
        "the secret rotated out is refused"
    );
    assert_eq!(g.pid(), pid);
    assert!(
        g.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "no restart"
    );
    eprintln!(
        "rotation: v2 accepted {took:?} after the swap; {} steady requests, none failed",
        ok.load(Ordering::Relaxed)
    );
}

#[test]
fn sighup_with_a_broken_config_keeps_the_old_one_serving() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    kube_secret(&secrets, "v1", &[("current", "s1"), ("previous", "s0")]);
    let g = Gateway::start_in(dir, CONFIG);
    let good = std::fs::read_to_string(&g.config).unwrap();
    // Written in place (not renamed), then SIGHUP: the watcher may see it first; either
    // way it must be refused.
    std::fs::write(
        &g.config,
        good.replace(
            "    provider: github\n",
            "    provider: github\n    shcema: x.json\n",
        ),
    )
    .unwrap();
    g.signal("-HUP");
    let file = g.config.display().to_string();
    let want = format!("{file}:10:5: routes[0].shcema: unknown field `shcema`");
    // The errors are logged one line each, then the refusal: wait for both, as a read
    // between the two writes would see only the first.
    let logged =
        |logs: String| logs.contains(&want) && logs.contains("configuration reload refused");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logged(g.logs()) {
        assert!(
            Instant::now() < deadline,
            "reload error with its location, then the refusal, not logged:\n{}",
            g.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        post(g.port, "s1", "after-broken"),
        200,
        "the old configuration keeps serving"
    );
    assert!(g.metrics().contains("hookgate_config_reload_failed 1"));
    let r = request(g.admin, "GET", "/readyz", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("reload refused"), "{}", r.text());

    // Fixing the file (here: adding a route) takes effect without a signal.
    std::fs::write(
        &g.config,
        format!("{good}  - {{ name: open, path: /open, verify: none }}\n"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while g.post("/open", &[], b"{}").status != 200 {
        assert!(
            Instant::now() < deadline,
            "the fixed configuration was not picked up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(g.metrics().contains("hookgate_config_reload_failed 0"));
}
