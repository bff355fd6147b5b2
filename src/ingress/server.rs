//! The ingress listener: accept loop, connection limit, TLS, HTTP/1.1 and HTTP/2, the
//! timeouts that cut off slow senders, and graceful shutdown. Everything about a
//! request's content happens in `pipeline`; this file is transport only.
//!
//! Timeouts, and why each sits where it does: a new connection must send its first
//! bytes (or finish its TLS handshake) within `header_timeout`, because hyper's own
//! header timer only starts once it is parsing HTTP/1 and the HTTP version sniffing
//! before it would otherwise wait forever; hyper then enforces `header_timeout` on each
//! request head; `pipeline` enforces `request_timeout` on the body. hyper has no such
//! timer for HTTP/2 (PINGs keep a connection alive, and a HEADERS frame without
//! END_HEADERS never becomes a request), so every connection, HTTP/1.1 or HTTP/2, h2c or
//! TLS, that has had no request in flight for `header_timeout` is shut down ([`drive`]):
//! GOAWAY, then closed at most [`CLOSE_MARGIN`] later.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::ingress::pipeline::{self, App};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long an idle connection gets, after its GOAWAY, to close by itself.
const CLOSE_MARGIN: Duration = Duration::from_secs(1);

fn builder(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(64 * 1024);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(64 * 1024)
        .max_concurrent_streams(256)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    b
}

/// Wait until the client has sent enough to tell HTTP/1 from HTTP/2, within `limit`.
async fn first_bytes(tcp: &TcpStream, limit: Duration) -> bool {
    let probe = async {
        let mut buf = [0u8; 24];
        loop {
            match tcp.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if n >= buf.len() || !H2_PREFACE.starts_with(&buf[..n]) => return true,
                // A partial HTTP/2 preface: more is coming, peek again shortly.
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    tokio::time::timeout(limit, probe).await.unwrap_or(false)
}

/// Serve webhooks on `listener` until `stop` turns true, then let in-flight requests
/// finish for up to `grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let limits = app.runtime.load().config.limits.clone();
    let max_connections = within_fd_limit(limits.max_connections);
    let conns = Arc::new(Semaphore::new(max_connections));
    let builder = builder(limits.header_timeout);
    loop {
        // At max_connections, stop accepting: the kernel backlog holds the rest.
        let permit = tokio::select! {
            p = conns.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stopped(&mut stop) => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            app.metrics.connections.inc();
            let _open = Defer(|| {
                app.metrics.connections.dec();
            });
            let https = tls.is_some();
            let activity = Arc::new(Activity::new());
            let svc = {
                let app = app.clone();
                let activity = activity.clone();
                service_fn(move |req| {
                    let app = app.clone();
                    let busy = activity.begin();
                    async move {
                        let r = pipeline::handle(app, req, peer, https).await;
                        drop(busy);
                        Ok::<_, Infallible>(r)
                    }
                })
            };
            let result = match tls {
                None => {
                    if !first_bytes(&tcp, header_timeout).await {
                        return;
                    }
                    let conn = builder
                        .serve_connection(TokioIo::new(tcp), svc)
                        .into_owned();
                    drive(conn, &activity, header_timeout, stop).await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                    let b = if h2 {
                        builder.http2_only()
                    } else {
                        builder.http1_only()
                    };
                    let conn = b.serve_connection(TokioIo::new(stream), svc).into_owned();
                    drive(conn, &activity, header_timeout, stop).await
                }
            };
            if let Err(e) = result {
                tracing::trace!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("listener closed; draining in-flight requests");
    // Every connection holds a permit until it ends: all of them back means all closed.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, conns.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(grace = %crate::human(grace), "grace period over with requests still in flight");
    }
}

/// Drive one connection until it ends; on `stop`, or after `idle` with no request in
/// flight, shut it down gracefully (HTTP/2: GOAWAY; in-flight requests finish).
async fn drive<C, E>(
    conn: C,
    activity: &Activity,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) -> Result<(), E>
where
    C: GracefulConnection<Error = E> + Future<Output = Result<(), E>>,
{
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => return r,
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            // Bounded by the grace period in `serve`.
            return conn.await;
        }
        _ = activity.idle_for(idle) => conn.as_mut().graceful_shutdown(),
    }
    // Idle: nothing in flight, so nothing is cut short by closing.
    tokio::time::timeout(CLOSE_MARGIN, conn)
        .await
        .unwrap_or(Ok(()))
}

/// Requests in flight on one connection, and when the last one started or ended.
struct Activity {
    base: Instant,
    active: AtomicUsize,
    /// Milliseconds after `base`.
    last: AtomicU64,
    ended: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            base: Instant::now(),
            active: AtomicUsize::new(0),
            last: AtomicU64::new(0),
            ended: Notify::new(),
        }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.touch();
        Busy(self.clone())
    }

    /// Resolves once no request has been in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            if self.active.load(Ordering::Relaxed) > 0 {
                self.ended.notified().await;
                continue;
            }
            let last = self.last.load(Ordering::Relaxed);
            tokio::time::sleep_until(self.base + Duration::from_millis(last) + idle).await;
            if self.active.load(Ordering::Relaxed) == 0 && self.last.load(Ordering::Relaxed) == last
            {
                return;
            }
        }
    }
}

/// One request in flight on a connection.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.active.fetch_sub(1, Ordering::Relaxed);
        // notify_one keeps a permit when nobody waits yet: no wake-up is lost.
        self.0.ended.notify_one();
    }
}

/// Descriptors kept back from the ingress: the admin listener and its connections, the
/// store's files, the broker's socket, the config watcher (about 30 at rest).
const FD_RESERVE: usize = 128;

/// `max_connections`, lowered so that the ingress alone can never use up the process's
/// descriptors (`ulimit -n`): at its limit it stops accepting, and the admin port, the
/// store and the broker still open what they need.
fn within_fd_limit(max_connections: usize) -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse::<usize>()
                .ok()
        });
    match soft {
        Some(soft) if soft < max_connections + FD_RESERVE => {
            let fit = soft.saturating_sub(FD_RESERVE).max(1);
            tracing::warn!(
                max_connections,
                open_files_limit = soft,
                "limits.max_connections lowered to {fit}: the open-files limit keeps {FD_RESERVE} descriptors for the rest (raise `ulimit -n` for more)"
            );
            fit
        }
        _ => max_connections,
    }
}

/// Resolves once `stop` is true (returns no guard, so callers stay `Send`).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Bind, with a clear error.
pub(crate) async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} ({what}): {e}"))
}
