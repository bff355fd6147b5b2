//! The HTTP client that talks to the application: hyper-util's pooled client (keep-alive,
//! HTTP/1.1, and HTTP/2 when the server offers it over TLS) on hyper-rustls, trusting the
//! system's roots plus a destination's own CA file. One client per CA file; every
//! destination without one shares the default client and its pool.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;

use crate::config::CaFile;

type Inner = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Clone)]
pub(crate) struct Client(Inner);

/// The application's answer, its body read whole (bounded).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why there is no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// No connection (refused, DNS, TLS handshake).
    #[error("connect: {0}")]
    Connect(String),
    /// No complete answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// The connection broke mid-exchange, or the answer was malformed or too large.
    #[error("{0}")]
    Broken(String),
}

impl Client {
    /// The client for `ca` (the shared default one when `None`).
    pub(crate) fn for_ca(ca: Option<&Arc<CaFile>>) -> Client {
        static DEFAULT: OnceLock<Client> = OnceLock::new();
        match ca {
            None => DEFAULT.get_or_init(|| Client::build(&[])).clone(),
            Some(ca) => Client::build(&ca.certs),
        }
    }

    fn build(extra: &[CertificateDer<'static>]) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        if !native.errors.is_empty() {
            tracing::warn!(
                errors = native.errors.len(),
                "some system CA certificates could not be read"
            );
        }
        roots.add_parsable_certificates(native.certs);
        roots.add_parsable_certificates(extra.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Client(inner)
    }

    /// Send `req` and read the answer, all within `timeout`. A body past `max_body`
    /// bytes is a [`Failure::Broken`] with [`Past::Refuse`] (the proxy, which must pass
    /// the answer on whole); with [`Past::Cut`] its first `max_body` bytes are kept and
    /// the rest is not read (delivery, where only the status counts: a 2xx with a large
    /// body still takes the event).
    pub(crate) async fn send(
        &self,
        req: Request<Full<Bytes>>,
        timeout: Duration,
        max_body: usize,
        past: Past,
    ) -> Result<Answer, Failure> {
        let exchange = async {
            let resp = self.0.request(req).await.map_err(|e| {
                if e.is_connect() {
                    Failure::Connect(error_chain(&e))
                } else {
                    Failure::Broken(error_chain(&e))
                }
            })?;
            let (parts, body) = resp.into_parts();
            let body = match past {
                Past::Refuse => Limited::new(body, max_body)
                    .collect()
                    .await
                    .map_err(|e| Failure::Broken(format!("reading the answer: {e}")))?
                    .to_bytes(),
                Past::Cut => read_prefix(body, max_body).await,
            };
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }
}

/// What [`Client::send`] does with an answer's body past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Past {
    Refuse,
    Cut,
}

/// At most `max` bytes of `body`; a body that breaks off keeps what arrived.
async fn read_prefix(mut body: hyper::body::Incoming, max: usize) -> Bytes {
    let mut out = bytes::BytesMut::new();
    while out.len() < max {
        match body.frame().await {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    out.extend_from_slice(&d[..d.len().min(max - out.len())]);
                }
            }
            _ => break,
        }
    }
    out.freeze()
}

/// "a: b: c" from an error and its sources (hyper's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
