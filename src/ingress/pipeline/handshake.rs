//! Handshakes: the requests a provider sends to check an endpoint before (or while)
//! delivering to it, answered by the gateway so the application never sees them. Which
//! one a route answers is its preset's (`catalog::Handshake`). A handshake is never
//! queued; it is counted under the outcome `handshake`, after the route's allowlist and
//! rate limit, like any request.
//!
//! Where the provider signs the handshake (Slack, Zoom, Twitch) or authenticates it
//! (Okta's header, Mailchimp's URL token, Meta's verify token), it is answered only once
//! that check passed. Dropbox, Nylas, X and Microsoft Graph send theirs unsigned: the
//! answer is all the protocol allows anyone to learn (docs/handshakes.md says what each
//! exposes). Echoed values are bounded ([`MAX_CHALLENGE`]) and sent as `text/plain`
//! with `nosniff`, so an echo cannot become a page in a browser.
//!
//! Two answers are MACs made with the route's secret: X's CRC and Zoom's
//! `encryptedToken`. X signs its events' bodies with that same key and primitive, so an
//! answer over a token of the sender's choosing would be a valid signature for a body
//! equal to that token. Both tokens are therefore taken only in the shape the providers
//! send (a short random string, [`signing_token`]), which can never be a body the route
//! accepts: a route with a MAC handshake must require JSON (`config::load`), and a
//! token that parses as JSON is refused.

use bytes::Bytes;
use http::{header, request::Parts, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use super::Rejection;
use crate::checks::verify::catalog::Handshake;
use crate::checks::verify::{ct_eq, Algorithm, Mac};
use crate::config::Route;

/// The longest challenge echoed or signed; providers send tens of bytes.
pub(super) const MAX_CHALLENGE: usize = 512;

fn kind(route: &Route) -> Handshake {
    route
        .provider
        .map_or(Handshake::None, |p| p.preset().handshake)
}

/// Does the route answer this method as a handshake (a GET, where the provider checks
/// an endpoint with one)?
pub(super) fn accepts(route: &Route, method: &Method) -> bool {
    *method == Method::GET
        && matches!(
            kind(route),
            Handshake::MetaHubChallenge
                | Handshake::OktaVerification
                | Handshake::EchoChallenge
                | Handshake::XCrc
                | Handshake::ValidationGet
        )
}

/// Answer a handshake GET (see [`accepts`]).
pub(super) fn get(
    route: &Route,
    parts: &Parts,
    now: i64,
) -> Result<Response<Full<Bytes>>, Rejection> {
    let query = parts.uri.query().unwrap_or("");
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let verify = || verify(route, parts, b"", now);
    match kind(route) {
        Handshake::MetaHubChallenge => {
            let token = param("hub.verify_token").ok_or(Rejection::SignatureMissing(
                crate::checks::verify::VerifyError::Missing("hub.verify_token".into()),
            ))?;
            let expected = route.verify_token.as_ref().map(|s| s.0.as_slice());
            if param("hub.mode").as_deref() != Some("subscribe")
                || !expected.is_some_and(|e| ct_eq(e, token.as_bytes()))
            {
                return Err(Rejection::SignatureInvalid(
                    crate::checks::verify::VerifyError::Mismatch,
                ));
            }
            text(&challenge(param("hub.challenge"))?)
        }
        Handshake::OktaVerification => {
            verify()?;
            let c = parts
                .headers
                .get("x-okta-verification-challenge")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            json_answer(&json!({ "verification": challenge(c)? }))
        }
        Handshake::EchoChallenge => text(&challenge(param("challenge"))?),
        Handshake::XCrc => {
            let token = signing_token(param("crc_token"))?;
            let key = route.secrets.first().ok_or(Rejection::BadRequest)?;
            let mut mac = Mac::new(Algorithm::Sha256, &key.0);
            mac.update(token.as_bytes());
            let sig = crate::checks::verify::b64(mac.finish().as_bytes());
            json_answer(&json!({ "response_token": format!("sha256={sig}") }))
        }
        Handshake::ValidationGet => {
            verify()?;
            Ok(Response::new(Full::new(Bytes::new())))
        }
        _ => Err(Rejection::MethodNotAllowed),
    }
}

/// A POST that is the route's handshake: its answer (after the route's verification
/// where the provider signs it), or `None` for an ordinary event.
pub(super) fn post(
    route: &Route,
    parts: &Parts,
    body: &[u8],
    url: &str,
    now: i64,
) -> Option<Result<Response<Full<Bytes>>, Rejection>> {
    let answer = match kind(route) {
        Handshake::SlackUrlVerification => {
            let doc = json_with(body, b"url_verification")?;
            if doc.get("type")?.as_str()? != "url_verification" {
                return None;
            }
            let c = doc
                .get("challenge")
                .and_then(Value::as_str)
                .map(str::to_string);
            signed(route, parts, body, url, now)
                .and_then(|()| challenge(c))
                .and_then(|c| json_answer(&json!({ "challenge": c })))
        }
        Handshake::ZoomUrlValidation => {
            let doc = json_with(body, b"endpoint.url_validation")?;
            if doc.get("event")?.as_str()? != "endpoint.url_validation" {
                return None;
            }
            let plain = doc
                .pointer("/payload/plainToken")?
                .as_str()
                .map(str::to_string);
            signed(route, parts, body, url, now)
                .and_then(|()| signing_token(plain))
                .and_then(|p| {
                    let key = route.secrets.first().ok_or(Rejection::BadRequest)?;
                    let mut mac = Mac::new(Algorithm::Sha256, &key.0);
                    mac.update(p.as_bytes());
                    let encrypted = hex::encode(mac.finish().as_bytes());
                    json_answer(&json!({ "plainToken": p, "encryptedToken": encrypted }))
                })
        }
        Handshake::TwitchCallback => {
            let t = parts.headers.get("twitch-eventsub-message-type")?;
            if t.as_bytes() != b"webhook_callback_verification" {
                return None;
            }
            signed(route, parts, body, url, now).and_then(|()| {
                let doc: Value = serde_json::from_slice(body)
                    .map_err(|e| Rejection::InvalidJson(e.to_string()))?;
                text(&challenge(
                    doc.get("challenge")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                )?)
            })
        }
        Handshake::GraphValidation => {
            let q = parts.uri.query()?;
            let token = url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "validationToken")
                .map(|(_, v)| v.into_owned())?;
            challenge(Some(token)).and_then(|t| text(&t))
        }
        _ => return None,
    };
    Some(answer)
}

/// The body as JSON, only when it holds `marker` (most requests are events: no parse).
fn json_with(body: &[u8], marker: &[u8]) -> Option<Value> {
    if !body.windows(marker.len()).any(|w| w == marker) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// The route's check of the handshake: the pipeline's own (`now` in seconds).
fn signed(route: &Route, parts: &Parts, body: &[u8], url: &str, now: i64) -> Result<(), Rejection> {
    super::inspect::verify(route, parts, body, url, now * 1000)
}

fn verify(route: &Route, parts: &Parts, body: &[u8], now: i64) -> Result<(), Rejection> {
    signed(route, parts, body, "", now)
}

/// A challenge present and of reasonable size, else `bad_request`.
fn challenge(c: Option<String>) -> Result<String, Rejection> {
    c.filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE)
        .ok_or(Rejection::BadRequest)
}

/// The longest token we sign: X's are UUIDs or base64 (36-44 bytes), Zoom's 22 bytes.
pub(super) const MAX_SIGNING_TOKEN: usize = 128;

/// A token the route's secret will MAC: 1 to [`MAX_SIGNING_TOKEN`] bytes of letters,
/// digits and `-_=+/.`, and not a JSON value (`123`, `true`), else `bad_request`. No
/// such string is a JSON object or array, and the routes that answer with a MAC require
/// JSON bodies, so the answer can never be a signature of an acceptable event.
fn signing_token(t: Option<String>) -> Result<String, Rejection> {
    t.filter(|t| {
        (1..=MAX_SIGNING_TOKEN).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=+/.".contains(&b))
            && serde_json::from_str::<serde::de::IgnoredAny>(t).is_err()
    })
    .ok_or(Rejection::BadRequest)
}

fn text(s: &str) -> Result<Response<Full<Bytes>>, Rejection> {
    let mut r = Response::new(Full::new(Bytes::copy_from_slice(s.as_bytes())));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    *r.status_mut() = StatusCode::OK;
    Ok(r)
}

fn json_answer(v: &Value) -> Result<Response<Full<Bytes>>, Rejection> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string() + "\n")));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
