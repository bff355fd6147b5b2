//! Configuration: the raw YAML tree (`raw`), and the validated, compiled [`Config`]
//! the server runs on. Loading (`load`) collects every problem with its YAML location
//! before refusing a file; nothing here is read again on the request path.

mod deliver;
mod load;
mod raw;
pub(crate) mod tls;
pub(crate) mod units;

// Defined beside their users, which sit below the configuration.
pub(crate) use crate::config::tls::TlsConfig;
pub(crate) use crate::obs::telemetry::{LogConfig, LogFormat};
pub(crate) use crate::obs::traces::TracesConfig;

pub(crate) use deliver::{glob, Backoff, CaFile, Destination, Proxy};
pub use load::load_str;
pub(crate) use load::{load_for_inspection, load_mode, worst_body_memory, ConfigErrors};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;

use crate::checks::event::Source;
use crate::checks::ratelimit::RateSpec;
use crate::checks::schema::Schema;
use crate::checks::verify::{Provider, Verifier};

/// A validated configuration: every address parsed, secret decoded, schema compiled.
#[derive(Debug)]
pub struct Config {
    /// The file this was loaded from.
    pub source: PathBuf,
    pub listen: SocketAddr,
    /// Where `listen` is set (`listen, hookgate.yaml:3:9`), for errors about it.
    pub listen_at: String,
    pub admin_listen: SocketAddr,
    pub admin_at: String,
    /// `admin.token`: the bearer token the admin API asks of its callers (never logged).
    pub admin_token: Option<Secret>,
    pub tls: Option<TlsConfig>,
    pub limits: Limits,
    pub shutdown: ShutdownConfig,
    pub trusted_proxies: Vec<IpNet>,
    pub store: StoreConfig,
    pub broker: Option<BrokerConfig>,
    pub log: LogConfig,
    /// `traces:`: OpenTelemetry spans over OTLP/HTTP (off without it).
    pub traces: Option<TracesConfig>,
    pub routes: Vec<Arc<Route>>,
    /// Every file the configuration depends on (secrets, schemas, TLS), for reload.
    pub files: Vec<PathBuf>,
    /// Things that work but deserve a word at startup (e.g. `verify: none`).
    pub warnings: Vec<String>,
    /// Loaded with `--dev`: secrets may come from `${VAR:-default}` defaults.
    pub dev: bool,
    /// The YAML paths of secrets that came from a default (only with `dev`), for
    /// `/readyz`'s detail.
    pub default_secrets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_in_flight: usize,
    /// Requests one client (IP after trusted proxies, IPv6 by `ipv6_prefix`) may have in
    /// flight at once.
    pub max_in_flight_per_client: usize,
    /// Bytes of request bodies held at once, all clients together (bodies are held
    /// until their hand-off is done): past it, 503 before reading more.
    pub body_memory: usize,
    /// The share of `body_memory` one client may hold.
    pub body_memory_per_client: usize,
    /// After `header_timeout` of reading a body, a sender must keep up this many bytes
    /// per second on average or get 408 (0: off).
    pub min_body_rate: usize,
    /// IPv6 clients are one client per prefix of this length (they own their /64).
    pub ipv6_prefix: u8,
    /// The memory the process may use: `limits.memory`, else the cgroup limit, else
    /// unknown. Only checked against (`hookgate check` warns), never enforced.
    pub memory: Option<(usize, MemorySource)>,
}

/// Where [`Limits::memory`] came from, for the warning's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemorySource {
    Setting,
    Cgroup,
}

#[derive(Debug, Clone)]
pub struct ShutdownConfig {
    /// After SIGTERM, keep serving new connections this long with `/readyz` at 503,
    /// so that load balancers stop sending before the listener closes.
    pub delay: Duration,
    /// How long in-flight requests get to finish once the listener closed.
    pub grace: Duration,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub dedup_window: Duration,
    /// Kept events (no broker) older than this are removed, a journal segment at a time;
    /// `None`: kept forever. The spool is never trimmed: its events are not delivered yet.
    pub retention: Option<Duration>,
    pub rejections: RejectionsConfig,
    /// With a broker: also keep a copy of each confirmed event in the event journal,
    /// for listing and replay (without a broker the journal is where events are kept).
    pub archive: bool,
    /// `store.dedup.redis`: ids accepted by any replica answer `duplicate` on all.
    pub shared: Option<RedisConfig>,
}

/// A Redis the replicas share: the dedup ids and the shared rate limits.
#[derive(Clone)]
pub struct RedisConfig {
    /// May carry a password: never print it, use [`RedisConfig::redacted_url`].
    pub url: String,
    /// Prepended to every key, so that deployments can share a Redis.
    pub key_prefix: String,
    /// Longest wait for an answer on the request path; past it the replica decides
    /// alone (and counts it).
    pub timeout: Duration,
}

impl RedisConfig {
    pub fn redacted_url(&self) -> String {
        redacted(&self.url)
    }
}

/// `url` with its password, if any, replaced by `***`, for logs and messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable url>".to_string(),
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RedisConfig({}, {:?})",
            self.redacted_url(),
            self.key_prefix
        )
    }
}

/// Bytes of refused requests waiting for the rejection log's writer, all routes
/// together: counted with the bodies in `limits.memory`'s check.
pub(crate) const REJECTIONS_QUEUE_BYTES: usize = 8 << 20;

/// `store.rejections.max_bytes` unless set: the log's records, all routes together.
pub(crate) const DEFAULT_REJECTIONS_BYTES: usize = 32 << 20;

/// The rejection log (see `rejections`).
#[derive(Debug, Clone)]
pub struct RejectionsConfig {
    /// Most records kept per route (unmatched paths count as the route `none`), so that
    /// a flood on one route does not push another's out.
    pub keep: usize,
    /// Records older than this are removed.
    pub max_age: Duration,
    /// The bytes the records may take in the store, all routes together; past it the
    /// route holding the most gives up its oldest, so a flood pushes out its own.
    pub max_bytes: usize,
    /// Keep the request as received (body and header values), which shows the body's
    /// first bytes and allows replaying it. Off by default: bodies are personal data.
    pub capture_body: bool,
}

#[derive(Clone)]
pub struct BrokerConfig {
    /// Full AMQP URL, password included: never print it, use [`BrokerConfig::redacted_url`].
    /// As written: one URL, or several separated by commas.
    pub url: String,
    /// The URLs of `url`: a cluster's nodes, tried in turn (at least one).
    pub urls: Vec<String>,
    pub exchange: String,
    pub confirm_timeout: Duration,
    pub when_unavailable: WhenUnavailable,
    /// Declare the topology (default). `false`: only check that it exists (passive), for
    /// brokers where hookgate's user may not configure.
    pub declare: bool,
    /// Extra CA certificates (PEM) for amqps://, e.g. a cluster's private CA.
    pub ca: Option<String>,
}

impl BrokerConfig {
    /// The URLs with any password replaced, for logs and `hookgate check`.
    pub fn redacted_url(&self) -> String {
        (0..self.urls.len())
            .map(|i| self.redacted_at(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `i`th URL with any password replaced.
    pub fn redacted_at(&self, i: usize) -> String {
        self.urls.get(i).map(|u| redacted(u)).unwrap_or_default()
    }
}

impl std::fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("url", &self.redacted_url())
            .field("exchange", &self.exchange)
            .field("confirm_timeout", &self.confirm_timeout)
            .field("when_unavailable", &self.when_unavailable)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnavailable {
    Spool,
    Reject,
}

impl std::fmt::Display for WhenUnavailable {
    /// As the configuration spells it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WhenUnavailable::Spool => "spool",
            WhenUnavailable::Reject => "reject",
        })
    }
}

/// One webhook endpoint, with everything its checks need already compiled.
#[derive(Debug)]
pub struct Route {
    pub name: Arc<str>,
    pub path: String,
    pub provider: Option<Provider>,
    pub verifier: Verifier,
    /// The decoded keys, kept for `hookgate sign`; the verifier holds prepared state.
    pub secrets: Vec<Secret>,
    pub allow_ips: Option<Vec<IpNet>>,
    pub rate_limit: Option<RateSpec>,
    /// `body: json` (default): the body must parse as JSON.
    pub body_json: bool,
    /// The body is parsed into a `serde_json::Value` (decided once, at load).
    pub json_tree: bool,
    pub schema: Option<Schema>,
    pub queue: String,
    pub forward_headers: Vec<HeaderName>,
    pub public_url: Option<String>,
    /// Meta's `hub.verify_token`, for its subscription handshake (never logged).
    pub verify_token: Option<Secret>,
    /// Where the event id comes from, first match wins; else `sha256:<hex of body>`.
    pub event_id: Vec<Source>,
    pub event_type: Vec<Source>,
    /// Asynchronous delivery to the application (docs/delivery.md); empty: none.
    pub deliver: Vec<Arc<Destination>>,
    /// Synchronous proxy to the application; never together with `deliver`.
    pub proxy: Option<Proxy>,
}

/// Key bytes that never print.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
