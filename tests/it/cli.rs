//! The command line: `check` on good and broken files, `sign` output accepted by curl,
//! `store` output into a pipe that closes early.

use std::process::Command;

use crate::support::common::*;

#[test]
fn check_accepts_the_shipped_example_with_dev_and_refuses_its_placeholders_without() {
    let root = env!("CARGO_MANIFEST_DIR");
    let example = format!("{root}/config.example.yaml");
    let out = Command::new(BIN)
        .args(["check", "--dev", "-c", &example])
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("/hooks/github") && stdout.contains("provider=github"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: routes[0].secrets[0]: the secret is the default of ${GITHUB_WEBHOOK_SECRET:-...} (--dev)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("change-me"),
        "a default is never printed: {stdout}"
    );
    // Without --dev a public placeholder secret is refused, with its location.
    let out = Command::new(BIN)
        .args(["check", "-c", &example])
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("config.example.yaml:28:9: routes[0].secrets[0]: GITHUB_WEBHOOK_SECRET is not set and the secret would be the default written in this file"),
        "{stderr}"
    );
    assert!(!stderr.contains("change-me"), "{stderr}");
    // Set, the variable is used and nothing is said.
    let out = Command::new(BIN)
        .args(["check", "-c", &example])
        .envs([
            ("GITHUB_WEBHOOK_SECRET", "a"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_b"),
            ("SLACK_SIGNING_SECRET", "c"),
            ("ACME_SECRET", "d"),
            ("CLERK_WEBHOOK_SECRET", "whsec_ZQ=="),
            ("TWILIO_AUTH_TOKEN", "e"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_reports_every_problem_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "broken.yaml",
        "listen: 0.0.0.0:8080\nroutes:\n  - name: gh\n    path: /hooks/gh\n    provider: githubb\n    secrets: [x]\n  - name: open\n    path: /hooks/gh\n  - name: c\n    path: /c\n    provider: github\n    secrets: [{ file: missing.txt }]\n    schema: nope.json\n    allow_ips: [10.0.0.0/99]\n",
    );
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = f.display().to_string();
    for want in [
        format!("{file}:5:15: routes[0].provider: unknown provider \"githubb\""),
        format!("{file}:7:5: routes[1]: route has neither provider nor verify"),
        format!("{file}:8:11: routes[1].path: path \"/hooks/gh\" is used by two routes"),
        format!("{file}:12:23: routes[2].secrets[0].file: cannot read secret file"),
        format!("{file}:13:13: routes[2].schema: cannot read schema"),
        format!(
            "{file}:14:17: routes[2].allow_ips[0]: \"10.0.0.0/99\" is not an IP address or CIDR"
        ),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }

    let typo = write(
        dir.path(),
        "typo.yaml",
        "routes:\n  - name: a\n    path: /a\n    verify: none\n    allow_ip: [1.2.3.4]\n",
    );
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&typo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:5:5: routes[0].allow_ip: unknown field `allow_ip`",
            typo.display()
        )),
        "{err}"
    );

    let syntax = write(dir.path(), "syntax.yaml", "routes:\n  - name: [unclosed\n");
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&syntax)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{}:", syntax.display())));
}

#[test]
fn sign_output_pasted_into_curl_is_accepted() {
    let g = Gateway::start(
        r#"
listen: 127.0.0.1:{PORT}
admin: { listen: 127.0.0.1:{ADMIN} }
store: { path: "{STORE}" }
routes:
  - { name: github, path: /hooks/github, provider: github, secrets: [gh-secret] }
  - { name: stripe, path: /hooks/stripe, provider: stripe, secrets: [whsec_abc] }
  - { name: slack, path: /hooks/slack, provider: slack, secrets: [slack-secret] }
  - { name: sw, path: /hooks/sw, provider: standard-webhooks, secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw] }
  - { name: shopify, path: /hooks/shopify, provider: shopify, secrets: [shop] }
  - { name: kontent, path: /hooks/kontent, provider: kontent, secrets: [kon] }
  - { name: gitlab, path: /hooks/gitlab, provider: gitlab, secrets: [tok] }
  - name: custom
    path: /hooks/custom
    verify: { hmac: { header: X-Sig, algorithm: sha512, encoding: base64, signed: "{id}:{url}:{timestamp}:{body}", timestamp: { header: X-Ts } } }
    event_id: { header: X-Id }
    secrets: [c]
"#,
    );
    let body = write(
        g.dir.path(),
        "body.json",
        r#"{"id":"evt_1","event_id":"Ev1","type":"t","message":{"id":"m1"}}"#,
    );
    for route in [
        "github", "stripe", "slack", "sw", "shopify", "kontent", "gitlab", "custom",
    ] {
        let url = format!("http://127.0.0.1:{}/hooks/{route}", g.port);
        let out = Command::new(BIN)
            .args(["sign", "-c"])
            .arg(&g.config)
            .args(["--route", route, "--body"])
            .arg(&body)
            .args(["--curl", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cmd = String::from_utf8(out.stdout).unwrap();
        assert!(cmd.starts_with("curl "), "{cmd}");
        let run = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
        let answer = String::from_utf8_lossy(&run.stdout);
        assert!(
            answer.contains(r#""status":"accepted""#),
            "{route}: {cmd}\n-> {answer}"
        );
    }
    // Headers-only output names the signature header.
    let out = Command::new(BIN)
        .args(["sign", "-c"])
        .arg(&g.config)
        .args(["--route", "github"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("x-hub-signature-256: sha256="));
}

#[test]
fn store_output_into_a_pipe_closed_early_ends_quietly_not_in_a_panic() {
    const CONFIG: &str = r#"
listen: 127.0.0.1:{PORT}
admin: { listen: 127.0.0.1:{ADMIN} }
store: { path: "{STORE}" }
routes:
  - name: github
    path: /hooks/github
    provider: github
    secrets: [pipe-secret]
"#;
    let g = Gateway::start(CONFIG);
    // More output than a pipe holds (64 KiB), so that the writer meets the closed
    // pipe: a list of 600 events (~250 bytes of JSON each), one of them 300 KB to show.
    for i in 0..600 {
        let id = format!("pipe-{i}");
        let pad = if i == 7 { 300_000 } else { 10 };
        let body = format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad));
        let r = g.post(
            "/hooks/github",
            &[
                ("X-GitHub-Delivery", &id),
                ("X-GitHub-Event", "push"),
                (
                    "X-Hub-Signature-256",
                    &github_sig("pipe-secret", body.as_bytes()),
                ),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    for args in [
        &["list", "--json", "--limit", "1000"][..],
        &["show", "pipe-7"][..],
    ] {
        // `hookgate store ... | head -c 100`: the reader leaves after 100 bytes.
        let cmd = format!(
            "'{BIN}' store --path '{}' {} | head -c 100 >/dev/null; echo \"exit=${{PIPESTATUS[0]}}\"",
            g.dir.path().join("store").display(),
            args.join(" ")
        );
        let out = Command::new("bash").arg("-c").arg(&cmd).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stdout.contains("exit=0"), "{args:?}: {stdout} {stderr}");
    }
}

#[test]
fn check_reports_every_unknown_key_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "typos.yaml",
        "limits:\n  max_bdy: 1MiB\n  header_timout: 1s\nroutes:\n  - name: gh\n    path: /gh\n    provder: github\n    secrets: [x]\n",
    );
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&f)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for at in [
        "typos.yaml:2:3: limits.max_bdy: unknown field `max_bdy`",
        "typos.yaml:3:3: limits.header_timout: unknown field `header_timout`",
        "typos.yaml:7:5: routes[0].provder: unknown field `provder`",
    ] {
        assert!(stderr.contains(at), "{at} missing in:\n{stderr}");
    }
    // The rest of the file is validated in the same run: without `provder`, the route
    // has neither provider nor verify, which is said too.
    assert!(
        stderr.contains("typos.yaml:5:5: routes[0]: route has neither provider nor verify"),
        "{stderr}"
    );
    assert!(stderr.contains("4 problem(s)"), "{stderr}");
}
