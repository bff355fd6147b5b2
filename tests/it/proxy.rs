//! docs/delivery.md, synchronous proxy: a verified request is forwarded at once and the
//! application's answer (status, headers, body) is the provider's answer; 502 when the
//! application cannot be reached, 504 when it is too slow; nothing reaches it unsigned.

use std::time::Duration;

use crate::support::app::{App, Reply};
use crate::support::common::*;
use crate::support::sdk;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn config(url: &str) -> String {
    format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: {{STORE}} }}\nroutes:\n  - name: slack\n    path: /slack/commands\n    provider: slack\n    secrets: [{SECRET}]\n    body: any\n    proxy: {{ url: {url}, timeout: 1s }}\n"
    )
}

fn slack_post(g: &Gateway, body: &[u8]) -> Response {
    let ts = now();
    let sig = sdk::slack_signature(SECRET, ts, body);
    g.post(
        "/slack/commands",
        &[
            ("x-slack-request-timestamp", &ts.to_string()),
            ("x-slack-signature", &sig),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        body,
    )
}

#[test]
fn a_signed_request_gets_the_applications_own_answer_and_an_unsigned_one_never_reaches_it() {
    let app = App::start(|seen, _| Reply {
        status: 201,
        headers: vec![
            ("content-type", "application/json".into()),
            ("x-app", "yes".into()),
        ],
        body: format!(r#"{{"text":"got {} bytes"}}"#, seen.body.len()).into_bytes(),
        delay: Duration::ZERO,
    });
    let g = Gateway::start(&config(&app.url("/slack/commands")));
    let body = b"token=x&team_id=T1&command=%2Fweather&text=94070&response_url=https%3A%2F%2Fhooks.slack.com%2Fx";
    let r = slack_post(&g, body);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.text(),
        format!(r#"{{"text":"got {} bytes"}}"#, body.len())
    );
    assert_eq!(r.header("x-app"), Some("yes"));
    let seen = app.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.path, "/slack/commands");
    assert_eq!(
        &s.body[..],
        &body[..],
        "the body reaches the application byte for byte"
    );
    assert!(
        s.header("x-slack-signature").is_some(),
        "the provider's headers are passed on"
    );
    assert_eq!(s.header("hookgate-route"), Some("slack"));
    assert!(s
        .header("idempotency-key")
        .is_some_and(|k| k.starts_with("sha256:")));
    assert_eq!(s.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(s.header("x-forwarded-proto"), Some("http"));

    // Unsigned, and signed with another secret: 401, the application sees nothing.
    let r = g.post("/slack/commands", &[], body);
    assert_eq!(
        (r.status, r.error()),
        (401, "signature_missing".to_string())
    );
    let ts = now().to_string();
    let r = g.post(
        "/slack/commands",
        &[
            ("x-slack-request-timestamp", &ts),
            ("x-slack-signature", "v0=00ff"),
        ],
        body,
    );
    assert_eq!(
        (r.status, r.error()),
        (401, "signature_invalid".to_string())
    );
    assert_eq!(app.seen().len(), 1);
    // Nothing was kept: a proxy route queues nothing.
    assert!(g.stored_ids().is_empty());
    let m = g.metrics();
    assert!(
        m.contains(r#"hookgate_requests_total{route="slack",outcome="proxied"} 1"#),
        "{m}"
    );
}

#[test]
fn the_application_down_is_502_and_too_slow_is_504() {
    let down = free_port();
    let g = Gateway::start(&config(&format!("http://127.0.0.1:{down}/x")));
    let r = slack_post(&g, b"command=%2Fx");
    assert_eq!(
        (r.status, r.error()),
        (502, "bad_gateway".to_string()),
        "{}",
        r.text()
    );

    let slow = App::start(|_, _| Reply {
        delay: Duration::from_secs(3),
        ..Reply::status(200)
    });
    let g = Gateway::start(&config(&slow.url("/x")));
    let t = std::time::Instant::now();
    let r = slack_post(&g, b"command=%2Fx");
    assert_eq!((r.status, r.error()), (504, "gateway_timeout".to_string()));
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "answered at the 1 s timeout, not the application's 3 s"
    );
    let m = g.metrics();
    assert!(m.contains(r#"outcome="gateway_timeout"} 1"#), "{m}");
}

#[test]
fn a_route_with_both_deliver_and_proxy_or_a_bad_url_is_refused_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "c.yaml",
        "routes:\n  - name: a\n    path: /a\n    verify: none\n    proxy: { url: ftp://x/y }\n  - name: b\n    path: /b\n    verify: none\n    deliver: { url: http://127.0.0.1:1/x, concurrency: 0, backoff: { schedule: [2m, 1m] } }\n    proxy: { url: http://127.0.0.1:1/y }\n",
    );
    let err = check_refuses(&cfg);
    for want in [
        "c.yaml:5:19: routes[0].proxy.url: expected an absolute http:// or https:// URL",
        "c.yaml:9:56: routes[1].deliver.concurrency: must be at least 1",
        "c.yaml:9:85: routes[1].deliver.backoff.schedule[1]: the schedule's gaps must not decrease",
        "c.yaml:10:5: routes[1].proxy: a route has `deliver` or `proxy`, not both",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // An unknown key of a destination in a list, located.
    let cfg = write(
        dir.path(),
        "d.yaml",
        "routes:\n  - name: c\n    path: /c\n    verify: none\n    deliver:\n      - { url: http://127.0.0.1:1/x, colour: blue }\n",
    );
    let err = check_refuses(&cfg);
    assert!(
        err.contains("d.yaml:6:38: routes[0].deliver[0].colour: unknown field `colour`"),
        "{err}"
    );
}

/// `hookgate check` on `cfg`: refused (exit 1); its stderr.
fn check_refuses(cfg: &std::path::Path) -> String {
    let out = std::process::Command::new(BIN)
        .args(["check", "-c"])
        .arg(cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

#[test]
fn an_https_application_with_a_private_ca_is_trusted_through_ca_and_refused_without_it() {
    let (app, ca) = App::start_tls(|_, _| Reply {
        body: b"over tls".to_vec(),
        ..Reply::status(200)
    });
    let url = format!("https://localhost:{}/slack/commands", app.port);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca);
    let with_ca = config(&format!("{url}, ca: {}", ca_file.display()));
    let g = Gateway::start(&with_ca);
    let r = slack_post(&g, b"command=%2Fx");
    assert_eq!((r.status, r.text()), (200, "over tls".to_string()));
    // Without the CA: the application's certificate is not trusted, nothing is sent.
    let g = Gateway::start(&config(&url));
    let r = slack_post(&g, b"command=%2Fx");
    assert_eq!((r.status, r.error()), (502, "bad_gateway".to_string()));
    assert_eq!(app.seen().len(), 1);
    assert!(g.logs().contains("certificate"), "{}", g.logs());
}
