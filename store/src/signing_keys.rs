//! Tenant signing keys: the current key, rotation, and the public history.

use charter_core::keys::{self, MasterKey};
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use sea_orm::QueryResult;

use crate::{Result, StoreError, TenantTx};

/// A key's public half with its validity period (what `GET /t/{slug}/keys` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    pub key_id: String,
    pub algorithm: String,
    pub public_key: [u8; 32],
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}

impl PublicKeyInfo {
    /// The key as exports and bundles list it.
    pub fn key_line(self) -> charter_core::ledger::export::KeyLine {
        use base64::Engine;
        use charter_core::ledger::record::format_time;
        charter_core::ledger::export::KeyLine {
            key_id: self.key_id,
            algorithm: self.algorithm,
            public_key: base64::engine::general_purpose::STANDARD.encode(self.public_key),
            valid_from: format_time(self.valid_from),
            valid_until: self.valid_until.map(format_time),
        }
    }
}

fn public_from_row(r: &QueryResult) -> Result<PublicKeyInfo> {
    let bytes: Vec<u8> = r.try_get("", "public_key")?;
    let public_key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Invalid("stored public key is not 32 bytes".into()))?;
    Ok(PublicKeyInfo {
        key_id: r.try_get("", "key_id")?,
        algorithm: r.try_get("", "algorithm")?,
        public_key,
        valid_from: r.try_get("", "valid_from")?,
        valid_until: r.try_get("", "valid_until")?,
    })
}

/// The database clock at millisecond precision: key validity periods and record times
/// come from one clock and one precision, so a record sealed after a rotation is never
/// "before" its key.
pub(crate) async fn db_now(tx: &TenantTx) -> Result<DateTime<Utc>> {
    let row = tx
        .one(
            "SELECT date_trunc('milliseconds', clock_timestamp()) AS now",
            vec![],
        )
        .await?
        .ok_or(StoreError::NotFound("clock"))?;
    Ok(row.try_get("", "now")?)
}

/// Generates and stores a new current key (the tenant must have none current).
pub async fn create(tx: &TenantTx, master: &MasterKey) -> Result<String> {
    let now = db_now(tx).await?;
    insert(tx, master, now).await
}

async fn insert(tx: &TenantTx, master: &MasterKey, valid_from: DateTime<Utc>) -> Result<String> {
    let new = keys::generate_tenant_key(master, &tx.tenant_id().to_string())?;
    tx.exec(
        "INSERT INTO tenant_signing_keys
             (tenant_id, key_id, public_key, sealed_private_key, master_key_fingerprint, valid_from)
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            tx.tenant_id().into(),
            new.key_id.clone().into(),
            new.public_key.to_vec().into(),
            new.sealed.into(),
            new.master_fingerprint.into(),
            valid_from.into(),
        ],
    )
    .await?;
    Ok(new.key_id)
}

/// Retires the current key (its public half stays readable with its validity period) and
/// makes a new one current. Returns the new key id. Holds the ledger head lock, so no
/// append is sealed with the old key after it was retired.
pub async fn rotate(tx: &TenantTx, master: &MasterKey) -> Result<String> {
    crate::ledger::append::lock_head(tx).await?;
    let now = db_now(tx).await?;
    tx.exec(
        "UPDATE tenant_signing_keys SET valid_until = $2
         WHERE tenant_id = $1 AND valid_until IS NULL",
        vec![tx.tenant_id().into(), now.into()],
    )
    .await?;
    insert(tx, master, now).await
}

/// Every key the tenant ever had, oldest first.
pub async fn list_public(tx: &TenantTx) -> Result<Vec<PublicKeyInfo>> {
    tx.all(
        "SELECT key_id, algorithm, public_key, valid_from, valid_until
         FROM tenant_signing_keys WHERE tenant_id = $1 ORDER BY valid_from, key_id",
        vec![tx.tenant_id().into()],
    )
    .await?
    .iter()
    .map(public_from_row)
    .collect()
}

/// Opens the current private key. The returned key zeroizes itself when dropped: hold it
/// only as long as the signing takes.
pub async fn open_current(tx: &TenantTx, master: &MasterKey) -> Result<(String, SigningKey)> {
    let row = tx
        .one(
            "SELECT key_id, sealed_private_key FROM tenant_signing_keys
             WHERE tenant_id = $1 AND valid_until IS NULL",
            vec![tx.tenant_id().into()],
        )
        .await?
        .ok_or(StoreError::NotFound("current signing key"))?;
    let key_id: String = row.try_get("", "key_id")?;
    let sealed: Vec<u8> = row.try_get("", "sealed_private_key")?;
    let key = keys::open(master, &tx.tenant_id().to_string(), &key_id, &sealed)?;
    Ok((key_id, key))
}

/// Digest keys by tenant (immutable once derived).
pub type DigestKeys = std::sync::Mutex<
    std::collections::HashMap<uuid::Uuid, std::sync::Arc<zeroize::Zeroizing<[u8; 32]>>>,
>;

/// The key this tenant's argument digests are keyed with (see
/// `charter_core::keys::digest_key`), derived once per process from the tenant's first
/// signing key.
pub(crate) async fn digest_key(
    store: &crate::Store,
    tx: &TenantTx,
) -> Result<std::sync::Arc<zeroize::Zeroizing<[u8; 32]>>> {
    let tenant = tx.tenant_id();
    if let Some(k) = store
        .digest_keys()
        .lock()
        .ok()
        .and_then(|m| m.get(&tenant).cloned())
    {
        return Ok(k);
    }
    let row = tx
        .one(
            "SELECT key_id, sealed_private_key FROM tenant_signing_keys
             WHERE tenant_id = $1 ORDER BY valid_from, key_id LIMIT 1",
            vec![tenant.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("signing key"))?;
    let key_id: String = row.try_get("", "key_id")?;
    let sealed: Vec<u8> = row.try_get("", "sealed_private_key")?;
    let first = keys::open(store.master_key(), &tenant.to_string(), &key_id, &sealed)?;
    let key = std::sync::Arc::new(keys::digest_key(&first));
    if let Ok(mut m) = store.digest_keys().lock() {
        m.insert(tenant, key.clone());
    }
    Ok(key)
}

impl crate::handles::Admin<'_> {
    /// Rotates a tenant's signing key and records the rotation (signed by the new key) in
    /// the same transaction.
    pub async fn rotate_signing_key(
        self,
        tenant_id: uuid::Uuid,
        actor: charter_core::ledger::Actor,
    ) -> Result<crate::ledger::Receipt> {
        let tx = self.tenant_tx(tenant_id).await?;
        let old = list_public(&tx)
            .await?
            .into_iter()
            .find(|k| k.valid_until.is_none())
            .map(|k| k.key_id);
        let new = rotate(&tx, self.master_key()).await?;
        let entry = charter_core::ledger::Entry::new("signing_key.rotated", actor)
            .payload(serde_json::json!({"previous_key_id": old, "key_id": new}));
        let mut receipts =
            crate::ledger::append::append_entries(&tx, self.master_key(), vec![entry]).await?;
        tx.commit().await?;
        receipts
            .pop()
            .ok_or(StoreError::Internal("rotation record not appended".into()))
    }
}
