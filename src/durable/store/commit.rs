//! One group commit: the writer's batch of commands made durable together, then
//! answered. In order: ids the broker confirmed go to the ledger; kept events are
//! checked against the dedup filter, the pending ids and the ledger, and the new ones
//! appended to the journal (or, broker down, put in the spool) with one sync; then every
//! waiting request gets its outcome, or every one the same fault.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::durable::journal;

use super::writer::Writer;
use super::{room, Cmd, Outcome, StoreError, StoreFault, Table, RECORDS_KEPT};

/// What a batch asks for: how many events it keeps (and of them, spools), and whether
/// it removes forwarded entries from the spool.
struct Load {
    keeps: usize,
    spooled: usize,
    forwarded: bool,
}

impl Load {
    /// The spool (broker down) and the forwarded marks are the database's; kept events
    /// (no broker) the journal's. A gateway has a broker or not, so one batch holds one
    /// kind or the other, and a failure of either fails the batch.
    fn of(batch: &[Cmd]) -> Load {
        let mut load = Load {
            keeps: 0,
            spooled: 0,
            forwarded: false,
        };
        for c in batch {
            match c {
                Cmd::Keep(table, ..) => {
                    load.keeps += 1;
                    load.spooled += usize::from(*table == Table::Spool);
                }
                Cmd::Archive(_) => load.keeps += 1,
                Cmd::Forwarded(_) => load.forwarded = true,
                Cmd::Record(..) | Cmd::Flush(_) => {}
            }
        }
        load
    }
}

/// Each command's answer, in the batch's order.
enum Answer {
    Kept(Outcome),
    None,
}

/// A batch written: the answers, and the sequence numbers it used.
struct Written {
    answers: Vec<Answer>,
    last_seq: i64,
    spool_seq: i64,
}

impl Writer {
    pub(super) fn commit(&mut self, batch: Vec<Cmd>) {
        let started = Instant::now();
        let now = crate::now_ms();
        self.record_confirmed(&batch, now);
        let load = Load::of(&batch);
        if load.keeps == 0 && !load.forwarded {
            let flushed = batch.into_iter().filter_map(|c| match c {
                Cmd::Flush(r) => Some(r),
                _ => None,
            });
            return self.answer_flushes(flushed.collect());
        }
        let since = now - self.window.as_millis() as i64;
        let result = self.write(&batch, &load, since);
        if load.keeps > 0 {
            self.metrics.store_commit(started.elapsed(), load.keeps);
        }
        match result {
            Ok(written) => self.answer_committed(batch, written, load.keeps > 0),
            Err(e) => self.answer_failed(batch, &e, load.keeps),
        }
    }

    /// Confirmed ids (with a broker) go to the ledger, not into the transaction.
    fn record_confirmed(&mut self, batch: &[Cmd], now: i64) {
        for cmd in batch {
            if let Cmd::Record(n, ids) = cmd {
                let written = self.record(ids, now);
                if let Err(e) = &written {
                    self.ledger_error(e);
                }
                self.batch_done(*n, written.is_ok());
            }
        }
    }

    /// Write the batch: new events to the journal (or the spool), with one sync.
    fn write(&mut self, batch: &[Cmd], load: &Load, since: i64) -> Result<Written, StoreError> {
        let mut last_seq = self.last_seq;
        let mut spool_seq = self.spool_seq;
        // Reused between batches, but not kept at the size of a burst of large bodies
        // (up to MAX_BATCH x max_body): the idle gateway gives that memory back.
        if self.records.capacity() > RECORDS_KEPT {
            self.records = Vec::new();
        }
        self.records.clear();
        if load.keeps > 0 {
            let bytes = batch.iter().map(|c| match c {
                Cmd::Keep(_, ev, _) | Cmd::Archive(ev) => 64 + ev.body.len(),
                _ => 0,
            });
            room(&self.dir, bytes.sum())?;
        }
        // The spool's inserts and removals: one atomic batch, synced when it spools.
        let mut spool = (load.spooled > 0 || load.forwarded).then(|| self.ledger.batch());
        let mut answers = Vec::with_capacity(batch.len());
        // Kept in this batch: a second delivery in the same batch is a duplicate.
        let mut kept = HashSet::new();
        for cmd in batch {
            answers.push(match cmd {
                Cmd::Keep(table, ev, _) => {
                    let seen = kept.contains(&(&*ev.route, ev.id.as_str()))
                        || self.seen(&ev.route, &ev.id, since)?;
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
            // Removals alone need no sync: lost to a power cut, an entry is forwarded
            // again, which `message_id` makes harmless.
            if load.spooled > 0 {
                self.ledger.sync()?;
            }
        }
        if !self.records.is_empty() {
            self.journal.append(&self.records, last_seq)?;
        }
        Ok(Written {
            answers,
            last_seq,
            spool_seq,
        })
    }

    /// Was this id kept before, within the dedup window? An id is recorded after its
    /// event's commit (see the store's module doc), and is in the filter from then on;
    /// only a filter hit reads the pending ids, then the ledger.
    fn seen(&self, route: &str, id: &str, since: i64) -> Result<bool, StoreError> {
        if !self.filter.maybe_seen(route, id) {
            return Ok(false);
        }
        let pending = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.drain();
            p.contains(route, id)
        };
        Ok(pending || self.ledger.seen(route, id, since)?)
    }

    /// The batch is durable: note the new ids, then answer each waiting request.
    fn answer_committed(&mut self, batch: Vec<Cmd>, written: Written, keeps: bool) {
        self.healthy.store(true, Ordering::Relaxed);
        if written.last_seq != self.last_seq {
            self.committed.send_replace(written.last_seq);
        }
        self.last_seq = written.last_seq;
        self.spool_seq = written.spool_seq;
        let mut flushed = Vec::new();
        let mut p = keeps.then(|| self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for (cmd, answer) in batch.into_iter().zip(written.answers) {
            match (cmd, answer) {
                (Cmd::Keep(table, ev, r), Answer::Kept(o)) => {
                    if o == Outcome::Accepted {
                        self.filter.insert(&ev.route, &ev.id);
                        // Kept events' ids (no broker) are written by this writer;
                        // spooled ones (broker down) by the next flush of records.
                        if let Some(p) = p.as_mut() {
                            p.count +=
                                usize::from(p.current.entry(ev.route).or_default().insert(ev.id));
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
        self.answer_flushes(flushed);
    }

    /// A `Flush` is answered once the ids waiting for the ledger are written.
    fn answer_flushes(&mut self, flushed: Vec<oneshot::Sender<()>>) {
        self.write_ledger(!flushed.is_empty());
        for r in flushed {
            let _ = r.send(());
        }
    }

    /// The batch failed: every waiting request gets the same fault (a 503).
    fn answer_failed(&mut self, batch: Vec<Cmd>, e: &StoreError, keeps: usize) {
        self.healthy.store(false, Ordering::Relaxed);
        let fault = StoreFault::of(e);
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
