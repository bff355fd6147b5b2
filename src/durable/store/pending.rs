//! Ids accepted but not yet in the dedup ledger: answered from memory until their
//! batch is written.

use std::sync::mpsc;
use std::sync::Arc;

use super::{Cmd, Ids};

/// Ids the broker confirmed that the ledger may not hold yet. `current` fills up;
/// a flush hands it to the writer as a numbered batch that stays here, still answering
/// look-ups, until the writer has committed it (else an id would be in neither place
/// for the length of a commit, and a duplicate in that instant would be published).
#[derive(Default)]
pub(super) struct Pending {
    pub(super) current: Ids,
    pub(super) count: usize,
    pub(super) flushing: Vec<(u64, Arc<Ids>)>,
    pub(super) next: u64,
    /// [`Store::record`]'s ids on their way into `current`.
    pub(super) inbox: Option<mpsc::Receiver<(Arc<str>, String)>>,
}

impl Pending {
    /// Move what [`Store::record`] sent into `current`. Everyone who reads `current`
    /// drains first, so an id is never in neither place.
    pub(super) fn drain(&mut self) {
        let Some(inbox) = &self.inbox else {
            return;
        };
        while let Ok((route, id)) = inbox.try_recv() {
            self.count += usize::from(self.current.entry(route).or_default().insert(id));
        }
    }

    pub(super) fn contains(&self, route: &str, id: &str) -> bool {
        let has = |ids: &Ids| ids.get(route).is_some_and(|s| s.contains(id));
        has(&self.current) || self.flushing.iter().any(|(_, b)| has(b))
    }

    pub(super) fn take(&mut self) -> Option<Cmd> {
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
    pub(super) fn done(&mut self, n: u64, committed: bool) {
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

/// A batch of [`Pending`] on its way into the ledger, a chunk at a time.
pub(super) struct LedgerJob {
    pub(super) n: u64,
    pub(super) ids: Vec<(Arc<str>, String)>,
    pub(super) written: usize,
    /// `ledgered_seq` once the last chunk is in.
    pub(super) mark: i64,
    /// Accepted at (recorded as): when the batch was taken, at most a flush interval
    /// after its events were kept.
    pub(super) at: i64,
}
