//! `/api/v1/dead` and `/api/v1/dead/replay`.

use crate::deliver::state::{self, DeadLetter};
use crate::deliver::DeadFilter;
use crate::deliver::Delivery;
use crate::durable::store::{Store, StoreError};

use super::{json, ApiError, Reply};

fn filter(query: Option<&str>) -> Result<(DeadFilter, usize), ApiError> {
    let (mut f, mut limit) = (DeadFilter::default(), 50usize);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "route" => f.route = Some(v.into_owned()),
            "destination" => f.destination = Some(v.into_owned()),
            "id" => f.id = Some(v.into_owned()),
            "limit" => limit = super::parse_limit(&v)?,
            _ => return Err(ApiError::bad(format_args!("unknown parameter {k:?}"))),
        }
    }
    Ok((f, limit))
}

fn reply(r: Result<Vec<DeadLetter>, StoreError>) -> Reply {
    json(&r.map_err(ApiError::internal)?)
}

pub(super) fn list(store: &Store, query: Option<&str>) -> Reply {
    let (f, limit) = filter(query)?;
    reply(store.reader().dead(&f, limit))
}

pub(super) fn replay(store: &Store, delivery: Option<&Delivery>, query: Option<&str>) -> Reply {
    let (f, _) = filter(query)?;
    let (tables, ledger) = store.tables();
    let marked = state::mark_replay(
        &tables.dead,
        f.route.as_deref(),
        f.destination.as_deref(),
        f.id.as_deref(),
    )
    .and_then(|m| Ok(ledger.sync().map(|()| m)?));
    if let (Ok(found), Some(d)) = (&marked, delivery) {
        for dl in found {
            let mut dl = dl.clone();
            dl.replay = true;
            tracing::info!(route = %dl.route, destination = %dl.destination, id = ?dl.id, "dead letter replayed (admin API)");
            d.replay(dl);
        }
    }
    reply(marked)
}
