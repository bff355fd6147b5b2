//! hookgate: a receiver-side webhook gateway.
//!
//! A request goes through, cheapest check first (see `pipeline::run`):
//!
//! 1. route and method ............ `pipeline`
//! 2. client IP, allowlist ........ `allowlist`
//! 3. rate limit .................. `ratelimit`; in-flight and memory shares `admission`
//! 4. size (while streaming) ...... `body` (with `server`'s timeouts)
//! 5. signature + timestamp ....... `verify` (one file per scheme family)
//! 6. JSON parse, JSON Schema ..... `pipeline`, `schema`
//! 7. event id and type ........... `event`
//! 8. dedup + durable hand-off .... `dedup`, `handoff`: `broker` (confirms), else `store`
//!    (kept events in its `journal`); `spool` when the broker is down
//!
//! Around it: `config` (load and validate), `server` (transport), `admin` and
//! `metrics` (operating it), `gateway` (start and stop), `cli` and `sign`.

#![forbid(unsafe_code)]

pub(crate) mod admin;
pub(crate) mod admission;
pub(crate) mod allowlist;
pub(crate) mod api;
pub(crate) mod broker;
pub mod cli;
pub mod config;
pub(crate) mod dedup;
pub(crate) mod deliver;
pub(crate) mod event;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod gateway;
pub(crate) mod handoff;
pub(crate) mod journal;
pub mod metrics;
pub mod pipeline;
pub(crate) mod ratelimit;
pub(crate) mod rejections;
mod robustness;
pub(crate) mod schema;
pub(crate) mod server;
pub(crate) mod shared;
pub(crate) mod sign;
pub(crate) mod spool;
pub mod store;
pub(crate) mod telemetry;
pub(crate) mod tls;
pub mod verify;

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
pub fn human(d: Duration) -> String {
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
pub fn rfc3339_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}
