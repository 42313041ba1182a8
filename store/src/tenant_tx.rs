//! The one way into tenant data.
//!
//! [`TenantTx`] is a database transaction whose first statement sets the transaction-local
//! setting `charter.tenant_id`. Every tenant-owned table has a forced row-level-security
//! policy on that setting, so even a query without a `WHERE tenant_id = …` sees and changes
//! only this tenant's rows, and an INSERT of another tenant's row is refused. The setting
//! is `SET LOCAL`: it ends with the transaction and never leaks to the next user of the
//! pooled connection. Only the ledger's group commit moves a transaction from one tenant
//! to the next (crate-private), between statements.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Statement,
    TransactionTrait, Value,
};
use uuid::Uuid;

use crate::Result;

pub struct TenantTx {
    tx: DatabaseTransaction,
    tenant_id: Uuid,
    /// In the ledger writer's work: the sequence number the work's record will get, so
    /// state can point at its record in the same transaction.
    next_seq: Option<u64>,
}

impl TenantTx {
    pub(crate) async fn begin(db: &DatabaseConnection, tenant_id: Uuid) -> Result<TenantTx> {
        let tx = crate::db::begin(db).await?;
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('charter.tenant_id', $1, true)",
            [tenant_id.to_string().into()],
        ))
        .await?;
        Ok(TenantTx {
            tx,
            tenant_id,
            next_seq: None,
        })
    }

    /// A transaction for the ledger's group commit, which enters each tenant of its batch
    /// with `ledger::append::enter` (the tenant context and the head lock in one
    /// statement). Until the first tenant is entered no setting is made, so row-level
    /// security shows it no tenant's rows at all.
    pub(crate) async fn begin_unentered(db: &DatabaseConnection) -> Result<TenantTx> {
        Ok(TenantTx {
            tx: crate::db::begin(db).await?,
            tenant_id: Uuid::nil(),
            next_seq: None,
        })
    }

    /// Records that the transaction's context was moved to `tenant_id` by the statement
    /// just executed (only the group commit moves a transaction from one tenant to the next,
    /// between one tenant's statements and the next's, so several tenants' appends share a
    /// commit while every statement still runs under exactly its own tenant).
    pub(crate) fn entered(&mut self, tenant_id: Uuid) {
        self.tenant_id = tenant_id;
    }

    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// The sequence number of the record this work will append (set by the ledger writer).
    pub(crate) fn next_seq(&self) -> Result<u64> {
        self.next_seq
            .ok_or_else(|| crate::StoreError::Internal("not inside the ledger writer".into()))
    }

    pub(crate) fn set_next_seq(&mut self, seq: u64) {
        self.next_seq = Some(seq);
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// A savepoint inside this transaction: its work can be rolled back alone (a failed
    /// operation in a group commit) while the tenant context stays set.
    pub async fn savepoint(&self) -> Result<TenantTx> {
        Ok(TenantTx {
            tx: self.tx.begin().await?,
            tenant_id: self.tenant_id,
            next_seq: None,
        })
    }

    /// Raw SQL inside this tenant's transaction. Application code goes through the
    /// repositories; this exists so tests can try to break isolation with arbitrary SQL.
    #[doc(hidden)]
    pub fn raw(&self) -> &DatabaseTransaction {
        &self.tx
    }

    pub(crate) async fn exec(&self, sql: &str, values: Vec<Value>) -> Result<u64> {
        let res = self
            .tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?;
        Ok(res.rows_affected())
    }

    pub(crate) async fn one(&self, sql: &str, values: Vec<Value>) -> Result<Option<QueryResult>> {
        Ok(self
            .tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?)
    }

    /// Whether `table` (a name from our code, never from input) holds the row `id` of this
    /// tenant: for naming a missing reference before a foreign key refuses it opaquely.
    pub(crate) async fn exists(&self, table: &'static str, id: uuid::Uuid) -> Result<bool> {
        let sql =
            format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE tenant_id = $1 AND id = $2) AS x");
        let row = self
            .one(&sql, vec![self.tenant_id.into(), id.into()])
            .await?;
        Ok(row
            .map(|r| r.try_get::<bool>("", "x"))
            .transpose()?
            .unwrap_or(false))
    }

    pub(crate) async fn all(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>> {
        Ok(self
            .tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?)
    }
}
