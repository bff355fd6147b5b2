//! How `hookgate store` reaches a running gateway's admin API: while a gateway serves
//! from a store, it alone can open the store's database, and answers for it there.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

/// Why a call to the running gateway's admin API did not give its answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RemoteError {
    #[error("did not answer: {0}")]
    Unreachable(#[from] std::io::Error),
    #[error("answered {status}: {body}{hint}", hint = if *status == 401 { " (set $HOOKGATE_ADMIN_TOKEN, or give the configuration that holds admin.token with -c)" } else { "" })]
    Status { status: u16, body: String },
}

/// The token the CLI presents when `$HOOKGATE_ADMIN_TOKEN` is not set: the
/// configuration's `admin.token` (see [`use_admin_token`]).
static CONFIGURED_TOKEN: OnceLock<String> = OnceLock::new();

/// Present `token` (the configuration's `admin.token`) to the gateway's API, unless
/// `$HOOKGATE_ADMIN_TOKEN` is set, which wins.
pub(crate) fn use_admin_token(token: &[u8]) {
    if let Ok(t) = std::str::from_utf8(token) {
        let _ = CONFIGURED_TOKEN.set(t.to_string());
    }
}

/// `s` as a query-string value.
pub(crate) fn query_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `method` `path_and_query` on the admin port at `addr` (a POST says it is JSON, which
/// a cross-site form cannot); the body of a 200.
pub(crate) fn call(addr: &str, method: &str, path_and_query: &str) -> Result<Vec<u8>, RemoteError> {
    let (status, body) = call_any(addr, method, path_and_query)?;
    if status != 200 {
        let body = String::from_utf8_lossy(&body).trim_end().to_string();
        return Err(RemoteError::Status { status, body });
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
    // With `admin.token` on the gateway, the CLI presents $HOOKGATE_ADMIN_TOKEN, else
    // the token of the configuration it was given.
    let auth = std::env::var("HOOKGATE_ADMIN_TOKEN")
        .ok()
        .or_else(|| CONFIGURED_TOKEN.get().cloned())
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
