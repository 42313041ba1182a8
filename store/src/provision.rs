//! Provisioning a ready-to-use tenant: the tenant, its owner (with a generated password)
//! and one agent with an API key — what `charter tenant create` and the demo tenant of
//! `charter up` hand to a person or a script.

use charter_core::code::Code;
use charter_core::ledger::{Actor, Entry};
use charter_core::password;
use charter_core::secret::Secret;
use charter_core::tenant::{Email, TenantSlug};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::tenants::NewTenant;
use crate::{Result, StoreError, agents, api_keys};

pub struct ProvisionRequest {
    pub name: String,
    /// `None`: derived from the name, with a random suffix if that slug is taken.
    pub slug: Option<TenantSlug>,
    pub owner_email: Option<Email>,
    pub agent_name: String,
    pub is_demo: bool,
}

#[derive(Debug)]
pub struct Provisioned {
    pub tenant_id: Uuid,
    pub slug: String,
    pub owner_id: Uuid,
    pub owner_email: String,
    pub owner_password: Secret<String>,
    pub agent_id: Uuid,
    pub agent_name: String,
    pub api_key: Secret<String>,
}

impl crate::handles::Admin<'_> {
    pub async fn provision_tenant(
        self,
        req: ProvisionRequest,
        now: DateTime<Utc>,
    ) -> Result<Provisioned> {
        let owner_password =
            password::generate().map_err(|e| StoreError::Invalid(e.to_string()))?;
        let hash = password::hash(owner_password.expose())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let base = req
            .slug
            .clone()
            .unwrap_or_else(|| TenantSlug::from_name(&req.name));
        let mut attempt = 0;
        let created = loop {
            let slug = if attempt == 0 {
                base.clone()
            } else {
                suffixed(&base)?
            };
            let owner_email = match &req.owner_email {
                Some(e) => e.clone(),
                None => Email::parse(&format!("owner@{slug}.localhost"))
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            };
            let new = NewTenant {
                name: req.name.clone(),
                slug: slug.clone(),
                owner_email: owner_email.clone(),
                owner_display_name: "Owner".into(),
                owner_password_hash: hash.clone(),
                is_demo: req.is_demo,
            };
            match self.create_tenant(new, now).await {
                Err(StoreError::Refused(Code::SlugTaken, _))
                    if req.slug.is_none() && attempt < 5 =>
                {
                    attempt += 1
                }
                other => break (other?, owner_email),
            }
        };
        let (tenant, owner_email) = created;
        let tx = self.tenant_tx(tenant.tenant_id).await?;
        let agent_id = agents::create(&tx, &req.agent_name, "", tenant.owner_id, now).await?;
        let (key_id, api_key) =
            api_keys::issue(&tx, agent_id, "initial key", Some(tenant.owner_id), now).await?;
        // Admin changes are ledger records, in the transaction that makes them.
        let by = Actor::principal(tenant.owner_id);
        crate::ledger::append::append_entries(
            &tx,
            self.master_key(),
            vec![
                Entry::new("agent.created", by.clone()).payload(json!({
                    "agent_id": agent_id, "name": req.agent_name,
                    "responsible_principal_id": tenant.owner_id,
                })),
                Entry::new("api_key.issued", by).payload(json!({
                    "agent_id": agent_id, "key_id": key_id,
                    "display_prefix": &api_key.expose()[..charter_core::api_key::DISPLAY_PREFIX_LEN],
                })),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Provisioned {
            tenant_id: tenant.tenant_id,
            slug: tenant.slug,
            owner_id: tenant.owner_id,
            owner_email: owner_email.as_str().to_string(),
            owner_password,
            agent_id,
            agent_name: req.agent_name,
            api_key,
        })
    }
}

fn suffixed(base: &TenantSlug) -> Result<TenantSlug> {
    let mut bytes = [0u8; 3];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let stem: String = base.as_str().chars().take(33).collect();
    TenantSlug::parse(&format!(
        "{}-{}",
        stem.trim_end_matches('-'),
        hex::encode(bytes)
    ))
    .map_err(|e| StoreError::Invalid(e.to_string()))
}
