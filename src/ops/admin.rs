//! The admin listener (loopback by default): `/healthz` (the process serves),
//! `/readyz` (configuration loaded, events can be handed off durably, not draining),
//! `/metrics` (Prometheus text), the JSON API (`api`) and the dashboard (`/`).

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::ingress::pipeline::App;

mod dashboard;

pub(crate) struct Admin {
    pub app: Arc<App>,
    /// Set on SIGTERM: `/readyz` answers 503 so load balancers stop sending.
    pub draining: AtomicBool,
    /// The charts' last 15 minutes (`/api/v1/series`).
    pub series: Arc<crate::ops::series::Series>,
}

impl Admin {
    pub(crate) fn ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed) && self.app.handoff.ready()
    }

    async fn answer<B>(&self, req: &Request<B>, peer: std::net::IpAddr) -> Response<Full<Bytes>> {
        let (status, ctype, body) = match req.uri().path() {
            p if p.starts_with("/api/") => self.api(req, p, peer).await,
            p if dashboard::asset(p).is_some() => {
                let (ctype, body) = dashboard::asset(p).unwrap_or(("text/plain", ""));
                (StatusCode::OK, ctype, Bytes::from_static(body.as_bytes()))
            }
            // Browsers ask for it with the dashboard: nothing, rather than a 404.
            "/favicon.ico" => (StatusCode::NO_CONTENT, "image/x-icon", Bytes::new()),
            "/healthz" => text(StatusCode::OK, "ok"),
            "/readyz" => self.readyz(),
            "/metrics" => self.metrics(req),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        };
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        for (name, value) in dashboard::SECURITY_HEADERS {
            h.insert(name, HeaderValue::from_static(value));
        }
        r
    }

    /// The JSON API (`ops::api`), with the request's parts it decides on.
    async fn api<B>(&self, req: &Request<B>, path: &str, peer: std::net::IpAddr) -> Answer {
        let header =
            |h: http::header::HeaderName| req.headers().get(h).and_then(|v| v.to_str().ok());
        let config = self.app.runtime.load().config.clone();
        let call = crate::ops::api::Call {
            peer,
            method: req.method(),
            path,
            query: req.uri().query(),
            json: header(http::header::CONTENT_TYPE)
                .is_some_and(|v| v.starts_with("application/json")),
            authorization: header(http::header::AUTHORIZATION),
            origin: header(http::header::ORIGIN),
            host: header(http::header::HOST),
            token: config.admin_token.as_ref().map(|t| t.0.as_slice()),
            series: &self.series,
        };
        let (status, body) = crate::ops::api::answer(&self.app, call).await;
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "application/json",
            // A newline ends every JSON answer (a shell prompt after curl).
            Bytes::from(body + "\n"),
        )
    }

    /// 200 while events can be handed off durably and not draining, else 503; the body
    /// says why, and what is degraded while ready.
    fn readyz(&self) -> Answer {
        let ready = self.ready();
        self.app.metrics.ready.set(i64::from(ready));
        let config = self.app.runtime.load().config.clone();
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        if ready && self.app.metrics.config_reload_failed.get() != 0 {
            // Still serving, on the previous configuration: do not take the pod out.
            text(
                status,
                "ready (last configuration reload refused; previous configuration serving)",
            )
        } else if ready && !config.default_secrets.is_empty() {
            // --dev with a placeholder secret: serving, but say so where it is seen.
            let paths = config.default_secrets.join(", ");
            text(status, &format!("ready (WARNING, --dev: secrets taken from ${{VAR:-default}} defaults or placeholders, which anyone who read the file can sign with: {paths})"))
        } else if let Some(why) = self.app.handoff.broker_refused() {
            // Spooling (ready) or refusing (not): either way, say why.
            let state = if ready {
                "ready, spooling"
            } else {
                "not ready"
            };
            text(status, &format!("{state}: {why}"))
        } else if ready && self.app.handoff.spooling() {
            // Accepted events are durable in the spool until the broker is back.
            text(
                status,
                "ready, spooling: the broker is unreachable; accepted events wait in the spool",
            )
        } else if let Some(why) = self
            .app
            .shared
            .as_ref()
            .and_then(|s| s.down())
            .filter(|_| ready)
        {
            // Serving: each replica dedups (and limits) alone meanwhile.
            text(
                status,
                &format!("ready (shared Redis unavailable, deciding alone: {why})"),
            )
        } else if ready {
            text(status, "ready")
        } else if self.draining.load(Ordering::Relaxed) {
            text(status, "draining")
        } else {
            text(status, "hand-off unavailable")
        }
    }

    /// Prometheus text, or OpenMetrics when the scraper asks for it.
    fn metrics<B>(&self, req: &Request<B>) -> Answer {
        use crate::obs::metrics::exposition::{wants_openmetrics, CLASSIC, OPENMETRICS};
        self.app.metrics.ready.set(i64::from(self.ready()));
        let accept = req.headers().get(http::header::ACCEPT);
        let om = wants_openmetrics(accept.and_then(|v| v.to_str().ok()));
        let ctype = if om { OPENMETRICS } else { CLASSIC };
        (
            StatusCode::OK,
            ctype,
            Bytes::from(self.app.metrics.encode(om)),
        )
    }
}

/// An answer of the admin port: status, content type, body.
type Answer = (StatusCode, &'static str, Bytes);

/// A one-line plain-text answer.
fn text(status: StatusCode, line: &str) -> Answer {
    (status, "text/plain", Bytes::from(format!("{line}\n")))
}

/// Connections the admin port holds at most: well inside the descriptors the ingress
/// leaves to the rest (`server::FD_RESERVE`), so that no flood of admin connections can
/// take the ingress's.
const MAX_CONNECTIONS: usize = 64;

pub(crate) async fn serve(
    listener: TcpListener,
    admin: Arc<Admin>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    // At the cap, the connections waiting for a request are asked to close, so that a
    // probe or a person gets in behind idle (or hostile) ones at once.
    let shed = Arc::new(tokio::sync::Notify::new());
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            Err(_) => {
                shed.notify_waiters();
                tokio::select! {
                    s = slots.clone().acquire_owned() => match s { Ok(s) => s, Err(_) => return },
                    _ = crate::ingress::server::stopped(&mut stop) => return,
                }
            }
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning (the ingress
                    // loop does the same), so the process keeps time to answer.
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = crate::ingress::server::stopped(&mut stop) => return,
        };
        let (admin, shed) = (admin.clone(), shed.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let svc = service_fn(move |req| {
                let admin = admin.clone();
                async move { Ok::<_, Infallible>(admin.answer(&req, peer.ip()).await) }
            });
            // hyper closes a connection that sends no request head within 5 s, also
            // between requests (an idle keep-alive connection).
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(5))
                .serve_connection(TokioIo::new(tcp), svc);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = shed.notified() => conn.as_mut().graceful_shutdown(),
            }
            // A request in flight finishes; an idle connection closes now.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), conn).await;
        });
    }
}
