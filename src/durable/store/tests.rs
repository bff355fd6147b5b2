use super::housekeeping::ledger_is_broken;
use super::layout::{restore_ledger, FORMAT};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::checks::event::Event;
use crate::config::StoreConfig;
use crate::durable::dedup;
use crate::durable::journal::{self};
use crate::obs::metrics::Metrics;

use super::*;

#[test]
fn a_writer_that_is_gone_is_not_healthy() {
    let (_dir, _, store) = open_store(Duration::from_secs(60), false);
    let healthy = store.healthy.clone();
    assert!(store.healthy());
    drop(store);
    // The writer notices the closed queue within its 1 s receive timeout.
    let deadline = Instant::now() + Duration::from_secs(5);
    while healthy.load(Ordering::Relaxed) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!healthy.load(Ordering::Relaxed));
}

#[tokio::test]
async fn without_a_broker_seen_answers_from_pending_ids_and_the_ledger() {
    let (_dir, _, store) = open_store(Duration::from_secs(60), false);
    let ev = event("d-1", crate::now_ms());
    assert_eq!(store.keep(Table::Events, ev).await, Ok(Outcome::Accepted));
    assert_eq!(store.seen("r", "d-1"), Ok(true), "from the pending ids");
    assert_eq!(store.seen("r", "d-2"), Ok(false));
    store.flush().await;
    assert_eq!(store.seen("r", "d-1"), Ok(true), "from the ledger");
}

#[test]
fn a_store_folder_in_use_by_another_gateway_is_refused_with_a_clear_error() {
    let (_dir, cfg, _store) = open_store(Duration::from_secs(60), false);
    let err = Store::open(&cfg, Arc::new(Metrics::new()), false)
        .err()
        .expect("a second gateway on the same folder");
    assert!(matches!(err, StoreError::InUse(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("in use by another hookgate process"),
        "{err}"
    );
}

#[test]
fn a_poisoned_ledger_makes_the_store_not_ready_for_good() {
    let (_dir, _, store) = open_store(Duration::from_secs(60), false);
    assert!(store.healthy());
    assert!(!ledger_is_broken(&StoreError::Ledger(fjall::Error::Locked)));
    let poisoned = StoreError::Ledger(fjall::Error::Poisoned);
    assert!(ledger_is_broken(&poisoned));
    // As the writer does on such an error; a later good commit does not clear it.
    store.ledger_broken.store(true, Ordering::Relaxed);
    store.healthy.store(true, Ordering::Relaxed);
    assert!(!store.healthy());
}

#[test]
fn a_ledger_or_journal_that_cannot_be_opened_is_named_in_the_error() {
    for (blocked, says) in [
        ("db", "store: database"),
        ("events", "store: event journal"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // A file where the folder should be (permissions do not stop root).
        std::fs::write(dir.path().join(blocked), b"").unwrap();
        let err = open_rw(dir.path(), Duration::from_secs(60)).err().unwrap();
        let msg = err.to_string();
        let path = dir.path().join(blocked).display().to_string();
        assert!(msg.starts_with(says) && msg.contains(&path), "{msg}");
    }
}

#[tokio::test]
async fn a_spooled_id_answers_duplicate_before_and_after_its_ledger_write() {
    // Broker down: spooled events' ids go through the pending set, like confirmed ones.
    let (_dir, _, store) = open_store(Duration::from_secs(60), true);
    let now = crate::now_ms();
    assert_eq!(
        store.keep(Table::Spool, event("s", now)).await,
        Ok(Outcome::Accepted)
    );
    assert_eq!(store.seen("r", "s"), Ok(true), "from the pending ids");
    assert_eq!(
        store.keep(Table::Spool, event("s", now)).await,
        Ok(Outcome::Duplicate)
    );
    store.flush().await;
    assert!(store.ledger.seen("r", "s", now - 1000).unwrap(), "written");
    assert_eq!(store.seen("r", "s"), Ok(true), "from the ledger");
    assert_eq!(
        store.keep(Table::Spool, event("s", now)).await,
        Ok(Outcome::Duplicate)
    );
}

#[test]
fn gathering_takes_what_arrives_in_time_and_stops_at_the_deadline_or_the_cap() {
    let (tx, rx) = mpsc::channel();
    let sender = std::thread::spawn(move || {
        tx.send(1).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        tx.send(2).unwrap();
        std::thread::sleep(Duration::from_millis(600));
        tx.send(3).unwrap();
        tx
    });
    let started = Instant::now();
    let mut batch = Vec::new();
    gather(&rx, &mut batch, started + Duration::from_millis(300), 8);
    assert_eq!(batch, [1, 2], "the third came after the deadline");
    assert!(started.elapsed() < Duration::from_millis(600));
    let tx = sender.join().unwrap();
    for i in 4..20 {
        tx.send(i).unwrap();
    }
    let mut batch = Vec::new();
    gather(&rx, &mut batch, Instant::now() + Duration::from_secs(10), 8);
    assert_eq!(batch.len(), 8, "capped, without waiting for the deadline");
}

/// A store in a temporary folder (kept while the first value lives).
fn open_store(window: Duration, with_broker: bool) -> (tempfile::TempDir, StoreConfig, Store) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        path: dir.path().join("store"),
        dedup_window: window,
        retention: None,
        rejections: crate::config::RejectionsConfig {
            keep: 100,
            max_age: Duration::from_secs(3600),
            max_bytes: 1 << 20,
            capture_body: false,
        },
        archive: false,
        shared: None,
    };
    let store = Store::open(&cfg, Arc::new(Metrics::new()), with_broker).unwrap();
    (dir, cfg, store)
}

fn event(id: &str, received_at_ms: i64) -> Event {
    Event {
        route: Arc::from("r"),
        id: id.into(),
        event_type: None,
        content_type: None,
        body: Bytes::from_static(b"{}"),
        received_at_ms,
        source_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        headers: Vec::new(),
    }
}

#[tokio::test]
async fn without_a_broker_the_writer_keeps_the_ledger() {
    let (_dir, _, store) = open_store(Duration::from_secs(60), false);
    let now = crate::now_ms();
    // Two deliveries of one id in flight at once: one is kept.
    let (a, b) = tokio::join!(
        store.keep(Table::Events, event("x", now)),
        store.keep(Table::Events, event("x", now))
    );
    let mut got = [a.unwrap(), b.unwrap()];
    got.sort_by_key(|o| *o == Outcome::Duplicate);
    assert_eq!(got, [Outcome::Accepted, Outcome::Duplicate]);
    // Buffered, not in the ledger yet, and still a duplicate.
    assert_eq!(
        store.keep(Table::Events, event("x", now)).await,
        Ok(Outcome::Duplicate)
    );
    store.flush().await;
    let c = store.tables.clone();
    let mark = |c: &Tables| -> i64 { c.mark().unwrap() };
    assert!(
        store.ledger.seen("r", "x", now - 1000).unwrap(),
        "written at the flush"
    );
    assert_eq!(mark(&c), 1, "mark at event 1");
    assert_eq!(
        store.keep(Table::Events, event("x", now)).await,
        Ok(Outcome::Duplicate),
        "the ledger answers now"
    );
    let stored = store.reader().count(Table::Events).unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn a_ledger_write_that_fails_is_retried_and_its_ids_still_answer() {
    let (_dir, _, store) = open_store(Duration::from_secs(60), false);
    // The last step of a ledger batch, moving the mark, fails.
    store.tables.refuse_marks.store(true, Ordering::Relaxed);
    let c = store.tables.clone();
    let mark = || -> Option<i64> { Some(c.mark().unwrap()).filter(|m| *m > 0) };
    let before = mark();
    let now = crate::now_ms();
    assert_eq!(
        store.keep(Table::Events, event("a", now)).await,
        Ok(Outcome::Accepted)
    );
    store.flush().await; // the ledger batch fails here
    assert_eq!(store.seen("r", "a"), Ok(true), "still answered from memory");
    assert_eq!(
        store.keep(Table::Events, event("a", now)).await,
        Ok(Outcome::Duplicate)
    );
    assert_eq!(mark(), before, "the mark did not move");
    store.tables.refuse_marks.store(false, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(3);
    while mark() != Some(1) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mark(), Some(1), "completed by a retry");
    assert!(store.ledger.seen("r", "a", now - 1000).unwrap());
}

#[test]
fn a_store_in_an_earlier_layout_is_refused_and_says_what_it_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hookgate.db"), b"SQLite format 3\0").unwrap();
    std::fs::create_dir_all(db_dir(dir.path())).unwrap();
    for e in [
        open_rw(dir.path(), Duration::from_secs(60)).err().unwrap(),
        Reader::open(dir.path()).err().unwrap(),
    ] {
        let text = e.to_string();
        assert!(
            text.contains(
                "written by another version of hookgate (hookgate.db, the SQLite database of the layouts before hookgate-store 2)"
            ) && text.contains("There is no migration before 1.0"),
            "{text}"
        );
    }
    assert!(!dir.path().join("FORMAT").exists(), "nothing written");
    // A FORMAT of another version is refused too.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("FORMAT"), "hookgate-store 1\n").unwrap();
    let e = open_rw(other.path(), Duration::from_secs(60))
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains(r#"its FORMAT file says "hookgate-store 1""#),
        "{e}"
    );
}

#[test]
fn opening_restores_ids_the_ledger_missed() {
    let dir = tempfile::tempdir().unwrap();
    let now = crate::now_ms();
    let window = Duration::from_secs(60);
    let ids = |l: &dedup::Ledger| -> Vec<String> {
        let mut ids = Vec::new();
        l.for_each_since(now - 60_000, |_, id, _| ids.push(id.to_string()))
            .unwrap();
        ids.sort();
        ids
    };
    {
        // Kept events 1 to 3 and a spooled event whose ids never reached the ledger
        // (a crash right after their commits), and no mark yet.
        let (c, ledger, mut journal) = open_rw(dir.path(), window).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("FORMAT")).unwrap(),
            format!("{FORMAT}\n")
        );
        let mut buf = Vec::new();
        for (seq, (id, at)) in [("old", now - 120_000), ("a", now - 1000), ("b", now)]
            .into_iter()
            .enumerate()
        {
            journal::encode(&mut buf, seq as i64 + 1, &event(id, at));
        }
        journal.append(&buf, 3).unwrap();
        let mut spool = ledger.batch();
        let mut record = Vec::new();
        journal::encode(&mut record, 1, &event("s", now));
        spool.insert(&c.spool, 1i64.to_be_bytes(), record);
        spool.commit().unwrap();
        ledger.sync().unwrap();
        assert_eq!(c.mark().unwrap(), 0);
    }
    let (c, ledger, mut journal) = open_rw(dir.path(), window).unwrap();
    assert_eq!(
        ids(&ledger),
        ["a", "b", "s"],
        "every kept and spooled event in the window"
    );
    assert_eq!(c.mark().unwrap(), 3);
    assert_eq!(journal.next_seq(), 4);
    assert_eq!(c.last_spool_seq(), 1);
    // A crash after event 4 was committed, before its id reached the ledger: only
    // events past the mark (3) are read again (and the spool's, always).
    let mut buf = Vec::new();
    journal::encode(&mut buf, 4, &event("c", now));
    journal.append(&buf, 4).unwrap();
    let since = now - window.as_millis() as i64;
    assert_eq!(restore_ledger(&c, &ledger, &journal, since).unwrap(), 2);
    assert_eq!(ids(&ledger), ["a", "b", "c", "s"]);
    assert_eq!(c.mark().unwrap(), 4);
}

#[tokio::test]
async fn recorded_ids_answer_at_once_without_a_lock_and_reach_the_ledger() {
    let (_dir, _, store) = open_store(Duration::from_secs(60), true);
    store.filter.set_ready();
    for i in 0..MAX_BATCH + 10 {
        store.record(Arc::from("r"), format!("id-{i}"));
    }
    // Past MAX_BATCH a flush went to the writer; the rest wait in the channel.
    for i in [0, MAX_BATCH - 1, MAX_BATCH + 9] {
        assert_eq!(store.seen("r", &format!("id-{i}")), Ok(true), "id-{i}");
    }
    assert_eq!(store.seen("r", "id-x"), Ok(false));
    store.flush().await;
    let n = store.ledger.for_each_since(0, |_, _, _| {}).unwrap();
    assert_eq!(n, MAX_BATCH + 10, "every id in the ledger");
}

#[test]
fn pending_ids_answer_until_their_batch_is_committed() {
    let mut p = Pending::default();
    p.current
        .entry(Arc::from("r"))
        .or_default()
        .insert("1".into());
    let Some(Cmd::Record(n, _)) = p.take() else {
        panic!("a batch")
    };
    assert!(p.take().is_none(), "nothing new");
    assert!(
        p.contains("r", "1"),
        "handed to the writer, not committed yet"
    );
    p.done(n, false);
    assert!(
        p.contains("r", "1"),
        "a failed commit keeps it for the next flush"
    );
    let Some(Cmd::Record(n, _)) = p.take() else {
        panic!("retried")
    };
    p.done(n, true);
    assert!(!p.contains("r", "1"), "committed: the ledger answers now");
}
