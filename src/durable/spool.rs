//! The outage spool: events accepted while the broker was unavailable
//! (`when_unavailable: spool`), fsynced in the store, and the forwarder that drains them
//! in arrival order once the broker is back, removing each only after its confirm.
//! While a route has spooled events its new events join the tail (see `handoff`), so a
//! route's events reach the queue in the order they were accepted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::checks::event::Event;
use crate::durable::broker::Broker;
use crate::durable::store::{Outcome, Reader, Store, StoreError, StoreFault, Table};
use crate::obs::metrics::Metrics;

const BATCH: usize = 256;

pub(crate) struct Spool {
    store: Store,
    depths: Mutex<HashMap<Arc<str>, i64>>,
    wake: Notify,
    metrics: Arc<Metrics>,
    /// `store.archive`: forwarded events get their copy in the journal, as published
    /// ones do.
    archive: bool,
}

impl Spool {
    pub(crate) fn new(store: Store, metrics: Arc<Metrics>, archive: bool) -> anyhow::Result<Spool> {
        let reader = store.reader();
        let depths: HashMap<Arc<str>, i64> = reader
            .spool_depths()?
            .into_iter()
            .map(|(r, n)| (Arc::from(r), n))
            .collect();
        let total: i64 = depths.values().sum();
        metrics.spool_depth.set(total);
        if total > 0 {
            tracing::info!(
                events = total,
                "spooled events from a previous run will be forwarded"
            );
        }
        Ok(Spool {
            archive,
            store,
            depths: Mutex::new(depths),
            wake: Notify::new(),
            metrics,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, i64>> {
        self.depths.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn nonempty(&self, route: &str) -> bool {
        self.lock().get(route).is_some_and(|n| *n > 0)
    }

    fn total(&self) -> i64 {
        self.lock().values().sum()
    }

    /// Keep `ev` (fsync) for later forwarding.
    pub(crate) async fn push(&self, ev: Event) -> Result<Outcome, StoreFault> {
        let route = ev.route.clone();
        let outcome = self.store.keep(Table::Spool, ev).await?;
        if outcome == Outcome::Accepted {
            *self.lock().entry(route).or_insert(0) += 1;
            self.metrics.spool_depth.set(self.total());
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// Forward spooled events whenever the broker is connected. Runs until the process ends.
    pub(crate) async fn forward(self: Arc<Self>, broker: Arc<Broker>) {
        let mut reader = Some(self.store.reader());
        // Entries up to here were confirmed; their deletion may still be in the writer's queue.
        let mut last_seq = 0i64;
        // Whether a drain is under way, for its start and end lines.
        let mut draining = false;
        loop {
            if draining && self.total() == 0 {
                draining = false;
                tracing::info!("spool drained: every spooled event is in the broker");
            }
            if self.total() == 0 || !broker.connected() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = broker.connected_notify.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            if !draining {
                draining = true;
                tracing::info!(
                    events = self.total(),
                    "broker connected; draining the spool"
                );
            }
            let r = reader
                .take()
                .expect("the reader is put back after every read");
            let (r, step) = forward_batch(
                r,
                &broker,
                Table::Spool,
                crate::durable::store::Filter::default(),
                last_seq,
                BATCH,
            )
            .await;
            reader = Some(r);
            let Forwarded {
                seqs,
                events,
                confirmed,
            } = match step {
                Ok(f) if !f.events.is_empty() => f,
                Ok(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading the spool failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if confirmed > 0 {
                self.store.forwarded(seqs[..confirmed].to_vec());
                last_seq = seqs[confirmed - 1];
                {
                    let mut d = self.lock();
                    for ev in &events[..confirmed] {
                        if let Some(n) = d.get_mut(&ev.route) {
                            *n -= 1;
                        }
                    }
                }
                self.metrics.spool_forwarded.inc_by(confirmed as u64);
                self.metrics.spool_depth.set(self.total());
                tracing::debug!(
                    forwarded = confirmed,
                    left = self.total(),
                    "spool forwarded"
                );
            }
            if confirmed < events.len() {
                tracing::warn!(at = %events[confirmed].id, "spool forwarding interrupted; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if self.archive {
                events
                    .into_iter()
                    .take(confirmed)
                    .for_each(|ev| self.store.archive(ev));
            }
        }
    }
}

/// One step of forwarding stored events in their order, shared by the spool's drain and
/// `hookgate store replay`.
pub(crate) struct Forwarded {
    pub seqs: Vec<i64>,
    pub events: Vec<Event>,
    /// How many, from the start, the broker confirmed.
    pub confirmed: usize,
}

/// Read the next `limit` events of `table` after seq `after` (off the runtime's threads:
/// the read may scan files), and publish them in order, each with its confirm. The
/// reader comes back whatever happened.
pub(crate) async fn forward_batch(
    reader: Reader,
    broker: &Broker,
    table: Table,
    filter: crate::durable::store::Filter,
    after: i64,
    limit: usize,
) -> (Reader, Result<Forwarded, StoreError>) {
    let read = tokio::task::spawn_blocking(move || {
        let batch = reader.oldest(table, &filter, after, limit);
        (reader, batch)
    })
    .await;
    let (reader, batch) = match read {
        Ok(x) => x,
        // The read panicked: nothing can come back; the caller's process is broken.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    let batch = match batch {
        Ok(b) => b,
        Err(e) => return (reader, Err(e)),
    };
    let seqs: Vec<i64> = batch.iter().map(|e| e.seq).collect();
    let events: Vec<Event> = batch.into_iter().map(|e| e.into_event()).collect();
    let confirmed = if events.is_empty() {
        0
    } else {
        broker.publish_in_order(&events).await
    };
    (
        reader,
        Ok(Forwarded {
            seqs,
            events,
            confirmed,
        }),
    )
}
