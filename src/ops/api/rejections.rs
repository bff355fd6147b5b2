//! `/api/v1/rejections` and `/api/v1/rejections/replay`.

use super::error;
use crate::durable::rejections::{self, Filter};
use crate::durable::store::{Outcome, Store};
use crate::ingress::pipeline::{App, Replayed};

/// `GET /api/v1/rejections?[route=R][&code=C][&seq=N][&limit=N]`: newest first.
pub(super) fn list(store: &Store, query: Option<&str>) -> (u16, String) {
    let (mut f, mut limit, mut seq) = (Filter::default(), 50usize, None);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "route" => f.route = Some(v.into_owned()),
            "code" => f.code = Some(v.into_owned()),
            "limit" => match super::parse_limit(&v) {
                Ok(n) => limit = n,
                Err(e) => return e,
            },
            "seq" => match v.parse::<u64>() {
                Ok(n) => seq = Some(n),
                Err(_) => return error(400, "seq is a whole number"),
            },
            _ => return error(400, format_args!("unknown parameter {k:?}")),
        }
    }
    let ks = &store.tables().0.rejections;
    let found = match seq {
        Some(seq) => {
            rejections::find(ks, seq).map(|f| f.map(|f| f.shown().clone()).into_iter().collect())
        }
        None => rejections::list(ks, &f, limit),
    };
    match found {
        Ok(v) => (
            200,
            serde_json::to_string(&v).unwrap_or_else(|_| "[]".into()),
        ),
        Err(e) => error(500, e),
    }
}

/// `POST /api/v1/rejections/replay?seq=N`: verify the recorded request again with the
/// current configuration and, if it passes, keep it like any accepted event.
pub(super) async fn replay(app: &App, query: Option<&str>) -> (u16, String) {
    let mut seq = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match (&*k, v.parse::<u64>()) {
            ("seq", Ok(n)) => seq = Some(n),
            ("seq", Err(_)) => return error(400, "seq is a whole number"),
            _ => return error(400, format_args!("unknown parameter {k:?}")),
        }
    }
    let Some(seq) = seq else {
        return error(400, "give the rejection's seq: ?seq=N");
    };
    let ks = &app.handoff.store().tables().0.rejections;
    let mut found = match rejections::find(ks, seq) {
        Ok(Some(f)) => f,
        Ok(None) => return error(404, format_args!("no rejection {seq}")),
        Err(e) => return error(500, e),
    };
    let config = app.runtime.load().config.clone();
    let Some((parts, body, https, at)) = found.request(&config) else {
        return error(
            409,
            "this request was recorded without its body (store.rejections.capture_body is off): it cannot be replayed",
        );
    };
    let source = found
        .shown()
        .source_ip
        .parse()
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    match crate::ingress::pipeline::replay(app, &parts, body, https, source, at).await {
        Replayed::Kept(outcome, id) => {
            let status = match outcome {
                Outcome::Accepted => "accepted",
                Outcome::Duplicate => "duplicate",
            };
            tracing::info!(seq, route = %found.shown().route, id = ?id, status, "rejected request replayed (admin API)");
            if let Err(e) = rejections::mark_replayed(ks, &mut found, &id) {
                tracing::warn!(seq, error = %e, "could not note the replay on the rejection record");
            }
            let answer = serde_json::json!({ "status": status, "id": id, "seq": seq });
            (200, answer.to_string())
        }
        Replayed::Refused(r) => {
            let answer = serde_json::json!({ "error": r.code(), "reason": r.reason(), "seq": seq });
            (422, answer.to_string())
        }
        Replayed::NotReplayable(why) => error(409, why),
    }
}
