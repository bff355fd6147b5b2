//! What one client may hold, against the real binary: one client's
//! stalled bodies stay within the body-memory budget and do not shut others out, one
//! client at its in-flight share does not make another's signed request 503, idle and
//! half-sent HTTP/2 connections are closed within `header_timeout`, and the admin port
//! answers while the ingress holds every descriptor it may.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;

use crate::support::common::*;

const SECRET: &str = "hardening-secret";

fn config(limits: &str) -> String {
    format!(
        r#"
listen: 127.0.0.1:{{PORT}}
admin: {{ listen: 127.0.0.1:{{ADMIN}} }}
store: {{ path: "{{STORE}}" }}
trusted_proxies: [127.0.0.1/32]
limits: {limits}
routes:
  - name: github
    path: /hooks/github
    provider: github
    secrets: [{SECRET}]
"#
    )
}

/// A signed request from `client` (told by X-Forwarded-For through the trusted loopback).
fn signed_from(g: &Gateway, client: &str, id: &str) -> Response {
    let body = br#"{"zen":"hardening"}"#;
    g.post(
        "/hooks/github",
        &[
            ("X-Hub-Signature-256", &github_sig(SECRET, body)),
            ("X-GitHub-Delivery", id),
            ("X-Forwarded-For", client),
        ],
        body,
    )
}

#[test]
fn stalled_one_mib_bodies_from_one_client_stay_within_body_memory() {
    let g = Gateway::start(&config(
        "{ max_body: 1MiB, body_memory: 16MiB, body_memory_per_client: 4MiB, max_in_flight_per_client: 1000, header_timeout: 2s, request_timeout: 30s }",
    ));
    let before = g.rss_kib();
    let port = g.port;
    // 150 connections from one client, each declaring 1 MiB and sending all but the last
    // byte, then stalling.
    let held: Vec<TcpStream> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..150)
            .map(|_| {
                s.spawn(move || {
                    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
                    let head = format!(
                        "POST /hooks/github HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: {}\r\n\r\n",
                        1 << 20
                    );
                    let _ = c.write_all(head.as_bytes());
                    let _ = c.write_all(&vec![b'a'; (1 << 20) - 1]);
                    c
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    std::thread::sleep(Duration::from_millis(500));
    let after = g.rss_kib();
    // Another client is answered while the stalls last.
    let r = signed_from(&g, "203.0.113.9", "other-client-1");
    assert_eq!(r.status, 200, "{}", r.text());
    // The stalled client was refused beyond its share, up front.
    let mut refused = 0;
    for mut c in held {
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = c.read(&mut buf) {
            if n > 0 && parse_response(&buf[..n]).is_ok_and(|r| r.status == 503) {
                refused += 1;
            }
        }
    }
    eprintln!("RSS {before} KiB before, {after} KiB with 150 stalled 1 MiB bodies; {refused} refused with 503");
    assert!(refused >= 140, "only {refused} of 150 refused");
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} to {after} KiB, past body_memory (16 MiB)"
    );
    assert!(
        g.logs().contains("body_memory_per_client reached"),
        "{}",
        g.logs()
    );
}

/// An HTTP/2 (h2c) client on one connection.
pub(crate) async fn h2c(
    port: u16,
) -> hyper::client::conn::http2::SendRequest<
    http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>,
> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (send, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holding_its_in_flight_share_does_not_503_another() {
    let g = Gateway::start(&config(
        "{ max_in_flight: 64, max_in_flight_per_client: 8, header_timeout: 2s, request_timeout: 30s, min_body_rate: 1KiB/s }",
    ));
    let mut send = h2c(g.port).await;
    // 64 streams with HEADERS and a body that never comes.
    let mut streams = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..64 {
        let (tx, body) = futures_channel_body();
        senders.push(tx);
        let req = http::Request::post(format!("http://127.0.0.1:{}/hooks/github", g.port))
            .header("x-forwarded-for", "198.51.100.7")
            .header("x-hub-signature-256", "sha256=00")
            .body(body)
            .unwrap();
        send.ready().await.unwrap();
        streams.push(tokio::spawn(send.send_request(req)));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let port = g.port;
    let other = tokio::task::spawn_blocking(move || {
        let body = br#"{"zen":"other"}"#;
        request(
            port,
            "POST",
            "/hooks/github",
            &[
                ("X-Hub-Signature-256", &github_sig(SECRET, body)),
                ("X-GitHub-Delivery", "other-client-h2"),
                ("X-Forwarded-For", "203.0.113.9"),
            ],
            body,
        )
    })
    .await
    .unwrap();
    assert_eq!(other.status, 200, "{}", other.text());
    // The holder got 503 beyond its 8, and its 8 are cut off after header_timeout at
    // min_body_rate (408), long before request_timeout.
    let mut statuses = std::collections::BTreeMap::new();
    for s in streams {
        let r = tokio::time::timeout(Duration::from_secs(10), s)
            .await
            .expect("a held stream outlived header_timeout + 8 s")
            .unwrap()
            .unwrap();
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
    }
    let took = started.elapsed();
    eprintln!("held streams ended as {statuses:?} within {took:?}");
    assert_eq!(statuses.get(&503), Some(&56), "{statuses:?}");
    assert_eq!(statuses.get(&408), Some(&8), "{statuses:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(senders);
}

type Tx = tokio::sync::mpsc::Sender<Bytes>;

/// A request body fed from a channel: nothing arrives until something is sent.
fn futures_channel_body() -> (
    Tx,
    http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| {
            (
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(b)),
                rx,
            )
        })
    });
    (tx, http_body_util::StreamBody::new(stream).boxed())
}

/// Wait until the server closes `s`; true if a GOAWAY frame came first.
fn closed_with_goaway(s: &mut TcpStream, limit: Duration) -> (Duration, bool) {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if started.elapsed() > limit {
            break;
        }
    }
    // Frames: 3-byte length, type, flags, 4-byte stream id.
    let (mut at, mut goaway) = (0, false);
    while at + 9 <= seen.len() {
        let len = u32::from_be_bytes([0, seen[at], seen[at + 1], seen[at + 2]]) as usize;
        goaway |= seen[at + 3] == 0x7;
        at += 9 + len;
    }
    (started.elapsed(), goaway)
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const EMPTY_SETTINGS: &[u8] = &[0, 0, 0, 0x4, 0, 0, 0, 0, 0];

#[test]
fn idle_and_half_sent_headers_h2c_connections_close_within_header_timeout() {
    let g = Gateway::start(&config(
        "{ header_timeout: 1s, request_timeout: 30s, max_connections: 3 }",
    ));
    let mut conns = Vec::new();
    // Two that only say hello (and would answer PINGs), one that starts a HEADERS frame
    // without END_HEADERS and never sends the CONTINUATION.
    for half in [false, false, true] {
        let mut s = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
        s.write_all(PREFACE).unwrap();
        s.write_all(EMPTY_SETTINGS).unwrap();
        if half {
            // :method POST, :scheme http, :path / (HPACK static table 3, 6, 4).
            let block = [0x83, 0x86, 0x84];
            let mut f = vec![0, 0, block.len() as u8, 0x1, 0x0, 0, 0, 0, 1];
            f.extend_from_slice(&block);
            s.write_all(&f).unwrap();
        }
        conns.push(s);
    }
    let handles: Vec<_> = conns
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || closed_with_goaway(&mut s, Duration::from_secs(10)))
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (took, goaway) = h.join().unwrap();
        eprintln!("h2c connection {i}: closed after {took:?} (GOAWAY: {goaway})");
        // header_timeout (1 s) + the close margin (1 s) + scheduling slack.
        assert!(
            took < Duration::from_millis(2_800),
            "connection {i} open for {took:?}"
        );
        assert!(goaway, "connection {i} closed without GOAWAY");
    }
    // max_connections is free again.
    assert_eq!(signed_from(&g, "203.0.113.9", "after-h2-idle").status, 200);
}

#[test]
fn admin_answers_healthz_while_the_ingress_holds_every_descriptor_it_may() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let admin = free_port();
    let text = config("{ max_connections: 10000, header_timeout: 30s }")
        .replace("{PORT}", &port.to_string())
        .replace("{ADMIN}", &admin.to_string())
        .replace("{STORE}", &dir.path().join("store").display().to_string());
    let cfg = write(dir.path(), "hookgate.yaml", &text);
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = Command::new("prlimit")
        .args(["--nofile=256:256", "--", BIN, "serve", "-c"])
        .arg(&cfg)
        .stderr(log)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while try_request(admin, "GET", "/healthz", &[], b"").is_err() {
        assert!(Instant::now() < deadline, "never healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    // 400 connections that send nothing: more than the process has descriptors.
    let hogs: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let r = try_request(admin, "GET", "/healthz", &[], b"");
    let took = started.elapsed();
    let logs = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "{} ingress connections open; /healthz in {took:?}",
        hogs.len()
    );
    assert_eq!(r.map(|r| r.status).ok(), Some(200), "{logs}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        logs.contains("limits.max_connections lowered to 128"),
        "{logs}"
    );
}
