//! Stages 4 to 6, which need no I/O: the signature over the raw bytes, the JSON and its
//! schema, then the event. Public for the micro benchmark.

use bytes::Bytes;
use http::header;

use super::Rejection;
use crate::checks::event::{self, Event};
use crate::checks::verify::SignedRequest;
use crate::config::Route;

/// `Stage::Verify` and `Stage::Parse`, which need no I/O: signature (+ timestamp) over the raw bytes, JSON
/// parse, schema, then the event id and type. Returns the event ready for hand-off.
pub fn inspect(
    route: &Route,
    request: &http::request::Parts,
    body: Bytes,
    url: &str,
    now_ms: i64,
    ip: std::net::IpAddr,
) -> Result<Event, Rejection> {
    verify(route, request, &body, url, now_ms)?;
    event(route, request, body, now_ms, ip)
}

/// `Stage::Verify`: the signature (+ timestamp) over the raw bytes.
pub(super) fn verify(
    route: &Route,
    request: &http::request::Parts,
    body: &[u8],
    url: &str,
    now_ms: i64,
) -> Result<(), Rejection> {
    route.verifier.verify(&SignedRequest {
        headers: &request.headers,
        body,
        url,
        method: request.method.as_str(),
        query: request.uri.query().unwrap_or(""),
        now: now_ms / 1000,
    })?;
    Ok(())
}

/// `Stage::Parse`: JSON parse, schema, then the event id and type.
pub(super) fn event(
    route: &Route,
    request: &http::request::Parts,
    body: Bytes,
    now_ms: i64,
    ip: std::net::IpAddr,
) -> Result<Event, Rejection> {
    let headers = &request.headers;
    // Stage::Parse: JSON and schema,
    let json = if !route.body_json {
        None
    } else if route.json_tree {
        Some(
            serde_json::from_slice::<serde_json::Value>(&body)
                .map_err(|e| Rejection::InvalidJson(e.to_string()))?,
        )
    } else {
        // Only validity is needed: check it without building a tree, with the same
        // nesting limit the tree parser has.
        if nesting_depth(&body) > MAX_JSON_DEPTH {
            return Err(Rejection::InvalidJson(format!(
                "nested deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(&body)
            .map_err(|e| Rejection::InvalidJson(e.to_string()))?;
        None
    };
    if let (Some(schema), Some(j)) = (&route.schema, &json) {
        schema.check(j).map_err(Rejection::SchemaViolation)?;
    }
    // then the event id and type.
    let id = event::event_id(&route.event_id, headers, json.as_ref(), &body);
    let event_type = event::extract(&route.event_type, headers, json.as_ref());
    drop(json);
    let forwarded = route
        .forward_headers
        .iter()
        .filter_map(|h| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(|v| (h.as_str().to_string(), v.to_string()))
        })
        .collect();
    Ok(Event {
        route: route.name.clone(),
        id,
        event_type,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body,
        received_at_ms: now_ms,
        source_ip: ip,
        headers: forwarded,
    })
}

/// serde_json's recursion limit for building a `Value`; applied to every JSON body.
const MAX_JSON_DEPTH: usize = 128;

/// The deepest nesting of arrays and objects, ignoring brackets inside strings. Linear,
/// no allocation; malformed input is left to the parser.
pub(crate) fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_depth_ignores_strings() {
        assert_eq!(nesting_depth(br#"{"a":[1,{"b":"]]]{{{"}]}"#), 3);
        assert_eq!(nesting_depth(br#"{"a":"\"[[["}"#), 1);
        assert_eq!(nesting_depth(b"12"), 0);
        assert_eq!(nesting_depth(&[b'['; 1000]), 1000);
    }
}
