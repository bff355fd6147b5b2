//! The rejection log: every refused request, recorded so that an operator can answer
//! "did the provider send it, and why was it refused?" without grep.
//!
//! A record holds the time, route, source IP, status, error code and reason (which
//! header was missing, which check failed; never an expected signature or a secret: see
//! `verify::VerifyError`), the method and path (query values masked: a token may travel
//! there), the request headers with the values of signature, credential and cookie
//! headers masked, and the body's size and SHA-256. With `store.rejections.capture_body`
//! (off by default: bodies are personal data) it also keeps the request as received,
//! which shows the body's first bytes and lets `POST /api/v1/rejections/replay` verify it
//! again with the current configuration once its cause is fixed.
//!
//! Records live in the store's database (keyspace `rejections`), keyed by route and a
//! time-ordered sequence, at most `keep` per route (a flood on one route, or on unknown
//! paths, pushes out only its own) and none older than `max_age`. The request path only
//! builds the record and offers it to a bounded channel; one thread writes. When the
//! channel is full (a flood of refused requests), the record is dropped and counted in
//! `hookgate_rejections_dropped_total`: the log must never slow down or stop the edge.
//! Nothing is synced for it: a crash loses at most the last records, which are diagnostics.

use std::net::IpAddr;
use std::sync::mpsc;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::request::Parts;
use sha2::Digest as _;

use crate::config::RejectionsConfig;
use crate::metrics::Metrics;

mod read;
mod writer;

pub use read::{find, list, mark_replayed, Filter};

/// Records waiting for the writer at most; past it they are dropped and counted.
const QUEUE: usize = 1024;
/// Bytes of a captured body shown in listings (`body_head`).
const HEAD: usize = 256;

/// A refused request as the CLI, the API and the dashboard show it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Rejected {
    /// Unique and time-ordered (microseconds since the epoch, made unique).
    pub seq: u64,
    pub received_at: String,
    pub route: String,
    pub source_ip: String,
    pub status: u16,
    pub code: String,
    pub reason: String,
    pub method: String,
    /// The path, with query values masked.
    pub path: String,
    /// Name and value; credential values shown as `*** (N bytes)`.
    pub headers: Vec<(String, String)>,
    /// `None` when the request was refused before its body was read.
    pub body_bytes: Option<usize>,
    pub body_sha256: Option<String>,
    /// The body's first bytes (lossy UTF-8), only with `capture_body`.
    pub body_head: Option<String>,
    /// The request as received is kept: it can be replayed.
    pub replayable: bool,
    /// Replayed and accepted: the event id it was kept under.
    pub replayed_as: Option<String>,
}

/// A record as stored: what is shown, and the request as received when captured.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Stored {
    pub shown: Rejected,
    pub raw: Option<Raw>,
}

/// The request as received (only with `capture_body`), to verify again on replay.
/// Never sent by the API: header values may carry a provider's credential.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Raw {
    pub https: bool,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body_base64: String,
    pub received_at_ms: i64,
}

impl Raw {
    /// The request's head and body again.
    pub fn request(&self) -> Option<(Parts, Bytes)> {
        let mut b = http::Request::builder().method("POST").uri(&self.uri);
        for (n, v) in &self.headers {
            let v = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
            b = b.header(n, v);
        }
        let body = base64::engine::general_purpose::STANDARD
            .decode(&self.body_base64)
            .ok()?;
        let (parts, ()) = b.body(()).ok()?.into_parts();
        Some((parts, Bytes::from(body)))
    }
}

/// What the request path knows of a refused request.
pub struct Refused<'a> {
    pub route: &'a str,
    pub verifier: Option<&'a crate::verify::Verifier>,
    pub source: IpAddr,
    pub status: u16,
    pub code: &'static str,
    pub reason: String,
    pub parts: &'a Parts,
    pub https: bool,
    pub body: Option<&'a Bytes>,
    /// `store.rejections.capture_body` (read per request: it follows a reload).
    pub capture: bool,
}

/// The request path's handle: offers records to the writer.
#[derive(Clone)]
pub struct Log {
    tx: mpsc::SyncSender<Stored>,
    metrics: Arc<Metrics>,
    seq: Arc<std::sync::atomic::AtomicU64>,
}

impl Log {
    /// Start the writer over `keyspace`.
    pub fn start(
        keyspace: fjall::Keyspace,
        cfg: &RejectionsConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Log> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let last = writer::last_seq(&keyspace);
        let w = writer::Writer::new(keyspace, cfg.clone());
        std::thread::Builder::new()
            .name("hookgate-rejections".into())
            .spawn(move || w.run(rx))?;
        Ok(Log {
            tx,
            metrics,
            seq: Arc::new(std::sync::atomic::AtomicU64::new(last)),
        })
    }

    /// A unique, time-ordered sequence: microseconds since the epoch, or one more than
    /// the last when the clock has not moved on (or went back).
    fn next_seq(&self, now_us: u64) -> u64 {
        use std::sync::atomic::Ordering;
        let mut prev = self.seq.load(Ordering::Relaxed);
        loop {
            let next = now_us.max(prev + 1);
            match self
                .seq
                .compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }

    /// Record `r`; never blocks.
    pub fn record(&self, r: Refused) {
        let now_ms = crate::now_ms();
        let seq = self.next_seq(now_ms.max(0) as u64 * 1000);
        let stored = build(seq, now_ms, &r);
        if self.tx.try_send(stored).is_err() {
            self.metrics.rejections_dropped.inc();
        }
    }
}

/// Whether a header's value is masked: credentials and signatures by name, and those
/// the route's scheme reads.
fn masked(name: &str, verifier: Option<&crate::verify::Verifier>) -> bool {
    const WORDS: [&str; 9] = [
        "auth",
        "cookie",
        "signature",
        "sig",
        "token",
        "secret",
        "key",
        "hmac",
        "password",
    ];
    WORDS.iter().any(|w| name.contains(w)) || verifier.is_some_and(|v| v.reads_credential(name))
}

fn build(seq: u64, now_ms: i64, r: &Refused) -> Stored {
    let (p, capture) = (r.parts, r.capture);
    let headers = p
        .headers
        .iter()
        .map(|(n, v)| {
            let shown = if masked(n.as_str(), r.verifier) {
                format!("*** ({} bytes)", v.len())
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (n.as_str().to_owned(), shown)
        })
        .collect();
    let mut path = p.uri.path().to_owned();
    if let Some(q) = p.uri.query() {
        let names: Vec<String> = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, _)| format!("{k}=***"))
            .collect();
        path = format!("{path}?{}", names.join("&"));
    }
    let raw = (capture && r.body.is_some()).then(|| Raw {
        https: r.https,
        uri: p.uri.to_string(),
        headers: p
            .headers
            .iter()
            .filter(|(n, _)| *n != http::header::COOKIE)
            .map(|(n, v)| {
                let v = base64::engine::general_purpose::STANDARD.encode(v.as_bytes());
                (n.as_str().to_owned(), v)
            })
            .collect(),
        body_base64: r
            .body
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
            .unwrap_or_default(),
        received_at_ms: now_ms,
    });
    Stored {
        shown: Rejected {
            seq,
            received_at: crate::rfc3339_ms(now_ms),
            route: r.route.to_owned(),
            source_ip: r.source.to_string(),
            status: r.status,
            code: r.code.to_owned(),
            reason: r.reason.clone(),
            method: p.method.to_string(),
            path,
            headers,
            body_bytes: r.body.map(|b| b.len()),
            body_sha256: r.body.map(|b| hex::encode(sha2::Sha256::digest(b))),
            body_head: r
                .body
                .filter(|_| capture)
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(HEAD)]).into_owned()),
            replayable: raw.is_some(),
            replayed_as: None,
        },
        raw,
    }
}

#[cfg(test)]
mod tests;
