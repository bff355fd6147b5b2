//! The admin API's callers: without `admin.token`, loopback clients only; with it,
//! whoever presents it as a bearer token (loopback included), and state-changing calls
//! refused from another origin. The token never reaches the log.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};

use crate::support::common::*;

/// A local address that is not loopback (the machine's own), to be a remote client.
fn non_loopback_ip() -> IpAddr {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .find(|a| a.is_ipv4() && !a.is_loopback())
        .expect("this test needs an IPv4 address beside loopback (hostname -I)")
}

/// One HTTP/1.1 request to `ip:port`; the status and body.
fn call(
    ip: IpAddr,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut s = TcpStream::connect((ip, port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split(' ').nth(1).unwrap().parse().unwrap();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn gateway(token: Option<&str>) -> Gateway {
    let token = token
        .map(|t| format!(", token: \"{t}\""))
        .unwrap_or_default();
    Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 0.0.0.0:{{ADMIN}}{token} }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - {{ name: a, path: /a, verify: none }}\n"
    ))
}

#[test]
fn without_a_token_only_loopback_with_one_whoever_presents_it_and_no_cross_origin_mutation() {
    let remote = non_loopback_ip();
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let g = gateway(None);
    assert_eq!(call(local, g.admin, "GET", "/api/v1/dead", &[]).0, 200);
    // A change needs the token always: none configured, none made, loopback included.
    let (status, body) = call(
        local,
        g.admin,
        "POST",
        "/api/v1/dead/replay?route=a",
        &[("content-type", "application/json")],
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("need admin.token"), "{body}");
    assert_eq!(call(remote, g.admin, "GET", "/api/v1/dead", &[]).0, 403);
    // Health and metrics stay open to probes and scrapers.
    assert_eq!(call(remote, g.admin, "GET", "/healthz", &[]).0, 200);
    drop(g);

    let token = "admin-token-0123456789";
    let g = gateway(Some(token));
    let bearer = format!("Bearer {token}");
    for ip in [local, remote] {
        assert_eq!(call(ip, g.admin, "GET", "/api/v1/dead", &[]).0, 401, "{ip}");
        assert_eq!(
            call(
                ip,
                g.admin,
                "GET",
                "/api/v1/dead",
                &[("authorization", "Bearer nope")]
            )
            .0,
            401,
            "{ip}"
        );
        let (status, body) = call(
            ip,
            g.admin,
            "GET",
            "/api/v1/dead",
            &[("authorization", &bearer)],
        );
        assert_eq!((status, body.as_str()), (200, "[]\n"), "{ip}");
    }
    let json = ("content-type", "application/json");
    let (status, body) = call(
        remote,
        g.admin,
        "POST",
        "/api/v1/dead/replay?route=a",
        &[
            ("authorization", &bearer),
            json,
            ("origin", "https://evil.example"),
        ],
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("cross-origin"));
    let same = format!("http://{remote}:{}", g.admin);
    let (status, body) = call(
        remote,
        g.admin,
        "POST",
        "/api/v1/dead/replay?route=a",
        &[("authorization", &bearer), json, ("origin", &same)],
    );
    assert_eq!(status, 200, "{body}");
    let logs = g.logs();
    assert!(
        logs.contains("admin API call") && logs.contains(&remote.to_string()),
        "{logs}"
    );
    assert!(!logs.contains(token), "the token leaked into the log");
}
