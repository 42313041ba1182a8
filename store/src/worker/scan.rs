//! One scanner pass over a tenant: the ledger rows it has not read (all of them on a full
//! pass), checked record by record and against the signed checkpoints, and the tables the
//! other rules read. Findings are recorded once each (see [`super::findings`]); the pass
//! ends by moving the tenant's watermark and, when it read or found anything, a signed
//! `scan.completed` record, so an auditor can see the scanner ran and over what.

use std::collections::HashMap;
use std::time::Instant;

use charter_core::keys::verifying_key;
use charter_core::ledger::checkpoint::Checkpoint;
use charter_core::ledger::merkle::{CompactTree, Hash};
use charter_core::ledger::{Actor, Entry};
use charter_core::scanner::ledger_integrity::{Position, Scan, SignatureBatch, StoredCheckpoint};
use charter_core::scanner::{
    Finding, RULES, budget_overrun, credential_exposure, gate_gap, self_approval, stale_job,
};
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::VerifyingKey;
use serde_json::json;
use uuid::Uuid;

use super::{findings, scan_reads as reads};
use crate::ledger::append::to_hash;
use crate::{Result, StoreError, TenantTx};

/// Rows read per round trip.
const PAGE: u64 = 5_000;
/// Table reads of an incremental pass look this far before the previous pass.
const MARGIN: Duration = Duration::minutes(5);

/// What a pass did.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    pub full: bool,
    /// Ledger rows read, `[from_seq, to_seq)`.
    pub from_seq: u64,
    pub to_seq: u64,
    /// Of those, rows other than the scanner's own `scan.completed` records.
    pub records: u64,
    /// New violations, by rule.
    pub new: HashMap<&'static str, Vec<Finding>>,
    /// Findings already on record, seen again.
    pub seen_again: usize,
    pub millis: u128,
}

impl ScanReport {
    pub fn new_count(&self) -> usize {
        self.new.values().map(Vec::len).sum()
    }
}

struct State {
    at: Position,
    scanned_at: Option<DateTime<Utc>>,
}

async fn state(tx: &TenantTx) -> Result<Option<State>> {
    let Some(r) = tx
        .one(
            "SELECT next_seq, prev_hash, tree_size, frontier, scanned_at FROM scan_state WHERE tenant_id = $1",
            vec![tx.tenant_id().into()],
        )
        .await?
    else {
        return Ok(None);
    };
    let next_seq = r.try_get::<i64>("", "next_seq")? as u64;
    let frontier: Vec<u8> = r.try_get("", "frontier")?;
    let hashes: Vec<Hash> = frontier.chunks(32).map(to_hash).collect::<Result<_>>()?;
    let tree_size = r.try_get::<i64>("", "tree_size")? as u64;
    let tree = CompactTree::from_frontier(tree_size, &hashes)
        .ok_or_else(|| StoreError::Internal("scan state: frontier does not fit its size".into()))?;
    Ok(Some(State {
        at: Position {
            next_seq,
            prev_hash: to_hash(&r.try_get::<Vec<u8>>("", "prev_hash")?)?,
            tree,
        },
        scanned_at: r.try_get("", "scanned_at")?,
    }))
}

async fn keys(tx: &TenantTx) -> Result<HashMap<String, VerifyingKey>> {
    crate::signing_keys::list_public(tx)
        .await?
        .into_iter()
        .map(|k| Ok((k.key_id, verifying_key(&k.public_key)?)))
        .collect()
}

/// Checkpoints from `from` up to `to`, each with whether its note verifies and says what
/// its row says.
async fn checkpoints(
    tx: &TenantTx,
    keys: &HashMap<String, VerifyingKey>,
    from: u64,
    to: u64,
) -> Result<Vec<StoredCheckpoint>> {
    let rows = tx
        .all(
            "SELECT tree_size, root_hash, note, key_id FROM ledger_checkpoints
             WHERE tenant_id = $1 AND tree_size >= $2 AND tree_size <= $3 ORDER BY tree_size",
            vec![
                tx.tenant_id().into(),
                (from as i64).into(),
                (to as i64).into(),
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let tree_size = r.try_get::<i64>("", "tree_size")? as u64;
            let root = to_hash(&r.try_get::<Vec<u8>>("", "root_hash")?)?;
            let note: String = r.try_get("", "note")?;
            let key_id: String = r.try_get("", "key_id")?;
            let signature_valid = keys.get(&key_id).is_some_and(|k| {
                Checkpoint::verify(&note, k).is_ok_and(|c| c.size == tree_size && c.root == root)
            });
            Ok(StoredCheckpoint {
                tree_size,
                root,
                signature_valid,
            })
        })
        .collect()
}

/// The table rules of a pass (`since`: None on a full pass).
async fn table_findings(
    tx: &TenantTx,
    since: Option<DateTime<Utc>>,
    from: u64,
    to: u64,
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for a in reads::approvals(tx, since).await? {
        out.extend(self_approval::check(&a));
    }
    let initiatives = reads::initiatives(tx).await?;
    let passes: HashMap<Uuid, &HashMap<String, DateTime<Utc>>> =
        initiatives.iter().map(|i| (i.id, &i.passed)).collect();
    for i in &initiatives {
        out.extend(gate_gap::check_initiative(i));
    }
    let none = HashMap::new();
    for d in reads::guarded_decisions(tx, from, to).await? {
        let passed = passes.get(&d.initiative).copied().unwrap_or(&none);
        out.extend(gate_gap::check_decision(&d, passed));
    }
    for o in reads::overspent(tx, since).await? {
        out.extend(budget_overrun::check_outcome(&o));
    }
    for c in reads::cycles_over(tx, since).await? {
        out.extend(budget_overrun::check_cycle(&c));
    }
    let now = Utc::now();
    for o in reads::open_work(tx).await? {
        out.extend(stale_job::check(&o, now));
    }
    for s in reads::stored_texts(tx, since).await? {
        out.extend(credential_exposure::check(&s));
    }
    Ok(out)
}

impl crate::handles::Worker<'_> {
    /// Every tenant with a log, and when its last full pass was.
    pub async fn scan_tenants(self) -> Result<Vec<(Uuid, Option<DateTime<Utc>>)>> {
        let rows = self
            .platform_all(
                "SELECT tenant_id, full_scanned_at FROM charter_scan_tenants()",
                vec![],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("", "tenant_id")?,
                    r.try_get("", "full_scanned_at")?,
                ))
            })
            .collect()
    }

    /// Violations the scanner found, across tenants, by rule and severity (for metrics).
    pub async fn findings_by_rule(self) -> Result<Vec<(String, String, i64)>> {
        let rows = self
            .platform_all(
                "SELECT rule, severity, n FROM charter_scanner_findings()",
                vec![],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("", "rule")?,
                    r.try_get("", "severity")?,
                    r.try_get("", "n")?,
                ))
            })
            .collect()
    }

    /// One pass over `tenant`: incremental from its watermark, or `full` from seq 0.
    /// `None` when another worker is scanning the tenant right now: a tenant is scanned by
    /// one worker at a time, so its watermark never skips or repeats a record.
    pub async fn scan_tenant(self, tenant: Uuid, full: bool) -> Result<Option<ScanReport>> {
        let Some(lock) = self.try_job_lock(&format!("scan:{tenant}")).await? else {
            return Ok(None);
        };
        let report = self.scan_locked(tenant, full).await;
        lock.release().await?;
        report.map(Some)
    }

    async fn scan_locked(self, tenant: Uuid, full: bool) -> Result<ScanReport> {
        let started = Instant::now();
        let tx = self.tenant_tx(tenant).await?;
        let previous = state(&tx).await?;
        let (at, since) = match previous {
            Some(s) if !full => (s.at, s.scanned_at.map(|t| t - MARGIN)),
            _ => (Position::start(), None),
        };
        let from = at.next_seq;
        let to = crate::ledger::read::tree_size(&tx).await?;
        let keys = keys(&tx).await?;
        let cps = checkpoints(&tx, &keys, from, to).await?;
        let mut scan = Scan::resume(tenant.to_string(), at, keys, cps);
        let mut found = Vec::new();
        let mut others = 0u64;
        // Three things at once, one page apart: reading page N+1, checking page N, and
        // verifying page N-1's signatures (the costliest part) on another thread.
        let page = |from: u64| {
            let tx = &tx;
            async move {
                if from < to {
                    reads::ledger_rows(tx, from, PAGE.min(to - from)).await
                } else {
                    Ok(Vec::new())
                }
            }
        };
        let mut rows = page(from).await?;
        let mut signatures = None;
        while let Some(last) = rows.last() {
            let next = last.seq + 1;
            let check = tokio::task::spawn_blocking(move || {
                let (mut found, mut others) = (Vec::new(), 0u64);
                for row in &rows {
                    let record = scan.push(row);
                    if row.columns.kind != "scan.completed" {
                        others += 1;
                    }
                    if let Some(r) = record {
                        for s in reads::payload_texts(row.seq, &r.payload) {
                            found.extend(credential_exposure::check(&s));
                        }
                    }
                }
                let batch = scan.take_signatures();
                (scan, found, others, batch)
            });
            let verify = signatures
                .take()
                .map(|b: SignatureBatch| tokio::task::spawn_blocking(move || b.verify()));
            let (checked, fetched) = tokio::join!(check, page(next));
            let (s, f, o, batch) = checked.map_err(task_failed)?;
            if let Some(v) = verify {
                found.extend(v.await.map_err(task_failed)?);
            }
            (scan, rows, signatures) = (s, fetched?, Some(batch));
            found.extend(f);
            others += o;
        }
        if let Some(b) = signatures {
            found.extend(b.verify());
        }
        let (at, _, integrity) = scan.finish();
        found.extend(integrity);
        found.extend(table_findings(&tx, since, from, to).await?);
        tx.rollback().await?;

        let mut report = ScanReport {
            full,
            from_seq: from,
            to_seq: at.next_seq,
            records: others,
            ..ScanReport::default()
        };
        for f in found {
            let rule = f.rule;
            if findings::record(self.0, tenant, f.clone()).await? {
                report.new.entry(rule).or_default().push(f);
            } else {
                report.seen_again += 1;
            }
        }
        report.millis = started.elapsed().as_millis();
        let worth_a_record = full || report.records > 0 || report.new_count() > 0;
        self.save_state(
            tenant,
            &at,
            full,
            worth_a_record.then(|| completed(&report)),
        )
        .await?;
        Ok(report)
    }

    /// Moves the watermark; with `entry`, in the same transaction as its record.
    async fn save_state(
        self,
        tenant: Uuid,
        at: &Position,
        full: bool,
        entry: Option<Entry>,
    ) -> Result<()> {
        let frontier: Vec<u8> = at.tree.frontier_hashes().flatten().copied().collect();
        let (next_seq, prev_hash) = (at.next_seq as i64, at.prev_hash.to_vec());
        let tree_size = at.tree.size() as i64;
        let values = move |tx: &TenantTx| -> Vec<sea_orm::Value> {
            vec![
                tx.tenant_id().into(),
                next_seq.into(),
                prev_hash.clone().into(),
                frontier.clone().into(),
                full.into(),
                tree_size.into(),
            ]
        };
        const UPSERT: &str = "INSERT INTO scan_state (tenant_id, next_seq, prev_hash, frontier, scanned_at, full_scanned_at, tree_size)
             VALUES ($1, $2, $3, $4, now(), CASE WHEN $5 THEN now() END, $6)
             ON CONFLICT (tenant_id) DO UPDATE SET next_seq = $2, prev_hash = $3, frontier = $4,
                 scanned_at = now(), tree_size = $6,
                 full_scanned_at = CASE WHEN $5 THEN now() ELSE scan_state.full_scanned_at END";
        match entry {
            None => {
                let tx = self.tenant_tx(tenant).await?;
                tx.exec(UPSERT, values(&tx)).await?;
                tx.commit().await
            }
            Some(e) => self
                .append_with(tenant, move |tx| {
                    Box::pin(async move {
                        tx.exec(UPSERT, values(tx)).await?;
                        Ok((e, ()))
                    })
                })
                .await
                .map(|_| ()),
        }
    }
}

/// The signed record of a pass.
fn completed(r: &ScanReport) -> Entry {
    let found: HashMap<&str, usize> = r.new.iter().map(|(k, v)| (*k, v.len())).collect();
    Entry::new("scan.completed", Actor::system()).payload(json!({
        "full": r.full,
        "from_seq": r.from_seq,
        "to_seq": r.to_seq,
        "records": r.to_seq - r.from_seq,
        "rules": RULES.iter().map(|(n, v)| json!({"rule": n, "version": v})).collect::<Vec<_>>(),
        "new_violations": found,
        "seen_again": r.seen_again,
        "duration_ms": r.millis as u64,
    }))
}

fn task_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::Internal(format!("a scan task failed: {e}"))
}
