//! What a destination's worker writes of each event's delivery story
//! (`store::history`, for the event view): the story lives with its event in the
//! window and each finished attempt is added to it; the writes are batched, one
//! database write for everything told in the last 100 ms, so that a delivered event
//! costs a share of a write rather than one of its own. The write runs on tokio's
//! blocking pool, one at a time and in order, never in the worker's task: a batch can
//! wait on the database's journal while the ingest writer syncs it, and the worker
//! that waited there delivered 10 to 20 % less (the delivery benchmark).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checks::event::Event;
use crate::durable::dedup::Ledger;
use crate::durable::store::history::{self, Attempt, Fate, Story};

/// The longest a told attempt waits to be written.
const EVERY: Duration = Duration::from_millis(100);
/// Or as soon as this many wait.
const BATCH: usize = 256;
/// The most that wait while the database is slower than the deliveries; past it a
/// story is not kept (it promises nothing; the event is delivered all the same).
const MOST_WAITING: usize = 1 << 16;

pub(super) struct Stories {
    ks: fjall::Keyspace,
    db: Arc<Ledger>,
    route: Arc<str>,
    dest: Arc<str>,
    waiting: Vec<(Vec<u8>, Vec<u8>)>,
    written_at: Instant,
    /// The batch being written, if one is.
    writing: Option<tokio::task::JoinHandle<()>>,
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
            writing: None,
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
        if self.waiting.len() < MOST_WAITING {
            self.waiting
                .push(history::entry(&ev.id, route, dest, story));
        }
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

    /// Hand what waits to the blocking pool to be written (without a sync: a crash
    /// loses at most the last 100 ms of stories, never an event), unless the last batch
    /// is still being written: then it waits for the next turn.
    pub(super) fn write(&mut self) {
        self.written_at = Instant::now();
        if self.waiting.is_empty() || self.writing.as_ref().is_some_and(|w| !w.is_finished()) {
            return;
        }
        let (db, ks) = (self.db.clone(), self.ks.clone());
        let (route, dest) = (self.route.clone(), self.dest.clone());
        let batch = std::mem::take(&mut self.waiting);
        self.writing = Some(tokio::task::spawn_blocking(move || {
            commit(&db, &ks, batch, (&route, &dest))
        }));
    }

    /// At the worker's end: the batch being written, then what still waits.
    pub(super) async fn finish(&mut self) {
        if let Some(w) = self.writing.take() {
            let _ = w.await;
        }
        let (db, ks) = (self.db.clone(), self.ks.clone());
        let (route, dest) = (self.route.clone(), self.dest.clone());
        let batch = std::mem::take(&mut self.waiting);
        // On the blocking pool too: the last write can wait on the journal as any other.
        let _ = tokio::task::spawn_blocking(move || commit(&db, &ks, batch, (&route, &dest))).await;
    }
}

/// One database write of `batch`. A story told twice in it (a retry within 100 ms) is
/// written once, as told last: the entries of one batch share a sequence number.
fn commit(
    db: &Ledger,
    ks: &fjall::Keyspace,
    mut batch: Vec<(Vec<u8>, Vec<u8>)>,
    (route, dest): (&str, &str),
) {
    if batch.is_empty() {
        return;
    }
    // Stable: of the entries with one key, the last told stays last.
    batch.sort_by(|a, b| a.0.cmp(&b.0));
    let mut b = db.batch();
    let mut entries = batch.into_iter().peekable();
    while let Some((k, v)) = entries.next() {
        if entries.peek().is_some_and(|next| next.0 == k) {
            continue;
        }
        b.insert(ks, k, v);
    }
    if let Err(e) = b.commit() {
        tracing::debug!(route, destination = dest, error = %e, "cannot write delivery histories");
    }
}
