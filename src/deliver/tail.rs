//! Following the event journal as the store's writer commits to it: records in seq
//! order up to the last committed seq, never past it (a record past it may be half
//! written).

use std::path::PathBuf;

use crate::durable::journal::{Record, Scan};

pub(crate) struct Tail {
    dir: PathBuf,
    scan: Option<Scan>,
    /// The last seq returned (or the cursor it started after).
    pub last: i64,
}

impl Tail {
    pub(crate) fn new(dir: PathBuf, after: i64) -> Tail {
        Tail {
            dir,
            scan: None,
            last: after,
        }
    }

    /// The next record up to `committed`, or `None` until more is committed.
    pub(crate) fn next(&mut self, committed: i64) -> Option<Record> {
        // Twice at most: a scan that reached the end of its segments (the writer moved
        // to a new one, or the read stopped short) is opened again after `last`.
        for _ in 0..2 {
            if self.last >= committed {
                return None;
            }
            if self.scan.is_none() {
                match Scan::new(&self.dir, self.last) {
                    Ok(s) => self.scan = Some(s),
                    Err(e) => {
                        tracing::error!(error = %e, "delivery cannot read the event journal");
                        return None;
                    }
                }
            }
            match self.scan.as_mut().and_then(Iterator::next) {
                Some(Ok(r)) if r.seq > self.last => {
                    self.last = r.seq;
                    return Some(r);
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    tracing::error!(error = %e, "delivery: reading the event journal failed; retrying");
                    self.scan = None;
                    return None;
                }
                None => self.scan = None,
            }
        }
        None
    }
}
