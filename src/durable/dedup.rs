//! The dedup ledger: `(route, event id) -> accepted at`, kept for `dedup_window`. Only
//! an accepted event makes a later delivery a `duplicate`; a failed hand-off leaves no
//! trace and the provider's retry is processed afresh.
//!
//! The ledger is the `ids` keyspace of the store's database, an LSM tree (fjall) in
//! `<store>/db` (where it used to be a SQLite table): delivery ids are random, and a B-tree keyed by random ids
//! dirties about one 4 KiB page per id (written to the WAL, then again at checkpoint),
//! however the inserts are batched. An LSM tree appends them to its journal and writes
//! them sorted when a memtable fills. Measured in the benchmark's store phase (three
//! alternating pairs, same host): 15.5-16.2k -> 18.0-21.8k events/s, 8.8-8.9 -> 4.9-5.1
//! KB written per event, the 200's p99 20-21 -> 13-14 ms; with a broker, 4.0-4.8 KB ->
//! 111-134 bytes written per event, and the store's writer 19 % -> 6 % of the CPU.
//!
//! Ids are written in batches by the store's writer (see `store`), not with their
//! events; until its batch is written an id is answered from memory, and ids of kept
//! events that a crash kept out of the ledger are put back from the event journal (and
//! the spool table) when the store opens. Entries past the window are dropped by a
//! compaction filter as the tree compacts (so a quiet gateway may keep some on disk a
//! while longer); a look-up compares the stored time with the window itself, so a late
//! drop is never a wrong answer.
//!
//! [`Filter`] sits in front of the ledger: almost every event is new, and proving that
//! without a look-up is what it is for. On the broker path it saved a SQLite read
//! transaction per request (~11 % of the gateway's CPU in the benchmark's profile when
//! the ledger was in SQLite); in the store's writer (no broker), a look-up of a random
//! id before each insert (store phase, three alternating pairs: 16.8-19.4k -> 18.3-21.6k
//! events/s).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use fastbloom::AtomicBloomFilter;
use fjall::compaction::filter::{
    CompactionFilter, CompactionFilterResult, Context, Factory, ItemAccessor, Verdict,
};

/// Memtable of the ledger: what it holds in memory before writing a sorted table,
/// counted in key and value bytes (~50 per id, so ~20 000 ids). The skiplist around them
/// takes about three times that in RSS: the store phase's peak RSS was 34 MiB with
/// 4 MiB, 29 with 2 and 27 with 1 (20 with the ledger in SQLite), and its throughput no
/// different that the host's noise let through (two rounds of the three sizes).
const MEMTABLE_BYTES: u64 = 1 << 20;
/// Block cache: look-ups are rare (a filter "maybe"), so a small one does.
const CACHE_BYTES: u64 = 1 << 20;
/// Memtables written out (level-0 tables) before they are merged into level 1, where
/// fjall's default merges at 4. Ids are random, so every level-0 table spans every
/// level-1 table and each merge rewrites all of level 1: merging after 12 megabytes
/// rather than 4 does that a third as often (a look-up, rare, reads up to 12 small
/// tables' bloom filters more). The merges were 8.6 % of the gateway's CPU in the
/// benchmark's store phase (docs/benchmarks.md, "The cost of one event"). Below
/// fjall's write stall at 20. A store keeps the value it was created with.
const LEVEL0_TABLES: u8 = 12;

/// The ids accepted within the window, on disk.
pub(crate) struct Ledger {
    db: fjall::Database,
    ids: fjall::Keyspace,
}

/// `route` length (2 bytes), `route`, `id`: no separator that a name could contain.
fn key(route: &str, id: &str) -> Vec<u8> {
    let r = &route.as_bytes()[..route.len().min(u16::MAX as usize)];
    let mut k = Vec::with_capacity(2 + r.len() + id.len());
    k.extend_from_slice(&(r.len() as u16).to_be_bytes());
    k.extend_from_slice(r);
    k.extend_from_slice(id.as_bytes());
    k
}

fn split(key: &[u8]) -> Option<(&str, &str)> {
    let n = u16::from_be_bytes([*key.first()?, *key.get(1)?]) as usize;
    let rest = key.get(2..)?;
    let (route, id) = (rest.get(..n)?, rest.get(n..)?);
    Some((
        std::str::from_utf8(route).ok()?,
        std::str::from_utf8(id).ok()?,
    ))
}

fn at(value: &[u8]) -> i64 {
    value.try_into().map(i64::from_be_bytes).unwrap_or(0)
}

/// Drops entries older than the window when the tree compacts them.
struct Expire {
    window_ms: i64,
}

impl Factory for Expire {
    fn name(&self) -> &str {
        "hookgate-dedup-window"
    }

    fn make_filter(&self, _: &Context) -> Box<dyn CompactionFilter> {
        Box::new(ExpireBefore(crate::now_ms() - self.window_ms))
    }
}

struct ExpireBefore(i64);

impl CompactionFilter for ExpireBefore {
    fn filter_item(&mut self, item: ItemAccessor<'_>, _: &Context) -> CompactionFilterResult {
        // Remove, not Destroy: a tombstone keeps an older version of a re-recorded id
        // (older still, so expired as well) from coming back.
        Ok(if at(&item.value()?) < self.0 {
            Verdict::Remove
        } else {
            Verdict::Keep
        })
    }
}

impl Ledger {
    pub(crate) fn open(dir: &Path, window: Duration) -> fjall::Result<Ledger> {
        let expire: Arc<dyn Factory> = Arc::new(Expire {
            window_ms: window.as_millis() as i64,
        });
        let db = fjall::Database::builder(dir)
            .cache_size(CACHE_BYTES)
            .worker_threads(1)
            .with_compaction_filter_factories(Arc::new(move |name| {
                (name == "ids").then(|| expire.clone())
            }))
            .open()?;
        let ids = db.keyspace("ids", || {
            fjall::KeyspaceCreateOptions::default()
                .max_memtable_size(MEMTABLE_BYTES)
                .compaction_strategy(Arc::new(
                    fjall::compaction::Leveled::default().with_l0_threshold(LEVEL0_TABLES),
                ))
        })?;
        Ok(Ledger { db, ids })
    }

    /// Another keyspace of the same database (the store's spool and marks): its writes
    /// share the ledger's journal and its syncs.
    pub(crate) fn keyspace(&self, name: &str) -> fjall::Result<fjall::Keyspace> {
        self.db
            .keyspace(name, fjall::KeyspaceCreateOptions::default)
    }

    /// [`Ledger::keyspace`] with a memtable of `memtable` bytes.
    pub(crate) fn keyspace_with(
        &self,
        name: &str,
        memtable: u64,
    ) -> fjall::Result<fjall::Keyspace> {
        self.db.keyspace(name, || {
            fjall::KeyspaceCreateOptions::default().max_memtable_size(memtable)
        })
    }

    /// [`Ledger::keyspace`] with options of its own.
    pub(crate) fn keyspace_opts(
        &self,
        name: &str,
        opts: impl FnOnce() -> fjall::KeyspaceCreateOptions,
    ) -> fjall::Result<fjall::Keyspace> {
        self.db.keyspace(name, opts)
    }

    /// A batch across the database's keyspaces, applied atomically by `commit`.
    pub(crate) fn batch(&self) -> fjall::OwnedWriteBatch {
        self.db.batch()
    }

    /// Was `(route, id)` accepted at or after `since_ms`?
    pub(crate) fn seen(&self, route: &str, id: &str, since_ms: i64) -> fjall::Result<bool> {
        Ok(self
            .ids
            .get(key(route, id))?
            .is_some_and(|v| at(&v) >= since_ms))
    }

    /// Record `(route, id, accepted at)`s in one write to the journal (not yet synced:
    /// see [`Ledger::sync`]).
    pub(crate) fn record<'a>(
        &self,
        ids: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
    ) -> fjall::Result<()> {
        let mut batch = self.db.batch();
        for (route, id, at) in ids {
            batch.insert(&self.ids, key(route, id), at.to_be_bytes());
        }
        batch.commit()
    }

    /// Make what was recorded so far survive a power cut (`fdatasync` of the journal).
    pub(crate) fn sync(&self) -> fjall::Result<()> {
        self.db.persist(fjall::PersistMode::SyncData)
    }

    /// Every `(route, id, accepted at)` accepted at or after `since_ms`.
    pub(crate) fn for_each_since(
        &self,
        since_ms: i64,
        mut f: impl FnMut(&str, &str, i64),
    ) -> fjall::Result<usize> {
        let mut n = 0;
        for item in self.ids.iter() {
            let (k, v) = item.into_inner()?;
            let at = at(&v);
            if at >= since_ms {
                if let Some((route, id)) = split(&k) {
                    f(route, id, at);
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

/// Generations of the [`Filter`]: each covers `window / (GENERATIONS - 1)`.
const GENERATIONS: usize = 5;
/// Memory of the whole [`Filter`]. A generation is allocated when its first id arrives;
/// optimised builds leave its zeroed pages to the kernel until ids set bits, but
/// fastbloom's builder writes every word once in an unoptimised build (the debug binary
/// the tests run), which made all 4 MiB resident at start.
pub(crate) const FILTER_BYTES: usize = 4 << 20;

/// One generation: allocated on its first id.
type Generation = std::sync::OnceLock<AtomicBloomFilter>;

/// A lock-free summary of the ids accepted within the window: rotating Bloom filters.
/// `false` from [`Filter::maybe_seen`] is definite (the id was not accepted within the
/// window, as far as this process knows: the ledger on disk is loaded at start); `true`
/// means "ask the ledger". Memory is fixed at [`FILTER_BYTES`]: past roughly 650 000 ids
/// per generation its false-positive rate rises and more look-ups fall through to the
/// ledger, which stays the truth; nothing is ever answered wrongly because of it.
pub(crate) struct Filter {
    /// Newest first; at most [`GENERATIONS`].
    gens: ArcSwap<Vec<Arc<Generation>>>,
    /// Hashes for every generation (they share its seed), without allocating one.
    hasher: AtomicBloomFilter,
    /// When the newest generation was started.
    started: Mutex<Instant>,
    span: Duration,
    seed: u128,
    /// The ledger on disk has been loaded; until then every look-up asks it.
    ready: AtomicBool,
}

impl Filter {
    pub(crate) fn new(window: Duration) -> Filter {
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
    pub(crate) fn maybe_seen(&self, route: &str, id: &str) -> bool {
        if !self.ready.load(Ordering::Acquire) {
            return true;
        }
        let gens = self.gens.load();
        let h = self.hash(route, id);
        gens.iter()
            .any(|g| g.get().is_some_and(|g| g.contains_hash(h)))
    }

    /// Note an accepted id.
    pub(crate) fn insert(&self, route: &str, id: &str) {
        self.add(&self.gens.load()[0], self.hash(route, id));
    }

    /// Start a new generation and drop the oldest when the newest is `span` old. An id
    /// stays in the filter for `GENERATIONS` spans of `window / (GENERATIONS - 1)`: at
    /// least the window after it was inserted, whenever in its generation that was.
    pub(crate) fn rotate_if_due(&self) {
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
    /// this loop holds, and keeping an id one span too long only costs a look-up.
    pub(crate) fn load(&self, ledger: &Ledger, now_ms: i64, since_ms: i64) -> fjall::Result<usize> {
        let gens = self.gens.load_full();
        let span_ms = self.span.as_millis().max(1) as i64;
        ledger.for_each_since(since_ms, |route, id, at| {
            let age = (now_ms - at).max(0);
            let g = ((age / span_ms) as usize)
                .saturating_sub(1)
                .min(GENERATIONS - 1);
            self.add(&gens[g], self.hash(route, id));
        })
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
