//! The checks after the body is read, in order: the provider's handshake, the
//! signature, JSON, schema, event id; then a proxy route's forward, or dedup and the
//! durable hand-off. Also where a recorded rejection is verified again on replay.

use bytes::Bytes;
use http::header;

use super::{handshake, inspect, proxy, Answer, App, Rejection, Route, Runtime, Stage, Timer};

/// A request whose body was read: what the checks after the body need of it.
pub(super) struct ReadRequest<'a> {
    /// The route's index in the configuration.
    pub idx: usize,
    pub parts: &'a http::request::Parts,
    pub https: bool,
    /// The client, after trusted proxies.
    pub ip: std::net::IpAddr,
    /// When it was received (ms since the epoch): now, or a replayed request's time.
    pub received_ms: i64,
    /// The trace context the event carries on (`traceparent`, `tracestate`), when
    /// the request is traced.
    pub trace: Option<&'a [(String, String)]>,
}

/// The URL the sender signed, for the schemes that sign one (else empty): the route's
/// `public_url`, or the scheme, host and path the request came in on; then its query.
fn signed_url(route: &Route, parts: &http::request::Parts, https: bool) -> String {
    if !route.verifier.needs_url() {
        return String::new();
    }
    let url = match &route.public_url {
        Some(u) => u.clone(),
        None => {
            // HTTP/2 carries the host as the `:authority` of the URI, HTTP/1.1 as Host.
            let host = parts
                .uri
                .authority()
                .map(|a| a.as_str())
                .or_else(|| {
                    parts
                        .headers
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                })
                .unwrap_or("");
            let scheme = if https { "https" } else { "http" };
            format!("{scheme}://{host}{}", parts.uri.path())
        }
    };
    // Providers sign the URL they called, query string included (Twilio's
    // `bodySHA256`, HubSpot v3); a `public_url` names the rest.
    match parts.uri.query() {
        Some(q) if !url.contains('?') => url + "?" + q,
        _ => url,
    }
}

/// Verify, parse and keep (or forward) a request whose body was read.
pub(super) async fn checked(
    app: &App,
    rt: &Runtime,
    req: &ReadRequest<'_>,
    body: Bytes,
    timer: &mut Timer<'_>,
) -> Result<Answer, Rejection> {
    let (idx, parts, https, ip, now) = (req.idx, req.parts, req.https, req.ip, req.received_ms);
    let route = &rt.config.routes[idx];
    // The checks that need no I/O: the handshake, the signature, JSON and the event.
    let url = signed_url(route, parts, https);
    if let Some(answer) = handshake::post(route, parts, &body, &url, now / 1000) {
        return answer.map(Answer::Handshake);
    }
    inspect::verify(route, parts, &body, &url, now)?;
    timer.lap(Stage::Verify);
    let mut ev = inspect::event(route, parts, body, now, ip)?;
    timer.lap(Stage::Parse);
    if let Some(trace) = req.trace {
        // The gateway's trace context replaces any the route forwards as received.
        ev.headers
            .retain(|(k, _)| k != "traceparent" && k != "tracestate");
        ev.headers.extend_from_slice(trace);
    }
    // A proxy route: the application answers, nothing is kept.
    if let (Some(p), Some(client)) = (&route.proxy, &rt.proxies[idx]) {
        let origin = proxy::Origin {
            client_ip: ip,
            https,
            host: parts.headers.get(header::HOST),
        };
        let max = rt.config.limits.max_body;
        let answer = proxy::forward(client, p, &parts.headers, &ev, origin, max).await?;
        return Ok(Answer::Proxied(answer));
    }
    let id = ev.id.clone();
    // Dedup and the durable hand-off.
    let handed = app.handoff.submit(ev).await;
    timer.lap(Stage::Handoff);
    match handed {
        Ok(o) => Ok(Answer::Kept(o, id)),
        Err(e) => {
            tracing::warn!(route = %route.name, cause = e.cause().label(), error = %e, "durable hand-off failed; answering 503");
            Err(Rejection::Unavailable {
                retry_after: 5,
                cause: e.cause(),
                detail: e.to_string(),
            })
        }
    }
}

/// What replaying a recorded rejection came to.
pub(crate) enum Replayed {
    /// Kept (or a duplicate of an event already kept) under this id.
    Kept(crate::durable::store::Outcome, String),
    /// Still refused by the current configuration.
    Refused(Rejection),
    /// The route answers synchronously (a proxy) or the path has no route now.
    NotReplayable(&'static str),
}

/// Run a request recorded by the rejection log through the checks again, with the
/// current configuration (the reason it was refused may be fixed: a rotated secret, a
/// schema), as of the time it was received: a timestamped signature is judged against
/// that time, and the event keeps it. The source IP's allowlist and rate limit are not
/// applied again: the operator replays it.
pub(crate) async fn replay(
    app: &App,
    parts: &http::request::Parts,
    body: Bytes,
    https: bool,
    source: std::net::IpAddr,
    received_at_ms: i64,
) -> Replayed {
    let rt = app.runtime.load_full();
    let Some(&idx) = rt.by_path.get(parts.uri.path()) else {
        return Replayed::NotReplayable("no route has this path now");
    };
    if rt.config.routes[idx].proxy.is_some() {
        return Replayed::NotReplayable(
            "a proxy route's requests are answered by the application, not kept",
        );
    }
    let mut timer = Timer::off();
    let req = ReadRequest {
        idx,
        parts,
        https,
        ip: source,
        received_ms: received_at_ms,
        // A replayed rejection starts no trace: it is not a request of the sender's.
        trace: None,
    };
    match checked(app, &rt, &req, body, &mut timer).await {
        Ok(Answer::Kept(o, id)) => Replayed::Kept(o, id),
        Ok(Answer::Proxied(_) | Answer::Handshake(_)) => {
            Replayed::NotReplayable("a handshake is answered, not kept")
        }
        Err(r) => Replayed::Refused(r),
    }
}
