//! hookgate: a receiver-side webhook gateway.
//!
//! The tree follows the data's path, and each layer imports only those below it
//! (`scripts/module-graph` checks it; docs/architecture.md draws it):
//!
//! - `checks`: what the checks are, without I/O: event, verify (signature schemes and
//!   presets), schema, allowlist, ratelimit;
//! - `obs`: metrics and logs, below every part that reports to them;
//! - `config`: the YAML file compiled into routes (and the TLS files it names);
//! - `durable`: where an accepted event becomes durable: store (journal, dedup ledger),
//!   broker, spool, shared Redis, the hand-off among them, and the rejection log;
//! - `deliver`: accepted events on to the application, with retries and dead letters;
//! - `ingress`: the listener and the request pipeline, cheapest check first (see
//!   `ingress::pipeline::run`): route and method, source IP, rate limit, size (while
//!   streaming), signature and timestamp, JSON and schema, event id, dedup and durable
//!   hand-off (or the synchronous proxy);
//! - `ops`: start, reload and stop, the admin port and its API;
//! - `cli`: the commands; `testing`: fuzzing and robustness entry points.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub(crate) mod checks;
/// The binary's entry point (`main.rs` calls `cli::main`).
pub mod cli;
pub(crate) mod config;
pub(crate) mod deliver;
pub(crate) mod durable;
pub(crate) mod ingress;
pub(crate) mod obs;
pub(crate) mod ops;
#[doc(hidden)]
pub mod testing;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A duration for people: `0s`, `81ms`, `2.5s`, `1m 30s` (logs and messages; JSON log
/// lines carry it as a field of its own).
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".into()
    } else if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let s = format!("{:.1}", d.as_secs_f64());
        format!("{}s", s.trim_end_matches(".0"))
    } else {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    }
}

/// RFC 3339 with milliseconds, UTC.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}
