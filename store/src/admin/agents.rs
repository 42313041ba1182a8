//! Agents' lifecycle and their API keys, each change recorded with the acting principal.
//! Revoking or deleting forgets the keys on every node at once (see `identity_cache`).

use charter_core::secret::Secret;
use charter_core::status::PrincipalStatus;
use charter_core::tenant::Acting;
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::{ADMINS, entry};
use crate::agents::{self, Agent};
use crate::api_keys::{self, ApiKeyInfo};
use crate::engine::require_roles;
use crate::{Result, StoreError, principals};

fn resource(agent: Uuid) -> Option<String> {
    Some(format!("agent:{agent}"))
}

impl crate::handles::Admin<'_> {
    /// The tenant's agents.
    pub async fn agents(self, tenant: Uuid) -> Result<Vec<Agent>> {
        self.read(tenant, |tx| Box::pin(agents::list(tx))).await
    }

    /// One agent.
    pub async fn agent(self, tenant: Uuid, id: Uuid) -> Result<Agent> {
        self.read(tenant, move |tx| Box::pin(agents::get(tx, id)))
            .await
    }

    /// Registers an agent acting for `responsible` (an active person of the tenant).
    pub async fn create_agent(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        name: String,
        description: String,
        responsible: Uuid,
    ) -> Result<Agent> {
        let name = charter_core::tenant::display_name(&name, 100)
            .map_err(|e| StoreError::Invalid(format!("name: {e}")))?;
        if description.chars().count() > 2000 {
            return Err(StoreError::Invalid(
                "description: at most 2000 characters".into(),
            ));
        }
        let by: Acting = by.into();
        let billing = self.billing_setup();
        let (_, a) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    // Under the head lock: two creations cannot both take the last place.
                    crate::billing::check_agent_limit(&billing, tx).await?;
                    let p = principals::get(tx, responsible).await.map_err(|_| {
                        StoreError::Invalid("responsible_principal_id: no such person in this tenant".into())
                    })?;
                    if p.status != PrincipalStatus::Active {
                        return Err(StoreError::Invalid(
                            "responsible_principal_id: this person is not active".into(),
                        ));
                    }
                    let id = agents::create(tx, &name, &description, responsible, Utc::now()).await?;
                    let a = agents::get(tx, id).await?;
                    let e = entry(
                        "agent.created",
                        &by,
                        resource(id),
                        json!({"agent_id": id, "name": name, "responsible_principal_id": responsible}),
                    );
                    Ok((e, a))
                })
            })
            .await?;
        Ok(a)
    }

    /// Suspends an agent (every action BLOCKED with `agent_suspended`) or resumes it.
    pub async fn set_agent_suspended(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        agent: Uuid,
        suspended: bool,
    ) -> Result<Agent> {
        let by: Acting = by.into();
        let (_, a) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    let before = agents::get(tx, agent).await?;
                    let (sql, kind) = if suspended {
                        ("UPDATE agents SET status = 'suspended', updated_at = now() WHERE tenant_id = $1 AND id = $2",
                         "agent.suspended")
                    } else {
                        ("UPDATE agents SET status = 'active', updated_at = now()
                          WHERE tenant_id = $1 AND id = $2 AND status = 'suspended'",
                         "agent.resumed")
                    };
                    tx.exec(sql, vec![tx.tenant_id().into(), agent.into()]).await?;
                    let after = agents::get(tx, agent).await?;
                    let e = entry(
                        kind,
                        &by,
                        resource(agent),
                        json!({"agent_id": agent, "status": {"from": before.status, "to": after.status}}),
                    );
                    Ok((e, after))
                })
            })
            .await?;
        Ok(a)
    }

    /// Deletes an agent with its keys, scope and breaker. Its ledger records stay.
    pub async fn delete_agent(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        agent: Uuid,
    ) -> Result<()> {
        let by: Acting = by.into();
        let (_, keys) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    let a = agents::get(tx, agent).await?;
                    let keys: Vec<Uuid> = api_keys::list(tx, agent)
                        .await?
                        .into_iter()
                        .map(|k| k.id)
                        .collect();
                    tx.exec(
                        "DELETE FROM agents WHERE tenant_id = $1 AND id = $2",
                        vec![tx.tenant_id().into(), agent.into()],
                    )
                    .await?;
                    // Its scope went with it: compiled policies of the old version are stale.
                    tx.exec(
                        "UPDATE tenant_policy SET version = version + 1, updated_at = now() WHERE tenant_id = $1",
                        vec![tx.tenant_id().into()],
                    )
                    .await?;
                    let e = entry(
                        "agent.deleted",
                        &by,
                        resource(agent),
                        json!({"agent_id": agent, "name": a.name, "keys_removed": keys}),
                    );
                    Ok((e, keys))
                })
            })
            .await?;
        for k in keys {
            self.forget_key(k).await;
        }
        self.engine().announce_policy_change(tenant).await;
        Ok(())
    }

    /// Issues an API key for an agent; the token is returned once.
    pub async fn issue_agent_key(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        agent: Uuid,
        label: String,
    ) -> Result<(ApiKeyInfo, Secret<String>)> {
        let by: Acting = by.into();
        if label.chars().count() > 100 || label.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "label: at most 100 characters, no control characters".into(),
            ));
        }
        let (_, out) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, ADMINS).await?;
                    agents::get(tx, agent).await?;
                    let (id, token) = api_keys::issue(tx, agent, &label, Some(by.principal), Utc::now()).await?;
                    let info = api_keys::list(tx, agent)
                        .await?
                        .into_iter()
                        .find(|k| k.id == id)
                        .ok_or(StoreError::NotFound("api key"))?;
                    let e = entry(
                        "api_key.issued",
                        &by,
                        resource(agent),
                        json!({"agent_id": agent, "key_id": id, "display_prefix": info.display_prefix, "label": label}),
                    );
                    Ok((e, (info, token)))
                })
            })
            .await?;
        Ok(out)
    }

    /// The keys of an agent (prefix and use, never the token).
    pub async fn agent_keys(self, tenant: Uuid, agent: Uuid) -> Result<Vec<ApiKeyInfo>> {
        let tx = self.tenant_tx(tenant).await?;
        agents::get(&tx, agent).await?;
        let keys = api_keys::list(&tx, agent).await?;
        tx.rollback().await?;
        Ok(keys)
    }

    /// Revokes an agent's API key (recorded) and tells every node to forget it at once.
    pub async fn revoke_api_key(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        agent: Uuid,
        key: Uuid,
    ) -> Result<()> {
        let by: Acting = by.into();
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                require_roles(tx, &by, ADMINS).await?;
                if !api_keys::list(tx, agent).await?.iter().any(|k| k.id == key) {
                    return Err(StoreError::NotFound("api key"));
                }
                api_keys::revoke(tx, key, Utc::now()).await?;
                let e = entry(
                    "api_key.revoked",
                    &by,
                    resource(agent),
                    json!({"agent_id": agent, "key_id": key}),
                );
                Ok((e, ()))
            })
        })
        .await?;
        self.forget_key(key).await;
        Ok(())
    }

    /// Drops a key from this node's cache and asks every other node to do the same.
    async fn forget_key(self, key_id: Uuid) {
        self.identity_cache().evict_key(key_id);
        if let Err(e) = self
            .cache()
            .publish(crate::identity_cache::REVOKED_CHANNEL, &key_id.to_string())
            .await
        {
            // Other nodes forget it within the cache's lifetime anyway.
            tracing::warn!(%key_id, error = %e, "could not announce a key revocation");
        }
    }
}
