//! `/app/login`: tenant, e-mail address and password. Attempts are limited per account and
//! per address exactly as on the REST API (one store operation).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use charter_core::secret::Secret;
use charter_core::tenant::Email;
use charter_store::sessions::PasswordLogin;
use serde::Deserialize;

use super::auth::{self, FieldErrors};
use crate::error::PageError;
use crate::layout::render;
use crate::session::AnonymousForm;
use crate::state::Dashboard;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    tenant: String,
    email: String,
    next: String,
    errors: FieldErrors,
}

#[derive(Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
    #[serde(default)]
    tenant: String,
}

pub async fn show(q: web::Query<Next>) -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        LoginPage {
            tenant: q.tenant.clone(),
            email: String::new(),
            next: q.next.clone(),
            errors: FieldErrors::default(),
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    tenant: String,
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    req: HttpRequest,
    dash: web::Data<Dashboard>,
    AnonymousForm(f): AnonymousForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let address = auth::limit(&req, &dash).await?;
    let mut page = LoginPage {
        tenant: f.tenant.trim().to_string(),
        email: f.email.clone(),
        next: f.next.clone(),
        errors: FieldErrors::default(),
    };
    if page.tenant.is_empty() {
        page.errors.add(
            "tenant",
            "enter your organisation's tenant (as in /t/<tenant>/…)",
        );
    }
    let email = Email::parse(&f.email);
    if let Err(e) = &email {
        page.errors.add("email", e.to_string());
    }
    if f.password.is_empty() {
        page.errors.add("password", "enter your password");
    }
    let Ok(email) = email else {
        return render(StatusCode::UNPROCESSABLE_ENTITY, page);
    };
    if !page.errors.0.is_empty() {
        return render(StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    let outcome = dash
        .store()
        .sessions()
        .password_login(&page.tenant, &email, Secret::new(f.password), &address)
        .await?;
    match outcome {
        PasswordLogin::Accepted { tenant, principal } => {
            auth::log_in(&req, &dash, tenant, principal, auth::safe_next(&f.next)).await
        }
        PasswordLogin::Refused => {
            page.errors
                .add("", "wrong tenant, e-mail address or password");
            render(StatusCode::UNAUTHORIZED, page)
        }
        PasswordLogin::Wait(wait) => {
            page.errors
                .add("", format!("too many login attempts; retry in {wait} s"));
            render(StatusCode::TOO_MANY_REQUESTS, page)
        }
    }
}
