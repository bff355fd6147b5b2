//! Named IP sets: `allow_ips: [github]` admits GitHub's published webhook ranges and
//! refuses other sources; `hookgate ips update` reads every provider's list from a
//! local HTTP server standing in for the providers (Python's http.server), writes them
//! all or nothing, and a configuration's `ip_sets:` then uses what it wrote.

use std::process::{Child, Command, Stdio};

use crate::support::common::*;

fn gateway(extra: &str) -> Gateway {
    Gateway::start(&format!(
        r#"
listen: 127.0.0.1:{{PORT}}
admin: {{ listen: 127.0.0.1:{{ADMIN}} }}
store: {{ path: "{{STORE}}" }}
trusted_proxies: [127.0.0.1/32]
{extra}
routes:
  - {{ name: gh, path: /gh, provider: github, secrets: [s], allow_ips: [github, 10.9.0.0/16] }}
"#
    ))
}

/// POST a GitHub-signed event as if from `ip` (through the trusted local proxy).
fn from(g: &Gateway, ip: &str) -> u16 {
    let body = format!(r#"{{"zen":"{ip}"}}"#);
    let sig = {
        use hmac::Mac as _;
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s").unwrap();
        m.update(body.as_bytes());
        format!("sha256={}", hex::encode(m.finalize().into_bytes()))
    };
    g.post(
        "/gh",
        &[
            ("x-forwarded-for", ip),
            ("x-hub-signature-256", &sig),
            ("x-github-delivery", &format!("d-{ip}")),
        ],
        body.as_bytes(),
    )
    .status
}

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serve `dir` over HTTP on a free loopback port (stopped and reaped by `Server`'s drop).
#[allow(clippy::zombie_processes)]
fn serve(dir: &std::path::Path) -> Server {
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .arg("--directory")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Server(child, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("http.server did not start");
}

fn set_names() -> Vec<String> {
    let out = Command::new(BIN).args(["ips", "list"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn allow_ips_github_admits_githubs_published_ranges_and_refuses_others() {
    let g = gateway("");
    // 192.30.252.0/22 and 140.82.112.0/20 are in GitHub's `hooks` list.
    assert_eq!(from(&g, "192.30.252.10"), 200);
    assert_eq!(from(&g, "140.82.115.4"), 200);
    assert_eq!(from(&g, "10.9.1.1"), 200, "a CIDR beside the set");
    assert_eq!(from(&g, "203.0.113.9"), 403);
    assert_eq!(from(&g, "8.8.8.8"), 403);
    // An unknown name is a configuration error that names the known sets.
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "bad.yaml",
        "routes:\n  - { name: a, path: /a, verify: none, allow_ips: [gihub] }\n",
    );
    let out = Command::new(BIN)
        .arg("check")
        .arg("-c")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("allow_ips[0]") && err.contains("\"gihub\"") && err.contains("github"),
        "{err}"
    );
}

#[test]
fn ips_update_reads_every_published_list_and_writes_all_or_nothing() {
    let site = tempfile::tempdir().unwrap();
    let names = set_names();
    assert!(names.contains(&"github".to_string()) && names.contains(&"stripe".to_string()));
    // The stand-in serves each provider's document in its published format.
    let doc = |name: &str| -> (String, String) {
        match name {
            "github" => (
                "meta".into(),
                r#"{"hooks":["198.51.100.0/24","2001:db8::/32"],"web":["1.1.1.1/32"]}"#.into(),
            ),
            "stripe" => (
                "ips_webhooks.json".into(),
                r#"{"WEBHOOKS":["203.0.113.7","203.0.113.8"]}"#.into(),
            ),
            "atlassian" => (
                "ip-ranges.json".into(),
                r#"{"items":[{"cidr":"198.18.0.0/28","direction":["egress"]},{"cidr":"198.18.1.0/28","direction":["ingress"]}]}"#.into(),
            ),
            other => (
                format!("{other}.txt"),
                "192.0.2.1\n# a comment\n192.0.2.0/28\n".into(),
            ),
        }
    };
    let server = serve(site.path());
    let mut args: Vec<String> = vec!["ips".into(), "update".into()];
    for n in &names {
        let (file, body) = doc(n);
        write(site.path(), &file, &body);
        args.push("--source".into());
        args.push(format!("{n}=http://127.0.0.1:{}/{file}", server.1));
    }
    let out_file = site.path().join("sets.json");
    // One list missing: exit 1, and nothing is written.
    let mut broken = args.clone();
    let i = broken
        .iter()
        .position(|a| a.starts_with("github="))
        .unwrap();
    broken[i] = format!("github=http://127.0.0.1:{}/missing", server.1);
    let out = Command::new(BIN)
        .args(&broken)
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out_file.exists());
    let out = Command::new(BIN)
        .args(&args)
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(
        written["sets"]["github"]["ranges"],
        serde_json::json!(["198.51.100.0/24", "2001:db8::/32"])
    );
    assert_eq!(
        written["sets"]["stripe"]["ranges"],
        serde_json::json!(["203.0.113.7", "203.0.113.8"])
    );
    assert_eq!(
        written["sets"]["atlassian"]["ranges"],
        serde_json::json!(["198.18.0.0/28"]),
        "only the egress ranges"
    );
    assert_eq!(written["sets"].as_object().unwrap().len(), names.len());
    // A configuration naming the file uses what it says.
    let g = gateway(&format!("ip_sets: {}", out_file.display()));
    assert_eq!(from(&g, "198.51.100.7"), 200);
    assert_eq!(
        from(&g, "192.30.252.10"),
        403,
        "the shipped range no longer applies"
    );
}
