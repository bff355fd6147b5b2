//! HMAC over `"{timestamp}{joiner}{raw body}"` with the timestamp and the signatures in
//! one header of `key=value` items: Stripe (`Stripe-Signature: t=<unix>,v1=<hex>`), Mux
//! (`Mux-Signature`, the same), Paddle (`Paddle-Signature: ts=<unix>;h1=<hex>`, joined by
//! `:`). Any signature matching any secret passes; other keys (Stripe's `v0`) are ignored.
//! Secrets are used as their text (Stripe's includes `whsec_`).

use std::time::Duration;

use super::{check_tolerance, Algorithm, Candidates, Mac, SignedRequest, VerifyError};

/// One provider's layout of the header.
#[derive(Debug)]
pub struct KeyedSpec {
    /// Lower-case header name.
    pub header: &'static str,
    /// Between items: `,` or `;`.
    pub separator: u8,
    pub ts_key: &'static str,
    pub sig_key: &'static str,
    /// Between the timestamp and the body in the signed content.
    pub joiner: &'static str,
    /// The timestamp is in milliseconds (WorkOS, Sanity), not seconds.
    pub millis: bool,
    /// Signatures are base64url without padding (Sanity), not hex.
    pub base64url: bool,
}

pub(crate) const STRIPE: KeyedSpec = KeyedSpec {
    header: "stripe-signature",
    separator: b',',
    ts_key: "t",
    sig_key: "v1",
    joiner: ".",
    millis: false,
    base64url: false,
};

pub struct Keyed {
    pub spec: &'static KeyedSpec,
    pub keys: Vec<Mac>,
    pub tolerance: Duration,
}

impl Keyed {
    pub fn new(spec: &'static KeyedSpec, secrets: &[Vec<u8>]) -> Keyed {
        Keyed {
            spec,
            keys: secrets
                .iter()
                .map(|s| Mac::new(Algorithm::Sha256, s))
                .collect(),
            tolerance: Duration::from_secs(300),
        }
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let spec = self.spec;
        let value = req
            .header(spec.header)
            .ok_or_else(|| VerifyError::Missing(spec.header.into()))?;
        let mut t: Option<&[u8]> = None;
        let mut sigs: [&[u8]; 8] = [&[]; 8];
        let mut n = 0;
        for item in value.split(|b| *b == spec.separator) {
            let Some(eq) = item.iter().position(|b| *b == b'=') else {
                continue;
            };
            let (k, v) = (item[..eq].trim_ascii(), item[eq + 1..].trim_ascii());
            if k == spec.ts_key.as_bytes() && t.is_none() {
                t = Some(v);
            } else if k == spec.sig_key.as_bytes() && n < sigs.len() {
                sigs[n] = v;
                n += 1;
            }
        }
        let t = t.ok_or(VerifyError::Malformed("no timestamp item"))?;
        if n == 0 {
            return Err(VerifyError::Malformed("no signature item"));
        }
        let ts = super::parse_unix(t)?;
        let ts = if spec.millis { ts.div_euclid(1000) } else { ts };
        let mut candidates = Candidates::new();
        for sig in &sigs[..n] {
            if spec.base64url {
                // To the standard alphabet, on the stack (a SHA-256 MAC is 43 characters).
                let mut buf = [0u8; 96];
                let Some(dst) = buf.get_mut(..sig.len()) else {
                    continue;
                };
                for (d, s) in dst.iter_mut().zip(sig.iter()) {
                    *d = match s {
                        b'-' => b'+',
                        b'_' => b'/',
                        c => *c,
                    };
                }
                candidates.push(dst, true);
            } else {
                candidates.push(sig, false);
            }
        }
        let signed = |mac: &mut Mac| {
            mac.update(t);
            mac.update(spec.joiner.as_bytes());
            mac.update(req.body);
        };
        if !candidates.match_any(&self.keys, signed) {
            return Err(VerifyError::Mismatch);
        }
        check_tolerance(ts, req.now, self.tolerance)
    }

    pub fn sign(&self, key: &[u8], body: &[u8], now: i64) -> Vec<(String, String)> {
        let spec = self.spec;
        let mut mac = Mac::new(Algorithm::Sha256, key);
        let t = if spec.millis { now * 1000 } else { now }.to_string();
        mac.update(t.as_bytes());
        mac.update(spec.joiner.as_bytes());
        mac.update(body);
        let sig = if spec.base64url {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finish().as_bytes())
        } else {
            hex::encode(mac.finish().as_bytes())
        };
        let sep = char::from(spec.separator);
        vec![(
            spec.header.into(),
            format!("{}={t}{sep}{}={sig}", spec.ts_key, spec.sig_key),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    #[test]
    fn stripe_published_vector() {
        // providers.md: secret whsec_x, t=1700000000, body {} (stripe-python and stripe-node agree).
        let header =
            "t=1700000000,v1=be8cb8325f2202445260a855532f967e30ad2a9394ce28da66ee02880ddcb661";
        assert_eq!(
            Keyed::new(&STRIPE, &[]).sign(b"whsec_x", b"{}", 1_700_000_000)[0].1,
            header
        );
        let s = Keyed::new(&STRIPE, &[b"whsec_old".to_vec(), b"whsec_x".to_vec()]);
        let mut h = HeaderMap::new();
        h.insert(STRIPE.header, format!("{header},v0=abc").parse().unwrap());
        let req =
            |now, body: &'static [u8], h: &'static HeaderMap| SignedRequest::post(h, body, now);
        let h: &'static HeaderMap = Box::leak(Box::new(h));
        assert_eq!(s.verify(&req(1_700_000_100, b"{}", h)), Ok(()));
        assert_eq!(
            s.verify(&req(1_700_000_100, b"{ }", h)),
            Err(VerifyError::Mismatch)
        );
        assert!(matches!(
            s.verify(&req(1_700_000_301, b"{}", h)),
            Err(VerifyError::TimestampSkew { .. })
        ));
    }

    #[test]
    fn stripe_cross_checked_vector_and_several_v1() {
        // providers.md cross-checked vector: whsec_test over {"id":"evt_test","type":"test"}.
        let body = br#"{"id":"evt_test","type":"test"}"#;
        let good = "4bcc38a10efb1666bcbc202e170c767ba6efbb354fbdcf350d867102e7ead3b0";
        let s = Keyed::new(&STRIPE, &[b"whsec_test".to_vec()]);
        let mut h = HeaderMap::new();
        h.insert(
            STRIPE.header,
            format!("t=1700000000,v1={},v1={good}", "0".repeat(64))
                .parse()
                .unwrap(),
        );
        let r = SignedRequest::post(&h, body, 1_700_000_000);
        assert_eq!(s.verify(&r), Ok(()));
        h.insert(STRIPE.header, "v1=abc".parse().unwrap());
        let r = SignedRequest::post(&h, body, 1_700_000_000);
        assert_eq!(
            s.verify(&r),
            Err(VerifyError::Malformed("no timestamp item"))
        );
    }
}
