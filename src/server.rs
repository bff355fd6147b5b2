//! The ingress listener: accept loop, connection limit, TLS, HTTP/1.1 and HTTP/2, the
//! timeouts that cut off slow senders, and graceful shutdown. Everything about a
//! request's content happens in `pipeline`; this file is transport only.
//!
//! Timeouts, and why each sits where it does: a new connection must send its first
//! bytes (or finish its TLS handshake) within `header_timeout`, because hyper's own
//! header timer only starts once it is parsing HTTP/1 and the HTTP version sniffing
//! before it would otherwise wait forever; hyper then enforces `header_timeout` on each
//! request head; `pipeline` enforces `request_timeout` on the body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::pipeline::{self, App};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

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
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let limits = app.runtime.load().config.limits.clone();
    let conns = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
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
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            app.metrics.connections.inc();
            let _open = Defer(|| {
                app.metrics.connections.dec();
            });
            let https = tls.is_some();
            let svc = {
                let app = app.clone();
                service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(pipeline::handle(app, req, peer, https).await) }
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
                    watcher.watch(conn).await
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
                    watcher.watch(conn).await
                }
            };
            if let Err(e) = result {
                tracing::trace!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("listener closed; draining in-flight requests");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?grace, "grace period over with requests still in flight");
    }
}

/// Resolves once `stop` is true (returns no guard, so callers stay `Send`).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Bind, with a clear error.
pub async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} ({what}): {e}"))
}
