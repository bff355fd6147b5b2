//! The writer thread: group commit of kept and spooled events, the dedup ledger's
//! writes, and the marks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::durable::dedup;
use crate::durable::journal::{self, Journal};
use crate::obs::metrics::Metrics;

use super::{
    gather, room, Cmd, Ids, LedgerJob, Outcome, Pending, StoreError, StoreFault, Table, Tables,
    GATHER_FOR, GATHER_UP_TO, LEDGER_BATCH, LEDGER_CHUNK, MAX_BATCH, RECORDS_KEPT, RECORD_FLUSH,
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

    pub(super) fn commit(&mut self, batch: Vec<Cmd>) {
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
                Cmd::Archive(_) => keeps += 1,
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
                    Cmd::Keep(_, ev, _) | Cmd::Archive(ev) => 64 + ev.body.len(),
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
                    Cmd::Archive(ev) => {
                        last_seq += 1;
                        journal::encode(&mut self.records, last_seq, ev);
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
                if last_seq != self.last_seq {
                    self.committed.send_replace(last_seq);
                }
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
                tracing::error!(error = %e, cause = fault.cause().label(), commands = keeps, "store commit failed; answering 503");
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
}
