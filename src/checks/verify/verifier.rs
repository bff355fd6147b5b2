//! The compiled verifier of a route: one variant per scheme family, and what the rest of
//! the gateway asks of it (verify, sign for `hookgate sign`, describe for `hookgate check`).

use std::fmt;

use super::{
    canonical, certificate, hmac, in_body, public_key, token, url_signed, HmacScheme, HmacSpec,
    Keyed, SignedRequest, StandardWebhooks, Token, VerifyError,
};

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
    Canonical(canonical::Canonical),
    Certificate(certificate::Certificate),
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
            Verifier::Canonical(_) => "Verifier::Canonical(<redacted>)",
            Verifier::Certificate(_) => "Verifier::Certificate",
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
            Verifier::Canonical(s) => s.verify(req),
            Verifier::Certificate(s) => s.verify(req),
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
            Verifier::Canonical(s) => s.sign(key, body, url, now),
            // Signing needs the provider's private key: `hookgate sign --private-key`.
            Verifier::Certificate(_) => Vec::new(),
        }
    }

    /// Whether `name` (lower case) is a header this scheme reads a signature or a
    /// credential from: the rejection log masks its value. Headers whose names say what
    /// they carry (`*signature*`, `*token*`, ...) are masked whatever the scheme.
    pub fn reads_credential(&self, name: &str) -> bool {
        match self {
            Verifier::Hmac(s) => s.spec.headers.iter().any(|h| h.name.as_str() == name),
            Verifier::Token(t) => match t.place {
                token::TokenIn::Header(h) => h.eq_ignore_ascii_case(name),
                token::TokenIn::Basic | token::TokenIn::Query(_) => false,
            },
            Verifier::Keyed(s) => s.spec.header == name,
            Verifier::PublicKey(s) => s.spec.signature_header == name,
            Verifier::FormSigned(s) => s.spec.header == name,
            _ => false,
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
            Verifier::FormSigned(_) | Verifier::Canonical(_) => true,
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
            Verifier::Canonical(s) => {
                format!("signed canonical request ({} secret(s))", s.secrets())
            }
            Verifier::Certificate(s) => s.describe(),
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
