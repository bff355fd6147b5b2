//! What is on disk and how it opens: the `FORMAT` check, the database's keyspaces
//! ([`Tables`]), and the ids a crash kept out of the ledger, put back at open.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::durable::dedup;
use crate::durable::journal::{self, Journal};

use super::StoreError;
#[cfg(test)]
use std::sync::atomic::{AtomicBool, Ordering};

/// Events per step (ledger write, sync, mark) when the ledger is completed from the
/// event journal at open.
pub(super) const RESTORE_CHUNK: i64 = if cfg!(test) { 2 } else { 100_000 };
/// How often buffered dedup records are written (at most this long in memory only).
pub(crate) const RECORD_FLUSH: Duration = Duration::from_millis(100);

/// The layout this build writes and reads, recorded in `<store>/FORMAT` when a store is
/// created. Before 1.0 there is no migration: a store in another layout is refused at
/// open, saying what was found and what to do.
pub(crate) const FORMAT: &str = "hookgate-store 2";

/// The `history` keyspace's memtable (see [`Tables::open`]).
const HISTORY_MEMTABLE: u64 = 2 << 20;

/// Refuse a store in another layout. `create`: a store without a `FORMAT` file (new,
/// or written by a build of this layout from before the file) gets one.
pub(super) fn check_format(dir: &Path, create: bool) -> Result<(), StoreError> {
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
pub(crate) fn db_dir(dir: &Path) -> PathBuf {
    dir.join("db")
}

/// The keyspaces beside the ledger's.
#[derive(Clone)]
pub(crate) struct Tables {
    /// Spooled events: seq (8 bytes, big-endian) -> the event as a journal record.
    pub(super) spool: fjall::Keyspace,
    /// `ledgered_seq` -> i64, big-endian.
    pub(super) meta: fjall::Keyspace,
    /// Delivery state: each destination's cursor and its events' attempts (see
    /// `deliver::state`).
    pub deliver: fjall::Keyspace,
    /// Dead letters: events a destination did not take within its attempts.
    pub dead: fjall::Keyspace,
    /// The rejection log (see `rejections`).
    pub rejections: fjall::Keyspace,
    /// Each event's delivery story per destination (see `history`).
    pub history: fjall::Keyspace,
    /// Tests: writing the mark fails (as a full disk would make it).
    #[cfg(test)]
    pub(super) refuse_marks: Arc<AtomicBool>,
}

pub(super) const LEDGERED_SEQ: &[u8] = b"ledgered_seq";

impl Tables {
    pub(super) fn open(ledger: &dedup::Ledger) -> fjall::Result<Tables> {
        Ok(Tables {
            spool: ledger.keyspace_with("spool", 4 << 20)?,
            meta: ledger.keyspace("meta")?,
            deliver: ledger.keyspace("deliver")?,
            dead: ledger.keyspace("dead")?,
            // One small write per delivered event: a memtable as small as the ledger's.
            // At the default 64 MiB, its entries (a few allocations each) held up to
            // that much more memory between flushes and slowed the allocator for the
            // whole process (the delivery benchmark: 80 % of its figure before).
            history: ledger.keyspace_with("history", HISTORY_MEMTABLE)?,
            // Written at most `rejections::WRITE_RATE` a second: a small memtable, and
            // lz4 (records are mostly repeated header text).
            rejections: ledger.keyspace_opts("rejections", || {
                fjall::KeyspaceCreateOptions::default()
                    .max_memtable_size(4 << 20)
                    .data_block_compression_policy(fjall::config::CompressionPolicy::all(
                        fjall::CompressionType::Lz4,
                    ))
            })?,
            #[cfg(test)]
            refuse_marks: Default::default(),
        })
    }

    pub(super) fn set_mark(&self, seq: i64) -> Result<(), StoreError> {
        #[cfg(test)]
        if self.refuse_marks.load(Ordering::Relaxed) {
            return Err(StoreError::Journal(std::io::Error::other("refused (test)")));
        }
        Ok(self.meta.insert(LEDGERED_SEQ, seq.to_be_bytes())?)
    }

    pub(super) fn mark(&self) -> Result<i64, StoreError> {
        Ok(self
            .meta
            .get(LEDGERED_SEQ)?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
            .unwrap_or(0))
    }

    /// The last spool seq given (0 for an empty spool).
    pub(super) fn last_spool_seq(&self) -> i64 {
        self.spool
            .last_key_value()
            .and_then(|g| g.key().ok())
            .and_then(|k| k.as_ref().try_into().ok().map(i64::from_be_bytes))
            .unwrap_or(0)
    }

    /// Spooled events after `after_seq`, oldest first, at most `limit`.
    pub(super) fn spooled(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<journal::Record>, StoreError> {
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
pub(crate) fn open_ledger(dir: &Path, window: Duration) -> Result<dedup::Ledger, StoreError> {
    dedup::Ledger::open(&db_dir(dir), window).map_err(|e| match e {
        fjall::Error::Locked => StoreError::InUse(dir.to_path_buf()),
        fjall::Error::Io(e) => StoreError::LedgerAt(db_dir(dir), e),
        e => StoreError::Ledger(e),
    })
}

pub(super) fn open_rw(
    dir: &Path,
    window: Duration,
) -> Result<(Tables, dedup::Ledger, Journal), StoreError> {
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
pub(super) fn restore_ledger(
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
