//! Exports asked for through the API: queued by a person (owner, admin or compliance
//! officer), made by the worker into `export_chunks` (so any node serves the download),
//! with progress visible while it runs.

use charter_core::bundle::{self, Purpose};
use charter_core::tenant::{Acting, Role};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sea_orm::QueryResult;
use uuid::Uuid;

use super::bundle::{BundleRequest, Sink};
use crate::engine::require_roles;
use crate::{Result, Store, StoreError, TenantTx};

/// Who may make and download exports.
pub const EXPORTERS: &[Role] = &[Role::Owner, Role::Admin, Role::ComplianceOfficer];
/// A running export whose worker has not written for this long is taken over.
const STALE_SECS: f64 = 120.0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub id: Uuid,
    pub status: String,
    pub requested_by: Uuid,
    pub system: Option<Uuid>,
    pub agents: Vec<Uuid>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub purpose: Purpose,
    pub records_total: Option<i64>,
    pub records_done: i64,
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
    pub full_records: Option<i64>,
    pub elided_records: Option<i64>,
    pub manifest_sha256: Option<String>,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a person asks for.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub system: Option<Uuid>,
    pub agents: Vec<Uuid>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub purpose: Purpose,
}

const COLUMNS: &str = "id, status, requested_by, system_id, agents, period_from, period_to, purpose, \
     records_total, records_done, from_seq, to_seq, full_records, elided_records, manifest_sha256, \
     size_bytes, error, created_at, started_at, finished_at";

fn from_row(r: &QueryResult) -> Result<Export> {
    let purpose: String = r.try_get("", "purpose")?;
    Ok(Export {
        id: r.try_get("", "id")?,
        status: r.try_get("", "status")?,
        requested_by: r.try_get("", "requested_by")?,
        system: r.try_get("", "system_id")?,
        agents: r.try_get("", "agents")?,
        from: r.try_get("", "period_from")?,
        to: r.try_get("", "period_to")?,
        purpose: Purpose::parse(&purpose)
            .ok_or_else(|| StoreError::Internal(format!("stored purpose {purpose}")))?,
        records_total: r.try_get("", "records_total")?,
        records_done: r.try_get("", "records_done")?,
        from_seq: r.try_get("", "from_seq")?,
        to_seq: r.try_get("", "to_seq")?,
        full_records: r.try_get("", "full_records")?,
        elided_records: r.try_get("", "elided_records")?,
        manifest_sha256: r.try_get("", "manifest_sha256")?,
        size_bytes: r.try_get("", "size_bytes")?,
        error: r.try_get("", "error")?,
        created_at: r.try_get("", "created_at")?,
        started_at: r.try_get("", "started_at")?,
        finished_at: r.try_get("", "finished_at")?,
    })
}

async fn one(tx: &TenantTx, id: Uuid) -> Result<Export> {
    let row = tx
        .one(
            &format!("SELECT {COLUMNS} FROM exports WHERE tenant_id = $1 AND id = $2"),
            vec![tx.tenant_id().into(), id.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("export"))?;
    from_row(&row)
}

impl crate::handles::Admin<'_> {
    /// Queues an export (owner, admin or compliance officer). The request is checked now
    /// (period, system, agents), so a bad one is refused at once, naming its field.
    pub async fn request_export(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        req: ExportRequest,
    ) -> Result<Export> {
        let by: Acting = by.into();
        if req.system.is_some() && !req.agents.is_empty() {
            return Err(StoreError::Invalid(
                "agents: give a system_id or agents, not both".into(),
            ));
        }
        bundle::check_period(req.from, req.to, Utc::now())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let tx = self.tenant_tx(tenant).await?;
        require_roles(&tx, &by, EXPORTERS).await?;
        super::bundle::scope(&tx, req.system, &req.agents).await?;
        let id = Uuid::now_v7();
        let actor =
            serde_json::to_value(by.actor()).map_err(|e| StoreError::Internal(e.to_string()))?;
        tx.exec(
            "INSERT INTO exports (tenant_id, id, requested_by, requested_actor, system_id, agents,
                                  period_from, period_to, purpose)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                tenant.into(),
                id.into(),
                by.principal.into(),
                actor.into(),
                req.system.into(),
                req.agents.clone().into(),
                req.from.into(),
                req.to.into(),
                req.purpose.as_str().into(),
            ],
        )
        .await?;
        let export = one(&tx, id).await?;
        tx.commit().await?;
        Ok(export)
    }

    /// The tenant's exports, newest first (the last 200).
    pub async fn exports(self, tenant: Uuid) -> Result<Vec<Export>> {
        self.read(tenant, |tx| {
            Box::pin(async move {
                tx.all(
                    &format!(
                        "SELECT {COLUMNS} FROM exports WHERE tenant_id = $1
                         ORDER BY created_at DESC, id DESC LIMIT 200"
                    ),
                    vec![tx.tenant_id().into()],
                )
                .await?
                .iter()
                .map(from_row)
                .collect()
            })
        })
        .await
    }

    pub async fn export(self, tenant: Uuid, id: Uuid) -> Result<Export> {
        self.read(tenant, |tx| Box::pin(one(tx, id))).await
    }

    /// Checks the caller may download `id` and that it is made; returns it.
    pub async fn export_for_download(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
    ) -> Result<Export> {
        let by: Acting = by.into();
        self.read(tenant, |tx| {
            Box::pin(async move {
                require_roles(tx, &by, EXPORTERS).await?;
                let e = one(tx, id).await?;
                match e.status.as_str() {
                    "done" => {}
                    "failed" => {
                        return Err(StoreError::Conflict(format!(
                            "the export failed: {}",
                            e.error.as_deref().unwrap_or("no reason recorded")
                        )));
                    }
                    s => {
                        return Err(StoreError::Conflict(format!(
                            "the export is {s}, not made yet"
                        )));
                    }
                }
                Ok(e)
            })
        })
        .await
    }

    /// A made export's bytes, chunk after chunk, read as they are sent (a bundle is never
    /// held in memory whole). A failed read ends the stream with its error.
    pub fn export_stream(
        self,
        tenant: Uuid,
        id: Uuid,
    ) -> impl futures::Stream<Item = Result<Vec<u8>>> + 'static {
        let store = self.0.clone();
        futures::stream::unfold(Some(0i32), move |n| {
            let store = store.clone();
            async move {
                let n = n?;
                match store.admin().export_chunk(tenant, id, n).await {
                    Ok(Some(bytes)) => Some((Ok(bytes), Some(n + 1))),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::error!(export = %id, chunk = n, error = %e, "export download failed");
                        Some((Err(e), None))
                    }
                }
            }
        })
    }

    /// Chunk `n` of a made export (None past the last).
    pub async fn export_chunk(self, tenant: Uuid, id: Uuid, n: i32) -> Result<Option<Vec<u8>>> {
        self.read(tenant, |tx| {
            Box::pin(async move {
                tx.one(
                    "SELECT data FROM export_chunks WHERE tenant_id = $1 AND export_id = $2 AND n = $3",
                    vec![tx.tenant_id().into(), id.into(), n.into()],
                )
                .await?
                .map(|r| r.try_get::<Vec<u8>>("", "data").map_err(StoreError::from))
                .transpose()
            })
        })
        .await
    }
}

/// Writes the bundle's bytes as chunks, each in its own committed transaction.
/// Every write names the attempt it belongs to (`attempts` when claimed): once another
/// worker has taken the export over, a late write of this one changes nothing.
struct Chunks<'a> {
    store: &'a Store,
    tenant: Uuid,
    export: Uuid,
    attempt: i32,
    n: i32,
}

/// This attempt still holds the export.
const HELD: &str = "EXISTS (SELECT 1 FROM exports e WHERE e.tenant_id = $1 AND e.id = $2
                    AND e.status = 'running' AND e.attempts = $3)";

fn taken_over() -> StoreError {
    StoreError::Refused(
        charter_core::code::Code::Conflict,
        "another worker took this export over".into(),
    )
}

impl Sink for Chunks<'_> {
    fn put(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let tx = self.store.tenant_tx(self.tenant).await?;
            let n = tx
                .exec(
                    &format!(
                        "INSERT INTO export_chunks (tenant_id, export_id, n, data)
                         SELECT $1, $2, $4, $5 WHERE {HELD}"
                    ),
                    vec![
                        self.tenant.into(),
                        self.export.into(),
                        self.attempt.into(),
                        self.n.into(),
                        bytes.into(),
                    ],
                )
                .await?;
            tx.commit().await?;
            if n == 0 {
                return Err(taken_over());
            }
            self.n += 1;
            Ok(())
        })
    }

    fn progress(&mut self, done: u64, total: u64) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let tx = self.store.tenant_tx(self.tenant).await?;
            let n = tx
                .exec(
                    "UPDATE exports SET records_done = $4, records_total = $5, heartbeat_at = now()
                     WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND attempts = $3",
                    vec![
                        self.tenant.into(),
                        self.export.into(),
                        self.attempt.into(),
                        (done as i64).into(),
                        (total as i64).into(),
                    ],
                )
                .await?;
            tx.commit().await?;
            if n == 0 {
                return Err(taken_over());
            }
            Ok(())
        })
    }
}

impl crate::handles::Worker<'_> {
    /// Makes the exports waiting (or abandoned by a stopped worker). Returns how many were
    /// made; one that fails is marked failed with the reason.
    pub async fn run_due_exports(self) -> Result<usize> {
        let due = self
            .platform_all(
                "SELECT tenant_id, id FROM charter_exports_due(make_interval(secs => $1))",
                vec![STALE_SECS.into()],
            )
            .await?;
        let mut made = 0;
        for row in due {
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            let id: Uuid = row.try_get("", "id")?;
            if let Some((req, attempt)) = self.claim(tenant, id).await? {
                let mut sink = Chunks {
                    store: self.0,
                    tenant,
                    export: id,
                    attempt,
                    n: 0,
                };
                // A heartbeat first: the bundle may wait for a pruning to finish.
                let result = match sink.progress(0, 0).await {
                    Ok(()) => self.0.ledger().write_bundle(tenant, &req, &mut sink).await,
                    Err(e) => Err(e),
                };
                self.finish(tenant, id, attempt, result.as_ref()).await?;
                match result {
                    Ok(_) => made += 1,
                    Err(e) => {
                        tracing::warn!(%tenant, export = %id, error = %e, "export attempt failed")
                    }
                }
            }
        }
        Ok(made)
    }

    /// Takes an export for this worker (none if another took it first); clears what a
    /// stopped worker left.
    async fn claim(self, tenant: Uuid, id: Uuid) -> Result<Option<(BundleRequest, i32)>> {
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                &format!(
                    "UPDATE exports SET status = 'running', started_at = now(), heartbeat_at = now(),
                         attempts = attempts + 1, records_done = 0
                     WHERE tenant_id = $1 AND id = $2 AND (status = 'queued'
                        OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => $3)))
                     RETURNING {COLUMNS}, requested_actor, attempts"
                ),
                vec![tenant.into(), id.into(), STALE_SECS.into()],
            )
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let e = from_row(&row)?;
        let attempt: i32 = row.try_get("", "attempts")?;
        let actor: serde_json::Value = row.try_get("", "requested_actor")?;
        tx.exec(
            "DELETE FROM export_chunks WHERE tenant_id = $1 AND export_id = $2",
            vec![tenant.into(), id.into()],
        )
        .await?;
        tx.commit().await?;
        Ok(Some((
            BundleRequest {
                export_id: id,
                system: e.system,
                agents: e.agents,
                from: e.from,
                to: e.to,
                purpose: e.purpose,
                requested_by: serde_json::from_value(actor)
                    .map_err(|e| StoreError::Internal(format!("stored actor: {e}")))?,
            },
            attempt,
        )))
    }

    async fn finish(
        self,
        tenant: Uuid,
        id: Uuid,
        attempt: i32,
        result: std::result::Result<&super::bundle::BundleOutcome, &StoreError>,
    ) -> Result<()> {
        let tx = self.tenant_tx(tenant).await?;
        match result {
            Ok(o) => {
                tx.exec(
                    "UPDATE exports SET status = 'done', finished_at = now(), from_seq = $4,
                         to_seq = $5, full_records = $6, elided_records = $7, manifest_sha256 = $8,
                         size_bytes = $9, records_done = COALESCE(records_total, records_done), error = NULL
                     WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND attempts = $3",
                    vec![
                        tenant.into(),
                        id.into(),
                        attempt.into(),
                        (o.range.from_seq as i64).into(),
                        (o.range.to_seq as i64).into(),
                        (o.counts.full as i64).into(),
                        ((o.counts.elided_filter + o.counts.elided_retention) as i64).into(),
                        o.manifest_sha256.clone().into(),
                        (o.bytes as i64).into(),
                    ],
                )
                .await?;
            }
            Err(e) => {
                // What may pass (the database away, the key rotated meanwhile) is tried
                // again, up to five attempts; a bad request fails at once. Readers see the
                // reason of a bad request; anything else stays in the worker's log.
                let retry = matches!(
                    e,
                    StoreError::Unavailable(_) | StoreError::Redis(_) | StoreError::Conflict(_)
                );
                let shown = match e {
                    StoreError::Invalid(m) => m.clone(),
                    _ => "the export could not be made (the worker's log says why); ask again"
                        .to_string(),
                };
                let n = tx
                    .exec(
                        "UPDATE exports SET error = $4,
                             status = CASE WHEN $5 AND attempts < 5 THEN 'queued' ELSE 'failed' END,
                             finished_at = CASE WHEN $5 AND attempts < 5 THEN NULL ELSE now() END
                         WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND attempts = $3",
                        vec![
                            tenant.into(),
                            id.into(),
                            attempt.into(),
                            shown.into(),
                            retry.into(),
                        ],
                    )
                    .await?;
                // Another worker's chunks are its own.
                if n > 0 {
                    tx.exec(
                        "DELETE FROM export_chunks WHERE tenant_id = $1 AND export_id = $2",
                        vec![tenant.into(), id.into()],
                    )
                    .await?;
                }
            }
        }
        tx.commit().await
    }
}
