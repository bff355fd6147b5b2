//! `hookgate sign`: the headers (or a curl command) that make a body valid for a route,
//! computed by the same scheme code that verifies. A fresh event id is generated where
//! the route takes its id from a header, so repeated runs are not duplicates.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::config::{Config, Route};
use crate::event::Source;

fn fresh_id(body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(crate::now_ms().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    h.update(nanos.to_le_bytes());
    h.update(body);
    format!("msg_{}", &hex::encode(h.finalize())[..24])
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub fn render(
    cfg: &Config,
    r: &Route,
    body: &[u8],
    key: &[u8],
    body_file: Option<&str>,
    curl: Option<&str>,
) -> anyhow::Result<String> {
    let id = fresh_id(body);
    let url = match (&r.public_url, curl) {
        (Some(u), _) => u.clone(),
        (None, Some(c)) => {
            let u = url::Url::parse(c).map_err(|e| anyhow::anyhow!("bad --curl URL: {e}"))?;
            let host = match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
                None => u.host_str().unwrap_or("").to_string(),
            };
            format!("{}://{host}{}", u.scheme(), u.path())
        }
        (None, None) => format!("http://{}{}", cfg.listen, r.path),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if r.body_json {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    let signed = r
        .verifier
        .sign(key, body, &url, crate::now_ms() / 1000, &id);
    if let Some(Source::Header(h)) = r.event_id.first() {
        if !signed
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(h.as_str()))
        {
            headers.push((h.to_string(), id.clone()));
        }
    }
    headers.extend(signed);
    let mut out = String::new();
    match curl {
        None => {
            for (k, v) in &headers {
                writeln!(out, "{k}: {v}")?;
            }
        }
        Some(u) => {
            write!(out, "curl -sS -X POST {}", quote(u))?;
            for (k, v) in &headers {
                write!(out, " -H {}", quote(&format!("{k}: {v}")))?;
            }
            match body_file {
                Some(f) => writeln!(out, " --data-binary @{}", quote(f))?,
                None => {
                    let text = std::str::from_utf8(body).map_err(|_| {
                        anyhow::anyhow!(
                            "a binary body from stdin cannot go in a command line; use --body FILE"
                        )
                    })?;
                    writeln!(out, " --data-binary {}", quote(text))?
                }
            }
        }
    }
    Ok(out)
}
