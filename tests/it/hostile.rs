//! Hostile input is answered, not crashed on, and memory stays bounded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::common::*;

const CONFIG: &str = r#"
listen: 127.0.0.1:{PORT}
admin: { listen: 127.0.0.1:{ADMIN} }
store: { path: "{STORE}" }
limits: { max_body: 512KiB, header_timeout: 1s, request_timeout: 5s }
routes:
  - name: github
    path: /hooks/github
    provider: github
    secrets: [hostile-secret]
"#;

fn alive(g: &Gateway) {
    let body = br#"{"still":"alive"}"#;
    let id = format!("alive-{}", Instant::now().elapsed().as_nanos());
    let r = g.post(
        "/hooks/github",
        &[
            ("X-Hub-Signature-256", &github_sig("hostile-secret", body)),
            ("X-GitHub-Delivery", &id),
        ],
        body,
    );
    assert_eq!(r.status, 200, "gateway no longer healthy: {}", r.text());
}

#[test]
fn json_nested_100_000_deep_is_invalid_json_not_a_crash() {
    let g = Gateway::start(CONFIG);
    let mut body = "[".repeat(100_000);
    body.push_str(&"]".repeat(100_000));
    let r = g.post(
        "/hooks/github",
        &[(
            "X-Hub-Signature-256",
            &github_sig("hostile-secret", body.as_bytes()),
        )],
        body.as_bytes(),
    );
    assert_eq!((r.status, r.error()), (400, "invalid_json".into()));
    alive(&g);
}

#[test]
fn a_50_mb_chunked_body_is_cut_off_at_max_body() {
    let g = Gateway::start(CONFIG);
    let before = g.rss_kib();
    let mut s = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    s.write_all(b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Hub-Signature-256: sha256=00\r\n\r\n")
        .unwrap();
    let writer = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = vec![b'a'; 64 * 1024];
            let mut sent = 0usize;
            while sent < 50 << 20 {
                if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return sent;
                }
                sent += chunk.len();
            }
            let _ = s.write_all(b"0\r\n\r\n");
            sent
        })
    };
    let sent = writer.join().unwrap();
    assert!(
        sent < 50 << 20,
        "the gateway read all 50 MB instead of cutting the body off"
    );
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    if !buf.is_empty() {
        assert_eq!(parse_response(&buf).unwrap().status, 413);
    }
    assert!(g.metrics().contains(r#"outcome="body_too_large"} 1"#));
    // Also refused up front when the length is declared.
    let mut s = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    s.write_all(b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\nConnection: close\r\n\r\n").unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!((r.status, r.error()), (413, "body_too_large".into()));
    let after = g.rss_kib();
    eprintln!(
        "RSS before {before} KiB, after a 50 MB body {after} KiB (sent {} KiB before the cut)",
        sent / 1024
    );
    assert!(
        after < before + 20 * 1024,
        "RSS grew from {before} to {after} KiB"
    );
    alive(&g);
}

#[test]
fn a_header_trickled_one_byte_per_second_is_cut_off() {
    let g = Gateway::start(CONFIG);
    let mut s = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    let started = Instant::now();
    let head =
        b"POST /hooks/github HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for b in head.iter() {
        if s.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(_) => {
                // EOF or an error response (408): either way the server ended it.
                closed = true;
                break;
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let took = started.elapsed();
    assert!(closed, "the trickling connection was never closed");
    assert!(
        took < Duration::from_secs(6),
        "cut off only after {took:?} (header_timeout 1s)"
    );
    alive(&g);
}

#[test]
fn malformed_requests_and_non_utf8_headers_are_answered() {
    let g = Gateway::start(CONFIG);
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST /hooks/github HTTP/9.9\r\n\r\n",
        b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
        b"POST /hooks/github HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /hooks/github HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"POST /hooks/github HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"POST /hooks/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(raw).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        if !buf.is_empty() {
            let r = parse_response(&buf).unwrap();
            assert!((400..500).contains(&r.status), "{:?} -> {}", String::from_utf8_lossy(raw), r.status);
        }
    }
    // Non-UTF-8 header values: a delivery id that is not text falls back to the body hash,
    // a signature that is not text is invalid.
    let body = br#"{"x":1}"#;
    let sig = github_sig("hostile-secret", body);
    let mut s = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    let mut req = format!("POST /hooks/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: {}\r\nX-GitHub-Delivery: ", body.len()).into_bytes();
    req.extend_from_slice(b"\xff\xfe\x80\r\n\r\n");
    req.extend_from_slice(body);
    s.write_all(&req).unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["id"].as_str().unwrap().starts_with("sha256:"));
    let mut s = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    let mut req = format!("POST /hooks/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\nX-Hub-Signature-256: sha256=", body.len()).into_bytes();
    req.extend_from_slice(b"\xff\xfe\r\n\r\n");
    req.extend_from_slice(body);
    s.write_all(&req).unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!((r.status, r.error()), (401, "signature_invalid".into()));
    alive(&g);
}

#[test]
fn two_thousand_idle_connections_are_held_cheaply_and_then_closed() {
    let g = Gateway::start(CONFIG);
    let idle_rss = g.rss_kib();
    // The idle target (< 30 MiB resident) is the release build's, and the benchmark
    // prints it (16-17 MiB). Here the binary is the debug build, 230 MB of it, whose
    // code pages alone are ~25 MiB resident, more or less as startup touches them; what
    // the gateway itself allocates is its anonymous memory (~3 MiB when measured).
    let idle_anon = g.status_kib("RssAnon");
    let conns: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(("127.0.0.1", g.port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    alive(&g);
    let loaded_rss = g.rss_kib();
    eprintln!(
        "RSS idle {idle_rss} KiB ({idle_anon} KiB anonymous); with 2000 idle connections {loaded_rss} KiB"
    );
    assert!(idle_anon < 12 * 1024, "idle anonymous RSS {idle_anon} KiB");
    assert!(
        idle_rss < 30 * 1024 || cfg!(debug_assertions),
        "idle RSS {idle_rss} KiB"
    );
    assert!(
        loaded_rss < idle_rss + 64 * 1024,
        "2000 idle connections cost {} KiB",
        loaded_rss - idle_rss
    );
    // header_timeout (1s) closes connections that never send a byte.
    std::thread::sleep(Duration::from_millis(2500));
    let mut closed = 0;
    for mut c in conns {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut b = [0u8; 1];
        if matches!(c.read(&mut b), Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 2000, "idle connections left open");
    alive(&g);
}
