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
//! again with the current configuration once its cause is fixed. A shared-token
//! credential (GitLab's `X-Gitlab-Token`, Basic auth, a URL token) is the route's secret
//! itself: only its SHA-256 is kept, and a replay puts back the configured secret with
//! that digest ([`Raw::request`]).
//!
//! Every byte an unauthenticated sender makes the log hold is budgeted (docs/security.md):
//! - a record is built from capped fields ([`record`]): header names, values, their
//!   count and total, the reason and the path; the raw request only with capture;
//! - records wait for the writer in one queue per route, all within
//!   [`crate::config::REJECTIONS_QUEUE_BYTES`], which `limits.memory`'s check counts;
//!   when it is full the longest queue gives up its newest records (a captured body
//!   first), counted in `hookgate_rejections_dropped_total`;
//! - repeats of one refusal (same route, code and client) that need no body (rate
//!   limited, not found, method, allowlist, 503) within a minute add to the first
//!   record's `repeats` instead of making records;
//! - one writer thread takes the routes' queues in turn (a flood on one route, or on
//!   unknown paths, never delays another's records) and writes at most
//!   [`WRITE_RATE`] bytes a second, so that no flood can grow the store faster;
//! - on disk each route keeps at most `keep` records, none older than `max_age`, and all
//!   routes together at most `max_bytes`, taken from the route holding the most (oldest
//!   first, from an index kept in memory).
//!
//! Nothing is synced for it: a crash loses at most the last records, which are diagnostics.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::request::Parts;

use crate::config::RejectionsConfig;
use crate::obs::metrics::Metrics;

mod queue;
mod read;
mod reader;
mod record;
mod writer;

pub(crate) use read::{find, list, mark_replayed, Filter};
pub(crate) use record::masked;

/// Record bytes written to the store per second at most (with a burst of twice that):
/// about two hundred full records, or one captured 1 MiB body.
pub(crate) const WRITE_RATE: usize = 1 << 20;

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
    /// Name and value; credential values shown as `*** (N bytes)`, long values cut.
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
    /// With `capture_body`: why this request was not kept (a budget), if it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_captured: Option<String>,
    /// The same refusal (route, code, client) again this many times after this one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeats: u64,
    /// When the last repeat came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// A shared-token scheme's credential, taken out of `uri` or `headers`: its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_sha256: Option<String>,
}

impl Raw {
    /// The request's head and body again; a shared-token credential is put back as the
    /// secret of `route` with the recorded digest (none matching: left out, so the
    /// replay is refused like the request was).
    pub(crate) fn request(&self, route: Option<&crate::config::Route>) -> Option<(Parts, Bytes)> {
        let mut uri = self.uri.clone();
        let mut b = http::Request::builder().method("POST");
        for (n, v) in &self.headers {
            let v = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
            b = b.header(n, v);
        }
        if let (Some(digest), Some(route)) = (&self.credential_sha256, route) {
            if let Some((headers, query)) = record::restore_credential(route, digest) {
                for (n, v) in headers {
                    b = b.header(n, v);
                }
                if let Some(q) = query {
                    uri.push(if uri.contains('?') { '&' } else { '?' });
                    uri.push_str(&q);
                }
            }
        }
        let body = base64::engine::general_purpose::STANDARD
            .decode(&self.body_base64)
            .ok()?;
        let (parts, ()) = b.uri(uri).body(()).ok()?.into_parts();
        Some((parts, Bytes::from(body)))
    }
}

/// What the request path knows of a refused request.
pub(crate) struct Refused<'a> {
    pub route: &'a str,
    pub verifier: Option<&'a crate::checks::verify::Verifier>,
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
pub(crate) struct Log {
    queue: Arc<queue::Queue>,
    metrics: Arc<Metrics>,
    seq: Arc<std::sync::atomic::AtomicU64>,
}

impl Log {
    /// Start the writer over `keyspace`.
    pub(crate) fn start(
        keyspace: fjall::Keyspace,
        cfg: &RejectionsConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Log> {
        let w = writer::Writer::new(keyspace);
        let last = w.last_seq();
        let queue = Arc::new(queue::Queue::new(cfg.clone()));
        let q = queue.clone();
        std::thread::Builder::new()
            .name("hookgate-rejections".into())
            .spawn(move || w.run(q))?;
        Ok(Log {
            queue,
            metrics,
            seq: Arc::new(std::sync::atomic::AtomicU64::new(last)),
        })
    }

    /// A reloaded configuration's budgets.
    pub(crate) fn configure(&self, cfg: &RejectionsConfig) {
        self.queue.configure(cfg.clone());
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

    /// Record `r`; never blocks (on a lock held only to count and queue).
    pub(crate) fn record(&self, r: Refused) {
        let now_ms = crate::now_ms();
        if self.queue.repeat(r.route, r.code, r.source, now_ms) {
            return;
        }
        let seq = self.next_seq(now_ms.max(0) as u64 * 1000);
        // A captured body is copied (base64) only when the queue could take it.
        let capture = r.capture
            && r.body
                .is_some_and(|b| b.len() / 3 * 4 + record::RAW_HEADERS <= self.queue.room(r.route));
        let stored = record::build(seq, now_ms, &Refused { capture, ..r });
        let dropped = self.queue.push(stored, r.code, r.source, now_ms);
        if dropped > 0 {
            self.metrics.rejections_dropped.inc_by(dropped);
        }
    }
}

#[cfg(test)]
mod tests;
