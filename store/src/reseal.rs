//! Re-sealing after a master-key rotation: every tenant signing key and webhook secret
//! sealed under another key is opened (with the current or the previous master key) and
//! sealed again under the current one, in one transaction — all or nothing. Run as the
//! same database user as `charter migrate`: the application role may not rewrite sealed
//! columns, and the rows of every tenant are read at once.

use charter_core::config::Config;
use charter_core::keys::{self, MasterKey};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

use crate::db::{PgUrl, connect};
use crate::webhooks::SECRET_CONTEXT;
use crate::{Result, StoreError};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    pub signing_keys: usize,
    pub webhook_secrets: usize,
}

fn stmt(sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Re-seals under `master` whatever another key sealed; `master` must carry the previous
/// key (or already be the one they were sealed under). A row neither key opens fails the
/// whole run, naming it, and changes nothing.
pub async fn reseal(config: &Config, master: &MasterKey) -> Result<ResealReport> {
    let url = PgUrl::parse(config.database_url.expose())?;
    let db = connect(&url, config, 1).await?;
    let tx = db.begin().await?;
    let current = master.fingerprint();
    let mut report = ResealReport::default();
    let key_error = |e: keys::KeyError| StoreError::Internal(e.to_string());

    let rows = tx
        .query_all_raw(stmt(
            "SELECT tenant_id, key_id, sealed_private_key FROM tenant_signing_keys
             WHERE master_key_fingerprint <> $1 FOR UPDATE",
            vec![current.clone().into()],
        ))
        .await?;
    for r in rows {
        let tenant: Uuid = r.try_get("", "tenant_id")?;
        let key_id: String = r.try_get("", "key_id")?;
        let sealed: Vec<u8> = r.try_get("", "sealed_private_key")?;
        let tenant = tenant.to_string();
        let key = keys::open(master, &tenant, &key_id, &sealed).map_err(key_error)?;
        let resealed = keys::seal(master, &tenant, &key_id, &key).map_err(key_error)?;
        tx.execute_raw(stmt(
            "UPDATE tenant_signing_keys SET sealed_private_key = $1, master_key_fingerprint = $2
             WHERE tenant_id = $3::uuid AND key_id = $4",
            vec![
                resealed.into(),
                current.clone().into(),
                tenant.into(),
                key_id.into(),
            ],
        ))
        .await?;
        report.signing_keys += 1;
    }

    let rows = tx
        .query_all_raw(stmt(
            "SELECT tenant_id, id, secret_sealed FROM webhook_endpoints
             WHERE master_fingerprint <> $1 FOR UPDATE",
            vec![current.clone().into()],
        ))
        .await?;
    for r in rows {
        let tenant: Uuid = r.try_get("", "tenant_id")?;
        let id: Uuid = r.try_get("", "id")?;
        let sealed: Vec<u8> = r.try_get("", "secret_sealed")?;
        let (tenant, id) = (tenant.to_string(), id.to_string());
        let secret =
            keys::open_secret(master, SECRET_CONTEXT, &tenant, &id, &sealed).map_err(key_error)?;
        let resealed =
            keys::seal_secret(master, SECRET_CONTEXT, &tenant, &id, &secret).map_err(key_error)?;
        tx.execute_raw(stmt(
            "UPDATE webhook_endpoints SET secret_sealed = $1, master_fingerprint = $2
             WHERE tenant_id = $3::uuid AND id = $4::uuid",
            vec![
                resealed.into(),
                current.clone().into(),
                tenant.into(),
                id.into(),
            ],
        ))
        .await?;
        report.webhook_secrets += 1;
    }
    tx.commit().await?;
    let _ = db.close().await;
    Ok(report)
}
