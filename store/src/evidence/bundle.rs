//! Writing an evidence bundle (format: `charter_core::bundle`) from the ledger, streamed:
//! records are read a page at a time, and the zip's bytes are handed to a [`Sink`] as
//! they accumulate, so memory does not grow with the bundle.

use std::sync::Arc;

use charter_core::bundle::report::{self, Names, Stats};
use charter_core::bundle::writer::BundleWriter;
use charter_core::bundle::{self, Counts, Manifest, Purpose, SeqRange};
use charter_core::ledger::merkle::frontier_ids;
use charter_core::ledger::record::format_time;
use charter_core::ledger::{Actor, Entry};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::json;
use uuid::Uuid;

use super::passes::{self, Drain, Shared, io};
use crate::ledger::checkpoints::{self, between, issue};
use crate::ledger::read::{consistency_proof, fetch_nodes};
use crate::{Result, StoreError, TenantTx, signing_keys, tenants};

/// The advisory lock pruning takes exclusively (see `charter_ledger_prune`).
const PRUNE_LOCK: i32 = 1_128_812_626;

/// What to put in a bundle.
#[derive(Debug, Clone)]
pub struct BundleRequest {
    pub export_id: Uuid,
    /// The records that concern this system's agents (at export time) are in full …
    pub system: Option<Uuid>,
    /// … or those that concern these agents; neither: every record.
    pub agents: Vec<Uuid>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub purpose: Purpose,
    pub requested_by: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleOutcome {
    pub manifest_sha256: String,
    pub range: SeqRange,
    pub counts: Counts,
    pub tree_size: u64,
    pub bytes: u64,
}

/// Where the zip's bytes go, in order.
pub trait Sink: Send {
    fn put(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, Result<()>>;
    /// Records written so far (two passes: the JSON lines, then the CSV and report).
    fn progress(&mut self, _done: u64, _total: u64) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

fn invalid(e: bundle::Invalid) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// A sink that writes straight into any writer: a file for the CLI, memory for tests.
pub struct WriteSink<W>(pub W);

impl<W: std::io::Write + Send> Sink for WriteSink<W> {
    fn put(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        let written = self.0.write_all(&bytes).map_err(io);
        Box::pin(async move { written })
    }
}

/// The agents in full and the resources that concern them (see `charter_record_concerns`).
pub(super) struct Scope {
    pub(super) all: bool,
    pub(super) agents: Vec<String>,
    pub(super) resources: Vec<String>,
    system: Option<serde_json::Value>,
}

/// Checks a scope against the tenant (the system exists; each agent asked for is the
/// tenant's, named by its position in the request) and resolves it.
pub(super) async fn scope(tx: &TenantTx, system: Option<Uuid>, asked: &[Uuid]) -> Result<Scope> {
    let id = system;
    let system = match id {
        Some(id) => Some(
            crate::ai_systems::one(tx, id, false)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound(_) => {
                        StoreError::Invalid("system_id: no such AI system in this tenant".into())
                    }
                    e => e,
                })?,
        ),
        None => None,
    };
    if system.is_none() {
        for (i, a) in asked.iter().enumerate() {
            if !tx.exists("agents", *a).await? {
                return Err(StoreError::Invalid(format!(
                    "agents[{i}]: not an agent of this tenant"
                )));
            }
        }
    }
    let mut agents: Vec<Uuid> = match &system {
        Some(s) => s.facts.agents.clone(),
        None => asked.to_vec(),
    };
    agents.sort();
    agents.dedup();
    let agents: Vec<String> = agents.iter().map(Uuid::to_string).collect();
    let mut resources: Vec<String> = agents.iter().map(|a| format!("agent:{a}")).collect();
    resources.extend(id.map(|s| format!("ai_system:{s}")));
    Ok(Scope {
        all: system.is_none() && agents.is_empty(),
        agents,
        resources,
        system: system.map(|s| {
            let mut v = json!(s.facts);
            v["id"] = json!(s.id);
            v
        }),
    })
}

/// The first and last seq recorded in `[from, to)` below `size`.
async fn seq_range(tx: &TenantTx, req: &BundleRequest, size: u64) -> Result<SeqRange> {
    let bound = |sql: &'static str, at: DateTime<Utc>| async move {
        let row = tx
            .one(
                sql,
                vec![tx.tenant_id().into(), at.into(), (size as i64).into()],
            )
            .await?;
        let seq = match row {
            Some(r) => r.try_get::<Option<i64>>("", "seq")?,
            None => None,
        };
        Ok::<_, StoreError>(seq.map(|s| s as u64))
    };
    // By seq, not by time: every record of the period lies within the range even if
    // the clock once stepped back.
    let first = bound(
        "SELECT min(seq) AS seq FROM ledger_records
         WHERE tenant_id = $1 AND recorded_at >= $2 AND seq < $3",
        req.from,
    )
    .await?;
    let last = bound(
        "SELECT max(seq) AS seq FROM ledger_records
         WHERE tenant_id = $1 AND recorded_at < $2 AND seq < $3",
        req.to,
    )
    .await?;
    match (first, last) {
        (Some(a), Some(b)) if a <= b => Ok(SeqRange {
            from_seq: a,
            to_seq: b,
        }),
        _ => Err(StoreError::Invalid(format!(
            "from: the ledger has no records between {} and {}",
            format_time(req.from),
            format_time(req.to)
        ))),
    }
}

/// People and agents by id, as they are named now.
async fn names(tx: &TenantTx) -> Result<Names> {
    let rows = tx
        .all(
            "SELECT id::text AS id, COALESCE(NULLIF(display_name, ''), email) AS name
             FROM principals WHERE tenant_id = $1
             UNION ALL SELECT id::text, name FROM agents WHERE tenant_id = $1",
            vec![tx.tenant_id().into()],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "name")?)))
        .collect()
}

fn pretty(v: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v)
        .map_err(|e| StoreError::Internal(format!("bundle JSON: {e}")))?;
    b.push(b'\n');
    Ok(b)
}

impl crate::handles::Ledger<'_> {
    /// Writes an evidence bundle into `sink` and records it (`export.created`, with the
    /// manifest's SHA-256, the requester and the purpose). A fresh checkpoint of the whole
    /// log is issued first; it is the bundle's end checkpoint.
    pub async fn write_bundle(
        self,
        tenant_id: Uuid,
        req: &BundleRequest,
        sink: &mut dyn Sink,
    ) -> Result<BundleOutcome> {
        bundle::check_period(req.from, req.to, Utc::now()).map_err(invalid)?;
        let tx = self.tenant_tx(tenant_id).await?;
        let end = issue(&tx, self.0).await?;
        tx.commit().await?;

        let tx = self.tenant_tx(tenant_id).await?;
        tx.exec(
            "SELECT pg_advisory_xact_lock_shared($1, hashtext($2::text))",
            vec![PRUNE_LOCK.into(), tenant_id.to_string().into()],
        )
        .await?;
        let scope = scope(&tx, req.system, &req.agents).await?;
        let n = end.tree_size;
        let range = seq_range(&tx, req, n).await?;
        let (a, b) = (range.from_seq, range.to_seq);
        let tenant = tenants::get(&tx).await?;
        let origin = checkpoints::origin(self.origin_prefix(), &tenant.slug);
        let start = between(&tx, 1, a, 1).await?.pop();
        let left = fetch_nodes(&tx, &frontier_ids(a)).await?;
        let left: Vec<String> = frontier_ids(a)
            .iter()
            .map(|id| left.get(id).map(hex::encode))
            .collect::<Option<_>>()
            .ok_or_else(|| StoreError::Internal("a frontier node is missing".into()))?;
        let right = if b + 1 < n {
            consistency_proof(&tx, b + 1, n).await?
        } else {
            Vec::new()
        };
        let names = names(&tx).await?;
        let (key_id, key) = signing_keys::open_current(&tx, self.master_key()).await?;
        if key_id != end.key_id {
            // The verifier wants manifest and end checkpoint signed by one key.
            return Err(StoreError::Conflict(
                "the tenant's signing key was rotated while the bundle was being made: ask again"
                    .into(),
            ));
        }

        let buf = Shared::default();
        let mut w = BundleWriter::new(buf.clone());
        let mut out = Drain {
            buf,
            sink,
            bytes: 0,
        };
        let total = b - a + 1;

        // Pass 1: records.jsonl; pass 2: records.csv and the report's figures.
        w.start(bundle::RECORDS, true).map_err(io)?;
        let pass = passes::Pass {
            tx: &tx,
            scope: &scope,
            a,
            b,
        };
        let (mut w, counts) = pass
            .run(w, Counts::default(), &mut out, 0, passes::jsonl)
            .await?;
        if counts.records != total {
            return Err(StoreError::Internal(format!(
                "the range {a}..={b} read {} records",
                counts.records
            )));
        }
        w.start(bundle::RECORDS_CSV, true).map_err(io)?;
        w.write(report::CSV_HEADER.as_bytes()).map_err(io)?;
        let (mut w, (stats, names)) = pass
            .run(
                w,
                (Stats::default(), Arc::new(names)),
                &mut out,
                total,
                passes::csv,
            )
            .await?;

        let consistency = match &start {
            Some(s) if s.tree_size < n => Some(consistency_proof(&tx, s.tree_size, n).await?),
            _ => None,
        };
        let keys = signing_keys::list_public(&tx).await?;
        tx.rollback().await?;

        let mut manifest = Manifest {
            format: bundle::FORMAT.into(),
            version: bundle::FORMAT_VERSION,
            export_id: req.export_id.to_string(),
            tenant: bundle::TenantRef {
                id: tenant_id.to_string(),
                slug: tenant.slug.clone(),
                name: tenant.name.clone(),
            },
            origin: origin.clone(),
            created_at: format_time(Utc::now()),
            requested_by: req.requested_by.clone(),
            purpose: req.purpose,
            purpose_article: req.purpose.article().into(),
            scope: bundle::Scope {
                system: scope.system.clone(),
                agents: scope.agents.clone(),
                rule: bundle::SCOPE_RULE.into(),
            },
            period: bundle::Period {
                from: format_time(req.from),
                to: format_time(req.to),
            },
            range,
            counts,
            tree_size: n,
            checkpoints: bundle::Checkpoints {
                start: start.as_ref().map(|s| bundle::CheckpointRef {
                    file: bundle::START_CHECKPOINT.into(),
                    tree_size: s.tree_size,
                }),
                end: bundle::CheckpointRef {
                    file: bundle::END_CHECKPOINT.into(),
                    tree_size: n,
                },
            },
            key_id,
            files: Vec::new(),
            disclaimer: bundle::DISCLAIMER.into(),
        };
        w.file(
            bundle::REPORT,
            report::render(&manifest, &stats, &names).as_bytes(),
        )
        .map_err(io)?;
        let keys_file = bundle::Keys {
            tenant_id: tenant_id.to_string(),
            origin,
            keys: keys.into_iter().map(|k| k.key_line()).collect(),
        };
        w.file(bundle::KEYS, &pretty(&keys_file)?).map_err(io)?;
        w.file(bundle::END_CHECKPOINT, end.note.as_bytes())
            .map_err(io)?;
        if let Some(s) = &start {
            w.file(bundle::START_CHECKPOINT, s.note.as_bytes())
                .map_err(io)?;
            let c = bundle::Consistency {
                from_size: s.tree_size,
                to_size: n,
                proof: consistency
                    .unwrap_or_default()
                    .iter()
                    .map(hex::encode)
                    .collect(),
            };
            w.file(bundle::CONSISTENCY, &pretty(&c)?).map_err(io)?;
        }
        let range_proof = bundle::RangeProof {
            from_seq: a,
            to_seq: b,
            tree_size: n,
            left,
            right: right.iter().map(hex::encode).collect(),
        };
        w.file(bundle::RANGE_PROOF, &pretty(&range_proof)?)
            .map_err(io)?;
        w.file(
            bundle::RECORD_SCHEMA,
            bundle::articles::RECORD_SCHEMA.as_bytes(),
        )
        .map_err(io)?;
        w.file(
            bundle::FIELD_TO_ARTICLE,
            bundle::articles::FIELD_TO_ARTICLE.as_bytes(),
        )
        .map_err(io)?;
        manifest.files = w.files().to_vec();
        w.file(bundle::README, bundle::readme(&manifest).as_bytes())
            .map_err(io)?;
        let manifest_sha256 = w.finish(manifest, &key).map_err(io)?;
        drop(key);
        out.drain(0).await?;

        let mut e = Entry::new("export.created", req.requested_by.clone()).payload(json!({
            "export_id": req.export_id,
            "manifest_sha256": manifest_sha256,
            "purpose": req.purpose,
            "system_id": req.system,
            "agents": scope.agents,
            "period": {"from": format_time(req.from), "to": format_time(req.to)},
            "from_seq": a, "to_seq": b, "tree_size": n,
            "counts": counts,
            "bytes": out.bytes,
        }));
        e.resource = req.system.map(|s| format!("ai_system:{s}"));
        self.append(tenant_id, e).await?;
        Ok(BundleOutcome {
            manifest_sha256,
            range,
            counts,
            tree_size: n,
            bytes: out.bytes,
        })
    }
}
