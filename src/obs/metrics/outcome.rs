//! What became of a request: the closed set of `outcome` labels of
//! `hookgate_requests_total`, and the error codes of the refusals among them (the
//! pipeline's `Rejection::outcome` maps each refusal to one).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Accepted,
    Duplicate,
    NotFound,
    MethodNotAllowed,
    IpNotAllowed,
    RateLimited,
    BodyTooLarge,
    RequestTimeout,
    BadRequest,
    SignatureMissing,
    SignatureInvalid,
    TimestampOutOfTolerance,
    InvalidJson,
    SchemaViolation,
    Unavailable,
    Proxied,
    Handshake,
    BadGateway,
    GatewayTimeout,
}

impl Outcome {
    /// Every outcome, in the order of their series.
    pub const ALL: [Outcome; 19] = [
        Outcome::Accepted,
        Outcome::Duplicate,
        Outcome::NotFound,
        Outcome::MethodNotAllowed,
        Outcome::IpNotAllowed,
        Outcome::RateLimited,
        Outcome::BodyTooLarge,
        Outcome::RequestTimeout,
        Outcome::BadRequest,
        Outcome::SignatureMissing,
        Outcome::SignatureInvalid,
        Outcome::TimestampOutOfTolerance,
        Outcome::InvalidJson,
        Outcome::SchemaViolation,
        Outcome::Unavailable,
        Outcome::Proxied,
        Outcome::Handshake,
        Outcome::BadGateway,
        Outcome::GatewayTimeout,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::NotFound => "not_found",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::IpNotAllowed => "ip_not_allowed",
            Outcome::RateLimited => "rate_limited",
            Outcome::BodyTooLarge => "body_too_large",
            Outcome::RequestTimeout => "request_timeout",
            Outcome::BadRequest => "bad_request",
            Outcome::SignatureMissing => "signature_missing",
            Outcome::SignatureInvalid => "signature_invalid",
            Outcome::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            Outcome::InvalidJson => "invalid_json",
            Outcome::SchemaViolation => "schema_violation",
            Outcome::Unavailable => "unavailable",
            Outcome::Proxied => "proxied",
            Outcome::Handshake => "handshake",
            Outcome::BadGateway => "bad_gateway",
            Outcome::GatewayTimeout => "gateway_timeout",
        }
    }

    /// Answered by the gateway or the application as asked, rather than refused.
    pub fn is_refusal(self) -> bool {
        !matches!(
            self,
            Outcome::Accepted | Outcome::Duplicate | Outcome::Proxied | Outcome::Handshake
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
