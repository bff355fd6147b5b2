//! Building a record from a refused request, within fixed budgets: whatever a sender
//! puts in its headers (64 KiB of them, HPACK-compressed to a few bytes on the wire),
//! a record holds at most about [`SHOWN_BUDGET`] bytes of them, plus the raw request
//! only with `capture_body` and only when its head fits [`RAW_HEADERS`].

use base64::Engine as _;
use bytes::Bytes;
use sha2::Digest as _;

use super::{Raw, Refused, Rejected, Stored};
use crate::checks::verify::token::{basic_credentials, TokenIn};
use crate::checks::verify::Verifier;

/// Bytes of a captured body shown in listings (`body_head`).
pub(super) const HEAD: usize = 256;
/// A header name is cut to this many bytes.
const NAME: usize = 64;
/// A shown header value is cut to this many bytes.
const VALUE: usize = 256;
/// Headers shown at most; the rest are summed up in one entry.
const HEADERS: usize = 48;
/// Bytes of shown header names and values at most.
const SHOWN_BUDGET: usize = 4 << 10;
/// The reason and the path are cut to this many bytes.
const TEXT: usize = 512;
/// The raw request's head (URI and headers) is kept only under this many bytes: real
/// providers send a few KiB.
pub(super) const RAW_HEADERS: usize = 16 << 10;

/// Whether a header's value is masked: credentials and signatures by name, and those
/// the route's scheme reads.
pub(crate) fn masked(name: &str, verifier: Option<&Verifier>) -> bool {
    const WORDS: [&str; 9] = [
        "auth",
        "cookie",
        "signature",
        "sig",
        "token",
        "secret",
        "key",
        "hmac",
        "password",
    ];
    WORDS.iter().any(|w| name.contains(w)) || verifier.is_some_and(|v| v.reads_credential(name))
}

/// `bytes` as text of at most `max` bytes: lossy UTF-8, cut at a character boundary,
/// with the original length said when cut.
fn capped(bytes: &[u8], max: usize) -> String {
    let mut s = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned();
    let cut = bytes.len() > max || s.len() > max;
    if s.len() > max {
        // U+FFFD takes 3 bytes for 1: cut back to the budget.
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
    if cut {
        s.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    s
}

pub(super) fn build(seq: u64, now_ms: i64, r: &Refused) -> Stored {
    let p = r.parts;
    let mut headers = Vec::new();
    let (mut budget, mut left, mut left_bytes) = (SHOWN_BUDGET, 0usize, 0usize);
    for (n, v) in &p.headers {
        let name = n.as_str();
        if headers.len() >= HEADERS || budget < NAME + 32 {
            left += 1;
            left_bytes += name.len() + v.len();
            continue;
        }
        let shown = if masked(name, r.verifier) {
            format!("*** ({} bytes)", v.len())
        } else {
            capped(v.as_bytes(), VALUE.min(budget - NAME))
        };
        let name = capped(name.as_bytes(), NAME);
        budget = budget.saturating_sub(name.len() + shown.len());
        headers.push((name, shown));
    }
    if left > 0 {
        headers.push((
            "…".into(),
            format!("{left} more headers ({left_bytes} bytes) not kept"),
        ));
    }
    let mut path = p.uri.path().to_owned();
    if let Some(q) = p.uri.query() {
        let names: Vec<String> = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, _)| format!("{k}=***"))
            .collect();
        path = format!("{path}?{}", names.join("&"));
    }
    let path = capped(path.as_bytes(), TEXT);
    let mut not_captured = None;
    let raw = match r.body.filter(|_| r.capture) {
        Some(body) => {
            let raw = raw(r, body, now_ms);
            if raw.is_none() {
                not_captured = Some(format!(
                    "the request's head is over {} KiB",
                    RAW_HEADERS >> 10
                ));
            }
            raw
        }
        None => None,
    };
    Stored {
        shown: Rejected {
            seq,
            received_at: crate::rfc3339_ms(now_ms),
            route: r.route.to_owned(),
            source_ip: r.source.to_string(),
            status: r.status,
            code: r.code.to_owned(),
            reason: capped(r.reason.as_bytes(), TEXT),
            method: capped(p.method.as_str().as_bytes(), 16),
            path,
            headers,
            body_bytes: r.body.map(|b| b.len()),
            body_sha256: r.body.map(|b| hex::encode(sha2::Sha256::digest(b))),
            body_head: r
                .body
                .filter(|_| r.capture)
                .map(|b| capped(&b[..b.len().min(HEAD)], HEAD)),
            replayable: raw.is_some(),
            replayed_as: None,
            not_captured,
            repeats: 0,
            last_at: None,
        },
        raw,
    }
}

/// The request as received, without cookies and with a shared-token credential
/// replaced by its digest; `None` when its head is over [`RAW_HEADERS`].
fn raw(r: &Refused, body: &Bytes, now_ms: i64) -> Option<Raw> {
    let p = r.parts;
    let head: usize = p.uri.to_string().len()
        + p.headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum::<usize>();
    if head > RAW_HEADERS {
        return None;
    }
    let token = match r.verifier {
        Some(Verifier::Token(t)) => Some(t.place),
        _ => None,
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut credential = None;
    let headers = p
        .headers
        .iter()
        .filter(|(n, _)| **n != http::header::COOKIE)
        .filter(|(n, v)| {
            let carries = match token {
                Some(TokenIn::Header(h)) => n.as_str().eq_ignore_ascii_case(h),
                Some(TokenIn::Basic) => **n == http::header::AUTHORIZATION,
                _ => false,
            };
            if carries {
                credential = Some(match token {
                    Some(TokenIn::Basic) => basic_credentials(v.as_bytes()).unwrap_or_default(),
                    _ => v.as_bytes().to_vec(),
                });
            }
            !carries
        })
        .map(|(n, v)| (n.as_str().to_owned(), b64(v.as_bytes())))
        .collect();
    let mut uri = p.uri.to_string();
    if let (Some(TokenIn::Query(param)), Some(q)) = (token, p.uri.query()) {
        let mut kept = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if k == param {
                credential = Some(v.as_bytes().to_vec());
            } else {
                kept.append_pair(&k, &v);
            }
        }
        let kept = kept.finish();
        uri = format!(
            "{}{}{kept}",
            p.uri.path(),
            if kept.is_empty() { "" } else { "?" }
        );
    }
    Some(Raw {
        https: r.https,
        uri,
        headers,
        body_base64: b64(body),
        received_at_ms: now_ms,
        credential_sha256: credential.map(|c| hex::encode(sha2::Sha256::digest(c))),
    })
}

/// The headers and query a recorded shared-token credential needs again: those of the
/// route's secret whose SHA-256 is `digest` (compared in constant time), if any.
#[allow(clippy::type_complexity)]
pub(super) fn restore_credential(
    route: &crate::config::Route,
    digest: &str,
) -> Option<(Vec<(String, String)>, Option<String>)> {
    let Verifier::Token(t) = &route.verifier else {
        return None;
    };
    let want = hex::decode(digest).ok()?;
    let mut found = None;
    for s in &route.secrets {
        if crate::checks::verify::ct_eq(&sha2::Sha256::digest(&s.0), &want) {
            found = Some(s);
        }
    }
    let secret = &found?.0;
    Some((t.sign(secret), t.sign_url(secret)))
}

/// What a record costs the queue's budget: its text and captured bytes, and a fixed
/// part for the allocations around them.
pub(super) fn cost(s: &Stored) -> usize {
    let r = &s.shown;
    let shown = r
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 48)
        .sum::<usize>()
        + r.reason.len()
        + r.path.len()
        + r.body_head.as_ref().map_or(0, String::len)
        + 512;
    let raw = s.raw.as_ref().map_or(0, |raw| {
        raw.uri.len()
            + raw.body_base64.len()
            + raw
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 48)
                .sum::<usize>()
    });
    shown + raw
}
