//! `/metrics` in both text formats, read by Python's `prometheus_client` parsers (the
//! classic one and the OpenMetrics one): every family keeps its type, `process_*` and
//! `hookgate_build_info` are there, and no series exists that a route can never have.

use crate::support::common::*;
use crate::support::sdk;

/// Parse stdin with the parser named in argv[1]; print `{family: type}` as JSON.
const PARSE: &str = r#"
import sys, json
text = sys.stdin.read()
if sys.argv[1] == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
print(json.dumps({f.name: f.type for f in text_string_to_metric_families(text)}))
"#;

fn families(parser: &str, text: &str) -> serde_json::Value {
    let out = std::process::Command::new(sdk::python())
        .args(["-c", PARSE, parser])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{parser} parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn metrics_parse_as_classic_text_and_as_openmetrics_with_every_type() {
    let g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n  - { name: github, path: /github, provider: github, secrets: [s] }\n",
    );
    g.post("/nowhere", &[], b"{}");
    let sig = {
        use hmac::Mac as _;
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s").unwrap();
        m.update(b"{}");
        format!("sha256={}", hex::encode(m.finalize().into_bytes()))
    };
    let r = g.post("/github", &[("x-hub-signature-256", &sig)], b"{}");
    assert_eq!(r.status, 200);
    let classic = request(g.admin, "GET", "/metrics", &[], b"");
    assert_eq!(
        classic.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = classic.text();
    assert!(!text.contains("# EOF") && text.contains("# TYPE hookgate_requests_total counter"));
    let f = families("classic", &text);
    for (name, kind) in [
        ("hookgate_requests", "counter"),
        ("hookgate_request_duration_seconds", "histogram"),
        ("hookgate_in_flight_requests", "gauge"),
        ("hookgate_build_info", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
        ("hookgate_stage_duration_seconds", "histogram"),
    ] {
        assert_eq!(f[name], kind, "classic: {name} in {f}");
    }
    let om = request(
        g.admin,
        "GET",
        "/metrics",
        &[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
        b"",
    );
    assert!(om
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = om.text();
    assert!(text.ends_with("# EOF\n"));
    let f = families("openmetrics", &text);
    for (name, kind) in [
        ("hookgate_requests", "counter"),
        ("hookgate_request_duration_seconds", "histogram"),
        ("hookgate_build", "info"),
        ("process_cpu_seconds", "counter"),
        ("process_max_fds", "gauge"),
    ] {
        assert_eq!(f[name], kind, "openmetrics: {name} in {f}");
    }
    assert!(text.contains(&format!(
        "hookgate_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    // The accepted request went through every stage once.
    for stage in ["admission", "body", "verify", "parse", "handoff"] {
        assert!(
            text.contains(&format!(
                "hookgate_stage_duration_seconds_count{{stage=\"{stage}\"}} 1"
            )),
            "{stage} in\n{text}"
        );
    }
    // Only series that can move: no route has `not_found`, route `none` has nothing else.
    for (present, line) in [
        (
            true,
            r#"hookgate_requests_total{route="none",outcome="not_found"} 1"#,
        ),
        (
            true,
            r#"hookgate_requests_total{route="github",outcome="accepted"} 1"#,
        ),
        (
            false,
            r#"hookgate_requests_total{route="none",outcome="accepted"}"#,
        ),
        (
            false,
            r#"hookgate_requests_total{route="github",outcome="not_found"}"#,
        ),
        (
            false,
            r#"hookgate_requests_total{route="github",outcome="proxied"}"#,
        ),
        (
            false,
            r#"hookgate_requests_total{route="github",outcome="ip_not_allowed"}"#,
        ),
    ] {
        assert_eq!(text.contains(line), present, "{line}");
    }
}
