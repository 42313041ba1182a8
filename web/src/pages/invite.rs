//! `/app/invite?token=…`: an invited person sets their password (the password rules are
//! the store's) and is logged in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use charter_core::secret::Secret;
use serde::Deserialize;

use super::auth::{self, FieldErrors};
use crate::error::PageError;
use crate::layout::render;
use crate::session::AnonymousForm;
use crate::state::Dashboard;

#[derive(Template)]
#[template(path = "invite.html")]
pub struct InvitePage {
    token: String,
    pending: bool,
    errors: FieldErrors,
}

#[derive(Deserialize)]
pub struct Token {
    #[serde(default)]
    token: String,
}

pub async fn show(
    req: HttpRequest,
    dash: web::Data<Dashboard>,
    q: web::Query<Token>,
) -> Result<HttpResponse, PageError> {
    auth::limit(&req, &dash).await?;
    let pending = dash.store().admin().invitation_pending(&q.token).await?;
    render(
        if pending {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        },
        InvitePage {
            token: q.token.clone(),
            pending,
            errors: FieldErrors::default(),
        },
    )
}

#[derive(Deserialize)]
pub struct Accept {
    token: String,
    password: String,
}

pub async fn accept(
    req: HttpRequest,
    dash: web::Data<Dashboard>,
    AnonymousForm(f): AnonymousForm<Accept>,
) -> Result<HttpResponse, PageError> {
    auth::limit(&req, &dash).await?;
    let accepted = async {
        let hash = charter_store::passwords::hash(Secret::new(f.password)).await?;
        dash.store().admin().accept_invite(&f.token, hash).await
    }
    .await;
    match accepted {
        Ok(p) => {
            let tenant = charter_core::tenant_token::tenant_of(
                charter_core::tenant_token::Kind::Invite,
                &f.token,
            )
            .ok_or_else(|| PageError::not_found("invitation"))?;
            auth::log_in(&req, &dash, tenant, p.id, "/app").await
        }
        Err(e) => {
            let (status, errors) = FieldErrors::from_refusal(e, &["password"])?;
            render(
                status,
                InvitePage {
                    token: f.token,
                    pending: true,
                    errors,
                },
            )
        }
    }
}
