//! One destination's delivery loop (embedded store): it follows the event journal from
//! its cursor, keeps a window of the events it has not finished, sends each when due
//! (at most `concurrency` at once, one at a time when `ordered`, one probe at a time
//! while the circuit is open), retries with backoff, dead-letters after
//! `max_attempts`, and moves its cursor past every finished event.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::attempt::{self, Outcome};
use super::backoff::{self, Circuit};
use super::client::Client;
use super::metrics::DestinationLabels;
use super::state::{Attempts, DeadLetter, State, Try};
use super::tail::Tail;
use crate::config::Destination;
use crate::journal::Record;
use crate::metrics::Metrics;

/// Events a destination holds in memory at most (in flight or waiting to retry), and
/// their bytes: past either it reads no further until some finish.
const WINDOW: usize = 1024;
const WINDOW_BYTES: usize = 16 << 20;
/// The cursor is written at most this often (and at stop).
const CURSOR_EVERY: Duration = Duration::from_millis(100);

pub enum Control {
    /// Deliver a dead letter again, attempts from zero.
    Replay(DeadLetter),
    /// Start nothing new; let attempts in flight finish until the deadline.
    Stop(Instant),
}

/// Replays (kind 0) go before the journal's events (kind 1); both in seq order.
type Key = (u8, i64);

struct Slot {
    rec: Arc<Record>,
    attempts: Attempts,
    due: Instant,
    in_flight: bool,
}

pub struct Worker {
    pub route: Arc<str>,
    pub dest: Arc<Destination>,
    pub client: Client,
    pub state: State,
    pub tail: Tail,
    pub metrics: Arc<Metrics>,
    pub labels: DestinationLabels,
    pub committed: watch::Receiver<i64>,
    pub control: mpsc::UnboundedReceiver<Control>,
    /// This destination's cursor, for retention's floor.
    pub floor: Arc<AtomicI64>,
}

impl Worker {
    pub async fn run(mut self) {
        let mut window: BTreeMap<Key, Slot> = BTreeMap::new();
        let mut bytes = 0usize;
        let mut inflight: JoinSet<(Key, Outcome)> = JoinSet::new();
        let mut circuit = Circuit::default();
        let mut cursor = self.tail.last;
        let mut cursor_written = (cursor, Instant::now());
        let mut stop: Option<Instant> = None;
        for d in self.state.replays().unwrap_or_default() {
            self.replay(&mut window, d);
        }
        loop {
            if stop.is_none() {
                let committed = *self.committed.borrow_and_update();
                while window.len() < WINDOW && bytes < WINDOW_BYTES {
                    let Some(r) = self.tail.next(committed) else {
                        break;
                    };
                    if *r.event.route != *self.route
                        || !self.dest.wants(r.event.event_type.as_deref())
                    {
                        continue;
                    }
                    let attempts = self
                        .state
                        .attempts(r.seq)
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                    bytes += r.event.body.len();
                    let slot = Slot {
                        rec: Arc::new(r),
                        attempts,
                        due: Instant::now(),
                        in_flight: false,
                    };
                    window.insert((1, slot.rec.seq), slot);
                }
                self.start_due(&mut window, &mut inflight, &circuit);
            }
            // Every journal event up to the first one unfinished is taken.
            let first = window.keys().find(|k| k.0 == 1).map(|k| k.1 - 1);
            let now_cursor = first.unwrap_or(self.tail.last).min(self.tail.last);
            if now_cursor > cursor {
                cursor = now_cursor;
                self.floor.store(cursor, Ordering::Relaxed);
            }
            if cursor != cursor_written.0
                && (cursor_written.1.elapsed() >= CURSOR_EVERY || stop.is_some())
            {
                if let Err(e) = self.state.set_cursor(cursor) {
                    tracing::warn!(route = %self.route, destination = %self.dest.name, error = %e, "cannot write the delivery cursor");
                }
                cursor_written = (cursor, Instant::now());
            }
            self.gauges(&window, &circuit);
            if stop.is_some() && inflight.is_empty() {
                break;
            }
            let next_due = window
                .values()
                .filter(|s| !s.in_flight)
                .map(|s| s.due)
                .min()
                .map(|d| d.max(circuit.next_probe().unwrap_or(d)));
            let room = window.len() < WINDOW && bytes < WINDOW_BYTES;
            let cursor_due =
                (cursor != cursor_written.0).then_some(cursor_written.1 + CURSOR_EVERY);
            tokio::select! {
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    if let Ok((key, outcome)) = done {
                        if let Some(freed) = self.finish(&mut window, key, outcome, &mut circuit) {
                            bytes = bytes.saturating_sub(freed);
                        }
                    }
                }
                _ = sleep_until(next_due), if next_due.is_some() && stop.is_none() => {}
                _ = sleep_until(cursor_due), if cursor_due.is_some() => {}
                r = self.committed.changed(), if room && stop.is_none() => {
                    if r.is_err() {
                        stop.get_or_insert(Instant::now());
                    }
                }
                c = self.control.recv(), if stop.is_none() => match c {
                    Some(Control::Replay(d)) => self.replay(&mut window, d),
                    Some(Control::Stop(deadline)) => stop = Some(deadline),
                    None => stop = Some(Instant::now()),
                },
                _ = sleep_until(stop), if stop.is_some() => {
                    // The grace period is over: what is still in flight is sent again
                    // after the next start.
                    inflight.abort_all();
                    break;
                }
            }
        }
        if let Err(e) = self.state.set_cursor(cursor) {
            tracing::warn!(route = %self.route, destination = %self.dest.name, error = %e, "cannot write the delivery cursor at stop");
        }
        self.metrics
            .delivery
            .backlog
            .get_or_create(&self.labels)
            .set(0);
    }

    fn replay(&self, window: &mut BTreeMap<Key, Slot>, d: DeadLetter) {
        match d.record() {
            Some(rec) => {
                let slot = Slot {
                    rec: Arc::new(rec),
                    attempts: Attempts::default(),
                    due: Instant::now(),
                    in_flight: false,
                };
                window.entry((0, d.seq)).or_insert(slot);
            }
            None => {
                tracing::error!(id = %d.id, "a dead letter's event does not decode; not replayed")
            }
        }
    }

    fn start_due(
        &self,
        window: &mut BTreeMap<Key, Slot>,
        inflight: &mut JoinSet<(Key, Outcome)>,
        circuit: &Circuit,
    ) {
        let now = Instant::now();
        let limit = if self.dest.ordered {
            1
        } else {
            self.dest.concurrency
        };
        for (key, slot) in window.iter_mut() {
            if inflight.len() >= limit || !circuit.allows(inflight.len(), now) {
                return;
            }
            if slot.in_flight || slot.due > now {
                if self.dest.ordered {
                    // Acceptance order: nothing passes the first unfinished event.
                    return;
                }
                continue;
            }
            slot.in_flight = true;
            let (client, dest, rec, key) = (
                self.client.clone(),
                self.dest.clone(),
                slot.rec.clone(),
                *key,
            );
            let n = slot.attempts.n + 1;
            inflight
                .spawn(async move { (key, attempt::send(&client, &dest, &rec.event, n).await) });
        }
    }

    /// Account for a finished attempt; returns the bytes freed when the event is done.
    fn finish(
        &self,
        window: &mut BTreeMap<Key, Slot>,
        key: Key,
        o: Outcome,
        circuit: &mut Circuit,
    ) -> Option<usize> {
        self.metrics
            .delivery
            .attempt_done(&self.labels, o.label, o.took.as_secs_f64());
        let slot = window.get_mut(&key)?;
        slot.in_flight = false;
        let (seq, id) = (key.1, slot.rec.event.id.clone());
        let log = |what: &str| tracing::debug!(route = %self.route, destination = %self.dest.name, id = %id, attempt = slot.attempts.n + 1, status = ?o.status, took_ms = o.took.as_millis() as u64, "{what}");
        if o.delivered() {
            log("delivered");
            circuit.success();
            let slot = window.remove(&key)?;
            let cleanup = if key.0 == 0 {
                self.state.unbury(seq)
            } else if slot.attempts.n > 0 {
                self.state.clear_attempts(seq)
            } else {
                Ok(())
            };
            if let Err(e) = cleanup {
                tracing::warn!(error = %e, "cannot clear a delivered event's attempts");
            }
            return Some(slot.rec.event.body.len());
        }
        log("delivery attempt failed");
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
        let wait = backoff::delay(&self.dest.backoff, slot.attempts.n, age);
        match wait {
            Some(w) if slot.attempts.n < self.dest.max_attempts => {
                slot.due = now + w.max(o.retry_after.unwrap_or_default());
                if key.0 == 1 {
                    if let Err(e) = self.state.set_attempts(seq, &slot.attempts) {
                        tracing::warn!(error = %e, "cannot record a delivery's attempts");
                    }
                }
                None
            }
            _ => {
                let dead = DeadLetter::new(&self.dest.name, &slot.rec, slot.attempts.clone());
                if let Err(e) = self.state.bury(&dead) {
                    // Not taken, not buried: it stays, and is tried again later.
                    tracing::error!(error = %e, id = %id, "cannot keep a dead letter; the event stays in the window");
                    slot.due = now + Duration::from_secs(60);
                    return None;
                }
                tracing::warn!(route = %self.route, destination = %self.dest.name, id = %id, attempts = dead.attempts.n, error = %o.error, "delivery dead-lettered");
                self.metrics.delivery.dead.get_or_create(&self.labels).inc();
                window.remove(&key).map(|s| s.rec.event.body.len())
            }
        }
    }

    fn gauges(&self, window: &BTreeMap<Key, Slot>, circuit: &Circuit) {
        let d = &self.metrics.delivery;
        d.backlog
            .get_or_create(&self.labels)
            .set(window.len() as i64);
        let oldest = window.values().map(|s| s.rec.event.received_at_ms).min();
        let age = oldest.map_or(0, |ms| (crate::now_ms() - ms).max(0) / 1000);
        d.oldest.get_or_create(&self.labels).set(age);
        d.circuit_open
            .get_or_create(&self.labels)
            .set(i64::from(circuit.is_open()));
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
