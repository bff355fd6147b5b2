//! The rejection log: each refused request is listed with its reason and its headers,
//! credential values masked; no secret, expected MAC or (without `capture_body`) body
//! byte reaches the log, the API, the CLI or the store; with `capture_body`, a request
//! refused for a secret since rotated is replayed and kept under its id.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::common::*;

const GH_SECRET: &str = "gh-secret-Zq81mX";
const GL_TOKEN: &str = "gl-token-Wr47pK";
const MARKER: &str = "personal-data-Jk29vB";

fn config(capture: bool, gh_secret: &str) -> String {
    format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}}, token: {ADMIN_TOKEN} }}\nstore: {{ path: \"{{STORE}}\", rejections: {{ capture_body: {capture} }} }}\nroutes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [\"{gh_secret}\"] }}\n  - {{ name: gitlab, path: /hooks/gitlab, provider: gitlab, secrets: [\"{GL_TOKEN}\"] }}\n"
    )
}

/// `hookgate store ...` on `store`; stdout, stderr and the exit code.
fn store_cli(store: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(BIN)
        .args(["store", "--path"])
        .arg(store)
        .args(args)
        .env("HOOKGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn api(g: &Gateway, pq: &str) -> serde_json::Value {
    let r = request(g.admin, "GET", pq, &[AUTH], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).unwrap()
}

/// The records the API lists, waiting for the writer to catch up with `n`.
fn rejections(g: &Gateway, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..100 {
        let v = api(g, "/api/v1/rejections");
        let v = v.as_array().unwrap().clone();
        if v.len() >= n {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the rejection log did not reach {n} records");
}

/// Every file under `dir`, read as bytes, that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    found.push(p.display().to_string());
                }
            }
        }
    }
    found
}

#[test]
fn a_refused_request_is_recorded_with_its_reason_and_no_secret_or_body_anywhere() {
    let mut g = Gateway::start(&config(false, GH_SECRET));
    let body = format!(r#"{{"email":"{MARKER}"}}"#);
    // The MAC the gateway expects for this body: it must appear nowhere.
    let expected = github_sig(GH_SECRET, body.as_bytes());
    let wrong = github_sig("another-secret", body.as_bytes());
    let gh = |sig: Option<&str>| {
        let mut h = vec![
            ("x-github-event", "push"),
            ("x-github-delivery", "d-1"),
            ("content-type", "application/json"),
            ("cookie", "session=cookie-value-Pp03"),
        ];
        if let Some(s) = sig {
            h.push(("x-hub-signature-256", s));
        }
        g.post("/hooks/github", &h, body.as_bytes())
    };
    assert_eq!(gh(Some(&wrong)).status, 401);
    assert_eq!(gh(None).status, 401);
    // The right token, a body that is not JSON: the token header is masked.
    let r = g.post(
        "/hooks/gitlab",
        &[
            ("x-gitlab-token", GL_TOKEN),
            ("x-gitlab-event", "Push Hook"),
        ],
        format!("not json {MARKER}").as_bytes(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(g.post("/nowhere", &[], b"{}").status, 404);

    let all = rejections(&g, 4);
    let text = serde_json::to_string(&all).unwrap();
    let by = |code: &str| {
        all.iter()
            .find(|r| r["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {text}"))
            .clone()
    };
    let invalid = by("signature_invalid");
    assert_eq!(invalid["route"], "github");
    assert_eq!(invalid["status"], 401);
    assert_eq!(invalid["source_ip"], "127.0.0.1");
    assert_eq!(
        invalid["reason"],
        "no configured secret matches the signature"
    );
    let headers = invalid["headers"].as_array().unwrap();
    let header = |n: &str| {
        headers
            .iter()
            .find(|h| h[0] == n)
            .map(|h| h[1].as_str().unwrap().to_string())
    };
    assert_eq!(header("x-hub-signature-256").unwrap(), "*** (71 bytes)");
    assert_eq!(header("cookie").unwrap(), "*** (25 bytes)");
    assert_eq!(header("x-github-delivery").unwrap(), "d-1");
    assert_eq!(invalid["body_bytes"], body.len());
    assert!(invalid["body_head"].is_null());
    assert_eq!(invalid["replayable"], false);
    assert_eq!(
        by("signature_missing")["reason"],
        "header x-hub-signature-256 is absent"
    );
    let json = by("invalid_json");
    assert!(
        json["reason"].as_str().unwrap().starts_with("invalid JSON"),
        "{json}"
    );
    assert!(serde_json::to_string(&json["headers"])
        .unwrap()
        .contains(r#"["x-gitlab-token","*** (15 bytes)"]"#));
    assert_eq!(by("not_found")["route"], "none");
    // Filters and one record by seq.
    let only = api(&g, "/api/v1/rejections?route=github&code=signature_missing");
    assert_eq!(only.as_array().unwrap().len(), 1);
    let seq = invalid["seq"].as_u64().unwrap().to_string();
    let one = api(&g, &format!("/api/v1/rejections?seq={seq}"));
    assert_eq!(one[0]["seq"], invalid["seq"]);

    // The CLI, through the running gateway's API.
    let store = g.dir.path().join("store");
    let (list, _, code) = store_cli(&store, &["rejected", "list"]);
    assert_eq!(code, 0);
    assert!(list.contains("signature_invalid") && list.contains("no configured secret"));
    let (show, _, code) = store_cli(&store, &["rejected", "show", &seq]);
    assert_eq!(code, 0, "{show}");
    assert!(
        show.contains("x-hub-signature-256: *** (71 bytes)"),
        "{show}"
    );
    assert!(show.contains("replayable:   no"), "{show}");
    let (_, err, code) = store_cli(&store, &["rejected", "replay", &seq]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot be replayed") || err.contains("capture_body"),
        "{err}"
    );
    let (_, err, code) = store_cli(&store, &["rejected", "list", "--code", "nope"]);
    assert_eq!(code, 1, "{err}");

    let mut outputs = vec![text, list, show, g.logs()];
    g.signal("-TERM");
    g.wait_exit(Duration::from_secs(30));
    // Without a gateway, the CLI reads the store itself.
    let (list, _, code) = store_cli(&store, &["rejected", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(list.lines().count(), 4, "{list}");
    outputs.push(list);
    outputs.push(g.logs());
    for out in &outputs {
        for secret in [
            GH_SECRET,
            GL_TOKEN,
            &expected,
            &expected[7..],
            "cookie-value",
            MARKER,
            ADMIN_TOKEN,
        ] {
            assert!(!out.contains(secret), "{secret:?} appears in: {out}");
        }
    }
    // capture_body off: no byte of a refused body, nor a credential, is on disk.
    for needle in [MARKER, GL_TOKEN, &expected[7..]] {
        let found = files_containing(&store, needle.as_bytes());
        assert!(found.is_empty(), "{needle:?} stored in {found:?}");
    }
}

#[test]
fn with_capture_body_a_request_refused_before_a_secret_rotation_is_replayed() {
    let old = "old-secret-Tt55";
    let new = "new-secret-Uu66";
    let mut g = Gateway::start(&config(true, old));
    let body = format!(r#"{{"email":"{MARKER}"}}"#);
    let sig = github_sig(new, body.as_bytes());
    let send = || {
        g.post(
            "/hooks/github",
            &[
                ("x-github-event", "push"),
                ("x-github-delivery", "delivery-rotated-1"),
                ("x-hub-signature-256", &sig),
            ],
            body.as_bytes(),
        )
    };
    assert_eq!(send().status, 401);
    let r = rejections(&g, 1)[0].clone();
    assert_eq!(r["replayable"], true);
    assert_eq!(r["body_head"], body.as_str());
    assert!(!serde_json::to_string(&r).unwrap().contains(&sig[7..]));
    let seq = r["seq"].as_u64().unwrap().to_string();
    let store = g.dir.path().join("store");
    // Still the old secret: refused again, and the reason says why.
    let (out, _, code) = store_cli(&store, &["rejected", "replay", &seq]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("signature_invalid"), "{out}");
    // The secret rotated: the same request is verified again and kept, under its id.
    std::fs::write(
        &g.config,
        config(true, new)
            .replace("{PORT}", &g.port.to_string())
            .replace("{ADMIN}", &g.admin.to_string())
            .replace("{STORE}", &store.display().to_string()),
    )
    .unwrap();
    g.signal("-HUP");
    let mut out = String::new();
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        let (o, _, code) = store_cli(&store, &["rejected", "replay", &seq]);
        out = o;
        if code == 0 {
            break;
        }
    }
    assert!(out.contains(r#""status":"accepted""#), "{out}");
    assert!(out.contains("delivery-rotated-1"), "{out}");
    assert_eq!(list_ids(&store, &[]), ["delivery-rotated-1"]);
    // Replayed twice: a duplicate, kept once.
    let (out, _, code) = store_cli(&store, &["rejected", "replay", &seq]);
    assert_eq!(code, 0);
    assert!(out.contains(r#""status":"duplicate""#), "{out}");
    let (show, _, _) = store_cli(&store, &["rejected", "show", &seq]);
    assert!(show.contains("replayed_as:  delivery-rotated-1"), "{show}");
    assert!(!show.contains(&sig[7..]) && !g.logs().contains(&sig[7..]));
    // The replay is a state-changing call: a plain form post or another origin is refused.
    let r = request(
        g.admin,
        "POST",
        &format!("/api/v1/rejections/replay?seq={seq}"),
        &[AUTH],
        b"",
    );
    assert_eq!(r.status, 415);
    let r = request(
        g.admin,
        "POST",
        &format!("/api/v1/rejections/replay?seq={seq}"),
        &[
            AUTH,
            ("content-type", "application/json"),
            ("origin", "http://evil.example"),
        ],
        b"",
    );
    assert_eq!(r.status, 403);
    // The control for the other test's search of the store: a captured body is found
    // there by the same search once the gateway stopped (the database is not compressed).
    let kept = "captured-only-Hh71";
    let r = g.post(
        "/hooks/github",
        &[],
        format!(r#"{{"k":"{kept}"}}"#).as_bytes(),
    );
    assert_eq!(r.status, 401);
    rejections(&g, 2);
    g.signal("-TERM");
    g.wait_exit(Duration::from_secs(30));
    assert!(!files_containing(&store, kept.as_bytes()).is_empty());
}
