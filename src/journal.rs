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
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Buf, Bytes};

use crate::event::Event;

/// A segment is closed, and the next one started, once it holds this much.
pub const SEGMENT_BYTES: u64 = if cfg!(test) { 4096 } else { 64 << 20 };
const HEADER: usize = 8;
const NONE: u32 = u32::MAX;

pub fn dir(store: &Path) -> PathBuf {
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

fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

fn put_opt(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put(buf, s.as_bytes()),
        None => buf.extend_from_slice(&NONE.to_le_bytes()),
    }
}

/// Append `ev`'s record, numbered `seq`, to `buf`.
pub fn encode(buf: &mut Vec<u8>, seq: i64, ev: &Event) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&ev.received_at_ms.to_le_bytes());
    put(buf, ev.route.as_bytes());
    put(buf, ev.id.as_bytes());
    put_opt(buf, ev.event_type.as_deref());
    // An IpAddr prints into a stack buffer; no String for it.
    let mut ip = [0u8; 48];
    let n = {
        use std::io::Write;
        let mut w = &mut ip[..];
        let _ = write!(w, "{}", ev.source_ip);
        48 - w.len()
    };
    put(buf, &ip[..n]);
    put_opt(buf, ev.content_type.as_deref());
    buf.extend_from_slice(&(ev.headers.len() as u32).to_le_bytes());
    for (name, value) in &ev.headers {
        put(buf, name.as_bytes());
        put(buf, value.as_bytes());
    }
    put(buf, &ev.body);
    let payload = &buf[start + HEADER..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    buf[start..start + 4].copy_from_slice(&len);
    buf[start + 4..start + 8].copy_from_slice(&crc);
}

/// A record read back.
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: i64,
    pub event: Event,
}

/// One record as [`encode`] wrote it (header and payload), checked: the spool keeps its
/// events as records, values in the store's database.
pub fn decode_record(bytes: &[u8]) -> Option<Record> {
    let len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    let payload = bytes.get(HEADER..HEADER.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    decode(payload)
}

/// The next `len: u32 | bytes` field of `p`.
fn field<'a>(p: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = p.try_get_u32_le().ok()? as usize;
    let (f, rest) = p.split_at_checked(n)?;
    *p = rest;
    Some(f)
}

fn string(p: &mut &[u8]) -> Option<String> {
    String::from_utf8(field(p)?.to_vec()).ok()
}

fn optional(p: &mut &[u8]) -> Option<Option<String>> {
    if p.get(..4)? == NONE.to_le_bytes() {
        p.advance(4);
        return Some(None);
    }
    string(p).map(Some)
}

/// Decode a payload whose CRC matched; `None` if it does not parse (a bug, or a record
/// from a newer version).
fn decode(mut p: &[u8]) -> Option<Record> {
    let p = &mut p;
    let seq = p.try_get_i64_le().ok()?;
    let received_at_ms = p.try_get_i64_le().ok()?;
    let route: Arc<str> = Arc::from(std::str::from_utf8(field(p)?).ok()?);
    let id = string(p)?;
    let event_type = optional(p)?;
    let source_ip = std::str::from_utf8(field(p)?).ok()?.parse().ok()?;
    let content_type = optional(p)?;
    let n = p.try_get_u32_le().ok()? as usize;
    let mut headers = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        headers.push((string(p)?, string(p)?));
    }
    let body = Bytes::copy_from_slice(field(p)?);
    Some(Record {
        seq,
        event: Event {
            route,
            id,
            event_type,
            body,
            content_type,
            received_at_ms,
            source_ip,
            headers,
        },
    })
}

/// Reads the records of one segment from `offset` on. Stops (returns `None`) at the end
/// of the file or at the first record that is short or fails its CRC; `end` is then the
/// offset just past the last good record.
struct SegmentReader {
    file: BufReader<File>,
    /// The file's size when last looked at.
    size: u64,
    end: u64,
    payload: Vec<u8>,
}

impl SegmentReader {
    fn open(path: &Path, offset: u64) -> io::Result<SegmentReader> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(SegmentReader {
            size: file.metadata()?.len(),
            file: BufReader::with_capacity(256 << 10, file),
            end: offset,
            payload: Vec::new(),
        })
    }

    /// `Ok(None)` at the end of the good records.
    fn next(&mut self) -> io::Result<Option<Record>> {
        let mut header = [0u8; HEADER];
        if !read_or_end(&mut self.file, &mut header)? {
            return Ok(None);
        }
        let mut h = &header[..];
        let len = h.get_u32_le() as usize;
        let crc = h.get_u32_le();
        // A zero length is what a crash leaves in space the file system allocated but
        // never wrote; no real record is shorter than its fixed fields. A length past the
        // end of the file is a torn or damaged header: it must not size an allocation (a
        // flipped high bit would ask for gigabytes).
        let room = |size: u64| size.saturating_sub(self.end + HEADER as u64);
        if len as u64 > room(self.size) {
            // The file may have grown since it was opened (the gateway appends).
            self.size = self.file.get_ref().metadata()?.len();
        }
        if len < 16 || len as u64 > room(self.size) {
            return Ok(None);
        }
        self.payload.resize(len, 0);
        if !read_or_end(&mut self.file, &mut self.payload)? || crc32fast::hash(&self.payload) != crc
        {
            return Ok(None);
        }
        let Some(record) = decode(&self.payload) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a journal record with a valid checksum does not parse",
            ));
        };
        self.end += (HEADER + len) as u64;
        Ok(Some(record))
    }
}

/// Fill `buf`, or return `false` if the file ends first.
fn read_or_end(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The writer's end: owned by the store's writer thread.
pub struct Journal {
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
    pub fn open(dir: &Path, first_seq: i64) -> io::Result<Journal> {
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The seq the next event gets.
    pub fn next_seq(&self) -> i64 {
        self.next_seq
    }

    /// Write `records` (encoded by [`encode`], numbered from [`Journal::next_seq`] up to
    /// `last_seq`) and sync them. On error nothing of them counts: the next append cuts
    /// off whatever this one left, and the seqs are given again.
    pub fn append(&mut self, records: &[u8], last_seq: i64) -> io::Result<()> {
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
    /// is that old, so that a quiet store is trimmed too. Returns how many went.
    pub fn retain(&mut self, cutoff: std::time::SystemTime) -> io::Result<usize> {
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
        // The newest segment is the one being written: never removed.
        for (_, path) in segs.iter().take(segs.len().saturating_sub(1)) {
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

/// The newest `limit` records that `keep` accepts, oldest first: segments are read
/// from the newest back until enough are found.
pub fn newest(dir: &Path, limit: usize, keep: impl Fn(&Record) -> bool) -> io::Result<Vec<Record>> {
    let mut out: std::collections::VecDeque<Record> = Default::default();
    for (_, path) in segments(dir)?.into_iter().rev() {
        if out.len() >= limit {
            break;
        }
        // This segment's newest `limit - found` matches go before what later ones gave.
        let want = limit - out.len();
        let mut here = std::collections::VecDeque::with_capacity(want.min(1024));
        let mut reader = SegmentReader::open(&path, 0)?;
        while let Some(r) = reader.next()? {
            if keep(&r) {
                if here.len() == want {
                    here.pop_front();
                }
                here.push_back(r);
            }
        }
        for r in here.into_iter().rev() {
            out.push_front(r);
        }
    }
    Ok(out.into())
}

/// Read the journal in seq order, from the first record after `after_seq`; works while
/// the gateway appends (it sees what was committed when it reaches the end).
pub struct Scan {
    segs: std::vec::IntoIter<(i64, PathBuf)>,
    current: Option<SegmentReader>,
    /// The segment `current` reads.
    path: PathBuf,
    after_seq: i64,
}

impl Scan {
    pub fn new(dir: &Path, after_seq: i64) -> io::Result<Scan> {
        let segs = segments(dir)?;
        // The last segment that starts at or before the first wanted seq holds it.
        let from = segs
            .iter()
            .rposition(|(first, _)| *first <= after_seq.saturating_add(1))
            .unwrap_or(0);
        let mut segs = segs.into_iter();
        if from > 0 {
            segs.nth(from - 1);
        }
        Ok(Scan {
            segs,
            current: None,
            path: PathBuf::new(),
            after_seq,
        })
    }
}

impl Iterator for Scan {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<io::Result<Record>> {
        loop {
            if self.current.is_none() {
                let (_, path) = self.segs.next()?;
                match SegmentReader::open(&path, 0) {
                    Ok(r) => self.current = Some(r),
                    Err(e) => return Some(Err(e)),
                }
                self.path = path;
            }
            let reader = self.current.as_mut()?;
            match reader.next() {
                Ok(Some(r)) if r.seq <= self.after_seq => continue,
                Ok(Some(r)) => return Some(Ok(r)),
                Ok(None) => {
                    // Only the last segment can end in an unfinished write (it is the
                    // one being appended to); a closed segment that stops short of its
                    // size is damaged, and saying so beats skipping what follows.
                    let end = reader.end;
                    self.current = None;
                    if self.segs.len() > 0 {
                        match std::fs::metadata(&self.path) {
                            Ok(m) if m.len() > end => {
                                return Some(Err(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    format!(
                                        "event journal: damaged record in {} at byte {end}",
                                        self.path.display()
                                    ),
                                )))
                            }
                            Ok(_) => {}
                            Err(e) => return Some(Err(e)),
                        }
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, body_len: usize) -> Event {
        Event {
            route: Arc::from(if id.starts_with('b') { "b" } else { "a" }),
            id: id.into(),
            event_type: Some("push".into()),
            content_type: None,
            body: Bytes::from(vec![b'x'; body_len]),
            received_at_ms: 1_700_000_000_123,
            source_ip: "2001:db8::1".parse().unwrap(),
            headers: vec![("x-github-delivery".into(), id.into())],
        }
    }

    /// Append `ids` one batch each, numbered on from the journal's next seq.
    fn append(j: &mut Journal, ids: &[&str], body_len: usize) {
        for id in ids {
            let mut buf = Vec::new();
            let seq = j.next_seq();
            encode(&mut buf, seq, &event(id, body_len));
            j.append(&buf, seq).unwrap();
        }
    }

    fn ids(scan: Scan) -> Vec<(i64, String)> {
        scan.map(|r| r.map(|r| (r.seq, r.event.id)).unwrap())
            .collect()
    }

    #[test]
    fn records_read_back_as_written_in_seq_order_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 7).unwrap();
        let names: Vec<String> = (0..12).map(|i| format!("id-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        // ~1 KB records against a 4 KiB segment in tests: several segments.
        append(&mut j, &names, 1000);
        assert!(segments(dir.path()).unwrap().len() >= 3);
        let all = ids(Scan::new(dir.path(), 0).unwrap());
        assert_eq!(all.len(), 12);
        assert_eq!(all[0], (7, "id-0".into()));
        assert_eq!(all[11], (18, "id-11".into()));
        let r = Scan::new(dir.path(), 0).unwrap().next().unwrap().unwrap();
        let e = event("id-0", 1000);
        assert_eq!(
            (
                &*r.event.route,
                r.event.event_type,
                r.event.content_type,
                r.event.body
            ),
            (&*e.route, e.event_type, e.content_type, e.body)
        );
        assert_eq!(
            (r.event.received_at_ms, r.event.source_ip, r.event.headers),
            (e.received_at_ms, e.source_ip, e.headers)
        );
        // From the middle: the scan starts in the segment that holds the seq.
        assert_eq!(
            ids(Scan::new(dir.path(), 15).unwrap())[0],
            (16, "id-9".into())
        );
        drop(j);
        let j = Journal::open(dir.path(), 1).unwrap();
        assert_eq!(j.next_seq(), 19, "numbering goes on after a restart");
    }

    #[test]
    fn a_torn_tail_is_cut_off_at_open_and_the_seq_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1).unwrap();
        append(&mut j, &["a1", "a2"], 10);
        drop(j);
        let (_, path) = segments(dir.path()).unwrap().pop().unwrap();
        let good = std::fs::metadata(&path).unwrap().len();
        // A batch that a crash cut short before its fsync: half a record, then zeros.
        let mut buf = Vec::new();
        encode(&mut buf, 3, &event("a3", 10));
        let mut torn = buf[..buf.len() / 2].to_vec();
        torn.extend_from_slice(&[0; 100]);
        let f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all_at(&torn, good).unwrap();
        assert_eq!(
            ids(Scan::new(dir.path(), 0).unwrap()).len(),
            2,
            "readers stop there"
        );
        let mut j = Journal::open(dir.path(), 1).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good, "cut off");
        let kept = path.with_extension(format!("cut-at-{good}"));
        assert_eq!(
            std::fs::read(&kept).unwrap(),
            torn,
            "and kept beside the segment"
        );
        assert_eq!(
            segments(dir.path()).unwrap().len(),
            1,
            "which is not a segment"
        );
        assert_eq!(j.next_seq(), 3);
        append(&mut j, &["a3"], 10);
        assert_eq!(
            ids(Scan::new(dir.path(), 0).unwrap()),
            [(1, "a1".into()), (2, "a2".into()), (3, "a3".into())]
        );
    }

    #[test]
    fn a_length_past_the_end_of_the_file_ends_the_records_without_sizing_a_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1).unwrap();
        append(&mut j, &["a1"], 10);
        drop(j);
        let (_, path) = segments(dir.path()).unwrap().pop().unwrap();
        let good = std::fs::metadata(&path).unwrap().len();
        // A damaged header claiming ~4 GB, then a few bytes.
        let mut bad = (u32::MAX - 1).to_le_bytes().to_vec();
        bad.extend_from_slice(&[7; 40]);
        let f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all_at(&bad, good).unwrap();
        assert_eq!(ids(Scan::new(dir.path(), 0).unwrap()), [(1, "a1".into())]);
        let mut r = SegmentReader::open(&path, 0).unwrap();
        assert!(r.next().unwrap().is_some());
        assert!(r.next().unwrap().is_none());
        assert!(r.payload.capacity() < 1 << 20, "{}", r.payload.capacity());
        let j = Journal::open(dir.path(), 1).unwrap();
        assert_eq!(j.next_seq(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good, "cut off");
    }

    #[test]
    fn a_flipped_bit_in_a_closed_segment_is_an_error_not_a_silent_gap() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1).unwrap();
        append(&mut j, &["a1", "a2", "a3", "a4", "a5", "a6"], 1500);
        let segs = segments(dir.path()).unwrap();
        assert!(segs.len() >= 2);
        let mut bytes = std::fs::read(&segs[0].1).unwrap();
        bytes[HEADER + 40] ^= 1;
        std::fs::write(&segs[0].1, bytes).unwrap();
        let results: Vec<_> = Scan::new(dir.path(), 0).unwrap().collect();
        let err = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(err.to_string().contains("damaged record"), "{err}");
    }

    #[test]
    fn an_empty_segment_left_by_a_failed_roll_is_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1).unwrap();
        append(&mut j, &["a1"], 10);
        // A roll to seq 2 that created its file but failed: the records went on.
        std::fs::File::create(segment_path(dir.path(), 2)).unwrap();
        append(&mut j, &["a2", "a3"], 10);
        drop(j);
        let mut j = Journal::open(dir.path(), 1).unwrap();
        assert_eq!(segments(dir.path()).unwrap().len(), 1);
        assert_eq!(
            j.next_seq(),
            4,
            "numbered on from the records, not the file name"
        );
        assert_eq!(ids(Scan::new(dir.path(), 2).unwrap()), [(3, "a3".into())]);
        // The same with the stale one between two real segments.
        append(&mut j, &["a4"; 6], 1000);
        let n = segments(dir.path()).unwrap().len();
        assert!(n >= 2);
        drop(j);
        std::fs::File::create(segment_path(dir.path(), 2)).unwrap();
        let j = Journal::open(dir.path(), 1).unwrap();
        assert_eq!(segments(dir.path()).unwrap().len(), n);
        assert_eq!(j.next_seq(), 10);
        assert_eq!(ids(Scan::new(dir.path(), 2).unwrap()).len(), 7);
    }

    #[test]
    fn newest_takes_the_last_matching_records_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1).unwrap();
        append(
            &mut j,
            &["a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4"],
            900,
        );
        let got: Vec<String> = newest(dir.path(), 3, |r| &*r.event.route == "b")
            .unwrap()
            .into_iter()
            .map(|r| r.event.id)
            .collect();
        assert_eq!(got, ["b2", "b3", "b4"]);
        assert_eq!(newest(dir.path(), 100, |_| true).unwrap().len(), 8);
        assert!(newest(dir.path(), 0, |_| true).unwrap().is_empty());
    }

    #[test]
    fn a_failed_append_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1).unwrap();
        append(&mut j, &["a1"], 10);
        // As if a write had gone half through before failing: bytes past the synced
        // length, and the flag that says so.
        let mut buf = Vec::new();
        encode(&mut buf, 2, &event("lost", 10));
        j.file.write_all_at(&buf, j.len).unwrap();
        j.torn = true;
        append(&mut j, &["a2"], 3);
        assert_eq!(
            ids(Scan::new(dir.path(), 0).unwrap()),
            [(1, "a1".into()), (2, "a2".into())]
        );
    }
}
