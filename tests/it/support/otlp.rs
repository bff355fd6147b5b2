//! A real OTLP/HTTP trace receiver for the tests that export spans: `otlp_receiver.py`,
//! run by the SDK python, decodes each `ExportTraceServiceRequest` with the official
//! protobuf definitions (the `opentelemetry-proto` package) and writes one JSON line per
//! span; stopped on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::common::free_port;
use crate::support::sdk;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/it/support/otlp_receiver.py"
);

pub struct Receiver {
    pub port: u16,
    file: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Receiver {
    /// Start the receiver on a free port; returns once it listens.
    pub fn start() -> Receiver {
        let python = sdk::python();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("spans.jsonl");
        let log = std::fs::File::create(dir.path().join("receiver.log")).unwrap();
        let port = free_port();
        let mut child = Command::new(python)
            .arg(SCRIPT)
            .arg(port.to_string())
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        // It prints `listening` once bound. A thread reads its stdout (to the end, so the
        // child never writes to a closed pipe) and the wait for that line is bounded.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == "listening" {
                    let _ = tx.send(());
                }
            }
        });
        let receiver = Receiver {
            port,
            file,
            child,
            _dir: dir,
        };
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            panic!("the OTLP receiver did not start: {}", receiver.logs());
        }
        receiver
    }

    /// The base URL; the exporter's endpoint is `{url}/v1/traces`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received so far, in arrival order: `trace_id`, `span_id`,
    /// `parent_span_id` (lowercase hex, "" when empty), `name`, `kind`
    /// ("SPAN_KIND_SERVER", ...), `attributes` (key -> plain JSON value), `status_code`
    /// ("STATUS_CODE_UNSET", ...), `status_message`, `service_name`, `resource`,
    /// `scope`, `start_time_unix_nano`, `end_time_unix_nano`, `events`.
    pub fn spans(&self) -> Vec<serde_json::Value> {
        let bytes = match std::fs::read(&self.file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => panic!("reading {}: {e}", self.file.display()),
        };
        // Whole lines only: a request's lines may be being written.
        let end = bytes.iter().rposition(|&b| b == b'\n').unwrap_or(0);
        std::str::from_utf8(&bytes[..end])
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
            })
            .collect()
    }

    /// Wait until `pred` holds for the spans received (or `limit` passed); returns them.
    pub fn wait_for(
        &self,
        pred: impl Fn(&[serde_json::Value]) -> bool,
        limit: Duration,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + limit;
        loop {
            let spans = self.spans();
            if pred(spans.as_slice()) || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the receiver wrote to stderr: its request log, or a traceback.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.file.with_file_name("receiver.log")).unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
