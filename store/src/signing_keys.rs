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

/// Generates and stores a new current key (the tenant must have none current).
pub async fn create(tx: &TenantTx, master: &MasterKey, now: DateTime<Utc>) -> Result<String> {
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
            now.into(),
        ],
    )
    .await?;
    Ok(new.key_id)
}

/// Retires the current key (its public half stays readable with its validity period) and
/// makes a new one current. Returns the new key id.
pub async fn rotate(tx: &TenantTx, master: &MasterKey, now: DateTime<Utc>) -> Result<String> {
    tx.exec(
        "UPDATE tenant_signing_keys SET valid_until = $1 WHERE valid_until IS NULL",
        vec![now.into()],
    )
    .await?;
    create(tx, master, now).await
}

/// Every key the tenant ever had, oldest first.
pub async fn list_public(tx: &TenantTx) -> Result<Vec<PublicKeyInfo>> {
    tx.all(
        "SELECT key_id, algorithm, public_key, valid_from, valid_until
         FROM tenant_signing_keys ORDER BY valid_from, key_id",
        vec![],
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
             WHERE valid_until IS NULL",
            vec![],
        )
        .await?
        .ok_or(StoreError::NotFound("current signing key"))?;
    let key_id: String = row.try_get("", "key_id")?;
    let sealed: Vec<u8> = row.try_get("", "sealed_private_key")?;
    let key = keys::open(master, &tx.tenant_id().to_string(), &key_id, &sealed)?;
    Ok((key_id, key))
}
