//! The headers the gateway sets on what it sends to the application (docs/delivery.md), set
//! last so no forwarded header can forge them.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::checks::event::Event;

/// `Idempotency-Key`, `Hookgate-Route`, `Hookgate-Event-Type`, and for a delivery
/// `Hookgate-Destination` and `Hookgate-Attempt`.
pub(crate) fn gateway_headers(
    h: &mut HeaderMap,
    ev: &Event,
    destination: Option<&str>,
    attempt: Option<u32>,
) {
    // The id is printable ASCII (see `event`) and the route a checked name; a type that
    // is not a valid header value is left out rather than mangled.
    if let Ok(v) = HeaderValue::from_str(&ev.id) {
        h.insert(HeaderName::from_static("idempotency-key"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&ev.route) {
        h.insert(HeaderName::from_static("hookgate-route"), v);
    }
    if let Some(v) = ev
        .event_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        h.insert(HeaderName::from_static("hookgate-event-type"), v);
    }
    if let Some(v) = destination.and_then(|d| HeaderValue::from_str(d).ok()) {
        h.insert(HeaderName::from_static("hookgate-destination"), v);
    }
    if let Some(n) = attempt {
        h.insert(
            HeaderName::from_static("hookgate-attempt"),
            HeaderValue::from(n),
        );
    }
}
