//! The parts of a route: a secret (inline or a file, never a default without
//! `--dev`), an event id or type source, a rate limit, a custom HMAC scheme.

use std::time::Duration;

use http::HeaderName;

use super::Validator;
use crate::checks::event::Source;
use crate::checks::ratelimit::{RateSpec, WhenSharedDown};
use crate::checks::verify::HmacSpec;
use crate::config::raw::{RawHmac, RawRateLimit, RawSecret, RawSource};
use crate::config::units::expand_tracked;

/// Is `secret` a known placeholder (`REPLACE_ME`, `change-me…`, `<your secret>`…)? The
/// shipped examples use them; a deployment that kept one serves with a secret anyone
/// who read the example can sign with.
pub(super) fn is_placeholder(secret: &[u8]) -> bool {
    let letters: String = secret
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_lowercase() as char)
        .collect();
    letters.starts_with("replaceme")
        || letters.starts_with("changeme")
        || ["placeholder", "yoursecret", "secret", "todo", "example"].contains(&letters.as_str())
        || (letters.len() >= 3 && letters.bytes().all(|b| b == b'x'))
}

impl Validator<'_> {
    /// A secret, never a known placeholder (allowed with a warning under `--dev`).
    pub(super) fn secret(&mut self, path: &str, s: &RawSecret) -> Option<String> {
        let t = self.secret_text(path, s)?;
        self.not_placeholder(path, t.as_bytes()).then_some(t)
    }

    /// `false` (and an error) when `secret` is a placeholder; under `--dev`, a warning.
    pub(super) fn not_placeholder(&mut self, path: &str, secret: &[u8]) -> bool {
        if !is_placeholder(secret) {
            return true;
        }
        if self.dev {
            self.warnings.push(format!(
                "{path}: the secret is a placeholder (--dev); anyone who has read the example can sign requests"
            ));
            self.default_secrets.push(path.to_string());
            return true;
        }
        self.err(
            path,
            "the secret is a placeholder (such as REPLACE_ME or change-me): put the real secret here (or run with --dev to allow placeholders)",
        );
        false
    }

    fn secret_text(&mut self, path: &str, s: &RawSecret) -> Option<String> {
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

    pub(super) fn source(&mut self, path: &str, s: &RawSource, body_json: bool) -> Option<Source> {
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

    pub(super) fn rate(&mut self, path: &str, rl: &RawRateLimit) -> Option<RateSpec> {
        let per_ip = rl.per_ip.as_ref().and_then(|s| {
            let pp = format!("{path}.per_ip");
            self.parsed(&pp, Some(s), None, |t| {
                crate::config::units::parse_rate(t).map(Some)
            })
        });
        let route = rl.route.as_ref().and_then(|s| {
            let pp = format!("{path}.route");
            self.parsed(&pp, Some(s), None, |t| {
                crate::config::units::parse_rate(t).map(Some)
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
        let shared = self.parsed(
            &format!("{path}.shared"),
            rl.shared.as_ref(),
            false,
            super::parse_bool,
        );
        let when = self.parsed(
            &format!("{path}.when_shared_unavailable"),
            rl.when_shared_unavailable.as_ref(),
            WhenSharedDown::FailOpen,
            |t| match t {
                "fail_open" => Ok(WhenSharedDown::FailOpen),
                "fail_closed" => Ok(WhenSharedDown::FailClosed),
                _ => Err(format!("expected fail_open or fail_closed, got {t:?}")),
            },
        );
        Some(RateSpec {
            per_ip,
            burst,
            route,
            shared: shared.then_some(when),
        })
    }

    pub(super) fn hmac(&mut self, path: &str, h: &RawHmac) -> Option<HmacSpec> {
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
                self.err(path, m.to_string());
                None
            }
        }
    }
}
