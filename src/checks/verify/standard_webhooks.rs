//! Standard Webhooks (and Svix, which names its headers `svix-*`): HMAC-SHA256 over
//! `"{id}.{timestamp}.{raw body}"`, key = base64-decoded secret after `whsec_`,
//! signatures `v1,<base64>` separated by spaces, any match passes, non-`v1` skipped.

use std::time::Duration;

use super::{
    check_tolerance, parse_unix, Algorithm, Candidates, Mac, SetupError, SignedRequest, VerifyError,
};

pub struct StandardWebhooks {
    /// `webhook` or `svix`.
    pub prefix: &'static str,
    pub keys: Vec<Mac>,
    pub tolerance: Duration,
    id: String,
    ts: String,
    sig: String,
}

impl StandardWebhooks {
    pub fn new(prefix: &'static str, secrets: &[Vec<u8>]) -> StandardWebhooks {
        StandardWebhooks {
            prefix,
            keys: secrets
                .iter()
                .map(|s| Mac::new(Algorithm::Sha256, s))
                .collect(),
            tolerance: Duration::from_secs(300),
            id: format!("{prefix}-id"),
            ts: format!("{prefix}-timestamp"),
            sig: format!("{prefix}-signature"),
        }
    }

    /// `whsec_<base64>` (or bare base64) -> key bytes.
    pub fn decode_secret(s: &str) -> Result<Vec<u8>, SetupError> {
        use base64::Engine;
        // Supabase shows its secrets as `v1,whsec_…`.
        let s = s.strip_prefix("v1,").unwrap_or(s);
        let b = s.strip_prefix("whsec_").unwrap_or(s);
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b))
            .map_err(|_| SetupError::StandardWebhooksSecret)
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let sig = req
            .header(&self.sig)
            .ok_or_else(|| VerifyError::Missing(self.sig.clone()))?;
        let id = req
            .header(&self.id)
            .ok_or_else(|| VerifyError::Missing(self.id.clone()))?;
        let ts_raw = req
            .header(&self.ts)
            .ok_or_else(|| VerifyError::Missing(self.ts.clone()))?;
        let ts = parse_unix(ts_raw)?;
        let mut candidates = Candidates::new();
        for entry in sig.split(|b| *b == b' ') {
            // Non-v1 entries (e.g. v1a, asymmetric) are not ours to check.
            if let Some(b64) = entry.strip_prefix(b"v1,") {
                candidates.push(b64, true);
            }
        }
        let signed = |mac: &mut Mac| {
            for part in [id, b".", ts_raw, b".", req.body] {
                mac.update(part);
            }
        };
        if !candidates.match_any(&self.keys, signed) {
            return Err(VerifyError::Mismatch);
        }
        check_tolerance(ts, req.now, self.tolerance)
    }

    pub fn sign(&self, key: &[u8], body: &[u8], now: i64, id: &str) -> Vec<(String, String)> {
        let ts = now.to_string();
        let mut mac = Mac::new(Algorithm::Sha256, key);
        for part in [id.as_bytes(), b".", ts.as_bytes(), b".", body] {
            mac.update(part);
        }
        vec![
            (self.id.clone(), id.to_string()),
            (self.ts.clone(), ts),
            (
                self.sig.clone(),
                format!("v1,{}", super::b64(mac.finish().as_bytes())),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn headers(prefix: &str, id: &str, ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::HeaderName::from_bytes(format!("{prefix}-id").as_bytes()).unwrap(),
            id.parse().unwrap(),
        );
        h.insert(
            http::HeaderName::from_bytes(format!("{prefix}-timestamp").as_bytes()).unwrap(),
            ts.parse().unwrap(),
        );
        h.insert(
            http::HeaderName::from_bytes(format!("{prefix}-signature").as_bytes()).unwrap(),
            sig.parse().unwrap(),
        );
        h
    }

    #[test]
    fn standard_webhooks_published_vector() {
        // providers.md: the spec's example, reproduced by the python and node libraries.
        let key =
            StandardWebhooks::decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let s = StandardWebhooks::new("webhook", &[b"other-key".to_vec(), key]);
        let body = br#"{"test": 2432232314}"#;
        let h = headers(
            "webhook",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            "v1a,xyz v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
        let r = SignedRequest::post(&h, body, 1_614_265_330);
        assert_eq!(s.verify(&r), Ok(()));
        let r = SignedRequest::post(&h, body, 1_614_265_330 + 301);
        assert!(matches!(
            s.verify(&r),
            Err(VerifyError::TimestampSkew { .. })
        ));
        let r = SignedRequest::post(&h, b"{}", 1_614_265_330);
        assert_eq!(s.verify(&r), Err(VerifyError::Mismatch));
    }

    #[test]
    fn svix_headers_and_cross_checked_vector() {
        let key =
            StandardWebhooks::decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let s = StandardWebhooks::new("svix", std::slice::from_ref(&key));
        let body = br#"{"id":"evt_test","type":"test"}"#;
        let signed = s.sign(&key, body, 1_700_000_000, "msg_test");
        assert_eq!(
            signed[2].1,
            "v1,bdeItcIMz6gIem666/3vE/tJ2z5x4AOSPCXFQ6/v7/E="
        );
        let h = headers("svix", "msg_test", "1700000000", &signed[2].1);
        let r = SignedRequest::post(&h, body, 1_700_000_000);
        assert_eq!(s.verify(&r), Ok(()));
        let h = HeaderMap::new();
        let r = SignedRequest::post(&h, body, 1_700_000_000);
        assert_eq!(
            s.verify(&r),
            Err(VerifyError::Missing("svix-signature".into()))
        );
    }
}
