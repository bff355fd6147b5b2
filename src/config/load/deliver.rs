//! Validating a route's `deliver` destinations and its `proxy` (docs/delivery.md).

use std::sync::Arc;
use std::time::Duration;

use super::{parse_bool, Validator};
use crate::checks::verify::standard_webhooks::StandardWebhooks;
use crate::config::raw::{RawBackoff, RawDeliver, RawDestination, RawProxy, Scalar};
use crate::config::{Backoff, CaFile, Destination, Proxy, Secret};

/// Defaults a user of a production gateway would expect: a destination gets 10 s to
/// answer, 8 at once, 12 attempts (1 s doubling to 1 h: about 3 h of trying in all).
const TIMEOUT: Duration = Duration::from_secs(10);
const CONCURRENCY: usize = 8;
const MAX_ATTEMPTS: u32 = 12;
const FIRST: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(3600);

impl Validator<'_> {
    /// `kept`: the headers the route's events keep (`forward_headers`), which is what a
    /// filter can read.
    pub(super) fn deliver(
        &mut self,
        p: &str,
        raw: Option<&RawDeliver>,
        kept: &[http::HeaderName],
    ) -> Vec<Arc<Destination>> {
        let list: Vec<(String, &RawDestination)> = match raw {
            None => return Vec::new(),
            Some(RawDeliver::One(d)) => vec![(format!("{p}.deliver"), &**d)],
            Some(RawDeliver::Many(v)) => {
                if v.is_empty() {
                    self.err(
                        &format!("{p}.deliver"),
                        "an empty list delivers nowhere; omit `deliver`",
                    );
                }
                v.iter()
                    .enumerate()
                    .map(|(i, d)| (format!("{p}.deliver[{i}]"), d))
                    .collect()
            }
        };
        let mut out: Vec<Arc<Destination>> = Vec::new();
        for (dp, d) in list {
            if let Some(dest) = self.destination(&dp, d, kept) {
                if out.iter().any(|o| o.name == dest.name) {
                    self.err(
                        &format!("{dp}.name"),
                        format!(
                            "destination name {:?} is used twice in this route",
                            &*dest.name
                        ),
                    );
                }
                out.push(Arc::new(dest));
            }
        }
        out
    }

    fn destination(
        &mut self,
        p: &str,
        d: &RawDestination,
        kept: &[http::HeaderName],
    ) -> Option<Destination> {
        let before = self.errors.len();
        let name = self.parsed(
            &format!("{p}.name"),
            d.name.as_ref(),
            "app".to_string(),
            |t| {
                let ok = !t.is_empty()
                    && t.len() <= 50
                    && t.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if ok {
                    Ok(t.to_string())
                } else {
                    Err(format!(
                        "destination names are [a-z0-9_-]{{1,50}}, got {t:?}"
                    ))
                }
            },
        );
        let url = self.target_url(p, d.url.as_ref());
        let mut types = Vec::new();
        for (i, t) in d.types.iter().flatten().enumerate() {
            if let Some(t) = self.text(&format!("{p}.types[{i}]"), t) {
                types.push(t);
            }
        }
        if d.types.as_ref().is_some_and(|t| t.is_empty()) {
            self.err(
                &format!("{p}.types"),
                "an empty filter matches nothing; omit `types` for every event",
            );
        }
        let timeout = self.duration(&format!("{p}.timeout"), d.timeout.as_ref(), TIMEOUT);
        let concurrency = self.count(
            &format!("{p}.concurrency"),
            d.concurrency.as_ref(),
            CONCURRENCY,
        );
        let ordered = self.parsed(
            &format!("{p}.ordered"),
            d.ordered.as_ref(),
            false,
            parse_bool,
        );
        let rate = self.parsed(&format!("{p}.rate"), d.rate.as_ref(), None, |t| {
            crate::config::units::parse_rate(t).map(Some)
        });
        let filter = self.parsed(&format!("{p}.filter"), d.filter.as_ref(), None, |t| {
            let f = crate::checks::filter::Filter::compile(t).map_err(|e| format!("the filter {e}"))?;
            // The trace context is kept with every event; the rest only when forwarded.
            let known = |h: &str| kept.iter().any(|k| k == h) || h == "traceparent" || h == "tracestate";
            match f.headers_read().into_iter().find(|h| !known(h)) {
                Some(h) => Err(format!("the filter reads headers[{h:?}], which this route does not keep: add it to the route's forward_headers")),
                None => Ok(Some(Arc::new(f))),
            }
        });
        let transform = self.parsed(&format!("{p}.transform"), d.transform.as_ref(), None, |t| {
            crate::checks::transform::Program::compile(t)
                .map(|_| Some(Arc::from(t)))
                .map_err(|e| format!("the transform {e}"))
        });
        let max_attempts = self.count(
            &format!("{p}.max_attempts"),
            d.max_attempts.as_ref(),
            MAX_ATTEMPTS as usize,
        );
        let backoff = self.backoff(&format!("{p}.backoff"), d.backoff.as_ref());
        // Inspecting the store reads no secret (nor requires one).
        let sign = d.sign.as_ref().filter(|_| !self.inspect).and_then(|s| {
            let sp = format!("{p}.sign.secret");
            let text = self.secret(&sp, &s.secret)?;
            match StandardWebhooks::decode_secret(&text) {
                // `whsec_` and base64 of a placeholder is one too.
                Ok(k) if !self.not_placeholder(&sp, &k) => None,
                Ok(k) => Some(Secret(k)),
                Err(m) => {
                    self.err(&sp, m.to_string());
                    None
                }
            }
        });
        let ca = self.ca_file(&format!("{p}.ca"), d.ca.as_ref());
        if self.errors.len() > before {
            return None;
        }
        Some(Destination {
            name: Arc::from(name),
            url: url?,
            types,
            timeout,
            concurrency,
            ordered,
            rate,
            filter,
            transform,
            max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
            backoff,
            sign,
            ca,
        })
    }

    fn backoff(&mut self, p: &str, b: Option<&RawBackoff>) -> Backoff {
        let default = Backoff::Exponential {
            first: FIRST,
            max: MAX,
        };
        let Some(b) = b else { return default };
        if let Some(steps) = &b.schedule {
            for (k, v) in [("first", &b.first), ("max", &b.max)] {
                if v.is_some() {
                    self.err(
                        &format!("{p}.{k}"),
                        "`schedule` and `first`/`max` exclude each other",
                    );
                }
            }
            let mut out = Vec::new();
            for (i, s) in steps.iter().enumerate() {
                let sp = format!("{p}.schedule[{i}]");
                let d = self.duration(&sp, Some(s), Duration::ZERO);
                if out.last().is_some_and(|last| d < *last) {
                    self.err(&sp, "the schedule's gaps must not decrease");
                }
                out.push(d);
            }
            if out.is_empty() {
                self.err(
                    &format!("{p}.schedule"),
                    "a schedule needs at least one gap",
                );
            }
            let then = b
                .then
                .as_ref()
                .map(|t| self.duration(&format!("{p}.then"), Some(t), MAX));
            let until = b
                .for_
                .as_ref()
                .map(|t| self.duration(&format!("{p}.for"), Some(t), MAX));
            if until.is_some() && then.is_none() {
                self.err(
                    &format!("{p}.for"),
                    "`for` bounds the `then` repeats; set `then` too",
                );
            }
            return Backoff::Schedule {
                steps: out,
                then,
                until,
            };
        }
        for k in [("then", &b.then), ("for", &b.for_)] {
            if k.1.is_some() {
                self.err(
                    &format!("{p}.{}", k.0),
                    format!("`{}` belongs to a `schedule`", k.0),
                );
            }
        }
        let first = self.duration(&format!("{p}.first"), b.first.as_ref(), FIRST);
        let max = self.duration(&format!("{p}.max"), b.max.as_ref(), MAX.max(first));
        if first.is_zero() {
            self.err(&format!("{p}.first"), "the first gap must be more than 0s");
        }
        if max < first {
            self.err(&format!("{p}.max"), "`max` is less than `first`");
        }
        Backoff::Exponential { first, max }
    }

    pub(super) fn proxy(&mut self, p: &str, raw: Option<&RawProxy>) -> Option<Proxy> {
        let raw = raw?;
        let before = self.errors.len();
        let url = self.target_url(&format!("{p}.proxy"), raw.url.as_ref());
        let timeout = self.duration(&format!("{p}.proxy.timeout"), raw.timeout.as_ref(), TIMEOUT);
        let ca = self.ca_file(&format!("{p}.proxy.ca"), raw.ca.as_ref());
        if self.errors.len() > before {
            return None;
        }
        Some(Proxy {
            url: url?,
            timeout,
            ca,
        })
    }

    /// An absolute `http://` or `https://` URL with a host.
    fn target_url(&mut self, p: &str, s: Option<&Scalar>) -> Option<http::Uri> {
        let up = format!("{p}.url");
        let Some(s) = s else {
            self.err(p, "a destination needs a `url`");
            return None;
        };
        let t = self.text(&up, s)?;
        let ok = url::Url::parse(&t).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.fragment().is_none()
        });
        match (ok, t.parse::<http::Uri>()) {
            (Some(_), Ok(u)) => Some(u),
            _ => {
                self.err(
                    &up,
                    format!("expected an absolute http:// or https:// URL, got {t:?}"),
                );
                None
            }
        }
    }

    fn ca_file(&mut self, p: &str, s: Option<&Scalar>) -> Option<Arc<CaFile>> {
        let t = self.text(p, s?)?;
        let file = self.path_of(&t);
        match crate::config::tls::read_ca(&file) {
            Ok(certs) => {
                self.files.push(file.clone());
                Some(Arc::new(CaFile { path: file, certs }))
            }
            Err(e) => {
                self.err(p, e.to_string());
                None
            }
        }
    }
}
