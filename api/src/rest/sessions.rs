//! Login, refresh, logout. Every request is first counted against its client's address
//! (anonymous routes); each login attempt is then counted per account and per address
//! *before* the password is checked, so parallel guesses cannot outrun the limit (see
//! `charter_store::limits`).

use actix_web::{HttpRequest, HttpResponse, post, web};
use charter_core::access_token::ACCESS_TTL_SECS;
use charter_core::secret::Secret;
use charter_core::tenant::Email;
use charter_store::sessions::{PasswordLogin, Session};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::Errors;
use super::extract::Body;
use crate::AppState;
use crate::client::limit_anonymous;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(login).service(refresh).service(logout);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's slug (as in `/t/{slug}/…`).
    pub tenant: String,
    /// The person's e-mail address.
    pub email: String,
    /// Their password.
    pub password: String,
}

/// A session's tokens.
#[derive(Serialize, ToSchema)]
pub struct Tokens {
    /// Send as `Authorization: Bearer …`; valid for `expires_in` seconds.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token is valid for.
    pub expires_in: i64,
    /// Exchange at `/api/v1/auth/refresh` for new tokens; each works once.
    pub refresh_token: String,
    /// The tenant and person the tokens are for.
    pub tenant_id: uuid::Uuid,
    /// The person the tokens are for.
    pub principal_id: uuid::Uuid,
}

pub fn tokens(state: &AppState, s: Session) -> Result<Tokens, ApiError> {
    let roles = s.roles.iter().map(|r| r.as_str().to_string()).collect();
    let (access, _) = state
        .token_keys()
        .issue(s.principal_id, s.tenant_id, roles, chrono::Utc::now())
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Tokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        refresh_token: s.refresh_token.expose().to_string(),
        tenant_id: s.tenant_id,
        principal_id: s.principal_id,
    })
}

fn refused() -> ApiError {
    ApiError::unauthorized("wrong tenant, e-mail address or password")
}

/// Exchanges e-mail and password for an access token and a refresh token.
#[utoipa::path(operation_id = "sessions_login", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, description = "Logged in", body = Tokens), Errors),
)]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(b): Body<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let address = limit_anonymous(&req, &state).await?;
    let email = Email::parse(&b.email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let store = state.store();
    let (tenant, principal) = match store
        .sessions()
        .password_login(&b.tenant, &email, Secret::new(b.password), &address)
        .await?
    {
        PasswordLogin::Accepted { tenant, principal } => (tenant, principal),
        PasswordLogin::Refused => return Err(refused()),
        PasswordLogin::Wait(wait) => {
            return Err(ApiError::too_many(
                format!("too many login attempts; retry in {wait} s"),
                wait,
            ));
        }
    };
    let session = store.sessions().start_session(tenant, principal).await?;
    Ok(HttpResponse::Ok().json(tokens(&state, session)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// New tokens for a refresh token, which is used up. Presenting a used refresh token again
/// revokes every session of its family (`refresh_reuse`).
#[utoipa::path(operation_id = "sessions_refresh", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = Tokens), Errors),
)]
#[post("/auth/refresh")]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(b): Body<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    limit_anonymous(&req, &state).await?;
    let session = match state
        .store()
        .sessions()
        .refresh_session(&b.refresh_token)
        .await
    {
        Ok(s) => s,
        Err(charter_store::StoreError::NotFound(_)) => {
            return Err(ApiError::unauthorized(
                "unknown, expired or revoked refresh token",
            ));
        }
        Err(e) => {
            let e = ApiError::from(e);
            // Reuse and disabled accounts are refusals of the token: 401, with their code.
            return Err(if e.status == actix_web::http::StatusCode::FORBIDDEN {
                ApiError::new(actix_web::http::StatusCode::UNAUTHORIZED, e.code, e.message)
            } else {
                e
            });
        }
    };
    Ok(HttpResponse::Ok().json(tokens(&state, session)?))
}

/// Ends the session of a refresh token (every token of its family).
#[utoipa::path(operation_id = "sessions_logout", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out"), Errors),
)]
#[post("/auth/logout")]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(b): Body<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    limit_anonymous(&req, &state).await?;
    state
        .store()
        .sessions()
        .end_session(&b.refresh_token)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
