//! Tenants: creation (sign-up, `tenant create`, the demo tenant) and reading.

use charter_core::code::Code;
use charter_core::status::SubscriptionStatus;
use charter_core::tenant::{Email, TenantSlug};
use chrono::{DateTime, Duration, Utc};
use sea_orm::QueryResult;
use uuid::Uuid;

use crate::error::state;
use crate::{Result, StoreError, TenantTx, principals, signing_keys};

pub use charter_core::billing::TRIAL_DAYS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub subscription_status: SubscriptionStatus,
    pub is_demo: bool,
    pub created_at: DateTime<Utc>,
}

fn from_row(r: &QueryResult) -> Result<Tenant> {
    Ok(Tenant {
        id: r.try_get("", "id")?,
        slug: r.try_get("", "slug")?,
        name: r.try_get("", "name")?,
        plan: r.try_get("", "plan")?,
        trial_ends_at: r.try_get("", "trial_ends_at")?,
        subscription_status: state(r, "subscription_status")?,
        is_demo: r.try_get("", "is_demo")?,
        created_at: r.try_get("", "created_at")?,
    })
}

/// What a new tenant starts with: its owner (a principal with the `owner` role).
pub struct NewTenant {
    pub name: String,
    pub slug: TenantSlug,
    pub owner_email: Email,
    pub owner_display_name: String,
    pub owner_password_hash: String,
    pub is_demo: bool,
}

#[derive(Debug, Clone)]
pub struct CreatedTenant {
    pub tenant_id: Uuid,
    pub slug: String,
    pub owner_id: Uuid,
    pub key_id: String,
}

impl crate::handles::Admin<'_> {
    /// Creates a tenant with its owner and its first signing key, on a 14-day trial, in one
    /// transaction. It needs no RLS bypass: the transaction is opened for the new tenant's
    /// id, so the policies' WITH CHECK accepts exactly these rows. A taken slug is
    /// [`StoreError::Conflict`].
    pub async fn create_tenant(self, new: NewTenant, now: DateTime<Utc>) -> Result<CreatedTenant> {
        let tenant_id = Uuid::now_v7();
        let tx = self.tenant_tx(tenant_id).await?;
        let inserted = tx
            .exec(
                "INSERT INTO tenants (id, slug, name, plan, trial_ends_at, subscription_status,
                                      is_demo, created_at, updated_at)
                 VALUES ($1, $2, $3, 'trial', $4, 'trialing', $5, $6, $6)",
                vec![
                    tenant_id.into(),
                    new.slug.as_str().into(),
                    new.name.clone().into(),
                    (now + Duration::days(TRIAL_DAYS)).into(),
                    new.is_demo.into(),
                    now.into(),
                ],
            )
            .await;
        match inserted {
            Err(StoreError::Conflict(_)) => {
                return Err(StoreError::Refused(
                    Code::SlugTaken,
                    format!("the tenant slug `{}` is taken", new.slug),
                ));
            }
            other => other?,
        };
        let owner_id = principals::create(
            &tx,
            principals::NewPrincipal {
                email: new.owner_email,
                display_name: new.owner_display_name,
                password_hash: Some(new.owner_password_hash),
                roles: vec![charter_core::tenant::Role::Owner],
            },
            now,
        )
        .await?;
        let key_id = signing_keys::create(&tx, self.master_key()).await?;
        crate::ledger::append::init(
            &tx,
            self.master_key(),
            crate::ledger::append::genesis_payload(new.slug.as_str(), &new.name, &key_id),
        )
        .await?;
        tx.commit().await?;
        // A lookup of the slug a moment ago found nothing; now it names this tenant.
        self.identity_cache()
            .forget_miss(&crate::identity_cache::Miss::Slug(new.slug.to_string()));
        Ok(CreatedTenant {
            tenant_id,
            slug: new.slug.to_string(),
            owner_id,
            key_id,
        })
    }
}

impl crate::handles::Admin<'_> {
    /// The tenant: name, plan, subscription, trial.
    pub async fn tenant(self, tenant: Uuid) -> Result<Tenant> {
        self.read(tenant, |tx| Box::pin(get(tx))).await
    }

    /// Sign-up: a new tenant and its owner. Whether the owner's address is registered
    /// with another tenant is not asked (and so never told): each tenant's people are its
    /// own. A taken slug is `slug_taken`.
    pub async fn sign_up(self, new: NewTenant, now: DateTime<Utc>) -> Result<CreatedTenant> {
        self.create_tenant(new, now).await
    }
}

/// The tenant of this transaction.
pub async fn get(tx: &TenantTx) -> Result<Tenant> {
    let row = tx
        .one(
            "SELECT id, slug, name, plan, trial_ends_at, subscription_status, is_demo, created_at
             FROM tenants WHERE id = $1",
            vec![tx.tenant_id().into()],
        )
        .await?
        .ok_or(StoreError::NotFound("tenant"))?;
    from_row(&row)
}
