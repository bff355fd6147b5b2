//! The writer thread: group commit of kept and spooled events, the dedup ledger's
//! writes, and the marks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::durable::dedup;
use crate::durable::journal::Journal;
use crate::obs::metrics::Metrics;

use super::{
    gather, room, Cmd, Ids, LedgerJob, Pending, StoreError, Tables, GATHER_FOR, GATHER_UP_TO,
    LEDGER_BATCH, LEDGER_CHUNK, MAX_BATCH, RECORD_FLUSH,
};

pub(super) struct Writer {
    pub(super) ledger_broken: Arc<AtomicBool>,
    /// The spool and the marks, in the ledger's database.
    pub(super) tables: Tables,
    /// The last seq given to a spooled event.
    pub(super) spool_seq: i64,
    /// Kept events (no broker) go here.
    pub(super) journal: Journal,
    /// The journal records of the batch being committed (reused).
    pub(super) records: Vec<u8>,
    pub(super) ledger: Arc<dedup::Ledger>,
    pub(super) window: Duration,
    pub(super) healthy: Arc<AtomicBool>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) filter: Arc<dedup::Filter>,
    pub(super) pending: Arc<std::sync::Mutex<Pending>>,
    /// No broker: ids of kept events go to [`Pending`], and this writer writes them to
    /// the ledger (see the module doc).
    pub(super) keeps_ledger: bool,
    /// The last seq committed to the journal: every kept id up to it is in [`Pending`]
    /// or in the ledger.
    pub(super) last_seq: i64,
    /// Tells delivery the last seq committed (after its sync).
    pub(super) committed: Arc<tokio::sync::watch::Sender<i64>>,
    /// Every event up to this seq is taken by every destination: retention may remove
    /// segments up to it only (`i64::MAX` without destinations).
    pub(super) delivered_floor: Arc<std::sync::atomic::AtomicI64>,
    pub(super) ledger_written: Instant,
    pub(super) ledger_job: Option<LedgerJob>,
    /// The last ledger chunk failed: retry after a flush interval, not in a loop.
    pub(super) ledger_failed: bool,
    /// Ids of kept events are waiting in [`Pending`] for the ledger.
    pub(super) unledgered: bool,
    pub(super) dir: PathBuf,
    pub(super) retention: Option<Duration>,
    /// When retention runs next and the store's size is measured.
    pub(super) housekeeping_at: Instant,
    /// The last write probe while unhealthy (see [`Writer::housekeeping`]).
    pub(super) probed_at: Instant,
}

/// A writer that is gone (the store was dropped, or a panic unwound the thread) is not
/// healthy: `/readyz` must not report a store that can no longer commit.
impl Drop for Writer {
    fn drop(&mut self) {
        self.healthy.store(false, Ordering::Relaxed);
    }
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<Cmd>) {
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

    /// No broker: write buffered ids of kept events to the ledger, one chunk of
    /// [`LEDGER_CHUNK`] per call (so that a flush interval's ids never hold the events
    /// behind them for long), or all of them if `all` (shutdown). A new batch is taken
    /// from [`Pending`] once a flush interval has passed or [`LEDGER_BATCH`] have
    /// gathered. After the last chunk the ledger is synced and only then the mark moved
    /// (`NORMAL` sync: if a power cut loses the mark, the next open writes those ids
    /// again). A failed step is retried on a later call; the batch's ids answer from
    /// [`Pending`] until the whole batch is in.
    pub(super) fn write_ledger(&mut self, all: bool) {
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
    pub(super) fn record(&self, ids: &Ids, at: i64) -> Result<(), StoreError> {
        room(&self.dir, ids.values().map(|s| s.len() * 64).sum())?;
        self.ledger.record(
            ids.iter()
                .flat_map(|(r, ids)| ids.iter().map(move |id| (&**r, id.as_str(), at))),
        )?;
        Ok(self.ledger.sync()?)
    }
}
