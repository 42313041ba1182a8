//! Agents: registered AI agents, each acting for a responsible principal.

use charter_core::status::AgentStatus;
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use uuid::Uuid;

use crate::error::state;
use crate::{Result, StoreError, TenantTx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub status: AgentStatus,
    pub responsible_principal_id: Uuid,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, description, status, responsible_principal_id, created_at";

fn from_row(r: &QueryResult) -> Result<Agent> {
    Ok(Agent {
        id: r.try_get("", "id")?,
        name: r.try_get("", "name")?,
        description: r.try_get("", "description")?,
        status: state(r, "status")?,
        responsible_principal_id: r.try_get("", "responsible_principal_id")?,
        created_at: r.try_get("", "created_at")?,
    })
}

/// Registers an agent; a taken name is [`StoreError::Conflict`].
pub async fn create(
    tx: &TenantTx,
    name: &str,
    description: &str,
    responsible_principal_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let res = tx
        .exec(
            "INSERT INTO agents (tenant_id, id, name, description, responsible_principal_id,
                                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
            vec![
                tx.tenant_id().into(),
                id.into(),
                name.into(),
                description.into(),
                responsible_principal_id.into(),
                now.into(),
            ],
        )
        .await;
    match res {
        Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(format!(
            "an agent named `{name}` exists"
        ))),
        other => other.map(|_| id),
    }
}

pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Agent> {
    let row = tx
        .one(
            &format!("SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2"),
            vec![tx.tenant_id().into(), id.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("agent"))?;
    from_row(&row)
}

pub async fn list(tx: &TenantTx) -> Result<Vec<Agent>> {
    tx.all(
        &format!("SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 ORDER BY name"),
        vec![tx.tenant_id().into()],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}
