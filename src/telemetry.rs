//! Logs to stderr through `tracing`: `log.format` text or json, `log.level` as the
//! default filter, `RUST_LOG` overriding it. The dedup ledger's storage engine (fjall,
//! lsm-tree) logs at `warn` and above unless `RUST_LOG` asks for more: at `info` it
//! narrates every start's recovery, which is ours to summarise.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},fjall=warn,lsm_tree=warn", cfg.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match cfg.format {
        LogFormat::Json => b.json().try_init(),
        LogFormat::Text => b.try_init(),
    };
}
