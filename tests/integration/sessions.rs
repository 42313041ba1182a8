//! Refresh tokens: rotation on use, reuse detection that revokes the whole family (and is
//! recorded), logout, expiry, and tokens that name another tenant.

use charter_store::StoreError;
use charter_tests::{execute, query, store, tenant};

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let store = store().await;
    let t = tenant(&store, "Sessions").await;
    let first = store
        .sessions()
        .start_session(t.tenant_id, t.owner_id)
        .await
        .unwrap()
        .refresh_token;
    let second = store
        .sessions()
        .refresh_session(first.expose())
        .await
        .unwrap();
    assert_eq!(second.principal_id, t.owner_id);
    assert_eq!(second.tenant_id, t.tenant_id);
    assert!(second.roles.contains(&charter_core::tenant::Role::Owner));
    let third = store
        .sessions()
        .refresh_session(second.refresh_token.expose())
        .await
        .unwrap();
    // The first token, replayed (a stolen copy): refused, and the family is revoked —
    // the legitimate holder's current token stops working too.
    let reuse = store.sessions().refresh_session(first.expose()).await;
    assert!(
        matches!(
            &reuse,
            Err(StoreError::Refused(
                charter_core::code::Code::RefreshReuse,
                _
            ))
        ),
        "{:?}",
        reuse.err()
    );
    assert!(matches!(
        store
            .sessions()
            .refresh_session(third.refresh_token.expose())
            .await,
        Err(StoreError::NotFound(_))
    ));
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT count(*) AS n FROM ledger_records WHERE kind = 'session.refresh_reused'",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(rows[0].try_get::<i64>("", "n").unwrap(), 1);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn logout_expiry_other_tenants_and_disabled_accounts_end_sessions() {
    let store = store().await;
    let t = tenant(&store, "Logout").await;
    let other = tenant(&store, "Other").await;
    // Logout revokes the family.
    let token = store
        .sessions()
        .start_session(t.tenant_id, t.owner_id)
        .await
        .unwrap()
        .refresh_token;
    store.sessions().end_session(token.expose()).await.unwrap();
    assert!(
        store
            .sessions()
            .refresh_session(token.expose())
            .await
            .is_err()
    );
    store.sessions().end_session("not a token").await.unwrap();
    // A token moved to another tenant's id is unknown there.
    let token = store
        .sessions()
        .start_session(t.tenant_id, t.owner_id)
        .await
        .unwrap()
        .refresh_token;
    let moved = token.expose().replace(
        &t.tenant_id.simple().to_string(),
        &other.tenant_id.simple().to_string(),
    );
    assert!(matches!(
        store.sessions().refresh_session(&moved).await,
        Err(StoreError::NotFound(_))
    ));
    // Expired.
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    execute(
        tx.raw(),
        "UPDATE refresh_tokens SET expires_at = now() - interval '1 second'",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(
        store.sessions().refresh_session(token.expose()).await,
        Err(StoreError::NotFound(_))
    ));
    // A disabled account cannot start or continue a session.
    let token = store
        .sessions()
        .start_session(t.tenant_id, t.owner_id)
        .await
        .unwrap()
        .refresh_token;
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    execute(
        tx.raw(),
        "UPDATE principals SET status = 'disabled' WHERE id = $1",
        vec![t.owner_id.into()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(
        store.sessions().refresh_session(token.expose()).await,
        Err(e) if e.code() == charter_core::code::Code::AccountInactive
    ));
    assert!(
        store
            .sessions()
            .start_session(t.tenant_id, t.owner_id)
            .await
            .is_err()
    );
}
