//! The admin port's JSON API, read-only, and its client in `hookgate store`.
//!
//! `GET /api/v1/spool?limit=N[&route=R]` lists the newest spooled events (oldest
//! first), `GET /api/v1/spool?id=X` the spooled events with that id: each a JSON object
//! with the fields `hookgate store list --json` prints and the body as `body_base64`.
//! It exists because the spool lives in the store's database, which only the gateway
//! that serves from it can open; `hookgate store` asks it there. Event bodies are
//! personal data: until the admin port has a token, the API answers loopback clients
//! only (403 otherwise), whatever `admin.listen` says.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::Duration;

use crate::store::{ApiEvent, Store, Table};

/// The answer to an API request: status and JSON body.
pub fn answer(store: &Store, peer: IpAddr, path: &str, query: Option<&str>) -> (u16, String) {
    if !peer.is_loopback() {
        return (
            403,
            r#"{"error":"the API answers loopback clients only"}"#.into(),
        );
    }
    if path != "/api/v1/spool" {
        return (404, r#"{"error":"not_found"}"#.into());
    }
    let (mut route, mut id, mut limit) = (None, None, 50usize);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "route" => route = Some(v.into_owned()),
            "id" => id = Some(v.into_owned()),
            "limit" => match v.parse() {
                Ok(n) => limit = n,
                Err(_) => return (400, r#"{"error":"limit is a whole number"}"#.into()),
            },
            _ => {
                let error = format!("unknown parameter {k:?}");
                return (400, serde_json::json!({ "error": error }).to_string());
            }
        }
    }
    let reader = store.reader();
    let events = match &id {
        Some(id) => reader.show(id).map(|found| {
            found
                .into_iter()
                .filter(|(t, _)| *t == Table::Spool)
                .map(|(_, e)| e)
                .collect()
        }),
        None => reader.list(Table::Spool, route.as_deref(), limit),
    };
    match events {
        Ok(events) => {
            let items: Vec<ApiEvent> = events.into_iter().map(ApiEvent::of).collect();
            (
                200,
                serde_json::to_string(&items).unwrap_or_else(|_| "[]".into()),
            )
        }
        Err(e) => (
            500,
            serde_json::json!({ "error": e.to_string() }).to_string(),
        ),
    }
}

/// `s` as a query-string value.
pub fn query_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// GET `path_and_query` from the admin port at `addr`; the body of a 200.
pub fn get(addr: &str, path_and_query: &str) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP response"))?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let status = head.split(' ').nth(1).unwrap_or("");
    let body = buf[end + 4..].to_vec();
    if status != "200" {
        return Err(std::io::Error::other(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(body)
}
