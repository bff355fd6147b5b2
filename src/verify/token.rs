//! Shared-token schemes (GitLab's `X-Gitlab-Token`): the secret itself is sent. Compared
//! in constant time as SHA-256 digests, so neither content nor length leaks by timing.

use sha2::{Digest as _, Sha256};

use super::{ct_eq, SignedRequest, VerifyError};

pub struct Token {
    pub header: &'static str,
    pub keys: Vec<[u8; 32]>,
}

impl Token {
    pub fn new(header: &'static str, secrets: &[Vec<u8>]) -> Token {
        Token {
            header,
            keys: secrets.iter().map(|s| Sha256::digest(s).into()).collect(),
        }
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let v = req
            .header(self.header)
            .ok_or_else(|| VerifyError::Missing(self.header.into()))?;
        let got: [u8; 32] = Sha256::digest(v).into();
        // Check every key so the time does not depend on which one matched.
        let ok = self.keys.iter().fold(false, |acc, k| acc | ct_eq(k, &got));
        if ok {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    pub fn sign(&self, key: &[u8]) -> Vec<(String, String)> {
        vec![(
            self.header.to_string(),
            String::from_utf8_lossy(key).into_owned(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    #[test]
    fn gitlab_token_rotation() {
        let t = Token::new("x-gitlab-token", &[b"old".to_vec(), b"new".to_vec()]);
        let mut h = HeaderMap::new();
        for (tok, want) in [
            ("new", Ok(())),
            ("old", Ok(())),
            ("ne", Err(VerifyError::Mismatch)),
        ] {
            h.insert("x-gitlab-token", tok.parse().unwrap());
            assert_eq!(
                t.verify(&SignedRequest {
                    headers: &h,
                    body: b"",
                    url: "",
                    now: 0
                }),
                want
            );
        }
        h.clear();
        assert_eq!(
            t.verify(&SignedRequest {
                headers: &h,
                body: b"",
                url: "",
                now: 0
            }),
            Err(VerifyError::Missing("x-gitlab-token".into()))
        );
    }
}
