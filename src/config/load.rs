//! Loading: YAML text -> raw tree -> validated [`Config`]. Problems are collected, not
//! returned one at a time, and each carries `FILE:LINE:COL: yaml.path: message`. Error
//! messages never quote secret values: serde's "invalid type: string \"...\"" is
//! rewritten, and expansion errors name the variable only.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;
use saphyr_parser::{Event, Parser};

mod limits;

pub use limits::worst_body_memory;

use super::raw::*;
use super::units::{expand, expand_tracked, parse_duration};
use super::*;
use crate::event::Source;
use crate::ratelimit::RateSpec;
use crate::schema::Schema;
use crate::verify::{HmacSpec, Provider, Verifier};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "."
        } else {
            &self.path
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, path, self.message
        )
    }
}

/// Every problem found in a file, in file order.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Load and validate the configuration at `path`, with the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_mode(path, false)
}

/// [`load`]; with `dev`, a secret taken from a `${VAR:-default}` default is a warning
/// instead of an error (`--dev`: the example configuration's placeholders are public).
pub fn load_mode(path: &Path, dev: bool) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: 1,
            col: 1,
            path: String::new(),
            message: format!("cannot read configuration: {e}"),
        }])
    })?;
    load_text(&text, path, &|k| std::env::var(k).ok(), dev)
}

/// Load from text; `path` names the file in errors and anchors relative paths.
pub fn load_str(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    load_text(text, path, env, false)
}

fn load_text(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    dev: bool,
) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let locs = match locate(text) {
        Ok(l) => l,
        Err((line, col, msg)) => {
            return Err(ConfigErrors(vec![ConfigError {
                file,
                line,
                col,
                path: String::new(),
                message: format!("invalid YAML: {msg}"),
            }]))
        }
    };
    let raw: RawConfig = if text.trim().is_empty() {
        return Err(ConfigErrors(vec![ConfigError {
            file,
            line: 1,
            col: 1,
            path: String::new(),
            message: "the configuration is empty".into(),
        }]));
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        match serde_path_to_error::deserialize(de) {
            Ok(r) => r,
            Err(e) => return Err(ConfigErrors(vec![serde_error(&file, &locs, e)])),
        }
    };
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut v = Validator {
        file,
        locs,
        env,
        base,
        errors: Vec::new(),
        files: vec![path.to_path_buf()],
        warnings: Vec::new(),
        dev,
        default_secrets: Vec::new(),
    };
    let cfg = v.config(raw, path);
    if v.errors.is_empty() {
        Ok(cfg)
    } else {
        v.errors.sort_by_key(|e| (e.line, e.col));
        Err(ConfigErrors(v.errors))
    }
}

fn serde_error(
    file: &str,
    locs: &Locations,
    e: serde_path_to_error::Error<serde_yaml_ng::Error>,
) -> ConfigError {
    let mut path = e.path().to_string();
    if path == "." {
        path.clear();
    }
    let mut message = e.inner().to_string();
    // serde_yaml appends " at line L column C"; the location has its own place.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    // serde_yaml prefixes its own rendering of the path ("limits: ..."); ours is better.
    if let Some((head, rest)) = message.split_once(": ") {
        if !head.contains(' ') && !rest.is_empty() {
            message = rest.to_string();
        }
    }
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        if !path.ends_with(field) {
            path = join(&path, field);
        }
    }
    // Never echo a configured value back: it may be a secret (`secrets: 'x'` is the
    // wrong type; `broker: amqp://...` too). Only the kind of value is kept.
    message = redact_value(&message);
    let (line, col) = e
        .inner()
        .location()
        .map(|l| (l.line(), l.column()))
        .or_else(|| locs.get(&path))
        .unwrap_or((1, 1));
    ConfigError {
        file: file.to_string(),
        line,
        col,
        path,
        message,
    }
}

/// serde's `invalid type: string "...", expected X` (or `invalid value:`) without the
/// value. The value may itself contain `, expected `, so the last one is the boundary.
fn redact_value(message: &str) -> String {
    for lead in ["invalid type: ", "invalid value: "] {
        let Some(rest) = message.strip_prefix(lead) else {
            continue;
        };
        let (value, expected) = match rest.rfind(", expected ") {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let kind = [
            "string",
            "boolean",
            "integer",
            "floating point",
            "map",
            "sequence",
        ]
        .into_iter()
        .find(|k| value.starts_with(k))
        .unwrap_or("value");
        return format!("{lead}{kind}{expected}");
    }
    message.to_string()
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// YAML path (`routes[0].secrets[1]`) -> 1-based line and column of its key or value.
struct Locations(HashMap<String, (usize, usize)>);

impl Locations {
    /// The location of `path`, or of its nearest ancestor that is in the file.
    fn get(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(l) = self.0.get(p) {
                return Some(*l);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

/// Walk the YAML events once, recording where every path starts.
fn locate(text: &str) -> Result<Locations, (usize, usize, String)> {
    let mut map = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    // The path a value about to start lives at, and whether it is a mapping key.
    fn slot(stack: &mut [Frame]) -> (Option<String>, bool) {
        match stack.last_mut() {
            None => (Some(String::new()), false),
            Some(Frame::Map { key: None, .. }) => (None, true),
            Some(Frame::Map { path, key }) => {
                let k = key.take().unwrap_or_default();
                (Some(join(path, &k)), false)
            }
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                (Some(p), false)
            }
        }
    }
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            let m = e.marker();
            (m.line(), m.col() + 1, e.info().to_string())
        })?;
        let at = (span.start.line(), span.start.col() + 1);
        match ev {
            Event::Scalar(value, ..) => match slot(&mut stack) {
                (_, true) => {
                    if let Some(Frame::Map { path, key }) = stack.last_mut() {
                        map.insert(join(path, &value), at);
                        *key = Some(value.into_owned());
                    }
                }
                (Some(p), false) => {
                    map.insert(p, at);
                }
                (None, false) => {}
            },
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let path = match slot(&mut stack) {
                    (Some(p), _) => p,
                    // A complex mapping key: track it under a name no path uses.
                    (None, _) => "\u{0}".to_string(),
                };
                map.entry(path.clone()).or_insert(at);
                stack.push(if is_map {
                    Frame::Map { path, key: None }
                } else {
                    Frame::Seq { path, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Alias(_) => {
                let _ = slot(&mut stack);
            }
            _ => {}
        }
    }
    Ok(Locations(map))
}

struct Validator<'a> {
    file: String,
    locs: Locations,
    env: &'a dyn Fn(&str) -> Option<String>,
    base: PathBuf,
    errors: Vec<ConfigError>,
    files: Vec<PathBuf>,
    warnings: Vec<String>,
    dev: bool,
    default_secrets: Vec<String>,
}

impl Validator<'_> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let (line, col) = self.locs.get(path).unwrap_or((1, 1));
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            col,
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// The expanded text of a scalar, or `None` after recording why not.
    fn text(&mut self, path: &str, s: &Scalar) -> Option<String> {
        match expand(&s.0, self.env) {
            Ok(t) => Some(t),
            Err(m) => {
                self.err(path, m);
                None
            }
        }
    }

    fn parsed<T>(
        &mut self,
        path: &str,
        s: Option<&Scalar>,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T
    where
        T: Clone,
    {
        let Some(s) = s else { return default };
        let Some(t) = self.text(path, s) else {
            return default;
        };
        match parse(&t) {
            Ok(v) => v,
            Err(m) => {
                self.err(path, m);
                default
            }
        }
    }

    fn path_of(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn duration(&mut self, path: &str, s: Option<&Scalar>, default: Duration) -> Duration {
        self.parsed(path, s, default, parse_duration)
    }

    fn count(&mut self, path: &str, s: Option<&Scalar>, default: usize) -> usize {
        self.parsed(path, s, default, |t| match t.trim().parse::<usize>() {
            Ok(0) => Err("must be at least 1".into()),
            Ok(n) => Ok(n),
            Err(_) => Err(format!("expected a positive whole number, got {t:?}")),
        })
    }

    fn addr(&mut self, path: &str, s: Option<&Scalar>, default: &str) -> SocketAddr {
        let fallback: SocketAddr = default.parse().expect("built-in default address is valid");
        self.parsed(path, s, fallback, |t| {
            t.parse::<SocketAddr>()
                .map_err(|_| format!("expected an address like 0.0.0.0:8080, got {t:?}"))
        })
    }

    fn net(&mut self, path: &str, s: &Scalar) -> Option<IpNet> {
        let t = self.text(path, s)?;
        match parse_net(&t) {
            Ok(n) => Some(n),
            Err(m) => {
                self.err(path, m);
                None
            }
        }
    }

    fn config(&mut self, raw: RawConfig, source: &Path) -> Config {
        let listen = self.addr("listen", raw.listen.as_ref(), "0.0.0.0:8080");
        let admin_listen = self.addr(
            "admin.listen",
            raw.admin.as_ref().and_then(|a| a.listen.as_ref()),
            "127.0.0.1:9090",
        );
        let tls = raw.tls.as_ref().and_then(|t| self.tls(t));
        let limits = self.limits(raw.limits.as_ref());
        // Port 0 asks the system for a free port: never the same one twice.
        if admin_listen.port() == listen.port()
            && listen.port() != 0
            && (admin_listen.ip() == listen.ip()
                || admin_listen.ip().is_unspecified()
                || listen.ip().is_unspecified())
        {
            self.err(
                "admin.listen",
                format!(
                    "{admin_listen} overlaps `listen` ({listen}): the admin port must be its own"
                ),
            );
        }
        let s = raw.shutdown.as_ref();
        let shutdown = ShutdownConfig {
            delay: self.duration(
                "shutdown.delay",
                s.and_then(|s| s.delay.as_ref()),
                Duration::ZERO,
            ),
            grace: self.duration(
                "shutdown.grace",
                s.and_then(|s| s.grace.as_ref()),
                Duration::from_secs(25),
            ),
        };
        let mut trusted_proxies = Vec::new();
        for (i, p) in raw.trusted_proxies.iter().flatten().enumerate() {
            if let Some(n) = self.net(&format!("trusted_proxies[{i}]"), p) {
                trusted_proxies.push(n);
            }
        }
        let st = raw.store.as_ref();
        let store_path = self.parsed(
            "store.path",
            st.and_then(|s| s.path.as_ref()),
            "./hookgate-data".to_string(),
            |t| {
                if t.is_empty() {
                    Err("must not be empty".into())
                } else {
                    Ok(t.to_string())
                }
            },
        );
        let store = StoreConfig {
            path: self.path_of(&store_path),
            dedup_window: self.duration(
                "store.dedup_window",
                st.and_then(|s| s.dedup_window.as_ref()),
                Duration::from_secs(72 * 3600),
            ),
            // A week: providers retry for up to three days, and an operator who notices
            // a problem after a weekend can still list and replay what arrived.
            retention: self.parsed(
                "store.retention",
                st.and_then(|s| s.retention.as_ref()),
                Some(Duration::from_secs(7 * 24 * 3600)),
                |t| match t {
                    "forever" => Ok(None),
                    t => match parse_duration(t)? {
                        d if d.is_zero() => Err("must be more than 0 (or `forever`)".into()),
                        d => Ok(Some(d)),
                    },
                },
            ),
        };
        let broker = raw.broker.as_ref().and_then(|b| self.broker(b));
        let lg = raw.log.as_ref();
        let log = LogConfig {
            format: self.parsed(
                "log.format",
                lg.and_then(|l| l.format.as_ref()),
                LogFormat::Text,
                |t| match t {
                    "text" => Ok(LogFormat::Text),
                    "json" => Ok(LogFormat::Json),
                    _ => Err(format!("expected text or json, got {t:?}")),
                },
            ),
            level: self.parsed(
                "log.level",
                lg.and_then(|l| l.level.as_ref()),
                "info".to_string(),
                |t| Ok(t.to_string()),
            ),
        };
        let mut routes = Vec::new();
        match raw.routes {
            None => self.err("routes", "at least one route is required"),
            Some(rs) if rs.is_empty() => self.err("routes", "at least one route is required"),
            Some(rs) => {
                let mut names = HashSet::new();
                let mut paths = HashSet::new();
                for (i, r) in rs.into_iter().enumerate() {
                    let p = format!("routes[{i}]");
                    // Uniqueness is checked even for routes with other problems.
                    let env = self.env;
                    if let Some(n) = r.name.as_ref().and_then(|n| expand(&n.0, env).ok()) {
                        if !names.insert(n.clone()) {
                            self.err(
                                &format!("{p}.name"),
                                format!("route name {n:?} is used twice"),
                            );
                        }
                    }
                    if let Some(t) = r.path.as_ref().and_then(|t| expand(&t.0, env).ok()) {
                        if !paths.insert(t.clone()) {
                            self.err(
                                &format!("{p}.path"),
                                format!("path {t:?} is used by two routes"),
                            );
                        }
                    }
                    if let Some(route) = self.route(&p, r) {
                        routes.push(Arc::new(route));
                    }
                }
            }
        }
        Config {
            source: source.to_path_buf(),
            listen,
            admin_listen,
            tls,
            limits,
            shutdown,
            trusted_proxies,
            store,
            broker,
            log,
            routes,
            files: std::mem::take(&mut self.files),
            warnings: std::mem::take(&mut self.warnings),
            dev: self.dev,
            default_secrets: std::mem::take(&mut self.default_secrets),
        }
    }

    fn tls(&mut self, t: &RawTls) -> Option<TlsConfig> {
        let cert = self.text("tls.cert", &t.cert).map(|c| self.path_of(&c));
        let key = self.text("tls.key", &t.key).map(|k| self.path_of(&k));
        let (cert, key) = (cert?, key?);
        if let Err(m) = crate::tls::load_certified_key(&cert, &key) {
            self.err("tls", m);
            return None;
        }
        self.files.push(cert.clone());
        self.files.push(key.clone());
        Some(TlsConfig { cert, key })
    }

    fn broker(&mut self, b: &RawBroker) -> Option<BrokerConfig> {
        let url = self.secret("broker.url", &b.url)?;
        match url::Url::parse(&url) {
            // What lapin will parse at connect time; its errors can quote the URL, so
            // only ours (which never does) is shown.
            Ok(u) if u.scheme() == "amqp" || u.scheme() == "amqps" => {
                if url.parse::<lapin::uri::AMQPUri>().is_err() {
                    self.err(
                        "broker.url",
                        "not a valid AMQP URL (check the port, the percent-encoding of the user, password and vhost, and numeric query parameters such as frame_max)",
                    );
                    return None;
                }
            }
            Ok(_) => {
                self.err("broker.url", "the URL must start with amqp:// or amqps://");
                return None;
            }
            Err(e) => {
                self.err("broker.url", format!("not a valid URL: {e}"));
                return None;
            }
        }
        let exchange = self.parsed(
            "broker.exchange",
            b.exchange.as_ref(),
            "hookgate".to_string(),
            |t| {
                if t.is_empty() || t.len() > 200 || t.starts_with("amq.") {
                    Err("an exchange name is 1-200 bytes and does not start with amq.".into())
                } else {
                    Ok(t.to_string())
                }
            },
        );
        let declare = self.parsed("broker.declare", b.declare.as_ref(), true, |t| match t {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("expected true or false, got {t:?}")),
        });
        let ca = b.ca.as_ref().and_then(|s| {
            let t = self.text("broker.ca", s)?;
            let file = self.path_of(&t);
            let pem = match std::fs::read_to_string(&file) {
                Ok(p) => p,
                Err(e) => {
                    self.err("broker.ca", format!("cannot read {}: {e}", file.display()));
                    return None;
                }
            };
            use rustls::pki_types::pem::PemObject;
            let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
                .filter(|c| c.is_ok())
                .count();
            if certs == 0 {
                self.err(
                    "broker.ca",
                    format!("no PEM certificate in {}", file.display()),
                );
                return None;
            }
            Some(pem)
        });
        Some(BrokerConfig {
            declare,
            ca,
            url,
            exchange,
            confirm_timeout: self.duration(
                "broker.confirm_timeout",
                b.confirm_timeout.as_ref(),
                Duration::from_secs(5),
            ),
            when_unavailable: self.parsed(
                "broker.when_unavailable",
                b.when_unavailable.as_ref(),
                WhenUnavailable::Spool,
                |t| match t {
                    "spool" => Ok(WhenUnavailable::Spool),
                    "reject" => Ok(WhenUnavailable::Reject),
                    _ => Err(format!("expected spool or reject, got {t:?}")),
                },
            ),
        })
    }

    fn route(&mut self, p: &str, r: RawRoute) -> Option<Route> {
        let errors_before = self.errors.len();
        let name = match &r.name {
            None => {
                self.err(p, "a route needs a name");
                String::new()
            }
            Some(n) => {
                let n = self.text(&format!("{p}.name"), n).unwrap_or_default();
                let ok = !n.is_empty()
                    && n.len() <= 50
                    && n.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if !ok {
                    self.err(
                        &format!("{p}.name"),
                        format!("route names are [a-z0-9_-]{{1,50}}, got {n:?}"),
                    );
                }
                n
            }
        };
        let path = match &r.path {
            None => {
                self.err(p, "a route needs a path");
                String::new()
            }
            Some(s) => {
                let t = self.text(&format!("{p}.path"), s).unwrap_or_default();
                if !t.starts_with('/') || t.contains(['?', '#', ' ']) {
                    self.err(
                        &format!("{p}.path"),
                        format!("a path starts with / and has no query, got {t:?}"),
                    );
                }
                t
            }
        };
        let provider = r.provider.as_ref().and_then(|s| {
            let pp = format!("{p}.provider");
            let t = self.text(&pp, s)?;
            match Provider::parse(&t) {
                Some(pr) => Some(pr),
                None => {
                    self.err(
                        &pp,
                        format!(
                            "unknown provider {t:?}; known: {}",
                            Provider::NAMES.join(", ")
                        ),
                    );
                    None
                }
            }
        });
        let body_json = self.parsed(&format!("{p}.body"), r.body.as_ref(), true, |t| match t {
            "json" => Ok(true),
            "any" => Ok(false),
            _ => Err(format!("expected json or any, got {t:?}")),
        });

        // Verification: fail closed. `verify: none` must be spelled out.
        let hmac_spec = match &r.verify {
            Some(RawVerify::Hmac(h)) => self.hmac(&format!("{p}.verify.hmac"), h),
            _ => None,
        };
        let verify_none = matches!(r.verify, Some(RawVerify::None));
        if r.verify.is_none() && r.provider.is_none() {
            self.err(
                p,
                "route has neither provider nor verify; write `verify: none` to accept unsigned requests",
            );
        }
        let mut secrets = Vec::new();
        for (i, s) in r.secrets.iter().flatten().enumerate() {
            let sp = format!("{p}.secrets[{i}]");
            if let Some(text) = self.secret(&sp, s) {
                let decoded = match provider {
                    Some(pr) if hmac_spec.is_none() => pr.decode_secret(&text),
                    _ => Ok(text.into_bytes()),
                };
                match decoded {
                    Ok(b) => secrets.push(b),
                    Err(m) => self.err(&sp, m),
                }
            }
        }
        let verifier = if verify_none {
            if r.secrets.as_ref().is_some_and(|s| !s.is_empty()) {
                self.err(
                    &format!("{p}.secrets"),
                    "secrets are given but `verify: none` disables verification",
                );
            }
            self.warnings.push(format!(
                "route {name:?} ({path}) has `verify: none`: requests are NOT authenticated"
            ));
            Some(Verifier::None)
        } else if r.secrets.as_ref().is_none_or(|s| s.is_empty()) {
            if r.verify.is_some() || r.provider.is_some() {
                self.err(p, "a verified route needs at least one secret in `secrets`");
            }
            None
        } else if secrets.is_empty() {
            None
        } else if let Some(mut spec) = hmac_spec {
            if spec.uses_id() {
                match r.event_id.as_ref().and_then(|s| s.header.as_ref()) {
                    Some(h) => {
                        spec.id_header =
                            HeaderName::from_bytes(h.0.to_ascii_lowercase().as_bytes()).ok()
                    }
                    None => self.err(
                        &format!("{p}.verify.hmac.signed"),
                        "{id} needs `event_id: { header: NAME }` to say where the id is",
                    ),
                }
            }
            Some(Verifier::hmac(spec, secrets.clone()))
        } else {
            provider.map(|pr| pr.verifier(secrets.clone()))
        };

        let mut allow_ips = None;
        if let Some(ips) = &r.allow_ips {
            let mut nets = Vec::new();
            for (i, s) in ips.iter().enumerate() {
                if let Some(n) = self.net(&format!("{p}.allow_ips[{i}]"), s) {
                    nets.push(n);
                }
            }
            if ips.is_empty() {
                self.err(
                    &format!("{p}.allow_ips"),
                    "an empty allowlist would refuse everything; omit it to allow any source",
                );
            }
            allow_ips = Some(nets);
        }
        let rate_limit = r
            .rate_limit
            .as_ref()
            .and_then(|rl| self.rate(&format!("{p}.rate_limit"), rl));
        let schema = r.schema.as_ref().and_then(|s| {
            let sp = format!("{p}.schema");
            let t = self.text(&sp, s)?;
            if !body_json {
                self.err(&sp, "a schema needs `body: json`");
                return None;
            }
            let file = self.path_of(&t);
            match Schema::compile(&file) {
                Ok(sc) => {
                    self.files.push(file);
                    Some(sc)
                }
                Err(m) => {
                    self.err(&sp, m);
                    None
                }
            }
        });
        let queue = self.parsed(
            &format!("{p}.queue"),
            r.queue.as_ref(),
            format!("hookgate.{name}"),
            |t| {
                if t.is_empty() || t.len() > 200 || t.starts_with("amq.") {
                    Err("a queue name is 1-200 bytes and does not start with amq.".into())
                } else {
                    Ok(t.to_string())
                }
            },
        );
        let mut forward_headers = Vec::new();
        for (i, h) in r.forward_headers.iter().flatten().enumerate() {
            let hp = format!("{p}.forward_headers[{i}]");
            if let Some(t) = self.text(&hp, h) {
                match HeaderName::from_bytes(t.to_ascii_lowercase().as_bytes()) {
                    Ok(n) if reserved_header(n.as_str()) => self.err(
                        &hp,
                        format!("{t:?} is reserved: the gateway sets it, or the broker or the delivery reads it"),
                    ),
                    Ok(n) => forward_headers.push(n),
                    Err(_) => self.err(&hp, format!("{t:?} is not a valid header name")),
                }
            }
        }
        let public_url = r.public_url.as_ref().and_then(|s| {
            let up = format!("{p}.public_url");
            let t = self.text(&up, s)?;
            match url::Url::parse(&t) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Some(t),
                _ => {
                    self.err(&up, "expected an absolute http(s) URL");
                    None
                }
            }
        });
        let mut event_id = Vec::new();
        if let Some(s) = &r.event_id {
            event_id.extend(self.source(&format!("{p}.event_id"), s, body_json));
        } else if let Some(pr) = provider {
            event_id = pr.event_id_sources();
        }
        let mut event_type = Vec::new();
        if let Some(s) = &r.event_type {
            event_type.extend(self.source(&format!("{p}.event_type"), s, body_json));
        } else if let Some(pr) = provider {
            event_type = pr.event_type_sources();
        }
        if !body_json {
            event_id.retain(|s| matches!(s, Source::Header(_)));
            event_type.retain(|s| matches!(s, Source::Header(_)));
        }
        if self.errors.len() > errors_before {
            return None;
        }
        // A JSON tree is built only when something reads it: the schema, or an id or type
        // taken from the body. Otherwise validity is checked without one.
        let json_tree = body_json
            && (schema.is_some()
                || event_id
                    .iter()
                    .chain(&event_type)
                    .any(|s| matches!(s, Source::Json(_))));
        Some(Route {
            name: Arc::from(name),
            path,
            provider,
            verifier: verifier?,
            secrets: secrets.into_iter().map(Secret).collect(),
            allow_ips,
            rate_limit,
            body_json,
            json_tree,
            schema,
            queue,
            forward_headers,
            public_url,
            event_id,
            event_type,
        })
    }

    fn secret(&mut self, path: &str, s: &RawSecret) -> Option<String> {
        match s {
            RawSecret::Inline(v) => {
                let (t, defaulted) = match expand_tracked(&v.0, self.env) {
                    Ok(r) => r,
                    Err(m) => {
                        self.err(path, m);
                        return None;
                    }
                };
                if let Some(var) = defaulted {
                    // A default is text in the file, often a published example: anyone
                    // could sign with it. Refused unless asked for (`--dev`).
                    if self.dev {
                        self.warnings.push(format!(
                            "{path}: the secret is the default of ${{{var}:-...}} (--dev); anyone who has read this file can sign requests"
                        ));
                        self.default_secrets.push(path.to_string());
                    } else {
                        self.err(
                            path,
                            format!("{var} is not set and the secret would be the default written in this file; set {var} (or run with --dev to allow defaults)"),
                        );
                        return None;
                    }
                }
                if t.is_empty() {
                    self.err(path, "the secret is empty");
                    return None;
                }
                Some(t)
            }
            RawSecret::File(f) => {
                let fp = format!("{path}.file");
                let name = self.text(&fp, f)?;
                let file = self.path_of(&name);
                match std::fs::read(&file) {
                    Ok(bytes) => {
                        self.files.push(file.clone());
                        let mut t = match String::from_utf8(bytes) {
                            Ok(t) => t,
                            Err(_) => {
                                self.err(
                                    &fp,
                                    format!("secret file {} is not UTF-8 text", file.display()),
                                );
                                return None;
                            }
                        };
                        // Files written by `echo` end in a newline that is not part of the secret.
                        while t.ends_with('\n') || t.ends_with('\r') {
                            t.pop();
                        }
                        if t.is_empty() {
                            self.err(&fp, format!("secret file {} is empty", file.display()));
                            return None;
                        }
                        Some(t)
                    }
                    Err(e) => {
                        self.err(
                            &fp,
                            format!("cannot read secret file {}: {e}", file.display()),
                        );
                        None
                    }
                }
            }
        }
    }

    fn source(&mut self, path: &str, s: &RawSource, body_json: bool) -> Option<Source> {
        match (&s.header, &s.json) {
            (Some(h), None) => {
                let t = self.text(&format!("{path}.header"), h)?;
                match HeaderName::from_bytes(t.to_ascii_lowercase().as_bytes()) {
                    Ok(n) => Some(Source::Header(n)),
                    Err(_) => {
                        self.err(
                            &format!("{path}.header"),
                            format!("{t:?} is not a valid header name"),
                        );
                        None
                    }
                }
            }
            (None, Some(j)) => {
                let jp = format!("{path}.json");
                let t = self.text(&jp, j)?;
                if !body_json {
                    self.err(&jp, "a JSON source needs `body: json`");
                    None
                } else if !t.starts_with('/') {
                    self.err(&jp, format!("a JSON pointer starts with /, got {t:?}"));
                    None
                } else {
                    Some(Source::Json(t))
                }
            }
            _ => {
                self.err(path, "give exactly one of `header` or `json`");
                None
            }
        }
    }

    fn rate(&mut self, path: &str, rl: &RawRateLimit) -> Option<RateSpec> {
        let per_ip = rl.per_ip.as_ref().and_then(|s| {
            let pp = format!("{path}.per_ip");
            self.parsed(&pp, Some(s), None, |t| {
                crate::ratelimit::parse_rate(t).map(Some)
            })
        });
        let route = rl.route.as_ref().and_then(|s| {
            let pp = format!("{path}.route");
            self.parsed(&pp, Some(s), None, |t| {
                crate::ratelimit::parse_rate(t).map(Some)
            })
        });
        let burst = rl
            .burst
            .as_ref()
            .map(|b| self.count(&format!("{path}.burst"), Some(b), 1) as u32);
        if per_ip.is_none() && route.is_none() {
            self.err(
                path,
                "give per_ip and/or route, e.g. { per_ip: 50/s, burst: 100 }",
            );
            return None;
        }
        Some(RateSpec {
            per_ip,
            burst,
            route,
        })
    }

    fn hmac(&mut self, path: &str, h: &RawHmac) -> Option<HmacSpec> {
        let before = self.errors.len();
        let algorithm = self.parsed(
            &format!("{path}.algorithm"),
            h.algorithm.as_ref(),
            "sha256".to_string(),
            |t| match t {
                "sha1" | "sha256" | "sha512" => Ok(t.to_string()),
                _ => Err(format!("expected sha1, sha256 or sha512, got {t:?}")),
            },
        );
        let header = self
            .text(&format!("{path}.header"), &h.header)
            .unwrap_or_default();
        let encoding = self.parsed(
            &format!("{path}.encoding"),
            h.encoding.as_ref(),
            "hex".to_string(),
            |t| match t {
                "hex" | "base64" => Ok(t.to_string()),
                _ => Err(format!("expected hex or base64, got {t:?}")),
            },
        );
        let prefix = h
            .prefix
            .as_ref()
            .and_then(|s| self.text(&format!("{path}.prefix"), s))
            .unwrap_or_default();
        let signed = h
            .signed
            .as_ref()
            .and_then(|s| self.text(&format!("{path}.signed"), s))
            .unwrap_or_else(|| "{body}".to_string());
        let separator = h
            .separator
            .as_ref()
            .and_then(|s| self.text(&format!("{path}.separator"), s));
        let (ts_header, tolerance) = match &h.timestamp {
            Some(ts) => {
                let hdr = self.text(&format!("{path}.timestamp.header"), &ts.header);
                let tol = self.duration(
                    &format!("{path}.timestamp.tolerance"),
                    ts.tolerance.as_ref(),
                    Duration::from_secs(300),
                );
                (hdr, tol)
            }
            None => (None, Duration::from_secs(300)),
        };
        let signs_timestamp = signed.contains("{timestamp}")
            || ts_header.as_ref().is_some_and(|t| {
                signed
                    .to_ascii_lowercase()
                    .contains(&format!("{{header:{}}}", t.to_ascii_lowercase()))
            });
        if h.timestamp.is_some() && !signs_timestamp {
            self.err(
                &format!("{path}.timestamp"),
                "the timestamp is checked but not signed: a captured request would replay with a fresh timestamp; put {timestamp} in `signed`",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        match HmacSpec::parse(
            &algorithm,
            &header,
            &encoding,
            &prefix,
            &signed,
            separator.as_deref(),
            ts_header.as_deref(),
            tolerance,
        ) {
            Ok(s) => Some(s),
            Err(m) => {
                self.err(path, m);
                None
            }
        }
    }
}

/// Header names a route may not forward into the message: the gateway's own (SPEC §4),
/// RabbitMQ's (`CC`/`BCC` re-route a message; the `x-` dead-letter bookkeeping), the
/// delivery's (SPEC §6), and hop-by-hop ones that describe a connection, not an event.
fn reserved_header(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "cc",
        "bcc",
        "x-death",
        "x-delivery-count",
        "x-match",
        "x-delay",
        "idempotency-key",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "content-length",
    ];
    const PREFIX: &[&str] = &[
        "hookgate-",
        "x-first-death-",
        "x-last-death-",
        "x-dead-letter-",
        "proxy-",
    ];
    EXACT.contains(&name) || PREFIX.iter().any(|p| name.starts_with(p))
}

/// A CIDR (`10.0.0.0/8`) or a single address (`127.0.0.1`, taken as /32 or /128).
pub fn parse_net(t: &str) -> Result<IpNet, String> {
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{t:?} is not an IP address or CIDR"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == "GH_SECRET").then(|| "s3cret-value".to_string())
    }

    fn errors(yaml: &str) -> Vec<String> {
        match load_str(yaml, Path::new("t.yaml"), &env) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn redacted_values_keep_only_their_kind() {
        assert_eq!(
            redact_value(
                r#"invalid type: string "ab\"cd, expected x-SECRET", expected a sequence"#
            ),
            "invalid type: string, expected a sequence"
        );
        assert_eq!(
            redact_value("invalid type: floating point `13579.2`, expected a secret string"),
            "invalid type: floating point, expected a secret string"
        );
        assert_eq!(redact_value("unknown field `x`"), "unknown field `x`");
    }

    #[test]
    fn a_minimal_route_loads() {
        let c = load_str(
            "routes:\n  - name: gh\n    path: /hooks/gh\n    provider: github\n    secrets: [\"${GH_SECRET}\"]\n",
            Path::new("t.yaml"),
            &env,
        )
        .unwrap();
        assert_eq!(c.routes[0].queue, "hookgate.gh");
        assert_eq!(c.limits.max_body, 1 << 20);
        assert_eq!(c.admin_listen.to_string(), "127.0.0.1:9090");
    }

    #[test]
    fn unknown_key_is_located() {
        let e = errors("listen: 0.0.0.0:1\nlimits:\n  max_bdy: 1MiB\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("t.yaml:3:3: limits.max_bdy: unknown field `max_bdy`"),
            "{e:?}"
        );
    }

    #[test]
    fn semantic_errors_are_all_collected_with_locations() {
        let e = errors(
            "limits:\n  max_body: 1PB\nroutes:\n  - name: Bad Name\n    path: /a\n  - name: b\n    path: /a\n    provider: nope\n    secrets: [x]\n",
        );
        assert!(
            e.iter()
                .any(|l| l.starts_with("t.yaml:2:13: limits.max_body: unknown size unit")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|l| l.starts_with("t.yaml:4:11: routes[0].name: route names are")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|l| l
                    .starts_with("t.yaml:4:5: routes[0]: route has neither provider nor verify")),
            "{e:?}"
        );
        assert!(
            e.iter().any(
                |l| l.starts_with("t.yaml:8:15: routes[1].provider: unknown provider \"nope\"")
            ),
            "{e:?}"
        );
    }

    #[test]
    fn missing_env_var_is_named_and_secrets_never_echoed() {
        let e = errors("routes:\n  - name: a\n    path: /a\n    provider: github\n    secrets: [\"${NOPE}\"]\n");
        assert_eq!(
            e,
            vec!["t.yaml:5:15: routes[0].secrets[0]: environment variable NOPE is not set"]
        );
        let e = errors(
            "routes:\n  - name: a\n    path: /a\n    provider: github\n    secrets: topsecret\n",
        );
        assert!(!e[0].contains("topsecret"), "{e:?}");
    }

    #[test]
    fn fail_closed_without_verification_and_duplicates() {
        let e = errors("routes:\n  - name: a\n    path: /a\n    verify: none\n  - name: a\n    path: /a\n    verify: none\n");
        assert!(
            e.iter()
                .any(|l| l.contains("routes[1].name: route name \"a\" is used twice")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|l| l.contains("routes[1].path: path \"/a\" is used by two routes")),
            "{e:?}"
        );
        let e = errors("routes:\n  - name: a\n    path: /a\n    provider: github\n");
        assert!(e[0].contains("needs at least one secret"), "{e:?}");
    }

    #[test]
    fn broker_names_are_bounded() {
        let long = "x".repeat(256);
        let e = errors(&format!(
            "broker: {{ url: \"amqp://h\", exchange: {long} }}\nroutes:\n  - {{ name: a, path: /a, verify: none, queue: {long} }}\n"
        ));
        assert!(
            e.iter()
                .any(|l| l.contains("broker.exchange: an exchange name is 1-200 bytes")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|l| l.contains("routes[0].queue: a queue name is 1-200 bytes")),
            "{e:?}"
        );
    }

    #[test]
    fn broker_url_lapin_cannot_parse_is_a_config_error_without_the_password() {
        let e = errors(
            "broker: { url: \"amqp://u:s3cret@h:5672/%2f?frame_max=lots\" }\nroutes:\n  - { name: a, path: /a, verify: none }\n",
        );
        assert!(
            e.iter()
                .any(|l| l.contains("broker.url: not a valid AMQP URL")),
            "{e:?}"
        );
        assert!(!e.iter().any(|l| l.contains("s3cret")), "{e:?}");
    }

    #[test]
    fn bad_cidr_and_missing_secret_file() {
        let e = errors("trusted_proxies: [10.0.0.0/33]\nroutes:\n  - name: a\n    path: /a\n    provider: github\n    secrets: [{ file: /nonexistent/x }]\n");
        assert!(
            e[0].starts_with("t.yaml:1:19: trusted_proxies[0]: \"10.0.0.0/33\" is not an IP"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with(
                "t.yaml:6:23: routes[0].secrets[0].file: cannot read secret file /nonexistent/x"
            ),
            "{e:?}"
        );
    }
}
