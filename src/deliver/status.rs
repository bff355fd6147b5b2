//! An archived event's status, from the delivery state beside it: `dead` when a
//! destination of its route dead-lettered it, `pending` while one has not taken it yet
//! (past that destination's cursor: every journal event up to the cursor is taken, and
//! one delivered out of order beyond it counts as pending until those before it are
//! taken), `delivered` once every destination whose types match took it, and
//! `accepted` for a route without destinations (or, with a broker, once published:
//! what consumers do with it is theirs to say).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::DeadFilter;
use crate::durable::journal;
use crate::durable::store::{
    remote_call, Filter, Reader, SpoolAccess, Status, StoreError, StoredEvent,
};

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Delivered => "delivered",
            Status::Pending => "pending",
            Status::Dead => "dead",
        }
    }
}

/// A destination as the status needs it: whose events (route, types) and how far it
/// has taken the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Taken {
    pub route: String,
    pub destination: String,
    /// Event-type globs; empty: every event.
    pub types: Vec<String>,
    /// Every journal event up to this seq is taken (delivered or dead-lettered).
    pub taken_through: i64,
}

/// What the status of any archived event is read from.
pub struct StatusView {
    pub dests: Vec<Taken>,
    /// (route, destination, seq) of every dead letter, and whether it is marked for
    /// replay (then it is pending again).
    pub dead: HashMap<(String, String, i64), bool>,
}

impl StatusView {
    pub fn of(&self, route: &str, event_type: Option<&str>, seq: i64) -> Status {
        let (mut any, mut pending, mut dead) = (false, false, false);
        for d in self.dests.iter().filter(|d| d.route == route) {
            let wants = d.types.is_empty()
                || event_type.is_some_and(|t| d.types.iter().any(|g| crate::config::glob(g, t)));
            if !wants {
                continue;
            }
            any = true;
            match self
                .dead
                .get(&(d.route.clone(), d.destination.clone(), seq))
            {
                Some(false) => dead = true,
                Some(true) => pending = true,
                None if seq > d.taken_through => pending = true,
                None => {}
            }
        }
        match (dead, pending, any) {
            (true, _, _) => Status::Dead,
            (_, true, _) => Status::Pending,
            (_, _, true) => Status::Delivered,
            _ => Status::Accepted,
        }
    }
}

impl Reader {
    /// [`Reader::archive`], each event with its status from `view`, only those with
    /// `status` when given.
    pub fn archive_status(
        &self,
        filter: &Filter,
        view: &StatusView,
        status: Option<Status>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let of =
            |r: &journal::Record| view.of(&r.event.route, r.event.event_type.as_deref(), r.seq);
        let records = journal::newest(&self.journal, limit, |r| {
            filter.keeps(&r.event) && status.is_none_or(|s| of(r) == s)
        })?;
        Ok(records
            .into_iter()
            .map(|r| {
                let s = of(&r);
                let mut e = StoredEvent::from(r);
                e.status = Some(s);
                e
            })
            .collect())
    }

    /// The status view, read where the delivery state is: in the database when it is
    /// free (each destination's written cursor; `config` gives their event types), else
    /// from the running gateway's API (its live cursors).
    pub fn status_view(
        &self,
        config: Option<&crate::config::Config>,
    ) -> Result<StatusView, StoreError> {
        if config.is_some_and(|c| c.broker.is_some()) {
            // Destinations follow their queues: archived copies are `accepted`.
            return Ok(StatusView {
                dests: Vec::new(),
                dead: HashMap::new(),
            });
        }
        let dead_letters = self.dead(&DeadFilter::default(), usize::MAX)?;
        let dead = dead_letters
            .into_iter()
            .map(|d| ((d.route, d.destination, d.seq), d.replay))
            .collect();
        let dests = match &self.spool {
            SpoolAccess::Local(t, _) => cursors(&t.deliver, config)?,
            SpoolAccess::Remote(addr) => remote_call(addr, "GET", "/api/v1/destinations")?,
        };
        Ok(StatusView { dests, dead })
    }
}

/// Each destination's written cursor (`c \0 route \0 destination` in the deliver
/// keyspace); event types from `config` when given.
pub(crate) fn cursors(
    deliver: &fjall::Keyspace,
    config: Option<&crate::config::Config>,
) -> Result<Vec<Taken>, StoreError> {
    let mut out = Vec::new();
    for item in deliver.prefix([b'c', 0]) {
        let (k, v) = item.into_inner()?;
        let mut parts = k[2..].split(|b| *b == 0);
        let (Some(route), Some(dest)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (route, destination) = (
            String::from_utf8_lossy(route).into_owned(),
            String::from_utf8_lossy(dest).into_owned(),
        );
        let types = config
            .and_then(|c| c.routes.iter().find(|r| *r.name == *route))
            .and_then(|r| r.deliver.iter().find(|d| *d.name == *destination))
            .map(|d| d.types.clone())
            .unwrap_or_default();
        let taken_through = v
            .as_ref()
            .try_into()
            .ok()
            .map(i64::from_be_bytes)
            .unwrap_or(0);
        out.push(Taken {
            route,
            destination,
            types,
            taken_through,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_beats_pending_beats_delivered_and_types_decide_who_counts() {
        let taken = |d: &str, types: &[&str], through| Taken {
            route: "r".into(),
            destination: d.into(),
            types: types.iter().map(|t| t.to_string()).collect(),
            taken_through: through,
        };
        let mut v = StatusView {
            dests: vec![taken("a", &[], 10), taken("b", &["order.*"], 5)],
            dead: HashMap::new(),
        };
        assert_eq!(v.of("r", Some("order.paid"), 4), Status::Delivered);
        assert_eq!(v.of("r", Some("order.paid"), 7), Status::Pending);
        // b does not want it: a alone decides.
        assert_eq!(v.of("r", Some("refund"), 7), Status::Delivered);
        assert_eq!(v.of("r", Some("refund"), 11), Status::Pending);
        assert_eq!(v.of("other", None, 1), Status::Accepted);
        v.dead.insert(("r".into(), "b".into(), 4), false);
        assert_eq!(v.of("r", Some("order.paid"), 4), Status::Dead);
        v.dead.insert(("r".into(), "b".into(), 4), true);
        assert_eq!(
            v.of("r", Some("order.paid"), 4),
            Status::Pending,
            "being replayed"
        );
        assert_eq!("dead".parse::<Status>(), Ok(Status::Dead));
        assert!("lost".parse::<Status>().is_err());
    }
}
