//! Hardening, round 2: the handshakes, the rejection log and the admin port under
//! attack, each case as the review reproduced it against the release binary: X's CRC
//! as a signing oracle, header and body floods against the rejection log's memory and
//! disk, one route's flood hiding another's refusals, DNS rebinding, descriptor
//! starvation through the admin port, and hop-by-hop headers through the proxy.

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt;

use super::resource_limits::h2c;
use crate::support::app::{App, Reply};
use crate::support::common::*;

const SECRET: &str = "gh-secret-R2x9";

fn signed(g: &Gateway, id: &str) -> Response {
    let body = format!(r#"{{"zen":"{id}"}}"#);
    g.post(
        "/hooks/github",
        &[
            ("x-github-event", "push"),
            ("x-github-delivery", id),
            ("x-hub-signature-256", &github_sig(SECRET, body.as_bytes())),
        ],
        body.as_bytes(),
    )
}

/// Bytes the files under `dir` take on disk.
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
}

#[test]
fn x_crc_answers_only_tokens_that_cannot_be_a_body() {
    let secret = "x-consumer-secret-Q1";
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - {{ name: x, path: /x, provider: x, secrets: [{secret}] }}\n"
    ));
    let get = |token: &str| {
        let q: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        request(g.port, "GET", &format!("/x?crc_token={q}"), &[], b"")
    };
    // An event as the token: the answer would be X's signature of that body.
    let event = r#"{"for_user_id":"1","tweet_create_events":[]}"#;
    for bad in [event, "12345", "true", "a b", &"a".repeat(129)] {
        let r = get(bad);
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text());
        assert!(!r.text().contains("sha256="), "{}", r.text());
    }
    // X's own tokens (UUIDs, base64) are answered, with the HMAC X expects.
    let token = "9b4507b3-9040-4669-9ca3-6b94edb50553";
    let r = get(token);
    assert_eq!(r.status, 200, "{}", r.text());
    let expected = format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD
            .encode(hmac_sha256(secret.as_bytes(), &[token.as_bytes()]))
    );
    assert_eq!(r.json()["response_token"], expected.as_str());
    // No answer the gateway gave signs an event: the POST with it is refused.
    let r = g.post(
        "/x",
        &[("x-twitter-webhooks-signature", &expected)],
        event.as_bytes(),
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(g.stored_ids().is_empty());
}

#[test]
fn config_refuses_a_route_named_none_and_a_mac_handshake_without_json() {
    let dir = tempfile::tempdir().unwrap();
    for (routes, want) in [
        (
            "  - { name: none, path: /n, provider: github, secrets: [s] }\n",
            "routes[0].name: \"none\" is reserved",
        ),
        (
            "  - { name: x, path: /x, provider: x, secrets: [s], body: any }\n",
            "routes[0].body: this provider's handshake answers with a MAC",
        ),
    ] {
        let cfg = write(
            dir.path(),
            "h.yaml",
            &format!("listen: 127.0.0.1:0\nstore: {{ path: /tmp/unused }}\nroutes:\n{routes}"),
        );
        let out = Command::new(BIN)
            .args(["check", "-c"])
            .arg(&cfg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(want), "{err}");
        assert!(err.contains("h.yaml:4:"), "file:line:col: {err}");
    }
}

/// Requests refused for their signature, each with ~60 KB of headers (one 3.9 KB header
/// 15 times: HPACK sends each request's headers in a few bytes), on `conns` h2c
/// connections with 32 streams each, for `run`. How many were answered.
async fn header_flood(port: u16, path: &'static str, conns: usize, run: Duration) -> usize {
    let pad = "p".repeat(3900);
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + run;
    let mut tasks = Vec::new();
    for c in 0..conns {
        let send = h2c(port).await;
        for s in 0..32 {
            let (mut send, pad, done) = (send.clone(), pad.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let mut b = http::Request::post(format!("http://127.0.0.1:{port}{path}"))
                        .header("x-github-event", "push")
                        .header("x-github-delivery", format!("flood-{c}-{s}-{n}"))
                        .header("x-hub-signature-256", "sha256=00");
                    for _ in 0..15 {
                        b = b.header("x-pad", &pad);
                    }
                    let body = http_body_util::Full::new(Bytes::from_static(b"{}"))
                        .map_err(|e| match e {})
                        .boxed();
                    if send.ready().await.is_err() {
                        return;
                    }
                    match send.send_request(b.body(body).unwrap()).await {
                        Ok(r) => {
                            let _ = r.into_body().collect().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => return,
                    }
                    n += 1;
                }
            }));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20s_header_flood_stays_within_the_memory_limit_and_the_disk_budget() {
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nlimits: {{ memory: 128MiB, body_memory: 32MiB }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [{SECRET}] }}\n"
    ));
    let store = g.dir.path().join("store");
    let before = disk_bytes(&store);
    let sent = header_flood(g.port, "/hooks/github", 4, Duration::from_secs(20)).await;
    std::thread::sleep(Duration::from_secs(2));
    let grown = disk_bytes(&store).saturating_sub(before);
    let peak = g.status_kib("VmHWM");
    let m = g.metrics();
    eprintln!(
        "header flood: {sent} refused requests in 20 s, peak RSS {} MiB, store grew {} MiB",
        peak >> 10,
        grown >> 20
    );
    assert!(sent > 1000, "the flood ran: {sent}");
    assert!(peak < 128 << 10, "peak RSS {peak} KiB");
    assert!(grown < 96 << 20, "store grew {grown} bytes");
    assert!(
        m.contains("hookgate_requests_total{route=\"github\",outcome=\"signature_invalid\"}"),
        "{m}"
    );
    let r = signed(&g, "after-header-flood");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_capture_body_flood_of_1mib_bodies_stays_within_the_memory_limit() {
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nlimits: {{ memory: 128MiB, body_memory: 32MiB }}\nstore: {{ path: \"{{STORE}}\", rejections: {{ capture_body: true }} }}\nroutes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [{SECRET}] }}\n"
    ));
    let body = Arc::new(vec![b'a'; 1 << 20]);
    let refused = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (body, refused, port) = (body.clone(), refused.clone(), g.port);
            std::thread::spawn(move || {
                for i in 0..95 {
                    let id = format!("big-{t}-{i}");
                    let headers = [
                        ("x-github-event", "push"),
                        ("x-github-delivery", id.as_str()),
                        ("x-hub-signature-256", "sha256=00"),
                    ];
                    if let Ok(r) = try_request(port, "POST", "/hooks/github", &headers, &body) {
                        if r.status == 401 {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    let peak = g.status_kib("VmHWM");
    let n = refused.load(Ordering::Relaxed);
    eprintln!(
        "capture flood: {n} bodies of 1 MiB refused, peak RSS {} MiB",
        peak >> 10
    );
    assert!(n > 300, "the flood ran: {n}");
    assert!(peak < 128 << 10, "peak RSS {peak} KiB");
    let r = signed(&g, "after-body-flood");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_flood_of_unknown_paths_and_of_one_route_does_not_hide_another_routes_refusals() {
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [{SECRET}] }}\n  - {{ name: stripe, path: /hooks/stripe, provider: stripe, secrets: [whsec_c2VjcmV0] }}\n"
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let pad = "p".repeat(3000);
    let mut floods = Vec::new();
    for t in 0..4 {
        let (stop, port, pad) = (stop.clone(), g.port, pad.clone());
        floods.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let path = if t % 2 == 0 {
                    format!("/nope/{n}")
                } else {
                    "/hooks/github".into()
                };
                let id = format!("flood-{t}-{n}");
                let headers = [
                    ("x-github-event", "push"),
                    ("x-github-delivery", id.as_str()),
                    ("x-hub-signature-256", "sha256=00"),
                    ("x-pad-1", pad.as_str()),
                    ("x-pad-2", pad.as_str()),
                ];
                let _ = try_request(port, "POST", &path, &headers, b"{}");
                n += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..10 {
        let r = g.post(
            "/hooks/stripe",
            &[
                ("stripe-signature", &format!("t={},v1=00", now())),
                ("x-probe", &format!("probe-{i}")),
            ],
            b"{}",
        );
        assert_eq!(r.status, 401, "{}", r.text());
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    for f in floods {
        f.join().unwrap();
    }
    let mut found = 0;
    for _ in 0..50 {
        let r = request(
            g.admin,
            "GET",
            "/api/v1/rejections?route=stripe&limit=100",
            &[],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let text = r.text();
        found = (0..10)
            .filter(|i| text.contains(&format!("\"probe-{i}\"")))
            .count();
        if found == 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = g.metrics();
    let dropped = m
        .lines()
        .find(|l| l.starts_with("hookgate_rejections_dropped_total"))
        .unwrap_or("");
    eprintln!("fairness: {found} of 10 stripe refusals recorded; {dropped}");
    assert!(found >= 9, "{found} of 10 recorded");
    // The unknown paths' flood is one record per client, with its repeats counted.
    std::thread::sleep(Duration::from_millis(1500));
    let r = request(g.admin, "GET", "/api/v1/rejections?route=none", &[], b"").json();
    let records = r.as_array().unwrap();
    assert!(!records.is_empty() && records.len() <= 3, "{r}");
    // The repeats go on the record that was open when they came, not always the newest.
    let repeats = records.iter().filter_map(|x| x["repeats"].as_u64()).max();
    assert!(repeats.unwrap_or(0) > 10, "{r}");
}

#[test]
fn without_a_token_the_admin_api_answers_only_requests_naming_loopback() {
    let g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n  - { name: github, path: /hooks/github, provider: github, secrets: [s] }\n",
    );
    let get = |host: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", g.admin)).unwrap();
        write!(
            s,
            "GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        read_response(&mut s).unwrap()
    };
    let r = get("rebind.attacker.example");
    assert_eq!(r.status, 421, "{}", r.text());
    assert!(!r.text().contains("\"id\""));
    assert_eq!(
        get(&format!("rebind.attacker.example:{}", g.admin)).status,
        421
    );
    for host in [
        format!("127.0.0.1:{}", g.admin),
        format!("localhost:{}", g.admin),
        "localhost".to_string(),
        format!("[::1]:{}", g.admin),
    ] {
        assert_eq!(get(&host).status, 200, "{host}");
    }
}

#[test]
fn idle_admin_connections_cannot_starve_the_ingress_of_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin) = (free_port(), free_port());
    let config = write(
        dir.path(),
        "hookgate.yaml",
        &format!(
            "listen: 127.0.0.1:{port}\nadmin: {{ listen: 127.0.0.1:{admin} }}\nstore: {{ path: \"{}\" }}\nroutes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [{SECRET}] }}\n",
            dir.path().join("store").display()
        ),
    );
    let log = dir.path().join("hookgate.log");
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 400 && exec {BIN} serve -c {}",
            config.display()
        ))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut g = Gateway {
        child: Some(child),
        port,
        admin,
        dir,
        config,
        log,
    };
    g.wait_healthy();
    // 450 connections that never send a request, more than the process has descriptors.
    let idle: Vec<TcpStream> = (0..450)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", admin)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let r = try_request(admin, "GET", "/healthz", &[], b"").expect("/healthz answers");
    assert_eq!(r.status, 200);
    let took = started.elapsed();
    let r = signed(&g, "beside-idle-admin-connections");
    assert_eq!(r.status, 200, "{}", r.text());
    eprintln!(
        "{} idle admin connections; /healthz answered in {took:?}",
        idle.len()
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(!g.logs().contains("Too many open files"), "{}", g.logs());
}

#[test]
fn the_proxy_strips_connection_named_headers_both_ways_and_never_relays_1xx() {
    let app = App::start(|_, n| Reply {
        status: if n == 1 { 101 } else { 200 },
        headers: vec![
            ("connection", "x-app-hop".into()),
            ("x-app-hop", "internal".into()),
            ("x-app", "kept".into()),
        ],
        body: b"ok".to_vec(),
        delay: Duration::ZERO,
    });
    let secret = "slack-secret-Pp2";
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - name: slack\n    path: /slack\n    provider: slack\n    secrets: [{secret}]\n    body: any\n    proxy: {{ url: {}, timeout: 2s }}\n",
        app.url("/slack")
    ));
    let send = || {
        let body = b"command=%2Fx";
        let ts = now();
        let sig = crate::support::sdk::slack_signature(secret, ts, body);
        let mut s = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
        write!(
            s,
            "POST /slack HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close, x-provider-hop\r\nx-provider-hop: hop-value\r\nx-real-ip: 203.0.113.9\r\nexpect: 100-continue\r\nx-slack-request-timestamp: {ts}\r\nx-slack-signature: {sig}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut buf).unwrap();
        // The gateway's own `100 Continue` (it reads the body) comes first.
        let text = String::from_utf8_lossy(&buf);
        let at = text
            .find("HTTP/1.1 1")
            .filter(|&i| i == 0)
            .map_or(0, |_| text.find("\r\n\r\n").map_or(0, |e| e + 4));
        parse_response(&buf[at..]).unwrap()
    };
    let r = send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-app"), Some("kept"));
    assert_eq!(r.header("x-app-hop"), None, "named in the app's Connection");
    let seen = app.wait_for(1, Duration::from_secs(5));
    let s = &seen[0];
    assert_eq!(
        s.header("x-provider-hop"),
        None,
        "named in the provider's Connection"
    );
    assert_eq!(s.header("expect"), None);
    assert_eq!(
        s.header("x-real-ip"),
        Some("127.0.0.1"),
        "replaced, not passed on"
    );
    // The application answers 101: the provider gets a 502, not a protocol switch.
    let r = send();
    assert_eq!(r.status, 502, "{}", r.text());
}

#[test]
fn capture_body_keeps_a_shared_token_only_as_its_digest_and_replays_with_the_configured_one() {
    let (old, new) = ("gl-old-Tok3nQ", "gl-new-Tok4nW");
    let yaml = |secret: &str| {
        format!(
            "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}}, token: {ADMIN_TOKEN} }}\nstore: {{ path: \"{{STORE}}\", rejections: {{ capture_body: true }} }}\nroutes:\n  - {{ name: gitlab, path: /hooks/gitlab, provider: gitlab, secrets: [{secret}] }}\n"
        )
    };
    let g = Gateway::start(&yaml(old));
    let body = br#"{"object_kind":"push","ref":"refs/heads/main"}"#;
    let r = g.post(
        "/hooks/gitlab",
        &[
            ("x-gitlab-token", new),
            ("x-gitlab-event", "Push Hook"),
            ("x-gitlab-event-uuid", "gl-rotated-1"),
        ],
        body,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let mut rec = serde_json::Value::Null;
    for _ in 0..100 {
        let v = request(
            g.admin,
            "GET",
            "/api/v1/rejections?route=gitlab",
            &[AUTH],
            b"",
        )
        .json();
        if let Some(r) = v.as_array().and_then(|a| a.first()) {
            rec = r.clone();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rec["replayable"], true, "{rec}");
    // The credential is the route's secret: no file of the store holds it.
    let store = g.dir.path().join("store");
    std::thread::sleep(Duration::from_millis(500));
    let mut stack = vec![store.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if let Ok(bytes) = std::fs::read(e.path()) {
                assert!(
                    !bytes.windows(new.len()).any(|w| w == new.as_bytes()),
                    "the token is stored in {}",
                    e.path().display()
                );
            }
        }
    }
    let replay = |g: &Gateway| {
        request(
            g.admin,
            "POST",
            &format!("/api/v1/rejections/replay?seq={}", rec["seq"]),
            &[AUTH, ("content-type", "application/json")],
            b"",
        )
    };
    // Still the old token configured: refused again.
    assert_eq!(replay(&g).status, 422);
    // The token rotated: the configured one with the recorded digest is put back.
    std::fs::write(
        &g.config,
        yaml(new)
            .replace("{PORT}", &g.port.to_string())
            .replace("{ADMIN}", &g.admin.to_string())
            .replace("{STORE}", &store.display().to_string()),
    )
    .unwrap();
    g.signal("-HUP");
    let mut r = replay(&g);
    for _ in 0..100 {
        if r.status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        r = replay(&g);
    }
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "accepted", "{}", r.text());
}
