//! Reloading: on SIGHUP, and when the configuration file or a file it names changes
//! (polled), the configuration is read again and swapped in only when valid; the
//! running one keeps serving otherwise. The TLS certificate is re-read when its files
//! change, whether or not the configuration around it is valid.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, tls, Config};
use crate::ingress::pipeline::{App, Runtime};

use crate::durable::broker::RouteTopology;

/// Each route's queue, for declaring the broker topology.
pub(crate) fn topology(config: &Config) -> Vec<RouteTopology> {
    config
        .routes
        .iter()
        .map(|r| RouteTopology {
            route: r.name.to_string(),
            queue: r.queue.clone(),
            deliver_queues: r
                .deliver
                .iter()
                .map(|d| crate::deliver::consume::queue_name(&r.queue, &d.name))
                .collect(),
        })
        .collect()
}

/// What identifies a file's content cheaply: metadata follows symlinks, so Kubernetes'
/// atomic `..data` symlink swap on a mounted Secret or ConfigMap shows up as a change.
fn stamp(p: &std::path::Path) -> Option<(std::time::SystemTime, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| {
        (
            m.modified().unwrap_or(std::time::UNIX_EPOCH),
            m.len(),
            m.ino(),
        )
    })
}

/// Reload when the configuration file or any file it references (secrets, schemas, TLS)
/// changes, and re-read the TLS certificate when its files did. The one watcher of the
/// process. Polling rather than inotify: it sees symlink swaps and replaced directories
/// the same way, costs a few `stat`s a second, and needs no watch bookkeeping.
pub(super) async fn watch_files(app: Arc<App>, certificate: Option<Arc<tls::Reloading>>) {
    let stamps = |app: &App| -> Vec<_> {
        app.runtime
            .load()
            .config
            .files
            .iter()
            .map(|f| (f.clone(), stamp(f)))
            .collect()
    };
    let mut last = stamps(&app);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now: Vec<_> = last.iter().map(|(f, _)| (f.clone(), stamp(f))).collect();
        if now == last {
            continue;
        }
        let changed: Vec<String> = now
            .iter()
            .zip(&last)
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| a.0.display().to_string())
            .collect();
        tracing::info!(files = %changed.join(", "), "configuration files changed; reloading");
        reload(&app);
        // The certificate too, whether or not the configuration it sits in is valid.
        if let Some(c) = &certificate {
            if now
                .iter()
                .zip(&last)
                .any(|(a, b)| a.1 != b.1 && c.uses(&a.0))
            {
                c.reload();
            }
        }
        // Watch the files of whichever configuration now serves, with the stamps taken
        // before the reload read them, so a change during the reload is not missed.
        let seen: std::collections::HashMap<_, _> = now.into_iter().collect();
        last = app
            .runtime
            .load()
            .config
            .files
            .iter()
            .map(|f| (f.clone(), seen.get(f).cloned().unwrap_or_else(|| stamp(f))))
            .collect();
    }
}

/// Re-read the configuration; swap it in only if it is valid.
pub(super) fn reload(app: &App) {
    let current = app.runtime.load_full();
    let source = current.config.source.clone();
    match config::load_mode(&source, current.config.dev) {
        Ok(new) => {
            for w in &new.warnings {
                tracing::warn!("{w}");
            }
            if new.listen != current.config.listen
                || new.admin_listen != current.config.admin_listen
            {
                tracing::warn!("listen addresses changed: they take effect at the next restart");
            }
            if let Some(broker) = app.handoff.broker() {
                if new.broker.as_ref().map(|b| (&b.url, &b.exchange))
                    != current
                        .config
                        .broker
                        .as_ref()
                        .map(|b| (&b.url, &b.exchange))
                {
                    tracing::warn!(
                        "broker url/exchange changed: they take effect at the next restart"
                    );
                }
                let (broker, topology) = (broker.clone(), topology(&new));
                tokio::spawn(async move {
                    if let Err(e) = broker.set_routes(topology).await {
                        tracing::error!(error = %e, "declaring the reloaded routes' queues failed");
                    }
                });
            }
            if let Some(d) = &app.delivery {
                d.apply(&new);
            }
            app.rejections.configure(&new.store.rejections);
            app.runtime
                .store(Arc::new(Runtime::new(Arc::new(new), &app.metrics)));
            app.metrics.config_reload_failed.set(0);
            tracing::info!(file = %source.display(), "configuration reloaded");
        }
        Err(errors) => {
            app.metrics.config_reload_failed.set(1);
            for e in &errors.0 {
                tracing::error!("{e}");
            }
            tracing::error!(file = %source.display(), "configuration reload refused; the previous configuration keeps serving");
        }
    }
}
