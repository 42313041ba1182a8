//! Helpers for Charter's integration tests: configuration for the test database, a
//! migrated database once per process, `spawn_app()` on port 0, tenants made per test,
//! a superuser connection for inspecting the catalog, a TCP proxy that can "cut the
//! cable" to PostgreSQL, and the path of the built `charter` binary.
//!
//! Tests talk to the real PostgreSQL and Redis. Every test makes its own tenants, so tests
//! run in parallel and each exercises isolation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod mcp;
pub mod nodes;
pub mod postgres;
pub mod proxy;
pub mod receiver;
pub mod rest;
pub mod sse;
pub mod stripe;

use std::path::PathBuf;

use charter_api::Application;
use charter_core::config::Config;
use charter_core::keys::MasterKey;
use charter_store::Store;
use charter_store::provision::ProvisionRequest;
pub use charter_store::provision::Provisioned;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use tokio::sync::OnceCell;

/// The test database (override with TEST_DATABASE_URL).
pub fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/charter_test".to_string())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A configuration for tests: the test database, port 0, a fresh master key.
pub fn test_config(extra: &[(&str, &str)]) -> Config {
    let key = MasterKey::generate().unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("CHARTER_DATABASE_URL".into(), database_url()),
        ("CHARTER_REDIS_URL".into(), redis_url()),
        ("CHARTER_BIND".into(), "127.0.0.1:0".into()),
        ("CHARTER_MASTER_KEY".into(), key.to_base64().to_string()),
        ("CHARTER_DB_MAX_CONNECTIONS".into(), "8".into()),
        // Every test reaches the anonymous routes from loopback at once; the tests of the
        // limit itself set their own.
        (
            "CHARTER_ANONYMOUS_RATE_LIMIT_PER_MINUTE".into(),
            "1000000".into(),
        ),
        (
            "CHARTER_SIGNUPS_PER_ADDRESS_PER_HOUR".into(),
            "1000000".into(),
        ),
        (
            "CHARTER_SIGNUPS_PER_DOMAIN_PER_HOUR".into(),
            "1000000".into(),
        ),
    ];
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v.to_string()));
    }
    Config::load(None, env).unwrap()
}

static MIGRATED: OnceCell<()> = OnceCell::const_new();

/// Applies migrations once per process (serialised across processes by the bootstrap's
/// advisory lock).
pub async fn ensure_migrated() {
    MIGRATED
        .get_or_init(|| async {
            charter_store::bootstrap::migrate(&test_config(&[]))
                .await
                .expect("migrating the test database");
        })
        .await;
}

/// A store connected as the application role, with its own master key.
pub async fn store() -> Store {
    store_with(&test_config(&[])).await
}

pub async fn store_with(config: &Config) -> Store {
    ensure_migrated().await;
    Store::connect(config, config.master_key.clone().unwrap())
        .await
        .unwrap()
}

/// A new tenant with owner, agent and API key; the name is made unique per call.
pub async fn tenant(store: &Store, name: &str) -> Provisioned {
    store
        .admin()
        .provision_tenant(
            ProvisionRequest {
                name: format!("{name} {}", uuid::Uuid::new_v4().simple()),
                slug: None,
                owner_email: None,
                agent_name: "agent-1".into(),
                is_demo: false,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap()
}

/// Registers another agent in a tenant, acting for `responsible`.
pub async fn add_agent(
    store: &Store,
    tenant: uuid::Uuid,
    name: &str,
    responsible: uuid::Uuid,
) -> uuid::Uuid {
    let tx = store.tenant_tx(tenant).await.unwrap();
    let id = charter_store::agents::create(&tx, name, "", responsible, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Issues an API key for `agent`; returns the key.
pub async fn agent_key(store: &Store, tenant: uuid::Uuid, agent: uuid::Uuid) -> String {
    let tx = store.tenant_tx(tenant).await.unwrap();
    let (_, key) = charter_store::api_keys::issue(&tx, agent, "test", None, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    key.expose().to_string()
}

/// Adds a principal (no password) with one role to a tenant.
pub async fn add_principal(
    store: &Store,
    tenant: uuid::Uuid,
    email: &str,
    role: charter_core::tenant::Role,
) -> uuid::Uuid {
    let tx = store.tenant_tx(tenant).await.unwrap();
    let id = charter_store::principals::create(
        &tx,
        charter_store::principals::NewPrincipal {
            email: charter_core::tenant::Email::parse(email).unwrap(),
            display_name: email.split('@').next().unwrap_or(email).to_string(),
            password_hash: None,
            roles: vec![role],
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A superuser connection to the test database, for catalog checks and for playing an
/// attacker or an operator who edits rows behind Charter's back.
pub async fn superuser() -> DatabaseConnection {
    ensure_migrated().await;
    Database::connect(database_url()).await.unwrap()
}

/// Runs one statement and returns the rows.
pub async fn query(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
}

pub async fn execute(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<u64, sea_orm::DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .map(|r| r.rows_affected())
}

/// A running application on a random port.
pub struct TestApp {
    pub address: String,
    pub config: Config,
    pub store: Store,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config(&[])).await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    let store = store_with(&config).await;
    spawn_app_on(config, store).await
}

/// Serves `store` (which may connect through a [`proxy::TcpProxy`]).
pub async fn spawn_app_on(mut config: Config, store: Store) -> TestApp {
    let app = Application::build(config.clone(), store.clone()).unwrap();
    let port = app.port();
    config.bind = format!("127.0.0.1:{port}").parse().unwrap();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        config,
        store,
        client: own_address_client(),
        handle,
    }
}

/// A client builder; reqwest is built without a TLS provider, so ours is installed first.
pub fn http() -> reqwest::ClientBuilder {
    charter_worker::jobs::webhooks::install_tls_provider();
    reqwest::Client::builder()
}

/// An HTTP client on a loopback address of its own (127.x.y.z): the limits Charter keeps
/// per client address then count this test's requests only, not every test's at once.
pub fn own_address_client() -> reqwest::Client {
    own_address().build().unwrap()
}

/// A client builder on a loopback address of its own (see [`own_address_client`]).
pub fn own_address() -> reqwest::ClientBuilder {
    let b = uuid::Uuid::new_v4().into_bytes();
    let addr = std::net::IpAddr::from([127, 1 + b[0] % 250, b[1], 1 + b[2] % 250]);
    http().local_address(addr)
}

/// Whether this process runs as root (some tests then switch users).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
        .unwrap_or(false)
}

/// Runs a command to completion; panics with its output unless it succeeded (the
/// blocking twin of [`succeeds`]).
pub fn runs(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Polls `url` until it answers 2xx; whether it did within `within`.
pub async fn answers(url: &str, within: std::time::Duration) -> bool {
    let client = http().build().unwrap();
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The `charter` binary built alongside this test binary (target/<profile>/charter).
pub fn charter_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("charter");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build` (the test command does)",
        bin.display()
    );
    bin
}

/// A `charter` command with a clean environment pointing at the test services.
pub fn charter_cmd(config: &Config) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(charter_bin());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHARTER_DATABASE_URL", config.database_url.expose())
        .env("CHARTER_REDIS_URL", config.redis_url.expose())
        .env(
            "CHARTER_MASTER_KEY",
            config.master_key.as_ref().unwrap().to_base64().as_str(),
        )
        .env("CHARTER_LOG", "warn")
        .kill_on_drop(true);
    cmd
}

/// A request to deploy the service `resource`, spending nothing, with no arguments.
pub fn deploy(resource: &str) -> charter_store::engine::ActionRequest {
    charter_store::engine::ActionRequest {
        action: "deploy".into(),
        resource_type: "Service".into(),
        resource_id: resource.into(),
        spend: 0,
        idempotency_key: None,
        arguments: serde_json::json!({}),
        initiative: None,
        task: None,
    }
}

/// Runs a `charter` command to completion; panics with its output unless it succeeded.
pub async fn succeeds(cmd: &mut tokio::process::Command) -> std::process::Output {
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A tenant set up for the MCP scenario: a producer agent allowed to deploy `payments-*`
/// services (and to direct any agent), a reviewer agent with its own key, a template `ci`
/// (`build → release`) whose `release` gate needs one approval, and `deploy` on `Service`
/// bound to that gate.
pub struct ScenarioTenant {
    pub t: Provisioned,
    pub reviewer_id: uuid::Uuid,
    pub reviewer_key: String,
}

pub const SCENARIO_TEMPLATE: &str = "ci";
pub const SCENARIO_GATE: &str = "release";

pub async fn scenario_tenant(store: &Store, name: &str) -> ScenarioTenant {
    use charter_core::engine::workflow::{Gate, Template};
    use charter_core::policy::{Grant, Scope};
    let t = tenant(store, name).await;
    let scope = Scope {
        grants: vec![Grant {
            actions: vec!["deploy".into()],
            resource_type: "Service".into(),
            id_pattern: "payments-*".into(),
        }],
        may_direct: vec!["*".into()],
        spend_limit: Some(1000),
        dispatch_limit: None,
    };
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope, t.owner_id)
        .await
        .unwrap();
    let reviewer_id = add_agent(store, t.tenant_id, "reviewer", t.owner_id).await;
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let (_, key) =
        charter_store::api_keys::issue(&tx, reviewer_id, "reviewer", None, chrono::Utc::now())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let template = Template {
        name: SCENARIO_TEMPLATE.into(),
        stages: vec!["build".into(), "release".into()],
        gates: vec![Gate {
            name: SCENARIO_GATE.into(),
            before_stage: "release".into(),
            approvals: 1,
            approver_roles: vec![],
            human_only: false,
            evidence: vec![],
            mandatory: true,
            min_risk: 0,
            principal_separation: false,
        }],
    };
    store
        .engine()
        .save_template(t.tenant_id, t.owner_id, template)
        .await
        .unwrap();
    store
        .engine()
        .bind_action_gate(
            t.tenant_id,
            t.owner_id,
            "deploy".into(),
            "Service".into(),
            SCENARIO_GATE.into(),
        )
        .await
        .unwrap();
    ScenarioTenant {
        t,
        reviewer_id,
        reviewer_key: key.expose().to_string(),
    }
}

/// The payloads of a tenant's outbox events of `kind` (`notifications`), oldest first.
pub async fn outbox(store: &Store, tenant: uuid::Uuid, kind: &str) -> Vec<serde_json::Value> {
    let tx = store.tenant_tx(tenant).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT payload FROM notifications WHERE kind = $1 ORDER BY created_at, id",
        vec![kind.into()],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    rows.iter()
        .map(|r| r.try_get("", "payload").unwrap())
        .collect()
}
