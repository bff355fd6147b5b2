//! What an operator meets in the first hour: logs that answer "what happened to my
//! webhook" (at `RUST_LOG=debug`, hookgate's lines, with the provider's delivery id and
//! the reason, and no dependency's), durations a person reads, the store commands
//! without the secrets, clear CLI errors, completions.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::common::*;

fn github_signature(secret: &str, body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// `hookgate serve` on `yaml` with `RUST_LOG=debug` (not the harness's `hookgate=debug`),
/// stderr to DIR/serve.log; returns the child once healthy, and the ports.
#[allow(clippy::zombie_processes)] // the caller stops and waits for it
fn serve_debug(dir: &std::path::Path, yaml: &str) -> (std::process::Child, u16, u16) {
    let (port, admin) = (free_port(), free_port());
    let text = yaml
        .replace("{PORT}", &port.to_string())
        .replace("{ADMIN}", &admin.to_string())
        .replace("{STORE}", &dir.join("store").display().to_string());
    let cfg = write(dir, "hookgate.yaml", &text);
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "-c"])
        .arg(&cfg)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if try_request(admin, "GET", "/healthz", &[], b"").is_ok_and(|r| r.status == 200) {
            return (child, port, admin);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("not healthy");
}

const YAML: &str = "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n  - { name: github, path: /github, provider: github, secrets: [gh-secret] }\n";

#[test]
fn at_rust_log_debug_each_request_is_one_line_with_its_delivery_id_and_no_dependency_speaks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, _) = serve_debug(dir.path(), YAML);
    let post = |body: &[u8], delivery: &str| {
        request(
            port,
            "POST",
            "/github",
            &[
                ("x-github-delivery", delivery),
                ("x-hub-signature-256", &github_signature("gh-secret", body)),
            ],
            body,
        )
    };
    let r = post(br#"{"zen":"ok"}"#, "d-accepted-1");
    assert_eq!(r.status, 200);
    assert!(
        r.body.ends_with(b"}\n"),
        "a JSON answer ends with a newline"
    );
    let r = post(b"{\"zen\": nope}", "d-broken-json-2");
    assert_eq!((r.status, r.error()), (400, "invalid_json".into()));
    assert!(r.body.ends_with(b"\n"));
    let r = request(
        port,
        "POST",
        "/github",
        &[("x-github-delivery", "d-unsigned-3")],
        b"{}",
    );
    assert_eq!(r.status, 401);
    // SIGTERM: the shutdown line's durations, as a person writes them.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{log}"))
            .to_string()
    };
    let kept = line("d-accepted-1");
    assert!(
        kept.contains("accepted") && kept.contains("DEBUG"),
        "{kept}"
    );
    let bad = line("d-broken-json-2");
    assert!(
        bad.contains("invalid_json") && bad.contains("line 1 column"),
        "{bad}"
    );
    let unsigned = line("d-unsigned-3");
    assert!(
        unsigned.contains("x-hub-signature-256 is absent"),
        "{unsigned}"
    );
    assert!(!log.contains("gh-secret"));
    for dependency in ["fjall", "lsm_tree", "hyper", "h2::", "rustls"] {
        assert!(
            !log.lines()
                .any(|l| l.contains(" DEBUG ") && l.contains(dependency)),
            "a {dependency} debug line at RUST_LOG=debug:\n{log}"
        );
    }
    let shutdown = line("shutting down");
    assert!(
        shutdown.contains("delay=0s") && shutdown.contains("grace=25s"),
        "{shutdown}"
    );
}

#[test]
fn the_store_commands_need_no_secret_take_c_after_the_subcommand_and_say_when_nothing_matched() {
    let g = Gateway::start(YAML);
    let body = br#"{"zen":"stored"}"#;
    let r = g.post(
        "/github",
        &[
            ("x-github-delivery", "d-store-1"),
            (
                "x-github-event",
                "a.very.long.event.type.name.that.outgrows.its.column",
            ),
            ("x-hub-signature-256", &github_signature("gh-secret", body)),
        ],
        body,
    );
    assert_eq!(r.status, 200);
    // The same store, a configuration whose secret's variable is not set.
    let cfg = write(
        g.dir.path(),
        "inspect.yaml",
        &format!(
            "store: {{ path: \"{}\" }}\nroutes:\n  - {{ name: github, path: /github, provider: github, secrets: [\"${{HOOKGATE_TEST_NEVER_SET}}\"] }}\n",
            g.dir.path().join("store").display()
        ),
    );
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_remove("HOOKGATE_TEST_NEVER_SET")
            .output()
            .unwrap()
    };
    let cfg = cfg.display().to_string();
    for args in [
        vec!["store", "list", "-c", &cfg],
        vec!["store", "-c", &cfg, "list"],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("d-store-1"), "{text}");
        // The header's columns line up with the row's, however long the type.
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].find(" id").unwrap() + 1,
            lines[1].find("d-store-1").unwrap(),
            "{text}"
        );
    }
    let out = run(&["store", "show", "nope", "-c", &cfg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no event with id \"nope\""));
    let out = run(&["store", "list", "--route", "nothing-here", "-c", &cfg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no events match the filters"));
    // Serving that configuration is another matter: the secret is required.
    let out = run(&["check", "-c", &cfg]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn cli_errors_say_what_to_do_and_completions_print_a_script() {
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("complete") && script.contains("hookgate"),
        "{script}"
    );
    let out = Command::new(BIN)
        .args(["serve", "-c", "/nonexistent/hookgate.yaml"])
        .env_remove("HOOKGATE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-c FILE or $HOOKGATE_CONFIG"), "{err}");
    // A port already in use: once, with the configuration key and where it is set.
    let g = Gateway::start(YAML);
    let cfg = write(
        g.dir.path(),
        "same-port.yaml",
        &format!(
            "listen: 127.0.0.1:{}\nadmin: {{ listen: 127.0.0.1:{} }}\nstore: {{ path: \"{}\" }}\nroutes:\n  - {{ name: a, path: /a, verify: none }}\n",
            g.port,
            free_port(),
            g.dir.path().join("other-store").display()
        ),
    );
    let out = Command::new(BIN)
        .arg("serve")
        .arg("-c")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("cannot listen").count(), 1, "{err}");
    assert!(
        err.contains("(listen, ") && err.contains("same-port.yaml:1:9"),
        "{err}"
    );
    // --log-format and --log-level over the configuration's (RUST_LOG unset).
    let out = Command::new(BIN)
        .args(["serve", "--log-format", "json", "--log-level", "warn", "-c"])
        .arg(&cfg)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let levels: Vec<String> = err
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["level"].to_string())
        .collect();
    assert!(levels.contains(&"\"ERROR\"".to_string()), "{err}");
    assert!(
        !levels.contains(&"\"INFO\"".to_string()),
        "--log-level warn: {err}"
    );
    // Every option of every command has a description.
    for cmd in [
        vec!["serve"],
        vec!["sign"],
        vec!["store", "list"],
        vec!["store", "dead", "replay"],
        vec!["ips", "update"],
    ] {
        let out = Command::new(BIN).args(&cmd).arg("--help").output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        for l in help.lines().filter(|l| l.trim_start().starts_with('-')) {
            let described = l
                .trim_start()
                .split("  ")
                .filter(|p| !p.trim().is_empty())
                .count()
                > 1;
            assert!(
                described,
                "{cmd:?}: an option without a description: {l:?}\n{help}"
            );
        }
    }
}
