//! Delivery to the application behind the gateway (docs/delivery.md). [`Delivery`] runs one
//! [`worker`] per destination of the configuration (started, stopped and restarted on
//! reload, their backlogs kept in the store), and sets retention's floor so that no
//! journal segment goes while a destination still needs one of its events. The
//! synchronous `proxy` shares the HTTP client and the gateway's headers.

pub(crate) mod attempt;
pub(crate) mod backoff;
pub(crate) mod client;
mod dead;
pub(crate) mod status;

pub(crate) use dead::DeadFilter;
pub(crate) mod consume;
pub(crate) mod headers;
// Delivery's metric families live with the others, which import no part of the gateway.
pub(crate) use crate::obs::metrics::delivery as metrics;
mod pace;
mod rules;
pub(crate) mod state;
mod story;
pub(crate) mod tail;
mod trace;
pub(crate) mod transform;
pub(crate) mod window;
pub(crate) mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Config, Destination, Route};
use crate::durable::store::Store;
use crate::obs::metrics::Metrics;
use state::{DeadLetter, State};
use worker::{Control, Source, Worker};

type Name = (Arc<str>, Arc<str>);

struct Running {
    control: mpsc::UnboundedSender<Control>,
    task: JoinHandle<()>,
    floor: Arc<AtomicI64>,
}

pub(crate) struct Delivery {
    store: Store,
    /// With a broker, destinations consume their queues; else they follow the journal.
    broker: Option<crate::config::BrokerConfig>,
    metrics: Arc<Metrics>,
    running: Mutex<HashMap<Name, Running>>,
    /// How long a stopped destination's attempts in flight may take.
    grace: Mutex<Duration>,
}

impl Delivery {
    /// Start every destination of `config`, and the floor keeper.
    pub(crate) fn start(store: Store, metrics: Arc<Metrics>, config: &Config) -> Arc<Delivery> {
        let d = Arc::new(Delivery {
            store,
            broker: config.broker.clone(),
            metrics,
            running: Mutex::new(HashMap::new()),
            grace: Mutex::new(config.shutdown.grace),
        });
        d.apply(config);
        let weak = Arc::downgrade(&d);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while let Some(d) = weak.upgrade() {
                d.update_floor();
                drop(d);
                tick.tick().await;
            }
        });
        d
    }

    /// Match the running destinations to `config`: each is restarted with its new
    /// settings (after its attempts in flight finish), removed ones stop; every backlog
    /// stays in the store and resumes from its cursor.
    pub(crate) fn apply(&self, config: &Config) {
        *self.grace.lock().unwrap_or_else(|e| e.into_inner()) = config.shutdown.grace;
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut old: HashMap<Name, Running> = std::mem::take(&mut *running);
        for route in &config.routes {
            for dest in &route.deliver {
                let name = (route.name.clone(), dest.name.clone());
                let before = old.remove(&name);
                let started = self.spawn(route, dest.clone(), before, config.limits.max_body);
                running.insert(name, started);
            }
        }
        for (name, r) in old {
            tracing::info!(route = %name.0, destination = %name.1, "destination removed; its backlog stays in the store");
            let _ = r.control.send(Control::Stop(Instant::now() + self.grace()));
        }
        drop(running);
        self.update_floor();
    }

    fn grace(&self) -> Duration {
        *self.grace.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start a worker, after `before` (the same destination's previous one) stopped.
    fn spawn(
        &self,
        r: &Route,
        dest: Arc<Destination>,
        before: Option<Running>,
        max_body: usize,
    ) -> Running {
        let route = r.name.clone();
        let (tables, ledger) = self.store.tables();
        let state = State::new(tables, ledger.clone(), route.clone(), dest.name.clone());
        let (control, rx) = mpsc::unbounded_channel();
        let floor = Arc::new(AtomicI64::new(i64::MAX));
        let committed = self.store.committed();
        if self.broker.is_none() && before.is_none() && matches!(state.cursor(), Ok(None)) {
            // A destination new to the store starts with the events accepted from now on:
            // "now" is decided here, before the gateway serves, not when its task first
            // runs (an event accepted in between would be behind its cursor, never sent).
            let _ = state.set_cursor(*committed.borrow());
        }
        let metrics = self.metrics.clone();
        let journal = crate::durable::journal::dir(self.store.dir());
        let labels = metrics::DeliveryMetrics::labels(&route, &dest.name);
        let metrics = metrics.delivery.handles(&labels);
        let grace = self.grace();
        let fl = floor.clone();
        let client = client::Client::for_ca(dest.ca.as_ref());
        // A transformed body is held to the limit a received one is.
        let transform = dest.transform.as_deref().map(|p| {
            let in_flight = if dest.ordered { 1 } else { dest.concurrency };
            Arc::new(transform::Transformer::new(p, max_body, in_flight))
        });
        let consume = self
            .broker
            .clone()
            .map(|cfg| (cfg, consume::queue_name(&r.queue, &dest.name)));
        let task = tokio::spawn(async move {
            if let Some(b) = before {
                let _ = b.control.send(Control::Stop(Instant::now() + grace));
                let _ = b.task.await;
            }
            let source = match consume {
                Some((cfg, queue)) => {
                    let prefetch = if dest.ordered {
                        1
                    } else {
                        dest.concurrency.min(u16::MAX as usize) as u16
                    };
                    let (tx, rx) = mpsc::channel(usize::from(prefetch));
                    tracing::info!(route = %route, destination = %dest.name, url = %dest.url, queue = %queue, "delivering");
                    tokio::spawn(consume::run(cfg, route.clone(), queue, prefetch, tx));
                    Source::Queue(rx)
                }
                None => {
                    // It resumes after its cursor (set above for a new one).
                    let now = *committed.borrow();
                    let after = match state.cursor() {
                        Ok(Some(c)) => c,
                        Ok(None) => {
                            let _ = state.set_cursor(now);
                            now
                        }
                        Err(e) => {
                            tracing::error!(route = %route, destination = %dest.name, error = %e, "cannot read the delivery cursor; destination not started");
                            return;
                        }
                    };
                    fl.store(after, Ordering::Relaxed);
                    tracing::info!(route = %route, destination = %dest.name, url = %dest.url, after_seq = after, "delivering");
                    Source::Journal {
                        tail: tail::Tail::new(journal, after),
                        committed,
                    }
                }
            };
            let w = Worker {
                client,
                source,
                route,
                dest,
                state,
                metrics,
                control: rx,
                floor: fl,
                transform,
            };
            w.run().await;
        });
        Running {
            control,
            task,
            floor,
        }
    }

    /// Retention keeps every segment a destination still needs.
    fn update_floor(&self) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let floor = running
            .values()
            .map(|r| r.floor.load(Ordering::Relaxed))
            .min()
            .unwrap_or(i64::MAX);
        self.store.set_delivered_floor(floor);
    }

    /// How far a running destination has taken the journal: every event up to this seq
    /// is delivered or dead-lettered (`None` before it started, or with a broker).
    pub(crate) fn taken_through(&self, route: &str, destination: &str) -> Option<i64> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let name: Name = (Arc::from(route), Arc::from(destination));
        running
            .get(&name)
            .map(|r| r.floor.load(Ordering::Relaxed))
            .filter(|f| *f != i64::MAX)
    }

    /// Hand a dead letter marked for replay to its running destination (else it waits
    /// for the next start). Returns whether one took it.
    pub(crate) fn replay(&self, d: DeadLetter) -> bool {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let name: Name = (
            Arc::from(d.route.as_str()),
            Arc::from(d.destination.as_str()),
        );
        running
            .get(&name)
            .is_some_and(|r| r.control.send(Control::Replay(d)).is_ok())
    }

    /// Pause or resume a running destination: kept in the store first (a restart keeps
    /// it), then told to its worker. `false` when the route has no such destination.
    pub(crate) fn pause(
        &self,
        route: &str,
        destination: &str,
        paused: bool,
    ) -> Result<bool, crate::durable::store::StoreError> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let name: Name = (Arc::from(route), Arc::from(destination));
        let Some(r) = running.get(&name) else {
            return Ok(false);
        };
        let (tables, ledger) = self.store.tables();
        State::new(tables, ledger.clone(), name.0.clone(), name.1.clone()).set_paused(paused)?;
        let _ = r.control.send(Control::Pause(paused));
        Ok(true)
    }

    /// SIGTERM: start no delivery, let those in flight finish within `grace`, write
    /// every cursor.
    pub(crate) async fn shutdown(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let all: Vec<Running> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, r)| r)
            .collect();
        for r in &all {
            let _ = r.control.send(Control::Stop(deadline));
        }
        for r in all {
            let _ = r.task.await;
        }
    }
}
