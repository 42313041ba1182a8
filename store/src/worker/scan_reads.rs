//! What each scanner rule needs, read in the tenant's transaction. `since` bounds the
//! table reads of an incremental pass (rows changed since the last scan, with a margin);
//! a full pass reads everything.

use std::collections::HashMap;

use charter_core::engine::provenance::{Party, Separation};
use charter_core::engine::workflow::Template;
use charter_core::scanner::budget_overrun::{CycleSpend, Outcome};
use charter_core::scanner::credential_exposure::Stored;
use charter_core::scanner::gate_gap::{GuardedDecision, Initiative};
use charter_core::scanner::ledger_integrity::StoredRow;
use charter_core::scanner::self_approval::Approval;
use charter_core::scanner::stale_job::{Kind, Open};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::engine::graph::load_graph;
use crate::ledger::append::to_hash;
use crate::{Result, StoreError, TenantTx};

pub(crate) async fn ledger_rows(tx: &TenantTx, from: u64, limit: u64) -> Result<Vec<StoredRow>> {
    tx.all(
        "SELECT seq, kind, actor_type, actor_id, on_behalf_of, action, resource, initiative, gate,
                decision, reason, record, record_hash, signature, key_id
         FROM ledger_records WHERE tenant_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
        vec![
            tx.tenant_id().into(),
            (from as i64).into(),
            (limit as i64).into(),
        ],
    )
    .await?
    .iter()
    .map(|r| {
        let signature: Vec<u8> = r.try_get("", "signature")?;
        Ok(StoredRow {
            seq: r.try_get::<i64>("", "seq")? as u64,
            columns: crate::engine::views::columns(r)?,
            record: r.try_get("", "record")?,
            hash: to_hash(&r.try_get::<Vec<u8>>("", "record_hash")?)?,
            signature: signature
                .try_into()
                .map_err(|_| StoreError::Internal("stored signature: 64 bytes expected".into()))?,
            key_id: r.try_get("", "key_id")?,
        })
    })
    .collect()
}

/// Approving verdicts (given since `since`), each with the graph its review needs.
pub(crate) async fn approvals(
    tx: &TenantTx,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Approval>> {
    let rows = tx
        .all(
            "SELECT v.review_id, v.reviewer_type, v.reviewer_id, v.reviewer_principal,
                    r.artifact_id, r.gate, r.separation
             FROM review_verdicts v JOIN reviews r ON r.tenant_id = v.tenant_id AND r.id = v.review_id
             WHERE v.tenant_id = $1 AND v.verdict = 'approve'
               AND ($2::timestamptz IS NULL OR v.created_at >= $2)",
            vec![tx.tenant_id().into(), since.into()],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: Uuid = r.try_get("", "reviewer_id")?;
        let reviewer = match r.try_get::<String>("", "reviewer_type")?.as_str() {
            "agent" => Party::Agent {
                id,
                on_behalf_of: r.try_get("", "reviewer_principal")?,
            },
            _ => Party::Principal { id },
        };
        let artifact_id: Uuid = r.try_get("", "artifact_id")?;
        out.push(Approval {
            review_id: r.try_get("", "review_id")?,
            artifact_id,
            gate: r.try_get("", "gate")?,
            reviewer,
            separation: match r.try_get::<String>("", "separation")?.as_str() {
                "principal" => Separation::Principal,
                _ => Separation::Standard,
            },
            graph: load_graph(tx, artifact_id, Some(id)).await?,
        });
    }
    Ok(out)
}

/// Every initiative with its template snapshot and the gates passed.
pub(crate) async fn initiatives(tx: &TenantTx) -> Result<Vec<Initiative>> {
    let rows = tx
        .all(
            "SELECT i.id, i.template, i.risk, i.stage,
                    COALESCE((SELECT jsonb_object_agg(p.gate, p.passed_at) FROM gate_passes p
                              WHERE p.tenant_id = i.tenant_id AND p.initiative_id = i.id), '{}') AS passed
             FROM initiatives i WHERE i.tenant_id = $1",
            vec![tx.tenant_id().into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let template: Template = serde_json::from_value(r.try_get("", "template")?)
                .map_err(|e| StoreError::Internal(format!("stored template: {e}")))?;
            let passed: HashMap<String, DateTime<Utc>> =
                serde_json::from_value(r.try_get("", "passed")?)
                    .map_err(|e| StoreError::Internal(format!("gate passes: {e}")))?;
            Ok(Initiative {
                id: r.try_get("", "id")?,
                template,
                risk: r.try_get::<i16>("", "risk")?.clamp(0, 100) as u8,
                stage: r.try_get("", "stage")?,
                passed,
            })
        })
        .collect()
}

/// ALLOWED decisions in `[from, to)` that name an initiative and an action some gate
/// guards, with those gates.
pub(crate) async fn guarded_decisions(
    tx: &TenantTx,
    from: u64,
    to: u64,
) -> Result<Vec<GuardedDecision>> {
    let rows = tx
        .all(
            "SELECT l.seq, l.recorded_at, l.initiative, l.action, array_agg(g.gate) AS gates
             FROM ledger_records l
             JOIN action_gates g ON g.tenant_id = l.tenant_id AND g.action = l.action
                                AND g.resource_type = split_part(l.resource, ':', 1)
             WHERE l.tenant_id = $1 AND l.seq >= $2 AND l.seq < $3 AND l.kind = 'decision'
               AND l.decision = 'ALLOWED' AND l.initiative IS NOT NULL
             GROUP BY l.seq, l.recorded_at, l.initiative, l.action",
            vec![
                tx.tenant_id().into(),
                (from as i64).into(),
                (to as i64).into(),
            ],
        )
        .await?;
    rows.iter()
        .filter_map(|r| {
            let initiative: String = r.try_get("", "initiative").ok()?;
            Some((r, initiative.parse::<Uuid>().ok()?))
        })
        .map(|(r, initiative)| {
            Ok(GuardedDecision {
                seq: r.try_get::<i64>("", "seq")? as u64,
                initiative,
                action: r.try_get("", "action")?,
                recorded_at: r.try_get("", "recorded_at")?,
                gates: r.try_get("", "gates")?,
            })
        })
        .collect()
}

/// Outcomes that reported more spend than was reserved.
pub(crate) async fn overspent(tx: &TenantTx, since: Option<DateTime<Utc>>) -> Result<Vec<Outcome>> {
    tx.all(
        "SELECT id, agent_id, spend_reserved, outcome_spend FROM authorizations
         WHERE tenant_id = $1 AND outcome_spend > spend_reserved
           AND ($2::timestamptz IS NULL OR cycle_start >= $2 - interval '2 days')",
        vec![tx.tenant_id().into(), since.into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Outcome {
            authorization_id: r.try_get("", "id")?,
            agent_id: r.try_get("", "agent_id")?,
            reserved: r.try_get("", "spend_reserved")?,
            reported: r.try_get("", "outcome_spend")?,
        })
    })
    .collect()
}

/// Agents' spend per cycle beyond their current limit.
pub(crate) async fn cycles_over(
    tx: &TenantTx,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<CycleSpend>> {
    tx.all(
        "SELECT s.agent_id, u.cycle_start, u.spend, (s.scope->>'spend_limit')::bigint AS spend_limit
         FROM budget_usage u JOIN agent_scopes s ON s.tenant_id = u.tenant_id AND s.agent_id::text = u.subject
         WHERE u.tenant_id = $1 AND jsonb_typeof(s.scope->'spend_limit') = 'number'
           AND u.spend > (s.scope->>'spend_limit')::bigint
           AND ($2::timestamptz IS NULL OR u.cycle_start >= $2 - interval '2 days')",
        vec![tx.tenant_id().into(), since.into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(CycleSpend {
            agent_id: r.try_get("", "agent_id")?,
            cycle_start: r.try_get("", "cycle_start")?,
            spent: r.try_get("", "spend")?,
            limit: r.try_get("", "spend_limit")?,
        })
    })
    .collect()
}

/// Tasks, action approvals and reviews still open, with when they were due.
pub(crate) async fn open_work(tx: &TenantTx) -> Result<Vec<Open>> {
    let rows = tx
        .all(
            "SELECT 'task' AS kind, id, deadline AS due FROM tasks
              WHERE tenant_id = $1 AND status = 'open' AND deadline < now()
             UNION ALL
             SELECT 'action_approval', id, expires_at FROM action_approvals
              WHERE tenant_id = $1 AND status = 'pending' AND expires_at < now()
             UNION ALL
             SELECT 'review', id, created_at FROM reviews
              WHERE tenant_id = $1 AND status = 'pending' AND created_at < now() - interval '1 day'",
            vec![tx.tenant_id().into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Open {
                kind: match r.try_get::<String>("", "kind")?.as_str() {
                    "task" => Kind::Task,
                    "action_approval" => Kind::ActionApproval,
                    _ => Kind::Review,
                },
                id: r.try_get("", "id")?,
                due: r.try_get("", "due")?,
            })
        })
        .collect()
}

/// Text people and agents stored outside the ledger (which redaction never touched):
/// artifact URIs, kinds and digests, evidence URIs.
pub(crate) async fn stored_texts(
    tx: &TenantTx,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Stored>> {
    let rows = tx
        .all(
            "SELECT 'artifact' AS type, id, 'uri' AS field, uri AS text FROM artifacts
              WHERE tenant_id = $1 AND uri <> '' AND ($2::timestamptz IS NULL OR created_at >= $2)
             UNION ALL
             SELECT 'artifact', id, 'kind', kind FROM artifacts
              WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR created_at >= $2)
             UNION ALL
             SELECT 'evidence', id, 'uri', uri FROM evidence
              WHERE tenant_id = $1 AND uri <> '' AND ($2::timestamptz IS NULL OR created_at >= $2)",
            vec![tx.tenant_id().into(), since.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let (kind, id, field): (String, Uuid, String) = (
                r.try_get("", "type")?,
                r.try_get("", "id")?,
                r.try_get("", "field")?,
            );
            Ok(Stored {
                subject: json!({"type": kind, "id": id, "field": field}),
                place: format!("{kind}:{id}:{field}"),
                text: r.try_get("", "text")?,
            })
        })
        .collect()
}

/// The strings of a ledger record's payload, as places the scanner checks.
pub(crate) fn payload_texts(seq: u64, payload: &Value) -> Vec<Stored> {
    let mut strings = Vec::new();
    charter_core::scanner::credential_exposure::strings(payload, "/payload", &mut strings);
    strings
        .into_iter()
        .map(|(path, text)| Stored {
            subject: json!({"type": "ledger_record", "seq": seq, "path": path}),
            place: format!("ledger_record:{seq}:{path}"),
            text,
        })
        .collect()
}
