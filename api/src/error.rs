//! One error body everywhere: `{"code", "message", "request_id"}` with a stable snake_case
//! code. Internal errors are opaque to clients and logged with their cause.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use charter_store::StoreError;
use serde::Serialize;

use crate::request_id;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// An error whose cause must not reach the client: logged here with the request id.
    pub fn internal(cause: &dyn std::error::Error) -> ApiError {
        tracing::error!(request_id = %request_id::current(), error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; quote the request id when reporting it",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(Body {
            code: self.code,
            message: &self.message,
            request_id: request_id::current(),
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(msg) => ApiError::new(StatusCode::CONFLICT, "conflict", msg),
            e @ StoreError::Replay => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            StoreError::Forbidden(msg) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", msg),
            StoreError::Invalid(msg) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", msg)
            }
            e if e.is_retryable() => {
                tracing::warn!(request_id = %request_id::current(), error = %e, "dependency unavailable");
                ApiError::unavailable("a dependency is unavailable; retry shortly")
            }
            e => ApiError::internal(&e),
        }
    }
}

/// The fallback for unknown routes.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route",
    ))
}
