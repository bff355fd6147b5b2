//! `GET /api/v1/events/{id}`: one event's whole story, for the dashboard's event view:
//! the event as kept (the journal or archive, else the spool), its headers masked as the
//! rejection log masks them, its body (text when UTF-8, else base64), and for each
//! destination of its route where it stands and its attempts (`store::history`).

use base64::Engine;
use serde_json::{json, Value};

use super::{ApiError, Reply};
use crate::checks::event::Event;
use crate::deliver::metrics::DestinationLabels;
use crate::durable::store::history::{self, Fate, Story};
use crate::durable::store::StoredEvent;
use crate::ingress::pipeline::App;

pub(super) fn one(app: &App, raw_id: &str) -> Reply {
    let id = percent_encoding::percent_decode_str(raw_id).decode_utf8_lossy();
    let store = app.handoff.store();
    // A scan of the journal, as the search by id: the view of one event, not a hot path.
    let kept = store.reader().show(&id).map_err(ApiError::internal)?;
    let event = kept.into_iter().map(|(_, e)| e).next();
    let at = event.as_ref().map(|e| e.received_at_ms);
    let stories =
        history::lookup(&store.tables().0.history, &id, at).map_err(ApiError::internal)?;
    let route = match (&event, stories.first()) {
        (Some(e), _) => e.route.clone(),
        (None, Some((r, _, _))) => r.clone(),
        (None, None) => return Err(ApiError::Missing(format!("no event with id {id:?}"))),
    };
    let config = app.runtime.load().config.clone();
    let r = config.routes.iter().find(|r| *r.name == *route);
    let mut out = json!({ "id": id, "route": route, "destinations": [] });
    if let Some(e) = &event {
        out["type"] = json!(e.event_type);
        out["received_at"] = json!(e.received_at);
        out["source"] = json!(e.source_ip);
        out["content_type"] = json!(e.content_type);
        out["headers"] = masked(&e.headers, r.map(|r| &r.verifier));
        match std::str::from_utf8(&e.body) {
            Ok(text) => out["body"] = json!(text),
            Err(_) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(&e.body);
                out["body_base64"] = json!(b64);
            }
        }
    }
    let mut dests = Vec::new();
    for d in r.map(|r| r.deliver.as_slice()).unwrap_or_default() {
        let story = stories
            .iter()
            .find(|(_, dest, _)| *dest == *d.name)
            .map(|(_, _, s)| s);
        let status = match story {
            Some(s) => fate(s.fate),
            None if event.as_ref().is_some_and(|e| !wanted(d, e)) => "filtered",
            None if paused(app, &route, &d.name) => "paused",
            None => "pending",
        };
        dests.push(destination(&d.name, status, story));
    }
    // A destination since removed from the configuration keeps its story.
    for (_, dest, s) in &stories {
        if !r.is_some_and(|r| r.deliver.iter().any(|d| *d.name == **dest)) {
            dests.push(destination(dest, fate(s.fate), Some(s)));
        }
    }
    out["destinations"] = Value::Array(dests);
    super::json(&out)
}

fn fate(f: Fate) -> &'static str {
    match f {
        Fate::Pending => "pending",
        Fate::Delivered => "delivered",
        Fate::Dead => "dead",
        Fate::Filtered => "filtered",
    }
}

fn destination(name: &str, status: &str, story: Option<&Story>) -> Value {
    let attempts: Vec<Value> = story
        .map(|s| s.attempts.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|a| {
            json!({
                "at": crate::rfc3339_ms(a.at_ms),
                "status": a.status,
                "duration_ms": a.duration_ms,
                "error": (!a.error.is_empty()).then_some(&a.error),
            })
        })
        .collect();
    json!({
        "name": name,
        "status": status,
        "attempts_made": story.map_or(0, |s| s.n),
        "attempts": attempts,
    })
}

/// The kept headers, `[[name, value], …]` in the store, as (name, value).
fn pairs(headers: &Value) -> Vec<(String, String)> {
    let list = headers.as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter()
        .filter_map(|p| Some((p.get(0)?.as_str()?, p.get(1)?.as_str()?)))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An object of the headers, credential-bearing values shown as `*** (N bytes)`, as in
/// the rejection log; a repeated header's values joined with ", ".
fn masked(headers: &Value, verifier: Option<&crate::checks::verify::Verifier>) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in pairs(headers) {
        let v = if crate::durable::rejections::masked(&k, verifier) {
            format!("*** ({} bytes)", v.len())
        } else {
            v
        };
        match out.get_mut(&k) {
            Some(Value::String(s)) => *s = format!("{s}, {v}"),
            _ => {
                out.insert(k, json!(v));
            }
        }
    }
    Value::Object(out)
}

/// Does the destination take this event (its `types` and its `filter`, as configured
/// now)? Not taken and not attempted: filtered.
fn wanted(d: &crate::config::Destination, e: &StoredEvent) -> bool {
    if !d.wants(e.event_type.as_deref()) {
        return false;
    }
    let Some(f) = &d.filter else { return true };
    let ev = Event {
        route: e.route.as_str().into(),
        id: e.id.clone(),
        event_type: e.event_type.clone(),
        body: bytes::Bytes::copy_from_slice(&e.body),
        content_type: e.content_type.clone(),
        received_at_ms: e.received_at_ms,
        source_ip: e.source_ip.parse().unwrap_or([0, 0, 0, 0].into()),
        headers: pairs(&e.headers),
    };
    f.matches(&ev) == Ok(true)
}

fn paused(app: &App, route: &str, dest: &str) -> bool {
    let l = DestinationLabels {
        route: route.to_string(),
        destination: dest.to_string(),
    };
    app.metrics.delivery.paused.get_or_create(&l).get() != 0
}
