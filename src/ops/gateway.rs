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

use crate::config::Config;
use crate::durable::broker::Broker;
use crate::durable::handoff::Handoff;
use crate::durable::spool::Spool;
use crate::durable::store::Store;
use crate::ingress::pipeline::{App, Runtime};
use crate::obs::metrics::Metrics;
use crate::ops::admin::{self, Admin};
use crate::ops::reload::{reload, topology, watch_files};
use crate::{config::tls, ingress::server};

pub(crate) async fn run(config: Config) -> anyhow::Result<()> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    // The ports first: a port in use ends the start before anything else has begun.
    let listener = server::bind(config.listen, &config.listen_at).await?;
    let admin_listener = server::bind(config.admin_listen, &config.admin_at).await?;
    let config = Arc::new(config);
    let (app, store) = start(config.clone()).await?;
    record_admin_address(&admin_listener, &config);
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
        series: Arc::default(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(admin::serve(admin_listener, admin.clone(), stop_rx.clone()));
    spawn_timers(&app, store);
    spawn_series(&app, admin.series.clone());
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
    wait_for_stop(&app).await?;

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
    crate::obs::traces::flush(Duration::from_secs(2)).await;
    tracing::info!("stopped");
    Ok(())
}

/// Open the store and start what the configuration asks for: the rejection log,
/// delivery, shared Redis, the broker and its spool; the request pipeline's state.
async fn start(config: Arc<Config>) -> anyhow::Result<(Arc<App>, Store)> {
    let metrics = Arc::new(Metrics::new());
    if let Some(t) = &config.traces {
        crate::obs::traces::start(t, &metrics)?;
    }
    let store = Store::open(&config.store, metrics.clone(), config.broker.is_some())?;
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
    let handoff = handoff(&config, store.clone(), &metrics)
        .await?
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
    Ok((app, store))
}

/// Where accepted events go: the store alone, or the broker with the store's spool for
/// its outages.
async fn handoff(config: &Config, store: Store, metrics: &Arc<Metrics>) -> anyhow::Result<Handoff> {
    let Some(b) = &config.broker else {
        return Ok(Handoff::store_only(store));
    };
    let broker = Broker::start(b.clone(), topology(config), metrics.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let spool = Arc::new(Spool::new(
        store.clone(),
        metrics.clone(),
        config.store.archive,
    )?);
    tokio::spawn(spool.clone().forward(broker.clone()));
    Ok(Handoff::with_broker(
        store,
        broker,
        spool,
        b.when_unavailable,
        config.store.archive,
    ))
}

/// Write where `hookgate store` finds this gateway's API while it holds the store.
fn record_admin_address(admin_listener: &tokio::net::TcpListener, config: &Config) {
    let Ok(mut addr) = admin_listener.local_addr() else {
        return;
    };
    // Listening on every address: `store` calls in over loopback, which the API answers
    // without a token (and which its `Host` check takes).
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

/// The periodic work: confirmed ids to the dedup ledger, and once a minute the rate
/// limiters' housekeeping and the summary of refusals in the log.
fn spawn_timers(app: &Arc<App>, store: Store) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::durable::store::RECORD_FLUSH);
        loop {
            tick.tick().await;
            store.flush_records();
        }
    });
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

/// The charts' ring: a reading of the exposition every step, off the request path.
fn spawn_series(app: &Arc<App>, series: Arc<crate::ops::series::Series>) {
    let metrics = app.metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::ops::series::STEP);
        // After a stall, the next reading a whole step later, not a burst of readings
        // whose samples the page would take for 5 s each.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            series.record(&metrics.encode(true), crate::now_ms());
        }
    });
}

/// Until SIGTERM or SIGINT; SIGHUP reloads the configuration meanwhile.
async fn wait_for_stop(app: &App) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => reload(app),
        }
    }
}
