//! The embedded durable store, one storage engine and one log of our own:
//! - the store's database (fjall, `<store>/db`): the dedup ledger's `ids` (see `dedup`),
//!   the outage `spool` (seq -> the event as a journal record) while the broker is down,
//!   and the `meta` marks;
//! - the event journal (`<store>/events`, see `journal`): accepted events when no broker
//!   is configured, an append-only log with one `write` and one `fdatasync` per group
//!   commit. Kept events stay out of the database because an LSM tree writes each one
//!   again as it flushes and compacts, for events that are only ever appended, read in
//!   order and dropped whole by retention (see docs/store.md for the measurements).
//!
//! One writer thread owns the journal and the writes and does group commit: every
//! command waiting when it wakes goes into one journal append or one database batch
//! (and while events arrive close together, it waits a fraction of a millisecond for
//! more: [`GATHER_FOR`]), then each caller hears whether *its* event is durable. A batch
//! of kept events is one `write` and one `fdatasync` of the journal; a batch that spools
//! is one atomic database batch and one sync; a batch that only removes forwarded spool
//! entries is not synced, since losing those to a power cut costs at most a duplicate,
//! which `message_id` makes harmless.
//!
//! Ids go to the dedup ledger after their events' commits: ids confirmed by the broker
//! every [`RECORD_FLUSH`], and without a broker the ids of the events this writer kept,
//! in chunks of [`LEDGER_CHUNK`] between batches of events. Until its batch is written an
//! id is answered from memory, and the `ledgered_seq` mark (moved only once the ledger
//! is synced) tells the next open which events' ids a crash may have kept out of the
//! ledger: they are put back from the journal, and the ids of every spooled event
//! likewise.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::checks::event::Event;
use crate::config::StoreConfig;
use crate::durable::dedup;
use crate::obs::metrics::Metrics;

mod commit;
mod error;
pub(crate) mod history;
mod housekeeping;
mod layout;
mod pending;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

mod remote;
mod status;
pub(crate) use remote::{call, call_any, query_escape, use_admin_token};
pub(crate) use status::Status;
pub(crate) mod replay_job;
pub(crate) use error::{StoreError, StoreFault};
use housekeeping::room;
use layout::{check_format, open_rw};
pub(crate) use layout::{db_dir, open_ledger, Tables, RECORD_FLUSH};
use pending::{LedgerJob, Pending};
pub use reader::Reader;
pub(crate) use reader::{admin_file, remote_call, ApiEvent, Filter, SpoolAccess, StoredEvent};
use writer::Writer;

/// Most commands one transaction takes; bounds the latency of the first in a burst.
const MAX_BATCH: usize = 512;
/// Capacity of the journal's batch buffer that is kept between batches (a full batch
/// of 1.5 KB events takes ~0.8 MB).
const RECORDS_KEPT: usize = 1 << 20;
/// Without a broker: most ids buffered for the ledger before they are written, whatever
/// the time since the last write (bounds the memory and the length of a ledger commit).
const LEDGER_BATCH: usize = 8192;
/// Ids written to the ledger per writer turn, between batches of events. Chosen when the
/// ledger was a SQLite table (~10 us per id into a large one): at 1 800 ids per flush
/// interval (18 000 events/s) in one commit, the events waiting behind it doubled the
/// p99 of the 200 (16 -> 34 ms). Into fjall a chunk costs a fraction of that; the size
/// has not been tuned again.
const LEDGER_CHUNK: usize = 256;
/// When the previous commit held more than one command but fewer than [`GATHER_UP_TO`]
/// (events are arriving close together, yet not so fast that batches fill up while the
/// last commit runs), the writer waits up to this long after a batch's first command for
/// more, until the batch holds [`GATHER_UP_TO`]: without it, at a few thousand events a
/// second each event got a commit and an fsync of its own (1.13 per commit at 5 600/s),
/// and the commits, not the events, cost the CPU. Measured at 5 600/s: 4.6 events per
/// commit, hookgate's CPU per 1 000 events 152-158 -> 114-118 ms, the 200's p50 0.5 ->
/// 0.95 ms. At low rates (one event per commit) and under saturation (batches already
/// larger) nothing waits. A gathered batch is committed like any other: the wait only
/// delays a commit, and a closed queue (shutdown) ends it at once.
const GATHER_FOR: Duration = Duration::from_micros(400);
const GATHER_UP_TO: usize = 8;

/// Add to `batch` what arrives on `rx` before `until`, stopping at `up_to` commands.
fn gather<T>(rx: &mpsc::Receiver<T>, batch: &mut Vec<T>, until: Instant, up_to: usize) {
    while batch.len() < up_to {
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            return;
        };
        match rx.recv_timeout(left) {
            Ok(c) => batch.push(c),
            Err(_) => return,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Accepted,
    Duplicate,
}

/// Where an accepted event is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// No broker: the event's final place.
    Events,
    /// Broker unavailable: waiting to be forwarded.
    Spool,
}

type Reply<T> = oneshot::Sender<Result<T, StoreFault>>;

enum Cmd {
    Keep(Table, Event, Reply<Outcome>),
    /// A copy of an event the broker confirmed, for the archive (`store.archive`):
    /// appended to the journal with the next commit, no dedup, nobody waits for it.
    Archive(Event),
    /// A batch of [`Pending::flushing`], by number.
    Record(u64, Arc<Ids>),
    Forwarded(Vec<i64>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub(crate) struct Store {
    tx: mpsc::Sender<Cmd>,
    healthy: Arc<AtomicBool>,
    /// The ledger refused writes for good (see [`Writer::ledger_failed`]): sticky, where
    /// `healthy` follows the last commit.
    ledger_broken: Arc<AtomicBool>,
    dir: PathBuf,
    ledger: Arc<dedup::Ledger>,
    tables: Tables,
    window: Duration,
    /// Ids confirmed by the broker, not yet written to the ledger.
    pending: Arc<std::sync::Mutex<Pending>>,
    /// Where [`Store::record`] puts an id without taking `pending`'s lock (a request's
    /// hot path); drained into `pending` by whoever takes the lock next.
    recorded: mpsc::Sender<(Arc<str>, String)>,
    /// Ids sent to `recorded` since the last flush (roughly: it triggers an early one).
    recorded_n: Arc<std::sync::atomic::AtomicUsize>,
    /// Answers "never seen" for new ids without a ledger look-up: in [`Store::seen`]
    /// (with a broker) and in the writer, before it keeps an event.
    filter: Arc<dedup::Filter>,
    /// No broker: the writer fills [`Pending`] and writes the ledger itself.
    writer_keeps_ledger: bool,
    committed: Arc<tokio::sync::watch::Sender<i64>>,
    delivered_floor: Arc<std::sync::atomic::AtomicI64>,
}

/// Route -> ids, so a look-up borrows `&str`s instead of building a key.
type Ids = HashMap<Arc<str>, std::collections::HashSet<String>>;

impl Store {
    /// Open (creating if needed) and start the writer thread. `with_broker`: events go to
    /// the broker, and [`Store::seen`] is asked on the request path (else they are kept
    /// here, and the writer keeps their ids' ledger).
    pub(crate) fn open(
        cfg: &StoreConfig,
        metrics: Arc<Metrics>,
        with_broker: bool,
    ) -> Result<Store, StoreError> {
        let (tables, ledger, journal) = open_rw(&cfg.path, cfg.dedup_window)?;
        let ledger = Arc::new(ledger);
        let (tx, rx) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let ledger_broken = Arc::new(AtomicBool::new(false));
        let filter = Arc::new(dedup::Filter::new(cfg.dedup_window));
        let (recorded, inbox) = mpsc::channel();
        let pending = Arc::new(std::sync::Mutex::new(Pending {
            inbox: Some(inbox),
            ..Default::default()
        }));
        let last_seq = journal.next_seq() - 1;
        let committed = Arc::new(tokio::sync::watch::Sender::new(last_seq));
        let delivered_floor = Arc::new(std::sync::atomic::AtomicI64::new(i64::MAX));
        let writer = Writer {
            committed: committed.clone(),
            delivered_floor: delivered_floor.clone(),
            pending: pending.clone(),
            spool_seq: tables.last_spool_seq(),
            tables: tables.clone(),
            ledger: ledger.clone(),
            window: cfg.dedup_window,
            healthy: healthy.clone(),
            ledger_broken: ledger_broken.clone(),
            metrics,
            filter: filter.clone(),
            keeps_ledger: !with_broker,
            last_seq,
            journal,
            records: Vec::new(),
            ledger_written: Instant::now(),
            ledger_job: None,
            ledger_failed: false,
            unledgered: false,
            dir: cfg.path.clone(),
            retention: cfg.retention,
            housekeeping_at: Instant::now(),
            probed_at: Instant::now(),
        };
        let spawn_err = |e| StoreError::Dir(cfg.path.clone(), e);
        std::thread::Builder::new()
            .name("hookgate-store".into())
            .spawn(move || writer.run(rx))
            .map_err(spawn_err)?;
        // Load the ledger into the filter off the request path; until it is done, every
        // look-up asks the ledger.
        {
            let (f, l) = (filter.clone(), ledger.clone());
            let window = cfg.dedup_window;
            std::thread::Builder::new()
                .name("hookgate-dedup-load".into())
                .spawn(move || {
                    let now = crate::now_ms();
                    match f.load(&l, now, now - window.as_millis() as i64) {
                        Ok(n) => {
                            tracing::debug!(ids = n, "dedup ledger loaded into the filter");
                            f.set_ready();
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot load the dedup ledger into the filter; every look-up will read the ledger"),
                    }
                })
                .map_err(spawn_err)?;
        }
        Ok(Store {
            tx,
            healthy,
            ledger_broken,
            dir: cfg.path.clone(),
            ledger,
            tables,
            window: cfg.dedup_window,
            pending,
            recorded,
            recorded_n: Default::default(),
            filter,
            writer_keeps_ledger: !with_broker,
            committed,
            delivered_floor,
        })
    }

    /// The last seq committed to the event journal, as it changes (delivery follows it).
    pub(crate) fn committed(&self) -> tokio::sync::watch::Receiver<i64> {
        self.committed.subscribe()
    }

    /// Delivery's floor for retention: every kept event up to this seq is taken.
    pub(crate) fn set_delivered_floor(&self, seq: i64) {
        self.delivered_floor.store(seq, Ordering::Relaxed);
    }

    /// The keyspaces delivery keeps its state in, and a way to sync them.
    pub(crate) fn tables(&self) -> (&Tables, &Arc<dedup::Ledger>) {
        (&self.tables, &self.ledger)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, StoreFault> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| StoreFault::Closed)?;
        rx.await.map_err(|_| StoreFault::Closed)?
    }

    /// Make `ev` durable in `table` (or recognise it as a duplicate). Returns once fsynced.
    pub(crate) async fn keep(&self, table: Table, ev: Event) -> Result<Outcome, StoreFault> {
        self.ask(|r| Cmd::Keep(table, ev, r)).await
    }

    /// Keep a copy of `ev`, which the broker confirmed, in the event journal for the
    /// archive (listing, replay). Not awaited: the event is durable in the broker, and
    /// a copy lost to a crash or a full disk costs the archive one entry (counted in the
    /// log as a failed commit), never the event.
    pub(crate) fn archive(&self, ev: Event) {
        let _ = self.tx.send(Cmd::Archive(ev));
    }

    /// Was this event id accepted within the dedup window?
    pub(crate) fn seen(&self, route: &str, id: &str) -> Result<bool, StoreFault> {
        if !self.filter.maybe_seen(route, id) {
            return Ok(false);
        }
        {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.drain();
            if p.contains(route, id) {
                return Ok(true);
            }
        }
        let since = crate::now_ms() - self.window.as_millis() as i64;
        self.ledger
            .seen(route, id, since)
            .map_err(|e| StoreFault::of(&StoreError::Ledger(e)))
    }

    /// Note an id as accepted (after the broker confirmed it). Buffered in memory and
    /// written every [`RECORD_FLUSH`] in one batch; `seen` consults the buffer too.
    /// Losing the buffer in a crash costs at most a duplicate publish, which
    /// `message_id` makes harmless.
    pub(crate) fn record(&self, route: Arc<str>, id: String) {
        self.filter.insert(&route, &id);
        // No lock here: a channel send. `pending` takes the id in at its next reader.
        let _ = self.recorded.send((route, id));
        if self.recorded_n.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_BATCH {
            self.flush_records();
        }
    }

    /// Write buffered dedup records; called every [`RECORD_FLUSH`] and at shutdown.
    /// (Without a broker the writer does this itself, knowing which events it covers.)
    pub(crate) fn flush_records(&self) {
        if self.writer_keeps_ledger {
            return;
        }
        self.recorded_n.store(0, Ordering::Relaxed);
        let cmd = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(cmd) = cmd {
            let _ = self.tx.send(cmd);
        }
    }

    /// Remove spool entries the broker has confirmed.
    pub(crate) fn forwarded(&self, seqs: Vec<i64>) {
        let _ = self.tx.send(Cmd::Forwarded(seqs));
    }

    /// Wait until everything submitted so far is committed.
    pub(crate) async fn flush(&self) {
        self.flush_records();
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Flush(reply)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The last commit succeeded and the writer is alive.
    pub(crate) fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.ledger_broken()
    }

    /// The dedup ledger refuses writes until a restart (see `Writer::ledger_error`).
    pub(crate) fn ledger_broken(&self) -> bool {
        self.ledger_broken.load(Ordering::Relaxed)
    }
}
