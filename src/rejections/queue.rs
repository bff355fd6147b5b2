//! Records waiting for the writer: one lane per route, each bounded to an equal share
//! of [`REJECTIONS_QUEUE_BYTES`], taken in turn; and the repeats of recent refusals
//! that need no record of their own.

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

#[derive(Clone)]
pub(super) struct Settings {
    pub cfg: RejectionsConfig,
    pub routes: usize,
}

impl Settings {
    /// Each route's share of a budget: the configured routes and `none`, equally.
    pub fn share(&self, total: usize) -> usize {
        total / (self.routes + 1)
    }
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
    settings: Settings,
    lanes: BTreeMap<String, Lane>,
    /// The route the writer took from last.
    cursor: String,
    recent: HashMap<Key, Recent>,
}

pub(super) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
}

impl Queue {
    pub fn new(cfg: RejectionsConfig, routes: usize) -> Queue {
        Queue {
            state: Mutex::new(State {
                settings: Settings { cfg, routes },
                lanes: BTreeMap::new(),
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

    pub fn configure(&self, cfg: RejectionsConfig, routes: usize) {
        self.lock().settings = Settings { cfg, routes };
    }

    pub fn settings(&self) -> Settings {
        self.lock().settings.clone()
    }

    /// Is this a repeat of a recent refusal (then counted on its record)?
    pub fn repeat(&self, route: &str, code: &'static str, client: IpAddr, now_ms: i64) -> bool {
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

    /// Queue `s` in its route's lane; without its captured request when that does not
    /// fit the lane's share. `false` when even the record does not fit (dropped).
    pub fn push(&self, mut s: Stored, code: &'static str, client: IpAddr, now_ms: i64) -> bool {
        let mut st = self.lock();
        let share = st.settings.share(REJECTIONS_QUEUE_BYTES);
        let used = st.lanes.get(&s.shown.route).map_or(0, |l| l.bytes);
        let mut c = cost(&s);
        if used + c > share && s.raw.is_some() {
            s.raw = None;
            s.shown.replayable = false;
            s.shown.not_captured = Some("the rejection log's queue for this route was full".into());
            c = cost(&s);
        }
        if used + c > share {
            return false;
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
        let lane = st.lanes.entry(route).or_default();
        lane.items.push_back((s, c));
        lane.bytes += c;
        drop(st);
        self.ready.notify_one();
        true
    }

    /// The next record, taking the routes' lanes in turn; waits up to `wait`.
    pub fn pop(&self, wait: Duration) -> Option<Stored> {
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
        st.cursor = next;
        Some(s)
    }

    /// Repeats not yet on their records; refusals past the window are forgotten.
    pub fn repeats(&self, now_ms: i64) -> Vec<(Key, u64, u64, i64)> {
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
    pub fn written(&self, key: &Key, count: u64, gone: bool) {
        let mut st = self.lock();
        if gone {
            st.recent.remove(key);
        } else if let Some(r) = st.recent.get_mut(key) {
            r.written = count;
        }
    }
}
