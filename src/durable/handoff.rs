//! The durable hand-off: where an event that passed every check goes before its 200,
//! and the dedup decision. Without a broker: the embedded store (fsync, group commit).
//! With one: publish and wait for the confirm; if the broker is unavailable,
//! `when_unavailable` decides between the spool (fsync, forwarded later) and a 503.
//! The pipeline only ever asks one question: "is this event durable now?"

use std::sync::Arc;

use crate::checks::event::Event;
use crate::config::WhenUnavailable;
use crate::durable::broker::{Broker, PublishError};
use crate::durable::spool::Spool;
use crate::durable::store::{Outcome, Store, StoreFault, Table};

/// Why an event that passed every check was not made durable (answered 503). Its
/// [`HandoffError::cause`] is the log line's `cause` and the metric label.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandoffError {
    /// `when_unavailable: reject` and the broker did not confirm.
    #[error("broker: {0}")]
    Broker(#[from] PublishError),
    #[error("{0}")]
    Store(#[from] StoreFault),
}

impl HandoffError {
    pub(crate) fn cause(&self) -> crate::obs::metrics::UnavailableCause {
        use crate::obs::metrics::UnavailableCause as C;
        match self {
            HandoffError::Broker(e) => match e {
                PublishError::NotConnected => C::BrokerDisconnected,
                PublishError::Blocked => C::BrokerBlocked,
                PublishError::Nack => C::BrokerNack,
                PublishError::Returned => C::BrokerReturned,
                PublishError::Timeout => C::BrokerConfirmTimeout,
                PublishError::Amqp(_) => C::BrokerChannelError,
            },
            HandoffError::Store(f) => f.cause(),
        }
    }
}

pub(crate) struct Handoff {
    store: Store,
    broker: Option<(Arc<Broker>, Arc<Spool>, WhenUnavailable)>,
    /// `store.archive`: keep a copy of each confirmed event in the store's journal.
    archive: bool,
    /// `store.dedup.redis`: the ids every replica accepted.
    shared: Option<Arc<crate::durable::shared::Shared>>,
}

impl Handoff {
    pub(crate) fn store_only(store: Store) -> Handoff {
        Handoff {
            store,
            broker: None,
            archive: false,
            shared: None,
        }
    }

    pub(crate) fn with_broker(
        store: Store,
        broker: Arc<Broker>,
        spool: Arc<Spool>,
        policy: WhenUnavailable,
        archive: bool,
    ) -> Handoff {
        Handoff {
            store,
            broker: Some((broker, spool, policy)),
            archive,
            shared: None,
        }
    }

    /// Ask the replicas' shared ids too (`store.dedup.redis`).
    pub(crate) fn shared(mut self, shared: Option<Arc<crate::durable::shared::Shared>>) -> Handoff {
        self.shared = shared;
        self
    }

    /// `Ok` once the event is durable (or known as a duplicate); `Err` means nothing was
    /// kept and the sender must retry (503).
    pub(crate) async fn submit(&self, ev: Event) -> Result<Outcome, HandoffError> {
        let Some(shared) = &self.shared else {
            return self.hand_off(ev).await;
        };
        // Another replica's acceptance counts; no answer from Redis, and this replica
        // decides alone (at worst a duplicate publish, which `message_id` dedups).
        if shared.seen(&ev.route, &ev.id).await == Some(true) {
            return Ok(Outcome::Duplicate);
        }
        let (route, id) = (ev.route.clone(), ev.id.clone());
        let outcome = self.hand_off(ev).await?;
        // Recorded once durable, before the 200: the provider's next retry, wherever it
        // lands, finds it.
        if outcome == Outcome::Accepted {
            shared.accepted(&route, &id).await;
        }
        Ok(outcome)
    }

    async fn hand_off(&self, ev: Event) -> Result<Outcome, HandoffError> {
        let Some((broker, spool, policy)) = &self.broker else {
            return Ok(self.store.keep(Table::Events, ev).await?);
        };
        if self.store.seen(&ev.route, &ev.id)? {
            return Ok(Outcome::Duplicate);
        }
        if *policy == WhenUnavailable::Spool && spool.nonempty(&ev.route) {
            return Ok(spool.push(ev).await?);
        }
        match broker.publish(&ev).await {
            Ok(()) => {
                if self.archive {
                    self.store.record(ev.route.clone(), ev.id.clone());
                    self.store.archive(ev);
                } else {
                    self.store.record(ev.route.clone(), ev.id);
                }
                Ok(Outcome::Accepted)
            }
            Err(e) => match policy {
                WhenUnavailable::Spool => {
                    tracing::debug!(route = %ev.route, id = ?ev.id, error = %e, "broker hand-off failed; spooling");
                    Ok(spool.push(ev).await?)
                }
                WhenUnavailable::Reject => Err(e.into()),
            },
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn broker(&self) -> Option<&Arc<Broker>> {
        self.broker.as_ref().map(|(b, _, _)| b)
    }

    /// Events can be handed off durably right now (and their ids recorded: a ledger
    /// that refuses writes for good is not ready with a broker either).
    /// Why the broker refuses the connection, while it does (for `/readyz`).
    pub(crate) fn broker_refused(&self) -> Option<String> {
        self.broker.as_ref().and_then(|(b, _, _)| b.refused())
    }

    /// The broker is away and accepted events go to the spool (`when_unavailable:
    /// spool`): ready, but degraded.
    pub(crate) fn spooling(&self) -> bool {
        matches!(&self.broker, Some((b, _, WhenUnavailable::Spool)) if !b.connected())
    }

    pub(crate) fn ready(&self) -> bool {
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
    pub(crate) async fn flush(&self) {
        self.store.flush().await;
        if let Some((b, _, _)) = &self.broker {
            b.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::admission::Refused;
    use crate::obs::metrics::UnavailableCause;

    #[test]
    fn every_cause_is_a_listed_metric_label() {
        let errors = [
            HandoffError::Broker(PublishError::NotConnected),
            HandoffError::Broker(PublishError::Blocked),
            HandoffError::Broker(PublishError::Nack),
            HandoffError::Broker(PublishError::Returned),
            HandoffError::Broker(PublishError::Timeout),
            HandoffError::Store(StoreFault::DiskFull),
            HandoffError::Store(StoreFault::WriteFailed(String::new())),
            HandoffError::Store(StoreFault::Closed),
            HandoffError::Store(StoreFault::Ledger(String::new())),
        ];
        let refused = [
            Refused::ClientInFlight,
            Refused::ClientBodyMemory,
            Refused::BodyMemory,
        ];
        let causes: Vec<_> = errors
            .iter()
            .map(HandoffError::cause)
            .chain(refused.iter().map(|r| r.cause()))
            .chain([
                UnavailableCause::MaxInFlight,
                UnavailableCause::BrokerChannelError,
            ])
            .collect();
        for c in &causes {
            assert!(UnavailableCause::ALL.contains(c), "{c} is not listed");
        }
        for c in &UnavailableCause::ALL {
            assert!(causes.contains(c), "{c} is listed but never produced");
        }
    }
}
