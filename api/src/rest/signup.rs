//! Sign-up (public): a tenant, its owner and its signing key, on a 14-day trial without a
//! card; the new owner is logged in.

use actix_web::{HttpRequest, HttpResponse, post, web};
use charter_core::secret::Secret;
use charter_store::signup::{SignUp, SignUpForm, SignUpLimits};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::Errors;
use super::extract::Body;
use super::sessions::{Tokens, tokens};
use crate::AppState;
use crate::client::limit_anonymous;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(sign_up);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    /// The organisation's name (1–200 characters).
    pub tenant_name: String,
    /// The tenant's slug in URLs (3–40 of a-z, 0-9, `-`); derived from the name if absent.
    #[serde(default)]
    pub slug: Option<String>,
    /// The owner's e-mail address (not registered with any tenant yet).
    pub email: String,
    /// The owner's password: 12 to 256 characters.
    pub password: String,
    /// The owner's name as shown to others.
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SignedUp {
    /// The new tenant.
    pub tenant_id: uuid::Uuid,
    /// Its slug.
    pub slug: String,
    /// Where its agents reach their MCP tools.
    pub mcp_url: String,
    /// `trial`.
    pub plan: String,
    /// When the 14-day trial ends.
    pub trial_ends_at: DateTime<Utc>,
    /// The owner's session.
    pub session: Tokens,
}

/// Creates a tenant on a 14-day trial (no card) with its owner, who is logged in.
#[utoipa::path(operation_id = "signup_sign_up", tag = "auth",
    request_body = SignUpRequest,
    responses((status = 201, description = "Signed up", body = SignedUp), Errors),
)]
#[post("/signup")]
pub async fn sign_up(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(b): Body<SignUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let address = limit_anonymous(&req, &state).await?;
    let config = state.config();
    let store = state.store();
    let now = Utc::now();
    let created = match store
        .admin()
        .sign_up_checked(
            SignUpForm {
                tenant_name: b.tenant_name,
                slug: b.slug,
                email: b.email,
                password: Secret::new(b.password),
                display_name: b.display_name,
            },
            SignUpLimits {
                address: &address,
                per_address_per_hour: config.signups_per_address_per_hour,
                per_domain_per_hour: config.signups_per_domain_per_hour,
            },
            now,
        )
        .await?
    {
        SignUp::Created(c) => c,
        SignUp::Wait(wait) => {
            return Err(ApiError::too_many(
                format!("too many sign-ups; retry in {wait} s"),
                wait,
            ));
        }
    };
    let session = store
        .sessions()
        .start_session(created.tenant_id, created.owner_id)
        .await?;
    let public = state.config().public_url.trim_end_matches('/').to_string();
    Ok(HttpResponse::Created().json(SignedUp {
        tenant_id: created.tenant_id,
        mcp_url: format!("{public}/t/{}/mcp", created.slug),
        slug: created.slug,
        plan: "trial".into(),
        trial_ends_at: now + chrono::Duration::days(charter_store::tenants::TRIAL_DAYS),
        session: tokens(&state, session)?,
    }))
}
