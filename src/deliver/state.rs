//! Delivery state in the store's database (the `deliver` and `dead` keyspaces), per
//! destination:
//! - its cursor, `c\0ROUTE\0DEST` -> seq: every kept event up to it is taken (delivered,
//!   dead-lettered, or not for this destination);
//! - the attempts of an event after the cursor that failed, `a\0ROUTE\0DEST\0SEQ` ->
//!   [`Attempts`]: after a restart its count and history go on;
//! - its dead letters, in `dead`, `ROUTE\0DEST\0SEQ` -> [`DeadLetter`], the event kept
//!   whole (it outlives the journal's retention).
//!
//! Cursor and attempts are written without a sync: lost to a crash, an event is sent
//! again (with the same `Idempotency-Key`), never skipped. A dead letter is synced before
//! the cursor can pass its event.

use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::durable::journal::{self, Record};
use crate::durable::store::StoreError;

/// One failed attempt, for the dead letters and `store dead show`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Try {
    pub at_ms: i64,
    pub status: Option<u16>,
    pub error: String,
}

/// The attempts of one event so far (the last [`HISTORY`] of them in detail).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Attempts {
    pub n: u32,
    pub history: Vec<Try>,
}

pub(crate) const HISTORY: usize = 10;

impl Attempts {
    pub fn push(&mut self, t: Try) {
        self.n = self.n.saturating_add(1);
        if self.history.len() == HISTORY {
            self.history.remove(0);
        }
        self.history.push(t);
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeadLetter {
    pub route: String,
    pub destination: String,
    pub seq: i64,
    pub id: String,
    pub event_type: Option<String>,
    pub received_at_ms: i64,
    pub dead_at_ms: i64,
    pub attempts: Attempts,
    /// `store dead replay` asked for it to be delivered again (attempts from zero).
    #[serde(default)]
    pub replay: bool,
    /// The event as a journal record, base64.
    record: String,
}

impl DeadLetter {
    pub fn new(dest: &str, r: &Record, attempts: Attempts) -> DeadLetter {
        DeadLetter {
            route: r.event.route.to_string(),
            destination: dest.to_string(),
            seq: r.seq,
            id: r.event.id.clone(),
            event_type: r.event.event_type.clone(),
            received_at_ms: r.event.received_at_ms,
            dead_at_ms: crate::now_ms(),
            attempts,
            replay: false,
            record: encode_record(r),
        }
    }

    pub fn record(&self) -> Option<Record> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.record)
            .ok()?;
        journal::decode_record(&bytes)
    }

    fn key(&self) -> Vec<u8> {
        dead_key(&self.route, &self.destination, self.seq)
    }
}

fn dead_key(route: &str, dest: &str, seq: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(route.len() + dest.len() + 10);
    k.extend_from_slice(route.as_bytes());
    k.push(0);
    k.extend_from_slice(dest.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// One destination's view of the keyspaces.
pub(crate) struct State {
    deliver: fjall::Keyspace,
    dead: fjall::Keyspace,
    history: fjall::Keyspace,
    db: Arc<crate::durable::dedup::Ledger>,
    route: Arc<str>,
    dest: Arc<str>,
}

impl State {
    pub(crate) fn new(
        tables: &crate::durable::store::Tables,
        db: Arc<crate::durable::dedup::Ledger>,
        route: Arc<str>,
        dest: Arc<str>,
    ) -> State {
        State {
            deliver: tables.deliver.clone(),
            dead: tables.dead.clone(),
            history: tables.history.clone(),
            db,
            route,
            dest,
        }
    }

    fn key(&self, kind: u8, seq: Option<i64>) -> Vec<u8> {
        let mut k = vec![kind, 0];
        k.extend_from_slice(self.route.as_bytes());
        k.push(0);
        k.extend_from_slice(self.dest.as_bytes());
        if let Some(s) = seq {
            k.push(0);
            k.extend_from_slice(&s.to_be_bytes());
        }
        k
    }

    pub(crate) fn cursor(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .deliver
            .get(self.key(b'c', None))?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes)))
    }

    pub(crate) fn set_cursor(&self, seq: i64) -> Result<(), StoreError> {
        Ok(self
            .deliver
            .insert(self.key(b'c', None), seq.to_be_bytes())?)
    }

    /// Is the destination paused (`hookgate deliver pause`)? Kept across restarts.
    pub(crate) fn paused(&self) -> bool {
        matches!(self.deliver.get(self.key(b'p', None)), Ok(Some(_)))
    }

    /// Pause or resume, durably.
    pub(crate) fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        if paused {
            self.deliver.insert(self.key(b'p', None), [1u8])?;
        } else {
            self.deliver.remove(self.key(b'p', None))?;
        }
        Ok(self.db.sync()?)
    }

    pub(crate) fn attempts(&self, seq: i64) -> Result<Option<Attempts>, StoreError> {
        Ok(self
            .deliver
            .get(self.key(b'a', Some(seq)))?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    pub(crate) fn set_attempts(&self, seq: i64, a: &Attempts) -> Result<(), StoreError> {
        let v = serde_json::to_vec(a).unwrap_or_default();
        Ok(self.deliver.insert(self.key(b'a', Some(seq)), v)?)
    }

    pub(crate) fn clear_attempts(&self, seq: i64) -> Result<(), StoreError> {
        Ok(self.deliver.remove(self.key(b'a', Some(seq)))?)
    }

    /// The writer of this destination's delivery stories (the event view).
    pub(super) fn stories(&self) -> super::story::Stories {
        let (ks, db) = (self.history.clone(), self.db.clone());
        super::story::Stories::new(ks, db, self.route.clone(), self.dest.clone())
    }

    /// Keep `d` as a dead letter, synced (the cursor may then pass its event).
    pub(crate) fn bury(&self, d: &DeadLetter) -> Result<(), StoreError> {
        let v = serde_json::to_vec(d).unwrap_or_default();
        self.dead.insert(d.key(), v)?;
        self.clear_attempts(d.seq)?;
        Ok(self.db.sync()?)
    }

    /// A replayed dead letter was delivered: it is no longer dead.
    pub(crate) fn unbury(&self, seq: i64) -> Result<(), StoreError> {
        Ok(self.dead.remove(dead_key(&self.route, &self.dest, seq))?)
    }

    /// This destination's dead letters marked for replay.
    pub(crate) fn replays(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let mut prefix = self.route.as_bytes().to_vec();
        prefix.push(0);
        prefix.extend_from_slice(self.dest.as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.dead.prefix(prefix) {
            let v = item.value()?;
            if let Ok(d) = serde_json::from_slice::<DeadLetter>(&v) {
                if d.replay {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }
}

/// With a broker: a failed event waiting for its retry, kept here so that its message
/// can be acknowledged (freeing the prefetch slot) and the retry survives a restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Retry {
    pub due_ms: i64,
    pub attempts: Attempts,
    record: String,
}

impl Retry {
    pub(crate) fn record(&self) -> Option<Record> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.record)
            .ok()?;
        journal::decode_record(&bytes)
    }
}

fn encode_record(r: &Record) -> String {
    let mut buf = Vec::new();
    journal::encode(&mut buf, r.seq, &r.event);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

impl State {
    fn retry_key(&self, id: &str) -> Vec<u8> {
        let mut k = self.key(b'r', None);
        k.push(0);
        k.extend_from_slice(id.as_bytes());
        k
    }

    /// Keep a retry, synced: its message is acknowledged next.
    pub(crate) fn keep_retry(
        &self,
        r: &Record,
        attempts: &Attempts,
        due_ms: i64,
    ) -> Result<(), StoreError> {
        let v = Retry {
            due_ms,
            attempts: attempts.clone(),
            record: encode_record(r),
        };
        self.deliver.insert(
            self.retry_key(&r.event.id),
            serde_json::to_vec(&v).unwrap_or_default(),
        )?;
        Ok(self.db.sync()?)
    }

    pub(crate) fn drop_retry(&self, id: &str) -> Result<(), StoreError> {
        Ok(self.deliver.remove(self.retry_key(id))?)
    }

    /// The retries kept for this destination (at start).
    pub(crate) fn retries(&self) -> Result<Vec<Retry>, StoreError> {
        let mut prefix = self.key(b'r', None);
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.deliver.prefix(prefix) {
            if let Ok(r) = serde_json::from_slice::<Retry>(&item.value()?) {
                out.push(r);
            }
        }
        Ok(out)
    }
}

/// Dead letters, newest first, filtered by route, destination and event id.
pub(crate) fn dead_letters(
    dead: &fjall::Keyspace,
    route: Option<&str>,
    destination: Option<&str>,
    id: Option<&str>,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let mut out = Vec::new();
    for item in dead.iter().rev() {
        let v = item.value()?;
        let Ok(d) = serde_json::from_slice::<DeadLetter>(&v) else {
            continue;
        };
        if route.is_some_and(|r| r != d.route)
            || destination.is_some_and(|x| x != d.destination)
            || id.is_some_and(|i| i != d.id)
        {
            continue;
        }
        out.push(d);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Record `d` (marked for replay) for its destination: taken at the next start if the
/// running one does not deliver it first (`store replay --destination`).
pub(crate) fn queue_replay(dead: &fjall::Keyspace, d: &DeadLetter) -> Result<(), StoreError> {
    Ok(dead.insert(d.key(), serde_json::to_vec(d).unwrap_or_default())?)
}

/// Mark the matching dead letters for replay; returns them. A running gateway's
/// destination picks them up (it is told), a stopped one at its next start.
pub(crate) fn mark_replay(
    dead: &fjall::Keyspace,
    route: Option<&str>,
    destination: Option<&str>,
    id: Option<&str>,
) -> Result<Vec<DeadLetter>, StoreError> {
    let found = dead_letters(dead, route, destination, id, usize::MAX)?;
    for d in &found {
        let mut d = d.clone();
        d.replay = true;
        dead.insert(d.key(), serde_json::to_vec(&d).unwrap_or_default())?;
    }
    Ok(found)
}
