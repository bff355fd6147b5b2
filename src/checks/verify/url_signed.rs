//! URL-signed form posts: HMAC over the URL the provider called followed by every POST
//! parameter, sorted by name, as `name` + `value` with no separators; base64, no prefix.
//! Twilio (`X-Twilio-Signature`, HMAC-SHA1 with the Auth Token) and Mandrill
//! (`X-Mandrill-Signature`, HMAC-SHA1 with the webhook key) sign this way.
//!
//! Twilio's JSON requests sign the URL alone, which then carries `bodySHA256=<hex
//! SHA-256 of the body>` in its query; the hash is checked against the raw body. The URL
//! is the route's `public_url` (or the request's scheme, Host and path) with the
//! request's query string, so a gateway behind a TLS-terminating proxy needs
//! `public_url`: the provider signed `https://…`, not what the proxy forwarded.

use sha2::{Digest as _, Sha256};

use super::{b64, ct_eq, Algorithm, Candidates, Mac, SignedRequest, VerifyError};

/// The signed form fields, as `(name, value)`.
type Params = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Debug)]
pub struct FormSpec {
    /// Lower-case header name.
    pub header: &'static str,
    pub algorithm: Algorithm,
    /// The query parameter that carries the body's SHA-256 for non-form bodies.
    pub body_hash_param: Option<&'static str>,
}

pub struct FormSigned {
    pub spec: &'static FormSpec,
    keys: Vec<Mac>,
}

impl FormSigned {
    pub fn new(spec: &'static FormSpec, secrets: &[Vec<u8>]) -> FormSigned {
        FormSigned {
            spec,
            keys: secrets
                .iter()
                .map(|s| Mac::new(spec.algorithm, s))
                .collect(),
        }
    }

    pub fn secrets(&self) -> usize {
        self.keys.len()
    }

    /// The form parameters that are signed: none when the URL carries the body's hash
    /// (checked here, in constant time), else the body's, sorted by name then value.
    fn params(&self, req: &SignedRequest) -> Result<Params, VerifyError> {
        let hashed = self.spec.body_hash_param.and_then(|p| {
            url::form_urlencoded::parse(req.query.as_bytes())
                .find(|(k, _)| k == p)
                .map(|(_, v)| v.into_owned())
        });
        if let Some(expected) = hashed {
            let got = hex::encode(Sha256::digest(req.body));
            if !ct_eq(got.as_bytes(), expected.to_ascii_lowercase().as_bytes()) {
                return Err(VerifyError::Mismatch);
            }
            return Ok(Vec::new());
        }
        let mut params: Params = url::form_urlencoded::parse(req.body)
            .map(|(k, v)| (k.into_owned().into_bytes(), v.into_owned().into_bytes()))
            .collect();
        params.sort();
        Ok(params)
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let sig = req
            .header(self.spec.header)
            .ok_or_else(|| VerifyError::Missing(self.spec.header.into()))?;
        let mut candidates = Candidates::new();
        candidates.push(sig.trim_ascii(), true);
        if candidates.is_empty() {
            return Err(VerifyError::Malformed("signature is not valid base64"));
        }
        let params = self.params(req)?;
        let feed = |mac: &mut Mac| feed(mac, req.url, &params);
        if candidates.match_any(&self.keys, feed) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    /// The header for a form `body` posted to `url` (a `bodySHA256` URL signs no params).
    pub fn sign(&self, key: &[u8], body: &[u8], url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let req = SignedRequest {
            headers: &http::HeaderMap::new(),
            body,
            url,
            method: "POST",
            query,
            now: 0,
        };
        let params = self.params(&req).unwrap_or_default();
        let mut mac = Mac::new(self.spec.algorithm, key);
        feed(&mut mac, url, &params);
        vec![(self.spec.header.into(), b64(mac.finish().as_bytes()))]
    }
}

fn feed(mac: &mut Mac, url: &str, params: &[(Vec<u8>, Vec<u8>)]) {
    mac.update(url.as_bytes());
    for (k, v) in params {
        mac.update(k);
        mac.update(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    const TWILIO: FormSpec = FormSpec {
        header: "x-twilio-signature",
        algorithm: Algorithm::Sha1,
        body_hash_param: Some("bodySHA256"),
    };

    fn verify(url: &str, body: &[u8], sig: &str) -> Result<(), VerifyError> {
        let s = FormSigned::new(&TWILIO, &[b"12345".to_vec()]);
        let mut h = HeaderMap::new();
        h.insert("x-twilio-signature", sig.parse().unwrap());
        s.verify(&SignedRequest {
            headers: &h,
            body,
            url,
            method: "POST",
            query: url.split_once('?').map_or("", |(_, q)| q),
            now: 0,
        })
    }

    /// Twilio's published example (docs: "Validating signatures from Twilio").
    #[test]
    fn twilio_docs_vector() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let body = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
        let sig = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        assert_eq!(verify(url, body, sig), Ok(()));
        assert_eq!(
            verify(url, &body[..body.len() - 1], sig),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("https://mycompany.com/myapp.php?foo=1", body, sig),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn a_json_body_is_bound_by_its_hash_in_the_url() {
        let s = FormSigned::new(&TWILIO, &[b"12345".to_vec()]);
        let body = br#"{"a":1}"#;
        let url = format!(
            "https://h.example/hook?bodySHA256={}",
            hex::encode(Sha256::digest(body))
        );
        let sig = s.sign(b"12345", body, &url)[0].1.clone();
        assert_eq!(verify(&url, body, &sig), Ok(()));
        assert_eq!(
            verify(&url, br#"{"a":2}"#, &sig),
            Err(VerifyError::Mismatch)
        );
    }
}
