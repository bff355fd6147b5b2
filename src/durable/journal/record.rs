//! One record: how an event is encoded (length, CRC-32, fields) and decoded.

use std::sync::Arc;

use bytes::{Buf, Bytes};

use crate::checks::event::Event;

use super::{HEADER, NONE};

pub(super) fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

pub(super) fn put_opt(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put(buf, s.as_bytes()),
        None => buf.extend_from_slice(&NONE.to_le_bytes()),
    }
}

/// Append `ev`'s record, numbered `seq`, to `buf`.
pub(crate) fn encode(buf: &mut Vec<u8>, seq: i64, ev: &Event) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&ev.received_at_ms.to_le_bytes());
    put(buf, ev.route.as_bytes());
    put(buf, ev.id.as_bytes());
    put_opt(buf, ev.event_type.as_deref());
    // An IpAddr prints into a stack buffer; no String for it.
    let mut ip = [0u8; 48];
    let n = {
        use std::io::Write;
        let mut w = &mut ip[..];
        let _ = write!(w, "{}", ev.source_ip);
        48 - w.len()
    };
    put(buf, &ip[..n]);
    put_opt(buf, ev.content_type.as_deref());
    buf.extend_from_slice(&(ev.headers.len() as u32).to_le_bytes());
    for (name, value) in &ev.headers {
        put(buf, name.as_bytes());
        put(buf, value.as_bytes());
    }
    put(buf, &ev.body);
    let payload = &buf[start + HEADER..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    buf[start..start + 4].copy_from_slice(&len);
    buf[start + 4..start + 8].copy_from_slice(&crc);
}

/// A record read back.
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: i64,
    pub event: Event,
}

/// One record as [`encode`] wrote it (header and payload), checked: the spool keeps its
/// events as records, values in the store's database.
pub(crate) fn decode_record(bytes: &[u8]) -> Option<Record> {
    let len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    let payload = bytes.get(HEADER..HEADER.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    decode(payload)
}

/// The next `len: u32 | bytes` field of `p`.
pub(super) fn field<'a>(p: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = p.try_get_u32_le().ok()? as usize;
    let (f, rest) = p.split_at_checked(n)?;
    *p = rest;
    Some(f)
}

pub(super) fn string(p: &mut &[u8]) -> Option<String> {
    String::from_utf8(field(p)?.to_vec()).ok()
}

pub(super) fn optional(p: &mut &[u8]) -> Option<Option<String>> {
    if p.get(..4)? == NONE.to_le_bytes() {
        p.advance(4);
        return Some(None);
    }
    string(p).map(Some)
}

/// Decode a payload whose CRC matched; `None` if it does not parse (a bug, or a record
/// from a newer version).
pub(super) fn decode(mut p: &[u8]) -> Option<Record> {
    let p = &mut p;
    let seq = p.try_get_i64_le().ok()?;
    let received_at_ms = p.try_get_i64_le().ok()?;
    let route: Arc<str> = Arc::from(std::str::from_utf8(field(p)?).ok()?);
    let id = string(p)?;
    let event_type = optional(p)?;
    let source_ip = std::str::from_utf8(field(p)?).ok()?.parse().ok()?;
    let content_type = optional(p)?;
    let n = p.try_get_u32_le().ok()? as usize;
    let mut headers = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        headers.push((string(p)?, string(p)?));
    }
    let body = Bytes::copy_from_slice(field(p)?);
    Some(Record {
        seq,
        event: Event {
            route,
            id,
            event_type,
            body,
            content_type,
            received_at_ms,
            source_ip,
            headers,
        },
    })
}
