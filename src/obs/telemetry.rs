//! Logs to stderr through `tracing`: `log.format` text or json, `log.level` as the
//! default filter, `RUST_LOG` overriding it. The dedup ledger's storage engine (fjall,
//! lsm-tree) logs at `warn` and above unless `RUST_LOG` asks for more: at `info` it
//! narrates every start's recovery, which is ours to summarise.
//!
//! Some dependencies log what they send: lapin's and amq-protocol's `trace` and `debug`
//! lines print AMQP frames, among them `Connection.StartOk` whose PLAIN response is
//! `\0user\0password`. [`CAPS`] is a second filter that no `RUST_LOG` value lifts.

use std::io::IsTerminal;

use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// `log:` (and `--log-format`, `--log-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// The most each of these targets may log, whatever `RUST_LOG` says.
const CAPS: &[(&str, LevelFilter)] = &[
    ("lapin", LevelFilter::INFO),
    ("amq_protocol", LevelFilter::INFO),
    ("amq_protocol_tcp", LevelFilter::INFO),
    ("amq_protocol_types", LevelFilter::INFO),
    ("amq_protocol_uri", LevelFilter::INFO),
    ("pinky_swear", LevelFilter::INFO),
    // lapin's own recovery gives up ("aborting recovery") while hookgate's reconnect
    // loop keeps trying and logs each attempt: that line would say the opposite.
    ("lapin::io_loop", LevelFilter::OFF),
];

fn caps() -> Targets {
    CAPS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, &(target, level)| t.with_target(target, level),
    )
}

/// The filter for `spec` (`RUST_LOG`, else `log.level`). A bare level (`debug`) is
/// hookgate's: dependencies stay at `warn`, so `RUST_LOG=debug` shows what hookgate did,
/// not the storage engine's and the HTTP stack's internals. Directives naming targets
/// (`debug,hyper=debug`) are taken as written.
pub(crate) fn directives(spec: &str) -> String {
    let spec = spec.trim();
    if spec.parse::<LevelFilter>().is_ok() {
        format!("warn,hookgate={spec}")
    } else {
        format!("{spec},fjall=warn,lsm_tree=warn")
    }
}

pub(crate) fn init(cfg: &LogConfig) {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| cfg.level.clone());
    let filter = EnvFilter::try_new(directives(&spec)).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let layer = match cfg.format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    // One filter, both conditions: with two nested per-layer filters only the outer
    // one (the caps, TRACE by default) was asked whether an event was wanted, so every
    // `debug!` on the hot path built its fields and was dispatched, to be dropped by
    // the inner one (seen in the benchmark's profile).
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter.and(caps())))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn a_bare_level_is_hookgates_and_dependencies_stay_at_warn() {
        assert_eq!(directives("debug"), "warn,hookgate=debug");
        assert_eq!(directives(" info "), "warn,hookgate=info");
        assert_eq!(
            directives("debug,hyper=debug"),
            "debug,hyper=debug,fjall=warn,lsm_tree=warn"
        );
    }

    #[test]
    fn caps_hold_for_submodules() {
        let t = caps();
        assert!(!t.would_enable("lapin::channel", &Level::DEBUG));
        assert!(!t.would_enable("amq_protocol::frame", &Level::TRACE));
        assert!(t.would_enable("lapin::channel", &Level::INFO));
        assert!(t.would_enable("hookgate::broker", &Level::TRACE));
    }
}
