//! The one error type of the HTTP edge: every failure answers
//! `{"error": "<code>", "detail": "<sentence>"}` with the status of
//! docs/api.md. 503 answers get `Retry-After` from the server's settings
//! (added by a middleware in [`crate::routes`], so every 503 has it, even
//! one produced by a timeout).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hale_domain::alertmanager::PayloadError;
use hale_engine::{EngineError, ErrorKind};
use serde::{Deserialize, Serialize};

/// An HTTP error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON or has the wrong shape.
    #[error("{0}")]
    MalformedJson(String),
    /// 401: no token, or a token that matches nothing.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the token's role or tenant may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such object for this tenant.
    #[error("{0}")]
    NotFound(String),
    /// 409: a concurrent change, already signed, not pending.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: valid JSON (or query) that fails validation.
    #[error("{0}")]
    Invalid(String),
    /// 503: the store or lock backend is down, or the server is stopping.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug; the detail says what broke.
    #[error("{0}")]
    Internal(String),
}

/// The JSON body of every error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The machine-readable code (`malformed_json`, `unauthorized`, ...).
    pub error: String,
    /// A sentence naming what is wrong.
    pub detail: String,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Invalid(_) => "invalid",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code().to_owned(),
            detail: self.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), detail = %self, "request failed");
        }
        (status, Json(self.body())).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        if let EngineError::UnknownTenant(t) = &e {
            return ApiError::NotFound(format!("no tenant {t:?}"));
        }
        match e.kind() {
            ErrorKind::NotFound => ApiError::NotFound(e.detail()),
            ErrorKind::Invalid => ApiError::Invalid(e.detail()),
            ErrorKind::Conflict => ApiError::Conflict(e.detail()),
            ErrorKind::Unavailable => {
                ApiError::Unavailable(format!("{e}; nothing was lost, retry later"))
            }
        }
    }
}

impl From<hale_engine::ports::StoreError> for ApiError {
    fn from(e: hale_engine::ports::StoreError) -> Self {
        EngineError::from(e).into()
    }
}

impl From<PayloadError> for ApiError {
    fn from(e: PayloadError) -> Self {
        match e {
            PayloadError::Malformed { path, message } => {
                ApiError::MalformedJson(format!("{path}: {message}"))
            }
            PayloadError::Invalid { path, message } => {
                ApiError::Invalid(format!("{path}: {message}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_the_documented_statuses() {
        let cases = [
            (EngineError::UnknownTenant("x".into()), 404),
            (EngineError::NotFound("op".into()), 404),
            (EngineError::Invalid("bad".into()), 422),
            (EngineError::Conflict("raced".into()), 409),
            (
                EngineError::Store(hale_engine::ports::StoreError::Unavailable("down".into())),
                503,
            ),
            (EngineError::ShuttingDown, 503),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::from(e.clone()).status().as_u16(), status, "{e:?}");
        }
    }

    #[test]
    fn payload_errors_name_the_field() {
        let e = ApiError::from(PayloadError::Malformed {
            path: "alerts[0].status".into(),
            message: "invalid type".into(),
        });
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.body().detail, "alerts[0].status: invalid type");
        assert_eq!(e.body().error, "malformed_json");
    }
}
