//! The accepted event and where its id and type come from: a header, a JSON pointer into
//! the body, or (for the id) `sha256:<hex of body>`. The id is the dedup key and the
//! queued message's `message_id`, so it is bounded and printable whatever a sender puts in.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub enum Source {
    Header(HeaderName),
    Json(String),
}

/// An event that passed every check, ready for the durable hand-off.
#[derive(Debug, Clone)]
pub struct Event {
    pub route: Arc<str>,
    pub id: String,
    pub event_type: Option<String>,
    /// The request body exactly as received.
    pub body: Bytes,
    pub content_type: Option<String>,
    pub received_at_ms: i64,
    pub source_ip: IpAddr,
    /// The route's `forward_headers` that the request carried, lower-cased names.
    pub headers: Vec<(String, String)>,
}

/// Longest id or type taken from a request; longer values are not trusted as keys.
const MAX_LEN: usize = 200;

fn usable(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LEN && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// The first source that yields a usable value.
pub(crate) fn extract(
    sources: &[Source],
    headers: &HeaderMap,
    json: Option<&serde_json::Value>,
) -> Option<String> {
    for s in sources {
        let v = match s {
            Source::Header(h) => headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string()),
            Source::Json(p) => json.and_then(|j| j.pointer(p)).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        };
        if let Some(v) = v.filter(|v| usable(v)) {
            return Some(v);
        }
    }
    None
}

/// The event id: the configured source, else the body's SHA-256.
pub(crate) fn event_id(
    sources: &[Source],
    headers: &HeaderMap,
    json: Option<&serde_json::Value>,
    body: &[u8],
) -> String {
    extract(sources, headers, json)
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(body))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_sources_in_order_then_body_hash() {
        let mut h = HeaderMap::new();
        h.insert("x-id", "abc".parse().unwrap());
        let j: serde_json::Value = serde_json::json!({"id": "evt_1", "n": 5, "o": {}});
        let srcs = [
            Source::Json("/missing".into()),
            Source::Header(HeaderName::from_static("x-id")),
        ];
        assert_eq!(event_id(&srcs, &h, Some(&j), b""), "abc");
        assert_eq!(
            extract(&[Source::Json("/n".into())], &h, Some(&j)).as_deref(),
            Some("5")
        );
        assert_eq!(extract(&[Source::Json("/o".into())], &h, Some(&j)), None);
        assert_eq!(
            event_id(&[], &h, None, b"Hello, World!"),
            "sha256:dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f"
        );
        h.insert("x-id", "a".repeat(201).parse().unwrap());
        assert!(event_id(&srcs[1..], &h, None, b"x").starts_with("sha256:"));
    }
}
