//! Signatures carried inside the JSON body rather than in a header:
//! - Mailgun: `signature: {timestamp, token, signature}`, the signature the hex
//!   HMAC-SHA256 of `timestamp` + `token` with the webhook signing key. It does not cover
//!   the event data (Mailgun's design); the timestamp bounds replay of a captured token.
//! - Adyen (standard notifications): each `notificationItems[].NotificationRequestItem`
//!   carries `additionalData.hmacSignature`, the base64 HMAC-SHA256, with the hex-decoded
//!   HMAC key, of `pspReference:originalReference:merchantAccountCode:merchantReference:
//!   value:currency:eventCode:success` (an absent field is empty). Every item must verify.
//!
//! - Microsoft Graph: signs nothing; each `value[]` notification carries the
//!   `clientState` the subscription was created with, compared in constant time (as
//!   SHA-256 digests, like `token.rs`).
//!
//! The body is parsed here (the JSON stage parses it again later; these providers' bodies
//! are small), and a body that is not JSON has no signature: `signature_missing`.

use std::time::Duration;

use serde_json::Value;

use sha2::{Digest as _, Sha256};

use super::{b64, check_tolerance, ct_eq, Algorithm, Candidates, Mac, SignedRequest, VerifyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InBodySpec {
    Mailgun,
    Adyen,
    GraphClientState,
}

pub struct InBody {
    pub spec: InBodySpec,
    keys: Vec<Mac>,
    /// SHA-256 of each secret, for the schemes that send the secret itself (Graph).
    digests: Vec<[u8; 32]>,
}

/// Mailgun's own SDK accepts a signature for 15 minutes.
const MAILGUN_TOLERANCE: Duration = Duration::from_secs(900);

impl InBody {
    pub fn new(spec: InBodySpec, secrets: &[Vec<u8>]) -> InBody {
        InBody {
            spec,
            keys: secrets
                .iter()
                .map(|s| Mac::new(Algorithm::Sha256, s))
                .collect(),
            digests: secrets.iter().map(|s| Sha256::digest(s).into()).collect(),
        }
    }

    pub fn secrets(&self) -> usize {
        self.keys.len()
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let json: Value = serde_json::from_slice(req.body)
            .map_err(|_| VerifyError::Missing(self.field().into()))?;
        match self.spec {
            InBodySpec::Mailgun => self.mailgun(&json, req.now),
            InBodySpec::Adyen => self.adyen(&json),
            InBodySpec::GraphClientState => self.graph(&json),
        }
    }

    fn field(&self) -> &'static str {
        match self.spec {
            InBodySpec::Mailgun => "body /signature",
            InBodySpec::Adyen => "body /notificationItems",
            InBodySpec::GraphClientState => "body /value",
        }
    }

    fn mailgun(&self, json: &Value, now: i64) -> Result<(), VerifyError> {
        let s = json
            .get("signature")
            .ok_or(VerifyError::Missing("body /signature".into()))?;
        let text = |k: &str| s.get(k).and_then(Value::as_str);
        let (Some(ts), Some(token), Some(sig)) =
            (text("timestamp"), text("token"), text("signature"))
        else {
            return Err(VerifyError::Malformed(
                "signature needs timestamp, token and signature",
            ));
        };
        let mut candidates = Candidates::new();
        candidates.push(sig.as_bytes(), false);
        let signed = |mac: &mut Mac| {
            mac.update(ts.as_bytes());
            mac.update(token.as_bytes());
        };
        if !candidates.match_any(&self.keys, signed) {
            return Err(VerifyError::Mismatch);
        }
        check_tolerance(super::parse_unix(ts.as_bytes())?, now, MAILGUN_TOLERANCE)
    }

    fn adyen(&self, json: &Value) -> Result<(), VerifyError> {
        let items = json
            .get("notificationItems")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or(VerifyError::Missing("body /notificationItems".into()))?;
        for item in items {
            let item = item.get("NotificationRequestItem").unwrap_or(item);
            let sig = item
                .pointer("/additionalData/hmacSignature")
                .and_then(Value::as_str)
                .ok_or(VerifyError::Missing("additionalData.hmacSignature".into()))?;
            let mut candidates = Candidates::new();
            candidates.push(sig.as_bytes(), true);
            let signed = adyen_signed(item);
            if !candidates.match_any(&self.keys, |mac| mac.update(signed.as_bytes())) {
                return Err(VerifyError::Mismatch);
            }
        }
        Ok(())
    }

    fn graph(&self, json: &Value) -> Result<(), VerifyError> {
        let items = json
            .get("value")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or(VerifyError::Missing("body /value".into()))?;
        for item in items {
            let state = item
                .get("clientState")
                .and_then(Value::as_str)
                .ok_or(VerifyError::Missing("clientState".into()))?;
            let got: [u8; 32] = Sha256::digest(state.as_bytes()).into();
            if !self
                .digests
                .iter()
                .fold(false, |acc, k| acc | ct_eq(k, &got))
            {
                return Err(VerifyError::Mismatch);
            }
        }
        Ok(())
    }

    /// `hookgate sign`: the body with its signature filled in (Mailgun: a fresh token and
    /// `now`; Adyen: every item signed).
    pub fn sign_body(&self, key: &[u8], body: &[u8], now: i64) -> Option<Vec<u8>> {
        let mut json: Value = serde_json::from_slice(body).ok()?;
        let mac = |data: &[u8]| {
            let mut m = Mac::new(Algorithm::Sha256, key);
            m.update(data);
            m.finish()
        };
        match self.spec {
            InBodySpec::Mailgun => {
                let token = hex::encode(fastrand::u128(..).to_be_bytes());
                let ts = now.to_string();
                let sig = hex::encode(mac(format!("{ts}{token}").as_bytes()).as_bytes());
                json.as_object_mut()?.insert(
                    "signature".into(),
                    serde_json::json!({"timestamp": ts, "token": token, "signature": sig}),
                );
            }
            InBodySpec::Adyen => {
                for item in json.get_mut("notificationItems")?.as_array_mut()? {
                    let item = match item.get("NotificationRequestItem") {
                        Some(_) => item.get_mut("NotificationRequestItem")?,
                        None => item,
                    };
                    let sig = b64(mac(adyen_signed(item).as_bytes()).as_bytes());
                    let extra = item
                        .as_object_mut()?
                        .entry("additionalData")
                        .or_insert_with(|| serde_json::json!({}));
                    extra
                        .as_object_mut()?
                        .insert("hmacSignature".into(), sig.into());
                }
            }
            InBodySpec::GraphClientState => {
                let state = String::from_utf8_lossy(key).into_owned();
                for item in json.get_mut("value")?.as_array_mut()? {
                    item.as_object_mut()?
                        .insert("clientState".into(), state.clone().into());
                }
            }
        }
        serde_json::to_vec(&json).ok()
    }
}

/// Adyen's signed string for one notification item.
fn adyen_signed(item: &Value) -> String {
    let field = |p: &str| match item.pointer(p) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    [
        "/pspReference",
        "/originalReference",
        "/merchantAccountCode",
        "/merchantReference",
        "/amount/value",
        "/amount/currency",
        "/eventCode",
        "/success",
    ]
    .map(field)
    .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn verify(spec: InBodySpec, key: &[u8], body: &[u8], now: i64) -> Result<(), VerifyError> {
        InBody::new(spec, &[key.to_vec()]).verify(&SignedRequest::post(
            &HeaderMap::new(),
            body,
            now,
        ))
    }

    /// Adyen's published example (docs: "Verify HMAC signatures"), key hex-decoded.
    #[test]
    fn adyen_docs_vector() {
        let key = hex::decode("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056")
            .unwrap();
        let body = br#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"additionalData":{"hmacSignature":"coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="},"amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","merchantAccountCode":"TestMerchant","merchantReference":"TestPayment-1407325143704","originalReference":"","pspReference":"7914073381342284","success":"true"}}]}"#;
        assert_eq!(verify(InBodySpec::Adyen, &key, body, 0), Ok(()));
        let tampered = String::from_utf8_lossy(body).replace("1130", "1131");
        assert_eq!(
            verify(InBodySpec::Adyen, &key, tampered.as_bytes(), 0),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn mailgun_signs_timestamp_and_token_and_bounds_replay() {
        let s = InBody::new(InBodySpec::Mailgun, &[b"key-1".to_vec()]);
        let body = s
            .sign_body(b"key-1", br#"{"event-data":{"id":"e1"}}"#, 1_700_000_000)
            .unwrap();
        assert_eq!(
            verify(InBodySpec::Mailgun, b"key-1", &body, 1_700_000_000),
            Ok(())
        );
        assert_eq!(
            verify(InBodySpec::Mailgun, b"key-2", &body, 1_700_000_000),
            Err(VerifyError::Mismatch)
        );
        assert!(matches!(
            verify(InBodySpec::Mailgun, b"key-1", &body, 1_700_001_000),
            Err(VerifyError::TimestampSkew { .. })
        ));
        assert_eq!(
            verify(InBodySpec::Mailgun, b"key-1", b"not json", 0),
            Err(VerifyError::Missing("body /signature".into()))
        );
    }
}
