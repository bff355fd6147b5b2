//! Logs to stderr through `tracing`: `log.format` text or json, `log.level` as the
//! default filter, `RUST_LOG` overriding it. The dedup ledger's storage engine (fjall,
//! lsm-tree) logs at `warn` and above unless `RUST_LOG` asks for more: at `info` it
//! narrates every start's recovery, which is ours to summarise.
//!
//! Some dependencies log what they send: lapin's and amq-protocol's `trace` and `debug`
//! lines print AMQP frames, among them `Connection.StartOk` whose PLAIN response is
//! `\0user\0password`. [`CAPS`] is a second filter that no `RUST_LOG` value lifts.

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// The most each of these targets may log, whatever `RUST_LOG` says.
const CAPS: &[(&str, LevelFilter)] = &[
    ("lapin", LevelFilter::INFO),
    ("amq_protocol", LevelFilter::INFO),
    ("amq_protocol_tcp", LevelFilter::INFO),
    ("amq_protocol_types", LevelFilter::INFO),
    ("amq_protocol_uri", LevelFilter::INFO),
    ("pinky_swear", LevelFilter::INFO),
];

fn caps() -> Targets {
    CAPS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, &(target, level)| t.with_target(target, level),
    )
}

pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},fjall=warn,lsm_tree=warn", cfg.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let layer = match cfg.format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(caps()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn caps_hold_for_submodules() {
        let t = caps();
        assert!(!t.would_enable("lapin::channel", &Level::DEBUG));
        assert!(!t.would_enable("amq_protocol::frame", &Level::TRACE));
        assert!(t.would_enable("lapin::channel", &Level::INFO));
        assert!(t.would_enable("hookgate::broker", &Level::TRACE));
    }
}
