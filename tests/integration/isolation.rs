//! Tenant isolation by construction: row-level security, the roles, the narrow functions.

use charter_store::StoreError;
use charter_tests::{execute, query, store, superuser, tenant};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// Tenant-owned tables and their tenant column.
const TABLES: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("principals", "tenant_id"),
    ("agents", "tenant_id"),
    ("agent_api_keys", "tenant_id"),
    ("tenant_signing_keys", "tenant_id"),
];

async fn count(db: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    query(db, sql, values).await.unwrap()[0]
        .try_get_by_index::<i64>(0)
        .unwrap()
}

#[tokio::test]
async fn a_tenant_transaction_sees_only_its_own_rows_even_without_a_filter() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let b = tenant(&store, "B").await;
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    for (table, col) in TABLES {
        // No WHERE at all: only A's rows.
        let all = count(tx.raw(), &format!("SELECT count(*) FROM {table}"), vec![]).await;
        let own = count(
            tx.raw(),
            &format!("SELECT count(*) FROM {table} WHERE {col} = $1"),
            vec![a.tenant_id.into()],
        )
        .await;
        assert!(all >= 1, "{table}: A sees its own rows");
        assert_eq!(all, own, "{table}: an unfiltered query sees only A's rows");
        let theirs = count(
            tx.raw(),
            &format!("SELECT count(*) FROM {table} WHERE {col} = $1"),
            vec![b.tenant_id.into()],
        )
        .await;
        assert_eq!(theirs, 0, "{table}: B's rows are invisible to A");
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn updates_and_deletes_never_reach_another_tenant() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let b = tenant(&store, "B").await;
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let raw = tx.raw();
    // Targeted at B's rows: nothing happens.
    let n = execute(
        raw,
        "UPDATE agents SET description = 'pwned' WHERE tenant_id = $1",
        vec![b.tenant_id.into()],
    )
    .await
    .unwrap();
    assert_eq!(n, 0);
    let n = execute(
        raw,
        "DELETE FROM agent_api_keys WHERE tenant_id = $1",
        vec![b.tenant_id.into()],
    )
    .await
    .unwrap();
    assert_eq!(n, 0);
    let n = execute(
        raw,
        "UPDATE tenants SET name = 'pwned' WHERE id = $1",
        vec![b.tenant_id.into()],
    )
    .await
    .unwrap();
    assert_eq!(n, 0);
    // Unfiltered: only A's rows change.
    let n = execute(raw, "UPDATE agents SET description = 'mine'", vec![])
        .await
        .unwrap();
    assert_eq!(n, 1, "A has exactly one agent");
    let n = execute(raw, "DELETE FROM agent_api_keys", vec![])
        .await
        .unwrap();
    assert_eq!(n, 1, "A has exactly one key");
    tx.commit().await.unwrap();

    // B is untouched.
    let tx = store.tenant_tx(b.tenant_id).await.unwrap();
    let rows = query(tx.raw(), "SELECT description FROM agents", vec![])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].try_get::<String>("", "description").unwrap(), "");
    assert_eq!(
        count(tx.raw(), "SELECT count(*) FROM agent_api_keys", vec![]).await,
        1
    );
    let name: String = query(tx.raw(), "SELECT name FROM tenants", vec![])
        .await
        .unwrap()[0]
        .try_get("", "name")
        .unwrap();
    assert!(name.starts_with("B "), "{name}");
    tx.rollback().await.unwrap();
    // And B's key still authenticates.
    assert!(
        store
            .sessions()
            .lookup_api_key(b.api_key.expose())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn inserting_or_moving_rows_into_another_tenant_is_refused() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let b = tenant(&store, "B").await;
    let attempts: Vec<(&str, Vec<sea_orm::Value>)> = vec![
        (
            "INSERT INTO agents (tenant_id, id, name, responsible_principal_id) VALUES ($1, $2, 'x', $3)",
            vec![b.tenant_id.into(), Uuid::now_v7().into(), b.owner_id.into()],
        ),
        (
            "INSERT INTO principals (tenant_id, id, email, roles) VALUES ($1, $2, 'x@y.z', ARRAY['viewer'])",
            vec![b.tenant_id.into(), Uuid::now_v7().into()],
        ),
        (
            "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'x')",
            vec![
                Uuid::now_v7().into(),
                format!("x-{}", &Uuid::new_v4().simple().to_string()[..8]).into(),
            ],
        ),
        ("UPDATE agents SET tenant_id = $1", vec![b.tenant_id.into()]),
        (
            "UPDATE principals SET tenant_id = $1",
            vec![b.tenant_id.into()],
        ),
    ];
    for (sql, values) in attempts {
        let tx = store.tenant_tx(a.tenant_id).await.unwrap();
        let err = execute(tx.raw(), sql, values).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("row-level security") || msg.contains("violates foreign key"),
            "{sql}: {msg}"
        );
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn without_a_tenant_setting_nothing_is_visible() {
    let store = store().await;
    let _a = tenant(&store, "A").await;
    // A tenant id that owns nothing sees nothing in any table.
    let tx = store.tenant_tx(Uuid::now_v7()).await.unwrap();
    for (table, _) in TABLES {
        assert_eq!(
            count(tx.raw(), &format!("SELECT count(*) FROM {table}"), vec![]).await,
            0,
            "{table}"
        );
    }
    // Clearing the setting inside the transaction also hides everything.
    execute(
        tx.raw(),
        "SELECT set_config('charter.tenant_id', '', true)",
        vec![],
    )
    .await
    .unwrap();
    for (table, _) in TABLES {
        assert_eq!(
            count(tx.raw(), &format!("SELECT count(*) FROM {table}"), vec![]).await,
            0,
            "{table}"
        );
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn the_app_role_cannot_escape_row_level_security() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let row = &query(
        tx.raw(),
        "SELECT current_user::text AS me, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                pg_has_role(current_user, 'charter_owner', 'MEMBER') AS owner_member,
                pg_has_role(current_user, 'charter_platform', 'MEMBER') AS platform_member,
                (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) AS owned
         FROM pg_roles r WHERE r.rolname = current_user",
        vec![],
    )
    .await
    .unwrap()[0];
    assert_eq!(row.try_get::<String>("", "me").unwrap(), "charter_app");
    for flag in [
        "rolsuper",
        "rolbypassrls",
        "rolcreaterole",
        "rolcreatedb",
        "owner_member",
        "platform_member",
    ] {
        assert!(!row.try_get::<bool>("", flag).unwrap(), "{flag}");
    }
    assert_eq!(
        row.try_get::<i64>("", "owned").unwrap(),
        0,
        "the app role owns nothing"
    );
    tx.rollback().await.unwrap();

    for sql in [
        "SET ROLE charter_owner",
        "SET ROLE charter_platform",
        "SET ROLE postgres",
        "ALTER TABLE agents DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE agents NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON agents",
        "CREATE TABLE sneaky (x int)",
        "SET SESSION AUTHORIZATION postgres",
    ] {
        let tx = store.tenant_tx(a.tenant_id).await.unwrap();
        let err = execute(tx.raw(), sql, vec![]).await;
        assert!(err.is_err(), "`{sql}` must be refused for charter_app");
        tx.rollback().await.unwrap();
    }
}

/// Every table with a tenant column — including tables added by later migrations — has
/// RLS enabled and forced, a policy with USING and WITH CHECK, and is owned by the owner.
#[tokio::test]
async fn every_tenant_table_has_forced_rls_and_a_complete_policy() {
    let su = superuser().await;
    let rows = query(
        &su,
        "SELECT c.relname::text AS name, c.relrowsecurity, c.relforcerowsecurity,
                pg_get_userbyid(c.relowner)::text AS owner,
                (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid
                   AND p.polqual IS NOT NULL AND p.polwithcheck IS NOT NULL) AS policies
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
           AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'tenant_id' AND NOT a.attisdropped)
                OR c.relname = 'tenants')",
        vec![],
    )
    .await
    .unwrap();
    assert!(rows.len() >= TABLES.len());
    for r in rows {
        let name: String = r.try_get("", "name").unwrap();
        assert!(
            r.try_get::<bool>("", "relrowsecurity").unwrap(),
            "{name}: RLS enabled"
        );
        assert!(
            r.try_get::<bool>("", "relforcerowsecurity").unwrap(),
            "{name}: RLS forced"
        );
        assert!(
            r.try_get::<i64>("", "policies").unwrap() >= 1,
            "{name}: USING + WITH CHECK policy"
        );
        assert_eq!(
            r.try_get::<String>("", "owner").unwrap(),
            "charter_owner",
            "{name}"
        );
    }
    // Every tenant-owned table's primary key leads with the tenant column.
    let bad = query(
        &su,
        "SELECT c.relname::text AS name FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
         WHERE i.indisprimary AND n.nspname = 'public' AND c.relname <> 'tenants'
           AND c.relname <> 'seaql_migrations' AND a.attname <> 'tenant_id'
           AND EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.oid AND t.attname = 'tenant_id')",
        vec![],
    )
    .await
    .unwrap();
    assert!(
        bad.is_empty(),
        "primary keys not led by tenant_id: {}",
        bad.len()
    );
}

#[tokio::test]
async fn cross_tenant_lookups_are_narrow_functions() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let b = tenant(&store, "B").await;
    let found = store
        .sessions()
        .lookup_api_key(a.api_key.expose())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.tenant_id, found.agent_id), (a.tenant_id, a.agent_id));
    let found = store
        .sessions()
        .lookup_api_key(b.api_key.expose())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.tenant_id, b.tenant_id);
    assert!(
        store
            .sessions()
            .lookup_api_key("chtr_ak_nope")
            .await
            .unwrap()
            .is_none()
    );
    let by_slug = store
        .sessions()
        .tenant_by_slug(&a.slug)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_slug.id, a.tenant_id);
    assert!(
        store
            .sessions()
            .tenant_by_slug("no-such-tenant")
            .await
            .unwrap()
            .is_none()
    );

    // Functions: owned by charter_platform, SECURITY DEFINER, executable by the app only.
    let su = superuser().await;
    let rows = query(
        &su,
        "SELECT p.proname::text AS name, pg_get_userbyid(p.proowner)::text AS owner, p.prosecdef,
                has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
                has_function_privilege('charter_app', p.oid, 'EXECUTE') AS app_exec
         FROM pg_proc p WHERE p.prosecdef AND p.pronamespace = 'public'::regnamespace",
        vec![],
    )
    .await
    .unwrap();
    assert!(rows.len() >= 3);
    for r in rows {
        let name: String = r.try_get("", "name").unwrap();
        assert_eq!(
            r.try_get::<String>("", "owner").unwrap(),
            "charter_platform",
            "{name}"
        );
        assert!(
            !r.try_get::<bool>("", "public_exec").unwrap(),
            "{name}: not executable by PUBLIC"
        );
        assert!(r.try_get::<bool>("", "app_exec").unwrap(), "{name}");
    }
}

#[tokio::test]
async fn revoked_keys_and_slug_conflicts() {
    let store = store().await;
    let a = tenant(&store, "A").await;
    let tx = store.tenant_tx(a.tenant_id).await.unwrap();
    let keys = charter_store::api_keys::list(&tx, a.agent_id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert!(a.api_key.expose().starts_with(&keys[0].display_prefix));
    tx.rollback().await.unwrap();
    assert!(
        store
            .sessions()
            .lookup_api_key(a.api_key.expose())
            .await
            .unwrap()
            .is_some()
    );
    store
        .admin()
        .revoke_api_key(a.tenant_id, a.owner_id, a.agent_id, keys[0].id)
        .await
        .unwrap();
    assert!(
        store
            .sessions()
            .lookup_api_key(a.api_key.expose())
            .await
            .unwrap()
            .is_none()
    );

    // The same slug again is a conflict, not a second tenant.
    let err = store
        .admin()
        .create_tenant(
            charter_store::tenants::NewTenant {
                name: "again".into(),
                slug: charter_core::tenant::TenantSlug::parse(&a.slug).unwrap(),
                owner_email: charter_core::tenant::Email::parse("x@y.example").unwrap(),
                owner_display_name: "x".into(),
                owner_password_hash: "x".into(),
                is_demo: false,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Refused(charter_core::code::Code::SlugTaken, ref m) if m.contains("slug")),
        "{err}"
    );
}
