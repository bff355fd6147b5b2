//! Signature verification. Each scheme family lives in `verify/`; this module holds
//! what they share: the request view they verify, [`VerifyError`] (the reason, never a
//! bool), keyed MAC state prepared once per secret, constant-time comparison, and the
//! timestamp tolerance check. Provider presets ([`Provider`]) map a name to a scheme
//! and to where the event id and type come from.
//!
//! Rejections produced (through `pipeline`): `signature_missing`, `signature_invalid`,
//! `timestamp_out_of_tolerance`. No error carries an expected MAC or a secret.

pub(crate) mod catalog;
pub(crate) mod hmac;
pub(crate) mod in_body;
pub(crate) mod keyed;
mod presets;
pub(crate) mod public_key;
pub(crate) mod standard_webhooks;
mod template;
pub(crate) mod token;
pub(crate) mod url_signed;

pub use self::hmac::{HmacScheme, HmacSpec};
pub use keyed::Keyed;
pub use presets::Provider;
pub use standard_webhooks::StandardWebhooks;
pub use token::Token;

use std::fmt;
use std::time::Duration;

use ::hmac::{Hmac, Mac as _};
use http::HeaderMap;
use subtle::ConstantTimeEq;

/// Why a request failed verification. Kept distinct for logs; `pipeline` maps each to
/// exactly one rejection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header {0} is absent")]
    Missing(String),
    #[error("signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("no configured secret matches the signature")]
    Mismatch,
    #[error("timestamp is {skew_secs}s away from now (tolerance {tolerance_secs}s)")]
    TimestampSkew { skew_secs: i64, tolerance_secs: u64 },
}

/// What a verifier may look at: the raw body exactly as received, and the headers.
pub struct SignedRequest<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The URL the sender signed (`public_url`, or scheme + Host + path, then the
    /// request's query string), computed only for schemes that sign it.
    pub url: &'a str,
    /// `POST`, or `GET` for a handshake.
    pub method: &'a str,
    /// The request's query string, without `?` (empty when none).
    pub query: &'a str,
    /// Unix seconds, injected so tests control the clock.
    pub now: i64,
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(|v| v.as_bytes())
    }
}

/// A compiled verification scheme with its secrets.
pub enum Verifier {
    /// `verify: none`: explicitly unauthenticated.
    None,
    Hmac(HmacScheme),
    Token(Token),
    Keyed(Keyed),
    PublicKey(public_key::PublicKey),
    StandardWebhooks(StandardWebhooks),
    FormSigned(url_signed::FormSigned),
    InBody(in_body::InBody),
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verifier::None => "Verifier::None",
            Verifier::Hmac(_) => "Verifier::Hmac(<redacted>)",
            Verifier::Token(_) => "Verifier::Token(<redacted>)",
            Verifier::Keyed(_) => "Verifier::Keyed(<redacted>)",
            Verifier::PublicKey(_) => "Verifier::PublicKey",
            Verifier::StandardWebhooks(_) => "Verifier::StandardWebhooks(<redacted>)",
            Verifier::FormSigned(_) => "Verifier::FormSigned(<redacted>)",
            Verifier::InBody(_) => "Verifier::InBody(<redacted>)",
        })
    }
}

impl Verifier {
    pub fn hmac(spec: HmacSpec, secrets: Vec<Vec<u8>>) -> Verifier {
        Verifier::Hmac(HmacScheme::new(spec, &secrets))
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        match self {
            Verifier::None => Ok(()),
            Verifier::Hmac(s) => s.verify(req),
            Verifier::Token(s) => s.verify(req),
            Verifier::Keyed(s) => s.verify(req),
            Verifier::PublicKey(s) => s.verify(req),
            Verifier::StandardWebhooks(s) => s.verify(req),
            Verifier::FormSigned(s) => s.verify(req),
            Verifier::InBody(s) => s.verify(req),
        }
    }

    /// Headers that make `body` valid under this scheme, signed with `key` (already
    /// decoded the way the scheme decodes secrets). `id` is used where the scheme signs one.
    pub fn sign(
        &self,
        key: &[u8],
        body: &[u8],
        url: &str,
        now: i64,
        id: &str,
    ) -> Vec<(String, String)> {
        match self {
            Verifier::None => Vec::new(),
            Verifier::Hmac(s) => s.sign(key, body, url, now, id),
            Verifier::Token(s) => s.sign(key),
            Verifier::Keyed(s) => s.sign(key, body, now),
            // Signing needs the provider's private key, which a route does not hold.
            Verifier::PublicKey(_) => Vec::new(),
            Verifier::StandardWebhooks(s) => s.sign(key, body, now, id),
            Verifier::FormSigned(s) => s.sign(key, body, url),
            // The signature goes in the body: see `sign_body`.
            Verifier::InBody(_) => Vec::new(),
        }
    }

    /// Whether the scheme signs the request URL (only then is it computed).
    pub fn needs_url(&self) -> bool {
        match self {
            Verifier::Hmac(s) => s
                .spec
                .template
                .iter()
                .any(|p| matches!(p, self::hmac::Part::Url)),
            Verifier::FormSigned(_) => true,
            _ => false,
        }
    }

    /// A short description for `hookgate check`.
    pub fn describe(&self) -> String {
        match self {
            Verifier::None => "NONE (unauthenticated)".into(),
            Verifier::Hmac(s) => s.describe(),
            Verifier::Token(s) => s.describe(),
            Verifier::FormSigned(s) => format!(
                "{:?} base64 of the URL and sorted form fields in {} ({} secret(s))",
                s.spec.algorithm,
                s.spec.header,
                s.secrets()
            ),
            Verifier::InBody(s) => format!(
                "{:?} signature in the body ({} secret(s))",
                s.spec,
                s.secrets()
            ),
            Verifier::PublicKey(s) => s.describe(),
            Verifier::Keyed(s) => format!(
                "hmac-sha256 hex in {} {}=/{}= ({} secret(s))",
                s.spec.header,
                s.spec.ts_key,
                s.spec.sig_key,
                s.keys.len()
            ),
            Verifier::StandardWebhooks(s) => {
                format!("{}-signature v1 ({} secret(s))", s.prefix, s.keys.len())
            }
        }
    }
}

/// HMAC algorithms the schemes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// Keyed MAC state, prepared once per secret; each request clones it (no key schedule
/// on the hot path).
#[derive(Clone)]
pub enum Mac {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
}

/// A MAC output, on the stack.
pub struct Digest {
    buf: [u8; 64],
    len: usize,
}

impl Digest {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Mac {
    pub fn new(alg: Algorithm, key: &[u8]) -> Mac {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        match alg {
            Algorithm::Sha1 => {
                Mac::Sha1(Hmac::new_from_slice(key).expect("HMAC takes any key length"))
            }
            Algorithm::Sha256 => {
                Mac::Sha256(Hmac::new_from_slice(key).expect("HMAC takes any key length"))
            }
            Algorithm::Sha512 => {
                Mac::Sha512(Hmac::new_from_slice(key).expect("HMAC takes any key length"))
            }
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Mac::Sha1(m) => m.update(data),
            Mac::Sha256(m) => m.update(data),
            Mac::Sha512(m) => m.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        let mut buf = [0u8; 64];
        let len = match self {
            Mac::Sha1(m) => copy(&mut buf, &m.finalize().into_bytes()),
            Mac::Sha256(m) => copy(&mut buf, &m.finalize().into_bytes()),
            Mac::Sha512(m) => copy(&mut buf, &m.finalize().into_bytes()),
        };
        Digest { buf, len }
    }
}

fn copy(buf: &mut [u8; 64], out: &[u8]) -> usize {
    buf[..out.len()].copy_from_slice(out);
    out.len()
}

/// The signatures a request carries, decoded once (at most 8, on the stack).
pub struct Candidates {
    bufs: [[u8; 64]; 8],
    lens: [usize; 8],
    n: usize,
}

impl Candidates {
    pub fn new() -> Candidates {
        Candidates {
            bufs: [[0; 64]; 8],
            lens: [0; 8],
            n: 0,
        }
    }

    /// Keep `sig` if it decodes; malformed candidates are skipped.
    pub fn push(&mut self, sig: &[u8], base64: bool) {
        if self.n == self.bufs.len() {
            return;
        }
        let mut buf = [0u8; 64];
        let len = if base64 {
            decode_b64(sig, &mut buf)
        } else {
            decode_hex(sig, &mut buf)
        }
        .map(<[u8]>::len);
        if let Some(len) = len {
            self.bufs[self.n] = buf;
            self.lens[self.n] = len;
            self.n += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Does any key, fed the signed content by `feed`, match any candidate? Every
    /// comparison is constant-time; which key matched is not secret.
    pub fn match_any(&self, keys: &[Mac], feed: impl Fn(&mut Mac)) -> bool {
        keys.iter().any(|key| {
            let mut mac = key.clone();
            feed(&mut mac);
            let digest = mac.finish();
            (0..self.n).any(|i| ct_eq(&self.bufs[i][..self.lens[i]], digest.as_bytes()))
        })
    }
}

impl Default for Candidates {
    fn default() -> Self {
        Self::new()
    }
}

/// Constant-time equality (lengths are public).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Parse a decimal Unix-seconds timestamp header value.
pub fn parse_unix(v: &[u8]) -> Result<i64, VerifyError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or(VerifyError::Malformed(
            "timestamp is not a number of seconds",
        ))
}

/// Check a signed timestamp against now, in both directions: a stale timestamp is a
/// replay, one far in the future is a forgery attempt or a broken sender clock.
pub fn check_tolerance(ts: i64, now: i64, tolerance: Duration) -> Result<(), VerifyError> {
    let skew = now.saturating_sub(ts);
    if skew.unsigned_abs() > tolerance.as_secs() {
        return Err(VerifyError::TimestampSkew {
            skew_secs: skew,
            tolerance_secs: tolerance.as_secs(),
        });
    }
    Ok(())
}

/// Decode a hex signature into `out` (lowercase or uppercase); `None` if malformed.
pub fn decode_hex<'a>(s: &[u8], out: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    if s.len() % 2 != 0 || s.len() / 2 > out.len() {
        return None;
    }
    let n = s.len() / 2;
    hex::decode_to_slice(s, &mut out[..n]).ok()?;
    Some(&out[..n])
}

/// Decode a standard (padded or not) base64 signature into `out`.
pub fn decode_b64<'a>(s: &[u8], out: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    use base64::Engine;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let n = engine.decode_slice(s, out).ok()?;
    Some(&out[..n])
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_symmetric() {
        let t = Duration::from_secs(300);
        assert!(check_tolerance(1000, 1300, t).is_ok());
        assert!(check_tolerance(1000, 1301, t).is_err());
        assert!(check_tolerance(1301, 1000, t).is_err());
    }

    #[test]
    fn decoders_reject_garbage() {
        let mut buf = [0u8; 64];
        assert!(decode_hex(b"zz", &mut buf).is_none());
        assert!(decode_hex(b"abc", &mut buf).is_none());
        assert!(decode_hex(&[b'a'; 130], &mut buf).is_none());
        assert_eq!(decode_hex(b"0aFF", &mut buf).unwrap(), &[0x0a, 0xff]);
        assert!(decode_b64(b"!!!", &mut buf).is_none());
        assert_eq!(decode_b64(b"AQI", &mut buf).unwrap(), &[1, 2]);
    }
}
