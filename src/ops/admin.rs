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
}

impl Admin {
    pub(crate) fn ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed) && self.app.handoff.ready()
    }

    async fn answer<B>(&self, req: &Request<B>, peer: std::net::IpAddr) -> Response<Full<Bytes>> {
        let (status, ctype, body) = match req.uri().path() {
            p if p.starts_with("/api/") => {
                let header = |h: http::header::HeaderName| {
                    req.headers().get(h).and_then(|v| v.to_str().ok())
                };
                let config = self.app.runtime.load().config.clone();
                let call = crate::ops::api::Call {
                    peer,
                    method: req.method(),
                    path: p,
                    query: req.uri().query(),
                    json: header(http::header::CONTENT_TYPE)
                        .is_some_and(|v| v.starts_with("application/json")),
                    authorization: header(http::header::AUTHORIZATION),
                    origin: header(http::header::ORIGIN),
                    host: header(http::header::HOST),
                    token: config.admin_token.as_ref().map(|t| t.0.as_slice()),
                };
                let (status, body) = crate::ops::api::answer(&self.app, call).await;
                (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "application/json",
                    // A newline ends every JSON answer (a shell prompt after curl).
                    Bytes::from(body + "\n"),
                )
            }
            p if dashboard::asset(p).is_some() => {
                let (ctype, body) = dashboard::asset(p).unwrap_or(("text/plain", ""));
                (StatusCode::OK, ctype, Bytes::from_static(body.as_bytes()))
            }
            // Browsers ask for it with the dashboard: nothing, rather than a 404.
            "/favicon.ico" => (StatusCode::NO_CONTENT, "image/x-icon", Bytes::new()),
            "/healthz" => (StatusCode::OK, "text/plain", Bytes::from_static(b"ok\n")),
            "/readyz" => {
                let ready = self.ready();
                self.app.metrics.ready.set(i64::from(ready));
                if ready && self.app.metrics.config_reload_failed.get() != 0 {
                    // Still serving, on the previous configuration: do not take the pod out.
                    (
                        StatusCode::OK,
                        "text/plain",
                        Bytes::from_static(b"ready (last configuration reload refused; previous configuration serving)\n"),
                    )
                } else if ready && !self.app.runtime.load().config.default_secrets.is_empty() {
                    // --dev with a placeholder secret: serving, but say so where it is seen.
                    let paths = self.app.runtime.load().config.default_secrets.join(", ");
                    (
                        StatusCode::OK,
                        "text/plain",
                        Bytes::from(format!("ready (WARNING, --dev: secrets taken from ${{VAR:-default}} defaults, which anyone who read the file can sign with: {paths})\n")),
                    )
                } else if let Some(why) = self.app.handoff.broker_refused() {
                    // Spooling (ready) or refusing (not): either way, say why.
                    let status = if ready {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    let state = if ready {
                        "ready, spooling"
                    } else {
                        "not ready"
                    };
                    (
                        status,
                        "text/plain",
                        Bytes::from(format!("{state}: {why}\n")),
                    )
                } else if let Some(why) = self
                    .app
                    .shared
                    .as_ref()
                    .and_then(|s| s.down())
                    .filter(|_| ready)
                {
                    // Serving: each replica dedups (and limits) alone meanwhile.
                    (
                        StatusCode::OK,
                        "text/plain",
                        Bytes::from(format!(
                            "ready (shared Redis unavailable, deciding alone: {why})\n"
                        )),
                    )
                } else if ready {
                    (StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n"))
                } else if self.draining.load(Ordering::Relaxed) {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        Bytes::from_static(b"draining\n"),
                    )
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        Bytes::from_static(b"hand-off unavailable\n"),
                    )
                }
            }
            "/metrics" => {
                self.app.metrics.ready.set(i64::from(self.ready()));
                let om = crate::obs::metrics::exposition::wants_openmetrics(
                    req.headers()
                        .get(http::header::ACCEPT)
                        .and_then(|v| v.to_str().ok()),
                );
                let ctype = if om {
                    crate::obs::metrics::exposition::OPENMETRICS
                } else {
                    crate::obs::metrics::exposition::CLASSIC
                };
                (
                    StatusCode::OK,
                    ctype,
                    Bytes::from(self.app.metrics.encode(om)),
                )
            }
            _ => (
                StatusCode::NOT_FOUND,
                "text/plain",
                Bytes::from_static(b"not found\n"),
            ),
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
