//! Principals: the humans of a tenant, with their roles.

use charter_core::status::PrincipalStatus;
use charter_core::tenant::{Email, Role};
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use uuid::Uuid;

use crate::error::state;
use crate::{Result, StoreError, TenantTx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub status: PrincipalStatus,
    pub created_at: DateTime<Utc>,
}

pub struct NewPrincipal {
    pub email: Email,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub roles: Vec<Role>,
}

const COLUMNS: &str = "id, email, display_name, roles, status, created_at";

/// Roles as stored (a `text[]` the schema constrains to known names).
pub(crate) fn parse_roles(roles: Vec<String>) -> Result<Vec<Role>> {
    roles
        .iter()
        .map(|s| s.parse::<Role>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Internal(format!("stored role: {e}")))
}

fn from_row(r: &QueryResult) -> Result<Principal> {
    let roles = parse_roles(r.try_get("", "roles")?)?;
    Ok(Principal {
        id: r.try_get("", "id")?,
        email: r.try_get("", "email")?,
        display_name: r.try_get("", "display_name")?,
        roles,
        status: state(r, "status")?,
        created_at: r.try_get("", "created_at")?,
    })
}

/// Adds a principal; a taken e-mail address is [`StoreError::Conflict`].
pub async fn create(tx: &TenantTx, new: NewPrincipal, now: DateTime<Utc>) -> Result<Uuid> {
    if new.roles.is_empty() {
        return Err(StoreError::Invalid(
            "a principal needs at least one role".into(),
        ));
    }
    let id = Uuid::now_v7();
    let roles: Vec<String> = new.roles.iter().map(|r| r.as_str().to_string()).collect();
    let res = tx
        .exec(
            "INSERT INTO principals (tenant_id, id, email, display_name, password_hash, roles,
                                     created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            vec![
                tx.tenant_id().into(),
                id.into(),
                new.email.as_str().into(),
                new.display_name.into(),
                new.password_hash.into(),
                roles.into(),
                now.into(),
            ],
        )
        .await;
    match res {
        Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(format!(
            "a principal with e-mail {} exists",
            new.email.as_str()
        ))),
        other => other.map(|_| id),
    }
}

pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Principal> {
    let row = tx
        .one(
            &format!("SELECT {COLUMNS} FROM principals WHERE tenant_id = $1 AND id = $2"),
            vec![tx.tenant_id().into(), id.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("principal"))?;
    from_row(&row)
}

pub async fn list(tx: &TenantTx) -> Result<Vec<Principal>> {
    tx.all(
        &format!("SELECT {COLUMNS} FROM principals WHERE tenant_id = $1 ORDER BY created_at, id"),
        vec![tx.tenant_id().into()],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// The principal with this e-mail address and its password hash, for login.
pub async fn with_password(
    tx: &TenantTx,
    email: &Email,
) -> Result<Option<(Principal, Option<String>)>> {
    let row = tx
        .one(
            &format!(
                "SELECT {COLUMNS}, password_hash FROM principals WHERE tenant_id = $1 AND email = $2"
            ),
            vec![tx.tenant_id().into(), email.as_str().into()],
        )
        .await?;
    row.map(|r| Ok((from_row(&r)?, r.try_get("", "password_hash")?)))
        .transpose()
}
