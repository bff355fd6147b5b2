//! The dedup ledger: `(route, event id) -> accepted at`, kept in the embedded store's
//! `dedup` table for `dedup_window`. Only an accepted event makes a later delivery a
//! `duplicate`; a failed hand-off leaves no trace and the provider's retry is processed
//! afresh.
//!
//! Ids are written to the ledger in batches, not with their events (see `store`): an
//! index keyed by random ids dirties one page per insert, and written in the same
//! fsynced commit as each event it doubled the bytes the no-broker path wrote. Until
//! its batch is committed an id is answered from memory; ids of kept events that a
//! crash kept out of the ledger are put back from the `events` table when the store
//! opens.
//!
//! [`Filter`] sits in front of the ledger: almost every event is new, and proving that
//! without reading SQLite is what it is for. On the broker path it saves a read
//! transaction per request (two `fcntl` lock calls on the WAL index, ~11 % of the
//! gateway's CPU in the benchmark's profile); in the store's writer (no broker), a
//! look-up of a random id in the ledger before each insert (store phase, three
//! alternating pairs: 16.8-19.4k -> 18.3-21.6k events/s, 46.5-53.2 -> 43.4-45.1 ms of
//! CPU per 1 000).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use fastbloom::AtomicBloomFilter;
use rusqlite::{params, Transaction};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dedup (
    route   TEXT NOT NULL,
    id      TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (route, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_seen_at ON dedup (seen_at);
";

/// Was `(route, id)` accepted at or after `since_ms`?
const SEEN: &str =
    "SELECT EXISTS (SELECT 1 FROM dedup WHERE route = ?1 AND id = ?2 AND seen_at >= ?3)";

/// `true` if `(route, id)` was accepted at or after `since_ms`; otherwise records it
/// in `dedup` as seen at `now_ms` (the caller commits or rolls back with its event).
pub fn seen_or_record(
    tx: &Transaction,
    route: &str,
    id: &str,
    now_ms: i64,
    since_ms: i64,
) -> rusqlite::Result<bool> {
    if seen_in(tx, route, id, since_ms)? {
        return Ok(true);
    }
    // One statement: insert, or refresh an entry older than the window; no change means
    // the id was accepted within the window.
    let changed = tx
        .prepare_cached(
            "INSERT INTO dedup (route, id, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (route, id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen_at < ?4",
        )?
        .execute(params![route, id, now_ms, since_ms])?;
    Ok(changed == 0)
}

/// Was `(route, id)` accepted at or after `since_ms`? (Read only; a transaction derefs
/// to its connection.)
pub fn seen_in(
    conn: &rusqlite::Connection,
    route: &str,
    id: &str,
    since_ms: i64,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(SEEN)?
        .query_row(params![route, id, since_ms], |r| r.get(0))
}

/// Record `(route, id)` as accepted at `now_ms`.
pub fn record(tx: &Transaction, route: &str, id: &str, now_ms: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO dedup (route, id, seen_at) VALUES (?1, ?2, ?3)")?
        .execute(params![route, id, now_ms])?;
    Ok(())
}

/// Forget ids older than the window.
pub fn expire(conn: &rusqlite::Connection, before_ms: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM dedup WHERE seen_at < ?1", params![before_ms])
}

/// Generations of the [`Filter`]: each covers `window / (GENERATIONS - 1)`.
const GENERATIONS: usize = 5;
/// Memory of the whole [`Filter`]. A generation is allocated when its first id arrives;
/// optimised builds leave its zeroed pages to the kernel until ids set bits, but
/// fastbloom's builder writes every word once in an unoptimised build (the debug binary
/// the tests run), which made all 4 MiB resident at start.
pub const FILTER_BYTES: usize = 4 << 20;

/// One generation: allocated on its first id.
type Generation = std::sync::OnceLock<AtomicBloomFilter>;

/// A lock-free summary of the ids accepted within the window: rotating Bloom filters.
/// `false` from [`Filter::maybe_seen`] is definite (the id was not accepted within the
/// window, as far as this process knows: the ledger on disk is loaded at start); `true`
/// means "ask the ledger". Memory is fixed at [`FILTER_BYTES`]: past roughly 650 000 ids
/// per generation its false-positive rate rises and more look-ups fall through to
/// SQLite, which stays the truth; nothing is ever answered wrongly because of it.
pub struct Filter {
    /// Newest first; at most [`GENERATIONS`].
    gens: ArcSwap<Vec<Arc<Generation>>>,
    /// Hashes for every generation (they share its seed), without allocating one.
    hasher: AtomicBloomFilter,
    /// When the newest generation was started.
    started: Mutex<Instant>,
    span: Duration,
    seed: u128,
    /// The ledger on disk has been loaded; until then every look-up asks SQLite.
    ready: AtomicBool,
}

impl Filter {
    pub fn new(window: Duration) -> Filter {
        let seed = (u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..));
        let span = (window / (GENERATIONS as u32 - 1)).max(Duration::from_secs(1));
        let gens = (0..GENERATIONS).map(|_| Arc::default()).collect();
        Filter {
            gens: ArcSwap::from_pointee(gens),
            hasher: AtomicBloomFilter::with_num_bits(64).seed(&seed).hashes(1),
            started: Mutex::new(Instant::now()),
            span,
            seed,
            ready: AtomicBool::new(false),
        }
    }

    fn generation(seed: u128) -> AtomicBloomFilter {
        let bits = FILTER_BYTES * 8 / GENERATIONS;
        // ~10 bits per id: about 1 % false positives at this many ids per generation.
        AtomicBloomFilter::with_num_bits(bits)
            .seed(&seed)
            .expected_items(bits / 10)
    }

    /// All generations share the seed, so one hash serves all.
    fn hash(&self, route: &str, id: &str) -> u64 {
        self.hasher.source_hash(&(route, id))
    }

    fn add(&self, g: &Generation, h: u64) {
        g.get_or_init(|| Self::generation(self.seed)).insert_hash(h);
    }

    /// `false`: definitely not accepted within the window. `true`: maybe.
    pub fn maybe_seen(&self, route: &str, id: &str) -> bool {
        if !self.ready.load(Ordering::Acquire) {
            return true;
        }
        let gens = self.gens.load();
        let h = self.hash(route, id);
        gens.iter()
            .any(|g| g.get().is_some_and(|g| g.contains_hash(h)))
    }

    /// Note an accepted id.
    pub fn insert(&self, route: &str, id: &str) {
        self.add(&self.gens.load()[0], self.hash(route, id));
    }

    /// Start a new generation and drop the oldest when the newest is `span` old. An id
    /// stays in the filter for `GENERATIONS` spans of `window / (GENERATIONS - 1)`: at
    /// least the window after it was inserted, whenever in its generation that was.
    pub fn rotate_if_due(&self) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        if started.elapsed() < self.span {
            return;
        }
        *started = Instant::now();
        let mut gens: Vec<_> = self.gens.load().iter().cloned().collect();
        gens.pop();
        gens.insert(0, Arc::default());
        self.gens.store(Arc::new(gens));
    }

    /// Load the ledger's ids accepted since `since_ms` (at start, before [`Self::ready`]
    /// is set). An id `age` old goes into the generation that lives until its window
    /// ends, less one: a rotation while a large ledger loads shifts the generations
    /// this loop holds, and keeping an id one span too long only costs a SQLite read.
    pub fn load(
        &self,
        conn: &rusqlite::Connection,
        now_ms: i64,
        since_ms: i64,
    ) -> rusqlite::Result<usize> {
        let gens = self.gens.load_full();
        let span_ms = self.span.as_millis().max(1) as i64;
        let mut n = 0;
        let mut add = |route: &str, id: &str, at: i64| {
            let age = (now_ms - at).max(0);
            let g = ((age / span_ms) as usize)
                .saturating_sub(1)
                .min(GENERATIONS - 1);
            self.add(&gens[g], self.hash(route, id));
            n += 1;
        };
        let mut st = conn.prepare("SELECT route, id, seen_at FROM dedup WHERE seen_at >= ?1")?;
        let mut rows = st.query([since_ms])?;
        while let Some(r) = rows.next()? {
            add(r.get_ref(0)?.as_str()?, r.get_ref(1)?.as_str()?, r.get(2)?);
        }
        Ok(n)
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_ids_are_seen_within_the_window_and_loaded_by_the_filter() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let tx = c.transaction().unwrap();
        record(&tx, "a", "1", 1000).unwrap();
        assert!(seen_in(&tx, "a", "1", 500).unwrap());
        assert!(!seen_in(&tx, "a", "1", 1500).unwrap(), "outside the window");
        assert!(!seen_in(&tx, "b", "1", 500).unwrap(), "scoped per route");
        assert!(seen_or_record(&tx, "a", "1", 1200, 500).unwrap());
        let f = Filter::new(Duration::from_secs(10));
        assert_eq!(f.load(&tx, 2000, 0).unwrap(), 1);
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
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let tx = c.transaction().unwrap();
        record(&tx, "a", "old", 1_000).unwrap();
        record(&tx, "a", "recent", 90_000).unwrap();
        tx.commit().unwrap();
        let f = Filter::new(Duration::from_secs(60));
        assert_eq!(f.load(&c, 100_000, 40_000).unwrap(), 1);
        f.set_ready();
        assert!(f.maybe_seen("a", "recent"));
        assert!(!f.maybe_seen("a", "old"));
    }

    #[test]
    fn ledger_window_and_scope() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let tx = c.transaction().unwrap();
        assert!(!seen_or_record(&tx, "a", "1", 1000, 0).unwrap());
        assert!(seen_or_record(&tx, "a", "1", 1500, 500).unwrap());
        assert!(
            !seen_or_record(&tx, "b", "1", 1500, 500).unwrap(),
            "dedup is scoped per route"
        );
        assert!(
            !seen_or_record(&tx, "a", "1", 5000, 2000).unwrap(),
            "outside the window it is new again"
        );
        tx.commit().unwrap();
        assert_eq!(expire(&c, 2000).unwrap(), 1);
    }
}
