//! Each event's delivery story per destination, for the event view
//! (`GET /api/v1/events/{id}`): its state and its attempts (the first [`FIRST`] and
//! the last [`LAST`], with their time, status, duration and error). Kept for as long as
//! the store keeps events (`store.retention`, also with a broker), in the `history`
//! keyspace, written in batches without a sync: it tells a story, it promises nothing
//! (a crash loses at most its last writes, never an event).
//!
//! One key per event and destination, in time order so that retention removes the old
//! ones from the front: `RECEIVED_MS ID \0 ROUTE \0 DEST` -> the [`Story`], encoded
//! compactly (about 30 bytes for one attempt: it is written for every delivered event).
//! Found by id with the event's time when the store has the event, else by a scan.

use super::StoreError;

/// Attempts kept in detail: the first few (how it started) and the last ones (how it
/// is going); `n` counts them all.
pub(crate) const FIRST: usize = 3;
pub(crate) const LAST: usize = 10;

/// Where an event stands for one destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Attempted, not taken yet (waiting for its retry or in flight).
    Pending = 0,
    Delivered = 1,
    Dead = 2,
    /// The destination's `filter` did not pass it: never attempted.
    Filtered = 3,
}

/// One attempt, as the event view shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub at_ms: i64,
    /// The application's answer; none when none came (timeout, connection, transform).
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub error: String,
}

/// One event's story at one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Story {
    pub fate: Fate,
    /// Its event's time: the key's, not in the value.
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

fn key(received_at_ms: i64, id: &str, route: &str, dest: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + id.len() + route.len() + dest.len());
    k.extend_from_slice(&received_at_ms.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k.extend_from_slice(route.as_bytes());
    k.push(0);
    k.extend_from_slice(dest.as_bytes());
    k
}

/// The key and value that write `story` for (`id`, `route`, `dest`).
pub(crate) fn entry(id: &str, route: &str, dest: &str, story: &Story) -> (Vec<u8>, Vec<u8>) {
    (key(story.received_at_ms, id, route, dest), encode(story))
}

/// The story of (`id`, `route`, `dest`) received at `received_at_ms`, if it has one.
pub(crate) fn get(
    ks: &fjall::Keyspace,
    received_at_ms: i64,
    (id, route, dest): (&str, &str, &str),
) -> Result<Option<Story>, StoreError> {
    Ok(ks
        .get(key(received_at_ms, id, route, dest))?
        .and_then(|v| decode(&v)))
}

/// Every destination's story of event `id`: (route, destination, story). With its
/// time (the store has the event) a prefix read; without, a scan of every story.
pub(crate) fn lookup(
    ks: &fjall::Keyspace,
    id: &str,
    received_at_ms: Option<i64>,
) -> Result<Vec<(String, String, Story)>, StoreError> {
    let mut out = Vec::new();
    let mut take = |k: &[u8], v: &[u8]| {
        let mut rest = k.get(8..).unwrap_or_default().splitn(3, |b| *b == 0);
        if let (Some(i), Some(route), Some(dest)) = (rest.next(), rest.next(), rest.next()) {
            if i == id.as_bytes() {
                if let Some(story) = decode(v) {
                    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    out.push((text(route), text(dest), story));
                }
            }
        }
    };
    match received_at_ms {
        Some(ms) => {
            let mut prefix = ms.to_be_bytes().to_vec();
            prefix.extend_from_slice(id.as_bytes());
            prefix.push(0);
            for item in ks.prefix(prefix) {
                let (k, v) = item.into_inner()?;
                take(&k, &v);
            }
        }
        None => {
            for item in ks.iter() {
                let (k, v) = item.into_inner()?;
                take(&k, &v);
            }
        }
    }
    Ok(out)
}

/// Remove the stories of events received before `before_ms`; returns how many.
pub(crate) fn prune(ks: &fjall::Keyspace, before_ms: i64) -> Result<usize, StoreError> {
    let mut old = Vec::new();
    for item in ks.range(..before_ms.max(0).to_be_bytes().to_vec()) {
        old.push(item.key()?);
    }
    for k in &old {
        ks.remove(k.clone())?;
    }
    Ok(old.len())
}

fn encode(s: &Story) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + s.attempts.len() * 16);
    v.push(s.fate as u8);
    v.extend_from_slice(&s.n.to_be_bytes());
    for a in &s.attempts {
        v.extend_from_slice(&a.at_ms.to_be_bytes());
        v.extend_from_slice(&a.status.unwrap_or(0).to_be_bytes());
        v.extend_from_slice(
            &u32::try_from(a.duration_ms)
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        let e = &a.error.as_bytes()[..a.error.len().min(u16::MAX as usize)];
        v.extend_from_slice(&(e.len() as u16).to_be_bytes());
        v.extend_from_slice(e);
    }
    v
}

fn decode(v: &[u8]) -> Option<Story> {
    let fate = match *v.first()? {
        0 => Fate::Pending,
        1 => Fate::Delivered,
        2 => Fate::Dead,
        _ => Fate::Filtered,
    };
    let n = u32::from_be_bytes(v.get(1..5)?.try_into().ok()?);
    let (mut attempts, mut rest) = (Vec::new(), v.get(5..)?);
    while !rest.is_empty() {
        let at_ms = i64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        let status = u16::from_be_bytes(rest.get(8..10)?.try_into().ok()?);
        let duration = u32::from_be_bytes(rest.get(10..14)?.try_into().ok()?);
        let len = usize::from(u16::from_be_bytes(rest.get(14..16)?.try_into().ok()?));
        let error = String::from_utf8_lossy(rest.get(16..16 + len)?).into_owned();
        attempts.push(Attempt {
            at_ms,
            status: (status != 0).then_some(status),
            duration_ms: u64::from(duration),
            error,
        });
        rest = &rest[16 + len..];
    }
    Some(Story {
        fate,
        received_at_ms: 0,
        n,
        attempts,
    })
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
        s.attempts[0].error = "HTTP 500: é".into();
        s.attempts[1].status = None;
        let mut back = decode(&encode(&s)).unwrap();
        back.received_at_ms = s.received_at_ms;
        assert_eq!(back, s);
        assert_eq!(decode(&encode(&s)[..20]), None, "cut short: not a story");
    }
}
