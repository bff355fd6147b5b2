//! [`Rejection`]: why a request was not accepted, and in one exhaustive match each its
//! status, its error code (also the `outcome` metric label) and its answer.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::checks::schema::Detail;
use crate::checks::verify::VerifyError;
use crate::obs::metrics::Outcome;

/// Why a request was not accepted.
#[derive(Debug)]
pub enum Rejection {
    NotFound,
    MethodNotAllowed,
    IpNotAllowed,
    RateLimited {
        retry_after: u64,
    },
    BodyTooLarge,
    /// The body did not arrive within `request_timeout`.
    RequestTimeout,
    /// The body could not be read (malformed chunking, connection reset).
    BadRequest,
    SignatureMissing(VerifyError),
    SignatureInvalid(VerifyError),
    TimestampOutOfTolerance(VerifyError),
    /// Where the parser stopped (`expected value at line 1 column 5`; never the bytes).
    InvalidJson(String),
    SchemaViolation(Vec<Detail>),
    /// Not taken now: `cause` is the log line's `cause` and the
    /// `hookgate_unavailable_total` label, `detail` says more.
    Unavailable {
        retry_after: u64,
        cause: crate::obs::metrics::UnavailableCause,
        detail: String,
    },
    /// Proxy routes: the application could not be reached (or broke the exchange).
    BadGateway(String),
    /// Proxy routes: the application did not answer within the proxy's `timeout`.
    GatewayTimeout,
}

impl From<crate::ingress::admission::Refused> for Rejection {
    fn from(r: crate::ingress::admission::Refused) -> Rejection {
        Rejection::Unavailable {
            retry_after: 1,
            cause: r.cause(),
            detail: r.reason().into(),
        }
    }
}

impl From<VerifyError> for Rejection {
    fn from(e: VerifyError) -> Rejection {
        match e {
            VerifyError::Missing(_) => Rejection::SignatureMissing(e),
            VerifyError::Malformed(_) | VerifyError::Mismatch => Rejection::SignatureInvalid(e),
            VerifyError::TimestampSkew { .. } => Rejection::TimestampOutOfTolerance(e),
        }
    }
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::NotFound => StatusCode::NOT_FOUND,
            Rejection::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::IpNotAllowed => StatusCode::FORBIDDEN,
            Rejection::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Rejection::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Rejection::BadRequest => StatusCode::BAD_REQUEST,
            Rejection::SignatureMissing(_) => StatusCode::UNAUTHORIZED,
            Rejection::SignatureInvalid(_) => StatusCode::UNAUTHORIZED,
            Rejection::TimestampOutOfTolerance(_) => StatusCode::UNAUTHORIZED,
            Rejection::InvalidJson(_) => StatusCode::BAD_REQUEST,
            Rejection::SchemaViolation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Rejection::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Rejection::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The `error` code in the body: the `outcome` metric label.
    pub fn code(&self) -> &'static str {
        self.outcome().label()
    }

    /// The `outcome` it is counted under.
    pub fn outcome(&self) -> Outcome {
        match self {
            Rejection::NotFound => Outcome::NotFound,
            Rejection::MethodNotAllowed => Outcome::MethodNotAllowed,
            Rejection::IpNotAllowed => Outcome::IpNotAllowed,
            Rejection::RateLimited { .. } => Outcome::RateLimited,
            Rejection::BodyTooLarge => Outcome::BodyTooLarge,
            Rejection::RequestTimeout => Outcome::RequestTimeout,
            Rejection::BadRequest => Outcome::BadRequest,
            Rejection::SignatureMissing(_) => Outcome::SignatureMissing,
            Rejection::SignatureInvalid(_) => Outcome::SignatureInvalid,
            Rejection::TimestampOutOfTolerance(_) => Outcome::TimestampOutOfTolerance,
            Rejection::InvalidJson(_) => Outcome::InvalidJson,
            Rejection::SchemaViolation(_) => Outcome::SchemaViolation,
            Rejection::Unavailable { .. } => Outcome::Unavailable,
            Rejection::BadGateway(_) => Outcome::BadGateway,
            Rejection::GatewayTimeout => Outcome::GatewayTimeout,
        }
    }

    /// The detail worth a debug log line (never a secret or an expected MAC).
    pub fn reason(&self) -> String {
        match self {
            Rejection::SignatureMissing(e)
            | Rejection::SignatureInvalid(e)
            | Rejection::TimestampOutOfTolerance(e) => e.to_string(),
            Rejection::Unavailable { cause, detail, .. } => format!("{cause}: {detail}"),
            Rejection::SchemaViolation(d) => d
                .iter()
                .map(|d| format!("{}: {}", d.pointer, d.message))
                .collect::<Vec<_>>()
                .join("; "),
            Rejection::InvalidJson(at) => format!("invalid JSON: {at}"),
            Rejection::BadGateway(e) => format!("bad_gateway: {e}"),
            other => other.code().to_string(),
        }
    }

    pub(super) fn response(&self) -> Response<Full<Bytes>> {
        let body = match self {
            Rejection::SchemaViolation(details) => {
                serde_json::json!({"error": self.code(), "details": details})
            }
            _ => serde_json::json!({"error": self.code()}),
        };
        let mut r = json_response(self.status(), &body);
        let h = r.headers_mut();
        match self {
            Rejection::MethodNotAllowed => {
                h.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            Rejection::RateLimited { retry_after } | Rejection::Unavailable { retry_after, .. } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Rejection::BodyTooLarge | Rejection::RequestTimeout | Rejection::BadRequest => {
                // The rest of the body was not read: the connection cannot be reused.
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        r
    }
}

pub(super) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    // A newline ends every JSON answer (a shell prompt after curl).
    let mut r = Response::new(Full::new(Bytes::from(body.to_string() + "\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl Rejection {
    /// The outcomes a request to `route` can have, answered or refused (the metric series
    /// created at start): `not_found` is never a route's, a proxy route's answers are
    /// the application's, and a check the route does not make cannot refuse.
    pub fn possible(route: &crate::config::Route) -> Vec<Outcome> {
        use crate::checks::verify::Verifier;
        let mut o = vec![
            Outcome::MethodNotAllowed,
            Outcome::BodyTooLarge,
            Outcome::RequestTimeout,
            Outcome::BadRequest,
            Outcome::Unavailable,
        ];
        if route.proxy.is_some() {
            o.extend([
                Outcome::Proxied,
                Outcome::BadGateway,
                Outcome::GatewayTimeout,
            ]);
        } else {
            o.extend([Outcome::Accepted, Outcome::Duplicate]);
        }
        if route.allow_ips.is_some() {
            o.push(Outcome::IpNotAllowed);
        }
        if route.rate_limit.is_some() {
            o.push(Outcome::RateLimited);
        }
        if !matches!(route.verifier, Verifier::None) {
            o.extend([
                Outcome::SignatureMissing,
                Outcome::SignatureInvalid,
                Outcome::TimestampOutOfTolerance,
            ]);
        }
        if route.body_json {
            o.push(Outcome::InvalidJson);
        }
        if route.schema.is_some() {
            o.push(Outcome::SchemaViolation);
        }
        if route.provider.is_some_and(|p| {
            p.preset().handshake != crate::checks::verify::catalog::Handshake::None
        }) {
            o.push(Outcome::Handshake);
        }
        o
    }
}

/// The `info` line a minute that says what was refused (one line per route with
/// refusals, counts by reason), where one debug line per request would flood the log
/// under attack. Read from the request counters: nothing on the request path.
#[derive(Default)]
pub(crate) struct RejectionSummary {
    seen: std::collections::HashMap<(String, Outcome), u64>,
}

impl RejectionSummary {
    pub(crate) fn log(&mut self, rt: &super::Runtime) {
        for m in rt.route_metrics() {
            let mut refused = Vec::new();
            for (outcome, n) in m.counts() {
                let before = self
                    .seen
                    .insert((m.route().to_string(), outcome), n)
                    .unwrap_or(0);
                if outcome.is_refusal() && n > before {
                    refused.push(format!("{outcome}={}", n - before));
                }
            }
            if !refused.is_empty() {
                tracing::info!(route = m.route(), refused = %refused.join(" "), "requests refused in the last minute (RUST_LOG=debug logs each)");
            }
        }
    }
}
