//! One error body everywhere: `{"code", "message", "request_id"}` with a stable snake_case
//! code. Internal errors are opaque to clients and logged with their cause.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use charter_core::code::Code;
use charter_store::StoreError;
use serde::Serialize;

use crate::request_id;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a retry may succeed (`Retry-After`), for 429 and 503.
    pub retry_after: Option<u64>,
    /// The methods the path does serve (`Allow`), for 405.
    pub allow: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    request_id: String,
}

/// The error body, as the OpenAPI document describes it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code (e.g. `not_found`, `forbidden`, `invalid`, `self_approval`).
    pub code: String,
    /// What went wrong, for people; names the field for validation errors.
    pub message: String,
    /// The request's id (also in the `X-Request-Id` header); quote it when reporting.
    pub request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            allow: None,
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

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn too_many(message: impl Into<String>, retry_after: u64) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
        e.retry_after = Some(retry_after);
        e
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
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
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                "Bearer realm=\"charter\", error=\"invalid_token\"",
            ));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(methods) = &self.allow {
            res.insert_header((actix_web::http::header::ALLOW, methods.as_str()));
        }
        res.json(Body {
            code: self.code,
            message: &self.message,
            request_id: request_id::current(),
        })
    }
}

impl ApiError {
    /// The error for `code` (its HTTP status from the one table).
    pub fn coded(code: Code, message: impl Into<String>) -> ApiError {
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, code.as_str(), message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::NotFound(what) => ApiError::not_found(what),
            e if e.is_retryable() => {
                tracing::warn!(request_id = %request_id::current(), error = %e, "dependency unavailable");
                ApiError::unavailable("a dependency is unavailable; retry shortly")
            }
            e if e.code() == Code::Internal => ApiError::internal(&e),
            e => ApiError::coded(e.code(), e.into_message()),
        }
    }
}

/// The fallback for requests no route takes: 405 with `Allow` when the path is served with
/// other methods, 404 otherwise.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = crate::routes::methods_at(req.path());
    if !allowed.is_empty() {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{} is not served here; use {}",
                req.method(),
                allowed.join(", ")
            ),
        );
        e.allow = Some(allowed.join(", "));
        return Err(e);
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route",
    ))
}
