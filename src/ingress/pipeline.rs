//! The request pipeline: every check of README.md, "What a request gets", cheapest first, in one function
//! ([`run`]) that reads top to bottom. Each stage is a plain function in its own module;
//! each rejection maps to exactly one status, one error code and one metric label in
//! [`Rejection`]'s exhaustive matches.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response};
use http_body_util::Full;
use tokio::sync::Semaphore;

use crate::checks::ratelimit::Limiter;
use crate::config::{Config, Route};
use crate::deliver::client::Client;
use crate::durable::handoff::Handoff;
use crate::durable::store::Outcome as Stored;
use crate::obs::metrics::{Metrics, Outcome, RouteMetrics};
use crate::{checks::allowlist, now_ms};

mod body;
mod handshake;
mod inspect;
mod keep;
mod proxy;
mod rejection;
mod timing;
mod trace;

pub use inspect::inspect;
pub(crate) use inspect::nesting_depth;
pub(crate) use keep::{replay, Replayed};
pub(crate) use rejection::{Rejection, RejectionSummary};
pub use timing::{Stage, Timer};

/// The configuration and the live state built from it (rate-limit buckets), swapped
/// whole on reload.
pub(crate) struct Runtime {
    pub config: Arc<Config>,
    metrics: Vec<RouteMetrics>,
    unrouted: RouteMetrics,
    by_path: HashMap<String, usize>,
    limiters: Vec<Option<Limiter>>,
    /// Each proxy route's HTTP client.
    proxies: Vec<Option<Client>>,
}

impl Runtime {
    pub(crate) fn new(config: Arc<Config>, m: &Metrics) -> Runtime {
        let metrics = config
            .routes
            .iter()
            .map(|r| m.route(&r.name, &Rejection::possible(r)))
            .collect();
        let unrouted = m.route("none", &[Outcome::NotFound]);
        let by_path = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.clone(), i))
            .collect();
        let limiters = config
            .routes
            .iter()
            .map(|r| r.rate_limit.as_ref().map(Limiter::new))
            .collect();
        let proxies = config
            .routes
            .iter()
            .map(|r| r.proxy.as_ref().map(|p| Client::for_ca(p.ca.as_ref())))
            .collect();
        Runtime {
            config,
            metrics,
            unrouted,
            by_path,
            limiters,
            proxies,
        }
    }

    /// Every route's request metrics (the unmatched paths' last).
    pub(crate) fn route_metrics(&self) -> impl Iterator<Item = &RouteMetrics> {
        self.metrics.iter().chain(std::iter::once(&self.unrouted))
    }

    pub(crate) fn housekeeping(&self) {
        self.limiters
            .iter()
            .flatten()
            .for_each(Limiter::housekeeping);
    }
}

/// Everything a request needs that outlives it.
pub(crate) struct App {
    pub runtime: arc_swap::ArcSwap<Runtime>,
    pub handoff: Handoff,
    pub metrics: Arc<Metrics>,
    pub in_flight: Semaphore,
    pub admission: crate::ingress::admission::Admission,
    /// Delivery to the application (embedded store; `None` with a broker).
    pub delivery: Option<Arc<crate::deliver::Delivery>>,
    /// Where refused requests are recorded.
    pub rejections: crate::durable::rejections::Log,
    /// The Redis the replicas share (`store.dedup.redis`), for shared rate limits.
    pub shared: Option<Arc<crate::durable::shared::Shared>>,
}

/// Answer one webhook request. Never fails: every problem is a [`Rejection`].
pub(crate) async fn handle<B>(
    app: Arc<App>,
    req: Request<B>,
    peer: SocketAddr,
    https: bool,
) -> Response<Full<Bytes>>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let _gauge = InFlightGauge::new(&app.metrics);
    let rt = app.runtime.load_full();
    let (parts, body) = req.into_parts();
    let mut cx = Context {
        peer,
        https,
        route: None,
        source: peer.ip(),
        delivery: None,
        body: None,
        trace: trace::RequestTrace::start(&parts, started),
    };
    let result = run(&app, &rt, &parts, body, &mut cx, started).await;
    let Context {
        route,
        source,
        delivery,
        body,
        trace,
        ..
    } = cx;
    // The provider's delivery id (e.g. X-GitHub-Delivery), to match a provider's
    // dashboard entry to a log line.
    let delivery = delivery
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let (name, metrics) = match route {
        Some(i) => (&*rt.config.routes[i].name, &rt.metrics[i]),
        None => ("none", &rt.unrouted),
    };
    if let Some(t) = trace {
        let (outcome, status, id) = match &result {
            Ok(Answer::Proxied(r)) => (Outcome::Proxied, r.status().as_u16(), None),
            Ok(Answer::Handshake(r)) => (Outcome::Handshake, r.status().as_u16(), None),
            Ok(Answer::Kept(Stored::Accepted, id)) => (Outcome::Accepted, 200, Some(id.as_str())),
            Ok(Answer::Kept(Stored::Duplicate, id)) => (Outcome::Duplicate, 200, Some(id.as_str())),
            Err(rej) => (rej.outcome(), rej.status().as_u16(), None),
        };
        t.end(name, outcome.label(), status, id);
    }
    match result {
        Ok(Answer::Proxied(r)) => {
            metrics.request(Outcome::Proxied, started.elapsed());
            tracing::debug!(route = name, source_ip = %source, delivery, status = r.status().as_u16(), "proxied");
            r
        }
        Ok(Answer::Handshake(r)) => {
            metrics.request(Outcome::Handshake, started.elapsed());
            tracing::debug!(route = name, source_ip = %source, "handshake answered");
            r
        }
        Ok(Answer::Kept(status, id)) => {
            let outcome = match status {
                Stored::Accepted => Outcome::Accepted,
                Stored::Duplicate => Outcome::Duplicate,
            };
            metrics.request(outcome, started.elapsed());
            let label = outcome.label();
            tracing::debug!(route = name, source_ip = %source, delivery, id = ?id, outcome = label, "kept");
            // The id is printable ASCII (see `event`), but may hold quotes: JSON-escape it.
            let mut body = Vec::with_capacity(32 + id.len());
            body.extend_from_slice(br#"{"status":""#);
            body.extend_from_slice(label.as_bytes());
            body.extend_from_slice(br#"","id":"#);
            let at = body.len();
            if serde_json::to_writer(&mut body, &id).is_err() {
                // Never for a string; if it were, no half-written value stays behind.
                body.truncate(at);
                body.extend_from_slice(br#""""#);
            }
            body.extend_from_slice(b"}\n");
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(rej) => {
            metrics.request(rej.outcome(), started.elapsed());
            if let Rejection::Unavailable { cause, .. } = &rej {
                app.metrics.unavailable(name, *cause);
            }
            let reason = rej.reason();
            tracing::debug!(route = name, source_ip = %source, peer = %peer, delivery, code = rej.code(), reason = ?reason, "rejected");
            app.rejections.record(crate::durable::rejections::Refused {
                route: name,
                verifier: route.map(|i| &rt.config.routes[i].verifier),
                source,
                status: rej.status().as_u16(),
                code: rej.code(),
                reason,
                parts: &parts,
                https,
                body: body.as_ref(),
                capture: rt.config.store.rejections.capture_body,
            });
            rej.response()
        }
    }
}

/// What a request that passed every check gets.
enum Answer {
    /// Durable (or a duplicate): the gateway's own 200 with the event id.
    Kept(Stored, String),
    /// A proxy route: the application's answer.
    Proxied(Response<Full<Bytes>>),
    /// The provider's endpoint check, answered by the gateway (`handshake`).
    Handshake(Response<Full<Bytes>>),
}

/// One request as the stages learn about it: where it came from, and what the answer,
/// the metrics and the log line need to know of what the checks found.
struct Context {
    peer: SocketAddr,
    https: bool,
    /// The route's index, once the path matched one.
    route: Option<usize>,
    /// The client as the checks saw it (after trusted X-Forwarded-For).
    source: std::net::IpAddr,
    /// The provider's delivery id header, read only when debug logging is on.
    delivery: Option<HeaderValue>,
    /// The body, once read (a refcount, not a copy): the rejection log hashes it.
    body: Option<Bytes>,
    /// The request's span and its stages' laps, when traces are on.
    trace: Option<trace::RequestTrace>,
}

/// Counts a request in `in_flight_requests` until dropped (also when the client goes away).
struct InFlightGauge<'a>(&'a Metrics);

impl<'a> InFlightGauge<'a> {
    fn new(m: &'a Metrics) -> Self {
        m.in_flight.inc();
        InFlightGauge(m)
    }
}

impl Drop for InFlightGauge<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

async fn run<B>(
    app: &App,
    rt: &Runtime,
    parts: &http::request::Parts,
    body: B,
    cx: &mut Context,
    started: Instant,
) -> Result<Answer, Rejection>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let cfg = &rt.config;
    // Stage::Admission: the route and method,
    let idx = *rt
        .by_path
        .get(parts.uri.path())
        .ok_or(Rejection::NotFound)?;
    let route: &Route = &cfg.routes[idx];
    cx.route = Some(idx);
    if tracing::enabled!(tracing::Level::DEBUG) {
        if let Some(crate::checks::event::Source::Header(h)) = route.event_id.first() {
            cx.delivery = parts.headers.get(h).cloned();
        }
    }
    let handshake_get = handshake::accepts(route, &parts.method);
    if parts.method != Method::POST && !handshake_get {
        return Err(Rejection::MethodNotAllowed);
    }
    // who is asking, and may they (allowlist, rate limit, in-flight and memory shares);
    let ip = allowlist::client_ip(cx.peer.ip(), &parts.headers, &cfg.trusted_proxies);
    cx.source = ip;
    if !allowlist::allowed(ip, route.allow_ips.as_deref()) {
        return Err(Rejection::IpNotAllowed);
    }
    let client = allowlist::client_key(ip, cfg.limits.ipv6_prefix);
    if let Some(l) = &rt.limiters[idx] {
        limit(app, route, l, client).await?;
    }
    if handshake_get {
        return handshake::get(route, parts, now_ms() / 1000).map(Answer::Handshake);
    }
    // Bound memory: at most max_in_flight requests at once, a client's share of them,
    // and the bytes their bodies hold (see `admission`).
    let _permit = app
        .in_flight
        .try_acquire()
        .map_err(|_| Rejection::Unavailable {
            retry_after: 1,
            cause: crate::obs::metrics::UnavailableCause::MaxInFlight,
            detail: "max_in_flight reached".into(),
        })?;
    // Stage::Body: the size, refused by Content-Length before reading and enforced while
    // reading.
    let max = cfg.limits.max_body;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Rejection::BodyTooLarge);
    }
    let declared = declared.unwrap_or(0) as usize;
    let mut ticket = app
        .admission
        .admit(client, declared)
        .map_err(Rejection::from)?;
    let (laps, trace_headers) = match cx.trace.as_mut() {
        Some(t) => (Some(&mut t.laps), Some(&t.headers)),
        None => (None, None),
    };
    let mut timer = timing::Timer::start(&app.metrics, started).recording(laps);
    timer.lap(Stage::Admission);
    let body = body::read(body, &cfg.limits, &mut ticket, declared).await?;
    timer.lap(Stage::Body);
    cx.body = Some(body.clone());
    let req = keep::ReadRequest {
        idx,
        parts,
        https: cx.https,
        ip,
        received_ms: now_ms(),
        trace: trace_headers.map(Vec::as_slice),
    };
    keep::checked(app, rt, &req, body, &mut timer).await
}

/// The route's rate limit for `client`: in the shared Redis for `shared: true` limits
/// (when it does not answer: this replica's own buckets, or a refusal with
/// `fail_closed`), else in this process.
async fn limit(
    app: &App,
    route: &Route,
    l: &Limiter,
    client: std::net::IpAddr,
) -> Result<(), Rejection> {
    use crate::checks::ratelimit::WhenSharedDown;
    let refused = |retry_after| Rejection::RateLimited { retry_after };
    let spec = route.rate_limit.as_ref();
    if let (Some(shared), Some(spec)) = (&app.shared, spec) {
        if let Some(when_down) = spec.shared {
            return match shared.limit(&route.name, client, spec).await {
                Some(r) => r.map_err(refused),
                None if when_down == WhenSharedDown::FailClosed => Err(refused(1)),
                None => l.check(client).map_err(refused),
            };
        }
    }
    l.check(client).map_err(refused)
}
