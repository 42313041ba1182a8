//! Per-tenant signing keys in the database: sealed at rest, bound to their tenant,
//! rotatable with the old public keys kept.

use charter_core::keys::{KeyError, MasterKey};
use charter_store::{Store, StoreError, signing_keys};
use charter_tests::{execute, query, store, superuser, tenant, test_config};
use ed25519_dalek::Signer;

#[tokio::test]
async fn a_new_tenant_has_a_sealed_key_that_opens_and_signs() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let (key_id, key) = signing_keys::open_current(&tx, store.master_key())
        .await
        .unwrap();
    let public = signing_keys::list_public(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(public.len(), 1);
    assert_eq!(public[0].key_id, key_id);
    assert_eq!(public[0].valid_until, None);
    assert_eq!(public[0].public_key, key.verifying_key().to_bytes());
    let sig = key.sign(b"record");
    let vk = charter_core::keys::verifying_key(&public[0].public_key).unwrap();
    vk.verify_strict(b"record", &sig).unwrap();

    // The private key is not stored in clear anywhere in the row.
    let su = superuser().await;
    let row = &query(
        &su,
        "SELECT sealed_private_key FROM tenant_signing_keys WHERE tenant_id = $1",
        vec![a.tenant_id.into()],
    )
    .await
    .unwrap()[0];
    let sealed: Vec<u8> = row.try_get("", "sealed_private_key").unwrap();
    let secret = key.to_bytes();
    assert!(
        !sealed.windows(32).any(|w| w == secret),
        "private key stored in clear"
    );
}

#[tokio::test]
async fn a_wrong_master_key_is_a_clear_error() {
    let right = store().await;
    let a = tenant(&right, "A").await;
    let config = test_config(&[]);
    let wrong = Store::connect(&config, MasterKey::generate().unwrap())
        .await
        .unwrap();
    let tx = wrong.tenant_tx(a.tenant_id).await.unwrap();
    let err = signing_keys::open_current(&tx, wrong.master_key())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Key(KeyError::Unseal { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("wrong master key or tampered ciphertext"),
        "{err}"
    );
}

#[tokio::test]
async fn a_tampered_or_transplanted_ciphertext_is_a_clear_error() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let b = tenant(&store, "B").await;
    let su = superuser().await;
    // Flip one bit of A's sealed key, behind Charter's back.
    execute(
        &su,
        "UPDATE tenant_signing_keys SET sealed_private_key =
             overlay(sealed_private_key placing set_byte('\\x00'::bytea, 0, get_byte(sealed_private_key, 20) # 1) from 21 for 1)
         WHERE tenant_id = $1",
        vec![a.tenant_id.into()],
    )
    .await
    .unwrap();
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let err = signing_keys::open_current(&tx, store.master_key())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Key(KeyError::Unseal { .. })),
        "{err}"
    );
    tx.rollback().await.unwrap();

    // Copy B's sealed key (same master key) into A's row: bound to B, so it does not open.
    execute(
        &su,
        "UPDATE tenant_signing_keys t SET sealed_private_key = s.sealed_private_key
         FROM tenant_signing_keys s WHERE t.tenant_id = $1 AND s.tenant_id = $2",
        vec![a.tenant_id.into(), b.tenant_id.into()],
    )
    .await
    .unwrap();
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let err = signing_keys::open_current(&tx, store.master_key())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Key(KeyError::Unseal { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn rotation_keeps_old_public_keys_with_their_validity() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let (old_id, old_key) = signing_keys::open_current(&tx, store.master_key())
        .await
        .unwrap();
    let old_sig = old_key.sign(b"before rotation");
    drop(old_key);
    let new_id = signing_keys::rotate(&tx, store.master_key()).await.unwrap();
    tx.commit().await.unwrap();
    assert_ne!(old_id, new_id);

    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let keys = signing_keys::list_public(&tx).await.unwrap();
    assert_eq!(keys.len(), 2);
    let old = keys.iter().find(|k| k.key_id == old_id).unwrap();
    let new = keys.iter().find(|k| k.key_id == new_id).unwrap();
    assert!(old.valid_until.is_some());
    assert!(old.valid_until.unwrap() <= new.valid_from);
    assert_eq!(new.valid_until, None);
    // Signatures made before the rotation still verify with the kept public key.
    charter_core::keys::verifying_key(&old.public_key)
        .unwrap()
        .verify_strict(b"before rotation", &old_sig)
        .unwrap();
    let (current, _) = signing_keys::open_current(&tx, store.master_key())
        .await
        .unwrap();
    assert_eq!(current, new_id);
    tx.rollback().await.unwrap();
}
