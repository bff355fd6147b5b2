//! What a destination's worker writes of each event's delivery story
//! (`store::history`, for the event view): the story lives with its event in the
//! window and each finished attempt is added to it; the writes are batched, one
//! database write for everything told in the last 100 ms, so that a delivered event
//! costs a share of a write rather than one of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checks::event::Event;
use crate::durable::dedup::Ledger;
use crate::durable::store::history::{self, Attempt, Fate, Story};

/// The longest a told attempt waits to be written.
const EVERY: Duration = Duration::from_millis(100);
/// Or as soon as this many wait.
const BATCH: usize = 256;

pub(super) struct Stories {
    ks: fjall::Keyspace,
    db: Arc<Ledger>,
    route: Arc<str>,
    dest: Arc<str>,
    waiting: Vec<(Vec<u8>, Vec<u8>)>,
    written_at: Instant,
}

impl Stories {
    pub(super) fn new(
        ks: fjall::Keyspace,
        db: Arc<Ledger>,
        route: Arc<str>,
        dest: Arc<str>,
    ) -> Stories {
        Stories {
            ks,
            db,
            route,
            dest,
            waiting: Vec::new(),
            written_at: Instant::now(),
        }
    }

    /// Add attempt `a` to `story`, event `ev`'s (kept with it in the window; `before`:
    /// its attempts counted so far), with the event's fate since.
    pub(super) fn tell(
        &mut self,
        (ev, before, story): (&Event, u32, &mut Option<Story>),
        a: Attempt,
        fate: Fate,
    ) {
        let (route, dest) = (&*self.route, &*self.dest);
        let story = story.get_or_insert_with(|| {
            // Attempts before a restart are in the store; a fresh event has none.
            let kept = (before > 0)
                .then(|| history::get(&self.ks, ev.received_at_ms, (&ev.id, route, dest)))
                .and_then(|s| s.ok().flatten());
            kept.unwrap_or_else(|| Story::new(ev.received_at_ms))
        });
        story.received_at_ms = ev.received_at_ms;
        story.push(a);
        story.fate = fate;
        self.waiting
            .push(history::entry(&ev.id, route, dest, story));
        if self.waiting.len() >= BATCH {
            self.write();
        }
    }

    /// When the waiting ones are due to be written, if any wait.
    pub(super) fn due(&self) -> Option<Instant> {
        (!self.waiting.is_empty()).then_some(self.written_at + EVERY)
    }

    pub(super) fn write_if_due(&mut self) {
        if self.due().is_some_and(|d| d <= Instant::now()) {
            self.write();
        }
    }

    /// Write what waits (without a sync: a crash loses at most the last 100 ms of
    /// stories, never an event).
    pub(super) fn write(&mut self) {
        self.written_at = Instant::now();
        if self.waiting.is_empty() {
            return;
        }
        let mut batch = self.db.batch();
        for (k, v) in self.waiting.drain(..) {
            batch.insert(&self.ks, k, v);
        }
        if let Err(e) = batch.commit() {
            tracing::debug!(route = %self.route, destination = %self.dest, error = %e, "cannot write delivery histories");
        }
    }
}
