use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::checks::event::Event;

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
