//! `/api/v1/dead` and `/api/v1/dead/replay`.

use crate::deliver::state::{self, DeadLetter};
use crate::deliver::DeadFilter;
use crate::deliver::Delivery;
use crate::durable::store::Store;

fn filter(query: Option<&str>) -> Result<(DeadFilter, usize), (u16, String)> {
    let (mut f, mut limit) = (DeadFilter::default(), 50usize);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "route" => f.route = Some(v.into_owned()),
            "destination" => f.destination = Some(v.into_owned()),
            "id" => f.id = Some(v.into_owned()),
            "limit" => limit = super::parse_limit(&v)?,
            _ => {
                let error = format!("unknown parameter {k:?}");
                return Err((400, serde_json::json!({ "error": error }).to_string()));
            }
        }
    }
    Ok((f, limit))
}

fn reply(r: Result<Vec<DeadLetter>, crate::durable::store::StoreError>) -> (u16, String) {
    match r {
        Ok(v) => (
            200,
            serde_json::to_string(&v).unwrap_or_else(|_| "[]".into()),
        ),
        Err(e) => (
            500,
            serde_json::json!({ "error": e.to_string() }).to_string(),
        ),
    }
}

pub(super) fn list(store: &Store, query: Option<&str>) -> (u16, String) {
    match filter(query) {
        Ok((f, limit)) => reply(store.reader().dead(&f, limit)),
        Err(e) => e,
    }
}

pub(super) fn replay(
    store: &Store,
    delivery: Option<&Delivery>,
    query: Option<&str>,
) -> (u16, String) {
    let f = match filter(query) {
        Ok((f, _)) => f,
        Err(e) => return e,
    };
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
