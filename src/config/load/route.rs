//! One route: name, path, verification, the checks' settings, where the event id
//! and type come from.

use std::sync::Arc;

use http::HeaderName;

use super::Validator;
use crate::checks::event::Source;
use crate::checks::schema::Schema;
use crate::checks::verify::Provider;
use crate::config::raw::{RawRoute, RawSource, Scalar};
use crate::config::{Route, Secret};

impl Validator<'_> {
    pub(super) fn route(&mut self, p: &str, r: RawRoute, exchange: &str) -> Option<Route> {
        let errors_before = self.errors.len();
        let name = self.route_name(p, r.name.as_ref());
        let path = self.route_path(p, r.path.as_ref());
        let provider = self.provider(p, r.provider.as_ref());
        let body_json = self.parsed(&format!("{p}.body"), r.body.as_ref(), true, |t| match t {
            "json" => Ok(true),
            "any" => Ok(false),
            _ => Err(format!("expected json or any, got {t:?}")),
        });
        self.handshake_needs_json(p, provider, body_json);

        // Verification: fail closed. `verify: none` must be spelled out.
        let (verifier, secrets) = self.verification(p, &r, provider, &name, &path);

        let allow_ips = r.allow_ips.as_ref().map(|ips| self.allow_ips(p, ips));
        let rate_limit = r
            .rate_limit
            .as_ref()
            .and_then(|rl| self.rate(&format!("{p}.rate_limit"), rl));
        let schema = r.schema.as_ref().and_then(|s| self.schema(p, s, body_json));
        let queue = self.parsed(
            &format!("{p}.queue"),
            r.queue.as_ref(),
            // Named after the exchange it is bound to: `hookgate.github` by default,
            // `acme.github` with `broker.exchange: acme`.
            format!("{exchange}.{name}"),
            |t| {
                if t.is_empty() || t.len() > 200 || t.starts_with("amq.") {
                    Err("a queue name is 1-200 bytes and does not start with amq.".into())
                } else {
                    Ok(t.to_string())
                }
            },
        );
        let forward_headers = self.forward_headers(p, r.forward_headers.iter().flatten());
        let public_url = r.public_url.as_ref().and_then(|s| self.public_url(p, s));
        let verify_token = r
            .verify_token
            .as_ref()
            .filter(|_| !self.inspect)
            .and_then(|s| {
                self.secret(&format!("{p}.verify_token"), s)
                    .map(|t| Secret(t.into_bytes()))
            });
        let event_id = self.event_sources(
            &format!("{p}.event_id"),
            r.event_id.as_ref(),
            provider.map(|pr| pr.event_id_sources()),
            body_json,
        );
        let event_type = self.event_sources(
            &format!("{p}.event_type"),
            r.event_type.as_ref(),
            provider.map(|pr| pr.event_type_sources()),
            body_json,
        );
        let deliver = self.deliver(p, r.deliver.as_ref(), &forward_headers);
        let proxy = self.proxy(p, r.proxy.as_ref());
        if r.deliver.is_some() && r.proxy.is_some() {
            self.err(
                &format!("{p}.proxy"),
                "a route has `deliver` or `proxy`, not both",
            );
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
            verify_token,
            event_id,
            event_type,
            deliver,
            proxy,
        })
    }

    /// X's CRC and Zoom's validation answer with a MAC made with the route's secret over
    /// a token; only JSON bodies keep that answer from signing an event
    /// (docs/handshakes.md).
    fn handshake_needs_json(&mut self, p: &str, provider: Option<Provider>, body_json: bool) {
        use crate::checks::verify::catalog::Handshake;
        let Some(pr) = provider.filter(|_| !body_json) else {
            return;
        };
        if matches!(
            pr.preset().handshake,
            Handshake::XCrc | Handshake::ZoomUrlValidation
        ) {
            self.err(
                &format!("{p}.body"),
                "this provider's handshake answers with a MAC of the route's secret over a token: the route must keep `body: json`, so that no token can be an acceptable body",
            );
        }
    }

    /// `public_url`: the absolute http(s) URL the provider signs (URL-signing schemes).
    fn public_url(&mut self, p: &str, s: &Scalar) -> Option<String> {
        let up = format!("{p}.public_url");
        let t = self.text(&up, s)?;
        match url::Url::parse(&t) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Some(t),
            _ => {
                self.err(&up, "expected an absolute http(s) URL");
                None
            }
        }
    }

    /// `name`: `[a-z0-9_-]{1,50}`, not `none`.
    fn route_name(&mut self, p: &str, name: Option<&Scalar>) -> String {
        match name {
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
                } else if n == "none" {
                    // Unmatched paths are counted and logged as route "none".
                    self.err(
                        &format!("{p}.name"),
                        "\"none\" is reserved: it names the requests that matched no route (in metrics and the rejection log)",
                    );
                }
                n
            }
        }
    }

    /// `path`: absolute, without query or fragment.
    fn route_path(&mut self, p: &str, path: Option<&Scalar>) -> String {
        match path {
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
        }
    }

    /// `provider`: a preset's name, with the nearest names when unknown.
    fn provider(&mut self, p: &str, provider: Option<&Scalar>) -> Option<Provider> {
        let pp = format!("{p}.provider");
        let t = self.text(&pp, provider?)?;
        let found = Provider::parse(&t);
        if found.is_none() {
            self.err(&pp, unknown_provider(&t));
        }
        found
    }

    /// `allow_ips`: addresses, CIDRs and sets' names; never empty.
    fn allow_ips(&mut self, p: &str, ips: &[Scalar]) -> Vec<ipnet::IpNet> {
        let mut nets = Vec::new();
        for (i, s) in ips.iter().enumerate() {
            nets.extend(self.allow_item(&format!("{p}.allow_ips[{i}]"), s));
        }
        if ips.is_empty() {
            self.err(
                &format!("{p}.allow_ips"),
                "an empty allowlist would refuse everything; omit it to allow any source",
            );
        }
        nets
    }

    /// `schema`: a JSON Schema file, compiled now; only on a JSON route.
    fn schema(&mut self, p: &str, s: &Scalar, body_json: bool) -> Option<Schema> {
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
            Err(e) => {
                self.err(&sp, e.to_string());
                None
            }
        }
    }

    /// `forward_headers`: valid names, none the gateway, broker or delivery reserves.
    fn forward_headers<'s>(
        &mut self,
        p: &str,
        headers: impl Iterator<Item = &'s Scalar>,
    ) -> Vec<HeaderName> {
        let mut forward_headers = Vec::new();
        for (i, h) in headers.enumerate() {
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
        forward_headers
    }

    /// Where the event id (or type) comes from: as configured, else the provider's; on a
    /// route that is not JSON, only headers.
    fn event_sources(
        &mut self,
        path: &str,
        configured: Option<&RawSource>,
        preset: Option<Vec<Source>>,
        body_json: bool,
    ) -> Vec<Source> {
        let mut sources = match configured {
            Some(s) => self.source(path, s, body_json).into_iter().collect(),
            None => preset.unwrap_or_default(),
        };
        if !body_json {
            sources.retain(|s| matches!(s, Source::Header(_)));
        }
        sources
    }
}

/// Header names a route may not forward into the message: the gateway's own (docs/reference.md),
/// RabbitMQ's (`CC`/`BCC` re-route a message; the `x-` dead-letter bookkeeping), the
/// delivery's (docs/delivery.md), and hop-by-hop ones that describe a connection, not an event.
pub(super) fn reserved_header(name: &str) -> bool {
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

/// "unknown provider" with the nearest names, since the catalog is too long to list.
fn unknown_provider(t: &str) -> String {
    let mut near: Vec<(usize, &str)> = Provider::names()
        .map(|n| (edit_distance(t, n), n))
        .filter(|(d, n)| *d <= 2 || n.starts_with(t) || t.starts_with(n))
        .collect();
    near.sort();
    let names: Vec<&str> = near.iter().take(3).map(|(_, n)| *n).collect();
    let count = Provider::names().count();
    if names.is_empty() {
        format!("unknown provider {t:?}; `hookgate providers` lists the {count} known")
    } else {
        format!(
            "unknown provider {t:?}; did you mean {}? (`hookgate providers` lists the {count} known)",
            names.join(", ")
        )
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}
