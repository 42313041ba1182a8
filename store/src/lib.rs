//! charter-store: the only crate that talks to PostgreSQL and Redis.
//!
//! # Layout
//! - [`Store`] — the application's connections (as the `charter_app` role) and the master key;
//!   its named parts ([`handles`]): `engine()`, `ledger()`, `admin()`, `sessions()`, `limits()`.
//! - [`bootstrap`] — `charter migrate` — database, roles and migrations, as the owner.
//! - [`tenant_tx`] — [`TenantTx`], the one way into tenant data: a transaction whose
//!   row-level-security context is a single tenant.
//! - [`platform`] — the narrow cross-tenant look-ups the platform needs (slug → tenant,
//!   API key → tenant and agent), each a `SECURITY DEFINER` function in the database.
//! - [`provision`] — a ready tenant (owner, agent, API key) for `tenant create` and `up`.
//! - [`tenants`], [`principals`], [`agents`], [`api_keys`], [`api_tokens`], [`signing_keys`] —
//!   repositories.
//! - [`sessions`] — people's logins and refresh tokens.
//! - [`mcp_sessions`] — MCP sessions bound to their tenant and agent (Redis).
//! - [`admin`] — what the REST admin API changes and reads (each change recorded).
//! - [`ledger`] — the signed ledger: group-committed appends, proofs, checkpoints, exports.
//! - [`engine`] — decisions: scopes and policies, breakers, budgets, authorizations.
//! - [`worker`] — what the worker's jobs keep: job runs, scanner passes, findings.
//! - [`job_lock`] — advisory locks that let several workers share the schedule.
//! - [`limits`] — rate limits and attempt counters (Redis, each node on its own without it).
//! - [`passwords`] — Argon2 hashing and checks, bounded to the machine's cores.
//! - [`cache`] — Redis.
//! - [`error`] — [`StoreError`].

pub mod admin;
pub mod agents;
pub mod ai_systems;
pub mod api_keys;
pub mod api_tokens;
pub mod billing;
pub mod bootstrap;
pub mod cache;
pub mod db;
pub mod demo;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod handles;
pub mod identity_cache;
pub mod job_lock;
pub mod ledger;
pub mod limits;
pub mod mcp_sessions;
pub(crate) mod notifications;
pub mod passwords;
pub mod platform;
pub mod principals;
pub mod provision;
pub mod reseal;
pub mod sessions;
pub mod signing_keys;
pub mod signup;
pub mod tenant_tx;
pub mod tenants;
pub mod web_sessions;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;

use charter_core::config::Config;
use charter_core::keys::MasterKey;
use sea_orm::DatabaseConnection;

pub use error::StoreError;
pub use tenant_tx::TenantTx;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Shared handles, cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    cache: cache::Cache,
    master_key: Arc<MasterKey>,
    origin_prefix: Arc<str>,
    ledger: Arc<ledger::writer::LedgerWriter>,
    policies: Arc<engine::policies::PolicyCache>,
    identities: Arc<identity_cache::IdentityCache>,
    counters: Arc<limits::LocalCounters>,
    digest_keys: Arc<signing_keys::DigestKeys>,
    /// Where webhooks may be sent (public https only in production).
    webhook_targets: charter_core::webhook::target::Targets,
    /// Stripe, plans and the grace period (billing off: every tenant unlimited).
    billing: Arc<billing::BillingSetup>,
    /// The runtime `connect` ran on. The ledger writer's batches run there, not on the
    /// caller's (an HTTP worker's) thread, so signing and encoding never stall a worker's
    /// other requests.
    runtime: tokio::runtime::Handle,
}

impl Store {
    /// Connects as the application role. An unreachable database is an error here (the
    /// caller exits with one clear line); Redis connects lazily, so a Redis outage shows
    /// in `/readyz` instead of preventing start-up.
    pub async fn connect(config: &Config, master_key: MasterKey) -> Result<Store> {
        let db = db::connect_app(config).await?;
        let cache = cache::Cache::connect(config)?;
        let store = Store {
            db,
            cache,
            master_key: Arc::new(master_key),
            origin_prefix: config.checkpoint_origin_prefix.as_str().into(),
            ledger: Arc::default(),
            policies: Arc::default(),
            identities: Arc::default(),
            counters: Arc::default(),
            digest_keys: Arc::default(),
            webhook_targets: charter_core::webhook::target::Targets::for_mode(config.mode),
            billing: Arc::new(billing::BillingSetup::new(config)?),
            runtime: tokio::runtime::Handle::current(),
        };
        let policies = store.policies.clone();
        store
            .cache
            .subscribe(engine::policies::INVALIDATION_CHANNEL, move |tenant| {
                if let Ok(id) = tenant.parse() {
                    policies.evict(id);
                }
            });
        let identities = store.identities.clone();
        store
            .cache
            .subscribe(identity_cache::REVOKED_CHANNEL, move |key| {
                if let Ok(id) = key.parse() {
                    identities.evict_key(id);
                }
            });
        Ok(store)
    }

    pub(crate) fn cache(&self) -> &cache::Cache {
        &self.cache
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// Where webhooks may be sent.
    pub fn webhook_targets(&self) -> charter_core::webhook::target::Targets {
        self.webhook_targets
    }

    /// Prefix of every tenant's checkpoint origin (the slug follows).
    pub fn origin_prefix(&self) -> &str {
        &self.origin_prefix
    }

    pub(crate) fn billing_setup(&self) -> Arc<billing::BillingSetup> {
        self.billing.clone()
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Rate limits and attempt counters.
    pub fn limits(&self) -> limits::Limits<'_> {
        limits::Limits(self)
    }

    pub(crate) fn digest_keys(&self) -> &signing_keys::DigestKeys {
        &self.digest_keys
    }

    pub(crate) fn local_counters(&self) -> &limits::LocalCounters {
        &self.counters
    }

    pub(crate) fn identity_cache(&self) -> &identity_cache::IdentityCache {
        &self.identities
    }

    pub(crate) fn policy_cache(&self) -> &engine::policies::PolicyCache {
        &self.policies
    }

    pub(crate) fn ledger_writer(&self) -> &ledger::writer::LedgerWriter {
        &self.ledger
    }

    /// Runs `read` in a transaction of `tenant` that is rolled back afterwards: for the
    /// store's read operations.
    pub(crate) async fn read<T, F>(&self, tenant: uuid::Uuid, read: F) -> Result<T>
    where
        F: for<'a> FnOnce(&'a TenantTx) -> futures::future::BoxFuture<'a, Result<T>>,
    {
        let tx = self.tenant_tx(tenant).await?;
        let out = read(&tx).await;
        tx.rollback().await?;
        out
    }

    /// Opens a transaction that sees and writes only `tenant_id`'s rows. The store's
    /// operations use it; outside the store, tests use it to look at rows directly.
    pub async fn tenant_tx(&self, tenant_id: uuid::Uuid) -> Result<TenantTx> {
        TenantTx::begin(&self.db, tenant_id).await
    }

    /// `SELECT 1` against PostgreSQL, for `/readyz`.
    pub async fn ping_db(&self) -> Result<()> {
        db::ping(&self.db).await
    }

    /// `PING` against Redis, for `/readyz`.
    pub async fn ping_redis(&self) -> Result<()> {
        self.cache.ping().await
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pool (graceful shutdown).
    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}
