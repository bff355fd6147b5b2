//! `/api/v1/rejections` and `/api/v1/rejections/replay`.

use super::{json, ApiError, Reply};
use crate::durable::rejections::{self, Filter};
use crate::durable::store::{Outcome, Store};
use crate::ingress::pipeline::{App, Replayed};

/// `GET /api/v1/rejections?[route=R][&code=C][&seq=N][&limit=N]`: newest first.
pub(super) fn list(store: &Store, query: Option<&str>) -> Reply {
    let (mut f, mut limit, mut seq) = (Filter::default(), 50usize, None);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "route" => f.route = Some(v.into_owned()),
            "code" => f.code = Some(v.into_owned()),
            "limit" => limit = super::parse_limit(&v)?,
            "seq" => {
                seq = Some(
                    v.parse::<u64>()
                        .map_err(|_| ApiError::bad("seq is a whole number"))?,
                )
            }
            _ => return Err(ApiError::bad(format_args!("unknown parameter {k:?}"))),
        }
    }
    let ks = &store.tables().0.rejections;
    let found = match seq {
        Some(seq) => {
            rejections::find(ks, seq).map(|f| f.map(|f| f.shown().clone()).into_iter().collect())
        }
        None => rejections::list(ks, &f, limit),
    };
    json(&found.map_err(ApiError::internal)?)
}

/// `POST /api/v1/rejections/replay?seq=N`: verify the recorded request again with the
/// current configuration and, if it passes, keep it like any accepted event.
pub(super) async fn replay(app: &App, query: Option<&str>) -> Reply {
    let mut seq = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match (&*k, v.parse::<u64>()) {
            ("seq", Ok(n)) => seq = Some(n),
            ("seq", Err(_)) => return Err(ApiError::bad("seq is a whole number")),
            _ => return Err(ApiError::bad(format_args!("unknown parameter {k:?}"))),
        }
    }
    let Some(seq) = seq else {
        return Err(ApiError::bad("give the rejection's seq: ?seq=N"));
    };
    let ks = &app.handoff.store().tables().0.rejections;
    let mut found = rejections::find(ks, seq)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::Missing(format!("no rejection {seq}")))?;
    let config = app.runtime.load().config.clone();
    let Some((parts, body, https, at)) = found.request(&config) else {
        return Err(ApiError::Conflict(
            "this request was recorded without its body (store.rejections.capture_body is off): it cannot be replayed".into(),
        ));
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
            json(&serde_json::json!({ "status": status, "id": id, "seq": seq }))
        }
        Replayed::Refused(r) => Err(ApiError::Refused {
            code: r.code(),
            reason: r.reason(),
            seq,
        }),
        Replayed::NotReplayable(why) => Err(ApiError::Conflict(why.into())),
    }
}
