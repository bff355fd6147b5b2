//! How `hookgate store` reaches a running gateway's admin API: while a gateway serves
//! from a store, it alone can open the store's database, and answers for it there.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `s` as a query-string value.
pub(crate) fn query_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `method` `path_and_query` on the admin port at `addr` (a POST says it is JSON, which
/// a cross-site form cannot); the body of a 200.
pub(crate) fn call(addr: &str, method: &str, path_and_query: &str) -> std::io::Result<Vec<u8>> {
    let (status, body) = call_any(addr, method, path_and_query)?;
    if status != 200 {
        return Err(std::io::Error::other(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(body)
}

/// [`call`], answering the status and body whatever the status.
pub(crate) fn call_any(
    addr: &str,
    method: &str,
    path_and_query: &str,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    // With `admin.token` on the gateway, the CLI presents $HOOKGATE_ADMIN_TOKEN.
    let auth = std::env::var("HOOKGATE_ADMIN_TOKEN")
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP response"))?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status"))?;
    Ok((status, buf[end + 4..].to_vec()))
}
