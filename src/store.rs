//! The embedded durable store (SQLite in WAL mode, `synchronous=FULL`): accepted events
//! when no broker is configured, and the dedup ledger. SQLite because it is the most
//! proven embedded database there is, and because `hookgate store list` can read it
//! while the gateway is writing (WAL readers do not block the writer).
//!
//! One writer thread owns the connection and does group commit: every event waiting
//! when it wakes goes into one transaction, one fsync, and then each caller hears
//! whether *its* event is durable. Concurrency therefore shares fsyncs instead of
//! queueing for them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::config::StoreConfig;
use crate::dedup;
use crate::event::Event;
use crate::metrics::Metrics;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    route        TEXT NOT NULL,
    id           TEXT NOT NULL,
    event_type   TEXT,
    received_at  INTEGER NOT NULL,
    source_ip    TEXT NOT NULL,
    content_type TEXT,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_id ON events (id);
";

/// Most events one transaction takes; bounds the latency of the first in a burst.
const MAX_BATCH: usize = 512;

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

enum Cmd {
    Accept(Event, oneshot::Sender<Result<Outcome, String>>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Cmd>,
    healthy: Arc<AtomicBool>,
}

pub fn db_file(dir: &Path) -> PathBuf {
    dir.join("hookgate.db")
}

fn open_rw(dir: &Path) -> Result<Connection, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Dir(dir.to_path_buf(), e))?;
    let conn = Connection::open(db_file(dir))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(dedup::SCHEMA)?;
    Ok(conn)
}

impl Store {
    /// Open (creating if needed) and start the writer thread.
    pub fn open(cfg: &StoreConfig, metrics: Arc<Metrics>) -> Result<Store, StoreError> {
        let conn = open_rw(&cfg.path)?;
        let (tx, rx) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let writer = Writer {
            conn,
            window: cfg.dedup_window,
            healthy: healthy.clone(),
            metrics,
        };
        std::thread::Builder::new()
            .name("hookgate-store".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Dir(cfg.path.clone(), e))?;
        Ok(Store { tx, healthy })
    }

    /// Make `ev` durable (or recognise it as a duplicate). Returns once fsynced.
    pub async fn accept(&self, ev: Event) -> Result<Outcome, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Accept(ev, reply))
            .map_err(|_| StoreError::Closed.to_string())?;
        rx.await.map_err(|_| StoreError::Closed.to_string())?
    }

    /// Wait until everything submitted so far is committed.
    pub async fn flush(&self) {
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
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let mut last_sweep = Instant::now();
        loop {
            let first = match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(c) => c,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if last_sweep.elapsed() > Duration::from_secs(60) {
                        last_sweep = Instant::now();
                        self.sweep();
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = Vec::with_capacity(16);
            let mut flushes = Vec::new();
            let mut next = Some(first);
            while let Some(c) = next.take() {
                match c {
                    Cmd::Accept(ev, reply) => batch.push((ev, reply)),
                    Cmd::Flush(reply) => flushes.push(reply),
                }
                if batch.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.commit(batch);
            }
            for f in flushes {
                let _ = f.send(());
            }
        }
    }

    fn commit(&mut self, batch: Vec<(Event, oneshot::Sender<Result<Outcome, String>>)>) {
        let started = Instant::now();
        let n = batch.len();
        let now = crate::now_ms();
        let since = now - self.window.as_millis() as i64;
        let result = (|| -> rusqlite::Result<Vec<Outcome>> {
            let tx = self.conn.transaction()?;
            let mut outcomes = Vec::with_capacity(n);
            for (ev, _) in &batch {
                if dedup::seen_or_record(&tx, &ev.route, &ev.id, now, since)? {
                    outcomes.push(Outcome::Duplicate);
                    continue;
                }
                let headers = serde_json::to_string(&ev.headers).unwrap_or_else(|_| "[]".into());
                tx.prepare_cached(
                    "INSERT INTO events (route, id, event_type, received_at, source_ip, content_type, headers, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    &*ev.route,
                    ev.id,
                    ev.event_type,
                    ev.received_at_ms,
                    ev.source_ip.to_string(),
                    ev.content_type,
                    headers,
                    &ev.body[..]
                ])?;
                outcomes.push(Outcome::Accepted);
            }
            tx.commit()?;
            Ok(outcomes)
        })();
        self.metrics.store_commit(started.elapsed(), n);
        match result {
            Ok(outcomes) => {
                self.healthy.store(true, Ordering::Relaxed);
                for ((_, reply), o) in batch.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(o));
                }
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Relaxed);
                tracing::error!(error = %e, events = n, "store commit failed; answering 503");
                for (_, reply) in batch {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
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
}

/// Read-only access for the CLI; works while a gateway is writing.
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
        })
    }

    /// The newest `limit` events (optionally of one route), oldest first.
    pub fn list(&self, route: Option<&str>, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT * FROM (SELECT seq, route, id, event_type, received_at, source_ip, content_type, headers, body
             FROM events WHERE ?1 IS NULL OR route = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
        )?;
        let rows = st.query_map(params![route, limit as i64], Self::row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn show(&self, id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT seq, route, id, event_type, received_at, source_ip, content_type, headers, body
             FROM events WHERE id = ?1 ORDER BY seq",
        )?;
        let rows = st.query_map(params![id], Self::row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn count(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?)
    }
}
