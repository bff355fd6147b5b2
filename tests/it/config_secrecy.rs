//! Configuration foot-guns and secrecy against the real binary: reserved
//! `forward_headers`, the foot-guns refused with their location, no inline secret in any
//! config error, no broker password in trace logs, `{url}` signing over HTTP/2, GitHub's
//! SHA-1 header alone refused, IPv6 clients rate-limited per /64.

use std::process::Command;
use std::time::Duration;

use crate::support::common::*;
use crate::support::rabbit::{broker_addr, unique};

/// `hookgate check` on `yaml`: (exit code, stdout + stderr).
fn check(yaml: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "c.yaml", yaml);
    let out = Command::new(BIN)
        .arg("check")
        .args(args)
        .arg("-c")
        .arg(&f)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

const ROUTE: &str =
    "routes:\n  - name: gh\n    path: /gh\n    provider: github\n    secrets: [s3cr3t]\n";

#[test]
fn reserved_forward_headers_are_refused_with_their_location() {
    let yaml = format!(
        "{ROUTE}    forward_headers: [X-GitHub-Event, hookgate-route, Hookgate-Source-IP, CC, idempotency-key, x-death]\n"
    );
    let (code, out) = check(&yaml, &[]);
    assert_eq!(code, Some(1), "{out}");
    for (i, name) in [
        (1, "hookgate-route"),
        (2, "Hookgate-Source-IP"),
        (3, "CC"),
        (4, "idempotency-key"),
        (5, "x-death"),
    ] {
        assert!(
            out.contains(&format!(
                "routes[0].forward_headers[{i}]: \"{name}\" is reserved"
            )),
            "{name}: {out}"
        );
    }
    assert!(out.contains("c.yaml:6:"), "located on line 6: {out}");
    assert!(!out.contains("forward_headers[0]"), "{out}");
}

#[test]
fn foot_guns_are_refused_with_their_location() {
    // A timestamp that is checked but not signed.
    let (code, out) = check(
        "routes:\n  - name: acme\n    path: /acme\n    secrets: [s]\n    verify:\n      hmac:\n        header: X-Sig\n        signed: \"{body}\"\n        timestamp: { header: X-Ts }\n",
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "c.yaml:9:9: routes[0].verify.hmac.timestamp: the timestamp is checked but not signed"
        ),
        "{out}"
    );
    // The admin port on the ingress port.
    for (listen, admin) in [
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("0.0.0.0:8080", "127.0.0.1:8080"),
    ] {
        let (code, out) = check(
            &format!("listen: {listen}\nadmin: {{ listen: {admin} }}\n{ROUTE}"),
            &[],
        );
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("c.yaml:2:18: admin.listen: 127.0.0.1:8080 overlaps `listen`"),
            "{out}"
        );
    }
    // A secret from a `${VAR:-default}` default: refused, or warned with --dev.
    let yaml = "routes:\n  - name: gh\n    path: /gh\n    provider: github\n    secrets: [\"${HG_TEST_UNSET_SECRET:-public-placeholder}\"]\n";
    let (code, out) = check(yaml, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("c.yaml:5:15: routes[0].secrets[0]: HG_TEST_UNSET_SECRET is not set"),
        "{out}"
    );
    let (code, out) = check(yaml, &["--dev"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("warning: routes[0].secrets[0]: the secret is the default"),
        "{out}"
    );
    assert!(!out.contains("public-placeholder"), "{out}");
}

#[test]
fn dev_default_secrets_are_named_in_readyz() {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin) = (free_port(), free_port());
    let f = write(
        dir.path(),
        "c.yaml",
        &format!("listen: 127.0.0.1:{port}\nadmin: {{ listen: 127.0.0.1:{admin} }}\nstore: {{ path: \"{}\" }}\n{}", dir.path().join("s").display(), "routes:\n  - name: gh\n    path: /gh\n    provider: github\n    secrets: [\"${HG_TEST_UNSET_SECRET:-public-placeholder}\"]\n"),
    );
    let mut child = Command::new(BIN)
        .args(["serve", "--dev", "-c"])
        .arg(&f)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = None;
    for _ in 0..200 {
        if let Ok(r) = try_request(admin, "GET", "/readyz", &[], b"") {
            if r.status == 200 {
                ready = Some(r.text());
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = ready.expect("never ready");
    assert!(
        text.contains("WARNING, --dev") && text.contains("routes[0].secrets[0]"),
        "{text}"
    );
    assert!(!text.contains("public-placeholder"), "{text}");
}

#[test]
fn no_inline_secret_appears_in_any_config_error() {
    let route = |secrets: &str| {
        format!(
            "routes:\n  - name: gh\n    path: /gh\n    provider: github\n    secrets: {secrets}\n"
        )
    };
    let cases = [
        (route(r#"'ab"cd-QUOTED-SECRET'"#), "QUOTED-SECRET"),
        (route(r#"'x", expected a-FAKE-SECRET'"#), "FAKE-SECRET"),
        (route("[13579.2468]"), "13579"),
        (route("[true]"), "`true`"),
        (route("{ file: f, extra: MAP-SECRET }"), "MAP-SECRET"),
        (
            format!("broker: 'amqp://u:BROKER-PW1@h/'\n{ROUTE}"),
            "BROKER-PW1",
        ),
        (
            format!("broker: {{ url: [amqp://u:BROKER-PW2@h] }}\n{ROUTE}"),
            "BROKER-PW2",
        ),
        (
            format!("broker: {{ url: 'amqp://u:BROKER-PW3@h:port/' }}\n{ROUTE}"),
            "BROKER-PW3",
        ),
        (format!("broker: {{ url: 97531.5 }}\n{ROUTE}"), "97531"),
    ];
    for (yaml, secret) in cases {
        let (code, out) = check(&yaml, &[]);
        assert_eq!(code, Some(1), "{yaml}: {out}");
        assert!(!out.contains(secret), "{secret} echoed for\n{yaml}\n{out}");
        assert!(out.contains("c.yaml:"), "{out}");
    }
}

/// Run `rabbitmqctl`, panicking with its output on failure.
fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn trace_logs_never_carry_the_broker_password() {
    let addr = broker_addr();
    let user = unique("hg-trace");
    let password = format!("Tr4cePw{}", user.rsplit('-').next().unwrap());
    rabbitmqctl(&["add_user", &user, &password]);
    rabbitmqctl(&["set_permissions", "-p", "/", &user, ".*", ".*", ".*"]);
    let rabbit = crate::support::rabbit::Rabbit::connect();
    let (exchange, queue) = (unique("hg-trace-x"), unique("hg-trace-q"));
    rabbit.owns(&exchange, &[&queue]);
    let dir = tempfile::tempdir().unwrap();
    let (port, admin) = (free_port(), free_port());
    let f = write(
        dir.path(),
        "c.yaml",
        &format!(
            "listen: 127.0.0.1:{port}\nadmin: {{ listen: 127.0.0.1:{admin} }}\nstore: {{ path: \"{}\" }}\nbroker: {{ url: \"amqp://{user}:{password}@{addr}/%2f\", exchange: {exchange} }}\nroutes:\n  - name: gh\n    path: /gh\n    provider: github\n    secrets: [s3cr3t]\n    queue: {queue}\n",
            dir.path().join("s").display()
        ),
    );
    let log = dir.path().join("trace.log");
    let mut child = Command::new(BIN)
        .args(["serve", "-c"])
        .arg(&f)
        .env(
            "RUST_LOG",
            "trace,lapin=trace,amq_protocol=trace,lapin::channel=trace",
        )
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    for i in 0..200 {
        let body = br#"{"zen":"trace"}"#;
        if let Ok(r) = try_request(
            port,
            "POST",
            "/gh",
            &[
                ("X-Hub-Signature-256", &github_sig("s3cr3t", body)),
                ("X-GitHub-Delivery", &format!("trace-{i}")),
            ],
            body,
        ) {
            status = r.status;
            if status == 200 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    rabbitmqctl(&["delete_user", &user]);
    let logs = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        status,
        200,
        "never published: {}",
        &logs[logs.len().saturating_sub(3000)..]
    );
    assert!(logs.contains("TRACE"), "trace logging was not on");
    let bytes = format!("{:?}", password.as_bytes());
    let as_bytes = bytes.trim_matches(|c| c == '[' || c == ']');
    let hex = hex::encode(password.as_bytes());
    for form in [password.as_str(), as_bytes, hex.as_str()] {
        assert!(
            !logs.contains(form),
            "the password appears in the trace log as {form:?}"
        );
    }
    eprintln!("{} bytes of trace log, no password in any form", logs.len());
}

#[test]
fn url_signed_route_verifies_over_http2_and_http1() {
    let g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n  - name: u\n    path: /hooks/u\n    secrets: [url-secret]\n    verify: { hmac: { header: X-Sig, signed: \"{url}.{body}\" } }\n",
    );
    let url = format!("http://127.0.0.1:{}/hooks/u", g.port);
    for (i, version) in ["--http2-prior-knowledge", "--http1.1"]
        .into_iter()
        .enumerate()
    {
        let body = format!(r#"{{"n":{i}}}"#);
        let sig = hex::encode(hmac_sha256(
            b"url-secret",
            &[url.as_bytes(), b".", body.as_bytes()],
        ));
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                "-w",
                "\n%{http_code} %{http_version}",
                version,
            ])
            .arg(format!("-HX-Sig: {sig}"))
            .args([
                "-HContent-Type: application/json",
                "--data-binary",
                &body,
                &url,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let expect = if i == 0 { "200 2" } else { "200 1.1" };
        assert!(text.ends_with(expect), "{version}: {text}");
    }
}

#[test]
fn github_sha1_alone_is_refused_and_ipv6_clients_are_limited_per_64() {
    let g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\ntrusted_proxies: [127.0.0.1/32]\nroutes:\n  - name: gh\n    path: /gh\n    provider: github\n    secrets: [s3cr3t]\n    rate_limit: { per_ip: 1/m, burst: 1 }\n",
    );
    let body = br#"{"zen":"sha1"}"#;
    let sha1 = {
        use hmac::{Hmac, Mac};
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(b"s3cr3t").unwrap();
        m.update(body);
        format!("sha1={}", hex::encode(m.finalize().into_bytes()))
    };
    let r = g.post(
        "/gh",
        &[("X-Hub-Signature", &sha1), ("X-Forwarded-For", "192.0.2.1")],
        body,
    );
    assert_eq!((r.status, r.error()), (401, "signature_missing".into()));
    let post = |xff: &str, id: &str| {
        g.post(
            "/gh",
            &[
                ("X-Hub-Signature-256", &github_sig("s3cr3t", body)),
                ("X-GitHub-Delivery", id),
                ("X-Forwarded-For", xff),
            ],
            body,
        )
        .status
    };
    assert_eq!(post("2001:db8:1:2::1", "v6-1"), 200);
    assert_eq!(post("2001:db8:1:2:ffff::9", "v6-2"), 429, "same /64");
    assert_eq!(post("2001:db8:1:3::1", "v6-3"), 200, "another /64");
}

#[test]
fn check_warns_when_request_bodies_can_outgrow_the_memory_budget() {
    let (code, out) = check(
        &format!("limits: {{ max_in_flight: 1024, max_body: 1MiB, body_memory: 100MiB, memory: 128MiB }}\n{ROUTE}"),
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("warning: limits: request bodies and the rejection log's queue may hold 108 MiB at once")
            && out.contains("more than half of the 128 MiB that limits.memory allows"),
        "{out}"
    );
    // max_in_flight x max_body bounds it too: 16 x 1 MiB fits.
    let (_, out) = check(
        &format!("limits: {{ max_in_flight: 16, max_body: 1MiB, body_memory: 100MiB, memory: 128MiB }}\n{ROUTE}"),
        &[],
    );
    assert!(
        out.contains("bodies held at once <= 16 MiB") && !out.contains("warning"),
        "{out}"
    );
}
