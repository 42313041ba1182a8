//! Compiled policies per tenant, cached per node and always checked against PostgreSQL.
//!
//! Every decision reads the tenant's policy `version` (one indexed row, in the decision's
//! own transaction) and uses the cached compiled engine only if it is of that version, so
//! a stale cache can never decide — even with Redis down. Redis pub/sub only makes other
//! nodes drop their copy early, so the next decision need not rebuild it on the hot path.

use charter_core::tenant::Acting;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use charter_core::policy::{Catalog, PolicyEngine, Scope};
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

pub const INVALIDATION_CHANNEL: &str = "charter:policy-invalidate";

#[derive(Default)]
pub struct PolicyCache {
    engines: Mutex<HashMap<Uuid, (i64, Arc<PolicyEngine>)>>,
}

impl PolicyCache {
    pub fn evict(&self, tenant: Uuid) {
        if let Ok(mut m) = self.engines.lock() {
            m.remove(&tenant);
        }
    }

    fn get(&self, tenant: Uuid, version: i64) -> Option<Arc<PolicyEngine>> {
        let m = self.engines.lock().ok()?;
        m.get(&tenant)
            .filter(|(v, _)| *v == version)
            .map(|(_, e)| e.clone())
    }

    fn put(&self, tenant: Uuid, version: i64, engine: Arc<PolicyEngine>) {
        if let Ok(mut m) = self.engines.lock() {
            m.insert(tenant, (version, engine));
        }
    }
}

/// The tenant's policy settings row, created on first use.
pub(crate) struct PolicyRow {
    pub version: i64,
    pub catalog: Catalog,
    pub policies: String,
}

pub(crate) async fn policy_row(tx: &TenantTx) -> Result<PolicyRow> {
    tx.exec(
        "INSERT INTO tenant_policy (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING",
        vec![tx.tenant_id().into()],
    )
    .await?;
    let row = tx
        .one(
            "SELECT version, catalog, policies FROM tenant_policy WHERE tenant_id = $1",
            vec![tx.tenant_id().into()],
        )
        .await?
        .ok_or(StoreError::NotFound("tenant policy"))?;
    let catalog: Option<serde_json::Value> = row.try_get("", "catalog")?;
    let catalog = match catalog {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Internal(format!("stored catalog: {e}")))?,
        None => Catalog::default(),
    };
    Ok(PolicyRow {
        version: row.try_get("", "version")?,
        catalog,
        policies: row.try_get("", "policies")?,
    })
}

/// The tenant's policy version (0 before anything was set).
pub(crate) async fn policy_version(tx: &TenantTx) -> Result<i64> {
    let r = tx
        .one(
            "SELECT COALESCE((SELECT version FROM tenant_policy WHERE tenant_id = $1), 0) AS version",
            vec![tx.tenant_id().into()],
        )
        .await?
        .ok_or(StoreError::NotFound("tenant policy"))?;
    Ok(r.try_get("", "version")?)
}

pub(crate) async fn scopes(tx: &TenantTx) -> Result<Vec<(String, Scope)>> {
    tx.all(
        "SELECT agent_id, scope FROM agent_scopes WHERE tenant_id = $1 ORDER BY agent_id",
        vec![tx.tenant_id().into()],
    )
    .await?
    .iter()
    .map(|r| {
        let agent: Uuid = r.try_get("", "agent_id")?;
        let scope: serde_json::Value = r.try_get("", "scope")?;
        let scope = serde_json::from_value(scope)
            .map_err(|e| StoreError::Internal(format!("stored scope of {agent}: {e}")))?;
        Ok((agent.to_string(), scope))
    })
    .collect()
}

/// The agent's stored scope (empty: no authority) and its limits.
pub async fn scope_of(tx: &TenantTx, agent: Uuid) -> Result<Scope> {
    let row = tx
        .one(
            "SELECT scope FROM agent_scopes WHERE tenant_id = $1 AND agent_id = $2",
            vec![tx.tenant_id().into(), agent.into()],
        )
        .await?;
    match row {
        Some(r) => serde_json::from_value(r.try_get("", "scope")?)
            .map_err(|e| StoreError::Internal(format!("stored scope: {e}"))),
        None => Ok(Scope::default()),
    }
}

impl crate::handles::Engine<'_> {
    /// The compiled policies of this transaction's tenant at `version` (read by the caller
    /// in this transaction): from the cache when it holds that version, else compiled from
    /// what PostgreSQL holds now.
    pub(crate) async fn policy_engine(
        self,
        tx: &TenantTx,
        version: i64,
    ) -> Result<Arc<PolicyEngine>> {
        if let Some(engine) = self.policy_cache().get(tx.tenant_id(), version) {
            return Ok(engine);
        }
        let row = policy_row(tx).await?;
        let scopes = scopes(tx).await?;
        let engine = PolicyEngine::compile(&row.catalog, &scopes, &row.policies)
            .map_err(|e| StoreError::Invalid(format!("stored policies do not compile: {e}")))?;
        let engine = Arc::new(engine);
        // Cache under the version actually compiled (policy_row may have created the row).
        self.policy_cache()
            .put(tx.tenant_id(), row.version, engine.clone());
        Ok(engine)
    }

    /// Tells every node that a tenant's policies changed (best effort: the version check
    /// is what guarantees correctness).
    pub(crate) async fn announce_policy_change(self, tenant: Uuid) {
        self.policy_cache().evict(tenant);
        if let Err(e) = self
            .cache()
            .publish(INVALIDATION_CHANNEL, &tenant.to_string())
            .await
        {
            tracing::warn!(%tenant, error = %e, "could not announce a policy change");
        }
    }
}

impl crate::handles::Engine<'_> {
    /// Replaces the tenant's catalog (resource types, actions) and tenant-wide Cedar
    /// policies. Everything — these and every agent's scope — must compile against the new
    /// schema before anything is saved; errors carry line and column. Recorded; other nodes
    /// are told.
    pub async fn set_tenant_policies(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        catalog: Catalog,
        policies: String,
    ) -> Result<crate::ledger::Receipt> {
        let by: Acting = by.into();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    super::require_roles(tx, &by, super::SCOPE_AUTHORITY).await?;
                    let all = scopes(tx).await?;
                    PolicyEngine::compile(&catalog, &all, &policies)
                        .map_err(|e| StoreError::Invalid(format!("policies: {e}")))?;
                    let value = serde_json::to_value(&catalog)
                        .map_err(|e| StoreError::Internal(e.to_string()))?;
                    tx.exec(
                        "INSERT INTO tenant_policy (tenant_id, catalog, policies, version) VALUES ($1, $2, $3, 1)
                         ON CONFLICT (tenant_id) DO UPDATE SET catalog = EXCLUDED.catalog,
                             policies = EXCLUDED.policies, version = tenant_policy.version + 1,
                             updated_at = now()",
                        vec![tx.tenant_id().into(), value.clone().into(), policies.clone().into()],
                    )
                    .await?;
                    let e = charter_core::ledger::Entry::new(
                        "policies.changed",
                        by.actor(),
                    )
                    .payload(serde_json::json!({"catalog": value, "policies": policies}));
                    Ok((e, ()))
                })
            })
            .await?;
        self.announce_policy_change(tenant).await;
        Ok(receipt)
    }
}

/// A tenant's policy settings as an admin reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPolicies {
    pub version: i64,
    pub catalog: Catalog,
    pub policies: String,
    pub spend_limit: Option<i64>,
    pub dispatch_limit: Option<i64>,
    pub cycle_secs: i32,
}

impl crate::handles::Engine<'_> {
    pub async fn tenant_policies(self, tenant: Uuid) -> Result<TenantPolicies> {
        let tx = self.tenant_tx(tenant).await?;
        let row = policy_row(&tx).await?;
        let limits = tx
            .one(
                "SELECT spend_limit, dispatch_limit, cycle_secs FROM tenant_policy WHERE tenant_id = $1",
                vec![tenant.into()],
            )
            .await?
            .ok_or(StoreError::NotFound("tenant policy"))?;
        tx.commit().await?;
        Ok(TenantPolicies {
            version: row.version,
            catalog: row.catalog,
            policies: row.policies,
            spend_limit: limits.try_get("", "spend_limit")?,
            dispatch_limit: limits.try_get("", "dispatch_limit")?,
            cycle_secs: limits.try_get("", "cycle_secs")?,
        })
    }

    /// Checks a candidate catalog and policy text against the tenant's agents' scopes
    /// without saving anything; the errors carry line and column.
    pub async fn validate_policies(
        self,
        tenant: Uuid,
        catalog: &Catalog,
        policies: &str,
    ) -> Result<()> {
        let tx = self.tenant_tx(tenant).await?;
        let all = scopes(&tx).await?;
        tx.rollback().await?;
        PolicyEngine::compile(catalog, &all, policies)
            .map(|_| ())
            .map_err(|e| StoreError::Invalid(format!("policies: {e}")))
    }

    /// An agent's scope (empty: no authority).
    pub async fn agent_scope(self, tenant: Uuid, agent: Uuid) -> Result<Scope> {
        let tx = self.tenant_tx(tenant).await?;
        crate::agents::get(&tx, agent).await?;
        let s = scope_of(&tx, agent).await?;
        tx.rollback().await?;
        Ok(s)
    }
}
