//! Master-key rotation, on a database of the test's own (the re-seal reads every tenant):
//! with the new key and the previous one configured, Charter opens what the old key
//! sealed and keeps deciding; `charter master-key reseal` seals every tenant signing key
//! and webhook secret again under the new key, after which the new key alone suffices and
//! the old one opens nothing; a second run has nothing to do; a run with keys that open
//! nothing fails and changes nothing.

use charter_core::config::Config;
use charter_core::keys::MasterKey;
use charter_store::Store;
use charter_store::webhooks::endpoints::NewEndpoint;
use charter_tests::{charter_cmd, query, tenant, test_config};

fn config(url: &str, key: &MasterKey) -> Config {
    test_config(&[
        ("CHARTER_DATABASE_URL", url),
        ("CHARTER_MASTER_KEY", &key.to_base64()),
    ])
}

/// Whether a store holding `key` can sign a decision for the tenant.
async fn decides(config: &Config, key: MasterKey, t: &charter_tests::Provisioned) -> bool {
    let store = Store::connect(config, key).await.unwrap();
    store
        .engine()
        .authorize(t.tenant_id, t.agent_id, charter_tests::deploy("api"))
        .await
        .is_ok()
}

async fn reseal(config: &Config, previous: &MasterKey) -> std::process::Output {
    charter_cmd(config)
        .args(["master-key", "reseal"])
        .env("CHARTER_PREVIOUS_MASTER_KEY", previous.to_base64().as_str())
        .output()
        .await
        .unwrap()
}

async fn fingerprints(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    query(
        db,
        "SELECT master_key_fingerprint AS f FROM tenant_signing_keys
         UNION ALL SELECT master_fingerprint FROM webhook_endpoints",
        vec![],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("", "f").unwrap())
    .collect()
}

#[tokio::test]
async fn a_master_key_rotation_reseals_everything_and_never_stops_deciding() {
    let name = format!("charter_rotation_{}", uuid::Uuid::new_v4().simple());
    let url = charter_store::db::PgUrl::parse(&charter_tests::database_url())
        .unwrap()
        .with_database(&name)
        .to_url();
    let old = MasterKey::generate().unwrap();
    let new = MasterKey::generate().unwrap();
    let before = config(&url, &old);
    charter_tests::succeeds(charter_cmd(&before).arg("migrate")).await;
    let store = Store::connect(&before, old.clone()).await.unwrap();
    let t = tenant(&store, "Rotation").await;
    store
        .admin()
        .create_webhook(
            t.tenant_id,
            t.owner_id,
            NewEndpoint {
                url: "https://hooks.example.com/charter".into(),
                description: String::new(),
                events: vec!["violation.found".into()],
            },
        )
        .await
        .unwrap();
    drop(store);
    let db = sea_orm::Database::connect(url.as_str()).await.unwrap();
    assert_eq!(
        fingerprints(&db).await,
        [old.fingerprint(), old.fingerprint()]
    );

    let after = config(&url, &new);
    // The new key alone opens nothing yet: deciding fails closed.
    assert!(!decides(&after, new.clone(), &t).await);
    // With the previous key beside it, nodes keep deciding through the rotation.
    assert!(decides(&after, new.clone().with_previous(Some(&old)), &t).await);

    // Keys that open nothing: the run fails and changes nothing.
    let stranger = MasterKey::generate().unwrap();
    let out = reseal(&config(&url, &stranger), &MasterKey::generate().unwrap()).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong master key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fingerprints(&db).await,
        [old.fingerprint(), old.fingerprint()]
    );

    let out = reseal(&after, &old).await;
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("re-sealed 1 tenant signing keys and 1 webhook secrets"),
        "{said}"
    );
    assert_eq!(
        fingerprints(&db).await,
        [new.fingerprint(), new.fingerprint()]
    );
    // The new key alone now decides; the old one opens nothing.
    assert!(decides(&after, new.clone(), &t).await);
    assert!(!decides(&before, old.clone(), &t).await);
    // The webhook secret opens under the new key alone.
    let row = query(
        &db,
        "SELECT id, secret_sealed FROM webhook_endpoints",
        vec![],
    )
    .await
    .unwrap();
    let id: uuid::Uuid = row[0].try_get("", "id").unwrap();
    let sealed: Vec<u8> = row[0].try_get("", "secret_sealed").unwrap();
    charter_core::keys::open_secret(
        &new,
        "charter/webhook-secret/v1",
        &t.tenant_id.to_string(),
        &id.to_string(),
        &sealed,
    )
    .unwrap();

    // Again: nothing left to do.
    let out = reseal(&after, &old).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("re-sealed 0 tenant signing keys and 0"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(db);
    let su = charter_tests::superuser().await;
    let _ = charter_tests::execute(
        &su,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        vec![],
    )
    .await;
}
