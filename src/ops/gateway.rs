//! Starting and stopping the gateway: open the store, bind the listeners, serve, and on
//! SIGTERM turn `/readyz` to 503, keep serving for `shutdown.delay`, close the listener,
//! let in-flight requests finish within `shutdown.grace`, flush, exit 0. SIGHUP reloads
//! the configuration; a broken one is refused and the running one keeps serving.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, Semaphore};

use crate::config::{self, Config};
use crate::durable::broker::{Broker, RouteTopology};
use crate::durable::handoff::Handoff;
use crate::durable::spool::Spool;
use crate::durable::store::Store;
use crate::ingress::pipeline::{App, Runtime};
use crate::obs::metrics::Metrics;
use crate::ops::admin::{self, Admin};
use crate::{config::tls, ingress::server};

pub(crate) async fn run(config: Config) -> anyhow::Result<()> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::new());
    let store = Store::open(&config.store, metrics.clone(), config.broker.is_some())?;
    let store_handle = store.clone();
    let rejections = crate::durable::rejections::Log::start(
        store.tables().0.rejections.clone(),
        &config.store.rejections,
        metrics.clone(),
    )?;
    let delivery = Some(crate::deliver::Delivery::start(
        store.clone(),
        metrics.clone(),
        &config,
    ));
    let shared = match &config.store.shared {
        Some(r) => {
            tracing::info!(redis = %r.redacted_url(), "dedup ids (and shared rate limits) in Redis, shared with the other replicas");
            Some(Arc::new(crate::durable::shared::Shared::connect(
                r,
                config.store.dedup_window,
                metrics.clone(),
            )?))
        }
        None => None,
    };
    let handoff = match &config.broker {
        None => Handoff::store_only(store),
        Some(b) => {
            let broker = Broker::start(b.clone(), topology(&config), metrics.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let spool = Arc::new(Spool::new(
                store.clone(),
                metrics.clone(),
                config.store.archive,
            )?);
            tokio::spawn(spool.clone().forward(broker.clone()));
            Handoff::with_broker(
                store,
                broker,
                spool,
                b.when_unavailable,
                config.store.archive,
            )
        }
    }
    .shared(shared.clone());
    let app = Arc::new(App {
        runtime: ArcSwap::from_pointee(Runtime::new(config.clone(), &metrics)),
        handoff,
        metrics,
        in_flight: Semaphore::new(config.limits.max_in_flight),
        admission: crate::ingress::admission::Admission::new(&config.limits),
        delivery,
        rejections,
        shared,
    });
    let listener = server::bind(config.listen, &config.listen_at).await?;
    let admin_listener = server::bind(config.admin_listen, &config.admin_at).await?;
    // Where `hookgate store` finds this gateway's API while it holds the store.
    if let Ok(mut addr) = admin_listener.local_addr() {
        // Listening on every address: `store` calls in over loopback, which the API
        // answers without a token (and which its `Host` check takes).
        if addr.ip().is_unspecified() {
            let lo: std::net::IpAddr = match addr {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            };
            addr.set_ip(lo);
        }
        let file = crate::durable::store::admin_file(&config.store.path);
        if let Err(e) = std::fs::write(&file, format!("{addr}\n")) {
            tracing::warn!(file = %file.display(), error = %e, "cannot record the admin address for `hookgate store`");
        }
    }
    let (tls, certificate) = match &config.tls {
        Some(t) => {
            let (acceptor, reloading) = tls::acceptor(t).map_err(anyhow::Error::msg)?;
            (Some(acceptor), Some(reloading))
        }
        None => (None, None),
    };
    let admin = Arc::new(Admin {
        app: app.clone(),
        draining: false.into(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(admin::serve(admin_listener, admin.clone(), stop_rx.clone()));
    {
        let store = store_handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::durable::store::RECORD_FLUSH);
            loop {
                tick.tick().await;
                store.flush_records();
            }
        });
    }
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            let mut summary = crate::ingress::pipeline::RejectionSummary::default();
            loop {
                tick.tick().await;
                let rt = app.runtime.load();
                rt.housekeeping();
                summary.log(&rt);
            }
        });
    }
    tracing::info!(
        listen = %config.listen,
        admin = %config.admin_listen,
        tls = config.tls.is_some(),
        routes = config.routes.len(),
        store = %config.store.path.display(),
        "hookgate serving"
    );
    let server = tokio::spawn(server::serve(
        listener,
        app.clone(),
        tls,
        stop_rx,
        config.shutdown.grace,
    ));

    tokio::spawn(watch_files(app.clone(), certificate));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(&app),
        }
    }
    let shutdown = app.runtime.load().config.shutdown.clone();
    tracing::info!(delay = %crate::human(shutdown.delay), grace = %crate::human(shutdown.grace), "shutting down: /readyz now 503");
    admin.draining.store(true, Ordering::Relaxed);
    tokio::time::sleep(shutdown.delay).await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    if let Some(d) = &app.delivery {
        d.shutdown(shutdown.grace).await;
    }
    app.handoff.flush().await;
    tracing::info!("stopped");
    Ok(())
}

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
async fn watch_files(app: Arc<App>, certificate: Option<Arc<tls::Reloading>>) {
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
        tracing::info!(files = ?changed, "configuration files changed; reloading");
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
fn reload(app: &App) {
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
