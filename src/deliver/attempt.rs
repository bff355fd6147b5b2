//! One delivery attempt: the POST the application receives (docs/delivery.md: the original body
//! and content type, or the `transform`'s JSON, the route's forwarded headers, the
//! gateway's headers, and Standard Webhooks headers when `sign` is set) and what its
//! answer means.

use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{header, HeaderName, HeaderValue, Request};
use http_body_util::Full;
use sha2::Sha256;

use super::backoff;
use super::client::{Client, Failure, Past};
use super::trace;
use super::transform::Transformer;
use crate::checks::event::Event;
use crate::checks::transform::TransformError;
use crate::config::Destination;
use crate::durable::store::history::Attempt;

/// Bytes of an answer's body read: its start goes into the dead letters' last error;
/// the status alone decides, so the rest is not read.
const ANSWER_LIMIT: usize = 1 << 10;

/// What one attempt came to.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// `2xx`, `4xx`, `5xx`, `timeout`, `connect_error`, `error` or `transform` (metric
    /// label).
    pub label: &'static str,
    pub status: Option<u16>,
    /// Empty when delivered; else what went wrong, for the dead letters.
    pub error: String,
    /// The application asked for a later retry (a 429 or 503 `Retry-After`).
    pub retry_after: Option<Duration>,
    pub took: Duration,
}

impl Outcome {
    pub(crate) fn delivered(&self) -> bool {
        self.label == "2xx"
    }

    /// Does it say the destination is unwell (as opposed to this one event)?
    pub(crate) fn destination_failing(&self) -> bool {
        !self.delivered() && self.label != "4xx" && !self.permanent() || self.status == Some(429)
    }

    /// Would another attempt come to the same? A transform is deterministic: its
    /// failure makes the event a dead letter at once.
    pub(crate) fn permanent(&self) -> bool {
        self.label == "transform"
    }

    /// This attempt in the event's story (the event view).
    pub(crate) fn told(&self) -> Attempt {
        let took = self.took.as_millis();
        Attempt {
            at_ms: crate::now_ms() - took as i64,
            status: self.status,
            duration_ms: took as u64,
            error: self.error.clone(),
        }
    }
}

/// The event's body for this destination, and its content type: its `transform`'s
/// output, else as received.
async fn body_for(
    ev: &Event,
    transform: Option<&Transformer>,
) -> Result<(Bytes, Option<HeaderValue>), TransformError> {
    let Some(t) = transform else {
        let ct = ev
            .content_type
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok());
        return Ok((ev.body.clone(), ct));
    };
    let body = t.apply(&ev.body).await?;
    Ok((body, Some(HeaderValue::from_static("application/json"))))
}

pub(crate) async fn send(
    client: &Client,
    dest: &Destination,
    ev: &Event,
    attempt: u32,
    transform: Option<&Transformer>,
) -> Outcome {
    let mut span = trace::start(dest, ev, attempt);
    let traceparent = span.as_ref().map(trace::traceparent);
    let started = Instant::now();
    let outcome = match body_for(ev, transform).await {
        Ok(body) => attempt_once(client, dest, ev, body, attempt, traceparent).await,
        Err(e) => Outcome {
            // A process that did not start is the host's problem: retried like one.
            label: if matches!(e, TransformError::NotStarted(_)) {
                "error"
            } else {
                "transform"
            },
            status: None,
            error: format!("transform {e}"),
            retry_after: None,
            took: started.elapsed(),
        },
    };
    if let Some(span) = span.as_mut() {
        let failed = (!outcome.delivered()).then_some(outcome.label);
        trace::end(span, outcome.status, failed);
    }
    outcome
}

async fn attempt_once(
    client: &Client,
    dest: &Destination,
    ev: &Event,
    body: (Bytes, Option<HeaderValue>),
    attempt: u32,
    traceparent: Option<String>,
) -> Outcome {
    let started = Instant::now();
    let req = match request(dest, ev, body, attempt, traceparent) {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                label: "error",
                status: None,
                error: format!("building the request: {e}"),
                retry_after: None,
                took: started.elapsed(),
            }
        }
    };
    let result = client
        .send(req, dest.timeout, ANSWER_LIMIT, Past::Cut)
        .await;
    let took = started.elapsed();
    match result {
        Ok(a) => {
            let code = a.status.as_u16();
            let label = match code {
                200..=299 => "2xx",
                400..=499 => "4xx",
                _ => "5xx",
            };
            let retry_after = matches!(code, 429 | 503)
                .then(|| backoff::retry_after(&a.headers))
                .flatten();
            let error = if label == "2xx" {
                String::new()
            } else {
                let body = String::from_utf8_lossy(&a.body[..a.body.len().min(200)]).into_owned();
                format!("HTTP {code}: {body}")
            };
            Outcome {
                label,
                status: Some(code),
                error,
                retry_after,
                took,
            }
        }
        Err(f) => {
            let label = match f {
                Failure::Timeout => "timeout",
                Failure::Connect(_) => "connect_error",
                Failure::Broken(_) => "error",
            };
            Outcome {
                label,
                status: None,
                error: f.to_string(),
                retry_after: None,
                took,
            }
        }
    }
}

fn request(
    dest: &Destination,
    ev: &Event,
    (body, content_type): (Bytes, Option<HeaderValue>),
    attempt: u32,
    traceparent: Option<String>,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut req = Request::post(dest.url.clone()).body(Full::new(body.clone()))?;
    let h = req.headers_mut();
    // Room for the gateway's headers, the forwarded ones and the client's Host at once:
    // growing the map one header at a time was 1 % of the delivery benchmark's CPU.
    h.reserve(12 + ev.headers.len());
    if let Some(ct) = content_type {
        h.insert(header::CONTENT_TYPE, ct);
    }
    // Forwarded headers were checked at load (none reserved), and are set first so the
    // gateway's own come last and win.
    for (k, v) in &ev.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.append(k, v);
        }
    }
    super::headers::gateway_headers(h, ev, Some(&dest.name), Some(attempt));
    // This attempt's span, in place of the ingest span the event carries.
    if let Some(v) = traceparent.and_then(|t| HeaderValue::from_str(&t).ok()) {
        h.insert(HeaderName::from_static("traceparent"), v);
    }
    if let Some(key) = &dest.sign {
        let ts = (crate::now_ms() / 1000).to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes any key length");
        mac.update(ev.id.as_bytes());
        mac.update(b".");
        mac.update(ts.as_bytes());
        mac.update(b".");
        // What the application receives: the transformed body when there is one.
        mac.update(&body);
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        if let Ok(id) = HeaderValue::from_str(&ev.id) {
            h.insert(HeaderName::from_static("webhook-id"), id);
        }
        h.insert(
            HeaderName::from_static("webhook-timestamp"),
            HeaderValue::from_str(&ts).expect("digits are a header value"),
        );
        h.insert(
            HeaderName::from_static("webhook-signature"),
            HeaderValue::from_str(&format!("v1,{sig}")).expect("base64 is a header value"),
        );
    }
    Ok(req)
}
