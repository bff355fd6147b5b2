//! Every row of the table of README.md, "What a request gets", secret rotation, stale timestamps, duplicates and
//! X-Forwarded-For through trusted and untrusted peers.

use crate::support::common::*;

const SCHEMA: &str = r#"{"type":"object","properties":{"repository":{"type":"object","required":["full_name"],
  "properties":{"full_name":{"type":"string"}}}},"required":["repository"]}"#;

fn config(trusted: &str) -> String {
    format!(
        r#"
listen: 127.0.0.1:{{PORT}}
admin: {{ listen: 127.0.0.1:{{ADMIN}} }}
store: {{ path: "{{STORE}}" }}
limits: {{ max_body: 64KiB, header_timeout: 2s, request_timeout: 3s }}
trusted_proxies: [{trusted}]
routes:
  - name: github
    path: /hooks/github
    provider: github
    secrets: [old-secret, new-secret]
    schema: schema.json
    forward_headers: [X-GitHub-Event]
  - name: limited
    path: /hooks/limited
    provider: github
    secrets: [s]
    rate_limit: {{ per_ip: 1/m, burst: 2 }}
  - name: allow
    path: /hooks/allow
    provider: github
    secrets: [s]
    allow_ips: [203.0.113.0/24]
  - name: acme
    path: /hooks/acme
    verify:
      hmac:
        header: X-Acme-Signature
        prefix: "sha256="
        signed: "{{timestamp}}.{{body}}"
        timestamp: {{ header: X-Acme-Timestamp, tolerance: 5m }}
    secrets: [acme-secret]
    event_id: {{ header: X-Acme-Delivery }}
"#
    )
}

fn start(trusted: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "schema.json", SCHEMA);
    Gateway::start_in(dir, &config(trusted))
}

fn gh<'a>(sig: &'a str, id: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("X-Hub-Signature-256", sig),
        ("X-GitHub-Delivery", id),
        ("X-GitHub-Event", "push"),
        ("Content-Type", "application/json"),
    ]
}

fn acme(g: &Gateway, ts: i64, id: &str, body: &[u8]) -> Response {
    let t = ts.to_string();
    let sig = format!(
        "sha256={}",
        hex::encode(hmac_sha256(b"acme-secret", &[t.as_bytes(), b".", body]))
    );
    g.post(
        "/hooks/acme",
        &[
            ("X-Acme-Signature", &sig),
            ("X-Acme-Timestamp", &t),
            ("X-Acme-Delivery", id),
        ],
        body,
    )
}

#[test]
fn every_row_of_the_spec_table() {
    let g = start("127.0.0.1/32");
    let body = br#"{"repository":{"full_name":"octo/hello"}}"#;
    let sig = github_sig("new-secret", body);

    // accepted, then duplicate (not stored again)
    let r = g.post("/hooks/github", &gh(&sig, "delivery-1"), body);
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            serde_json::json!({"status": "accepted", "id": "delivery-1"})
        )
    );
    let r = g.post("/hooks/github", &gh(&sig, "delivery-1"), body);
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            serde_json::json!({"status": "duplicate", "id": "delivery-1"})
        )
    );
    assert_eq!(g.stored_ids(), vec!["delivery-1"]);

    // 404, 405 + Allow
    let r = g.post("/hooks/unknown", &[], b"{}");
    assert_eq!((r.status, r.error()), (404, "not_found".into()));
    let r = request(g.port, "GET", "/hooks/github", &[], b"");
    assert_eq!(
        (r.status, r.error(), r.header("allow")),
        (405, "method_not_allowed".into(), Some("POST"))
    );

    // 403 from a source outside allow_ips
    let s = github_sig("s", b"{}");
    let r = g.post("/hooks/allow", &gh(&s, "a-1"), b"{}");
    assert_eq!((r.status, r.error()), (403, "ip_not_allowed".into()));

    // 429 + Retry-After past the per-IP burst
    for i in 0..2 {
        let r = g.post("/hooks/limited", &gh(&s, &format!("l-{i}")), b"{}");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = g.post("/hooks/limited", &gh(&s, "l-3"), b"{}");
    assert_eq!((r.status, r.error()), (429, "rate_limited".into()));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // 413 by Content-Length
    let big = vec![b' '; 65 * 1024];
    let r = g.post("/hooks/github", &gh(&sig, "big"), &big);
    assert_eq!((r.status, r.error()), (413, "body_too_large".into()));

    // 401: absent, wrong, stale
    let r = g.post("/hooks/github", &[("X-GitHub-Delivery", "x")], body);
    assert_eq!((r.status, r.error()), (401, "signature_missing".into()));
    let wrong = github_sig("not-a-secret", body);
    let r = g.post("/hooks/github", &gh(&wrong, "x"), body);
    assert_eq!((r.status, r.error()), (401, "signature_invalid".into()));
    let r = acme(&g, now() - 301, "stale-1", b"{}");
    assert_eq!(
        (r.status, r.error()),
        (401, "timestamp_out_of_tolerance".into())
    );
    let r = acme(&g, now() + 301, "future-1", b"{}");
    assert_eq!(
        (r.status, r.error()),
        (401, "timestamp_out_of_tolerance".into())
    );
    let r = acme(&g, now() - 5, "fresh-1", b"{}");
    assert_eq!((r.status, r.json()["id"].as_str()), (200, Some("fresh-1")));

    // 400 invalid JSON (correctly signed)
    let r = g.post(
        "/hooks/github",
        &gh(&github_sig("new-secret", b"{nope"), "j"),
        b"{nope",
    );
    assert_eq!((r.status, r.error()), (400, "invalid_json".into()));

    // 422 with details
    let bad = br#"{"repository":{"full_name":5}}"#;
    let r = g.post(
        "/hooks/github",
        &gh(&github_sig("new-secret", bad), "s"),
        bad,
    );
    assert_eq!((r.status, r.error()), (422, "schema_violation".into()));
    let details = r.json()["details"].as_array().unwrap().clone();
    assert_eq!(
        details[0]["pointer"], "/repository/full_name",
        "{details:?}"
    );
    assert!(!details[0]["message"].as_str().unwrap().is_empty());

    // Every outcome is counted with the route's name, never a raw path.
    let m = g.metrics();
    for (route, outcome) in [
        ("github", "accepted"),
        ("github", "duplicate"),
        ("none", "not_found"),
        ("github", "method_not_allowed"),
        ("allow", "ip_not_allowed"),
        ("limited", "rate_limited"),
        ("github", "body_too_large"),
        ("github", "signature_missing"),
        ("github", "signature_invalid"),
        ("acme", "timestamp_out_of_tolerance"),
        ("github", "invalid_json"),
        ("github", "schema_violation"),
    ] {
        let line = format!("hookgate_requests_total{{route=\"{route}\",outcome=\"{outcome}\"}} ");
        assert!(m.contains(&line), "missing {line} in\n{m}");
    }
    assert!(!m.contains("/hooks/"), "a raw path leaked into metrics");
    assert!(!m.contains("secret"), "{m}");
}

#[test]
fn secret_rotation_accepts_any_configured_secret() {
    let g = start("127.0.0.1/32");
    let body = br#"{"repository":{"full_name":"a/b"}}"#;
    for (i, secret) in ["old-secret", "new-secret"].iter().enumerate() {
        let r = g.post(
            "/hooks/github",
            &gh(&github_sig(secret, body), &format!("rot-{i}")),
            body,
        );
        assert_eq!(r.status, 200, "{secret}: {}", r.text());
    }
    let r = g.post(
        "/hooks/github",
        &gh(&github_sig("older-secret", body), "rot-x"),
        body,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn x_forwarded_for_is_believed_only_from_trusted_peers() {
    let trusted = start("127.0.0.1/32");
    let s = github_sig("s", b"{}");
    let mut h = gh(&s, "xff-1");
    h.push(("X-Forwarded-For", "203.0.113.7"));
    let r = trusted.post("/hooks/allow", &h, b"{}");
    assert_eq!(r.status, 200, "{}", r.text());
    // The right-most untrusted hop is the client; what stands left of it is not believed.
    let mut h = gh(&s, "xff-2");
    h.push(("X-Forwarded-For", "203.0.113.7, 198.51.100.2"));
    assert_eq!(trusted.post("/hooks/allow", &h, b"{}").status, 403);
    // The rejection is logged with the client the checks saw, not the proxy.
    let logs = trusted.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("source_ip=198.51.100.2") && l.contains("ip_not_allowed")),
        "{logs}"
    );

    let untrusted = start("10.0.0.0/8");
    let mut h = gh(&s, "xff-3");
    h.push(("X-Forwarded-For", "203.0.113.7"));
    let r = untrusted.post("/hooks/allow", &h, b"{}");
    assert_eq!((r.status, r.error()), (403, "ip_not_allowed".into()));
}

#[test]
fn max_in_flight_answers_503_with_retry_after() {
    let g = Gateway::start(
        r#"
listen: 127.0.0.1:{PORT}
admin: { listen: 127.0.0.1:{ADMIN} }
store: { path: "{STORE}" }
limits: { max_in_flight: 1, request_timeout: 5s }
routes:
  - { name: open, path: /open, verify: none }
"#,
    );
    use std::io::Write;
    // Hold the only slot: headers sent, body not finished.
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    slow.write_all(
        b"POST /open HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{",
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = g.post("/open", &[], b"{}");
    assert_eq!(
        (r.status, r.error(), r.header("retry-after")),
        (503, "unavailable".into(), Some("1"))
    );
    slow.write_all(b"}").unwrap();
    let r = read_response(&mut slow).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        g.logs().contains("verify: none"),
        "the unauthenticated route is warned about at startup"
    );
}
