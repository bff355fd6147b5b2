//! `/api/v1/events` (the archive, and a search by id) and `/api/v1/destinations`.

use super::{json, ApiError, Reply};
use crate::deliver::metrics::DestinationLabels;
use crate::deliver::status::{StatusView, Taken};
use crate::durable::store::Status;
use crate::durable::store::{ApiEvent, Filter, Table};
use crate::ingress::pipeline::App;

/// `GET /api/v1/events?id=X`: every stored copy of an event (the archive and the spool),
/// each with `table`; `GET /api/v1/events?[route=R][&type=T][&status=S][&limit=N]`: the
/// newest archived events, oldest first, each with its `status`.
pub(super) fn list(app: &App, query: Option<&str>) -> Reply {
    let (mut f, mut id, mut limit, mut status) = (Filter::default(), None, 50usize, None);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "id" => id = Some(v.into_owned()),
            "route" => f.route = Some(v.into_owned()),
            "type" => f.event_type = Some(v.into_owned()),
            "status" => status = Some(v.parse::<Status>().map_err(ApiError::bad)?),
            "limit" => limit = super::parse_limit(&v)?,
            _ => return Err(ApiError::bad(format_args!("unknown parameter {k:?}"))),
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
        None => view(app)
            .and_then(|view| reader.archive_status(&f, &view, status, limit))
            .map(|v| {
                v.into_iter()
                    .map(|e| serde_json::to_value(ApiEvent::of(e)).unwrap_or_default())
                    .collect()
            }),
    };
    json(&found.map_err(ApiError::internal)?)
}

/// Each destination of the configuration, and how far it has taken the journal: live
/// when it runs, else its written cursor, else 0 (with a broker, destinations follow
/// their queues, not the journal: see [`view`]).
fn taken(app: &App) -> Vec<Taken> {
    let config = app.runtime.load().config.clone();
    let written =
        crate::deliver::status::cursors(&app.handoff.store().tables().0.deliver, Some(&config))
            .unwrap_or_default();
    let mut out = Vec::new();
    for r in &config.routes {
        for d in &r.deliver {
            let through = app
                .delivery
                .as_ref()
                .and_then(|x| x.taken_through(&r.name, &d.name))
                .or_else(|| {
                    written
                        .iter()
                        .find(|w| *w.route == *r.name && *w.destination == *d.name)
                        .map(|w| w.taken_through)
                });
            out.push(Taken {
                route: r.name.to_string(),
                destination: d.name.to_string(),
                types: d.types.clone(),
                taken_through: through.unwrap_or(0),
            });
        }
    }
    out
}

fn view(app: &App) -> Result<StatusView, crate::durable::store::StoreError> {
    let dead = crate::deliver::state::dead_letters(
        &app.handoff.store().tables().0.dead,
        None,
        None,
        None,
        usize::MAX,
    )?
    .into_iter()
    .map(|d| ((d.route, d.destination, d.seq), d.replay))
    .collect();
    if app.runtime.load().config.broker.is_some() {
        // Destinations consume queues: the journal's seqs (the archive's copies) are not
        // theirs, and archived events are `accepted` (see `store::status`).
        return Ok(StatusView {
            dests: Vec::new(),
            dead: Default::default(),
        });
    }
    Ok(StatusView {
        dests: taken(app),
        dead,
    })
}

/// `GET /api/v1/destinations`: each route's destinations with their state: `backlog`
/// (events read and not yet taken), `oldest_pending_seconds`, `circuit_open`,
/// `dead_letters` (since start), `types`, `taken_through`.
pub(super) fn destinations(app: &App) -> Reply {
    let config = app.runtime.load().config.clone();
    let m = &app.metrics.delivery;
    let mut out = Vec::new();
    for t in taken(app) {
        let url = config
            .routes
            .iter()
            .find(|r| *r.name == *t.route)
            .and_then(|r| r.deliver.iter().find(|d| *d.name == *t.destination))
            .map(|d| shown_url(&d.url))
            .unwrap_or_default();
        let l = DestinationLabels {
            route: t.route.clone(),
            destination: t.destination.clone(),
        };
        out.push(serde_json::json!({
            "route": t.route,
            "destination": t.destination,
            "url": url,
            "backlog": m.backlog.get_or_create(&l).get(),
            "oldest_pending_seconds": m.oldest.get_or_create(&l).get(),
            "circuit_open": m.circuit_open.get_or_create(&l).get() != 0,
            "dead_letters": m.dead.get_or_create(&l).get(),
            "paused": m.paused.get_or_create(&l).get() != 0,
            "types": t.types,
            "taken_through": t.taken_through,
        }));
    }
    json(&out)
}

/// `POST /api/v1/destinations/pause?route=R&destination=D` (and `…/resume`): the
/// destination starts no delivery while paused; events keep being accepted and wait.
pub(super) fn pause(app: &App, query: Option<&str>, paused: bool) -> Reply {
    let (mut route, mut dest) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "route" => route = Some(v.into_owned()),
            "destination" => dest = Some(v.into_owned()),
            _ => return Err(ApiError::bad(format_args!("unknown parameter {k:?}"))),
        }
    }
    let (Some(route), Some(dest)) = (route, dest) else {
        return Err(ApiError::bad("give route and destination"));
    };
    let Some(delivery) = app.delivery.as_deref() else {
        return Err(ApiError::Conflict("this gateway does not deliver".into()));
    };
    if !delivery
        .pause(&route, &dest, paused)
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::Missing(format!(
            "route {route:?} has no destination {dest:?}"
        )));
    }
    let state = if paused { "paused" } else { "resumed" };
    tracing::info!(route = %route, destination = %dest, state, "destination {state} (admin API)");
    json(&serde_json::json!({ "route": route, "destination": dest, "paused": paused }))
}

/// `GET /api/v1/status`: where accepted events go (`store` or `broker`), and the
/// broker's and spool's state.
pub(super) fn status(app: &App) -> Reply {
    let m = &app.metrics;
    let broker = app.runtime.load().config.broker.is_some();
    let answer = serde_json::json!({
        "mode": if broker { "broker" } else { "store" },
        "broker_connected": m.broker_connected.get() != 0,
        "broker_refused": m.broker_refused.get() != 0,
        "spool_depth": m.spool_depth.get(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    json(&answer)
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
