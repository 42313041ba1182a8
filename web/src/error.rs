//! Errors as pages: the status and code the REST API would answer with (one table,
//! `charter_core::code`), a sentence for people, and a way back. A request without a live
//! session is sent to the login page instead.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use charter_core::code::Code;
use charter_store::StoreError;

#[derive(Debug, Clone)]
pub enum PageError {
    /// No live session: to the login page, then back to `next`.
    Login { next: String },
    Shown {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Login { .. } => f.write_str("login required"),
            PageError::Shown { code, message, .. } => write!(f, "{code}: {message}"),
        }
    }
}

impl PageError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> PageError {
        PageError::Shown {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn coded(code: Code, message: impl Into<String>) -> PageError {
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        PageError::new(status, code.as_str(), message)
    }

    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError::coded(Code::Forbidden, message)
    }

    pub fn not_found(what: &str) -> PageError {
        PageError::coded(Code::NotFound, format!("{what} not found"))
    }

    pub fn invalid(message: impl Into<String>) -> PageError {
        PageError::coded(Code::Invalid, message)
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> PageError {
        match err {
            StoreError::NotFound(what) => PageError::not_found(what),
            e if e.is_retryable() => {
                tracing::warn!(error = %e, "dashboard: dependency unavailable");
                PageError::coded(
                    Code::Unavailable,
                    "a dependency is unavailable; retry shortly",
                )
            }
            e if e.code() == Code::Internal => {
                tracing::error!(error = %e, "dashboard: internal error");
                PageError::coded(Code::Internal, "internal error; it has been logged")
            }
            e => PageError::coded(e.code(), e.into_message()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Login { .. } => StatusCode::SEE_OTHER,
            PageError::Shown { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Login { next } => {
                let to = format!(
                    "/app/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, to))
                    .finish()
            }
            PageError::Shown {
                status,
                code,
                message,
            } => {
                let page = ErrorPage {
                    status: status.as_u16(),
                    code,
                    message,
                };
                match page.render() {
                    Ok(html) => HttpResponse::build(*status)
                        .content_type("text/html; charset=utf-8")
                        .body(html),
                    Err(_) => HttpResponse::build(*status).body(message.clone()),
                }
            }
        }
    }
}

/// Requests no dashboard route takes: `405` with `Allow` when the path is served with other
/// methods, `404` otherwise.
pub async fn fallback(req: actix_web::HttpRequest) -> HttpResponse {
    let allowed: Vec<&str> = crate::ROUTES
        .iter()
        .filter(|(path, _)| actix_web::dev::ResourceDef::new(*path).is_match(req.path()))
        .flat_map(|(_, methods)| methods.iter().copied())
        .collect();
    if allowed.is_empty() {
        return PageError::not_found("page").error_response();
    }
    let mut res = PageError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not served here; use {}",
            req.method(),
            allowed.join(", ")
        ),
    )
    .error_response();
    if let Ok(v) = header::HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}
