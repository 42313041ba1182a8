//! `charter migrate`: create the database if missing, create or correct the roles, run the
//! migrations as the owner role.
//!
//! Runs with `database_url`, which must be a superuser or a role allowed to create
//! databases and roles. Concurrent runs (several test processes, `charter up` twice) are
//! serialised by an advisory lock on the maintenance database.

use charter_core::config::Config;
use charter_migrations::{Migrator, roles};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;

use crate::db::{PgUrl, connect};
use crate::{Result, StoreError};

/// Arbitrary constant: the advisory lock key that serialises migrations.
const MIGRATE_LOCK: i64 = 0x6368_6172_7465_7231; // "charter1"

/// What a migration run did, for the CLI to report.
#[derive(Debug, Default)]
pub struct MigrateReport {
    pub database_created: bool,
    pub applied: Vec<String>,
}

pub async fn migrate(config: &Config) -> Result<MigrateReport> {
    let url = PgUrl::parse(config.database_url.expose())?;
    let database = url.database.clone();
    if !database
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Invalid(format!(
            "database name `{database}`: use lower-case letters, digits and '_'"
        )));
    }
    let maintenance = connect(&url.with_database("postgres"), config, 1).await?;
    exec(
        &maintenance,
        &format!("SELECT pg_advisory_lock({MIGRATE_LOCK})"),
    )
    .await?;
    let result = migrate_locked(config, &url, &database, &maintenance).await;
    let _ = exec(
        &maintenance,
        &format!("SELECT pg_advisory_unlock({MIGRATE_LOCK})"),
    )
    .await;
    let _ = maintenance.close().await;
    result
}

async fn migrate_locked(
    config: &Config,
    url: &PgUrl,
    database: &str,
    maintenance: &DatabaseConnection,
) -> Result<MigrateReport> {
    let mut report = MigrateReport::default();
    let exists = maintenance
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [database.into()],
        ))
        .await?
        .is_some();
    ensure_roles(config, maintenance).await?;
    if !exists {
        exec(
            maintenance,
            &format!("CREATE DATABASE \"{database}\" OWNER {}", roles::OWNER),
        )
        .await?;
        report.database_created = true;
    }

    // Database-level grants, as the bootstrap user.
    let target = connect(url, config, 1).await?;
    for sql in [
        format!("REVOKE ALL ON DATABASE \"{database}\" FROM PUBLIC"),
        format!(
            "GRANT CONNECT ON DATABASE \"{database}\" TO {}, {}",
            roles::APP,
            roles::OWNER
        ),
        // The application creates no objects of its own, temporary ones included.
        format!(
            "REVOKE TEMPORARY ON DATABASE \"{database}\" FROM {}",
            roles::APP
        ),
        format!(
            "GRANT TEMPORARY ON DATABASE \"{database}\" TO {}",
            roles::OWNER
        ),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_string(),
        format!(
            "GRANT USAGE, CREATE ON SCHEMA public TO {}, {}",
            roles::OWNER,
            roles::PLATFORM
        ),
        format!("GRANT USAGE ON SCHEMA public TO {}", roles::APP),
    ] {
        exec(&target, &sql).await?;
    }
    let _ = target.close().await;

    // Migrations, as the owner role.
    let owner = connect(&url.with_session_role(roles::OWNER), config, 1).await?;
    let pending: Vec<String> = Migrator::get_pending_migrations(&owner)
        .await?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    Migrator::up(&owner, None).await?;
    let _ = owner.close().await;
    report.applied = pending;
    Ok(report)
}

/// Creates the three roles when missing and (re)asserts their attributes every run, so a
/// role changed by hand is corrected.
async fn ensure_roles(config: &Config, db: &DatabaseConnection) -> Result<()> {
    for (role, login) in [
        (roles::OWNER, false),
        (roles::PLATFORM, false),
        (roles::APP, true),
    ] {
        let exists = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 FROM pg_roles WHERE rolname = $1",
                [role.into()],
            ))
            .await?
            .is_some();
        if !exists {
            let login = if login { "LOGIN" } else { "NOLOGIN" };
            exec(db, &format!("CREATE ROLE {role} {login}")).await?;
        }
    }
    let common = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION";
    exec(
        db,
        &format!("ALTER ROLE {} {common} NOLOGIN NOBYPASSRLS", roles::OWNER),
    )
    .await?;
    exec(
        db,
        &format!("ALTER ROLE {} {common} NOLOGIN BYPASSRLS", roles::PLATFORM),
    )
    .await?;
    exec(
        db,
        &format!(
            "ALTER ROLE {} {common} LOGIN NOBYPASSRLS NOINHERIT",
            roles::APP
        ),
    )
    .await?;
    match &config.app_db_password {
        Some(password) => {
            // A literal is unavoidable in ALTER ROLE; quote it safely.
            let quoted = password.expose().replace('\'', "''");
            exec(
                db,
                &format!("ALTER ROLE {} PASSWORD '{quoted}'", roles::APP),
            )
            .await?;
        }
        None => exec(db, &format!("ALTER ROLE {} PASSWORD NULL", roles::APP)).await?,
    }
    // The owner may hand functions to the platform role; the app role is member of nothing.
    exec(
        db,
        &format!("GRANT {} TO {}", roles::PLATFORM, roles::OWNER),
    )
    .await?;
    for other in [roles::OWNER, roles::PLATFORM] {
        let member = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
                 JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 AND u.rolname = $2",
                [other.into(), roles::APP.into()],
            ))
            .await?
            .is_some();
        if member {
            exec(db, &format!("REVOKE {other} FROM {}", roles::APP)).await?;
        }
    }
    Ok(())
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<()> {
    db.execute_unprepared(sql).await?;
    Ok(())
}
