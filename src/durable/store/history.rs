//! Each event's delivery story per destination, for the event view
//! (`GET /api/v1/events/{id}`): its state and its attempts (the first [`FIRST`] and
//! the last [`LAST`], with their time, status, duration and error). Kept for as long as
//! the store keeps events (`store.retention`, also with a broker), in the `history`
//! keyspace, written without a sync: it tells a story, it promises nothing (a crash
//! loses at most its last writes, never an event).
//!
//! Two keys per event and destination: `i ID \0 ROUTE \0 DEST` -> [`Story`] (found by
//! id), and `t RECEIVED_MS ID \0 ROUTE \0 DEST` -> nothing (removed in time order by
//! retention).

use serde::{Deserialize, Serialize};

use super::StoreError;

/// Attempts kept in detail: the first few (how it started) and the last ones (how it
/// is going); `n` counts them all.
pub(crate) const FIRST: usize = 3;
pub(crate) const LAST: usize = 10;

/// Where an event stands for one destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Fate {
    /// Attempted, not taken yet (waiting for its retry or in flight).
    Pending,
    Delivered,
    Dead,
    /// The destination's `filter` did not pass it: never attempted.
    Filtered,
}

/// One attempt, as the event view shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attempt {
    pub at_ms: i64,
    /// The application's answer; none when none came (timeout, connection, transform).
    pub status: Option<u16>,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// One event's story at one destination.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Story {
    pub fate: Fate,
    pub received_at_ms: i64,
    /// Attempts made in all.
    pub n: u32,
    /// The first [`FIRST`] and the last [`LAST`], oldest first.
    pub attempts: Vec<Attempt>,
}

impl Story {
    pub(crate) fn new(received_at_ms: i64) -> Story {
        Story {
            fate: Fate::Pending,
            received_at_ms,
            n: 0,
            attempts: Vec::new(),
        }
    }

    /// Count `a`, keeping the first ones and the last ones.
    pub(crate) fn push(&mut self, a: Attempt) {
        self.n = self.n.saturating_add(1);
        if self.attempts.len() == FIRST + LAST {
            self.attempts.remove(FIRST);
        }
        self.attempts.push(a);
    }
}

fn tail(id: &str, route: &str, dest: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + route.len() + dest.len() + 2);
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k.extend_from_slice(route.as_bytes());
    k.push(0);
    k.extend_from_slice(dest.as_bytes());
    k
}

/// Write `story` for (`id`, `route`, `dest`); `first`: its first write (the time key too).
pub(crate) fn record(
    ks: &fjall::Keyspace,
    id: &str,
    route: &str,
    dest: &str,
    story: &Story,
    first: bool,
) -> Result<(), StoreError> {
    let t = tail(id, route, dest);
    let mut by_id = Vec::with_capacity(t.len() + 1);
    by_id.push(b'i');
    by_id.extend_from_slice(&t);
    ks.insert(by_id, serde_json::to_vec(story).unwrap_or_default())?;
    if first {
        let mut by_time = Vec::with_capacity(t.len() + 9);
        by_time.push(b't');
        by_time.extend_from_slice(&story.received_at_ms.to_be_bytes());
        by_time.extend_from_slice(&t);
        ks.insert(by_time, [])?;
    }
    Ok(())
}

/// The story of (`id`, `route`, `dest`), if it has one.
pub(crate) fn get(
    ks: &fjall::Keyspace,
    id: &str,
    route: &str,
    dest: &str,
) -> Result<Option<Story>, StoreError> {
    let mut by_id = vec![b'i'];
    by_id.extend_from_slice(&tail(id, route, dest));
    Ok(ks.get(by_id)?.and_then(|v| serde_json::from_slice(&v).ok()))
}

/// Every destination's story of event `id`: (route, destination, story).
pub(crate) fn lookup(
    ks: &fjall::Keyspace,
    id: &str,
) -> Result<Vec<(String, String, Story)>, StoreError> {
    let mut prefix = vec![b'i'];
    prefix.extend_from_slice(id.as_bytes());
    prefix.push(0);
    let mut out = Vec::new();
    for item in ks.prefix(&prefix) {
        let (k, v) = item.into_inner()?;
        let mut rest = k[prefix.len()..].splitn(2, |b| *b == 0);
        let (Some(route), Some(dest)) = (rest.next(), rest.next()) else {
            continue;
        };
        if let Ok(story) = serde_json::from_slice::<Story>(&v) {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            out.push((text(route), text(dest), story));
        }
    }
    Ok(out)
}

/// Remove the stories of events received before `before_ms`; returns how many.
pub(crate) fn prune(ks: &fjall::Keyspace, before_ms: i64) -> Result<usize, StoreError> {
    let mut old = Vec::new();
    for item in ks.prefix([b't']) {
        let k = item.key()?;
        match k.get(1..9).and_then(|b| b.try_into().ok()) {
            Some(ms) if i64::from_be_bytes(ms) < before_ms => old.push(k.to_vec()),
            _ => break,
        }
    }
    for k in &old {
        let mut by_id = vec![b'i'];
        by_id.extend_from_slice(&k[9..]);
        ks.remove(by_id)?;
        ks.remove(k.as_slice())?;
    }
    Ok(old.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_three_and_the_last_ten() {
        let mut s = Story::new(0);
        for i in 0..20 {
            s.push(Attempt {
                at_ms: i,
                status: Some(500),
                duration_ms: 1,
                error: String::new(),
            });
        }
        assert_eq!(s.n, 20);
        let at: Vec<i64> = s.attempts.iter().map(|a| a.at_ms).collect();
        assert_eq!(at, [0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    }
}
