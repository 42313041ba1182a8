//! Tenant API tokens for customers' automation. A token acts as the person who created
//! it, with the roles it was given — and, at each use, only those of them that person's
//! roles still cover (a demoted or disabled creator takes the token's authority down too).
//! Shown once; only a hash is kept.

use charter_core::secret::Secret;
use charter_core::tenant::{Acting, Role};
use charter_core::tenant_token::{self, Kind};
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use serde_json::json;
use uuid::Uuid;

use crate::admin::{ADMINS, entry};
use crate::engine::require_roles;
use crate::principals::parse_roles;
use crate::{Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenInfo {
    pub id: Uuid,
    pub name: String,
    pub display_prefix: String,
    pub roles: Vec<Role>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a presented token speaks for, with its effective roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    pub tenant_id: Uuid,
    pub token_id: Uuid,
    pub principal_id: Uuid,
    pub roles: Vec<Role>,
    /// The person who created it, as they are now.
    pub person: crate::principals::Principal,
}

const COLUMNS: &str =
    "id, name, display_prefix, roles, created_by, created_at, expires_at, last_used_at, revoked_at";

fn from_row(r: &QueryResult) -> Result<ApiTokenInfo> {
    Ok(ApiTokenInfo {
        id: r.try_get("", "id")?,
        name: r.try_get("", "name")?,
        display_prefix: r.try_get("", "display_prefix")?,
        roles: parse_roles(r.try_get("", "roles")?)?,
        created_by: r.try_get("", "created_by")?,
        created_at: r.try_get("", "created_at")?,
        expires_at: r.try_get("", "expires_at")?,
        last_used_at: r.try_get("", "last_used_at")?,
        revoked_at: r.try_get("", "revoked_at")?,
    })
}

impl crate::handles::Admin<'_> {
    /// Creates a token with `roles`, none of which may exceed the creator's own.
    pub async fn create_api_token(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        name: String,
        roles: Vec<Role>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(ApiTokenInfo, Secret<String>)> {
        let by: Acting = by.into();
        let name = charter_core::tenant::display_name(&name, 100)
            .map_err(|e| StoreError::Invalid(format!("name: {e}")))?;
        if roles.is_empty() {
            return Err(StoreError::Invalid("roles: at least one role".into()));
        }
        if expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(StoreError::Invalid(
                "expires_at: must be in the future".into(),
            ));
        }
        let (_, out) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    // What the caller acts with now (a token's roles, never its creator's).
                    let mine = require_roles(tx, &by, ADMINS).await?;
                    if let Some(r) = roles.iter().find(|r| !mine.iter().any(|m| m.covers(**r))) {
                        return Err(StoreError::Forbidden(format!(
                            "a token cannot carry the role `{r}`, which you do not act with"
                        )));
                    }
                    let t = tenant_token::generate(Kind::Api, tx.tenant_id())?;
                    let id = Uuid::now_v7();
                    let names: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
                    let row = tx
                        .one(
                            &format!(
                                "INSERT INTO api_tokens (tenant_id, id, name, display_prefix, token_hash, roles,
                                                         created_by, expires_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
                            ),
                            vec![
                                tx.tenant_id().into(),
                                id.into(),
                                name.clone().into(),
                                t.display_prefix.clone().into(),
                                t.hash.to_vec().into(),
                                names.clone().into(),
                                by.principal.into(),
                                expires_at.into(),
                            ],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("api token"))?;
                    let e = entry(
                        "api_token.created",
                        &by,
                        Some(format!("api_token:{id}")),
                        json!({"token_id": id, "name": name, "roles": names, "display_prefix": t.display_prefix}),
                    );
                    Ok((e, (from_row(&row)?, t.token)))
                })
            })
            .await?;
        Ok(out)
    }

    pub async fn api_tokens(self, tenant: Uuid) -> Result<Vec<ApiTokenInfo>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                &format!(
                    "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at, id"
                ),
                vec![tenant.into()],
            )
            .await?;
        tx.rollback().await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn revoke_api_token(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
    ) -> Result<()> {
        let by: Acting = by.into();
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                require_roles(tx, &by, ADMINS).await?;
                let n = tx
                    .exec(
                        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now())
                         WHERE tenant_id = $1 AND id = $2",
                        vec![tx.tenant_id().into(), id.into()],
                    )
                    .await?;
                if n == 0 {
                    return Err(StoreError::NotFound("api token"));
                }
                let e = entry(
                    "api_token.revoked",
                    &by,
                    Some(format!("api_token:{id}")),
                    json!({"token_id": id}),
                );
                Ok((e, ()))
            })
        })
        .await?;
        Ok(())
    }

    /// Resolves a presented token: `None` when it is unknown, revoked, expired, or its
    /// creator is no longer active. Roles are the token's, cut down to the creator's.
    pub async fn resolve_api_token(self, token: &str) -> Result<Option<TokenIdentity>> {
        let Some(tenant) = tenant_token::tenant_of(Kind::Api, token) else {
            return Ok(None);
        };
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                "SELECT t.id, t.created_by, t.roles, p.roles AS principal_roles, p.email,
                        p.display_name, p.status, p.created_at,
                        t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds' AS touch
                 FROM api_tokens t JOIN principals p ON p.tenant_id = t.tenant_id AND p.id = t.created_by
                 WHERE t.tenant_id = $1 AND t.token_hash = $2 AND t.revoked_at IS NULL
                   AND (t.expires_at IS NULL OR t.expires_at > now()) AND p.status = 'active'",
                vec![tenant.into(), tenant_token::hash(token).to_vec().into()],
            )
            .await?;
        let Some(r) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        // Last use is recorded at most once a minute: not a write on every request.
        if r.try_get::<bool>("", "touch")? {
            tx.exec(
                "UPDATE api_tokens SET last_used_at = now() WHERE tenant_id = $1 AND id = $2",
                vec![tenant.into(), r.try_get::<Uuid>("", "id")?.into()],
            )
            .await?;
        }
        tx.commit().await?;
        let held = parse_roles(r.try_get("", "principal_roles")?)?;
        let roles = parse_roles(r.try_get("", "roles")?)?
            .into_iter()
            .filter(|x| held.iter().any(|h| h.covers(*x)))
            .collect();
        let principal_id: Uuid = r.try_get("", "created_by")?;
        Ok(Some(TokenIdentity {
            tenant_id: tenant,
            token_id: r.try_get("", "id")?,
            principal_id,
            roles,
            person: crate::principals::Principal {
                id: principal_id,
                email: r.try_get("", "email")?,
                display_name: r.try_get("", "display_name")?,
                roles: held,
                status: crate::error::state(&r, "status")?,
                created_at: r.try_get("", "created_at")?,
            },
        }))
    }
}
