//! Transport: HTTPS with ALPN (HTTP/2 and HTTP/1.1), a certificate renewed on disk is
//! served without a restart, and cleartext HTTP/2 (prior knowledge).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::common::*;

fn self_signed(dir: &std::path::Path, tag: &str) -> std::path::PathBuf {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let ca = dir.join(format!("ca-{tag}.pem"));
    std::fs::write(&ca, ck.cert.pem()).unwrap();
    // Replace the served pair atomically, as a renewal (or a Secret update) does.
    let tmp = dir.join("tls.tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("tls.crt"), ck.cert.pem()).unwrap();
    std::fs::write(tmp.join("tls.key"), ck.signing_key.serialize_pem()).unwrap();
    std::fs::rename(tmp.join("tls.key"), dir.join("tls.key")).unwrap();
    std::fs::rename(tmp.join("tls.crt"), dir.join("tls.crt")).unwrap();
    ca
}

/// (exit ok, HTTP version, body) of a signed POST through curl.
fn curl(args: &[&str], url: &str) -> (bool, String, String) {
    let body = r#"{"via":"curl"}"#;
    let sig = github_sig("tls-secret", body.as_bytes());
    let id = format!(
        "-HX-GitHub-Delivery: tls-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "-w",
            "\n%{http_version}",
            "-XPOST",
        ])
        .args(args)
        .arg(format!("-HX-Hub-Signature-256: {sig}"))
        .arg(id)
        .args(["--data-binary", body, url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (b, v) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (out.status.success(), v.to_string(), b.to_string())
}

const ROUTE: &str =
    "routes:\n  - { name: github, path: /hooks/github, provider: github, secrets: [tls-secret] }\n";

#[test]
fn https_with_h2_and_certificate_reload_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca1 = self_signed(dir.path(), "1");
    let mut g = Gateway::start_in(
        dir,
        &format!(
            "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\ntls: {{ cert: tls.crt, key: tls.key }}\n{ROUTE}"
        ),
    );
    let url = format!("https://localhost:{}/hooks/github", g.port);
    let resolve = format!("localhost:{}:127.0.0.1", g.port);
    let (ok, version, body) = curl(
        &["--resolve", &resolve, "--cacert", ca1.to_str().unwrap()],
        &url,
    );
    assert!(ok && body.contains("accepted"), "{body}");
    assert_eq!(version, "2", "ALPN should pick HTTP/2");
    let (ok, version, body) = curl(
        &[
            "--http1.1",
            "--resolve",
            &resolve,
            "--cacert",
            ca1.to_str().unwrap(),
        ],
        &url,
    );
    assert!(
        ok && body.contains("accepted") && version == "1.1",
        "{version} {body}"
    );

    let ca2 = self_signed(g.dir.path(), "2");
    let started = Instant::now();
    loop {
        let (ok, _, body) = curl(
            &["--resolve", &resolve, "--cacert", ca2.to_str().unwrap()],
            &url,
        );
        if ok && body.contains("accepted") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "renewed certificate not served: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        g.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "no restart happened"
    );
    // The new key is swapped in, then the line is logged: a handshake can win the race.
    let logged = Instant::now() + Duration::from_secs(2);
    while !g.logs().contains("TLS certificate reloaded") {
        assert!(Instant::now() < logged, "reload not logged: {}", g.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cleartext_http2_prior_knowledge() {
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\n{ROUTE}"
    ));
    let (ok, version, body) = curl(
        &["--http2-prior-knowledge"],
        &format!("http://127.0.0.1:{}/hooks/github", g.port),
    );
    assert!(ok && body.contains("accepted"), "{body}");
    assert_eq!(version, "2");
}
