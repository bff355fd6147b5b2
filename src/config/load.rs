//! Loading: YAML text -> raw tree -> validated [`Config`]. Problems are collected, not
//! returned one at a time, and each carries `FILE:LINE:COL: yaml.path: message`. Error
//! messages never quote secret values: serde's "invalid type: string \"...\"" is
//! rewritten, and expansion errors name the variable only.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

mod broker;
mod deliver;
mod entry;
mod ip_sets;
mod limits;
mod locate;
mod route;
mod route_parts;
mod route_verify;
mod store;
#[cfg(test)]
mod tests;
mod traces;

pub use entry::load_str;
pub(crate) use entry::{load_for_inspection, load_mode};
pub(crate) use limits::worst_body_memory;
use locate::Locations;
pub(crate) use locate::{ConfigError, ConfigErrors};

use super::raw::{RawConfig, RawSecret, Scalar};
use super::units::{expand, parse_duration};
use super::{Config, LogConfig, LogFormat, Secret, ShutdownConfig};

struct Validator<'a> {
    file: String,
    locs: Locations,
    env: &'a dyn Fn(&str) -> Option<String>,
    base: PathBuf,
    errors: Vec<ConfigError>,
    files: Vec<PathBuf>,
    warnings: Vec<String>,
    dev: bool,
    /// `load_for_inspection`: secrets are not read.
    inspect: bool,
    default_secrets: Vec<String>,
    /// The named IP sets `allow_ips` may use (`ip_sets:`, else the shipped ones).
    ip_sets: crate::checks::allowlist::sets::Sets,
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
    /// `admin.token`. Inspecting the store (`hookgate store`), it is what the CLI
    /// presents to a running gateway's API: read when it can be, never required.
    fn admin_token(&mut self, t: &RawSecret) -> Option<Secret> {
        let marks = (
            self.errors.len(),
            self.warnings.len(),
            self.default_secrets.len(),
        );
        let token = self
            .secret("admin.token", t)
            .map(|t| Secret(t.into_bytes()));
        if self.inspect {
            self.errors.truncate(marks.0);
            self.warnings.truncate(marks.1);
            self.default_secrets.truncate(marks.2);
        }
        token
    }

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
        let admin_token = raw
            .admin
            .as_ref()
            .and_then(|a| a.token.as_ref())
            .and_then(|t| self.admin_token(t));
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
        if let Some(f) = &raw.ip_sets {
            self.load_ip_sets(f);
        }
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
        let store = self.store(st, self.path_of(&store_path));
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
        let traces = raw.traces.as_ref().and_then(|t| self.traces(t));
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
                    let exchange = broker.as_ref().map_or("hookgate", |b| b.exchange.as_str());
                    if let Some(route) = self.route(&p, r, exchange) {
                        let shared = route
                            .rate_limit
                            .as_ref()
                            .is_some_and(|l| l.shared.is_some());
                        if shared && store.shared.is_none() {
                            self.err(
                                &format!("{p}.rate_limit.shared"),
                                "a shared limit is kept in the replicas' Redis: configure store.dedup.redis",
                            );
                        }
                        routes.push(Arc::new(route));
                    }
                }
            }
        }
        let at = |key: &str| match self.locs.get(key) {
            Some((line, col)) => format!("{key}, {}:{line}:{col}", self.file),
            None => format!("{key}, default"),
        };
        let (listen_at, admin_at) = (at("listen"), at("admin.listen"));
        Config {
            source: source.to_path_buf(),
            listen,
            listen_at,
            admin_listen,
            admin_at,
            admin_token,
            tls,
            limits,
            shutdown,
            trusted_proxies,
            store,
            broker,
            log,
            traces,
            routes,
            files: std::mem::take(&mut self.files),
            warnings: std::mem::take(&mut self.warnings),
            dev: self.dev,
            default_secrets: std::mem::take(&mut self.default_secrets),
        }
    }
}

/// A CIDR (`10.0.0.0/8`) or a single address (`127.0.0.1`, taken as /32 or /128).
fn parse_bool(t: &str) -> Result<bool, String> {
    match t {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, got {t:?}")),
    }
}

pub(super) fn parse_net(t: &str) -> Result<IpNet, String> {
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{t:?} is not an IP address or CIDR"))
}
