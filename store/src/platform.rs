//! Cross-tenant look-ups the platform itself needs, and nothing more.
//!
//! Each is a `SECURITY DEFINER` function owned by `charter_platform` (see the foundation
//! migration) that answers one narrow question. The application role cannot read another
//! tenant's rows by any other route.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use uuid::Uuid;

use crate::Result;
use crate::db::on_a_live_connection;
use crate::identity_cache::Miss;

/// A tenant as resolved from its slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRef {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub is_demo: bool,
}

/// Who presented an API key: resolved before any tenant transaction exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyIdentity {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
    pub agent_id: Uuid,
}

impl crate::Store {
    /// A read through one of the narrow functions (retried on a dead pooled connection).
    pub(crate) async fn platform_one(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Option<QueryResult>> {
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        on_a_live_connection(|| self.db().query_one_raw(statement.clone())).await
    }

    /// Reads through one of the narrow functions (retried on a dead pooled connection).
    pub(crate) async fn platform_all(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>> {
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        on_a_live_connection(|| self.db().query_all_raw(statement.clone())).await
    }

    /// A write to a platform table, run once: a statement outside a transaction may have
    /// run before its connection broke, so it is never retried.
    pub(crate) async fn platform_write(&self, sql: &str, values: Vec<Value>) -> Result<()> {
        self.db()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?;
        Ok(())
    }
}

impl crate::handles::Sessions<'_> {
    /// The tenant a slug names (remembered for a few seconds; see [`crate::identity_cache`]).
    pub async fn tenant_by_slug(self, slug: &str) -> Result<Option<TenantRef>> {
        let cache = self.identity_cache();
        if let Some(t) = cache.slug(slug) {
            return Ok(Some(t));
        }
        let miss = Miss::Slug(slug.to_string());
        if cache.missed(&miss) {
            return Ok(None);
        }
        let found = self.tenant_by_slug_uncached(slug).await?;
        match &found {
            Some(t) => cache.put_slug(t.clone()),
            None => cache.put_miss(miss),
        }
        Ok(found)
    }

    async fn tenant_by_slug_uncached(self, slug: &str) -> Result<Option<TenantRef>> {
        let row = self
            .platform_one(
                "SELECT id, slug, name, is_demo FROM charter_tenant_by_slug($1)",
                vec![slug.into()],
            )
            .await?;
        row.map(|r| {
            Ok(TenantRef {
                id: r.try_get("", "id")?,
                slug: r.try_get("", "slug")?,
                name: r.try_get("", "name")?,
                is_demo: r.try_get("", "is_demo")?,
            })
        })
        .transpose()
    }

    /// The demo tenant created by `charter up`, if any.
    pub async fn demo_tenant(self) -> Result<Option<(Uuid, String)>> {
        let row = self
            .platform_one("SELECT id, slug FROM charter_demo_tenant()", vec![])
            .await?;
        row.map(|r| Ok((r.try_get("", "id")?, r.try_get("", "slug")?)))
            .transpose()
    }

    /// Resolves a presented API key token. Unknown, malformed and revoked keys are all
    /// `None`: the caller answers 401 without saying which.
    pub async fn lookup_api_key(self, token: &str) -> Result<Option<ApiKeyIdentity>> {
        if !charter_core::api_key::looks_like_key(token) {
            return Ok(None);
        }
        let hash = charter_core::api_key::hash(token);
        if let Some((identity, touch_due)) = self.identity_cache().key(&hash) {
            if touch_due {
                self.touch_key(identity).await?;
            }
            return Ok(Some(identity));
        }
        if self.identity_cache().missed(&Miss::Key(hash)) {
            return Ok(None);
        }
        let row = self
            .platform_one(
                "SELECT tenant_id, key_id, agent_id, revoked FROM charter_api_key_lookup($1)",
                vec![hash.to_vec().into()],
            )
            .await?;
        let Some(row) = row else {
            self.identity_cache().put_miss(Miss::Key(hash));
            return Ok(None);
        };
        if row.try_get::<bool>("", "revoked")? {
            self.identity_cache().put_miss(Miss::Key(hash));
            return Ok(None);
        }
        let identity = ApiKeyIdentity {
            tenant_id: row.try_get("", "tenant_id")?,
            key_id: row.try_get("", "key_id")?,
            agent_id: row.try_get("", "agent_id")?,
        };
        self.touch_key(identity).await?;
        self.identity_cache().put_key(hash, identity);
        Ok(Some(identity))
    }

    /// Records that a key was used (the row changes at most once a minute).
    async fn touch_key(self, identity: ApiKeyIdentity) -> Result<()> {
        let tx = self.tenant_tx(identity.tenant_id).await?;
        crate::api_keys::touch(&tx, identity.key_id).await?;
        tx.commit().await
    }
}
