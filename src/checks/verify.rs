//! Signature verification. Each scheme family lives in `verify/`; this module holds
//! what they share: the request view they verify, [`VerifyError`] (the reason, never a
//! bool), keyed MAC state prepared once per secret, constant-time comparison, and the
//! timestamp tolerance check. Provider presets ([`Provider`]) map a name to a scheme
//! and to where the event id and type come from.
//!
//! Rejections produced (through `pipeline`): `signature_missing`, `signature_invalid`,
//! `timestamp_out_of_tolerance`. No error carries an expected MAC or a secret.

pub(crate) mod canonical;
pub(crate) mod catalog;
pub(crate) mod certificate;
pub(crate) mod hmac;
pub(crate) mod in_body;
pub(crate) mod keyed;
mod presets;
pub(crate) mod public_key;
mod setup_error;
pub(crate) mod standard_webhooks;
mod template;
pub(crate) mod token;
pub(crate) mod url_signed;
mod verifier;

pub(crate) use self::hmac::{HmacScheme, HmacSpec};
pub(crate) use keyed::Keyed;
pub(crate) use presets::Provider;
pub(crate) use setup_error::SetupError;
pub(crate) use standard_webhooks::StandardWebhooks;
pub(crate) use token::Token;
pub(crate) use verifier::Verifier;

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

#[cfg(test)]
impl<'a> SignedRequest<'a> {
    /// A POST with no URL or query (what most schemes sign), received at `now`.
    pub(crate) fn post(headers: &'a HeaderMap, body: &'a [u8], now: i64) -> Self {
        SignedRequest {
            headers,
            body,
            url: "",
            method: "POST",
            query: "",
            now,
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
pub(crate) struct Candidates {
    bufs: [[u8; 64]; 8],
    lens: [usize; 8],
    n: usize,
}

impl Candidates {
    pub(crate) fn new() -> Candidates {
        Candidates {
            bufs: [[0; 64]; 8],
            lens: [0; 8],
            n: 0,
        }
    }

    /// Keep `sig` if it decodes; malformed candidates are skipped.
    pub(crate) fn push(&mut self, sig: &[u8], base64: bool) {
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

    pub(crate) fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Does any key, fed the signed content by `feed`, match any candidate? Every
    /// comparison is constant-time; which key matched is not secret.
    pub(crate) fn match_any(&self, keys: &[Mac], feed: impl Fn(&mut Mac)) -> bool {
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
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Parse a decimal Unix-seconds timestamp header value.
pub(crate) fn parse_unix(v: &[u8]) -> Result<i64, VerifyError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or(VerifyError::Malformed(
            "timestamp is not a number of seconds",
        ))
}

/// Check a signed timestamp against now, in both directions: a stale timestamp is a
/// replay, one far in the future is a forgery attempt or a broken sender clock.
pub(crate) fn check_tolerance(ts: i64, now: i64, tolerance: Duration) -> Result<(), VerifyError> {
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
pub(crate) fn decode_hex<'a>(s: &[u8], out: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    if !s.len().is_multiple_of(2) || s.len() / 2 > out.len() {
        return None;
    }
    let n = s.len() / 2;
    hex::decode_to_slice(s, &mut out[..n]).ok()?;
    Some(&out[..n])
}

/// Decode a standard (padded or not) base64 signature into `out`.
pub(crate) fn decode_b64<'a>(s: &[u8], out: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    use base64::Engine;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let n = engine.decode_slice(s, out).ok()?;
    Some(&out[..n])
}

pub(crate) fn b64(bytes: &[u8]) -> String {
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
