//! Shared-secret schemes, where the secret itself is sent rather than a MAC:
//! - in a header, verbatim (GitLab's `X-Gitlab-Token`, Okta's `Authorization`,
//!   Telegram's `X-Telegram-Bot-Api-Secret-Token`);
//! - as HTTP Basic credentials (Postmark: `https://user:pass@host/path` in the webhook
//!   URL), the secret written `user:password`;
//! - in the URL's query string (Mailchimp, which signs nothing: the secret is a
//!   parameter of the URL you give it).
//!
//! Compared in constant time as SHA-256 digests, so neither content nor length leaks
//! by timing. These schemes authenticate the sender but do not bind the body: use TLS.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::{ct_eq, SignedRequest, VerifyError};

/// Where the secret travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenIn {
    /// A header's whole value.
    Header(&'static str),
    /// `Authorization: Basic base64(user:password)`.
    Basic,
    /// A query parameter of the request URL.
    Query(&'static str),
}

/// The credentials of an `Authorization: Basic …` value (`user:password`), as the
/// scheme compares them; `None` when it is not Basic or not base64.
pub(crate) fn basic_credentials(v: &[u8]) -> Option<Vec<u8>> {
    v.get(..6)
        .filter(|s| s.eq_ignore_ascii_case(b"basic "))
        .and_then(|_| {
            base64::engine::general_purpose::STANDARD
                .decode(v[6..].trim_ascii())
                .ok()
        })
}

pub struct Token {
    pub place: TokenIn,
    pub keys: Vec<[u8; 32]>,
}

impl Token {
    pub fn new(place: TokenIn, secrets: &[Vec<u8>]) -> Token {
        Token {
            place,
            keys: secrets.iter().map(|s| Sha256::digest(s).into()).collect(),
        }
    }

    pub fn describe(&self) -> String {
        let n = self.keys.len();
        match self.place {
            TokenIn::Header(h) => format!("token in {h} ({n} secret(s))"),
            TokenIn::Basic => format!("basic auth ({n} credential(s))"),
            TokenIn::Query(p) => format!("token in query parameter {p} ({n} secret(s))"),
        }
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let got: [u8; 32] = match self.place {
            TokenIn::Header(h) => Sha256::digest(
                req.header(h)
                    .ok_or_else(|| VerifyError::Missing(h.into()))?,
            ),
            TokenIn::Basic => {
                let v = req
                    .header("authorization")
                    .ok_or_else(|| VerifyError::Missing("authorization".into()))?;
                let creds = basic_credentials(v).ok_or(VerifyError::Malformed(
                    "authorization is not Basic credentials",
                ))?;
                Sha256::digest(creds)
            }
            TokenIn::Query(p) => {
                let v = url::form_urlencoded::parse(req.query.as_bytes())
                    .find(|(k, _)| k == p)
                    .map(|(_, v)| v)
                    .ok_or_else(|| VerifyError::Missing(format!("query parameter {p}")))?;
                Sha256::digest(v.as_bytes())
            }
        }
        .into();
        // Check every key so the time does not depend on which one matched.
        let ok = self.keys.iter().fold(false, |acc, k| acc | ct_eq(k, &got));
        if ok {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    /// The header that carries `key` (for a query token, nothing: it goes in the URL,
    /// see [`Token::sign_url`]).
    pub fn sign(&self, key: &[u8]) -> Vec<(String, String)> {
        match self.place {
            TokenIn::Header(h) => vec![(h.into(), String::from_utf8_lossy(key).into_owned())],
            TokenIn::Basic => vec![(
                "authorization".into(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(key)
                ),
            )],
            TokenIn::Query(_) => Vec::new(),
        }
    }

    /// The query parameter a URL needs, for `hookgate sign`.
    pub fn sign_url(&self, key: &[u8]) -> Option<String> {
        match self.place {
            TokenIn::Query(p) => Some(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(p, &String::from_utf8_lossy(key))
                    .finish(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn check(t: &Token, h: &HeaderMap, query: &str) -> Result<(), VerifyError> {
        t.verify(&SignedRequest {
            headers: h,
            body: b"",
            url: "",
            method: "POST",
            query,
            now: 0,
        })
    }

    #[test]
    fn gitlab_token_rotation() {
        let t = Token::new(
            TokenIn::Header("x-gitlab-token"),
            &[b"old".to_vec(), b"new".to_vec()],
        );
        let mut h = HeaderMap::new();
        for (tok, want) in [
            ("new", Ok(())),
            ("old", Ok(())),
            ("ne", Err(VerifyError::Mismatch)),
        ] {
            h.insert("x-gitlab-token", tok.parse().unwrap());
            assert_eq!(check(&t, &h, ""), want);
        }
        h.clear();
        assert_eq!(
            check(&t, &h, ""),
            Err(VerifyError::Missing("x-gitlab-token".into()))
        );
    }

    #[test]
    fn basic_credentials_and_query_tokens() {
        let t = Token::new(TokenIn::Basic, &[b"hooks:s3cret".to_vec()]);
        let mut h = HeaderMap::new();
        // RFC 7617's encoding of the credentials, written by hand.
        h.insert("authorization", "basic aG9va3M6czNjcmV0".parse().unwrap());
        assert_eq!(check(&t, &h, ""), Ok(()));
        h.insert("authorization", "Basic aG9va3M6czNjcmVU".parse().unwrap());
        assert_eq!(check(&t, &h, ""), Err(VerifyError::Mismatch));
        h.insert("authorization", "Bearer aG9va3M6czNjcmV0".parse().unwrap());
        assert!(matches!(check(&t, &h, ""), Err(VerifyError::Malformed(_))));

        let q = Token::new(TokenIn::Query("token"), &[b"a b&c".to_vec()]);
        let none = HeaderMap::new();
        assert_eq!(check(&q, &none, "x=1&token=a+b%26c"), Ok(()));
        assert_eq!(check(&q, &none, "token=a+b"), Err(VerifyError::Mismatch));
        assert!(matches!(
            check(&q, &none, "x=1"),
            Err(VerifyError::Missing(_))
        ));
        assert_eq!(q.sign_url(b"a b&c").unwrap(), "token=a+b%26c");
    }
}
