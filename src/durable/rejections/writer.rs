//! The rejection log's writer thread: takes records from the routes' lanes in turn,
//! writes at most [`WRITE_RATE`] bytes a second, and keeps each route within `keep`
//! records, none older than `max_age`, and all of them within `max_bytes`: past it, the
//! oldest record of the route holding the most bytes goes (a flood evicts its own
//! records; a lone route may use the whole budget). Which records a route has, oldest
//! first, with their sizes, is kept in memory, so eviction is a delete by key however
//! many records were deleted before (no scan over tombstones).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::queue::{Queue, REPEAT_WINDOW_MS};
use super::{Stored, WRITE_RATE};
use crate::config::RejectionsConfig;

/// How often records past `max_age` are looked for, and repeats written.
const AGE_CHECK: Duration = Duration::from_secs(60);
const REPEATS_EVERY: Duration = Duration::from_secs(1);

/// `route \0 seq` (big-endian): a route's records are one prefix, oldest first.
pub(super) fn key(route: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(route.len() + 9);
    k.extend_from_slice(route.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The route and seq of a key.
pub(super) fn split(k: &[u8]) -> Option<(&str, u64)> {
    let at = k.len().checked_sub(9)?;
    let route = std::str::from_utf8(&k[..at]).ok()?;
    let seq = k[at + 1..].try_into().ok().map(u64::from_be_bytes)?;
    Some((route, seq))
}

/// One route's stored records, oldest first: seq and bytes.
#[derive(Default)]
struct Index {
    records: VecDeque<(u64, usize)>,
    bytes: usize,
}

/// Delete the oldest record of `route`: the bytes freed.
fn evict(ks: &fjall::Keyspace, route: &str, ix: &mut Index) -> Result<usize, fjall::Error> {
    let Some((seq, size)) = ix.records.pop_front() else {
        return Ok(0);
    };
    ix.bytes -= size;
    ks.remove(key(route, seq))?;
    Ok(size)
}

/// Bytes the writer may still write now: refilled at [`WRITE_RATE`], up to twice it.
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Budget {
    /// Wait until `bytes` may be written (a record over the burst waits for a full one).
    fn take(&mut self, bytes: usize) {
        let rate = WRITE_RATE as f64;
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(2.0 * rate);
        self.at = now;
        let want = (bytes as f64).min(2.0 * rate);
        if self.tokens < want {
            std::thread::sleep(Duration::from_secs_f64((want - self.tokens) / rate));
            self.tokens = want;
            self.at = Instant::now();
        }
        self.tokens -= want;
    }
}

pub(super) struct Writer {
    ks: fjall::Keyspace,
    routes: HashMap<String, Index>,
    /// Bytes of all routes' records.
    bytes: usize,
}

impl Writer {
    /// Read what the keyspace holds (at most `max_bytes` of records).
    pub(super) fn new(ks: fjall::Keyspace) -> Writer {
        let (mut routes, mut bytes): (HashMap<String, Index>, usize) = Default::default();
        for g in ks.iter() {
            let Ok((k, v)) = g.into_inner() else { continue };
            if let Some((route, seq)) = split(&k) {
                let ix = routes.entry(route.to_owned()).or_default();
                ix.records.push_back((seq, k.len() + v.len()));
                ix.bytes += k.len() + v.len();
                bytes += k.len() + v.len();
            }
        }
        Writer { ks, routes, bytes }
    }

    /// The largest seq stored, so that a restart continues after it.
    pub(super) fn last_seq(&self) -> u64 {
        let last = self.routes.values().filter_map(|ix| ix.records.back());
        last.map(|(seq, _)| *seq).max().unwrap_or(0)
    }

    pub(super) fn run(mut self, queue: Arc<Queue>) {
        // Old records are looked for at once; `Instant` cannot go back past the clock's
        // start (a pod started within a minute of its node's boot).
        let mut aged_at = Instant::now().checked_sub(AGE_CHECK);
        let mut repeats_at = Instant::now();
        let mut budget = Budget {
            tokens: 2.0 * WRITE_RATE as f64,
            at: Instant::now(),
        };
        // The request path's handles gone: nothing more will come.
        while Arc::strong_count(&queue) > 1 {
            let cfg = queue.config();
            if aged_at.is_none_or(|at| at.elapsed() >= AGE_CHECK) {
                if let Err(e) = self.age(&cfg) {
                    tracing::warn!(error = %e, "rejection log: removing old records failed");
                }
                aged_at = Some(Instant::now());
            }
            if repeats_at.elapsed() >= REPEATS_EVERY {
                self.repeats(&queue);
                repeats_at = Instant::now();
            }
            if let Some(mut s) = queue.pop(REPEATS_EVERY) {
                let mut value = serde_json::to_vec(&s).unwrap_or_default();
                if value.len() > cfg.max_bytes / 4 && s.raw.is_some() {
                    s.raw = None;
                    s.shown.replayable = false;
                    s.shown.not_captured =
                        Some("larger than a quarter of store.rejections.max_bytes".into());
                    value = serde_json::to_vec(&s).unwrap_or_default();
                }
                budget.take(value.len());
                if let Err(e) = self.insert(&s, value, &cfg) {
                    tracing::warn!(error = %e, "rejection log: a record was not written");
                }
            }
        }
    }

    /// Write one record, then evict the route's oldest past `keep`, and the oldest of
    /// the route holding the most bytes while all are past `max_bytes`.
    pub(super) fn insert(
        &mut self,
        s: &Stored,
        value: Vec<u8>,
        cfg: &RejectionsConfig,
    ) -> Result<(), fjall::Error> {
        let route = &s.shown.route;
        let k = key(route, s.shown.seq);
        let size = k.len() + value.len();
        self.ks.insert(k, value)?;
        let ix = self.routes.entry(route.clone()).or_default();
        ix.records.push_back((s.shown.seq, size));
        ix.bytes += size;
        self.bytes += size;
        while ix.records.len() > cfg.keep.max(1) {
            self.bytes -= evict(&self.ks, route, ix)?;
        }
        while self.bytes > cfg.max_bytes {
            let Some((r, ix)) = self.routes.iter_mut().max_by_key(|(_, ix)| ix.bytes) else {
                break;
            };
            let freed = evict(&self.ks, r, ix)?;
            if freed == 0 {
                break;
            }
            self.bytes -= freed;
        }
        Ok(())
    }

    /// Remove records older than `max_age`.
    fn age(&mut self, cfg: &RejectionsConfig) -> Result<(), fjall::Error> {
        let cutoff_us = (crate::now_ms() - cfg.max_age.as_millis() as i64).max(0) as u64 * 1000;
        for (route, ix) in &mut self.routes {
            while ix.records.front().is_some_and(|(s, _)| *s < cutoff_us) {
                self.bytes -= evict(&self.ks, route, ix)?;
            }
        }
        self.routes.retain(|_, ix| !ix.records.is_empty());
        Ok(())
    }

    /// Write the counts of repeated refusals on their first records.
    fn repeats(&mut self, queue: &Queue) {
        let now = crate::now_ms();
        for (k, seq, count, last_ms) in queue.repeats(now) {
            let stored = self
                .routes
                .get(&k.0)
                .is_some_and(|ix| ix.records.binary_search_by_key(&seq, |(s, _)| *s).is_ok());
            if !stored {
                // Still queued (wait), or dropped or evicted (stop following).
                if now - (seq / 1000) as i64 > REPEAT_WINDOW_MS {
                    queue.written(&k, count, true);
                }
                continue;
            }
            let rk = key(&k.0, seq);
            let updated = self.ks.get(&rk).ok().flatten().and_then(|v| {
                let mut s: Stored = serde_json::from_slice(&v).ok()?;
                s.shown.repeats = count;
                s.shown.last_at = Some(crate::rfc3339_ms(last_ms));
                serde_json::to_vec(&s).ok()
            });
            match updated {
                Some(v) => {
                    // Same key: the size changes by a few bytes, counted at the next insert.
                    let ok = self.ks.insert(rk, v).is_ok();
                    queue.written(&k, count, !ok);
                }
                None => queue.written(&k, count, true),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_back_into_route_and_seq() {
        let k = key("git\0hub", 42);
        assert_eq!(split(&k), Some(("git\0hub", 42)));
        assert_eq!(split(b"short"), None);
    }
}
