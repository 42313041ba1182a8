//! People of the tenant: list, add (active with a password, or invited), change roles and
//! status, remove; accepting an invitation (public, with its token).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use charter_core::status::PrincipalStatus;
use charter_core::tenant::{Email, Role, display_name};
use charter_store::admin::users::{NewUser, UserChange};
use charter_store::principals::Principal;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::Errors;
use super::extract::{Authorized, Body};
use super::permissions::{ManagePeople, Read};
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(add)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(accept);
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    /// Any of `owner`, `admin`, `approver`, `compliance_officer`, `viewer`.
    pub roles: Vec<String>,
    /// `active`, `invited` or `disabled`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<Principal> for UserView {
    fn from(p: Principal) -> UserView {
        UserView {
            id: p.id,
            email: p.email,
            display_name: p.display_name,
            roles: p.roles.iter().map(|r| r.as_str().to_string()).collect(),
            status: p.status.to_string(),
            created_at: p.created_at,
        }
    }
}

pub fn parse_roles(field: &str, roles: &[String]) -> Result<Vec<Role>, ApiError> {
    roles
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.parse::<Role>()
                .map_err(|e| ApiError::invalid(format!("{field}[{i}]: {e}")))
        })
        .collect()
}

/// Checks the password rules and hashes it (argon2, on a blocking thread).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    Ok(charter_store::passwords::hash(charter_core::secret::Secret::new(password)).await?)
}

/// Everyone in the tenant.
#[utoipa::path(operation_id = "users_list", tag = "users", security(("bearer" = ["read"])), responses((status = 200, body = [UserView]), Errors))]
#[get("/users")]
pub async fn list(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = state.store().admin().users(auth.tenant_id).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(UserView::from).collect::<Vec<_>>()))
}

/// One person.
#[utoipa::path(operation_id = "users_get_one", tag = "users", security(("bearer" = ["read"])), responses((status = 200, body = UserView), Errors))]
#[get("/users/{user_id}")]
pub async fn get_one(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let p = state
        .store()
        .admin()
        .user(auth.tenant_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(p)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub email: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// At least one role; only an owner grants `owner`.
    pub roles: Vec<String>,
    /// Set a password now (12–256 characters) for an active account; omit it to invite
    /// the person with a one-time token instead.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AddedUser {
    pub user: UserView,
    /// The invitation token (shown once), when no password was set: the person accepts
    /// it at `/api/v1/invitations/accept`. Valid for 7 days.
    pub invitation_token: Option<String>,
}

/// Adds a person, active (with a password) or invited.
#[utoipa::path(operation_id = "users_add", tag = "users", security(("bearer" = ["manage_people"])), request_body = NewUserRequest,
    responses((status = 201, body = AddedUser), Errors))]
#[post("/users")]
pub async fn add(
    auth: Authorized<ManagePeople>,
    state: web::Data<AppState>,
    Body(b): Body<NewUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&b.email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let roles = parse_roles("roles", &b.roles)?;
    let name = match &b.display_name {
        Some(n) => n.clone(),
        None => email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    let password_hash = match b.password {
        Some(pw) => Some(hash_password(pw).await?),
        None => None,
    };
    let (p, token) = state
        .store()
        .admin()
        .add_user(
            auth.tenant_id,
            auth.acting(),
            NewUser {
                email,
                display_name: name,
                roles,
                password_hash,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(AddedUser {
        user: p.into(),
        invitation_token: token.map(|t| t.expose().to_string()),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeRequest {
    #[serde(default)]
    pub display_name: Option<String>,
    /// The full new set of roles.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// `active` or `disabled` (disabling ends the person's sessions and API tokens).
    #[serde(default)]
    pub status: Option<String>,
}

/// Changes a person's name, roles or status. Nobody changes their own roles or status;
/// only an owner touches the owner role; the last active owner stays one.
#[utoipa::path(operation_id = "users_update", tag = "users", security(("bearer" = ["manage_people"])), request_body = UserChangeRequest,
    responses((status = 200, body = UserView), Errors))]
#[patch("/users/{user_id}")]
pub async fn update(
    auth: Authorized<ManagePeople>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    Body(b): Body<UserChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let roles = b
        .roles
        .as_deref()
        .map(|r| parse_roles("roles", r))
        .transpose()?;
    let display_name = b
        .display_name
        .as_deref()
        .map(|n| display_name(n, 200).map_err(|e| ApiError::invalid(format!("display_name: {e}"))))
        .transpose()?;
    let status = b
        .status
        .as_deref()
        .map(|s| {
            PrincipalStatus::parse(s)
                .ok_or_else(|| ApiError::invalid("status: `active` or `disabled`"))
        })
        .transpose()?;
    let p = state
        .store()
        .admin()
        .update_user(
            auth.tenant_id,
            auth.acting(),
            path.into_inner(),
            UserChange {
                display_name,
                roles,
                status,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(p)))
}

/// Removes a person (their sessions and API tokens go too).
#[utoipa::path(operation_id = "users_remove", tag = "users", security(("bearer" = ["manage_people"])), responses((status = 204), Errors))]
#[delete("/users/{user_id}")]
pub async fn remove(
    auth: Authorized<ManagePeople>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .store()
        .admin()
        .remove_user(auth.tenant_id, auth.acting(), path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The invitation token.
    pub token: String,
    /// The password to set: 12 to 256 characters.
    pub password: String,
}

/// Accepts an invitation: sets the password and activates the account (public).
#[utoipa::path(operation_id = "users_accept", tag = "users", request_body = AcceptInvitation, responses((status = 200, body = UserView), Errors))]
#[post("/invitations/accept")]
pub async fn accept(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    Body(b): Body<AcceptInvitation>,
) -> Result<HttpResponse, ApiError> {
    crate::client::limit_anonymous(&req, &state).await?;
    // Nothing costly for a token that is no invitation.
    if !state.store().admin().invitation_pending(&b.token).await? {
        return Err(ApiError::not_found("invitation"));
    }
    let hash = hash_password(b.password).await?;
    let p = state.store().admin().accept_invite(&b.token, hash).await?;
    Ok(HttpResponse::Ok().json(UserView::from(p)))
}
