//! Records waiting for the writer: one lane per route, taken in turn, all of them
//! together within [`REJECTIONS_QUEUE_BYTES`]; and the repeats of recent refusals that
//! need no record of their own.
//!
//! A lone route may use the whole budget. When it is full, room is made by dropping the
//! newest record of the longest lane (in bytes), and a record whose own lane is the
//! longest is the one dropped: a flood fills only its own lane, and every other route
//! keeps getting records in (max-min fairness; no share to size per route).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::ops::Bound;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::record::cost;
use super::Stored;
use crate::config::{RejectionsConfig, REJECTIONS_QUEUE_BYTES};

/// A refusal repeated within this time adds to the first record's count.
pub(super) const REPEAT_WINDOW_MS: i64 = 60_000;
/// Refusals followed for repeats at most (an attacker with many addresses fills it,
/// and then gets a record each, within the queue's budget).
const REPEATS_FOLLOWED: usize = 4096;

/// Codes of refusals decided before the body is read: every repeat is the same story.
fn repeats_add_up(code: &str) -> bool {
    matches!(
        code,
        "not_found" | "method_not_allowed" | "ip_not_allowed" | "rate_limited" | "unavailable"
    )
}

/// Route, code and client of a refusal followed for repeats.
pub(super) type Key = (String, &'static str, IpAddr);

/// A refusal followed for repeats.
pub(super) struct Recent {
    pub seq: u64,
    /// Repeats counted so far, and how many of them the stored record says.
    pub count: u64,
    pub written: u64,
    pub last_ms: i64,
}

#[derive(Default)]
struct Lane {
    items: VecDeque<(Stored, usize)>,
    bytes: usize,
}

struct State {
    cfg: RejectionsConfig,
    lanes: BTreeMap<String, Lane>,
    /// Bytes in all lanes.
    bytes: usize,
    /// The route the writer took from last.
    cursor: String,
    recent: HashMap<Key, Recent>,
}

pub(super) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
}

impl Queue {
    pub(super) fn new(cfg: RejectionsConfig) -> Queue {
        Queue {
            state: Mutex::new(State {
                cfg,
                lanes: BTreeMap::new(),
                bytes: 0,
                cursor: String::new(),
                recent: HashMap::new(),
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is one step: the state stays consistent under a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The configuration the writer follows (replaced on reload).
    pub(super) fn configure(&self, cfg: RejectionsConfig) {
        self.lock().cfg = cfg;
    }

    pub(super) fn config(&self) -> RejectionsConfig {
        self.lock().cfg.clone()
    }

    /// Is this a repeat of a recent refusal (then counted on its record)?
    pub(super) fn repeat(
        &self,
        route: &str,
        code: &'static str,
        client: IpAddr,
        now_ms: i64,
    ) -> bool {
        if !repeats_add_up(code) {
            return false;
        }
        let mut st = self.lock();
        // No allocation for the lookup's key beyond the route's name.
        match st.recent.get_mut(&(route.to_owned(), code, client)) {
            Some(r) if now_ms - r.last_ms < REPEAT_WINDOW_MS => {
                r.count += 1;
                r.last_ms = now_ms;
                true
            }
            _ => false,
        }
    }

    /// Bytes a record of `route` could take now without dropping any: what the queue
    /// has free, or failing that, what the longest lane would give up.
    pub(super) fn room(&self, route: &str) -> usize {
        let st = self.lock();
        let own = st.lanes.get(route).map_or(0, |l| l.bytes);
        let longest = st.lanes.values().map(|l| l.bytes).max().unwrap_or(0);
        REJECTIONS_QUEUE_BYTES.saturating_sub(st.bytes) + longest.saturating_sub(own)
    }

    /// Queue `s` in its route's lane, dropping the newest records of longer lanes to
    /// make room; without its captured request when even that does not make enough.
    /// How many records were dropped, `s` included when it was.
    pub(super) fn push(
        &self,
        mut s: Stored,
        code: &'static str,
        client: IpAddr,
        now_ms: i64,
    ) -> u64 {
        let mut st = self.lock();
        let mut dropped = 0;
        let mut c = cost(&s);
        loop {
            if st.bytes + c <= REJECTIONS_QUEUE_BYTES {
                break;
            }
            let own = st.lanes.get(&s.shown.route).map_or(0, |l| l.bytes);
            let longest = st
                .lanes
                .iter()
                .max_by_key(|(_, l)| l.bytes)
                .filter(|(_, l)| l.bytes > own + c)
                .map(|(k, _)| k.clone());
            match longest {
                Some(k) => {
                    let Some(lane) = st.lanes.get_mut(&k) else {
                        break;
                    };
                    let Some((_, gone)) = lane.items.pop_back() else {
                        break;
                    };
                    lane.bytes -= gone;
                    if lane.items.is_empty() {
                        st.lanes.remove(&k);
                    }
                    st.bytes -= gone;
                    dropped += 1;
                }
                None if s.raw.is_some() => {
                    s.raw = None;
                    s.shown.replayable = false;
                    s.shown.not_captured =
                        Some("the rejection log's queue was full (a flood on this route)".into());
                    c = cost(&s);
                }
                None => return dropped + 1,
            }
        }
        let route = s.shown.route.clone();
        if repeats_add_up(code) && st.recent.len() < REPEATS_FOLLOWED {
            st.recent.insert(
                (route.clone(), code, client),
                Recent {
                    seq: s.shown.seq,
                    count: 0,
                    written: 0,
                    last_ms: now_ms,
                },
            );
        }
        st.bytes += c;
        let lane = st.lanes.entry(route).or_default();
        lane.items.push_back((s, c));
        lane.bytes += c;
        drop(st);
        self.ready.notify_one();
        dropped
    }

    /// The next record, taking the routes' lanes in turn; waits up to `wait`.
    pub(super) fn pop(&self, wait: Duration) -> Option<Stored> {
        let mut st = self.lock();
        if st.lanes.is_empty() {
            st = self
                .ready
                .wait_timeout(st, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let st = &mut *st;
        let next = st
            .lanes
            .range::<String, _>((Bound::Excluded(&st.cursor), Bound::Unbounded))
            .next()
            .or_else(|| st.lanes.iter().next())
            .map(|(k, _)| k.clone())?;
        let lane = st.lanes.get_mut(&next)?;
        let (s, c) = lane.items.pop_front()?;
        lane.bytes -= c;
        if lane.items.is_empty() {
            st.lanes.remove(&next);
        }
        st.bytes -= c;
        st.cursor = next;
        Some(s)
    }

    /// Repeats not yet on their records; refusals past the window are forgotten.
    pub(super) fn repeats(&self, now_ms: i64) -> Vec<(Key, u64, u64, i64)> {
        let mut st = self.lock();
        st.recent
            .retain(|_, r| now_ms - r.last_ms < REPEAT_WINDOW_MS || r.count > r.written);
        st.recent
            .iter()
            .filter(|(_, r)| r.count > r.written)
            .map(|(k, r)| (k.clone(), r.seq, r.count, r.last_ms))
            .collect()
    }

    /// The record of `key` now says `count` repeats; or it is gone: stop following.
    pub(super) fn written(&self, key: &Key, count: u64, gone: bool) {
        let mut st = self.lock();
        if gone {
            st.recent.remove(key);
        } else if let Some(r) = st.recent.get_mut(key) {
            r.written = count;
        }
    }
}
