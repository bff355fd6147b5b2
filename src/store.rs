//! The embedded durable store (SQLite in WAL mode): accepted events when no broker is
//! configured, the outage spool when the broker is down, and the dedup ledger. SQLite
//! because it is the most proven embedded database there is, and because
//! `hookgate store list` can read it while the gateway writes (WAL readers never block
//! the writer).
//!
//! One writer thread owns the connection and does group commit: every command waiting
//! when it wakes goes into one transaction (and while events arrive close together, it
//! waits a fraction of a millisecond for more: [`GATHER_FOR`]), then each caller hears
//! whether *its* event is durable. A batch that stores an event commits with
//! `synchronous=FULL` (fsync before the 200); a batch that only touches the dedup ledger
//! or removes forwarded spool entries commits with `synchronous=NORMAL`, since losing
//! those to a power cut costs at most a duplicate, which `message_id` makes harmless.
//!
//! Without a broker the writer also keeps the dedup ledger for the events it stores:
//! their ids go to the `dedup` table in one transaction every [`RECORD_FLUSH`] (or per
//! [`LEDGER_BATCH`] ids), not in each event's fsynced commit. Delivery ids are random,
//! so each dirties a page of any index keyed by id: recorded with its event (through an
//! `(id, route)` index on `events`), the benchmark's store phase wrote 13.3-14.0 KB per
//! 1.5 KB event and ran 13.8-16.2k events/s; batched, 8.5-9.3 KB and 17.3-19.7k
//! (alternating runs). Until its batch is written an id is answered from memory, and
//! the `ledgered_seq` mark in `meta` tells the next open which events' ids a crash may
//! have kept out of the ledger: they are put back from `events`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{params, Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::config::StoreConfig;
use crate::dedup;
use crate::event::Event;
use crate::metrics::Metrics;

const COLUMNS: &str = "
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    route        TEXT NOT NULL,
    id           TEXT NOT NULL,
    event_type   TEXT,
    received_at  INTEGER NOT NULL,
    source_ip    TEXT NOT NULL,
    content_type TEXT,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL";

/// Most commands one transaction takes; bounds the latency of the first in a burst.
const MAX_BATCH: usize = 512;
/// Without a broker: most ids buffered for the ledger before they are written, whatever
/// the time since the last write (bounds the memory and the length of a ledger commit).
const LEDGER_BATCH: usize = 8192;
/// Ids written to the ledger per writer turn, between batches of events. ~10 us each
/// into a large ledger, so ~2.5 ms: at 1 800 ids per flush interval (18 000 events/s) in
/// one commit, the events waiting behind it doubled the p99 of the 200 (16 -> 34 ms).
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
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: cannot create {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("store writer has stopped")]
    Closed,
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

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::Spool => "spool",
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, String>>;

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
    dir: PathBuf,
    /// Opened at start with a broker (the only path that asks [`Store::seen`]); without
    /// one the writer's transaction decides, so they are opened only if ever asked.
    readers: Arc<std::sync::OnceLock<Readers>>,
    window: Duration,
    /// Ids confirmed by the broker, not yet written to the ledger.
    pending: Arc<std::sync::Mutex<Pending>>,
    /// Where [`Store::record`] puts an id without taking `pending`'s lock (a request's
    /// hot path); drained into `pending` by whoever takes the lock next.
    recorded: mpsc::Sender<(Arc<str>, String)>,
    /// Ids sent to `recorded` since the last flush (roughly: it triggers an early one).
    recorded_n: Arc<std::sync::atomic::AtomicUsize>,
    /// Answers "never seen" for new ids without a SQLite read: in [`Store::seen`] (with
    /// a broker) and in the writer, before it keeps an event (without one).
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

/// Events per transaction when the ledger is completed from `events` at open.
const RESTORE_CHUNK: i64 = if cfg!(test) { 2 } else { 100_000 };

/// How often the writer deletes ledger entries older than the window (the unit tests
/// watch it happen).
const SWEEP_EVERY: Duration = if cfg!(test) {
    Duration::from_millis(200)
} else {
    Duration::from_secs(60)
};

/// How often buffered dedup records are written (at most this long in memory only).
pub const RECORD_FLUSH: Duration = Duration::from_millis(100);

/// Read connections for dedup look-ups on the request's own thread: an indexed read
/// takes microseconds, and WAL readers never wait for the writer or its fsync, so this
/// is cheaper than a round trip to the writer thread.
struct Readers {
    conns: Vec<std::sync::Mutex<Connection>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Readers {
    fn open(dir: &Path, n: usize) -> Result<Readers, StoreError> {
        let conns = (0..n)
            .map(|_| {
                let c =
                    Connection::open_with_flags(db_file(dir), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                // Never sleep in SQLite's busy handler on a request thread (it backs off in
                // steps up to 100 ms): a busy reader is answered "not seen" instead.
                c.busy_timeout(Duration::ZERO)?;
                // Look-ups touch a few index pages: a small cache is enough.
                c.pragma_update(None, "cache_size", -512)?;
                Ok(std::sync::Mutex::new(c))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Readers {
            conns,
            next: Default::default(),
        })
    }

    fn seen(&self, route: &str, id: &str, since_ms: i64) -> rusqlite::Result<bool> {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let guard = (0..n)
            .find_map(|i| self.conns[(start + i) % n].try_lock().ok())
            .unwrap_or_else(|| self.conns[start].lock().unwrap_or_else(|p| p.into_inner()));
        dedup::seen_in(&guard, route, id, since_ms)
    }
}

pub fn db_file(dir: &Path) -> PathBuf {
    dir.join("hookgate.db")
}

fn open_rw(dir: &Path, window: Duration) -> Result<Connection, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Dir(dir.to_path_buf(), e))?;
    let mut conn = Connection::open(db_file(dir))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS events ({COLUMNS});
         CREATE TABLE IF NOT EXISTS spool ({COLUMNS});
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    ))?;
    conn.execute_batch(dedup::SCHEMA)?;
    let since = crate::now_ms() - window.as_millis() as i64;
    let restored = restore_ledger(&mut conn, since)?;
    if restored > 0 {
        tracing::info!(ids = restored, "dedup ledger completed from stored events");
    }
    Ok(conn)
}

/// Put the ids of kept events past the `ledgered_seq` mark (and within the window) into
/// the ledger, then move the mark to the last event. After a crash these are the events
/// whose ids were still buffered: a few seconds' worth. For a store written before the
/// ledger covered kept events (when an `(id, route)` index on `events` answered for
/// them) the mark is absent and every event is read, once, then the index dropped: about
/// 10 s per GB of events here. That runs in transactions of [`RESTORE_CHUNK`] events,
/// each moving the mark, so a start interrupted midway (a liveness probe, a deploy)
/// resumes where it stopped instead of starting over.
fn restore_ledger(conn: &mut Connection, since_ms: i64) -> rusqlite::Result<usize> {
    use rusqlite::OptionalExtension;
    let last: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
    let mut restored = 0;
    loop {
        let tx = conn.transaction()?;
        let mark: i64 = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'ledgered_seq'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let upto = last.min(mark.saturating_add(RESTORE_CHUNK));
        if upto > mark {
            restored += tx.execute(
                "INSERT INTO dedup (route, id, seen_at)
                 SELECT route, id, received_at FROM events
                 WHERE seq > ?1 AND seq <= ?2 AND received_at >= ?3
                 ON CONFLICT (route, id) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
                params![mark, upto, since_ms],
            )?;
            if last - mark > RESTORE_CHUNK {
                tracing::info!(
                    done = upto,
                    of = last,
                    "completing the dedup ledger from stored events (once, after an upgrade)"
                );
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('ledgered_seq', ?1)",
            [upto.max(mark)],
        )?;
        if upto >= last {
            tx.execute_batch(
                "DROP INDEX IF EXISTS events_id_route;
                 DROP INDEX IF EXISTS events_id;",
            )?;
            tx.commit()?;
            return Ok(restored);
        }
        tx.commit()?;
    }
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
        let conn = open_rw(&cfg.path, cfg.dedup_window)?;
        let (tx, rx) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let filter = Arc::new(dedup::Filter::new(cfg.dedup_window));
        let (recorded, inbox) = mpsc::channel();
        let pending = Arc::new(std::sync::Mutex::new(Pending {
            inbox: Some(inbox),
            ..Default::default()
        }));
        let writer = Writer {
            pending: pending.clone(),
            conn,
            window: cfg.dedup_window,
            healthy: healthy.clone(),
            metrics,
            full_sync: true,
            filter: filter.clone(),
            keeps_ledger: !with_broker,
            last_seq: 0,
            ledger_written: Instant::now(),
            ledger_job: None,
            ledger_failed: false,
            unledgered: false,
        };
        let spawn_err = |e| StoreError::Dir(cfg.path.clone(), e);
        std::thread::Builder::new()
            .name("hookgate-store".into())
            .spawn(move || writer.run(rx))
            .map_err(spawn_err)?;
        // Load the ledger into the filter off the request path; until it is done, every
        // look-up asks SQLite.
        {
            let f = filter.clone();
            let (dir, window) = (cfg.path.clone(), cfg.dedup_window);
            std::thread::Builder::new()
            .name("hookgate-dedup-load".into())
            .spawn(move || {
                let now = crate::now_ms();
                let since = now - window.as_millis() as i64;
                let loaded = Connection::open_with_flags(db_file(&dir), OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .and_then(|c| {
                        c.busy_timeout(Duration::from_secs(5))?;
                        f.load(&c, now, since)
                    });
                match loaded {
                    Ok(n) => {
                        tracing::debug!(ids = n, "dedup ledger loaded into the filter");
                        f.set_ready();
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot load the dedup ledger into the filter; every look-up will read the store"),
                }
            })
            .map_err(spawn_err)?;
        }
        let readers = Arc::new(std::sync::OnceLock::new());
        if with_broker {
            // The broker path reads from its first request: open now, and fail at start.
            let _ = readers.set(Readers::open(&cfg.path, 2)?);
        }
        Ok(Store {
            tx,
            healthy,
            dir: cfg.path.clone(),
            readers,
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

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| StoreError::Closed.to_string())?;
        rx.await.map_err(|_| StoreError::Closed.to_string())?
    }

    /// Make `ev` durable in `table` (or recognise it as a duplicate). Returns once fsynced.
    pub async fn keep(&self, table: Table, ev: Event) -> Result<Outcome, String> {
        self.ask(|r| Cmd::Keep(table, ev, r)).await
    }

    /// Was this event id accepted within the dedup window?
    pub fn seen(&self, route: &str, id: &str) -> Result<bool, String> {
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
        let readers = match self.readers.get() {
            Some(r) => r,
            None => {
                let opened = Readers::open(&self.dir, 2).map_err(|e| e.to_string())?;
                // Two first look-ups at once both open; one set of connections is kept.
                self.readers.get_or_init(|| opened)
            }
        };
        match readers.seen(route, id, since) {
            Ok(seen) => Ok(seen),
            // Busy for an instant (the writer is resetting the WAL): treat as new. At worst
            // a duplicate is published, and consumers dedup on message_id.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                tracing::debug!(route, id, "dedup look-up busy; treating as new");
                Ok(false)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Note an id as accepted (after the broker confirmed it). Buffered in memory and
    /// written every [`RECORD_FLUSH`] in one transaction; `seen` consults the buffer too.
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
        self.healthy.load(Ordering::Relaxed)
    }
}

struct Writer {
    conn: Connection,
    window: Duration,
    healthy: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    full_sync: bool,
    filter: Arc<dedup::Filter>,
    pending: Arc<std::sync::Mutex<Pending>>,
    /// No broker: ids of kept events go to [`Pending`], and this writer writes them to
    /// the ledger (see the module doc).
    keeps_ledger: bool,
    /// The last `events.seq` committed: every kept id up to it is in [`Pending`] or in
    /// the ledger.
    last_seq: i64,
    ledger_written: Instant,
    ledger_job: Option<LedgerJob>,
    /// The last ledger chunk failed: retry after a flush interval, not in a loop.
    ledger_failed: bool,
    /// Ids of kept events are waiting in [`Pending`] for the ledger.
    unledgered: bool,
}

/// A batch of [`Pending`] on its way into the ledger, a chunk at a time, in key order.
struct LedgerJob {
    n: u64,
    ids: Vec<(Arc<str>, String)>,
    written: usize,
    /// `ledgered_seq` once the last chunk is in.
    mark: i64,
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
        let mut last_sweep = Instant::now();
        let mut last_batch = 0;
        loop {
            self.filter.rotate_if_due();
            // Here, not only when idle: a writer that never waits a whole second (steady
            // traffic) must still expire the ledger.
            if last_sweep.elapsed() > SWEEP_EVERY {
                last_sweep = Instant::now();
                self.sweep();
            }
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
        }
    }

    fn set_full_sync(&mut self, full: bool) {
        if full != self.full_sync {
            let mode = if full { "FULL" } else { "NORMAL" };
            if self.conn.pragma_update(None, "synchronous", mode).is_ok() {
                self.full_sync = full;
            }
        }
    }

    /// No broker: write buffered ids of kept events to the ledger, one chunk of
    /// [`LEDGER_CHUNK`] per call (so that a flush interval's ids never hold the events
    /// behind them for the length of one large commit), or all of them if `all`
    /// (shutdown). A new batch is taken from [`Pending`] once a flush interval has passed
    /// or [`LEDGER_BATCH`] have gathered. `NORMAL` sync: after a power cut the next open
    /// restores them from `events`. A failed chunk is retried on the next call; its ids
    /// answer from [`Pending`] until the whole batch is in.
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
                    let mut ids: Vec<_> = ids
                        .iter()
                        .flat_map(|(r, ids)| ids.iter().map(|id| (r.clone(), id.clone())))
                        .collect();
                    // In key order: consecutive inserts land on the same leaf.
                    ids.sort_unstable();
                    // Every id of an event up to `last_seq` is in this batch or an earlier
                    // one: this writer is the only one that adds them and takes them.
                    LedgerJob {
                        n,
                        ids,
                        written: 0,
                        mark: self.last_seq,
                    }
                }
            };
            self.set_full_sync(false);
            let end = (job.written + LEDGER_CHUNK).min(job.ids.len());
            let now_ms = crate::now_ms();
            let result = (|| -> rusqlite::Result<()> {
                let tx = self.conn.transaction()?;
                for (route, id) in &job.ids[job.written..end] {
                    dedup::record(&tx, route, id, now_ms)?;
                }
                if end == job.ids.len() {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('ledgered_seq', ?1)",
                    )?
                    .execute([job.mark])?;
                }
                tx.commit()
            })();
            self.ledger_failed = result.is_err();
            if let Err(e) = result {
                tracing::warn!(error = %e, "writing the dedup ledger failed; retrying");
                self.ledger_written = Instant::now();
                self.ledger_job = Some(job);
                return;
            }
            job.written = end;
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

    fn commit(&mut self, batch: Vec<Cmd>) {
        let started = Instant::now();
        let now = crate::now_ms();
        let since = now - self.window.as_millis() as i64;
        let keeps = batch.iter().filter(|c| matches!(c, Cmd::Keep(..))).count();
        self.set_full_sync(keeps > 0);
        enum Answer {
            Kept(Outcome),
            None,
        }
        let pending = self.pending.clone();
        let filter = self.filter.clone();
        let mut last_seq = self.last_seq;
        let result = (|| -> rusqlite::Result<Vec<Answer>> {
            let tx = self.conn.transaction()?;
            let mut answers = Vec::with_capacity(batch.len());
            // Kept in this batch: a second delivery in the same batch is a duplicate.
            let mut kept = std::collections::HashSet::new();
            for cmd in &batch {
                answers.push(match cmd {
                    Cmd::Keep(table, ev, _) => {
                        let seen = match table {
                            // Recorded by this writer after the commit (see the module doc).
                            // Ids kept earlier are in the filter from their commit on.
                            Table::Events => {
                                kept.contains(&(&*ev.route, ev.id.as_str()))
                                    || (filter.maybe_seen(&ev.route, &ev.id)
                                        && ({
                                            let mut p =
                                                pending.lock().unwrap_or_else(|e| e.into_inner());
                                            p.drain();
                                            p.contains(&ev.route, &ev.id)
                                        } || dedup::seen_in(&tx, &ev.route, &ev.id, since)?))
                            }
                            Table::Spool => {
                                dedup::seen_or_record(&tx, &ev.route, &ev.id, now, since)?
                            }
                        };
                        if seen {
                            Answer::Kept(Outcome::Duplicate)
                        } else {
                            let seq = insert(&tx, *table, ev)?;
                            if *table == Table::Events {
                                kept.insert((&*ev.route, ev.id.as_str()));
                                last_seq = seq;
                            }
                            Answer::Kept(Outcome::Accepted)
                        }
                    }
                    Cmd::Record(_, batch) => {
                        for (route, ids) in batch.iter() {
                            for id in ids {
                                dedup::record(&tx, route, id, now)?;
                            }
                        }
                        Answer::None
                    }
                    Cmd::Forwarded(seqs) => {
                        let mut st = tx.prepare_cached("DELETE FROM spool WHERE seq = ?1")?;
                        for s in seqs {
                            st.execute([s])?;
                        }
                        Answer::None
                    }
                    Cmd::Flush(_) => Answer::None,
                });
            }
            tx.commit()?;
            Ok(answers)
        })();
        if keeps > 0 {
            self.metrics.store_commit(started.elapsed(), keeps);
        }
        match result {
            Ok(answers) => {
                self.healthy.store(true, Ordering::Relaxed);
                self.last_seq = last_seq;
                let mut flushed = Vec::new();
                let mut ledger = self
                    .keeps_ledger
                    .then(|| self.pending.lock().unwrap_or_else(|e| e.into_inner()));
                for (cmd, answer) in batch.into_iter().zip(answers) {
                    match (cmd, answer) {
                        (Cmd::Keep(table, ev, r), Answer::Kept(o)) => {
                            if o == Outcome::Accepted {
                                self.filter.insert(&ev.route, &ev.id);
                            }
                            if let (Outcome::Accepted, Table::Events, Some(p)) =
                                (o, table, ledger.as_mut())
                            {
                                p.count += usize::from(
                                    p.current.entry(ev.route).or_default().insert(ev.id),
                                );
                                self.unledgered = true;
                            }
                            drop(r.send(Ok(o)));
                        }
                        (Cmd::Flush(r), _) => flushed.push(r),
                        (Cmd::Record(n, _), _) => {
                            if let Some(p) = ledger.as_mut() {
                                p.done(n, true);
                            } else {
                                self.batch_done(n, true);
                            }
                        }
                        _ => {}
                    }
                }
                drop(ledger);
                self.write_ledger(!flushed.is_empty());
                for r in flushed {
                    let _ = r.send(());
                }
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Relaxed);
                tracing::error!(error = %e, commands = keeps, "store commit failed; answering 503");
                for cmd in batch {
                    match cmd {
                        Cmd::Keep(_, _, r) => drop(r.send(Err(e.to_string()))),
                        Cmd::Flush(r) => drop(r.send(())),
                        Cmd::Record(n, _) => self.batch_done(n, false),
                        _ => {}
                    }
                }
            }
        }
    }

    fn batch_done(&self, n: u64, committed: bool) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .done(n, committed);
    }

    fn sweep(&mut self) {
        let before = crate::now_ms() - self.window.as_millis() as i64;
        match dedup::expire(&self.conn, before) {
            Ok(n) if n > 0 => tracing::debug!(expired = n, "dedup ledger swept"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "dedup sweep failed"),
        }
    }
}

/// Returns the new row's `seq`.
fn insert(tx: &rusqlite::Transaction, table: Table, ev: &Event) -> rusqlite::Result<i64> {
    let headers = serde_json::to_string(&ev.headers).unwrap_or_else(|_| "[]".into());
    let sql = match table {
        Table::Events => {
            "INSERT INTO events (route, id, event_type, received_at, source_ip, content_type, headers, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        }
        Table::Spool => {
            "INSERT INTO spool (route, id, event_type, received_at, source_ip, content_type, headers, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        }
    };
    tx.prepare_cached(sql)?.execute(params![
        &*ev.route,
        ev.id,
        ev.event_type,
        ev.received_at_ms,
        ev.source_ip.to_string(),
        ev.content_type,
        headers,
        &ev.body[..]
    ])?;
    Ok(tx.last_insert_rowid())
}

/// An event as stored, for `hookgate store`.
#[derive(Debug, serde::Serialize)]
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

/// Read-only access: the CLI, and the spool forwarder. Works while the writer writes.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    pub fn open(dir: &Path) -> Result<Reader, StoreError> {
        let file = db_file(dir);
        if !file.exists() {
            return Err(StoreError::Dir(
                file,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no store here (has the gateway run?)",
                ),
            ));
        }
        let conn = Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(Reader { conn })
    }

    fn row(r: &rusqlite::Row) -> rusqlite::Result<StoredEvent> {
        let ms: i64 = r.get(4)?;
        let headers: String = r.get(7)?;
        let body: Vec<u8> = r.get(8)?;
        Ok(StoredEvent {
            seq: r.get(0)?,
            route: r.get(1)?,
            id: r.get(2)?,
            event_type: r.get(3)?,
            received_at: crate::rfc3339_ms(ms),
            source_ip: r.get(5)?,
            content_type: r.get(6)?,
            headers: serde_json::from_str(&headers).unwrap_or(serde_json::Value::Null),
            body_len: body.len(),
            body,
            received_at_ms: ms,
        })
    }

    /// The newest `limit` events (optionally of one route), oldest first.
    pub fn list(
        &self,
        table: Table,
        route: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT * FROM (SELECT seq, route, id, event_type, received_at, source_ip, content_type, headers, body
             FROM {} WHERE ?1 IS NULL OR route = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
            table.name()
        ))?;
        let rows = st.query_map(params![route, limit as i64], Self::row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events after `after_seq` in arrival order (optionally of one route).
    pub fn oldest(
        &self,
        table: Table,
        route: Option<&str>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT seq, route, id, event_type, received_at, source_ip, content_type, headers, body
             FROM {} WHERE seq > ?1 AND (?2 IS NULL OR route = ?2) ORDER BY seq LIMIT ?3",
            table.name()
        ))?;
        let rows = st.query_map(params![after_seq, route, limit as i64], Self::row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every stored event with this id. A scan: `events` has no index by id (see the
    /// module doc), and an operator's look-up is rare next to the write it would cost.
    pub fn show(&self, id: &str) -> Result<Vec<(Table, StoredEvent)>, StoreError> {
        let mut out = Vec::new();
        for table in [Table::Events, Table::Spool] {
            let mut st = self.conn.prepare(&format!(
                "SELECT seq, route, id, event_type, received_at, source_ip, content_type, headers, body
                 FROM {} WHERE id = ?1 ORDER BY seq",
                table.name()
            ))?;
            for e in st.query_map(params![id], Self::row)? {
                out.push((table, e?));
            }
        }
        Ok(out)
    }

    /// Spooled events per route.
    pub fn spool_depths(&self) -> Result<HashMap<String, i64>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT route, count(*) FROM spool GROUP BY route")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
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
    async fn without_a_broker_readers_open_only_when_asked() {
        let (_dir, _, store) = open_store(Duration::from_secs(60), false);
        assert!(
            store.readers.get().is_none(),
            "no reader connections at start"
        );
        let ev = event("d-1", crate::now_ms());
        assert_eq!(store.keep(Table::Events, ev).await, Ok(Outcome::Accepted));
        // Answered by the pending ids and the filter; a filter "maybe" opens the readers.
        assert_eq!(store.seen("r", "d-1"), Ok(true));
        assert_eq!(store.seen("r", "d-2"), Ok(false));
        let (_other, _, with_broker) = open_store(Duration::from_secs(60), true);
        assert!(with_broker.readers.get().is_some(), "opened at start");
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
        let (_dir, cfg, store) = open_store(Duration::from_secs(60), false);
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
        let c = Connection::open(db_file(&cfg.path)).unwrap();
        let ledger = |c: &Connection| -> (i64, i64) {
            (
                c.query_row("SELECT count(*) FROM dedup WHERE id = 'x'", [], |r| {
                    r.get(0)
                })
                .unwrap(),
                c.query_row(
                    "SELECT value FROM meta WHERE key = 'ledgered_seq'",
                    [],
                    |r| r.get(0),
                )
                .unwrap(),
            )
        };
        assert_eq!(ledger(&c), (1, 1), "written at the flush, mark at event 1");
        assert_eq!(
            store.keep(Table::Events, event("x", now)).await,
            Ok(Outcome::Duplicate),
            "the ledger answers now"
        );
        let stored: i64 = c
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 1);
    }

    #[tokio::test]
    async fn a_ledger_write_that_fails_is_retried_and_its_ids_still_answer() {
        let (_dir, cfg, store) = open_store(Duration::from_secs(60), false);
        let c = Connection::open(db_file(&cfg.path)).unwrap();
        // Reads work, writes to the ledger fail.
        c.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON dedup BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .unwrap();
        let now = crate::now_ms();
        assert_eq!(
            store.keep(Table::Events, event("a", now)).await,
            Ok(Outcome::Accepted)
        );
        store.flush().await; // the ledger write fails here
        assert_eq!(store.seen("r", "a"), Ok(true), "still answered from memory");
        assert_eq!(
            store.keep(Table::Events, event("a", now)).await,
            Ok(Outcome::Duplicate)
        );
        assert_eq!(
            c.query_row("SELECT count(*) FROM dedup", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            0
        );
        c.execute_batch("DROP TRIGGER refuse").unwrap();
        let in_ledger = || -> i64 {
            c.query_row("SELECT count(*) FROM dedup WHERE id = 'a'", [], |r| {
                r.get(0)
            })
            .unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while in_ledger() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(in_ledger(), 1, "written by a retry");
    }

    #[tokio::test]
    async fn the_ledger_is_swept_under_steady_traffic() {
        // With a broker: confirmed ids reach the writer every 100 ms (the gateway's flush
        // tick), so it never waits a whole second for a command.
        let (_dir, cfg, store) = open_store(Duration::from_millis(500), true);
        for i in 0..100 {
            store.record(Arc::from("r"), format!("e{i}"));
            if i % 5 == 4 {
                store.flush_records();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        store.flush().await;
        let c = Connection::open(db_file(&cfg.path)).unwrap();
        let oldest: i64 = c
            .query_row("SELECT min(seen_at) FROM dedup", [], |r| r.get(0))
            .unwrap();
        let age = crate::now_ms() - oldest;
        assert!(
            age < 500 + 2 * SWEEP_EVERY.as_millis() as i64 + 300,
            "ids {age} ms old are still in a ledger with a 500 ms window"
        );
    }

    #[test]
    fn opening_restores_ids_the_ledger_missed() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::now_ms();
        let window = Duration::from_secs(60);
        {
            // A store as an older version left it: kept events found through an index,
            // no mark.
            let c = Connection::open(db_file(dir.path())).unwrap();
            c.execute_batch(&format!(
                "CREATE TABLE events ({COLUMNS});
                 CREATE INDEX events_id_route ON events (id, route);"
            ))
            .unwrap();
            c.execute_batch(dedup::SCHEMA).unwrap();
            for (id, at) in [("old", now - 120_000), ("a", now - 1000), ("b", now)] {
                c.execute(
                    "INSERT INTO events (route, id, received_at, source_ip, headers, body)
                     VALUES ('r', ?1, ?2, '127.0.0.1', '[]', x'')",
                    params![id, at],
                )
                .unwrap();
            }
        }
        let ids = |c: &Connection| -> Vec<String> {
            let mut st = c.prepare("SELECT id FROM dedup ORDER BY id").unwrap();
            let rows = st.query_map([], |r| r.get(0)).unwrap();
            rows.map(Result::unwrap).collect()
        };
        let c = open_rw(dir.path(), window).unwrap();
        assert_eq!(
            ids(&c),
            ["a", "b"],
            "every event in the window, not the old one"
        );
        let index: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'events_id_route'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 0, "the index is dropped");
        // A crash after event 4 was committed, before its id reached the ledger: only
        // events past the mark (3) are read again.
        c.execute("DELETE FROM dedup", []).unwrap();
        c.execute(
            "INSERT INTO events (route, id, received_at, source_ip, headers, body)
             VALUES ('r', 'c', ?1, '127.0.0.1', '[]', x'')",
            [now],
        )
        .unwrap();
        drop(c);
        let c = open_rw(dir.path(), window).unwrap();
        assert_eq!(ids(&c), ["c"]);
        let mark: i64 = c
            .query_row(
                "SELECT value FROM meta WHERE key = 'ledgered_seq'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(mark, 4);
    }

    #[tokio::test]
    async fn recorded_ids_answer_at_once_without_a_lock_and_reach_the_ledger() {
        let (_dir, cfg, store) = open_store(Duration::from_secs(60), true);
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
        let c = Connection::open(db_file(&cfg.path)).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM dedup", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, (MAX_BATCH + 10) as i64, "every id in the ledger");
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
