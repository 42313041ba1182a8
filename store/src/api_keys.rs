//! Agent API keys: issued (shown once), listed by prefix, revoked, last use recorded.

use charter_core::api_key;
use charter_core::secret::Secret;
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

/// A key as listed: never the token, only its prefix and use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub display_prefix: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn from_row(r: &QueryResult) -> Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: r.try_get("", "id")?,
        agent_id: r.try_get("", "agent_id")?,
        display_prefix: r.try_get("", "display_prefix")?,
        label: r.try_get("", "label")?,
        created_at: r.try_get("", "created_at")?,
        last_used_at: r.try_get("", "last_used_at")?,
        revoked_at: r.try_get("", "revoked_at")?,
    })
}

/// Issues a key for an agent of this tenant. The token is returned once and only its hash
/// is stored.
pub async fn issue(
    tx: &TenantTx,
    agent_id: Uuid,
    label: &str,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(Uuid, Secret<String>)> {
    let new = api_key::generate()?;
    let id = Uuid::now_v7();
    tx.exec(
        "INSERT INTO agent_api_keys (tenant_id, id, agent_id, display_prefix, token_hash, label,
                                     created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vec![
            tx.tenant_id().into(),
            id.into(),
            agent_id.into(),
            new.display_prefix.into(),
            new.hash.to_vec().into(),
            label.into(),
            now.into(),
            created_by.into(),
        ],
    )
    .await?;
    Ok((id, new.token))
}

pub async fn list(tx: &TenantTx, agent_id: Uuid) -> Result<Vec<ApiKeyInfo>> {
    tx.all(
        "SELECT id, agent_id, display_prefix, label, created_at, last_used_at, revoked_at
         FROM agent_api_keys WHERE tenant_id = $1 AND agent_id = $2 ORDER BY created_at, id",
        vec![tx.tenant_id().into(), agent_id.into()],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Revokes a key; revoking twice keeps the first time.
pub async fn revoke(tx: &TenantTx, key_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    let n = tx
        .exec(
            "UPDATE agent_api_keys SET revoked_at = COALESCE(revoked_at, $3)
             WHERE tenant_id = $1 AND id = $2",
            vec![tx.tenant_id().into(), key_id.into(), now.into()],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound("api key"));
    }
    Ok(())
}

/// Records use, at most once a minute per key.
pub(crate) async fn touch(tx: &TenantTx, key_id: Uuid) -> Result<()> {
    tx.exec(
        "UPDATE agent_api_keys SET last_used_at = now()
         WHERE tenant_id = $1 AND id = $2
           AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')",
        vec![tx.tenant_id().into(), key_id.into()],
    )
    .await?;
    Ok(())
}
