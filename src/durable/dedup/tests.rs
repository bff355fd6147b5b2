use super::*;

fn ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::open(dir.path(), Duration::from_secs(60)).unwrap();
    (dir, l)
}

#[test]
fn recorded_ids_are_seen_within_the_window_and_loaded_by_the_filter() {
    let (_dir, l) = ledger();
    l.record([("a", "1", 1000)]).unwrap();
    assert!(l.seen("a", "1", 500).unwrap());
    assert!(!l.seen("a", "1", 1500).unwrap(), "outside the window");
    assert!(!l.seen("b", "1", 500).unwrap(), "scoped per route");
    let f = Filter::new(Duration::from_secs(10));
    assert_eq!(f.load(&l, 2000, 0).unwrap(), 1);
}

#[test]
fn filter_answers_new_ids_and_forgets_after_the_window() {
    let f = Filter::new(Duration::from_secs(4));
    assert!(
        f.maybe_seen("a", "1"),
        "not loaded yet: everything is a maybe"
    );
    f.set_ready();
    assert!(!f.maybe_seen("a", "1"));
    f.insert("a", "1");
    assert!(f.maybe_seen("a", "1"));
    assert!(!f.maybe_seen("b", "1"), "scoped per route");
    // 10 000 other ids: all definite "no" but for a handful of false positives.
    let fp = (0..10_000)
        .filter(|i| f.maybe_seen("a", &format!("x{i}")))
        .count();
    assert!(fp < 10, "{fp} false positives");
    // Still there until GENERATIONS rotations have passed.
    for _ in 0..GENERATIONS - 1 {
        *f.started.lock().unwrap() -= f.span;
        f.rotate_if_due();
        assert!(f.maybe_seen("a", "1"));
    }
    *f.started.lock().unwrap() -= f.span;
    f.rotate_if_due();
    assert!(!f.maybe_seen("a", "1"), "forgotten after the window");
}

#[test]
fn generations_are_allocated_by_their_first_id() {
    let f = Filter::new(Duration::from_secs(4));
    f.set_ready();
    let allocated = |f: &Filter| f.gens.load().iter().filter(|g| g.get().is_some()).count();
    assert_eq!(allocated(&f), 0);
    assert!(!f.maybe_seen("a", "1"), "an empty filter answers no");
    f.insert("a", "1");
    assert_eq!(allocated(&f), 1, "the newest only");
    *f.started.lock().unwrap() -= f.span;
    f.rotate_if_due();
    assert_eq!(allocated(&f), 1, "a new generation waits for its first id");
    assert!(f.maybe_seen("a", "1"), "still found in the older one");
    f.insert("a", "2");
    assert_eq!(allocated(&f), 2);
}

#[test]
fn filter_loads_the_ledger() {
    let (_dir, l) = ledger();
    l.record([("a", "old", 1_000)]).unwrap();
    l.record([("a", "recent", 90_000)]).unwrap();
    let f = Filter::new(Duration::from_secs(60));
    assert_eq!(f.load(&l, 100_000, 40_000).unwrap(), 1);
    f.set_ready();
    assert!(f.maybe_seen("a", "recent"));
    assert!(!f.maybe_seen("a", "old"));
}

#[test]
fn keys_keep_route_and_id_apart() {
    assert_eq!(split(&key("ab", "c")), Some(("ab", "c")));
    assert_ne!(key("ab", "c"), key("a", "bc"));
    let (_dir, l) = ledger();
    l.record([("ab", "c", 1000)]).unwrap();
    assert!(!l.seen("a", "bc", 0).unwrap());
    assert_eq!(split(&[0, 9, b'x']), None, "a malformed key is skipped");
}

#[test]
fn the_ledger_survives_a_reopen_and_compaction_drops_what_the_window_left() {
    let dir = tempfile::tempdir().unwrap();
    let now = crate::now_ms();
    {
        let l = Ledger::open(dir.path(), Duration::from_secs(60)).unwrap();
        l.record([("a", "old", now - 120_000)]).unwrap();
        l.record([("a", "new", now), ("b", "new", now)]).unwrap();
        l.sync().unwrap();
    }
    let l = Ledger::open(dir.path(), Duration::from_secs(60)).unwrap();
    assert!(l.seen("a", "new", now - 60_000).unwrap(), "reopened");
    assert!(
        !l.seen("a", "old", now - 60_000).unwrap(),
        "on disk but outside the window: not seen"
    );
    l.ids.rotate_memtable_and_wait().unwrap();
    l.ids.major_compact().unwrap();
    let mut left = Vec::new();
    l.for_each_since(0, |r, id, _| left.push(format!("{r}/{id}")))
        .unwrap();
    assert_eq!(
        left,
        ["a/new", "b/new"],
        "the compaction dropped the old one"
    );
}
