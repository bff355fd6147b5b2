//! The admin port's JSON API, read-only, and its client in `hookgate store`.
//!
//! `GET /api/v1/spool?limit=N[&route=R]` lists the newest spooled events (oldest
//! first), `GET /api/v1/spool?id=X` the spooled events with that id: each a JSON object
//! with the fields `hookgate store list --json` prints and the body as `body_base64`.
//! It exists because the spool lives in the store's database, which only the gateway
//! that serves from it can open; `hookgate store` asks it there. Event bodies are
//! personal data: without `admin.token` the API answers loopback clients only (403
//! otherwise), whatever `admin.listen` says; with it, any client presenting it as
//! `Authorization: Bearer …` (401 otherwise, loopback included). State-changing calls
//! need the token always (403 when none is configured, loopback included), are POSTs
//! with a JSON content type, refused from a page of another origin (`Origin` not
//! matching `Host`), and logged with the caller's address.
//!
//! Dead letters: `GET /api/v1/dead?[route=R][&destination=D][&id=X][&limit=N]` lists
//! them, newest first; `POST /api/v1/dead/replay?...` (same filters, `Content-Type:
//! application/json`) marks the matching ones for replay and hands them to their running
//! destination; both answer a JSON array of dead letters.

use std::net::IpAddr;

use crate::durable::store::{ApiEvent, Store, Table};
use crate::ingress::pipeline::App;

mod dead;
mod error;
mod event;
mod events;
mod redeliver;
mod rejections;

use error::{json, ApiError, Reply};

/// One API request, as the admin server passes it on.
pub(crate) struct Call<'a> {
    pub peer: IpAddr,
    pub method: &'a http::Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The request said `Content-Type: application/json`.
    pub json: bool,
    pub authorization: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub host: Option<&'a str>,
    /// `admin.token`, when configured.
    pub token: Option<&'a [u8]>,
    /// The charts' ring of recent traffic.
    pub series: &'a crate::ops::series::Series,
}

/// Who may call: with `admin.token`, whoever presents it as a bearer token (compared in
/// constant time); without, loopback clients only.
fn authorize(c: &Call) -> Result<(), ApiError> {
    match c.token {
        Some(token) => {
            let given = c
                .authorization
                .and_then(|a| {
                    a.strip_prefix("Bearer ")
                        .or_else(|| a.strip_prefix("bearer "))
                })
                .map(str::trim);
            let ok = given.is_some_and(|g| {
                use sha2::Digest as _;
                crate::checks::verify::ct_eq(&sha2::Sha256::digest(g), &sha2::Sha256::digest(token))
            });
            ok.then_some(()).ok_or(ApiError::Unauthorized)
        }
        // DNS rebinding: a page from another site whose name now resolves to
        // 127.0.0.1 reaches this port from the browser on loopback, but names its own
        // host. Without a token, only requests that name this machine are answered.
        None if c.peer.is_loopback() && !c.host.is_some_and(loopback_host) => {
            Err(ApiError::WrongHost)
        }
        None if c.peer.is_loopback() => Ok(()),
        None => Err(ApiError::LoopbackOnly),
    }
}

/// Does `Host` name this machine's loopback (`127.0.0.1`, `[::1]`, `localhost`, with
/// or without a port)?
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(v6, |(a, _)| a),
        None => host.rsplit_once(':').map_or(host, |(a, _)| a),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The most records one API call lists: a larger `limit` lists this many (the rejection
/// log, the archive and the dead letters can be large; a script pages with filters).
pub(crate) const MAX_LIMIT: usize = 1000;

/// `limit` of a query: a whole number, at most [`MAX_LIMIT`].
pub(crate) fn parse_limit(v: &str) -> Result<usize, ApiError> {
    v.parse::<usize>()
        .map(|n| n.min(MAX_LIMIT))
        .map_err(|_| ApiError::bad("limit is a whole number"))
}

/// A state-changing call from a page of another origin (a browser sends `Origin`) is
/// refused: cross-site request forgery.
fn same_origin(c: &Call) -> bool {
    match (c.origin, c.host) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host),
        (Some(_), None) => false,
    }
}

/// The answer to an API request: status and JSON body.
pub(crate) async fn answer(app: &App, c: Call<'_>) -> (u16, String) {
    match route(app, c).await {
        Ok(body) => (200, body),
        Err(e) => (e.status(), e.body()),
    }
}

async fn route(app: &App, c: Call<'_>) -> Reply {
    let store = app.handoff.store();
    let delivery = app.delivery.as_deref();
    authorize(&c)?;
    let get = c.method == http::Method::GET;
    if !get {
        if !same_origin(&c) {
            return Err(ApiError::CrossOrigin);
        }
        // Reads answer loopback without a token; a change (a replay) needs one always,
        // so that no other process or user on the host can make one unasked.
        if c.token.is_none() {
            tracing::warn!(peer = %c.peer, method = %c.method, path = c.path, "admin API call refused: state-changing calls need admin.token");
            return Err(ApiError::NeedsToken);
        }
        tracing::info!(peer = %c.peer, method = %c.method, path = c.path, query = c.query.unwrap_or(""), "admin API call");
    }
    match c.path {
        "/api/v1/spool" if get => spool(store, c.query),
        "/api/v1/dead" if get => dead::list(store, c.query),
        // State-changing: POST only, and only with a JSON content type, so that a
        // page in a browser on this machine cannot send it as a plain form.
        "/api/v1/rejections" if get => rejections::list(store, c.query),
        "/api/v1/events" if get => events::list(app, c.query),
        "/api/v1/destinations" if get => events::destinations(app),
        "/api/v1/status" if get => events::status(app),
        "/api/v1/series" if get => series(c.series, c.query),
        "/api/v1/replays" if get => json(&crate::durable::store::replay_job::Job::all(store.dir())),
        "/api/v1/dead/replay"
        | "/api/v1/rejections/replay"
        | "/api/v1/events/redeliver"
        | "/api/v1/destinations/pause"
        | "/api/v1/destinations/resume"
            if c.method == http::Method::POST && !c.json =>
        {
            Err(ApiError::NotJson)
        }
        "/api/v1/dead/replay" if c.method == http::Method::POST => {
            dead::replay(store, delivery, c.query)
        }
        "/api/v1/rejections/replay" if c.method == http::Method::POST => {
            rejections::replay(app, c.query).await
        }
        "/api/v1/events/redeliver" if c.method == http::Method::POST => {
            redeliver::redeliver(app, c.query)
        }
        "/api/v1/destinations/pause" if c.method == http::Method::POST => {
            events::pause(app, c.query, true)
        }
        "/api/v1/destinations/resume" if c.method == http::Method::POST => {
            events::pause(app, c.query, false)
        }
        "/api/v1/spool"
        | "/api/v1/dead"
        | "/api/v1/dead/replay"
        | "/api/v1/rejections"
        | "/api/v1/events"
        | "/api/v1/destinations"
        | "/api/v1/status"
        | "/api/v1/series"
        | "/api/v1/replays"
        | "/api/v1/events/redeliver"
        | "/api/v1/destinations/pause"
        | "/api/v1/destinations/resume"
        | "/api/v1/rejections/replay" => Err(ApiError::MethodNotAllowed),
        p if get && p.starts_with("/api/v1/events/") => {
            event::one(app, &p["/api/v1/events/".len()..])
        }
        _ => Err(ApiError::NotFound),
    }
}

/// `GET /api/v1/series?[since=MS]`: the charts' samples taken after `since`
/// (milliseconds since the epoch), oldest first, with the step they cover.
fn series(series: &crate::ops::series::Series, query: Option<&str>) -> Reply {
    let mut since = 0i64;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "since" => {
                since = v
                    .parse()
                    .map_err(|_| ApiError::bad("since is milliseconds since the epoch"))?
            }
            _ => return Err(ApiError::bad(format_args!("unknown parameter {k:?}"))),
        }
    }
    json(&serde_json::json!({
        "step_seconds": crate::ops::series::STEP.as_secs(),
        "samples": series.since(since),
    }))
}

fn spool(store: &Store, query: Option<&str>) -> Reply {
    let (mut route, mut id, mut limit) = (None, None, 50usize);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "route" => route = Some(v.into_owned()),
            "id" => id = Some(v.into_owned()),
            "limit" => {
                limit = v
                    .parse()
                    .map_err(|_| ApiError::bad("limit is a whole number"))?
            }
            _ => return Err(ApiError::bad(format_args!("unknown parameter {k:?}"))),
        }
    }
    let reader = store.reader();
    let events = match &id {
        Some(id) => reader.show(id).map(|found| {
            found
                .into_iter()
                .filter(|(t, _)| *t == Table::Spool)
                .map(|(_, e)| e)
                .collect()
        }),
        None => reader.list(Table::Spool, route.as_deref(), limit),
    };
    let items: Vec<ApiEvent> = events
        .map_err(ApiError::internal)?
        .into_iter()
        .map(ApiEvent::of)
        .collect();
    json(&items)
}
