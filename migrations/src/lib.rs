//! charter-migrations: the schema, one migration per step, applied by `charter migrate`.
//!
//! # Layout
//! - `sql/` — each migration's SQL. Every tenant-owned table gets its row-level security
//!   policy in the same migration that creates it; grants to `charter_app` and
//!   `charter_platform` are explicit and minimal.
//! - [`Migrator`] — the ordered list sea-orm-migration applies, each in a transaction.
//!
//! Migrations run as the role `charter_owner` (see `charter-store`'s bootstrap), so the
//! tables are owned by a role that is not a superuser and is subject to `FORCE ROW LEVEL
//! SECURITY`. Cross-tenant reads the platform needs are `SECURITY DEFINER` functions owned by
//! `charter_platform` (the only role with `BYPASSRLS`), each narrow and documented.

use sea_orm_migration::prelude::*;

/// A migration whose body is one SQL script.
struct SqlMigration {
    name: &'static str,
    sql: &'static str,
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(self.sql)
            .await?;
        Ok(())
    }
}

macro_rules! sql_migration {
    ($name:literal) => {
        Box::new(SqlMigration {
            name: $name,
            sql: include_str!(concat!("sql/", $name, ".sql")),
        }) as Box<dyn MigrationTrait>
    };
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            sql_migration!("m20261124_000001_foundation"),
            sql_migration!("m20261124_000002_ledger"),
            sql_migration!("m20261124_000003_engine"),
            sql_migration!("m20261124_000004_provenance"),
            sql_migration!("m20261124_000005_workflows"),
            sql_migration!("m20261124_000006_approvals"),
            sql_migration!("m20261124_000007_task_budgets"),
            sql_migration!("m20261124_000008_task_deadlines"),
            sql_migration!("m20261124_000009_answers_from_the_ledger"),
            sql_migration!("m20261124_000010_task_idempotency"),
            sql_migration!("m20261124_000011_refresh_tokens"),
            sql_migration!("m20261202_000012_admin_api"),
            sql_migration!("m20261202_000013_ledger_enter"),
            sql_migration!("m20261203_000014_chains_and_retries"),
            sql_migration!("m20261203_000015_hardening"),
            sql_migration!("m20261203_000016_worker"),
            sql_migration!("m20261204_000017_webhooks"),
            sql_migration!("m20261204_000018_job_claims"),
            sql_migration!("m20261204_000019_ai_systems"),
            sql_migration!("m20261204_000020_evidence"),
            sql_migration!("m20261204_000021_billing"),
            sql_migration!("m20261205_000022_web_sessions"),
        ]
    }
}

/// Names of the database roles the migrations grant to; created by the bootstrap.
pub mod roles {
    /// Owns every table; migrations run as it.
    pub const OWNER: &str = "charter_owner";
    /// The running application's login role: owns nothing, no BYPASSRLS.
    pub const APP: &str = "charter_app";
    /// Owns the narrow cross-tenant SECURITY DEFINER functions; NOLOGIN, BYPASSRLS.
    pub const PLATFORM: &str = "charter_platform";
}
