//! The tenant's AI systems (see `charter_core::ai_system`): registered and changed by the
//! owner or an admin, each change a ledger record (`ai_system.created`,
//! `ai_system.updated`); read by everyone of the tenant.

use charter_core::ai_system::Facts;
use charter_core::tenant::Acting;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::admin::{ADMINS, entry};
use crate::engine::require_roles;
use crate::{Result, StoreError, TenantTx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiSystem {
    pub id: Uuid,
    pub facts: Facts,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change: only what is set changes. `annex_iii_point: Some(None)` removes the point.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub name: Option<String>,
    pub intended_purpose: Option<String>,
    pub provider: Option<String>,
    pub deployer: Option<String>,
    pub high_risk: Option<bool>,
    pub annex_iii_point: Option<Option<String>>,
    pub contact: Option<String>,
    pub agents: Option<Vec<Uuid>>,
}

const COLUMNS: &str = "id, name, intended_purpose, provider, deployer, high_risk, annex_iii_point, \
     contact, created_by, created_at, updated_at, \
     ARRAY(SELECT agent_id FROM ai_system_agents a WHERE a.tenant_id = s.tenant_id \
           AND a.system_id = s.id ORDER BY agent_id) AS agents";

fn from_row(r: &sea_orm::QueryResult) -> Result<AiSystem> {
    Ok(AiSystem {
        id: r.try_get("", "id")?,
        facts: Facts {
            name: r.try_get("", "name")?,
            intended_purpose: r.try_get("", "intended_purpose")?,
            provider: r.try_get("", "provider")?,
            deployer: r.try_get("", "deployer")?,
            high_risk: r.try_get("", "high_risk")?,
            annex_iii_point: r.try_get("", "annex_iii_point")?,
            contact: r.try_get("", "contact")?,
            agents: r.try_get("", "agents")?,
        },
        created_by: r.try_get("", "created_by")?,
        created_at: r.try_get("", "created_at")?,
        updated_at: r.try_get("", "updated_at")?,
    })
}

fn invalid(e: charter_core::ai_system::Invalid) -> StoreError {
    StoreError::Invalid(e.to_string())
}

pub(crate) async fn one(tx: &TenantTx, id: Uuid, lock: bool) -> Result<AiSystem> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ai_systems s WHERE tenant_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = tx
        .one(&sql, vec![tx.tenant_id().into(), id.into()])
        .await?
        .ok_or(StoreError::NotFound("AI system"))?;
    from_row(&row)
}

/// Refuses a name another system of the tenant has, and agents that are not the tenant's.
async fn check_against_others(tx: &TenantTx, id: Uuid, facts: &Facts) -> Result<()> {
    let taken = tx
        .one(
            "SELECT 1 AS taken FROM ai_systems WHERE tenant_id = $1 AND name = $2 AND id <> $3",
            vec![tx.tenant_id().into(), facts.name.clone().into(), id.into()],
        )
        .await?;
    if taken.is_some() {
        return Err(StoreError::Conflict(
            "name: another AI system of this tenant has this name".into(),
        ));
    }
    let known = tx
        .one(
            "SELECT count(*) AS n FROM agents WHERE tenant_id = $1 AND id = ANY($2)",
            vec![tx.tenant_id().into(), facts.agents.clone().into()],
        )
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if known != facts.agents.len() as i64 {
        return Err(StoreError::Invalid(
            "agents: every agent must be one of this tenant's".into(),
        ));
    }
    Ok(())
}

/// Writes the system's row — a new one when `created_by` is given — and its agents
/// (replacing them).
async fn write(tx: &TenantTx, id: Uuid, facts: &Facts, created_by: Option<Uuid>) -> Result<()> {
    let f = facts.clone();
    let mut values = vec![
        tx.tenant_id().into(),
        id.into(),
        f.name.into(),
        f.intended_purpose.into(),
        f.provider.into(),
        f.deployer.into(),
        f.high_risk.into(),
        f.annex_iii_point.into(),
        f.contact.into(),
    ];
    let sql = match created_by {
        Some(by) => {
            values.push(by.into());
            "INSERT INTO ai_systems (tenant_id, id, name, intended_purpose, provider, deployer,
                 high_risk, annex_iii_point, contact, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        }
        None => {
            "UPDATE ai_systems SET name = $3, intended_purpose = $4, provider = $5,
                 deployer = $6, high_risk = $7, annex_iii_point = $8, contact = $9,
                 updated_at = now()
             WHERE tenant_id = $1 AND id = $2"
        }
    };
    tx.exec(sql, values).await?;
    tx.exec(
        "DELETE FROM ai_system_agents WHERE tenant_id = $1 AND system_id = $2",
        vec![tx.tenant_id().into(), id.into()],
    )
    .await?;
    tx.exec(
        "INSERT INTO ai_system_agents (tenant_id, system_id, agent_id)
         SELECT $1, $2, unnest($3::uuid[])",
        vec![
            tx.tenant_id().into(),
            id.into(),
            facts.agents.clone().into(),
        ],
    )
    .await?;
    Ok(())
}

impl crate::handles::Admin<'_> {
    /// The tenant's AI systems, by name.
    pub async fn ai_systems(self, tenant: Uuid) -> Result<Vec<AiSystem>> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                &format!(
                    "SELECT {COLUMNS} FROM ai_systems s WHERE tenant_id = $1 ORDER BY name, id"
                ),
                vec![tenant.into()],
            )
            .await?;
        tx.rollback().await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn ai_system(self, tenant: Uuid, id: Uuid) -> Result<AiSystem> {
        let tx = self.tenant_tx(tenant).await?;
        let system = one(&tx, id, false).await?;
        tx.rollback().await?;
        Ok(system)
    }

    /// Registers a system (owner or admin); recorded as `ai_system.created`.
    pub async fn create_ai_system(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        facts: Facts,
    ) -> Result<AiSystem> {
        let by: Acting = by.into();
        let facts = facts.checked().map_err(invalid)?;
        let id = Uuid::now_v7();
        let (_, system) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    check_against_others(tx, id, &facts).await?;
                    write(tx, id, &facts, Some(by.principal)).await?;
                    let system = one(tx, id, false).await?;
                    let payload = json!({"ai_system_id": id, "facts": system.facts});
                    let e = entry(
                        "ai_system.created",
                        &by,
                        Some(format!("ai_system:{id}")),
                        payload,
                    );
                    Ok((e, system))
                })
            })
            .await?;
        Ok(system)
    }

    /// Changes a system (owner or admin): the facts given replace the stored ones, and the
    /// result must satisfy every rule as a whole. Recorded as `ai_system.updated` with the
    /// fields that changed, before and after.
    pub async fn update_ai_system(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
        change: Change,
    ) -> Result<AiSystem> {
        let by: Acting = by.into();
        let (_, system) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    let before = one(tx, id, true).await?;
                    let b = before.facts.clone();
                    let facts = Facts {
                        name: change.name.unwrap_or(b.name),
                        intended_purpose: change.intended_purpose.unwrap_or(b.intended_purpose),
                        provider: change.provider.unwrap_or(b.provider),
                        deployer: change.deployer.unwrap_or(b.deployer),
                        high_risk: change.high_risk.unwrap_or(b.high_risk),
                        annex_iii_point: change.annex_iii_point.unwrap_or(b.annex_iii_point),
                        contact: change.contact.unwrap_or(b.contact),
                        agents: change.agents.unwrap_or(b.agents),
                    }
                    .checked()
                    .map_err(invalid)?;
                    check_against_others(tx, id, &facts).await?;
                    write(tx, id, &facts, None).await?;
                    let after = one(tx, id, false).await?;
                    let (old, new) = (json!(before.facts), json!(after.facts));
                    let changed: serde_json::Map<String, serde_json::Value> = new
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, v)| old.get(k.as_str()) != Some(v))
                        .map(|(k, v)| (k.clone(), json!({"from": old[k.as_str()], "to": v})))
                        .collect();
                    let payload = json!({"ai_system_id": id, "changes": changed});
                    let e = entry(
                        "ai_system.updated",
                        &by,
                        Some(format!("ai_system:{id}")),
                        payload,
                    );
                    Ok((e, after))
                })
            })
            .await?;
        Ok(system)
    }
}
