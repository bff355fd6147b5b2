//! A broker that refuses the configured credentials or virtual host is a configuration
//! error, reported as one: at start, exit 2 with a message naming the URL's user (never
//! its password); later (a rotated password), hookgate keeps retrying and spooling, and
//! `/readyz` and `hookgate_broker_refused` say why.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::common::*;

/// A configuration on `url` with its own exchange and queue (deleted by `Owned`'s drop).
fn config(url: &str) -> (String, Owned) {
    let (exchange, queue) = (
        crate::support::rabbit::unique("refused"),
        crate::support::rabbit::unique("refused.q"),
    );
    (
        format!(
            "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nbroker: {{ url: \"{url}\", exchange: {exchange} }}\nroutes:\n  - {{ name: gh, path: /gh, verify: none, queue: {queue} }}\n"
        ),
        Owned(exchange, queue),
    )
}

struct Owned(String, String);

impl Drop for Owned {
    fn drop(&mut self) {
        crate::support::rabbit::Rabbit::connect().owns(&self.0, &[&self.1]);
    }
}

/// Run `serve` on `yaml` and return its exit code and stderr (it must exit on its own).
fn serve_exit(yaml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = yaml
        .replace("{PORT}", &free_port().to_string())
        .replace("{ADMIN}", &free_port().to_string())
        .replace("{STORE}", &dir.path().join("store").display().to_string());
    let cfg = write(dir.path(), "hookgate.yaml", &yaml);
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("-c")
        .arg(&cfg)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into(),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    panic!(
        "serve did not exit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn refused_credentials_or_vhost_at_start_exit_2_naming_the_user_not_the_password() {
    let (yaml, _owned) = config("amqp://hookgate-nobody:wrong-secret-pw@127.0.0.1:5672/%2f");
    let (code, err) = serve_exit(&yaml);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("refused the credentials"), "{err}");
    assert!(err.contains("hookgate-nobody"), "{err}");
    assert!(
        !err.contains("wrong-secret-pw"),
        "the password leaked: {err}"
    );
    let (yaml, _owned) = config("amqp://guest:guest@127.0.0.1:5672/no-such-vhost-for-hookgate");
    let (code, err) = serve_exit(&yaml);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("refused the virtual host"), "{err}");
    // No line from lapin saying its recovery was aborted.
    assert!(!err.contains("aborting recovery"), "{err}");
}

#[test]
fn a_password_rotated_under_a_running_gateway_shows_in_readyz_and_the_metric() {
    let user = crate::support::rabbit::unique("hgrot");
    rabbitmqctl(&["add_user", &user, "first-password"]);
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("rabbitmqctl")
                .args(["delete_user", &self.0])
                .output();
        }
    }
    let _cleanup = Cleanup(user.clone());
    rabbitmqctl(&["set_permissions", "-p", "/", &user, ".*", ".*", ".*"]);
    let (yaml, _owned) = config(&format!("amqp://{user}:first-password@127.0.0.1:5672/%2f"));
    let g = Gateway::start(&yaml);
    let readyz = || request(g.admin, "GET", "/readyz", &[], b"").text();
    assert_eq!(readyz(), "ready\n");
    rabbitmqctl(&["change_password", &user, "second-password"]);
    rabbitmqctl(&["close_all_user_connections", &user, "password rotated"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut said = String::new();
    while Instant::now() < deadline {
        said = readyz();
        if said.contains("refused the credentials") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        said.starts_with("ready, spooling: the broker refused the credentials"),
        "{said}"
    );
    assert!(
        said.contains(&user) && !said.contains("first-password"),
        "{said}"
    );
    assert!(g.metrics().contains("hookgate_broker_refused 1"));
    // Still accepting: events go to the spool until the password is fixed.
    assert_eq!(g.post("/gh", &[], b"{\"spooled\":true}").status, 200);
    rabbitmqctl(&["change_password", &user, "first-password"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && readyz() != "ready\n" {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(readyz(), "ready\n");
    assert!(g.metrics().contains("hookgate_broker_refused 0"));
    let logs = g.logs();
    assert!(
        logs.contains("broker refused the connection; retrying"),
        "{logs}"
    );
    assert!(!logs.contains("first-password") && !logs.contains("second-password"));
}
