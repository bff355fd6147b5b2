//! Why a configured secret, key, certificate or signing template cannot be used. These
//! are found once, at load (`check` reports each with its YAML path) or by
//! `hookgate sign`; never per request, which fails with a [`super::VerifyError`].

/// A secret, key or template the configuration (or `hookgate sign`) cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("the secret must be hex")]
    SecretNotHex,
    #[error("the secret must be base64")]
    SecretNotBase64,
    #[error("a Standard Webhooks secret is whsec_ followed by base64")]
    StandardWebhooksSecret,
    #[error("an Ed25519 public key is 64 hex digits (32 bytes)")]
    Ed25519HexKey,
    #[error("an Ed25519 public key is base64 of 32 bytes")]
    Ed25519Base64Key,
    #[error("a P-256 public key is base64 of its DER SubjectPublicKeyInfo")]
    P256KeyNotBase64,
    #[error("not a P-256 public key (DER SubjectPublicKeyInfo, base64)")]
    P256Key,
    #[error("an Ed25519 private key is its 32-byte seed, hex or base64")]
    Ed25519Private,
    #[error("a P-256 private key is base64 of its PKCS#8 DER")]
    P256PrivateNotBase64,
    #[error("not an Ed25519 seed")]
    Ed25519Seed,
    #[error("not a P-256 PKCS#8 private key")]
    P256Private,
    #[error("not an RSA PKCS#8 private key")]
    RsaPrivate,
    #[error("signing failed")]
    Signing,
    #[error("expected a PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NotPem,
    #[error("the certificate does not parse: {0}")]
    Certificate(String),
    #[error("{0:?} is not a valid header name")]
    HeaderName(String),
    #[error("unterminated placeholder in signed template {0:?}")]
    Unterminated(String),
    #[error("unknown placeholder {{{0}}} in signed template; use {{body}} {{timestamp}} {{id}} {{url}} {{method}} {{header:NAME}}")]
    UnknownPlaceholder(String),
    #[error("the signed template must include {{body}}")]
    NoBody,
    #[error("`signed` uses {{timestamp}} but no `timestamp.header` is set")]
    TimestampNotConfigured,
}
