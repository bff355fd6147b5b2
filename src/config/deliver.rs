//! The settings of delivery to the application (docs/delivery.md): a route's destinations
//! (`deliver`) or its synchronous proxy (`proxy`), validated by `load/deliver.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Secret;

/// One destination of a route's asynchronous delivery.
#[derive(Debug)]
pub struct Destination {
    /// `[a-z0-9_-]{1,50}`, unique in the route; names its cursor, queue and metrics.
    pub name: Arc<str>,
    pub url: http::Uri,
    /// Event-type globs (`*` any run of characters); empty: every event.
    pub types: Vec<String>,
    pub timeout: Duration,
    pub concurrency: usize,
    pub ordered: bool,
    /// `rate`: at most `n` attempts started per `period` (retries count), evenly spaced.
    pub rate: Option<crate::checks::ratelimit::Rate>,
    /// `filter`: only the events it is true for are delivered here.
    pub filter: Option<Arc<crate::checks::filter::Filter>>,
    /// `transform`: a jq program (compiled at load) that gives the body delivered here.
    pub transform: Option<Arc<str>>,
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Standard Webhooks key bytes for `webhook-signature`.
    pub sign: Option<Secret>,
    /// CA certificates to trust besides the system's.
    pub ca: Option<Arc<CaFile>>,
}

/// A PEM file of CA certificates (a private CA), read when the configuration loads.
#[derive(Debug)]
pub struct CaFile {
    pub path: PathBuf,
    pub certs: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Destination {
    /// Does an event of this type go to this destination? An event without a type
    /// matches only a destination without a filter.
    pub fn wants(&self, event_type: Option<&str>) -> bool {
        if self.types.is_empty() {
            return true;
        }
        event_type.is_some_and(|t| self.types.iter().any(|g| glob(g, t)))
    }
}

/// When a failed delivery is tried again.
#[derive(Debug, Clone, PartialEq)]
pub enum Backoff {
    /// `first`, doubling up to `max`, each with up to 20 % of jitter added.
    Exponential { first: Duration, max: Duration },
    /// Fixed gaps after each attempt, then `then` repeatedly until `until` has passed
    /// since the event was accepted (Kontent.ai: 1m … 60m, then hourly for 3 days).
    Schedule {
        steps: Vec<Duration>,
        then: Option<Duration>,
        until: Option<Duration>,
    },
}

/// A synchronous proxy route: the application's answer is the provider's answer.
#[derive(Debug)]
pub struct Proxy {
    pub url: http::Uri,
    pub timeout: Duration,
    pub ca: Option<Arc<CaFile>>,
}

/// `*` matches any run of characters (also none); everything else itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("push", "push"));
        assert!(!glob("push", "pushed"));
        assert!(glob("pull_request*", "pull_request"));
        assert!(glob("pull_request*", "pull_request_review"));
        assert!(!glob("pull_request*", "push"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXcYYb"));
        assert!(glob("*.created", "invoice.created"));
        assert!(!glob("ab*ba", "aba"));
    }
}
