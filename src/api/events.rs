//! `/api/v1/events` (the archive, and a search by id) and `/api/v1/destinations`.

use super::error;
use crate::deliver::metrics::DestinationLabels;
use crate::pipeline::App;
use crate::store::{ApiEvent, Filter, Table};

/// `GET /api/v1/events?id=X`: every stored copy of an event (the archive and the spool),
/// each with `table`; `GET /api/v1/events?[route=R][&type=T][&limit=N]`: the newest
/// stored events, oldest first.
pub(super) fn list(app: &App, query: Option<&str>) -> (u16, String) {
    let (mut f, mut id, mut limit) = (Filter::default(), None, 50usize);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "id" => id = Some(v.into_owned()),
            "route" => f.route = Some(v.into_owned()),
            "type" => f.event_type = Some(v.into_owned()),
            "limit" => match v.parse() {
                Ok(n) => limit = n,
                Err(_) => return error(400, "limit is a whole number"),
            },
            _ => return error(400, format_args!("unknown parameter {k:?}")),
        }
    }
    let reader = app.handoff.store().reader();
    let found = match &id {
        // A scan of the journal: a search, not a hot path.
        Some(id) => reader.show(id).map(|v| {
            v.into_iter()
                .map(|(t, e)| {
                    let table = match t {
                        Table::Events => "archive",
                        Table::Spool => "spool",
                    };
                    let mut v = serde_json::to_value(ApiEvent::of(e)).unwrap_or_default();
                    v["table"] = table.into();
                    v
                })
                .collect::<Vec<_>>()
        }),
        None => reader.archive(&f, limit).map(|v| {
            v.into_iter()
                .map(|e| serde_json::to_value(ApiEvent::of(e)).unwrap_or_default())
                .collect()
        }),
    };
    match found {
        Ok(v) => (200, serde_json::Value::Array(v).to_string()),
        Err(e) => error(500, e),
    }
}

/// `GET /api/v1/destinations`: each route's destinations with their state: `backlog`
/// (events read and not yet taken), `oldest_pending_seconds`, `circuit_open`,
/// `dead_letters` (since start).
pub(super) fn destinations(app: &App) -> (u16, String) {
    let config = app.runtime.load().config.clone();
    let m = &app.metrics.delivery;
    let mut out = Vec::new();
    for r in &config.routes {
        for d in &r.deliver {
            let l = DestinationLabels {
                route: r.name.to_string(),
                destination: d.name.to_string(),
            };
            out.push(serde_json::json!({
                "route": &*r.name,
                "destination": &*d.name,
                // Scheme, host and path: a URL's userinfo or query may hold a credential.
                "url": shown_url(&d.url),
                "backlog": m.backlog.get_or_create(&l).get(),
                "oldest_pending_seconds": m.oldest.get_or_create(&l).get(),
                "circuit_open": m.circuit_open.get_or_create(&l).get() != 0,
                "dead_letters": m.dead.get_or_create(&l).get(),
            }));
        }
    }
    (200, serde_json::Value::Array(out).to_string())
}

/// `GET /api/v1/status`: where accepted events go (`store` or `broker`), and the
/// broker's and spool's state.
pub(super) fn status(app: &App) -> (u16, String) {
    let m = &app.metrics;
    let broker = app.runtime.load().config.broker.is_some();
    let answer = serde_json::json!({
        "mode": if broker { "broker" } else { "store" },
        "broker_connected": m.broker_connected.get() != 0,
        "broker_refused": m.broker_refused.get() != 0,
        "spool_depth": m.spool_depth.get(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    (200, answer.to_string())
}

/// Scheme, host, port and path: a URL's userinfo or query may hold a credential.
fn shown_url(u: &http::Uri) -> String {
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let host = u.host().unwrap_or("");
    format!(
        "{}://{host}{port}{}",
        u.scheme_str().unwrap_or("http"),
        u.path()
    )
}
