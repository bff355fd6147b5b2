//! One route: name, path, verification, the checks' settings, where the event id
//! and type come from.

use std::sync::Arc;

use http::HeaderName;

use super::{RawRoute, RawVerify, Route, Secret, Validator};
use crate::checks::event::Source;
use crate::checks::schema::Schema;
use crate::checks::verify::{Provider, Verifier};

impl Validator<'_> {
    pub(super) fn route(&mut self, p: &str, r: RawRoute, exchange: &str) -> Option<Route> {
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
                } else if n == "none" {
                    // Unmatched paths are counted and logged as route "none".
                    self.err(
                        &format!("{p}.name"),
                        "\"none\" is reserved: it names the requests that matched no route (in metrics and the rejection log)",
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
                    self.err(&pp, unknown_provider(&t));
                    None
                }
            }
        });
        let body_json = self.parsed(&format!("{p}.body"), r.body.as_ref(), true, |t| match t {
            "json" => Ok(true),
            "any" => Ok(false),
            _ => Err(format!("expected json or any, got {t:?}")),
        });
        // X's CRC and Zoom's validation answer with a MAC made with the route's secret
        // over a token; only JSON bodies keep that answer from signing an event
        // (docs/handshakes.md).
        if let Some(pr) = provider.filter(|_| !body_json) {
            use crate::checks::verify::catalog::Handshake;
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
        // Inspecting the store needs no secret: they are not read (nor required).
        let raw_secrets = if self.inspect {
            None
        } else {
            r.secrets.as_ref()
        };
        for (i, s) in raw_secrets.into_iter().flatten().enumerate() {
            let sp = format!("{p}.secrets[{i}]");
            if let Some(text) = self.secret(&sp, s) {
                let decoded = match provider {
                    Some(pr) if hmac_spec.is_none() => pr.decode_secret(&text),
                    _ => Ok(text.into_bytes()),
                };
                match decoded {
                    Ok(b) => secrets.push(b),
                    Err(m) => self.err(&sp, m.to_string()),
                }
            }
        }
        let verifier = if self.inspect {
            Some(Verifier::None)
        } else if verify_none {
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
                nets.extend(self.allow_item(&format!("{p}.allow_ips[{i}]"), s));
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
                Err(e) => {
                    self.err(&sp, e.to_string());
                    None
                }
            }
        });
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
        let mut verifier = verifier;
        if let Some(Verifier::Certificate(c)) = verifier.as_mut() {
            match r
                .webhook_id
                .as_ref()
                .and_then(|s| self.text(&format!("{p}.webhook_id"), s))
            {
                Some(id) => c.webhook_id = id,
                None => self.err(p, "PayPal signs the webhook's id: set `webhook_id` to it"),
            }
        }
        let verify_token = r
            .verify_token
            .as_ref()
            .filter(|_| !self.inspect)
            .and_then(|s| {
                self.secret(&format!("{p}.verify_token"), s)
                    .map(|t| Secret(t.into_bytes()))
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
        let deliver = self.deliver(p, r.deliver.as_ref());
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
