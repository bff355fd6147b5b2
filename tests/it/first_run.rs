//! What a new user met on a first run (README only, fresh clone), each checked against
//! the real binary: `check` reports every problem at once; inspection commands need no
//! secret and take the admin token from the configuration; the CLI's conventions
//! (docs/reference.md, "The store commands"); `serve --listen/--admin-listen`; a closed
//! pipe; `/readyz` while spooling; placeholder secrets refused outside `--dev`; no
//! "delivering" line before a port-in-use error.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::app::{App, Reply};
use crate::support::common::*;

fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("HOOKGATE_ADMIN_TOKEN");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reports_an_unknown_key_a_bad_duration_and_an_unset_variable_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "hookgate.yaml",
        "listen: 127.0.0.1:0\nstore: { path: ./data, dedup_window: 3 weeks, retention: 7d }\nroutes:\n  - name: gh\n    path: /gh\n    provider: github\n    secrets: [\"${FIRST_RUN_UNSET_SECRET}\"]\n    colour: blue\n",
    );
    let (code, out, err) = run(&["check", "-c", cfg.to_str().unwrap()], &[]);
    let all = format!("{out}{err}");
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("routes[0].colour") && all.contains("unknown field"),
        "{all}"
    );
    assert!(all.contains("store.dedup_window"), "{all}");
    assert!(all.contains("FIRST_RUN_UNSET_SECRET"), "{all}");
    assert!(all.contains("3 problem(s)"), "{all}");
    // `d` is a unit the message names.
    assert!(all.contains("(ms, s, m, h, d)"), "{all}");
}

#[test]
fn placeholder_secrets_are_refused_outside_dev() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "gh-secret", "REPLACE_ME\n");
    let cfg = write(
        dir.path(),
        "hookgate.yaml",
        "listen: 127.0.0.1:0\nstore: { path: ./data }\nroutes:\n  - { name: gh, path: /gh, provider: github, secrets: [{ file: gh-secret }] }\n  - { name: o, path: /o, verify: none, deliver: { url: \"http://127.0.0.1:9/x\", sign: { secret: \"whsec_UkVQTEFDRV9NRQ==\" } } }\n",
    );
    let cfg = cfg.to_str().unwrap();
    let (code, out, err) = run(&["check", "-c", cfg], &[]);
    let all = format!("{out}{err}");
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("routes[0].secrets[0]") && all.contains("placeholder"),
        "{all}"
    );
    // Base64 of REPLACE_ME behind whsec_ is one too.
    assert!(all.contains("routes[1].deliver.sign.secret"), "{all}");
    let (code, out, err) = run(&["check", "--dev", "-c", cfg], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(format!("{out}{err}").contains("placeholder"), "{out}{err}");
}

#[test]
fn serve_takes_listen_and_admin_listen_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "hookgate.yaml",
        "listen: 127.0.0.1:1\nadmin: { listen: 127.0.0.1:2 }\nstore: { path: ./data }\nroutes:\n  - { name: o, path: /o, verify: none }\n",
    );
    let (port, admin) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .args(["serve", "-c", cfg.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if try_request(admin, "GET", "/healthz", &[], b"").is_ok_and(|r| r.status == 200) {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = try_request(
        port,
        "POST",
        "/o",
        &[("content-type", "application/json")],
        b"{}",
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "the admin port is the flag's");
    assert_eq!(
        r.map(|r| r.status).ok(),
        Some(200),
        "webhooks on the flag's address"
    );
}

#[test]
fn completions_into_a_closed_pipe_exit_quietly() {
    let mut child = Command::new(BIN)
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -1` that has already gone: the first write meets a closed pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_port_in_use_ends_the_start_before_delivery_says_anything() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "hookgate.yaml",
        &format!("listen: 127.0.0.1:{port}\nadmin: {{ listen: 127.0.0.1:0 }}\nstore: {{ path: ./data }}\nroutes:\n  - {{ name: o, path: /o, verify: none, deliver: {{ url: \"http://127.0.0.1:9/x\" }} }}\n"),
    );
    let (code, _, err) = run(&["serve", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
    assert!(!err.contains("delivering"), "{err}");
}

#[test]
fn store_commands_need_no_secret_and_take_the_admin_token_from_the_configuration() {
    let app = App::start(|_, _| Reply::status(200));
    let token = "first-run-admin-token-9f2k";
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}}, token: \"{token}\" }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - name: o\n    path: /o\n    verify: none\n    event_id: {{ json: /id }}\n    deliver: {{ name: app, url: \"{}\", sign: {{ secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\" }} }}\n",
        app.url("/x")
    ));
    let _ = (&g, &app);
    let r = g.post(
        "/o",
        &[("content-type", "application/json")],
        br#"{"id":"fr-1"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // A configuration that names the same store and token, whose destination's signing
    // secret comes from a variable that is not set here.
    let cfg = write(
        g.dir.path(),
        "inspect.yaml",
        &format!(
            "store: {{ path: \"{}\" }}\nadmin: {{ token: \"{token}\" }}\nroutes:\n  - {{ name: o, path: /o, verify: none, deliver: {{ name: app, url: \"{}\", sign: {{ secret: \"${{FIRST_RUN_SIGN_SECRET}}\" }} }} }}\n",
            g.dir.path().join("store").display(),
            app.url("/x")
        ),
    );
    let cfg = cfg.to_str().unwrap();
    let (code, out, err) = run(&["store", "-c", cfg, "dead", "list"], &[]);
    assert_eq!(
        code,
        Some(0),
        "dead list with an unset signing secret: {out}{err}"
    );
    // The spool is read through the running gateway's API, with the token of the file.
    let (code, out, err) = run(&["store", "-c", cfg, "list", "--spool"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("the spool holds no events"), "{err}");
    // A wrong token in the environment wins, and the message says the API answered.
    let (code, _, err) = run(
        &["store", "-c", cfg, "list", "--spool"],
        &[("HOOKGATE_ADMIN_TOKEN", "wrong")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("answered 401") && !err.contains("did not answer"),
        "{err}"
    );
    // Conventions: a filter that matches nothing exits 1, an empty store or list 0.
    let (code, _, err) = run(
        &["store", "-c", cfg, "dead", "list", "--route", "nope"],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    let (code, _, err) = run(&["store", "-c", cfg, "dead", "show", "nope"], &[]);
    assert_eq!(code, Some(1), "{err}");
}

#[test]
fn readyz_says_spooling_while_the_broker_is_away() {
    let g = Gateway::start(
        "listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nbroker: { url: \"amqp://guest:guest@127.0.0.1:1/\", when_unavailable: spool }\nroutes:\n  - { name: o, path: /o, verify: none }\n",
    );
    let r = request(g.admin, "GET", "/readyz", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("spooling"), "{}", r.text());
}

#[test]
fn check_names_the_queues_a_delivering_route_really_has() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "hookgate.yaml",
        "listen: 127.0.0.1:0\nstore: { path: ./data }\nbroker: { url: \"amqp://guest:guest@127.0.0.1:5672/\", exchange: acme }\nroutes:\n  - { name: o, path: /o, verify: none, deliver: { name: app, url: \"http://127.0.0.1:9/x\" } }\n  - { name: p, path: /p, verify: none }\n",
    );
    let (code, out, err) = run(&["check", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let o = out
        .lines()
        .find(|l| l.contains("POST /o"))
        .unwrap_or_default();
    assert!(
        o.contains("(queue acme.o.deliver.app)") && !o.contains("queue: acme.o"),
        "{out}"
    );
    let p = out
        .lines()
        .find(|l| l.contains("POST /p"))
        .unwrap_or_default();
    assert!(p.contains("queue: acme.p (exchange acme)"), "{out}");
}

#[test]
fn json_logs_carry_plain_values_and_a_proxied_request_is_logged() {
    let app = App::start(|_, _| Reply::status(200));
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nlog: {{ format: json, level: debug }}\nroutes:\n  - {{ name: p, path: /p, verify: none, proxy: {{ url: \"{}\" }} }}\n  - {{ name: d, path: /d, verify: none, event_id: {{ json: /id }}, deliver: {{ url: \"{}\" }} }}\n",
        app.url("/proxied"),
        app.url("/delivered")
    ));
    let r = g.post("/p", &[("content-type", "application/json")], b"{}");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = g.post(
        "/d",
        &[("content-type", "application/json")],
        br#"{"id":"log-1"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    app.wait_for(2, Duration::from_secs(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let logs = loop {
        let logs = g.logs();
        if logs.contains("delivery attempt") || std::time::Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let line = |msg: &str| -> serde_json::Value {
        let l = logs
            .lines()
            .find(|l| l.contains(&format!("\"message\":\"{msg}\"")))
            .unwrap_or_else(|| panic!("no {msg:?} line in {logs}"));
        serde_json::from_str(l).unwrap()
    };
    let proxied = line("proxied");
    assert_eq!(proxied["fields"]["status"], 200, "{proxied}");
    let attempt = line("delivery attempt");
    assert_eq!(
        attempt["fields"]["status"], 200,
        "a number, not Some(200): {attempt}"
    );
    assert!(
        attempt["fields"].get("error").is_none(),
        "no empty error: {attempt}"
    );
}
