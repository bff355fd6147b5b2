//! Why an admin API call is not answered with 200: each variant is one status, and the
//! body is `{"error": message}` (a refused replay adds the rejection's code and reason).

use std::fmt::Display;

/// An API call's failure; [`ApiError::status`] is its HTTP status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// A query parameter is unknown or malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// `admin.token` is set and the call did not present it (401).
    #[error("unauthorized: send Authorization: Bearer <admin.token>")]
    Unauthorized,
    /// No `admin.token`, and the caller is not on loopback (403).
    #[error("without admin.token the API answers loopback clients only")]
    LoopbackOnly,
    /// A state-changing call from a page of another origin (403).
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// A state-changing call while no `admin.token` is configured (403).
    #[error("state-changing calls need admin.token: set it in the configuration and send it as Authorization: Bearer <token> (hookgate store sends $HOOKGATE_ADMIN_TOKEN)")]
    NeedsToken,
    /// No such API path (404).
    #[error("not_found")]
    NotFound,
    /// The path exists; the thing it names does not (404).
    #[error("{0}")]
    Missing(String),
    /// The path exists, not with this method (405).
    #[error("method_not_allowed")]
    MethodNotAllowed,
    /// The call cannot be carried out in this state (409).
    #[error("{0}")]
    Conflict(String),
    /// A state-changing call without `Content-Type: application/json` (415).
    #[error("send Content-Type: application/json")]
    NotJson,
    /// A replayed rejection was refused again by the current configuration (422).
    #[error("{code}")]
    Refused {
        code: &'static str,
        reason: String,
        seq: u64,
    },
    /// A loopback call without a token that names another host: DNS rebinding (421).
    #[error("without admin.token the API answers only requests to 127.0.0.1, [::1] or localhost")]
    WrongHost,
    /// The store failed (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn bad(message: impl Display) -> ApiError {
        ApiError::BadRequest(message.to_string())
    }

    pub(crate) fn internal(error: impl Display) -> ApiError {
        ApiError::Internal(error.to_string())
    }

    pub(crate) fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::LoopbackOnly | ApiError::CrossOrigin | ApiError::NeedsToken => 403,
            ApiError::NotFound | ApiError::Missing(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict(_) => 409,
            ApiError::NotJson => 415,
            ApiError::WrongHost => 421,
            ApiError::Refused { .. } => 422,
            ApiError::Internal(_) => 500,
        }
    }

    /// The JSON body of the answer.
    pub(crate) fn body(&self) -> String {
        match self {
            ApiError::Refused { code, reason, seq } => {
                serde_json::json!({ "error": code, "reason": reason, "seq": seq })
            }
            e => serde_json::json!({ "error": e.to_string() }),
        }
        .to_string()
    }
}

/// What an API handler answers: a JSON body with 200, or why not.
pub(crate) type Reply = Result<String, ApiError>;

/// `value` as a JSON body.
pub(crate) fn json(value: &impl serde::Serialize) -> Reply {
    serde_json::to_string(value).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::ApiError;

    #[test]
    fn bodies_are_json_objects_with_error() {
        let e = ApiError::bad(format_args!("unknown parameter {:?}", "x\""));
        assert_eq!(e.status(), 400);
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["error"], "unknown parameter \"x\\\"\"");
        let r = ApiError::Refused {
            code: "signature_invalid",
            reason: "mismatch".into(),
            seq: 7,
        };
        let v: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
        assert_eq!(
            (r.status(), &v["error"], &v["seq"]),
            (422, &"signature_invalid".into(), &7.into())
        );
    }
}
