//! The durable hand-off: where an event that passed every check goes before its 200,
//! and the dedup decision. Without a broker: the embedded store (fsync, group commit).
//! With one: publish and wait for the confirm; if the broker is unavailable,
//! `when_unavailable` decides between the spool (fsync, forwarded later) and a 503.
//! The pipeline only ever asks one question: "is this event durable now?"

use std::sync::Arc;

use crate::broker::Broker;
use crate::config::WhenUnavailable;
use crate::event::Event;
use crate::spool::Spool;
use crate::store::{Outcome, Store, Table};

pub struct Handoff {
    store: Store,
    broker: Option<(Arc<Broker>, Arc<Spool>, WhenUnavailable)>,
}

impl Handoff {
    pub fn store_only(store: Store) -> Handoff {
        Handoff {
            store,
            broker: None,
        }
    }

    pub fn with_broker(
        store: Store,
        broker: Arc<Broker>,
        spool: Arc<Spool>,
        policy: WhenUnavailable,
    ) -> Handoff {
        Handoff {
            store,
            broker: Some((broker, spool, policy)),
        }
    }

    /// `Ok` once the event is durable (or known as a duplicate); `Err` means nothing was
    /// kept and the sender must retry (503).
    pub async fn submit(&self, ev: Event) -> Result<Outcome, String> {
        let Some((broker, spool, policy)) = &self.broker else {
            return self.store.keep(Table::Events, ev).await;
        };
        if self.store.seen(&ev.route, &ev.id)? {
            return Ok(Outcome::Duplicate);
        }
        if *policy == WhenUnavailable::Spool && spool.nonempty(&ev.route) {
            return spool.push(ev).await;
        }
        match broker.publish(&ev).await {
            Ok(()) => {
                self.store.record(ev.route.clone(), ev.id);
                Ok(Outcome::Accepted)
            }
            Err(e) => match policy {
                WhenUnavailable::Spool => {
                    tracing::debug!(route = %ev.route, id = %ev.id, error = %e, "broker hand-off failed; spooling");
                    spool.push(ev).await
                }
                WhenUnavailable::Reject => Err(format!("broker: {e}")),
            },
        }
    }

    pub fn broker(&self) -> Option<&Arc<Broker>> {
        self.broker.as_ref().map(|(b, _, _)| b)
    }

    /// Events can be handed off durably right now (and their ids recorded: a ledger
    /// that refuses writes for good is not ready with a broker either).
    pub fn ready(&self) -> bool {
        match &self.broker {
            None => self.store.healthy(),
            Some((b, _, policy)) => {
                !self.store.ledger_broken()
                    && (b.connected()
                        || (*policy == WhenUnavailable::Spool && self.store.healthy()))
            }
        }
    }

    /// Wait until everything accepted so far is durable (shutdown).
    pub async fn flush(&self) {
        self.store.flush().await;
        if let Some((b, _, _)) = &self.broker {
            b.close().await;
        }
    }
}
