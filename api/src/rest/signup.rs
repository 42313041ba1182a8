//! Sign-up (public): a tenant, its owner and its signing key, on a 14-day trial without a
//! card; the new owner is logged in.

use actix_web::{HttpRequest, HttpResponse, post, web};
use charter_core::tenant::{Email, TenantSlug, display_name};
use charter_store::tenants::NewTenant;
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
use charter_core::code::Code;

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
    let name = display_name(&b.tenant_name, 200)
        .map_err(|e| ApiError::invalid(format!("tenant_name: {e}")))?;
    let slug = match &b.slug {
        Some(s) => TenantSlug::parse(s).map_err(|e| ApiError::invalid(format!("slug: {e}")))?,
        None => TenantSlug::from_name(&name),
    };
    let email = Email::parse(&b.email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let owner_name = match &b.display_name {
        Some(n) => {
            display_name(n, 200).map_err(|e| ApiError::invalid(format!("display_name: {e}")))?
        }
        None => email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    let store = state.store();
    let domain = email.as_str().rsplit('@').next().unwrap_or_default();
    let config = state.config();
    if let Some(wait) = store
        .limits()
        .sign_up(
            &address,
            domain,
            config.signups_per_address_per_hour,
            config.signups_per_domain_per_hour,
        )
        .await
    {
        return Err(ApiError::too_many(
            format!("too many sign-ups; retry in {wait} s"),
            wait,
        ));
    }
    // A taken slug is known before the password is hashed (the insert checks again).
    if store
        .sessions()
        .tenant_by_slug(slug.as_str())
        .await?
        .is_some()
    {
        return Err(ApiError::coded(
            Code::SlugTaken,
            format!("the tenant slug `{slug}` is taken"),
        ));
    }
    let hash = super::users::hash_password(b.password).await?;
    let now = Utc::now();
    let created = store
        .admin()
        .sign_up(
            NewTenant {
                name,
                slug,
                owner_email: email,
                owner_display_name: owner_name,
                owner_password_hash: hash,
                is_demo: false,
            },
            now,
        )
        .await?;
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
