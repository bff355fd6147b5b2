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
mod events;
mod redeliver;
mod rejections;

/// An error answer: `{"error": message}`.
pub(crate) fn error(status: u16, message: impl std::fmt::Display) -> (u16, String) {
    let error = message.to_string();
    (status, serde_json::json!({ "error": error }).to_string())
}

/// One API request, as the admin server passes it on.
pub struct Call<'a> {
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
}

/// Who may call: with `admin.token`, whoever presents it as a bearer token (compared in
/// constant time); without, loopback clients only. `None` when allowed, else the answer.
fn authorize(c: &Call) -> Option<(u16, String)> {
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
            (!ok).then(|| {
                (
                    401,
                    r#"{"error":"unauthorized: send Authorization: Bearer <admin.token>"}"#.into(),
                )
            })
        }
        // DNS rebinding: a page from another site whose name now resolves to
        // 127.0.0.1 reaches this port from the browser on loopback, but names its own
        // host. Without a token, only requests that name this machine are answered.
        None if c.peer.is_loopback() && !c.host.is_some_and(loopback_host) => Some((
            421,
            r#"{"error":"without admin.token the API answers only requests to 127.0.0.1, [::1] or localhost"}"#.into(),
        )),
        None if c.peer.is_loopback() => None,
        None => Some((
            403,
            r#"{"error":"without admin.token the API answers loopback clients only"}"#.into(),
        )),
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
pub(crate) fn parse_limit(v: &str) -> Result<usize, (u16, String)> {
    v.parse::<usize>()
        .map(|n| n.min(MAX_LIMIT))
        .map_err(|_| error(400, "limit is a whole number"))
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
pub async fn answer(app: &App, c: Call<'_>) -> (u16, String) {
    let store = app.handoff.store();
    let delivery = app.delivery.as_deref();
    if let Some(refused) = authorize(&c) {
        return refused;
    }
    let get = c.method == http::Method::GET;
    if !get {
        if !same_origin(&c) {
            return (403, r#"{"error":"cross-origin request refused"}"#.into());
        }
        // Reads answer loopback without a token; a change (a replay) needs one always,
        // so that no other process or user on the host can make one unasked.
        if c.token.is_none() {
            tracing::warn!(peer = %c.peer, method = %c.method, path = c.path, "admin API call refused: state-changing calls need admin.token");
            return error(403, "state-changing calls need admin.token: set it in the configuration and send it as Authorization: Bearer <token> (hookgate store sends $HOOKGATE_ADMIN_TOKEN)");
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
        "/api/v1/replays" if get => {
            let jobs = crate::durable::store::replay_job::Job::all(store.dir());
            (
                200,
                serde_json::to_string(&jobs).unwrap_or_else(|_| "[]".into()),
            )
        }
        "/api/v1/dead/replay" | "/api/v1/rejections/replay" | "/api/v1/events/redeliver"
            if c.method == http::Method::POST && !c.json =>
        {
            (
                415,
                r#"{"error":"send Content-Type: application/json"}"#.into(),
            )
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
        "/api/v1/spool"
        | "/api/v1/dead"
        | "/api/v1/dead/replay"
        | "/api/v1/rejections"
        | "/api/v1/events"
        | "/api/v1/destinations"
        | "/api/v1/status"
        | "/api/v1/replays"
        | "/api/v1/events/redeliver"
        | "/api/v1/rejections/replay" => (405, r#"{"error":"method_not_allowed"}"#.into()),
        _ => (404, r#"{"error":"not_found"}"#.into()),
    }
}

fn spool(store: &Store, query: Option<&str>) -> (u16, String) {
    let (mut route, mut id, mut limit) = (None, None, 50usize);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "route" => route = Some(v.into_owned()),
            "id" => id = Some(v.into_owned()),
            "limit" => match v.parse() {
                Ok(n) => limit = n,
                Err(_) => return (400, r#"{"error":"limit is a whole number"}"#.into()),
            },
            _ => {
                let error = format!("unknown parameter {k:?}");
                return (400, serde_json::json!({ "error": error }).to_string());
            }
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
    match events {
        Ok(events) => {
            let items: Vec<ApiEvent> = events.into_iter().map(ApiEvent::of).collect();
            (
                200,
                serde_json::to_string(&items).unwrap_or_else(|_| "[]".into()),
            )
        }
        Err(e) => (
            500,
            serde_json::json!({ "error": e.to_string() }).to_string(),
        ),
    }
}
