//! Test harness: start the real `hookgate` binary on free ports with a temporary
//! configuration, and speak plain HTTP/1.1 to it over real sockets.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const BIN: &str = env!("CARGO_BIN_EXE_hookgate");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `admin.token` of tests that change state through the admin API (replays need
/// one), and the header that presents it.
pub const ADMIN_TOKEN: &str = "admin-token-Ls93kf0";
pub const AUTH: (&str, &str) = ("authorization", "Bearer admin-token-Ls93kf0");

pub struct Gateway {
    pub child: Option<Child>,
    pub port: u16,
    pub admin: u16,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl Gateway {
    /// `yaml` may use {PORT}, {ADMIN}, {STORE} and {DIR}; it is written to DIR/hookgate.yaml.
    pub fn start(yaml: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, yaml)
    }

    pub fn start_in(dir: tempfile::TempDir, yaml: &str) -> Gateway {
        let port = free_port();
        let admin = free_port();
        let text = yaml
            .replace("{PORT}", &port.to_string())
            .replace("{ADMIN}", &admin.to_string())
            .replace("{STORE}", &dir.path().join("store").display().to_string())
            .replace("{DIR}", &dir.path().display().to_string());
        let config = dir.path().join("hookgate.yaml");
        std::fs::write(&config, text).unwrap();
        let log = dir.path().join("hookgate.log");
        let mut g = Gateway {
            child: None,
            port,
            admin,
            dir,
            config,
            log,
        };
        g.spawn();
        g
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["serve", "-c"])
            .arg(&self.config)
            .env("RUST_LOG", "hookgate=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_healthy();
    }

    pub fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("hookgate exited with {status}: {}", self.logs());
            }
            if let Ok(r) = try_request(self.admin, "GET", "/healthz", &[], b"") {
                if r.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("hookgate did not become healthy: {}", self.logs());
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.port, "POST", path, headers, body)
    }

    pub fn metrics(&self) -> String {
        request(self.admin, "GET", "/metrics", &[], b"").text()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Wait for exit, returning the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut().unwrap();
        while Instant::now() < deadline {
            if let Some(s) = child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("hookgate did not exit within {limit:?}");
    }

    /// A `/proc/PID/status` field in KiB (`VmRSS`, `RssAnon`, ...).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS")
    }

    /// Event ids in the store, via `hookgate store list --json`.
    pub fn stored_ids(&self) -> Vec<String> {
        list_ids(&self.dir.path().join("store"), &[])
    }
}

/// Event ids `hookgate store --path STORE list --json EXTRA...` prints.
pub fn list_ids(store: &Path, extra: &[&str]) -> Vec<String> {
    let out = Command::new(BIN)
        .args(["store", "--path"])
        .arg(store)
        .args(["list", "--json", "--limit", "1000000"])
        .args(extra)
        .env("HOOKGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_string()
    }
}

pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    try_request(port, method, path, headers, body).unwrap()
}

pub fn try_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    read_response(&mut s)
}

pub fn read_response(s: &mut TcpStream) -> std::io::Result<Response> {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> std::io::Result<Response> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            std::io::Error::other(format!(
                "no response head in {:?}",
                String::from_utf8_lossy(buf)
            ))
        })?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Ok(Response {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    })
}

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

pub fn github_sig(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
    )
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// An npm folder under `~/.cache` named `prefix-<hash of its package.json and files>`:
/// `package.json` installed once (pinned versions), `files` written beside it.
pub fn npm_folder(prefix: &str, package_json: &str, files: &[(&str, &str)]) -> PathBuf {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(package_json);
    for (name, text) in files {
        h.update(name);
        h.update(text);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    let dir = PathBuf::from(home).join(format!(
        ".cache/{prefix}-{}",
        &hex::encode(h.finalize())[..16]
    ));
    if !dir.join("installed").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), package_json).unwrap();
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(ok.success(), "npm install failed in {}", dir.display());
        std::fs::write(dir.join("installed"), "").unwrap();
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// With `$HOOKGATE_SCREENSHOTS` set to a folder (docs/images when the pictures in docs/
/// are made again), the named screenshots of `dir` are copied there.
pub fn keep_screenshots(dir: &Path, names: &[&str]) {
    if let Some(to) = std::env::var_os("HOOKGATE_SCREENSHOTS") {
        let to = PathBuf::from(to);
        std::fs::create_dir_all(&to).unwrap();
        for name in names {
            std::fs::copy(dir.join(name), to.join(name)).unwrap();
        }
    }
}

/// The npm folder's package for the browser tests: playwright-core, driving Debian's
/// chromium (its own browser downloads are not used).
pub const PLAYWRIGHT: &str =
    r#"{ "private": true, "dependencies": { "playwright-core": "1.65.2" } }"#;

/// What every browser script starts with: `args` (its command line), `errors` (the
/// page's uncaught errors) and `open(url, token, viewport)`, a page of the dashboard
/// with the admin token entered.
const BROWSER_PREAMBLE: &str = r##"
import { chromium } from "playwright-core";
const args = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const errors = [];
async function open(url, token, viewport) {
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.setDefaultTimeout(30000);
  await page.goto(url);
  await page.locator("#token-form").waitFor();
  await page.fill("#token", token);
  await page.click("#token-form button");
  return page;
}
"##;

/// Run browser script `name` (`script` after [`BROWSER_PREAMBLE`]) with `args`, for at
/// most `secs`: the JSON object it printed.
pub fn browser(name: &str, script: &str, args: &[&str], secs: u32) -> serde_json::Value {
    let text = format!("{BROWSER_PREAMBLE}{script}");
    let dir = npm_folder("hookgate-test-browser", PLAYWRIGHT, &[(name, &text)]);
    let out = Command::new("timeout")
        .arg(secs.to_string())
        .arg("node")
        .arg(dir.join(name))
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser script failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

/// `<target>/tmp/dashboard/`, where the browser tests leave their screenshots.
pub fn shots_dir() -> PathBuf {
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}
