//! A real HTTP application for delivery and proxy tests: a hyper server on a free port
//! that records every request (when, headers, body), answers as the test says, and
//! counts the requests in flight.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// One request the application received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How the application answers a request (`n`: its number, from 0).
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }
}

type Behaviour = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub struct App {
    pub port: u16,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl App {
    pub fn start(behaviour: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> App {
        App::start_on(super::common::free_port(), behaviour)
    }

    /// On a given port (an application that comes up where a gateway already delivers).
    pub fn start_on(
        port: u16,
        behaviour: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> App {
        App::start_with(port, None, behaviour)
    }

    /// Over HTTPS, with a certificate for `localhost` issued by a CA of its own; returns
    /// the CA certificate's PEM too.
    pub fn start_tls(
        behaviour: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> (App, String) {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let app = App::start_with(super::common::free_port(), Some(acceptor), behaviour);
        (app, ca.pem())
    }

    fn start_with(
        port: u16,
        tls: Option<tokio_rustls::TlsAcceptor>,
        behaviour: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> App {
        let state = Arc::new(State::default());
        let behaviour: Arc<Behaviour> = Arc::new(behaviour);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(port, tls, st, behaviour, stopped, ready_tx));
        });
        ready.recv_timeout(Duration::from_secs(5)).unwrap();
        App {
            port,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Wait until at least `n` requests arrived (or `limit` passed); returns them.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + limit;
        loop {
            let seen = self.seen();
            if seen.len() >= n || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    port: u16,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
    behaviour: Arc<Behaviour>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<()>,
) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap();
    ready.send(()).unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
            _ = &mut stopped => return,
        };
        let (state, behaviour, count) = (state.clone(), behaviour.clone(), count.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let (state, behaviour, count) = (state.clone(), behaviour.clone(), count.clone());
                async move {
                    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let seen = Seen {
                        at: Instant::now(),
                        path: parts.uri.path().to_string(),
                        headers: parts.headers,
                        body,
                    };
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let reply = behaviour(&seen, n);
                    tokio::time::sleep(reply.delay).await;
                    // Recorded once answered: a request the gateway gave up on before the
                    // answer still counts, since the application did receive it.
                    state.seen.lock().unwrap().push(seen);
                    state.in_flight.fetch_sub(1, Ordering::SeqCst);
                    let mut resp = http::Response::new(Full::new(Bytes::from(reply.body)));
                    *resp.status_mut() = http::StatusCode::from_u16(reply.status).unwrap();
                    for (k, v) in reply.headers {
                        resp.headers_mut().insert(k, v.parse().unwrap());
                    }
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                None => drop(http.serve_connection(TokioIo::new(stream), svc).await),
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        drop(http.serve_connection(TokioIo::new(stream), svc).await);
                    }
                }
            }
        });
    }
}
