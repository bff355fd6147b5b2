//! One destination's delivery loop. Its events come from a [`Source`]: the event journal
//! followed from the destination's cursor (embedded store), or the destination's queue
//! (broker). It keeps a window of the events it has not finished, sends each when due
//! (at most `concurrency` at once, one at a time when `ordered`, one probe at a time
//! while the circuit is open), retries with backoff, dead-letters after `max_attempts`,
//! and then moves its cursor past the event or acknowledges its message.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::BasicAckOptions;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::attempt::{self, Outcome};
use super::backoff::{self, Circuit};
use super::client::Client;
use super::consume::ack;
use super::consume::Delivered;
use super::metrics::Handles;
use super::pace::{sleep_until, Pace};
use super::rules;
use super::state::{Attempts, DeadLetter, State, Try};
use super::story::Stories;
use super::tail::Tail;
use super::transform::Transformer;
use super::window::{Key, Slot, Window};
use crate::config::Destination;
use crate::durable::store::history::Fate;

/// The cursor is written at most this often (and at stop).
const CURSOR_EVERY: Duration = Duration::from_millis(100);

pub(crate) enum Control {
    /// Deliver a dead letter again, attempts from zero.
    Replay(DeadLetter),
    /// Start nothing new; let attempts in flight finish until the deadline.
    Stop(Instant),
    /// Pause (`true`) or resume; the state is already kept in the store.
    Pause(bool),
}

/// Where a destination's events come from.
pub(crate) enum Source {
    /// The event journal, from the cursor, as far as it is committed.
    Journal {
        tail: Tail,
        committed: watch::Receiver<i64>,
    },
    /// The destination's queue.
    Queue(mpsc::Receiver<Delivered>),
}

pub(crate) struct Worker {
    pub route: Arc<str>,
    pub dest: Arc<Destination>,
    pub client: Client,
    pub state: State,
    pub source: Source,
    pub metrics: Handles,
    pub control: mpsc::UnboundedReceiver<Control>,
    /// This destination's cursor, for retention's floor (journal source).
    pub floor: Arc<AtomicI64>,
    /// Its `transform`'s process, when it has one.
    pub transform: Option<Arc<Transformer>>,
}

impl Worker {
    pub(crate) async fn run(mut self) {
        let mut w = Window::new(&self.dest);
        let mut inflight: JoinSet<(Key, Outcome)> = JoinSet::new();
        let mut circuit = Circuit::default();
        let mut stories = self.state.stories();
        let mut pace = Pace::new(self.dest.rate);
        pace.paused = self.state.paused();
        let mut cursor = match &self.source {
            Source::Journal { tail, .. } => tail.last,
            Source::Queue(_) => 0,
        };
        let mut cursor_written = (cursor, Instant::now());
        let mut stop: Option<Instant> = None;
        for d in self.state.replays().unwrap_or_default() {
            self.replay(&mut w, d);
        }
        if matches!(self.source, Source::Queue(_)) {
            w.restore(self.state.retries().unwrap_or_default());
        }
        loop {
            if stop.is_none() {
                self.fill(&mut w);
                self.start_due(&mut w, &mut inflight, &circuit, &mut pace);
            }
            if let Source::Journal { tail, .. } = &self.source {
                // Every journal event up to the first one unfinished is taken.
                let first = w.slots.keys().find(|k| k.0 == 1).map(|k| k.1 - 1);
                let now_cursor = first.unwrap_or(tail.last).min(tail.last);
                if now_cursor > cursor {
                    cursor = now_cursor;
                    self.floor.store(cursor, Ordering::Relaxed);
                }
                if cursor != cursor_written.0
                    && (cursor_written.1.elapsed() >= CURSOR_EVERY || stop.is_some())
                {
                    self.write_cursor(cursor);
                    cursor_written = (cursor, Instant::now());
                }
            }
            w.gauges(&self.metrics, circuit.is_open());
            self.metrics.paused.set(i64::from(pace.paused));
            if stop.is_some() && inflight.is_empty() {
                break;
            }
            let next_due = self.next_due(&w, inflight.len(), &circuit, &pace);
            // The cursor's next write, or the stories', whichever comes first.
            let unwritten = (cursor != cursor_written.0).then_some(cursor_written.1 + CURSOR_EVERY);
            let write_due = [unwritten, stories.due()].into_iter().flatten().min();
            let wants_more = w.room() && stop.is_none();
            tokio::select! {
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    if let Ok((key, outcome)) = done {
                        self.finish(&mut w, key, outcome, (&mut circuit, &mut stories)).await;
                    }
                }
                _ = sleep_until(next_due), if next_due.is_some() && stop.is_none() => {}
                _ = sleep_until(write_due), if write_due.is_some() => stories.write_if_due(),
                more = more(&mut self.source), if wants_more => match more {
                    Some(Some(d)) => {
                        let mut slot = Slot::new(d.rec, Attempts::default());
                        slot.acker = Some(d.acker);
                        self.admit(&mut w, slot);
                    }
                    Some(None) => {}
                    None => { stop.get_or_insert(Instant::now()); }
                },
                c = self.control.recv(), if stop.is_none() => match c {
                    Some(Control::Replay(d)) => self.replay(&mut w, d),
                    Some(Control::Pause(p)) => pace.paused = p,
                    Some(Control::Stop(deadline)) => stop = Some(deadline),
                    None => stop = Some(Instant::now()),
                },
                _ = sleep_until(stop), if stop.is_some() => {
                    // The grace period is over: what is still in flight is sent again
                    // after the next start (its cursor or its message never moved on).
                    inflight.abort_all();
                    break;
                }
            }
        }
        stories.finish().await;
        if let Source::Journal { .. } = self.source {
            self.write_cursor(cursor);
        }
        self.metrics.backlog.set(0);
    }

    /// Read what the source has ready, while there is room.
    fn fill(&mut self, w: &mut Window) {
        while w.room() {
            match &mut self.source {
                Source::Journal { tail, committed } => {
                    let upto = *committed.borrow_and_update();
                    let Some(r) = tail.next(upto) else { return };
                    if *r.event.route != *self.route {
                        continue;
                    }
                    let attempts = self
                        .state
                        .attempts(r.seq)
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                    self.admit(w, Slot::new(r, attempts));
                }
                Source::Queue(rx) => {
                    let Ok(d) = rx.try_recv() else { return };
                    let mut slot = Slot::new(d.rec, Attempts::default());
                    slot.acker = Some(d.acker);
                    self.admit(w, slot);
                }
            }
        }
    }

    /// Into the window if this destination wants its type and its filter passes it;
    /// else finished at once (not a dead letter: it was not for this destination).
    fn admit(&self, w: &mut Window, slot: Slot) {
        if self.dest.wants(slot.rec.event.event_type.as_deref())
            && rules::passes(&self.dest, &self.metrics, &slot.rec.event)
        {
            w.insert((1, slot.rec.seq), slot);
        } else if let Some(a) = slot.acker {
            tokio::spawn(async move { a.ack(BasicAckOptions::default()).await });
        }
    }

    /// When an attempt may start next, if one can start at all: none while every
    /// slot for attempts is taken (a completion wakes the loop then), and only the head
    /// counts when `ordered` (the rest wait behind it). Waking for a slot that cannot
    /// start would spin.
    fn next_due(
        &self,
        w: &Window,
        in_flight: usize,
        circuit: &Circuit,
        pace: &Pace,
    ) -> Option<Instant> {
        // Paused: nothing may start, so nothing is due.
        let limit = if pace.paused { 0 } else { self.limit() };
        if in_flight >= limit || (circuit.is_open() && in_flight > 0) {
            return None;
        }
        let waiting = w.slots.values().filter(|s| !s.in_flight);
        let due = if self.dest.ordered {
            w.slots
                .values()
                .next()
                .filter(|s| !s.in_flight)
                .map(|s| s.due)
        } else {
            waiting.map(|s| s.due).min()
        };
        due.map(|d| {
            d.max(circuit.next_probe().unwrap_or(d))
                .max(pace.next().unwrap_or(d))
        })
    }

    /// Attempts in flight at most: one when `ordered`.
    fn limit(&self) -> usize {
        if self.dest.ordered {
            1
        } else {
            self.dest.concurrency
        }
    }

    fn write_cursor(&self, cursor: i64) {
        if let Err(e) = self.state.set_cursor(cursor) {
            tracing::warn!(route = %self.route, destination = %self.dest.name, error = %e, "cannot write the delivery cursor");
        }
    }

    fn replay(&self, w: &mut Window, d: DeadLetter) {
        match d.record() {
            Some(rec) => w.insert((0, d.seq), Slot::new(rec, Attempts::default())),
            None => {
                tracing::error!(id = ?d.id, "a dead letter's event does not decode; not replayed")
            }
        }
    }

    fn start_due(
        &self,
        w: &mut Window,
        inflight: &mut JoinSet<(Key, Outcome)>,
        circuit: &Circuit,
        pace: &mut Pace,
    ) {
        let now = Instant::now();
        let limit = self.limit();
        let mut started = 0;
        for (key, slot) in w.slots.iter_mut() {
            if inflight.len() >= limit || !circuit.allows(inflight.len(), now) || !pace.allows(now)
            {
                break;
            }
            if slot.in_flight || slot.due > now {
                if self.dest.ordered {
                    // Acceptance order: nothing passes the first unfinished event.
                    break;
                }
                continue;
            }
            slot.in_flight = true;
            pace.started(now);
            started += usize::from(slot.attempts.n == 0);
            let (client, dest, rec, key) = (
                self.client.clone(),
                self.dest.clone(),
                slot.rec.clone(),
                *key,
            );
            let (n, transform) = (slot.attempts.n + 1, self.transform.clone());
            inflight.spawn(async move {
                let t = transform.as_deref();
                (key, attempt::send(&client, &dest, &rec.event, n, t).await)
            });
        }
        w.unstarted = w.unstarted.saturating_sub(started);
    }

    /// Account for a finished attempt: taken, to retry, or dead; the circuit and the
    /// event's story hear of it.
    async fn finish(
        &self,
        w: &mut Window,
        key: Key,
        o: Outcome,
        (circuit, stories): (&mut Circuit, &mut Stories),
    ) {
        self.metrics.attempt_done(o.label, o.took.as_secs_f64());
        let Some(slot) = w.slots.get_mut(&key) else {
            return;
        };
        slot.in_flight = false;
        let (seq, id, n) = (key.1, slot.rec.event.id.clone(), slot.attempts.n + 1);
        tracing::debug!(route = %self.route, destination = %self.dest.name, id = ?id, attempt = n, status = o.status, took = %crate::human(o.took), error = (!o.error.is_empty()).then_some(o.error.as_str()), "delivery attempt");
        let told = o.told();
        if o.delivered() {
            circuit.success();
            let Some(mut slot) = w.remove(&key) else {
                return;
            };
            stories.tell(slot.story_of(), told, Fate::Delivered);
            let cleanup = if key.0 == 0 {
                self.state.unbury(seq)
            } else if slot.stored {
                self.state.drop_retry(&id)
            } else if slot.attempts.n > 0 && slot.acker.is_none() {
                self.state.clear_attempts(seq)
            } else {
                Ok(())
            };
            if let Err(e) = cleanup {
                tracing::warn!(error = %e, "cannot clear a delivered event's retry state");
            }
            ack(slot.acker).await;
            return;
        }
        let now = Instant::now();
        if o.destination_failing() && circuit.failure(now) {
            tracing::warn!(route = %self.route, destination = %self.dest.name, error = %o.error, "destination keeps failing: paused, probing with one event at a time");
        }
        slot.attempts.push(Try {
            at_ms: crate::now_ms(),
            status: o.status,
            error: o.error.clone(),
        });
        let age =
            Duration::from_millis((crate::now_ms() - slot.rec.event.received_at_ms).max(0) as u64);
        match backoff::delay(&self.dest.backoff, slot.attempts.n, age) {
            Some(wait) if slot.attempts.n < self.dest.max_attempts && !o.permanent() => {
                stories.tell(slot.story_of(), told, Fate::Pending);
                let wait = wait.max(o.retry_after.unwrap_or_default());
                slot.due = now + wait;
                let kept = if key.0 == 0 {
                    Ok(())
                } else if slot.acker.is_some() || slot.stored {
                    // Kept in the store, then the message acknowledged: the retry holds
                    // no prefetch slot and outlives a restart.
                    let due_ms = crate::now_ms() + wait.as_millis() as i64;
                    self.state
                        .keep_retry(&slot.rec, &slot.attempts, due_ms)
                        .map(|()| slot.stored = true)
                } else {
                    self.state.set_attempts(seq, &slot.attempts)
                };
                match kept {
                    Ok(()) => ack(slot.acker.take()).await,
                    // The message stays unacknowledged: redelivered after a restart.
                    Err(e) => {
                        tracing::warn!(error = %e, id = ?id, "cannot keep a delivery's retry in the store")
                    }
                }
            }
            _ => {
                let dead = DeadLetter::new(&self.dest.name, &slot.rec, slot.attempts.clone());
                let buried = self.state.bury(&dead).and_then(|()| {
                    if slot.stored {
                        self.state.drop_retry(&id)
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = buried {
                    // Not taken, not buried: it stays, and is tried again later.
                    tracing::error!(error = %e, id = ?id, "cannot keep a dead letter; the event stays in the window");
                    slot.due = now + Duration::from_secs(60);
                    return;
                }
                stories.tell(slot.story_of(), told, Fate::Dead);
                tracing::warn!(route = %self.route, destination = %self.dest.name, id = ?id, attempts = dead.attempts.n, error = %o.error, "delivery dead-lettered");
                self.metrics.dead.inc();
                if let Some(slot) = w.remove(&key) {
                    ack(slot.acker).await;
                }
            }
        }
    }
}

/// Wait for the source: `Some(Some(_))` a message, `Some(None)` the journal grew,
/// `None` the source is gone.
async fn more(source: &mut Source) -> Option<Option<Delivered>> {
    match source {
        Source::Journal { committed, .. } => committed.changed().await.ok().map(|()| None),
        Source::Queue(rx) => rx.recv().await.map(Some),
    }
}
