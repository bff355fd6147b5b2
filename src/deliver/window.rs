//! A destination's window: the events it has read and not finished (in flight, due, or
//! waiting for a retry), ordered so that replays go first and the rest in acceptance
//! order, with the bounds that keep it small.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::state::Attempts;
use crate::checks::event::Event;
use crate::config::Destination;
use crate::durable::journal::Record;
use crate::durable::store::history::Story;

/// Events a destination holds in memory at most (in flight or waiting to retry), and
/// their bytes: past either it reads no further until some finish.
const WINDOW: usize = 1024;
const WINDOW_BYTES: usize = 16 << 20;

/// Replays (kind 0) go before the source's events (kind 1); both in seq order.
pub(super) type Key = (u8, i64);

pub(super) struct Slot {
    pub(super) rec: Arc<Record>,
    pub(super) attempts: Attempts,
    pub(super) due: Instant,
    pub(super) in_flight: bool,
    /// The message to acknowledge once the event is finished (queue source).
    pub(super) acker: Option<lapin::Acker>,
    /// Its retry is kept in the store (queue source, message acknowledged).
    pub(super) stored: bool,
    /// Its delivery story so far (`story`), once an attempt ended.
    pub(super) story: Option<Story>,
}

impl Slot {
    pub(super) fn new(rec: Record, attempts: Attempts) -> Slot {
        Slot {
            rec: Arc::new(rec),
            attempts,
            due: Instant::now(),
            in_flight: false,
            acker: None,
            stored: false,
            story: None,
        }
    }
}

impl Slot {
    /// Its event, its attempts so far and its story, for `story::Stories::tell`.
    pub(super) fn story_of(&mut self) -> (&Event, u32, &mut Option<Story>) {
        (&self.rec.event, self.attempts.n, &mut self.story)
    }
}

pub(super) struct Window {
    pub(super) slots: BTreeMap<Key, Slot>,
    bytes: usize,
    /// Slots never tried yet: the source is read only this far ahead of the sending, so
    /// that each pass over the window stays short under a backlog.
    pub(super) unstarted: usize,
    read_ahead: usize,
}

impl Window {
    pub(super) fn new(dest: &Destination) -> Window {
        Window {
            slots: BTreeMap::new(),
            bytes: 0,
            unstarted: 0,
            read_ahead: if dest.ordered {
                4
            } else {
                dest.concurrency.saturating_mul(2).max(16)
            },
        }
    }

    pub(super) fn room(&self) -> bool {
        self.slots.len() < WINDOW && self.bytes < WINDOW_BYTES && self.unstarted < self.read_ahead
    }

    pub(super) fn insert(&mut self, key: Key, slot: Slot) {
        if self.slots.contains_key(&key) {
            return;
        }
        self.bytes += slot.rec.event.body.len();
        self.unstarted += usize::from(slot.attempts.n == 0);
        self.slots.insert(key, slot);
    }

    pub(super) fn remove(&mut self, key: &Key) -> Option<Slot> {
        let s = self.slots.remove(key)?;
        self.bytes = self.bytes.saturating_sub(s.rec.event.body.len());
        Some(s)
    }
}

impl Window {
    /// The destination's backlog, its oldest event's age and its circuit, as gauges.
    pub(super) fn gauges(&self, m: &super::metrics::Handles, circuit_open: bool) {
        m.backlog.set(self.slots.len() as i64);
        // The oldest is the first by key, give or take a replay or a kept retry.
        let oldest = self
            .slots
            .values()
            .next()
            .map(|s| s.rec.event.received_at_ms);
        let age = oldest.map_or(0, |ms| (crate::now_ms() - ms).max(0) / 1000);
        m.oldest.set(age);
        m.circuit_open.set(i64::from(circuit_open));
    }
}

impl Window {
    /// With a broker: the retries kept in the store before a restart, first, in
    /// acceptance order, each due when it was.
    pub(super) fn restore(&mut self, mut kept: Vec<super::state::Retry>) {
        kept.sort_by_key(|r| r.record().map(|r| r.event.received_at_ms));
        let n = kept.len() as i64;
        for (i, r) in kept.into_iter().enumerate() {
            if let Some(rec) = r.record() {
                let mut slot = Slot::new(rec, r.attempts);
                slot.stored = true;
                let wait = (r.due_ms - crate::now_ms()).max(0) as u64;
                slot.due = Instant::now() + std::time::Duration::from_millis(wait);
                self.insert((1, i as i64 - n), slot);
            }
        }
    }
}
