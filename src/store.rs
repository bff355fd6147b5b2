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

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::config::StoreConfig;
use crate::dedup;
use crate::event::Event;
use crate::journal::{self, Journal};
use crate::metrics::Metrics;

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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // No `#[from]`: the message already holds the cause, and as a `source` too it would
    // print twice in the CLI's error chain.
    #[error("store: database (spool, dedup ledger): {0}")]
    Ledger(fjall::Error),
    #[error(
        "store: {0} is in use by another hookgate process (a store folder belongs to one gateway)"
    )]
    InUse(PathBuf),
    #[error("store: cannot create {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("store: event journal: {0}")]
    Journal(std::io::Error),
    #[error("store: event journal {0}: {1}")]
    JournalAt(PathBuf, std::io::Error),
    #[error("store: database (spool, dedup ledger) {0}: {1}")]
    LedgerAt(PathBuf, std::io::Error),
    #[error("store writer has stopped")]
    Closed,
    #[error("store: {0}")]
    Remote(String),
    #[error(
        "store: {dir} was written by another version of hookgate ({found}). There is no migration before 1.0: replay its events with the hookgate that wrote it (`hookgate store replay`), then move the folder away or set store.path to a new one"
    )]
    Format { dir: PathBuf, found: String },
}

/// Why an event could not be made durable, as each waiter of a failed commit hears it
/// (cloned to all of them). [`StoreFault::cause`] is its metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreFault {
    #[error("store: the disk is full")]
    DiskFull,
    #[error("{0}")]
    WriteFailed(String),
    #[error("store writer has stopped")]
    Closed,
    #[error("store: dedup ledger: {0}")]
    Ledger(String),
}

impl StoreFault {
    /// The closed set of causes (see `Metrics::UNAVAILABLE_CAUSES`).
    pub fn cause(&self) -> &'static str {
        match self {
            StoreFault::DiskFull => "disk_full",
            StoreFault::WriteFailed(_) => "store_write_failed",
            StoreFault::Closed => "store_closed",
            StoreFault::Ledger(_) => "dedup_ledger_failed",
        }
    }

    fn of(e: &StoreError) -> StoreFault {
        let full = |io: &std::io::Error| {
            // ENOSPC, EDQUOT
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ) || matches!(io.raw_os_error(), Some(28 | 122))
        };
        let is_full = match e {
            StoreError::Journal(io)
            | StoreError::JournalAt(_, io)
            | StoreError::LedgerAt(_, io)
            | StoreError::Dir(_, io) => full(io),
            StoreError::Ledger(fjall::Error::Io(io)) => full(io),
            _ => false,
        };
        match e {
            _ if is_full => StoreFault::DiskFull,
            StoreError::Closed => StoreFault::Closed,
            StoreError::Ledger(l) => StoreFault::Ledger(l.to_string()),
            other => StoreFault::WriteFailed(other.to_string()),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Journal(e)
    }
}

impl From<fjall::Error> for StoreError {
    fn from(e: fjall::Error) -> Self {
        StoreError::Ledger(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
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
    /// A batch of [`Pending::flushing`], by number.
    Record(u64, Arc<Ids>),
    Forwarded(Vec<i64>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Store {
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
}

/// Route -> ids, so a look-up borrows `&str`s instead of building a key.
type Ids = HashMap<Arc<str>, std::collections::HashSet<String>>;

/// Ids the broker confirmed that the ledger may not hold yet. `current` fills up;
/// a flush hands it to the writer as a numbered batch that stays here, still answering
/// look-ups, until the writer has committed it (else an id would be in neither place
/// for the length of a commit, and a duplicate in that instant would be published).
#[derive(Default)]
struct Pending {
    current: Ids,
    count: usize,
    flushing: Vec<(u64, Arc<Ids>)>,
    next: u64,
    /// [`Store::record`]'s ids on their way into `current`.
    inbox: Option<mpsc::Receiver<(Arc<str>, String)>>,
}

impl Pending {
    /// Move what [`Store::record`] sent into `current`. Everyone who reads `current`
    /// drains first, so an id is never in neither place.
    fn drain(&mut self) {
        let Some(inbox) = &self.inbox else {
            return;
        };
        while let Ok((route, id)) = inbox.try_recv() {
            self.count += usize::from(self.current.entry(route).or_default().insert(id));
        }
    }

    fn contains(&self, route: &str, id: &str) -> bool {
        let has = |ids: &Ids| ids.get(route).is_some_and(|s| s.contains(id));
        has(&self.current) || self.flushing.iter().any(|(_, b)| has(b))
    }

    fn take(&mut self) -> Option<Cmd> {
        self.drain();
        if self.current.is_empty() {
            return None;
        }
        let batch = Arc::new(std::mem::take(&mut self.current));
        self.count = 0;
        self.next += 1;
        self.flushing.push((self.next, batch.clone()));
        Some(Cmd::Record(self.next, batch))
    }

    /// The writer is done with batch `n`: committed, or failed and to be retried.
    fn done(&mut self, n: u64, committed: bool) {
        let Some(i) = self.flushing.iter().position(|(k, _)| *k == n) else {
            return;
        };
        let (_, batch) = self.flushing.remove(i);
        if !committed {
            for (route, ids) in batch.iter() {
                self.count += ids.len();
                self.current
                    .entry(route.clone())
                    .or_default()
                    .extend(ids.iter().cloned());
            }
        }
    }
}

/// Events per step (ledger write, sync, mark) when the ledger is completed from the
/// event journal at open.
const RESTORE_CHUNK: i64 = if cfg!(test) { 2 } else { 100_000 };
/// How often buffered dedup records are written (at most this long in memory only).
pub const RECORD_FLUSH: Duration = Duration::from_millis(100);

/// The layout this build writes and reads, recorded in `<store>/FORMAT` when a store is
/// created. Before 1.0 there is no migration: a store in another layout is refused at
/// open, saying what was found and what to do.
pub const FORMAT: &str = "hookgate-store 2";

/// Refuse a store in another layout. `create`: a store without a `FORMAT` file (new,
/// or written by a build of this layout from before the file) gets one.
fn check_format(dir: &Path, create: bool) -> Result<(), StoreError> {
    let file = dir.join("FORMAT");
    let refuse = |found: String| {
        Err(StoreError::Format {
            dir: dir.to_path_buf(),
            found,
        })
    };
    match std::fs::read_to_string(&file) {
        Ok(t) if t.trim() == FORMAT => return Ok(()),
        Ok(t) => {
            return refuse(format!(
                "its FORMAT file says {:?}; this hookgate reads {FORMAT:?}",
                t.trim()
            ))
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(StoreError::Dir(file, e));
        }
        Err(_) => {}
    }
    // Earlier layouts kept the spool (and before that events and the dedup ledger) in a
    // SQLite database beside the journal.
    if dir.join("hookgate.db").exists() {
        return refuse(
            "hookgate.db, the SQLite database of the layouts before hookgate-store 2".into(),
        );
    }
    if create {
        let tmp = dir.join("FORMAT.tmp");
        std::fs::write(&tmp, format!("{FORMAT}\n"))
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &file))
            .and_then(|()| std::fs::File::open(dir)?.sync_all())
            .map_err(|e| StoreError::Dir(file, e))?;
    }
    Ok(())
}

/// The store's database (fjall): the dedup ledger's `ids`, the `spool` and the `meta`
/// marks, in one journal with one sync.
pub fn db_dir(dir: &Path) -> PathBuf {
    dir.join("db")
}

/// The keyspaces beside the ledger's.
#[derive(Clone)]
pub struct Tables {
    /// Spooled events: seq (8 bytes, big-endian) -> the event as a journal record.
    spool: fjall::Keyspace,
    /// `ledgered_seq` -> i64, big-endian.
    meta: fjall::Keyspace,
    /// Tests: writing the mark fails (as a full disk would make it).
    #[cfg(test)]
    refuse_marks: Arc<AtomicBool>,
}

const LEDGERED_SEQ: &[u8] = b"ledgered_seq";

impl Tables {
    fn open(ledger: &dedup::Ledger) -> fjall::Result<Tables> {
        Ok(Tables {
            spool: ledger.keyspace_with("spool", 4 << 20)?,
            meta: ledger.keyspace("meta")?,
            #[cfg(test)]
            refuse_marks: Default::default(),
        })
    }

    fn set_mark(&self, seq: i64) -> Result<(), StoreError> {
        #[cfg(test)]
        if self.refuse_marks.load(Ordering::Relaxed) {
            return Err(StoreError::Journal(std::io::Error::other("refused (test)")));
        }
        Ok(self.meta.insert(LEDGERED_SEQ, seq.to_be_bytes())?)
    }

    fn mark(&self) -> Result<i64, StoreError> {
        Ok(self
            .meta
            .get(LEDGERED_SEQ)?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
            .unwrap_or(0))
    }

    /// The last spool seq given (0 for an empty spool).
    fn last_spool_seq(&self) -> i64 {
        self.spool
            .last_key_value()
            .and_then(|g| g.key().ok())
            .and_then(|k| k.as_ref().try_into().ok().map(i64::from_be_bytes))
            .unwrap_or(0)
    }

    /// Spooled events after `after_seq`, oldest first, at most `limit`.
    fn spooled(&self, after_seq: i64, limit: usize) -> Result<Vec<journal::Record>, StoreError> {
        let mut out = Vec::new();
        let from = (after_seq.max(0) + 1).to_be_bytes();
        for item in self.spool.range(from..) {
            if out.len() >= limit {
                break;
            }
            let v = item.value()?;
            match journal::decode_record(&v) {
                Some(r) => out.push(r),
                None => tracing::error!("a spooled record failed its check; skipped"),
            }
        }
        Ok(out)
    }
}

/// Open the store's database, with a clear error when another gateway holds it.
pub fn open_ledger(dir: &Path, window: Duration) -> Result<dedup::Ledger, StoreError> {
    dedup::Ledger::open(&db_dir(dir), window).map_err(|e| match e {
        fjall::Error::Locked => StoreError::InUse(dir.to_path_buf()),
        fjall::Error::Io(e) => StoreError::LedgerAt(db_dir(dir), e),
        e => StoreError::Ledger(e),
    })
}

fn open_rw(dir: &Path, window: Duration) -> Result<(Tables, dedup::Ledger, Journal), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Dir(dir.to_path_buf(), e))?;
    check_format(dir, true)?;
    let ledger = open_ledger(dir, window)?;
    let tables = Tables::open(&ledger)?;
    let since = crate::now_ms() - window.as_millis() as i64;
    let journal = Journal::open(&journal::dir(dir), 1)
        .map_err(|e| StoreError::JournalAt(journal::dir(dir), e))?;
    let restored = restore_ledger(&tables, &ledger, &journal, since)?;
    if restored > 0 {
        tracing::info!(ids = restored, "dedup ledger completed from stored events");
    }
    Ok((tables, ledger, journal))
}

/// Put into the ledger what it may lack, then sync it:
/// - the ids of kept events past the `ledgered_seq` mark (and within the window), read
///   from the event journal, then the mark moved to the last event. After a crash these
///   are the events whose ids were still buffered: a few seconds' worth. It runs in
///   steps of [`RESTORE_CHUNK`] events, each moving the mark, so a start interrupted
///   midway (a liveness probe, a deploy) resumes where it stopped;
/// - the ids of every spooled event (recorded after their commit, like the broker's).
fn restore_ledger(
    tables: &Tables,
    ledger: &dedup::Ledger,
    journal: &Journal,
    since_ms: i64,
) -> Result<usize, StoreError> {
    let mut restored = 0;
    // Kept events' ids past the mark, read from the journal.
    let last = journal.next_seq() - 1;
    let from = tables.mark()?;
    if last > from {
        let (mut chunk, mut seq, mut mark_at) = (Vec::<(Arc<str>, String, i64)>::new(), from, from);
        let mut scan = journal::Scan::new(journal.dir(), from)?;
        loop {
            let next = scan.next().transpose()?;
            let done = next.is_none();
            if let Some(r) = next {
                if r.event.received_at_ms >= since_ms {
                    chunk.push((r.event.route, r.event.id, r.event.received_at_ms));
                }
                seq = r.seq;
            }
            let step_done = done || seq - mark_at >= RESTORE_CHUNK;
            if chunk.len() >= 10_000 || step_done {
                ledger.record(chunk.iter().map(|(r, i, at)| (&**r, i.as_str(), *at)))?;
                restored += chunk.len();
                chunk.clear();
            }
            if step_done {
                ledger.sync()?;
                mark_at = if done { last } else { seq };
                tables.set_mark(mark_at)?;
                if last - from > RESTORE_CHUNK {
                    tracing::info!(
                        done = mark_at,
                        of = last,
                        "completing the dedup ledger from stored events (after a crash)"
                    );
                }
            }
            if done {
                break;
            }
        }
    }
    let mut after = 0;
    loop {
        let chunk = tables.spooled(after, 10_000)?;
        let Some(last) = chunk.last() else { break };
        after = last.seq;
        let ids = chunk.iter().filter(|r| r.event.received_at_ms >= since_ms);
        ledger
            .record(ids.map(|r| (&*r.event.route, r.event.id.as_str(), r.event.received_at_ms)))?;
        restored += chunk.len();
    }
    ledger.sync()?;
    Ok(restored)
}

impl Store {
    /// Open (creating if needed) and start the writer thread. `with_broker`: events go to
    /// the broker, and [`Store::seen`] is asked on the request path (else they are kept
    /// here, and the writer keeps their ids' ledger).
    pub fn open(
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
        let writer = Writer {
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
            last_seq: journal.next_seq() - 1,
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
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, StoreFault> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| StoreFault::Closed)?;
        rx.await.map_err(|_| StoreFault::Closed)?
    }

    /// Make `ev` durable in `table` (or recognise it as a duplicate). Returns once fsynced.
    pub async fn keep(&self, table: Table, ev: Event) -> Result<Outcome, StoreFault> {
        self.ask(|r| Cmd::Keep(table, ev, r)).await
    }

    /// Was this event id accepted within the dedup window?
    pub fn seen(&self, route: &str, id: &str) -> Result<bool, StoreFault> {
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
    pub fn record(&self, route: Arc<str>, id: String) {
        self.filter.insert(&route, &id);
        // No lock here: a channel send. `pending` takes the id in at its next reader.
        let _ = self.recorded.send((route, id));
        if self.recorded_n.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_BATCH {
            self.flush_records();
        }
    }

    /// Write buffered dedup records; called every [`RECORD_FLUSH`] and at shutdown.
    /// (Without a broker the writer does this itself, knowing which events it covers.)
    pub fn flush_records(&self) {
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
    pub fn forwarded(&self, seqs: Vec<i64>) {
        let _ = self.tx.send(Cmd::Forwarded(seqs));
    }

    /// Wait until everything submitted so far is committed.
    pub async fn flush(&self) {
        self.flush_records();
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Flush(reply)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The last commit succeeded and the writer is alive.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.ledger_broken()
    }

    /// The dedup ledger refuses writes until a restart (see `Writer::ledger_error`).
    pub fn ledger_broken(&self) -> bool {
        self.ledger_broken.load(Ordering::Relaxed)
    }
}

struct Writer {
    ledger_broken: Arc<AtomicBool>,
    /// The spool and the marks, in the ledger's database.
    tables: Tables,
    /// The last seq given to a spooled event.
    spool_seq: i64,
    /// Kept events (no broker) go here.
    journal: Journal,
    /// The journal records of the batch being committed (reused).
    records: Vec<u8>,
    ledger: Arc<dedup::Ledger>,
    window: Duration,
    healthy: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    filter: Arc<dedup::Filter>,
    pending: Arc<std::sync::Mutex<Pending>>,
    /// No broker: ids of kept events go to [`Pending`], and this writer writes them to
    /// the ledger (see the module doc).
    keeps_ledger: bool,
    /// The last seq committed to the journal: every kept id up to it is in [`Pending`]
    /// or in the ledger.
    last_seq: i64,
    ledger_written: Instant,
    ledger_job: Option<LedgerJob>,
    /// The last ledger chunk failed: retry after a flush interval, not in a loop.
    ledger_failed: bool,
    /// Ids of kept events are waiting in [`Pending`] for the ledger.
    unledgered: bool,
    dir: PathBuf,
    retention: Option<Duration>,
    /// When retention runs next and the store's size is measured.
    housekeeping_at: Instant,
    /// The last write probe while unhealthy (see [`Writer::housekeeping`]).
    probed_at: Instant,
}

/// How often an unhealthy store (a failed commit: a full disk, say) tries a write of its
/// own, so that it turns ready again once space is freed, without waiting for a
/// request that a load balancer no longer sends it.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Space the store keeps free on its filesystem: below it every write is refused as a
/// full disk before it starts. fjall poisons its database on any failed write or sync
/// (batch/mod.rs: every later write is refused until the process restarts), so the
/// database must never be the one to meet the full disk: the headroom covers a ledger
/// batch, a spool batch and a memtable flush of each keyspace (1 MiB of ids, 4 MiB of
/// spool).
pub const HEADROOM: u64 = 16 << 20;

/// `Err` (a full disk) when writing `need` bytes in `dir` would leave less than
/// [`HEADROOM`] free. A filesystem that cannot say is not refused.
fn room(dir: &Path, need: usize) -> Result<(), StoreError> {
    let Ok(fs) = rustix::fs::statvfs(dir) else {
        return Ok(());
    };
    let free = fs.f_bavail.saturating_mul(fs.f_frsize);
    if free < HEADROOM.saturating_add(need as u64) {
        return Err(StoreError::Journal(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!(
                "{} MiB free on the store's filesystem, below the {} MiB it keeps free",
                free >> 20,
                HEADROOM >> 20
            ),
        )));
    }
    Ok(())
}

/// Write and sync a little in `dir`, then remove it: can the store write now (and with
/// its [`HEADROOM`] free)?
fn probe(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    room(dir, 64 << 10).map_err(|e| match e {
        StoreError::Journal(io) => io,
        other => std::io::Error::other(other.to_string()),
    })?;
    let path = dir.join(".write-probe");
    let result = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&[0u8; 64 << 10])?;
        f.sync_data()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// Bytes in the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A batch of [`Pending`] on its way into the ledger, a chunk at a time.
struct LedgerJob {
    n: u64,
    ids: Vec<(Arc<str>, String)>,
    written: usize,
    /// `ledgered_seq` once the last chunk is in.
    mark: i64,
    /// Accepted at (recorded as): when the batch was taken, at most a flush interval
    /// after its events were kept.
    at: i64,
}

/// A writer that is gone (the store was dropped, or a panic unwound the thread) is not
/// healthy: `/readyz` must not report a store that can no longer commit.
impl Drop for Writer {
    fn drop(&mut self) {
        self.healthy.store(false, Ordering::Relaxed);
    }
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let mut last_batch = 0;
        loop {
            self.filter.rotate_if_due();
            let wait = match &self.ledger_job {
                // A batch half written: go on at once, unless its last chunk failed
                // (then `ledger_written` spaces the retries by a flush interval).
                Some(_) if !self.ledger_failed => Duration::ZERO,
                // Something to write (or to retry): by the end of its flush interval.
                // Else an idle writer sleeps a second at a time, not ten times as often.
                _ if self.keeps_ledger && (self.unledgered || self.ledger_job.is_some()) => {
                    RECORD_FLUSH.saturating_sub(self.ledger_written.elapsed())
                }
                _ => Duration::from_secs(1),
            };
            let first = match rx.recv_timeout(wait) {
                Ok(c) => c,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.write_ledger(false);
                    self.housekeeping();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let arrived = Instant::now();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            // Events are arriving close together but this batch is small: wait briefly
            // for more, so that they share the commit's fsync.
            if (2..GATHER_UP_TO).contains(&last_batch) {
                gather(&rx, &mut batch, arrived + GATHER_FOR, GATHER_UP_TO);
            }
            last_batch = batch.len();
            self.commit(batch);
            self.housekeeping();
        }
    }

    /// Between batches: the write probe while unhealthy; every so often retention (kept
    /// events past `store.retention`, a segment at a time) and the store's size.
    fn housekeeping(&mut self) {
        if !self.healthy.load(Ordering::Relaxed) && self.probed_at.elapsed() >= PROBE_EVERY {
            self.probed_at = Instant::now();
            if probe(&self.dir).is_ok() {
                tracing::info!("the store can write again; ready");
                self.healthy.store(true, Ordering::Relaxed);
            }
        }
        if Instant::now() < self.housekeeping_at {
            return;
        }
        let every = self.retention.map_or(Duration::from_secs(60), |r| {
            (r / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
        });
        self.housekeeping_at = Instant::now() + every;
        if let Some(r) = self.retention {
            match self.journal.retain(std::time::SystemTime::now() - r) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    segments = n,
                    retention = %humantime::format_duration(r),
                    "removed kept events past the retention"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "removing kept events past the retention failed; retrying later")
                }
            }
        }
        self.metrics.store_bytes.set(dir_size(&self.dir) as i64);
    }

    /// No broker: write buffered ids of kept events to the ledger, one chunk of
    /// [`LEDGER_CHUNK`] per call (so that a flush interval's ids never hold the events
    /// behind them for long), or all of them if `all` (shutdown). A new batch is taken
    /// from [`Pending`] once a flush interval has passed or [`LEDGER_BATCH`] have
    /// gathered. After the last chunk the ledger is synced and only then the mark moved
    /// (`NORMAL` sync: if a power cut loses the mark, the next open writes those ids
    /// again). A failed step is retried on a later call; the batch's ids answer from
    /// [`Pending`] until the whole batch is in.
    fn write_ledger(&mut self, all: bool) {
        if !self.keeps_ledger {
            return;
        }
        loop {
            let mut job = match self.ledger_job.take() {
                Some(job) => job,
                None => {
                    let due = all || self.ledger_written.elapsed() >= RECORD_FLUSH;
                    let cmd = {
                        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                        if !due && p.count < LEDGER_BATCH {
                            return;
                        }
                        self.ledger_written = Instant::now();
                        self.unledgered = false;
                        p.take()
                    };
                    let Some(Cmd::Record(n, ids)) = cmd else {
                        return;
                    };
                    let ids: Vec<_> = ids
                        .iter()
                        .flat_map(|(r, ids)| ids.iter().map(|id| (r.clone(), id.clone())))
                        .collect();
                    // Every id of an event up to `last_seq` is in this batch or an earlier
                    // one: this writer is the only one that adds them and takes them.
                    LedgerJob {
                        n,
                        ids,
                        written: 0,
                        mark: self.last_seq,
                        at: crate::now_ms(),
                    }
                }
            };
            let end = (job.written + LEDGER_CHUNK).min(job.ids.len());
            let result = (|| -> Result<(), StoreError> {
                room(&self.dir, (end - job.written) * 64)?;
                if job.written < end {
                    let chunk = &job.ids[job.written..end];
                    self.ledger
                        .record(chunk.iter().map(|(r, id)| (&**r, id.as_str(), job.at)))?;
                    job.written = end;
                }
                if end == job.ids.len() {
                    self.ledger.sync()?;
                    // Buffered: synced with the next commit that syncs. Lost to a power
                    // cut, the next open writes these ids again.
                    self.tables.set_mark(job.mark)?;
                }
                Ok(())
            })();
            self.ledger_failed = result.is_err();
            if let Err(e) = result {
                self.ledger_error(&e);
                self.ledger_written = Instant::now();
                self.ledger_job = Some(job);
                return;
            }
            if end < job.ids.len() {
                self.ledger_job = Some(job);
            } else {
                self.batch_done(job.n, true);
            }
            if !all {
                return;
            }
        }
    }

    /// With a broker: write a batch of confirmed ids to the ledger and sync it.
    fn record(&self, ids: &Ids, at: i64) -> Result<(), StoreError> {
        room(&self.dir, ids.values().map(|s| s.len() * 64).sum())?;
        self.ledger.record(
            ids.iter()
                .flat_map(|(r, ids)| ids.iter().map(move |id| (&**r, id.as_str(), at))),
        )?;
        Ok(self.ledger.sync()?)
    }

    fn commit(&mut self, batch: Vec<Cmd>) {
        let started = Instant::now();
        let now = crate::now_ms();
        let since = now - self.window.as_millis() as i64;
        // Confirmed ids (with a broker) go to the ledger, not into the transaction.
        for cmd in &batch {
            if let Cmd::Record(n, ids) = cmd {
                let written = self.record(ids, now);
                if let Err(e) = &written {
                    self.ledger_error(e);
                }
                self.batch_done(*n, written.is_ok());
            }
        }
        // The spool (broker down) and the forwarded marks are the database's; kept events
        // (no broker) the journal's. A gateway has a broker or not, so one batch holds one
        // kind or the other, and a failure of either fails the batch.
        let (mut keeps, mut spooled, mut forwarded) = (0, 0, false);
        for c in &batch {
            match c {
                Cmd::Keep(table, ..) => {
                    keeps += 1;
                    spooled += usize::from(*table == Table::Spool);
                }
                Cmd::Forwarded(_) => forwarded = true,
                Cmd::Record(..) | Cmd::Flush(_) => {}
            }
        }
        if keeps == 0 && !forwarded {
            let flushed: Vec<_> = batch
                .into_iter()
                .filter_map(|c| match c {
                    Cmd::Flush(r) => Some(r),
                    _ => None,
                })
                .collect();
            self.write_ledger(!flushed.is_empty());
            for r in flushed {
                let _ = r.send(());
            }
            return;
        }
        enum Answer {
            Kept(Outcome),
            None,
        }
        let pending = self.pending.clone();
        let filter = self.filter.clone();
        let ledger = self.ledger.clone();
        let mut last_seq = self.last_seq;
        let mut spool_seq = self.spool_seq;
        // Reused between batches, but not kept at the size of a burst of large bodies
        // (up to MAX_BATCH x max_body): the idle gateway gives that memory back.
        if self.records.capacity() > RECORDS_KEPT {
            self.records = Vec::new();
        }
        self.records.clear();
        let result = (|| -> Result<Vec<Answer>, StoreError> {
            if keeps > 0 {
                let bytes = batch.iter().map(|c| match c {
                    Cmd::Keep(_, ev, _) => 64 + ev.body.len(),
                    _ => 0,
                });
                room(&self.dir, bytes.sum())?;
            }
            // The spool's inserts and removals: one atomic batch, synced when it spools.
            let mut spool = (spooled > 0 || forwarded).then(|| ledger.batch());
            let mut answers = Vec::with_capacity(batch.len());
            // Kept in this batch: a second delivery in the same batch is a duplicate.
            let mut kept = std::collections::HashSet::new();
            for cmd in &batch {
                answers.push(match cmd {
                    Cmd::Keep(table, ev, _) => {
                        // An id is recorded after its event's commit (see the module doc),
                        // and is in the filter from then on.
                        let seen = kept.contains(&(&*ev.route, ev.id.as_str()))
                            || (filter.maybe_seen(&ev.route, &ev.id)
                                && ({
                                    let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                                    p.drain();
                                    p.contains(&ev.route, &ev.id)
                                } || ledger.seen(&ev.route, &ev.id, since)?));
                        if seen {
                            Answer::Kept(Outcome::Duplicate)
                        } else {
                            match (table, spool.as_mut()) {
                                (Table::Events, _) => {
                                    last_seq += 1;
                                    journal::encode(&mut self.records, last_seq, ev);
                                }
                                (Table::Spool, Some(b)) => {
                                    spool_seq += 1;
                                    let mut record = Vec::with_capacity(64 + ev.body.len());
                                    journal::encode(&mut record, spool_seq, ev);
                                    b.insert(&self.tables.spool, spool_seq.to_be_bytes(), record);
                                }
                                (Table::Spool, None) => {
                                    unreachable!("a spooled event opens the batch")
                                }
                            }
                            kept.insert((&*ev.route, ev.id.as_str()));
                            Answer::Kept(Outcome::Accepted)
                        }
                    }
                    Cmd::Forwarded(seqs) => {
                        if let Some(b) = spool.as_mut() {
                            for s in seqs {
                                b.remove(&self.tables.spool, s.to_be_bytes());
                            }
                        }
                        Answer::None
                    }
                    Cmd::Record(..) | Cmd::Flush(_) => Answer::None,
                });
            }
            if let Some(b) = spool {
                b.commit()?;
                // Removals alone need no sync: lost to a power cut, an entry is
                // forwarded again, which `message_id` makes harmless.
                if spooled > 0 {
                    ledger.sync()?;
                }
            }
            if !self.records.is_empty() {
                self.journal.append(&self.records, last_seq)?;
            }
            Ok(answers)
        })();
        if keeps > 0 {
            self.metrics.store_commit(started.elapsed(), keeps);
        }
        match result {
            Ok(answers) => {
                self.healthy.store(true, Ordering::Relaxed);
                self.last_seq = last_seq;
                self.spool_seq = spool_seq;
                let mut flushed = Vec::new();
                let mut p =
                    (keeps > 0).then(|| self.pending.lock().unwrap_or_else(|e| e.into_inner()));
                for (cmd, answer) in batch.into_iter().zip(answers) {
                    match (cmd, answer) {
                        (Cmd::Keep(table, ev, r), Answer::Kept(o)) => {
                            if o == Outcome::Accepted {
                                self.filter.insert(&ev.route, &ev.id);
                                // Kept events' ids (no broker) are written by this writer;
                                // spooled ones (broker down) by the next flush of records.
                                if let Some(p) = p.as_mut() {
                                    p.count += usize::from(
                                        p.current.entry(ev.route).or_default().insert(ev.id),
                                    );
                                    self.unledgered |= table == Table::Events;
                                }
                            }
                            drop(r.send(Ok(o)));
                        }
                        (Cmd::Flush(r), _) => flushed.push(r),
                        _ => {}
                    }
                }
                drop(p);
                self.write_ledger(!flushed.is_empty());
                for r in flushed {
                    let _ = r.send(());
                }
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Relaxed);
                let fault = StoreFault::of(&e);
                tracing::error!(error = %e, cause = fault.cause(), commands = keeps, "store commit failed; answering 503");
                for cmd in batch {
                    match cmd {
                        Cmd::Keep(_, _, r) => drop(r.send(Err(fault.clone()))),
                        Cmd::Flush(r) => drop(r.send(())),
                        _ => {}
                    }
                }
            }
        }
    }

    /// A failed ledger write is retried; but after a failed sync fjall refuses every
    /// later write ("poisoned": it cannot vouch for what reached the disk), the ids pile
    /// up in memory, and only a restart recovers. Then `/readyz` says so.
    fn ledger_error(&self, e: &StoreError) {
        if ledger_is_broken(e) {
            if !self.ledger_broken.swap(true, Ordering::Relaxed) {
                tracing::error!(error = %e, "the dedup ledger refuses writes after a failed sync; not ready until restarted");
            }
        } else {
            tracing::warn!(error = %e, "writing the dedup ledger failed; retrying");
        }
    }

    fn batch_done(&self, n: u64, committed: bool) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .done(n, committed);
    }
}

fn ledger_is_broken(e: &StoreError) -> bool {
    matches!(e, StoreError::Ledger(fjall::Error::Poisoned))
}

/// An event as stored, for `hookgate store`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub route: String,
    pub id: String,
    pub event_type: Option<String>,
    pub received_at: String,
    pub source_ip: String,
    pub content_type: Option<String>,
    pub headers: serde_json::Value,
    pub body_len: usize,
    #[serde(skip)]
    pub body: Vec<u8>,
    #[serde(skip)]
    pub received_at_ms: i64,
}

impl From<journal::Record> for StoredEvent {
    fn from(r: journal::Record) -> Self {
        let ev = r.event;
        StoredEvent {
            seq: r.seq,
            route: ev.route.to_string(),
            id: ev.id,
            event_type: ev.event_type,
            received_at: crate::rfc3339_ms(ev.received_at_ms),
            source_ip: ev.source_ip.to_string(),
            content_type: ev.content_type,
            headers: serde_json::Value::Array(
                ev.headers
                    .into_iter()
                    .map(|(n, v)| serde_json::json!([n, v]))
                    .collect(),
            ),
            body_len: ev.body.len(),
            body: ev.body.to_vec(),
            received_at_ms: ev.received_at_ms,
        }
    }
}

impl StoredEvent {
    /// Back to an [`Event`], for forwarding or replay.
    pub fn into_event(self) -> Event {
        let headers = match self.headers {
            serde_json::Value::Array(items) => items
                .into_iter()
                .filter_map(|pair| {
                    let p = pair.as_array()?;
                    Some((
                        p.first()?.as_str()?.to_string(),
                        p.get(1)?.as_str()?.to_string(),
                    ))
                })
                .collect(),
            _ => Vec::new(),
        };
        Event {
            route: Arc::from(self.route),
            id: self.id,
            event_type: self.event_type,
            body: Bytes::from(self.body),
            content_type: self.content_type,
            received_at_ms: self.received_at_ms,
            source_ip: self
                .source_ip
                .parse()
                .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
            headers,
        }
    }
}

/// Read access: the CLI, the spool forwarder and the admin API. The event journal is
/// read directly, also while a gateway appends to it. The spool lives in the store's
/// database, which one process opens at a time: the gateway reads it through its own
/// handle ([`Store::reader`]); the CLI opens it when no gateway runs, and otherwise asks
/// the running gateway's admin API (its address is in `<store>/admin`).
pub struct Reader {
    /// The event journal's folder.
    journal: PathBuf,
    spool: SpoolAccess,
    /// Where the last [`Reader::oldest`] of events stopped (its last seq), so that the
    /// next one, asked for what follows, reads on instead of from the segment's start.
    cursor: std::cell::RefCell<Option<(i64, journal::Scan)>>,
}

enum SpoolAccess {
    /// The database is open in this process; the CLI holds its handle here, so that it
    /// stays open while the reader reads.
    Local(Tables, #[allow(dead_code)] Option<dedup::Ledger>),
    /// A running gateway holds it: its admin address.
    Remote(String),
}

/// The file where a serving gateway records its admin address for `hookgate store`.
pub fn admin_file(dir: &Path) -> PathBuf {
    dir.join("admin")
}

impl Store {
    /// A reader that shares this process's database handle.
    pub fn reader(&self) -> Reader {
        Reader {
            journal: journal::dir(&self.dir),
            spool: SpoolAccess::Local(self.tables.clone(), None),
            cursor: Default::default(),
        }
    }
}

impl Reader {
    /// Open the store in `dir` for reading (the CLI).
    pub fn open(dir: &Path) -> Result<Reader, StoreError> {
        if !db_dir(dir).exists() {
            return Err(StoreError::Dir(
                dir.to_path_buf(),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no store here (has the gateway run?)",
                ),
            ));
        }
        check_format(dir, false)?;
        // A window no compaction reaches: a reader must never drop a gateway's ids.
        let forever = Duration::from_secs(100 * 365 * 24 * 3600);
        let spool = match open_ledger(dir, forever) {
            Ok(ledger) => SpoolAccess::Local(Tables::open(&ledger)?, Some(ledger)),
            Err(StoreError::InUse(_)) => match std::fs::read_to_string(admin_file(dir)) {
                Ok(addr) => SpoolAccess::Remote(addr.trim().to_string()),
                Err(_) => return Err(StoreError::InUse(dir.to_path_buf())),
            },
            Err(e) => return Err(e),
        };
        Ok(Reader {
            journal: journal::dir(dir),
            spool,
            cursor: Default::default(),
        })
    }

    /// Every spooled event that `keep` accepts, oldest first (a local read).
    fn scan_spool(
        tables: &Tables,
        mut keep: impl FnMut(&journal::Record) -> bool,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let chunk = tables.spooled(after, 1024)?;
            let Some(last) = chunk.last() else { break };
            after = last.seq;
            out.extend(chunk.into_iter().filter(|r| keep(r)).map(StoredEvent::from));
        }
        Ok(out)
    }

    /// The newest `limit` events (optionally of one route), oldest first.
    pub fn list(
        &self,
        table: Table,
        route: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let keep = |r: &journal::Record| route.is_none_or(|want| *r.event.route == *want);
        match (table, &self.spool) {
            (Table::Events, _) => {
                let records = journal::newest(&self.journal, limit, keep)?;
                Ok(records.into_iter().map(StoredEvent::from).collect())
            }
            (Table::Spool, SpoolAccess::Local(t, _)) => {
                let mut all = Self::scan_spool(t, keep)?;
                let skip = all.len().saturating_sub(limit);
                all.drain(..skip);
                Ok(all)
            }
            (Table::Spool, SpoolAccess::Remote(addr)) => {
                let mut q = format!("/api/v1/spool?limit={limit}");
                if let Some(r) = route {
                    q.push_str(&format!("&route={}", crate::api::query_escape(r)));
                }
                remote(addr, &q)
            }
        }
    }

    /// Events after `after_seq` in arrival order (optionally of one route).
    pub fn oldest(
        &self,
        table: Table,
        route: Option<&str>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let keep = |r: &journal::Record| route.is_none_or(|want| *r.event.route == *want);
        match (table, &self.spool) {
            (Table::Events, _) => {
                let mut cursor = self.cursor.borrow_mut();
                let mut scan = match cursor.take() {
                    Some((at, scan)) if at == after_seq => scan,
                    _ => journal::Scan::new(&self.journal, after_seq)?,
                };
                let mut out = Vec::new();
                while out.len() < limit {
                    let Some(r) = scan.next().transpose()? else {
                        break;
                    };
                    if keep(&r) {
                        out.push(StoredEvent::from(r));
                    }
                }
                if let Some(last) = out.last() {
                    *cursor = Some((last.seq, scan));
                }
                Ok(out)
            }
            (Table::Spool, SpoolAccess::Local(t, _)) => {
                let (mut out, mut after) = (Vec::new(), after_seq);
                while out.len() < limit {
                    let chunk = t.spooled(after, limit)?;
                    let Some(last) = chunk.last() else { break };
                    after = last.seq;
                    out.extend(chunk.into_iter().filter(|r| keep(r)).map(StoredEvent::from));
                }
                out.truncate(limit);
                Ok(out)
            }
            (Table::Spool, SpoolAccess::Remote(_)) => Err(StoreError::Remote(
                "the spool is read in order only by the gateway that holds it".into(),
            )),
        }
    }

    /// Every stored event with this id. A scan: events have no index by id, and an
    /// operator's look-up is rare next to the write an index would cost each event.
    pub fn show(&self, id: &str) -> Result<Vec<(Table, StoredEvent)>, StoreError> {
        let mut out = Vec::new();
        for r in journal::Scan::new(&self.journal, 0)? {
            let r = r?;
            if r.event.id == id {
                out.push((Table::Events, StoredEvent::from(r)));
            }
        }
        let spooled = match &self.spool {
            SpoolAccess::Local(t, _) => Self::scan_spool(t, |r| r.event.id == id)?,
            SpoolAccess::Remote(addr) => remote(
                addr,
                &format!("/api/v1/spool?id={}", crate::api::query_escape(id)),
            )?,
        };
        out.extend(spooled.into_iter().map(|e| (Table::Spool, e)));
        Ok(out)
    }

    /// How many events `table` holds (a read of the whole journal for events).
    pub fn count(&self, table: Table) -> Result<u64, StoreError> {
        match (table, &self.spool) {
            (Table::Events, _) => {
                let mut n = 0;
                for r in journal::Scan::new(&self.journal, 0)? {
                    r?;
                    n += 1;
                }
                Ok(n)
            }
            (Table::Spool, SpoolAccess::Local(t, _)) => Ok(t.spool.len()? as u64),
            (Table::Spool, SpoolAccess::Remote(addr)) => {
                Ok(remote(addr, "/api/v1/spool?limit=18446744073709551615")?.len() as u64)
            }
        }
    }

    /// Spooled events per route (the gateway, at start).
    pub fn spool_depths(&self) -> Result<HashMap<String, i64>, StoreError> {
        let SpoolAccess::Local(t, _) = &self.spool else {
            return Err(StoreError::Remote("spool depths are read locally".into()));
        };
        let mut depths = HashMap::new();
        for e in Self::scan_spool(t, |_| true)? {
            *depths.entry(e.route).or_insert(0) += 1;
        }
        Ok(depths)
    }
}

/// A spool read through the running gateway's admin API (loopback only).
fn remote(addr: &str, path_and_query: &str) -> Result<Vec<StoredEvent>, StoreError> {
    let body = crate::api::get(addr, path_and_query)
        .map_err(|e| StoreError::Remote(format!("the store is held by the gateway whose admin port is {addr}, which did not answer: {e}")))?;
    let items: Vec<ApiEvent> = serde_json::from_slice(&body).map_err(|e| {
        StoreError::Remote(format!(
            "unexpected answer from the admin API at {addr}: {e}"
        ))
    })?;
    Ok(items.into_iter().map(ApiEvent::into_stored).collect())
}

/// A stored event as the admin API sends it: the listing's fields and the body.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ApiEvent {
    #[serde(flatten)]
    pub event: StoredEvent,
    pub body_base64: String,
}

impl ApiEvent {
    pub fn of(e: StoredEvent) -> ApiEvent {
        use base64::Engine;
        ApiEvent {
            body_base64: base64::engine::general_purpose::STANDARD.encode(&e.body),
            event: e,
        }
    }

    fn into_stored(self) -> StoredEvent {
        use base64::Engine;
        let mut e = self.event;
        e.body = base64::engine::general_purpose::STANDARD
            .decode(self.body_base64)
            .unwrap_or_default();
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_that_is_gone_is_not_healthy() {
        let (_dir, _, store) = open_store(Duration::from_secs(60), false);
        let healthy = store.healthy.clone();
        assert!(store.healthy());
        drop(store);
        // The writer notices the closed queue within its 1 s receive timeout.
        let deadline = Instant::now() + Duration::from_secs(5);
        while healthy.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!healthy.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn without_a_broker_seen_answers_from_pending_ids_and_the_ledger() {
        let (_dir, _, store) = open_store(Duration::from_secs(60), false);
        let ev = event("d-1", crate::now_ms());
        assert_eq!(store.keep(Table::Events, ev).await, Ok(Outcome::Accepted));
        assert_eq!(store.seen("r", "d-1"), Ok(true), "from the pending ids");
        assert_eq!(store.seen("r", "d-2"), Ok(false));
        store.flush().await;
        assert_eq!(store.seen("r", "d-1"), Ok(true), "from the ledger");
    }

    #[test]
    fn a_store_folder_in_use_by_another_gateway_is_refused_with_a_clear_error() {
        let (_dir, cfg, _store) = open_store(Duration::from_secs(60), false);
        let err = Store::open(&cfg, Arc::new(Metrics::new()), false)
            .err()
            .expect("a second gateway on the same folder");
        assert!(matches!(err, StoreError::InUse(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("in use by another hookgate process"),
            "{err}"
        );
    }

    #[test]
    fn a_poisoned_ledger_makes_the_store_not_ready_for_good() {
        let (_dir, _, store) = open_store(Duration::from_secs(60), false);
        assert!(store.healthy());
        assert!(!ledger_is_broken(&StoreError::Ledger(fjall::Error::Locked)));
        let poisoned = StoreError::Ledger(fjall::Error::Poisoned);
        assert!(ledger_is_broken(&poisoned));
        // As the writer does on such an error; a later good commit does not clear it.
        store.ledger_broken.store(true, Ordering::Relaxed);
        store.healthy.store(true, Ordering::Relaxed);
        assert!(!store.healthy());
    }

    #[test]
    fn a_ledger_or_journal_that_cannot_be_opened_is_named_in_the_error() {
        for (blocked, says) in [
            ("db", "store: database"),
            ("events", "store: event journal"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            // A file where the folder should be (permissions do not stop root).
            std::fs::write(dir.path().join(blocked), b"").unwrap();
            let err = open_rw(dir.path(), Duration::from_secs(60)).err().unwrap();
            let msg = err.to_string();
            let path = dir.path().join(blocked).display().to_string();
            assert!(msg.starts_with(says) && msg.contains(&path), "{msg}");
        }
    }

    #[tokio::test]
    async fn a_spooled_id_answers_duplicate_before_and_after_its_ledger_write() {
        // Broker down: spooled events' ids go through the pending set, like confirmed ones.
        let (_dir, _, store) = open_store(Duration::from_secs(60), true);
        let now = crate::now_ms();
        assert_eq!(
            store.keep(Table::Spool, event("s", now)).await,
            Ok(Outcome::Accepted)
        );
        assert_eq!(store.seen("r", "s"), Ok(true), "from the pending ids");
        assert_eq!(
            store.keep(Table::Spool, event("s", now)).await,
            Ok(Outcome::Duplicate)
        );
        store.flush().await;
        assert!(store.ledger.seen("r", "s", now - 1000).unwrap(), "written");
        assert_eq!(store.seen("r", "s"), Ok(true), "from the ledger");
        assert_eq!(
            store.keep(Table::Spool, event("s", now)).await,
            Ok(Outcome::Duplicate)
        );
    }

    #[test]
    fn gathering_takes_what_arrives_in_time_and_stops_at_the_deadline_or_the_cap() {
        let (tx, rx) = mpsc::channel();
        let sender = std::thread::spawn(move || {
            tx.send(1).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            tx.send(2).unwrap();
            std::thread::sleep(Duration::from_millis(600));
            tx.send(3).unwrap();
            tx
        });
        let started = Instant::now();
        let mut batch = Vec::new();
        gather(&rx, &mut batch, started + Duration::from_millis(300), 8);
        assert_eq!(batch, [1, 2], "the third came after the deadline");
        assert!(started.elapsed() < Duration::from_millis(600));
        let tx = sender.join().unwrap();
        for i in 4..20 {
            tx.send(i).unwrap();
        }
        let mut batch = Vec::new();
        gather(&rx, &mut batch, Instant::now() + Duration::from_secs(10), 8);
        assert_eq!(batch.len(), 8, "capped, without waiting for the deadline");
    }

    /// A store in a temporary folder (kept while the first value lives).
    fn open_store(window: Duration, with_broker: bool) -> (tempfile::TempDir, StoreConfig, Store) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            path: dir.path().join("store"),
            dedup_window: window,
            retention: None,
        };
        let store = Store::open(&cfg, Arc::new(Metrics::new()), with_broker).unwrap();
        (dir, cfg, store)
    }

    fn event(id: &str, received_at_ms: i64) -> Event {
        Event {
            route: Arc::from("r"),
            id: id.into(),
            event_type: None,
            content_type: None,
            body: Bytes::from_static(b"{}"),
            received_at_ms,
            source_ip: std::net::IpAddr::from([127, 0, 0, 1]),
            headers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn without_a_broker_the_writer_keeps_the_ledger() {
        let (_dir, _, store) = open_store(Duration::from_secs(60), false);
        let now = crate::now_ms();
        // Two deliveries of one id in flight at once: one is kept.
        let (a, b) = tokio::join!(
            store.keep(Table::Events, event("x", now)),
            store.keep(Table::Events, event("x", now))
        );
        let mut got = [a.unwrap(), b.unwrap()];
        got.sort_by_key(|o| *o == Outcome::Duplicate);
        assert_eq!(got, [Outcome::Accepted, Outcome::Duplicate]);
        // Buffered, not in the ledger yet, and still a duplicate.
        assert_eq!(
            store.keep(Table::Events, event("x", now)).await,
            Ok(Outcome::Duplicate)
        );
        store.flush().await;
        let c = store.tables.clone();
        let mark = |c: &Tables| -> i64 { c.mark().unwrap() };
        assert!(
            store.ledger.seen("r", "x", now - 1000).unwrap(),
            "written at the flush"
        );
        assert_eq!(mark(&c), 1, "mark at event 1");
        assert_eq!(
            store.keep(Table::Events, event("x", now)).await,
            Ok(Outcome::Duplicate),
            "the ledger answers now"
        );
        let stored = store.reader().count(Table::Events).unwrap();
        assert_eq!(stored, 1);
    }

    #[tokio::test]
    async fn a_ledger_write_that_fails_is_retried_and_its_ids_still_answer() {
        let (_dir, _, store) = open_store(Duration::from_secs(60), false);
        // The last step of a ledger batch, moving the mark, fails.
        store.tables.refuse_marks.store(true, Ordering::Relaxed);
        let c = store.tables.clone();
        let mark = || -> Option<i64> { Some(c.mark().unwrap()).filter(|m| *m > 0) };
        let before = mark();
        let now = crate::now_ms();
        assert_eq!(
            store.keep(Table::Events, event("a", now)).await,
            Ok(Outcome::Accepted)
        );
        store.flush().await; // the ledger batch fails here
        assert_eq!(store.seen("r", "a"), Ok(true), "still answered from memory");
        assert_eq!(
            store.keep(Table::Events, event("a", now)).await,
            Ok(Outcome::Duplicate)
        );
        assert_eq!(mark(), before, "the mark did not move");
        store.tables.refuse_marks.store(false, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(3);
        while mark() != Some(1) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(mark(), Some(1), "completed by a retry");
        assert!(store.ledger.seen("r", "a", now - 1000).unwrap());
    }

    #[test]
    fn a_store_in_an_earlier_layout_is_refused_and_says_what_it_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hookgate.db"), b"SQLite format 3\0").unwrap();
        std::fs::create_dir_all(db_dir(dir.path())).unwrap();
        for e in [
            open_rw(dir.path(), Duration::from_secs(60)).err().unwrap(),
            Reader::open(dir.path()).err().unwrap(),
        ] {
            let text = e.to_string();
            assert!(
                text.contains(
                    "written by another version of hookgate (hookgate.db, the SQLite database of the layouts before hookgate-store 2)"
                ) && text.contains("There is no migration before 1.0"),
                "{text}"
            );
        }
        assert!(!dir.path().join("FORMAT").exists(), "nothing written");
        // A FORMAT of another version is refused too.
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("FORMAT"), "hookgate-store 1\n").unwrap();
        let e = open_rw(other.path(), Duration::from_secs(60))
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains(r#"its FORMAT file says "hookgate-store 1""#),
            "{e}"
        );
    }

    #[test]
    fn opening_restores_ids_the_ledger_missed() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::now_ms();
        let window = Duration::from_secs(60);
        let ids = |l: &dedup::Ledger| -> Vec<String> {
            let mut ids = Vec::new();
            l.for_each_since(now - 60_000, |_, id, _| ids.push(id.to_string()))
                .unwrap();
            ids.sort();
            ids
        };
        {
            // Kept events 1 to 3 and a spooled event whose ids never reached the ledger
            // (a crash right after their commits), and no mark yet.
            let (c, ledger, mut journal) = open_rw(dir.path(), window).unwrap();
            assert_eq!(
                std::fs::read_to_string(dir.path().join("FORMAT")).unwrap(),
                format!("{FORMAT}\n")
            );
            let mut buf = Vec::new();
            for (seq, (id, at)) in [("old", now - 120_000), ("a", now - 1000), ("b", now)]
                .into_iter()
                .enumerate()
            {
                journal::encode(&mut buf, seq as i64 + 1, &event(id, at));
            }
            journal.append(&buf, 3).unwrap();
            let mut spool = ledger.batch();
            let mut record = Vec::new();
            journal::encode(&mut record, 1, &event("s", now));
            spool.insert(&c.spool, 1i64.to_be_bytes(), record);
            spool.commit().unwrap();
            ledger.sync().unwrap();
            assert_eq!(c.mark().unwrap(), 0);
        }
        let (c, ledger, mut journal) = open_rw(dir.path(), window).unwrap();
        assert_eq!(
            ids(&ledger),
            ["a", "b", "s"],
            "every kept and spooled event in the window"
        );
        assert_eq!(c.mark().unwrap(), 3);
        assert_eq!(journal.next_seq(), 4);
        assert_eq!(c.last_spool_seq(), 1);
        // A crash after event 4 was committed, before its id reached the ledger: only
        // events past the mark (3) are read again (and the spool's, always).
        let mut buf = Vec::new();
        journal::encode(&mut buf, 4, &event("c", now));
        journal.append(&buf, 4).unwrap();
        let since = now - window.as_millis() as i64;
        assert_eq!(restore_ledger(&c, &ledger, &journal, since).unwrap(), 2);
        assert_eq!(ids(&ledger), ["a", "b", "c", "s"]);
        assert_eq!(c.mark().unwrap(), 4);
    }

    #[tokio::test]
    async fn recorded_ids_answer_at_once_without_a_lock_and_reach_the_ledger() {
        let (_dir, _, store) = open_store(Duration::from_secs(60), true);
        store.filter.set_ready();
        for i in 0..MAX_BATCH + 10 {
            store.record(Arc::from("r"), format!("id-{i}"));
        }
        // Past MAX_BATCH a flush went to the writer; the rest wait in the channel.
        for i in [0, MAX_BATCH - 1, MAX_BATCH + 9] {
            assert_eq!(store.seen("r", &format!("id-{i}")), Ok(true), "id-{i}");
        }
        assert_eq!(store.seen("r", "id-x"), Ok(false));
        store.flush().await;
        let n = store.ledger.for_each_since(0, |_, _, _| {}).unwrap();
        assert_eq!(n, MAX_BATCH + 10, "every id in the ledger");
    }

    #[test]
    fn pending_ids_answer_until_their_batch_is_committed() {
        let mut p = Pending::default();
        p.current
            .entry(Arc::from("r"))
            .or_default()
            .insert("1".into());
        let Some(Cmd::Record(n, _)) = p.take() else {
            panic!("a batch")
        };
        assert!(p.take().is_none(), "nothing new");
        assert!(
            p.contains("r", "1"),
            "handed to the writer, not committed yet"
        );
        p.done(n, false);
        assert!(
            p.contains("r", "1"),
            "a failed commit keeps it for the next flush"
        );
        let Some(Cmd::Record(n, _)) = p.take() else {
            panic!("retried")
        };
        p.done(n, true);
        assert!(!p.contains("r", "1"), "committed: the ledger answers now");
    }
}
