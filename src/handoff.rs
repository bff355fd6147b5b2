//! The durable hand-off: where an event that passed every check goes before its 200.
//! Without a broker, that is the embedded store (fsync, group commit). The broker path
//! (publisher confirms, spool when it is down) is added beside it here, so the pipeline
//! only ever asks one question: "is this event durable now?"

use crate::event::Event;
use crate::store::{Outcome, Store};

pub struct Handoff {
    store: Store,
}

impl Handoff {
    pub fn new(store: Store) -> Handoff {
        Handoff { store }
    }

    /// `Ok` once the event is durable (or known as a duplicate); `Err` means nothing was
    /// kept and the sender must retry (503).
    pub async fn submit(&self, ev: Event) -> Result<Outcome, String> {
        self.store.accept(ev).await
    }

    /// Events can be handed off durably right now.
    pub fn ready(&self) -> bool {
        self.store.healthy()
    }

    /// Wait until everything accepted so far is durable (shutdown).
    pub async fn flush(&self) {
        self.store.flush().await;
    }
}
