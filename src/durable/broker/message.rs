//! The message of an event: its routing key and its properties and headers.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;

use crate::checks::event::Event;

/// `<route>.<event type or "event">`, within AMQP's 255 bytes.
pub(super) fn routing_key(route: &str, event_type: Option<&str>) -> ShortString {
    let mut key = format!("{route}.{}", event_type.unwrap_or("event"));
    if key.len() > 255 {
        let mut cut = 255;
        while !key.is_char_boundary(cut) {
            cut -= 1;
        }
        key.truncate(cut);
    }
    ShortString::try_new(key).unwrap_or_else(|_| route.into())
}

/// The message properties and headers of docs/reference.md.
pub(super) fn properties(ev: &Event) -> BasicProperties {
    let mut headers = FieldTable::default();
    // Owned strings move into the table without another copy.
    let s = |v: String| AMQPValue::LongString(LongString::from(v));
    for (k, v) in &ev.headers {
        if let Ok(k) = ShortString::try_new(k.as_str()) {
            headers.insert(k, s(v.clone()));
        }
    }
    // The gateway's own headers last, so that they win even over a forwarded header of
    // the same name (which the configuration refuses anyway).
    headers.insert("hookgate-route".into(), s(ev.route.to_string()));
    headers.insert(
        "hookgate-received-at".into(),
        s(crate::rfc3339_ms(ev.received_at_ms)),
    );
    headers.insert("hookgate-source-ip".into(), s(ev.source_ip.to_string()));
    let mut p = BasicProperties::default()
        .with_delivery_mode(2)
        .with_timestamp((ev.received_at_ms / 1000).max(0) as u64)
        .with_app_id("hookgate".into())
        .with_headers(headers);
    // Event ids and types are at most 200 bytes (see `event`); content types come from
    // the network and are dropped rather than truncated when too long.
    if let Ok(id) = ShortString::try_new(ev.id.as_str()) {
        p = p.with_message_id(id);
    }
    if let Some(t) = ev
        .event_type
        .as_deref()
        .and_then(|t| ShortString::try_new(t).ok())
    {
        p = p.with_type(t);
    }
    if let Some(ct) = ev
        .content_type
        .as_deref()
        .and_then(|c| ShortString::try_new(c).ok())
    {
        p = p.with_content_type(ct);
    }
    p
}

/// The event a message carries (the inverse of [`properties`]): what delivery needs
/// to send it on. The route is the destination's, the forwarded headers are the
/// message's headers other than the gateway's own.
pub(crate) fn event_of(route: &std::sync::Arc<str>, data: &[u8], p: &BasicProperties) -> Event {
    let text = |v: &AMQPValue| match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    };
    let mut headers = Vec::new();
    let (mut received_at_ms, mut source_ip) =
        (crate::now_ms(), std::net::IpAddr::from([0, 0, 0, 0]));
    if let Some(h) = p.headers() {
        for (k, v) in h.inner() {
            let Some(v) = text(v) else { continue };
            match k.as_str() {
                "hookgate-received-at" => {
                    if let Ok(t) = humantime::parse_rfc3339(&v) {
                        received_at_ms = t
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as i64);
                    }
                }
                "hookgate-source-ip" => source_ip = v.parse().unwrap_or(source_ip),
                k if k.starts_with("hookgate-") => {}
                k => headers.push((k.to_string(), v)),
            }
        }
    }
    Event {
        route: route.clone(),
        id: p
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        event_type: p.kind().as_ref().map(|s| s.to_string()),
        body: bytes::Bytes::copy_from_slice(data),
        content_type: p.content_type().as_ref().map(|s| s.to_string()),
        received_at_ms,
        source_ip,
        headers,
    }
}
