//! The event journal: where accepted events go when no broker is configured. An
//! append-only log of records in segment files (`<store>/events/<first seq>.log`), so
//! that each event is written to disk once: a group commit is one `write` of the whole
//! batch and one `fdatasync`. (In a SQLite table an event was written twice, to the WAL
//! and again at checkpoint, plus the partly filled last page with every commit: ~5 KB
//! of writes for a 1.5 KB event, and the store's writer thread was the store mode's
//! bottleneck.) Events are never rewritten or deleted here; they are read in order
//! (`hookgate store list | show | replay`, and at open the ids a crash may have kept out
//! of the dedup ledger).
//!
//! A record is `len: u32 | crc32: u32 | payload` (little-endian; the CRC covers the
//! payload), the payload `seq: i64 | received_at_ms: i64 | route | id | event_type |
//! source_ip | content_type | headers | body`, each string or byte field `len: u32 |
//! bytes` (`u32::MAX` for an absent optional one), headers `count: u32` then name,
//! value pairs. A record that is short or fails its CRC ends the log: after a crash
//! that is the tail of a batch that was never synced (and never answered 200), and
//! [`Journal::open`] cuts it off (keeping the bytes beside the segment, in case they
//! were damage to committed records instead); a reader meeting it while the gateway
//! writes sees the end of what is committed so far.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A segment is closed, and the next one started, once it holds this much.
pub(crate) const SEGMENT_BYTES: u64 = if cfg!(test) { 4096 } else { 64 << 20 };
const HEADER: usize = 8;
const NONE: u32 = u32::MAX;

pub(crate) fn dir(store: &Path) -> PathBuf {
    store.join("events")
}

fn segment_path(dir: &Path, first_seq: i64) -> PathBuf {
    dir.join(format!("{first_seq:020}.log"))
}

/// The segments, oldest first, as (first seq, path).
fn segments(dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let first = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<i64>().ok());
        if let Some(first) = first {
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

/// A new, empty segment numbered `first_seq`, durable (file and directory entry); on
/// failure it is removed again, as records must not go on past an empty segment.
fn create_segment(dir: &Path, first_seq: i64) -> io::Result<File> {
    let path = segment_path(dir, first_seq);
    let created = (|| {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(file)
    })();
    if created.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    created
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

mod read;
mod record;

use read::SegmentReader;
pub(crate) use read::{newest, Scan};
pub(crate) use record::{decode_record, encode, Record};

/// The writer's end: owned by the store's writer thread.
pub(crate) struct Journal {
    dir: PathBuf,
    file: File,
    /// Bytes of the current segment that are synced: the next append goes here.
    len: u64,
    /// An append failed: what it may have left past `len` is cut off before the next.
    torn: bool,
    next_seq: i64,
}

impl Journal {
    /// Open the journal in `dir` (creating it, the first segment numbered `first_seq`,
    /// if there is none), cutting off a torn tail a crash left in the last segment.
    pub(crate) fn open(dir: &Path, first_seq: i64) -> io::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let mut segs = segments(dir)?;
        // Empty segments beside others are dropped: one is either a roll that failed
        // after creating its file and could not remove it (the records went on into the
        // previous segment, and its name would send readers and the numbering wrong), or
        // the newest, rolled to just before a stop, which the next append recreates.
        if segs.len() > 1 {
            let empty = segs
                .iter()
                .map(|(_, p)| Ok(std::fs::metadata(p)?.len() == 0))
                .collect::<io::Result<Vec<bool>>>()?;
            let all = empty.iter().all(|e| *e);
            let mut removed = false;
            for (i, ((_, path), e)) in segs.iter().zip(&empty).enumerate() {
                if *e && !(all && i == 0) {
                    std::fs::remove_file(path)?;
                    removed = true;
                }
            }
            if removed {
                sync_dir(dir)?;
                segs = segments(dir)?;
            }
        }
        let Some((first, path)) = segs.last().cloned() else {
            let file = create_segment(dir, first_seq)?;
            return Ok(Journal {
                dir: dir.to_path_buf(),
                file,
                len: 0,
                torn: false,
                next_seq: first_seq,
            });
        };
        let mut reader = SegmentReader::open(&path, 0)?;
        let mut next_seq = first;
        while let Some(r) = reader.next()? {
            next_seq = r.seq + 1;
        }
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let size = file.metadata()?.len();
        if size > reader.end {
            // After a crash this is the part of a batch that was written but not synced,
            // never answered 200. It could also be damage to records that were (a flipped
            // bit ends the good records early): so what is cut off is kept beside the
            // segment, not destroyed.
            let kept = path.with_extension(format!("cut-at-{}", reader.end));
            let mut rest = vec![0; (size - reader.end) as usize];
            file.read_exact_at(&mut rest, reader.end)?;
            let side = File::create(&kept)?;
            side.write_all_at(&rest, 0)?;
            side.sync_all()?;
            sync_dir(dir)?;
            tracing::warn!(
                segment = %path.display(),
                bytes = size - reader.end,
                kept = %kept.display(),
                "event journal: cutting off an unfinished write (a crash before its fsync, never answered 200; if not, the bytes are kept)"
            );
            file.set_len(reader.end)?;
            file.sync_all()?;
        }
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            len: reader.end,
            torn: false,
            next_seq,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The seq the next event gets.
    pub(crate) fn next_seq(&self) -> i64 {
        self.next_seq
    }

    /// Write `records` (encoded by [`encode`], numbered from [`Journal::next_seq`] up to
    /// `last_seq`) and sync them. On error nothing of them counts: the next append cuts
    /// off whatever this one left, and the seqs are given again.
    pub(crate) fn append(&mut self, records: &[u8], last_seq: i64) -> io::Result<()> {
        if self.torn {
            self.file.set_len(self.len)?;
            self.torn = false;
        }
        self.torn = true;
        self.file.write_all_at(records, self.len)?;
        self.file.sync_data()?;
        self.torn = false;
        self.len += records.len() as u64;
        self.next_seq = last_seq + 1;
        if self.len >= SEGMENT_BYTES {
            // A failure here leaves the full segment in use; the next append tries again.
            if let Err(e) = self.roll() {
                tracing::warn!(error = %e, "event journal: cannot start a new segment");
            }
        }
        Ok(())
    }

    /// Start the next segment, made durable (file and its directory entry) before any
    /// record goes into it.
    fn roll(&mut self) -> io::Result<()> {
        self.file = create_segment(&self.dir, self.next_seq)?;
        self.len = 0;
        Ok(())
    }
}

impl Journal {
    /// Remove the segments whose last write is older than `cutoff` (their newest event
    /// is, give or take the fsync). The segment being written is closed first when it
    /// is that old, so that a quiet store is trimmed too. A segment that holds an event
    /// after `keep_after` (one a destination has not taken yet) stays. Returns how many
    /// went.
    pub(crate) fn retain(
        &mut self,
        cutoff: std::time::SystemTime,
        keep_after: i64,
    ) -> io::Result<usize> {
        let old = |p: &Path| -> io::Result<bool> { Ok(std::fs::metadata(p)?.modified()? < cutoff) };
        let mut segs = segments(&self.dir)?;
        let current_is_old = match segs.last() {
            Some((_, current)) => old(current)?,
            None => false,
        };
        if self.len > 0 && current_is_old {
            self.roll()?;
            segs = segments(&self.dir)?;
        }
        let mut removed = 0;
        // The newest segment is the one being written: never removed. A segment's last
        // seq is one before the next segment's first.
        for (i, (_, path)) in segs.iter().enumerate().take(segs.len().saturating_sub(1)) {
            let last_seq = segs[i + 1].0 - 1;
            if last_seq > keep_after {
                break;
            }
            if old(path)? {
                std::fs::remove_file(path)?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;
