//! A signed canonical request (Contentful): hex HMAC-SHA256 of
//! `{METHOD}\n{path and query}\n{signed headers}\n{raw body}`, where the signed headers
//! are those `x-contentful-signed-headers` names (always with itself and
//! `x-contentful-timestamp`), each `name:value` lowercased and trimmed, sorted by name,
//! joined by `;`. The timestamp is in milliseconds. The path is the one the provider
//! called: the route's `public_url`'s, else the request's.

use std::time::Duration;

use super::{check_tolerance, parse_unix, Algorithm, Candidates, Mac, SignedRequest, VerifyError};

const SIGNATURE: &str = "x-contentful-signature";
const SIGNED_HEADERS: &str = "x-contentful-signed-headers";
const TIMESTAMP: &str = "x-contentful-timestamp";

pub struct Canonical {
    keys: Vec<Mac>,
    pub tolerance: Duration,
}

impl Canonical {
    pub fn new(secrets: &[Vec<u8>]) -> Canonical {
        Canonical {
            keys: secrets
                .iter()
                .map(|s| Mac::new(Algorithm::Sha256, s))
                .collect(),
            tolerance: Duration::from_secs(300),
        }
    }

    pub fn secrets(&self) -> usize {
        self.keys.len()
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let sig = req
            .header(SIGNATURE)
            .ok_or_else(|| VerifyError::Missing(SIGNATURE.into()))?;
        let names = req
            .header(SIGNED_HEADERS)
            .ok_or_else(|| VerifyError::Missing(SIGNED_HEADERS.into()))?;
        let names = std::str::from_utf8(names)
            .map_err(|_| VerifyError::Malformed("signed headers are not text"))?;
        let mut headers = Vec::new();
        for name in names.split(',').map(|n| n.trim().to_ascii_lowercase()) {
            let value = req
                .header(&name)
                .ok_or_else(|| VerifyError::Missing(name.clone()))?;
            let value = std::str::from_utf8(value)
                .map_err(|_| VerifyError::Malformed("a signed header is not text"))?;
            headers.push((name, value.trim().to_string()));
        }
        // The timestamp must be signed, or a captured request replays with a fresh one.
        if !headers.iter().any(|(n, _)| n == TIMESTAMP) {
            return Err(VerifyError::Malformed(
                "the timestamp is not among the signed headers",
            ));
        }
        let ts = parse_unix(req.header(TIMESTAMP).unwrap_or_default())?.div_euclid(1000);
        let mut candidates = Candidates::new();
        candidates.push(sig.trim_ascii(), false);
        let canonical = canonical(req.method, path(req.url), &mut headers, req.body);
        if !candidates.match_any(&self.keys, |mac| mac.update(&canonical)) {
            return Err(VerifyError::Mismatch);
        }
        check_tolerance(ts, req.now, self.tolerance)
    }

    pub fn sign(&self, key: &[u8], body: &[u8], url: &str, now: i64) -> Vec<(String, String)> {
        let ts = (now * 1000).to_string();
        let names = format!("{SIGNED_HEADERS},{TIMESTAMP}");
        let mut headers = vec![
            (SIGNED_HEADERS.to_string(), names.clone()),
            (TIMESTAMP.to_string(), ts.clone()),
        ];
        let mut mac = Mac::new(Algorithm::Sha256, key);
        mac.update(&canonical("POST", path(url), &mut headers, body));
        vec![
            (SIGNATURE.into(), hex::encode(mac.finish().as_bytes())),
            (SIGNED_HEADERS.into(), names),
            (TIMESTAMP.into(), ts),
        ]
    }
}

/// The path and query of an absolute URL (`/` when it has none).
fn path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

fn canonical(method: &str, path: &str, headers: &mut [(String, String)], body: &[u8]) -> Vec<u8> {
    headers.sort();
    let joined: Vec<String> = headers.iter().map(|(n, v)| format!("{n}:{v}")).collect();
    let mut c = Vec::with_capacity(64 + body.len());
    for part in [
        method.as_bytes(),
        path.as_bytes(),
        joined.join(";").as_bytes(),
    ] {
        c.extend_from_slice(part);
        c.push(b'\n');
    }
    c.extend_from_slice(body);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    /// providers.md's vector, made by @contentful/node-apps-toolkit's signRequest: POST
    /// /hook, content-type signed too, ts 1700000000000, secret "a" x 64.
    #[test]
    fn contentful_toolkit_vector() {
        let c = Canonical::new(&[vec![b'a'; 64]]);
        let mut h = HeaderMap::new();
        h.insert(
            "x-contentful-signature",
            "b3185bcb973d7b4426db905728029186ce41cee287fa7e19cd3989024a9c942a"
                .parse()
                .unwrap(),
        );
        h.insert(
            "x-contentful-signed-headers",
            "content-type,x-contentful-signed-headers,x-contentful-timestamp"
                .parse()
                .unwrap(),
        );
        h.insert("x-contentful-timestamp", "1700000000000".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        let req = |body: &'static [u8], url: &'static str| SignedRequest {
            headers: &h,
            body,
            url,
            method: "POST",
            query: "",
            now: 1_700_000_000,
        };
        let body = br#"{"id":"evt_test","type":"test"}"#;
        assert_eq!(c.verify(&req(body, "https://example.com/hook")), Ok(()));
        assert_eq!(
            c.verify(&req(body, "https://example.com/other")),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            c.verify(&req(b"{}", "https://example.com/hook")),
            Err(VerifyError::Mismatch)
        );
    }
}
