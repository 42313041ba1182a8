//! `/app/signup`: a new tenant on a 14-day trial, no card; its owner is logged in. The same
//! store operation as `POST /api/v1/signup` (checks, limits, the ledger's first record).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use charter_core::secret::Secret;
use charter_store::signup::{SignUp, SignUpForm, SignUpLimits};
use serde::Deserialize;

use super::auth::{self, FieldErrors};
use crate::error::PageError;
use crate::layout::render;
use crate::session::AnonymousForm;
use crate::state::Dashboard;

#[derive(Deserialize, Default, Clone)]
pub struct Form {
    #[serde(default)]
    tenant_name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
pub struct SignUpPage {
    form: Form,
    errors: FieldErrors,
}

pub async fn show() -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        SignUpPage {
            form: Form::default(),
            errors: FieldErrors::default(),
        },
    )
}

fn optional(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

pub async fn submit(
    req: HttpRequest,
    dash: web::Data<Dashboard>,
    AnonymousForm(f): AnonymousForm<Form>,
) -> Result<HttpResponse, PageError> {
    let address = auth::limit(&req, &dash).await?;
    let config = dash.config();
    let outcome = dash
        .store()
        .admin()
        .sign_up_checked(
            SignUpForm {
                tenant_name: f.tenant_name.clone(),
                slug: optional(&f.slug),
                email: f.email.trim().to_string(),
                password: Secret::new(f.password.clone()),
                display_name: optional(&f.display_name),
            },
            SignUpLimits {
                address: &address,
                per_address_per_hour: config.signups_per_address_per_hour,
                per_domain_per_hour: config.signups_per_domain_per_hour,
            },
            chrono::Utc::now(),
        )
        .await;
    let mut form = f;
    form.password.clear();
    let (status, errors) = match outcome {
        Ok(SignUp::Created(c)) => {
            return auth::log_in(&req, &dash, c.tenant_id, c.owner_id, "/app?done=signed_up").await;
        }
        Ok(SignUp::Wait(wait)) => {
            let mut e = FieldErrors::default();
            e.add("", format!("too many sign-ups; retry in {wait} s"));
            (StatusCode::TOO_MANY_REQUESTS, e)
        }
        Err(charter_store::StoreError::Refused(charter_core::code::Code::SlugTaken, m)) => {
            let mut e = FieldErrors::default();
            e.add("slug", m);
            (StatusCode::CONFLICT, e)
        }
        Err(e) => FieldErrors::from_refusal(
            e,
            &["tenant_name", "slug", "email", "display_name", "password"],
        )?,
    };
    render(status, SignUpPage { form, errors })
}
