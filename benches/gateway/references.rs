//! The reference servers, each run as a child process (this binary with
//! `--bare-server`, `--relay-server` or `--commit-server`): bare hyper, the hyper +
//! lapin floor and the hyper + group commit floor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use lapin::options::BasicPublishOptions;

use crate::rabbit::{confirm_channels, message_properties};

/// A runtime of the same shape as hookgate's (multi-threaded tokio, a worker per core).
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Serve `handler` on `port` for good, as hookgate serves (hyper-util's auto builder,
/// `TCP_NODELAY`): the reference servers differ only in what a request does.
async fn serve_forever<F, Fut>(port: u16, handler: F)
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<http::Response<Full<Bytes>>, hyper::Error>>
        + Send
        + 'static,
{
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    loop {
        let (s, _) = l.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let handler = handler.clone();
        tokio::spawn(async move {
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), hyper::service::service_fn(handler))
                    .await;
        });
    }
}

pub(crate) fn bare_server(port: u16) {
    // The reference: read the whole body, answer 200 with a small JSON.
    server_runtime().block_on(serve_forever(port, |req| async move {
        let body = req.into_body().collect().await?.to_bytes();
        let answer = format!(r#"{{"status":"accepted","len":{}}}"#, body.len());
        Ok(http::Response::new(Full::new(Bytes::from(answer))))
    }));
}

/// The stack's floor (this binary with `--relay-server PORT AMQP_URL EXCHANGE CHANNELS`):
/// a hyper server that publishes each body with lapin exactly as the raw publisher does
/// (same properties, same channel count, confirms awaited per request) and answers 200
/// once the broker confirmed it. No checks, no dedup, no metrics, no spool: what any
/// gateway built on hyper and lapin pays on this machine before doing anything of its
/// own, so that hookgate's own cost can be told from its stack's.
pub(crate) fn relay_server(port: u16, url: String, exchange: String, channels: usize) {
    server_runtime().block_on(async move {
        let (_conn, chans) = confirm_channels(&url, channels).await;
        let chans = Arc::new(chans);
        let next = Arc::new(AtomicU64::new(0));
        let exchange: Arc<str> = exchange.into();
        serve_forever(port, move |req| {
            let (chans, next, exchange) = (chans.clone(), next.clone(), exchange.clone());
            async move {
                let id = req
                    .headers()
                    .get("x-github-delivery")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = req.into_body().collect().await?.to_bytes();
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let ch = &chans[n % chans.len()];
                let confirmed = match ch
                    .basic_publish(
                        (&*exchange).into(),
                        "github.push".into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        &body,
                        message_properties(id),
                    )
                    .await
                {
                    Ok(confirm) => confirm.await.is_ok_and(|c| c.is_ack()),
                    Err(_) => false,
                };
                Ok(answer(confirmed))
            }
        })
        .await;
    });
}

/// The floors' answer: 200 once the body is durable, else 503.
fn answer(durable: bool) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(Bytes::from_static(br#"{"status":"accepted"}"#)));
    if !durable {
        *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    }
    r
}

/// The store's floor (this binary with `--commit-server PORT FILE`): a hyper server that
/// hands each body to one writer thread, which appends every body waiting (length-
/// prefixed) to `FILE` in one `write` and makes them durable with one `fdatasync`, then
/// answers each 200: group commit and nothing else (no checks, no ids, no dedup, no
/// checksums, no segments). What any fsync-durable gateway on hyper pays on this
/// machine and disk before doing anything of its own.
pub(crate) fn commit_server(port: u16, file: String) {
    use std::io::Write;
    type Done = tokio::sync::oneshot::Sender<bool>;
    let (tx, rx) = std::sync::mpsc::channel::<(Bytes, Done)>();
    std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .unwrap();
        let mut buf = Vec::new();
        let mut waiting = Vec::new();
        while let Ok(first) = rx.recv() {
            waiting.push(first);
            while waiting.len() < 512 {
                match rx.try_recv() {
                    Ok(m) => waiting.push(m),
                    Err(_) => break,
                }
            }
            buf.clear();
            for (body, _) in &waiting {
                buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
                buf.extend_from_slice(body);
            }
            let ok = f.write_all(&buf).and_then(|_| f.sync_data()).is_ok();
            for (_, done) in waiting.drain(..) {
                let _ = done.send(ok);
            }
        }
    });
    server_runtime().block_on(serve_forever(port, move |req| {
        let tx = tx.clone();
        async move {
            let body = req.into_body().collect().await?.to_bytes();
            let (done, durable) = tokio::sync::oneshot::channel();
            let _ = tx.send((body, done));
            Ok(answer(durable.await.unwrap_or(false)))
        }
    }));
}
