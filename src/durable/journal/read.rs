//! Reading the journal: one segment's records, the newest of them, and a scan of all
//! of them in order that follows the writer.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Buf;

use super::record::decode;
use super::{segments, Record, HEADER};

/// Reads the records of one segment from `offset` on. Stops (returns `None`) at the end
/// of the file or at the first record that is short or fails its CRC; `end` is then the
/// offset just past the last good record.
pub(super) struct SegmentReader {
    pub(super) file: BufReader<File>,
    /// The file's size when last looked at.
    pub(super) size: u64,
    pub(super) end: u64,
    pub(super) payload: Vec<u8>,
}

impl SegmentReader {
    pub(super) fn open(path: &Path, offset: u64) -> io::Result<SegmentReader> {
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
    pub(super) fn next(&mut self) -> io::Result<Option<Record>> {
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
pub(super) fn read_or_end(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The newest `limit` records that `keep` accepts, oldest first: segments are read
/// from the newest back until enough are found.
pub(crate) fn newest(
    dir: &Path,
    limit: usize,
    keep: impl Fn(&Record) -> bool,
) -> io::Result<Vec<Record>> {
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
pub(crate) struct Scan {
    pub(super) segs: std::vec::IntoIter<(i64, PathBuf)>,
    pub(super) current: Option<SegmentReader>,
    /// The segment `current` reads.
    pub(super) path: PathBuf,
    pub(super) after_seq: i64,
}

impl Scan {
    pub(crate) fn new(dir: &Path, after_seq: i64) -> io::Result<Scan> {
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
