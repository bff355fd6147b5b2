//! `POST /api/v1/events/redeliver`: hand archived events to one of their route's
//! destinations again (`hookgate store replay --destination`), a batch per call.

use super::{json, ApiError, Reply};
use crate::deliver::state::{self, Attempts, DeadLetter};
use crate::durable::journal::Record;
use crate::durable::store::{Filter, Table};
use crate::ingress::pipeline::App;

/// `?route=R&destination=D[&type=T][&since_ms=][&until_ms=][&after=SEQ][&limit=N]`: the
/// next `limit` (default 100) archived events after `after` that the filter keeps, each
/// recorded for redelivery (durably, marked for replay beside the dead letters, so a
/// restart resumes it) and handed to the running destination, which delivers them
/// with its attempts from zero; one that fails them all is a dead letter again.
/// Answers `{"handed": n, "last_seq": seq}`; `handed: 0` when none is left.
pub(super) fn redeliver(app: &App, query: Option<&str>) -> Reply {
    let (mut f, mut dest, mut after, mut limit) = (Filter::default(), None, 0i64, 100usize);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let num = || {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad(format_args!("{k} is a whole number")))
        };
        match &*k {
            "route" => f.route = Some(v.to_string()),
            "destination" => dest = Some(v.to_string()),
            "type" => f.event_type = Some(v.to_string()),
            "since_ms" => f.since_ms = Some(num()?),
            "until_ms" => f.until_ms = Some(num()?),
            "after" => after = num()?,
            "limit" => limit = num()?.clamp(1, 10_000) as usize,
            _ => return Err(ApiError::bad(format_args!("unknown parameter {k:?}"))),
        }
    }
    let (Some(route), Some(dest)) = (f.route.clone(), dest) else {
        return Err(ApiError::bad("give route and destination"));
    };
    let config = app.runtime.load().config.clone();
    let known = config
        .routes
        .iter()
        .find(|r| *r.name == *route)
        .is_some_and(|r| r.deliver.iter().any(|d| *d.name == *dest));
    if !known {
        return Err(ApiError::Missing(format!(
            "route {route:?} has no destination {dest:?}"
        )));
    }
    let Some(delivery) = app.delivery.as_deref() else {
        return Err(ApiError::Conflict("this gateway does not deliver".into()));
    };
    let store = app.handoff.store();
    let events = store
        .reader()
        .oldest(Table::Events, &f, after, limit)
        .map_err(ApiError::internal)?;
    let (tables, ledger) = store.tables();
    let mut last = after;
    let mut letters = Vec::with_capacity(events.len());
    for e in events {
        last = e.seq;
        let rec = Record {
            seq: e.seq,
            event: e.into_event(),
        };
        let mut d = DeadLetter::new(&dest, &rec, Attempts::default());
        d.replay = true;
        state::queue_replay(&tables.dead, &d).map_err(ApiError::internal)?;
        letters.push(d);
    }
    ledger.sync().map_err(ApiError::internal)?;
    let handed = letters.len();
    for d in letters {
        delivery.replay(d);
    }
    if handed > 0 {
        tracing::info!(route = %route, destination = %dest, handed, last_seq = last, "archived events handed to a destination again (admin API)");
    }
    json(&serde_json::json!({ "handed": handed, "last_seq": last }))
}
