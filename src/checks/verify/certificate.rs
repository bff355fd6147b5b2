//! Signatures checked against a pinned certificate (PayPal): RSA PKCS#1 v1.5 with
//! SHA-256 (`PAYPAL-AUTH-ALGO: SHA256withRSA`) over
//! `{transmission id}|{transmission time}|{webhook id}|{CRC32 of the raw body, decimal}`,
//! the signature base64 in `PAYPAL-TRANSMISSION-SIG`.
//!
//! PayPal names a certificate URL in each request (`PAYPAL-CERT-URL`). hookgate never
//! fetches it: a URL taken from a request is the attacker's choice. The route's
//! `secrets` hold the certificate(s) to trust, PEM, downloaded once by the operator from
//! PayPal (several while PayPal rotates). `webhook_id` is the route's setting: PayPal
//! signs the id of the webhook it delivers for, so a request signed for another
//! merchant's webhook does not pass. PayPal documents no freshness window and its retries
//! span days, so the signed time is not judged; the event id (the body's `id`) dedups.

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

use super::{SetupError, SignedRequest, VerifyError};

const ID: &str = "paypal-transmission-id";
const TIME: &str = "paypal-transmission-time";
const SIG: &str = "paypal-transmission-sig";

pub struct Certificate {
    /// DER certificates, each parsed at load.
    certs: Vec<Vec<u8>>,
    /// The id of the route's webhook at PayPal, part of what is signed.
    pub webhook_id: String,
}

/// A configured certificate (PEM) as DER, or why not.
pub(crate) fn decode_certificate(text: &str) -> Result<Vec<u8>, SetupError> {
    let der = CertificateDer::from_pem_slice(text.as_bytes()).map_err(|_| SetupError::NotPem)?;
    webpki::EndEntityCert::try_from(&der).map_err(|e| SetupError::Certificate(e.to_string()))?;
    Ok(der.to_vec())
}

impl Certificate {
    pub fn new(certs: &[Vec<u8>]) -> Certificate {
        Certificate {
            certs: certs.to_vec(),
            webhook_id: String::new(),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "rsa-sha256 in {SIG}, webhook id {:?} ({} pinned certificate(s))",
            self.webhook_id,
            self.certs.len()
        )
    }

    fn message(&self, id: &[u8], time: &[u8], body: &[u8]) -> Vec<u8> {
        let crc = crc32fast::hash(body).to_string();
        let mut m = Vec::with_capacity(id.len() + time.len() + self.webhook_id.len() + 16);
        for (i, part) in [id, time, self.webhook_id.as_bytes(), crc.as_bytes()]
            .iter()
            .enumerate()
        {
            if i > 0 {
                m.push(b'|');
            }
            m.extend_from_slice(part);
        }
        m
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let header = |h: &str| req.header(h).ok_or_else(|| VerifyError::Missing(h.into()));
        let sig = base64::engine::general_purpose::STANDARD
            .decode(header(SIG)?.trim_ascii())
            .map_err(|_| VerifyError::Malformed("the signature is not base64"))?;
        let message = self.message(header(ID)?, header(TIME)?, req.body);
        let ok = self.certs.iter().any(|der| {
            let der = CertificateDer::from(der.as_slice());
            webpki::EndEntityCert::try_from(&der).is_ok_and(|cert| {
                cert.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, &message, &sig)
                    .is_ok()
            })
        });
        if ok {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    /// PayPal's headers for `body`, signed with an RSA private key (base64 PKCS#8 DER),
    /// for `hookgate sign`.
    pub fn sign(
        &self,
        private: &[u8],
        body: &[u8],
        now: i64,
        id: &str,
    ) -> Result<Vec<(String, String)>, SetupError> {
        let pair =
            ring::signature::RsaKeyPair::from_pkcs8(private).map_err(|_| SetupError::RsaPrivate)?;
        let time = crate::rfc3339_ms(now * 1000);
        let message = self.message(id.as_bytes(), time.as_bytes(), body);
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            &message,
            &mut sig,
        )
        .map_err(|_| SetupError::Signing)?;
        Ok(vec![
            (ID.into(), id.to_string()),
            (TIME.into(), time),
            ("paypal-auth-algo".into(), "SHA256withRSA".into()),
            (
                SIG.into(),
                base64::engine::general_purpose::STANDARD.encode(sig),
            ),
        ])
    }
}
