//! Public-key signatures: the provider signs with its private key, the route holds its
//! public key (in `secrets`: it is not secret, but it is what the route trusts). Checked
//! with ring:
//! - Discord (interactions): Ed25519 over `{X-Signature-Timestamp}{raw body}`, the
//!   signature hex in `X-Signature-Ed25519`, the key the application's 32-byte public key
//!   in hex (Developer Portal > the application > General Information);
//! - SendGrid (Event Webhook): ECDSA P-256 with SHA-256 over
//!   `{X-Twilio-Email-Event-Webhook-Timestamp}{raw body}`, the signature base64 DER in
//!   `X-Twilio-Email-Event-Webhook-Signature`, the key base64 DER (SubjectPublicKeyInfo);
//! - Telnyx: Ed25519 over `{telnyx-timestamp}|{raw body}`, signature and key base64;
//! - Standard Webhooks v1a: Ed25519 over `{webhook-id}.{webhook-timestamp}.{raw body}`,
//!   signatures `v1a,<base64>` separated by spaces, the key `whpk_<base64>`.
//!
//! `hookgate sign` signs for these with a private key given on its command line (a
//! provider's test key, or one made for a test): [`KeyAlgorithm::decode_private`].
//!
//! Timestamps are checked for freshness (5 minutes) like the HMAC schemes'.

use std::time::Duration;

use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};

use super::{check_tolerance, parse_unix, SetupError, SignedRequest, VerifyError};

/// One provider's layout.
#[derive(Debug)]
pub struct PublicKeySpec {
    pub algorithm: KeyAlgorithm,
    pub signature_header: &'static str,
    pub timestamp_header: &'static str,
    /// Between the timestamp and the body in the signed message (Telnyx: `|`).
    pub joiner: &'static str,
    /// A message id signed before the timestamp, `{id}{joiner}{ts}{joiner}{body}`
    /// (Standard Webhooks v1a).
    pub id_header: Option<&'static str>,
    /// Each signature's version prefix; the header may hold several, space-separated
    /// (entries with another prefix are skipped). Empty: one bare signature.
    pub sig_prefix: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Key: 32 bytes, hex; signature: 64 bytes, hex.
    Ed25519,
    /// Key: 32 bytes, base64; signature: 64 bytes, base64.
    Ed25519Base64,
    /// Key: SubjectPublicKeyInfo DER, base64; signature: DER, base64.
    EcdsaP256,
}

pub struct PublicKey {
    pub spec: &'static PublicKeySpec,
    /// Raw public keys, as ring takes them.
    keys: Vec<Vec<u8>>,
    pub tolerance: Duration,
}

/// The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl KeyAlgorithm {
    /// A configured public key as ring's raw key bytes, or why not.
    pub fn decode_key(self, text: &str) -> Result<Vec<u8>, SetupError> {
        let text = text.trim();
        match self {
            KeyAlgorithm::Ed25519 => match hex::decode(text) {
                Ok(k) if k.len() == 32 => Ok(k),
                _ => Err(SetupError::Ed25519HexKey),
            },
            KeyAlgorithm::Ed25519Base64 => match B64.decode(text.trim_start_matches("whpk_")) {
                Ok(k) if k.len() == 32 => Ok(k),
                _ => Err(SetupError::Ed25519Base64Key),
            },
            KeyAlgorithm::EcdsaP256 => {
                let der = B64.decode(text).map_err(|_| SetupError::P256KeyNotBase64)?;
                match der.strip_prefix(P256_SPKI_PREFIX) {
                    Some(point) if point.len() == 65 && point[0] == 4 => Ok(point.to_vec()),
                    _ => Err(SetupError::P256Key),
                }
            }
        }
    }
}

impl KeyAlgorithm {
    /// A private key from the command line (`hookgate sign --private-key`): an Ed25519
    /// seed (32 bytes, hex or base64) or a P-256 key as base64 PKCS#8 DER.
    pub fn decode_private(self, text: &str) -> Result<Vec<u8>, SetupError> {
        let text = text.trim();
        match self {
            // Standard Webhooks writes secret keys `whsk_` + base64 of seed and public key.
            KeyAlgorithm::Ed25519 | KeyAlgorithm::Ed25519Base64 => hex::decode(text)
                .ok()
                .or_else(|| B64.decode(text.trim_start_matches("whsk_")).ok())
                .map(|mut k| {
                    k.truncate(32);
                    k
                })
                .filter(|k| k.len() == 32)
                .ok_or(SetupError::Ed25519Private),
            KeyAlgorithm::EcdsaP256 => B64
                .decode(text)
                .map_err(|_| SetupError::P256PrivateNotBase64),
        }
    }

    fn sign(self, private: &[u8], message: &[u8]) -> Result<String, SetupError> {
        use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
        match self {
            KeyAlgorithm::Ed25519 | KeyAlgorithm::Ed25519Base64 => {
                let pair = Ed25519KeyPair::from_seed_unchecked(private)
                    .map_err(|_| SetupError::Ed25519Seed)?;
                let sig = pair.sign(message);
                Ok(if self == KeyAlgorithm::Ed25519 {
                    hex::encode(sig.as_ref())
                } else {
                    B64.encode(sig.as_ref())
                })
            }
            KeyAlgorithm::EcdsaP256 => {
                let rng = ring::rand::SystemRandom::new();
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, private, &rng)
                    .map_err(|_| SetupError::P256Private)?;
                let sig = pair.sign(&rng, message).map_err(|_| SetupError::Signing)?;
                Ok(B64.encode(sig.as_ref()))
            }
        }
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl PublicKey {
    pub fn new(spec: &'static PublicKeySpec, keys: &[Vec<u8>]) -> PublicKey {
        PublicKey {
            spec,
            keys: keys.to_vec(),
            tolerance: Duration::from_secs(300),
        }
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let spec = self.spec;
        let sig = req
            .header(spec.signature_header)
            .ok_or_else(|| VerifyError::Missing(spec.signature_header.into()))?;
        let ts = req
            .header(spec.timestamp_header)
            .ok_or_else(|| VerifyError::Missing(spec.timestamp_header.into()))?;
        let when = parse_unix(ts)?;
        let id = match spec.id_header {
            Some(h) => req
                .header(h)
                .ok_or_else(|| VerifyError::Missing(h.into()))?,
            None => b"",
        };
        let sigs: Vec<Vec<u8>> = sig
            .split(|b| *b == b' ')
            .filter_map(|entry| entry.trim_ascii().strip_prefix(spec.sig_prefix.as_bytes()))
            .filter_map(|entry| match spec.algorithm {
                KeyAlgorithm::Ed25519 => hex::decode(entry).ok(),
                KeyAlgorithm::Ed25519Base64 | KeyAlgorithm::EcdsaP256 => B64.decode(entry).ok(),
            })
            .take(8)
            .collect();
        if sigs.is_empty() {
            return Err(VerifyError::Malformed("the signature does not decode"));
        }
        let message = message(spec, id, ts, req.body);
        let alg: &dyn ring::signature::VerificationAlgorithm = match spec.algorithm {
            KeyAlgorithm::Ed25519 | KeyAlgorithm::Ed25519Base64 => &ED25519,
            KeyAlgorithm::EcdsaP256 => &ECDSA_P256_SHA256_ASN1,
        };
        // Public keys: which one matched is not secret, and the check is the library's.
        let ok = self.keys.iter().any(|k| {
            let key = UnparsedPublicKey::new(alg, k);
            sigs.iter().any(|sig| key.verify(&message, sig).is_ok())
        });
        if !ok {
            return Err(VerifyError::Mismatch);
        }
        check_tolerance(when, req.now, self.tolerance)
    }

    /// The provider's headers for `body`, signed with `private` (see
    /// [`KeyAlgorithm::decode_private`]).
    pub fn sign(
        &self,
        private: &[u8],
        body: &[u8],
        now: i64,
        id: &str,
    ) -> Result<Vec<(String, String)>, SetupError> {
        let spec = self.spec;
        let ts = now.to_string();
        let id = if spec.id_header.is_some() { id } else { "" };
        let sig = spec
            .algorithm
            .sign(private, &message(spec, id.as_bytes(), ts.as_bytes(), body))?;
        let mut headers = vec![
            (spec.timestamp_header.into(), ts),
            (
                spec.signature_header.into(),
                format!("{}{sig}", spec.sig_prefix),
            ),
        ];
        if let Some(h) = spec.id_header {
            headers.push((h.into(), id.to_string()));
        }
        Ok(headers)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} signature in {} +timestamp ({} key(s))",
            match self.spec.algorithm {
                KeyAlgorithm::Ed25519 | KeyAlgorithm::Ed25519Base64 => "ed25519",
                KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            },
            self.spec.signature_header,
            self.keys.len()
        )
    }
}

fn message(spec: &PublicKeySpec, id: &[u8], ts: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(id.len() + ts.len() + 2 * spec.joiner.len() + body.len());
    if spec.id_header.is_some() {
        m.extend_from_slice(id);
        m.extend_from_slice(spec.joiner.as_bytes());
    }
    m.extend_from_slice(ts);
    m.extend_from_slice(spec.joiner.as_bytes());
    m.extend_from_slice(body);
    m
}

#[cfg(test)]
mod tests {
    use super::KeyAlgorithm;

    #[test]
    fn keys_in_the_wrong_form_are_refused_with_what_is_expected() {
        let ed = KeyAlgorithm::Ed25519;
        assert_eq!(ed.decode_key(&"ab".repeat(32)).unwrap().len(), 32);
        assert!(ed
            .decode_key("abcd")
            .unwrap_err()
            .to_string()
            .contains("64 hex digits"));
        assert!(ed.decode_key(&"zz".repeat(32)).is_err());
        let p256 = KeyAlgorithm::EcdsaP256;
        // The form SendGrid shows its Verification Key in: base64 of a P-256 SPKI.
        let spki = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
        assert_eq!(p256.decode_key(spki).unwrap().len(), 65);
        assert!(p256
            .decode_key("bm90IGEga2V5")
            .unwrap_err()
            .to_string()
            .contains("P-256"));
        assert!(p256.decode_key("%%%").is_err());
    }
}
