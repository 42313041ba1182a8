//! What agents read about their work: an initiative with its gates and history, an
//! artifact's lineage, the reviews an agent may act on, violations, and the state of a
//! pending decision. Reads only; each in one tenant transaction.

use charter_core::engine::provenance::{Party, Separation};
use charter_core::status::{ReviewStatus, Severity, TaskStatus, ViolationStatus};
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::graph::load_graph;
use super::reviews::agent_party;
use super::workflows::{GateCheck, check_gates_in};
use charter_core::ledger::record::{Record, hash_bytes};
use charter_core::scanner::ledger_integrity::Columns;

use crate::error::state;
use crate::{Result, StoreError, TenantTx};

#[derive(Debug, Clone, Serialize)]
pub struct InitiativeView {
    /// The initiative.
    pub initiative_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its template (a snapshot taken when it started) and risk score (0–100).
    pub template: Value,
    /// Its risk score.
    pub risk: i16,
    /// Where it stands and what its next gates need.
    pub gates: GateCheck,
    /// Gates already passed.
    pub gates_passed: Vec<String>,
    /// Counts: artifacts, reviews by status, evidence, open violations.
    pub scorecard: Scorecard,
    /// The latest ledger records about it, newest first (at most 50).
    pub history: Vec<LedgerLine>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Scorecard {
    /// Artifacts registered in the initiative.
    pub artifacts: i64,
    /// Reviews pending, approved and rejected.
    pub reviews_pending: i64,
    /// Reviews approved.
    pub reviews_approved: i64,
    /// Reviews rejected.
    pub reviews_rejected: i64,
    /// Evidence items submitted.
    pub evidence: i64,
    /// Violations about the initiative's artifacts that are still open.
    pub open_violations: i64,
}

/// One ledger record, summarised (the full record is in the ledger).
#[derive(Debug, Clone, Serialize)]
pub struct LedgerLine {
    /// Position in the tenant's log.
    pub seq: i64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// What happened (e.g. `decision`, `review.approved`).
    pub kind: String,
    /// Who did it (`agent`, `principal`, `system`) and on whose behalf.
    pub actor_type: String,
    /// The actor's id.
    pub actor_id: String,
    /// The principal the actor acted for (`principal:<id>`).
    pub on_behalf_of: Option<String>,
    /// The action, where one is concerned.
    pub action: Option<String>,
    /// The resource (`type:id`), where one is concerned.
    pub resource: Option<String>,
    /// The gate, where one is concerned.
    pub gate: Option<String>,
    /// ALLOWED, BLOCKED or PENDING_APPROVAL, for decisions and verdicts.
    pub decision: Option<String>,
    /// The machine-readable reason of a refusal.
    pub reason: Option<String>,
    /// The record's hash (hex).
    pub record_hash: String,
    /// False when the stored row fails its hash or its columns differ from its signed
    /// record (edited behind Charter's back; the scanner reports it). The fields above are
    /// always the signed record's: columns only find rows.
    pub verified: bool,
    /// The body was removed by retention: seq, time, kind, actor, hash and signature
    /// remain (and still verify in the chain and the Merkle tree); the rest is gone.
    pub pruned: bool,
}

pub(crate) const LEDGER_LINE_COLUMNS: &str = "seq, recorded_at, kind, actor_type, actor_id, on_behalf_of, action, resource, initiative, gate, decision, reason, record, record_hash";

/// A ledger row's queryable columns.
pub(crate) fn columns(r: &QueryResult) -> Result<Columns> {
    Ok(Columns {
        kind: r.try_get("", "kind")?,
        actor_type: r.try_get("", "actor_type")?,
        actor_id: r.try_get("", "actor_id")?,
        on_behalf_of: r.try_get("", "on_behalf_of")?,
        action: r.try_get("", "action")?,
        resource: r.try_get("", "resource")?,
        initiative: r.try_get("", "initiative")?,
        gate: r.try_get("", "gate")?,
        decision: r.try_get("", "decision")?,
        reason: r.try_get("", "reason")?,
    })
}

pub(crate) fn ledger_line(r: &QueryResult) -> Result<LedgerLine> {
    let hash: Vec<u8> = r.try_get("", "record_hash")?;
    let text: Option<String> = r.try_get("", "record")?;
    let columns = columns(r)?;
    let signed = text
        .as_deref()
        .and_then(|t| serde_json::from_str::<Record>(t).ok());
    let shown = signed.as_ref().map(Columns::of);
    let verified = text
        .as_deref()
        .is_some_and(|t| hash_bytes(t.as_bytes())[..] == hash[..])
        && shown.as_ref() == Some(&columns);
    // An unreadable record shows its columns, flagged.
    let c = shown.unwrap_or(columns);
    Ok(LedgerLine {
        seq: r.try_get("", "seq")?,
        recorded_at: r.try_get("", "recorded_at")?,
        kind: c.kind,
        actor_type: c.actor_type,
        actor_id: c.actor_id,
        on_behalf_of: c.on_behalf_of,
        action: c.action,
        resource: c.resource,
        gate: c.gate,
        decision: c.decision,
        reason: c.reason,
        record_hash: hex::encode(hash),
        verified,
        pruned: text.is_none(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceView {
    /// The artifact asked about and everything it derives from, the artifact first.
    pub artifacts: Vec<ArtifactInfo>,
    /// The delegation chains the artifacts were produced under.
    pub tasks: Vec<TaskInfo>,
    /// Reviews of the artifact, with their verdicts.
    pub reviews: Vec<ReviewInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactInfo {
    /// The artifact, its kind, digest and URI.
    pub artifact_id: Uuid,
    /// Its kind.
    pub kind: String,
    /// Its content digest.
    pub digest: String,
    /// Where it can be fetched.
    pub uri: String,
    /// Who produced it (`agent` or `principal`) and the principal it answers to.
    pub producer_type: String,
    /// The producer's id.
    pub producer_id: Uuid,
    /// The principal the producer answers to.
    pub producer_principal: Uuid,
    /// The artifacts it was derived from.
    pub derived_from: Vec<Uuid>,
    /// The task and initiative it belongs to.
    pub task_id: Option<Uuid>,
    /// The initiative it belongs to.
    pub initiative_id: Option<Uuid>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    /// The task and the task it was delegated under.
    pub task_id: Uuid,
    /// The task it was delegated under.
    pub parent_id: Option<Uuid>,
    /// Who delegated it: `agent` or `principal`.
    pub delegator_type: String,
    /// The delegator's id.
    pub delegator_id: Uuid,
    /// The principal the delegator acted for.
    pub delegator_principal: Uuid,
    /// The agent it was delegated to.
    pub assignee_agent: Uuid,
    /// `open`, `completed`, `failed` or `expired`.
    pub status: TaskStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewInfo {
    /// The review, the artifact and digest it is bound to, and its gate.
    pub review_id: Uuid,
    /// The artifact under review.
    pub artifact_id: Uuid,
    /// The digest the review is bound to.
    pub digest: String,
    /// The gate the approval counts for.
    pub gate: Option<String>,
    /// `standard`, or `principal` when the approver must act for another principal.
    pub separation: String,
    /// `pending`, `approved` or `rejected`.
    pub status: ReviewStatus,
    /// Who asked for it, and when.
    pub requested_by: Uuid,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// Verdicts given: reviewer kind and id, `approve` or `reject`.
    pub verdicts: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ViolationInfo {
    /// The violation, its kind (e.g. `self_approval`) and severity.
    pub violation_id: Uuid,
    /// Its kind (e.g. `self_approval`).
    pub kind: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: Severity,
    /// Who it concerns.
    pub subject: Value,
    /// What happened.
    pub details: Value,
    /// `open`, `acknowledged` or `resolved`.
    pub status: ViolationStatus,
    /// When it was found.
    pub created_at: DateTime<Utc>,
}

/// Where a pending decision stands.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionState {
    /// The review or action approval waited on.
    pub id: Uuid,
    /// `review` (of an artifact) or `action_approval` (of an action's exact arguments).
    pub kind: String,
    /// `pending`, `approved` or `rejected`.
    pub status: ReviewStatus,
    /// Whether it is decided (call again while it is not).
    pub decided: bool,
}

const REVIEW_COLUMNS: &str = "r.id, r.artifact_id, r.digest, r.gate, r.separation, r.status, r.requested_by, r.created_at,
    COALESCE((SELECT jsonb_agg(jsonb_build_object('reviewer_type', v.reviewer_type, 'reviewer_id', v.reviewer_id,
                                                  'verdict', v.verdict))
              FROM review_verdicts v WHERE v.tenant_id = r.tenant_id AND v.review_id = r.id), '[]'::jsonb) AS verdicts";

fn review(r: &QueryResult) -> Result<ReviewInfo> {
    let verdicts: Value = r.try_get("", "verdicts")?;
    Ok(ReviewInfo {
        review_id: r.try_get("", "id")?,
        artifact_id: r.try_get("", "artifact_id")?,
        digest: r.try_get("", "digest")?,
        gate: r.try_get("", "gate")?,
        separation: r.try_get("", "separation")?,
        status: state(r, "status")?,
        requested_by: r.try_get("", "requested_by")?,
        created_at: r.try_get("", "created_at")?,
        verdicts: match verdicts {
            Value::Array(v) => v,
            _ => Vec::new(),
        },
    })
}

async fn count(tx: &TenantTx, sql: &str, id: Uuid) -> Result<i64> {
    Ok(tx
        .one(sql, vec![tx.tenant_id().into(), id.into()])
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

impl crate::handles::Engine<'_> {
    pub async fn initiative_view(self, tenant: Uuid, initiative: Uuid) -> Result<InitiativeView> {
        let tx = self.tenant_tx(tenant).await?;
        let gates = check_gates_in(&tx, initiative, false).await?;
        let row = tx
            .one(
                "SELECT name, template, risk FROM initiatives WHERE tenant_id = $1 AND id = $2",
                vec![tenant.into(), initiative.into()],
            )
            .await?
            .ok_or(StoreError::NotFound("initiative"))?;
        let gates_passed = tx
            .all(
                "SELECT gate FROM gate_passes WHERE tenant_id = $1 AND initiative_id = $2 ORDER BY gate",
                vec![tenant.into(), initiative.into()],
            )
            .await?
            .iter()
            .map(|r| r.try_get("", "gate"))
            .collect::<std::result::Result<_, _>>()?;
        let reviews = "SELECT count(*) AS n FROM reviews r JOIN artifacts a
                       ON a.tenant_id = r.tenant_id AND a.id = r.artifact_id
                       WHERE r.tenant_id = $1 AND a.initiative_id = $2 AND r.status =";
        let scorecard = Scorecard {
            artifacts: count(
                &tx,
                "SELECT count(*) AS n FROM artifacts WHERE tenant_id = $1 AND initiative_id = $2",
                initiative,
            )
            .await?,
            reviews_pending: count(&tx, &format!("{reviews} 'pending'"), initiative).await?,
            reviews_approved: count(&tx, &format!("{reviews} 'approved'"), initiative).await?,
            reviews_rejected: count(&tx, &format!("{reviews} 'rejected'"), initiative).await?,
            evidence: count(
                &tx,
                "SELECT count(*) AS n FROM evidence WHERE tenant_id = $1 AND initiative_id = $2",
                initiative,
            )
            .await?,
            open_violations: count(
                &tx,
                "SELECT count(*) AS n FROM violations v JOIN artifacts a
                 ON a.tenant_id = v.tenant_id AND a.id::text = v.details->>'artifact_id'
                 WHERE v.tenant_id = $1 AND a.initiative_id = $2 AND v.status = 'open'",
                initiative,
            )
            .await?,
        };
        let history = tx
            .all(
                &format!(
                    "SELECT {LEDGER_LINE_COLUMNS} FROM ledger_records
                     WHERE tenant_id = $1 AND initiative = $2 ORDER BY seq DESC LIMIT 50"
                ),
                vec![tenant.into(), initiative.to_string().into()],
            )
            .await?
            .iter()
            .map(ledger_line)
            .collect::<Result<_>>()?;
        tx.rollback().await?;
        Ok(InitiativeView {
            initiative_id: initiative,
            name: row.try_get("", "name")?,
            template: row.try_get("", "template")?,
            risk: row.try_get("", "risk")?,
            gates,
            gates_passed,
            scorecard,
            history,
        })
    }

    pub async fn provenance(self, tenant: Uuid, artifact: Uuid) -> Result<ProvenanceView> {
        let tx = self.tenant_tx(tenant).await?;
        let lineage = "WITH RECURSIVE lineage(id, depth) AS (
                SELECT $2::uuid, 0
                UNION SELECT s.source_id, l.depth + 1 FROM artifact_sources s JOIN lineage l ON s.artifact_id = l.id
                WHERE s.tenant_id = $1 AND l.depth < 64)";
        let artifacts: Vec<ArtifactInfo> = tx
            .all(
                &format!(
                    "{lineage} SELECT a.id, a.kind, a.digest, a.uri, a.producer_type, a.producer_id,
                            a.producer_principal, a.task_id, a.initiative_id, a.created_at,
                            COALESCE((SELECT array_agg(s.source_id ORDER BY s.source_id) FROM artifact_sources s
                                      WHERE s.tenant_id = a.tenant_id AND s.artifact_id = a.id), '{{}}') AS sources,
                            min(l.depth) AS depth
                     FROM artifacts a JOIN lineage l ON a.id = l.id WHERE a.tenant_id = $1
                     GROUP BY a.tenant_id, a.id ORDER BY min(l.depth), a.created_at"
                ),
                vec![tenant.into(), artifact.into()],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(ArtifactInfo {
                    artifact_id: r.try_get("", "id")?,
                    kind: r.try_get("", "kind")?,
                    digest: r.try_get("", "digest")?,
                    uri: r.try_get("", "uri")?,
                    producer_type: r.try_get("", "producer_type")?,
                    producer_id: r.try_get("", "producer_id")?,
                    producer_principal: r.try_get("", "producer_principal")?,
                    derived_from: r.try_get("", "sources")?,
                    task_id: r.try_get("", "task_id")?,
                    initiative_id: r.try_get("", "initiative_id")?,
                    created_at: r.try_get("", "created_at")?,
                })
            })
            .collect::<Result<_>>()?;
        if artifacts.is_empty() {
            return Err(StoreError::NotFound("artifact"));
        }
        let tasks = tx
            .all(
                &format!(
                    "{lineage}, chain(id) AS (
                         SELECT a.task_id FROM artifacts a JOIN lineage l ON a.id = l.id
                         WHERE a.tenant_id = $1 AND a.task_id IS NOT NULL
                         UNION SELECT t.parent_id FROM tasks t JOIN chain c ON t.id = c.id
                         WHERE t.tenant_id = $1 AND t.parent_id IS NOT NULL)
                     SELECT t.id, t.parent_id, t.delegator_type, t.delegator_id, t.delegator_principal,
                            t.assignee_agent, t.status
                     FROM tasks t JOIN chain c ON t.id = c.id WHERE t.tenant_id = $1 ORDER BY t.depth"
                ),
                vec![tenant.into(), artifact.into()],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(TaskInfo {
                    task_id: r.try_get("", "id")?,
                    parent_id: r.try_get("", "parent_id")?,
                    delegator_type: r.try_get("", "delegator_type")?,
                    delegator_id: r.try_get("", "delegator_id")?,
                    delegator_principal: r.try_get("", "delegator_principal")?,
                    assignee_agent: r.try_get("", "assignee_agent")?,
                    status: state(r, "status")?,
                })
            })
            .collect::<Result<_>>()?;
        let reviews = tx
            .all(
                &format!(
                    "SELECT {REVIEW_COLUMNS} FROM reviews r WHERE r.tenant_id = $1 AND r.artifact_id = $2
                     ORDER BY r.created_at"
                ),
                vec![tenant.into(), artifact.into()],
            )
            .await?
            .iter()
            .map(review)
            .collect::<Result<_>>()?;
        tx.rollback().await?;
        Ok(ProvenanceView {
            artifacts,
            tasks,
            reviews,
        })
    }

    /// Pending reviews this agent may decide: separation of duties is checked for each, so
    /// reviews of its own work (direct, derived or delegated) are not offered.
    pub async fn review_requests(self, tenant: Uuid, agent: Uuid) -> Result<Vec<ReviewInfo>> {
        let tx = self.tenant_tx(tenant).await?;
        let me: Party = agent_party(&tx, agent).await?;
        let out = decidable_reviews(&tx, me).await?;
        tx.rollback().await?;
        Ok(out)
    }

    /// Violations about this agent, or about an initiative's artifacts.
    pub async fn violations_for(
        self,
        tenant: Uuid,
        agent: Uuid,
        initiative: Option<Uuid>,
        include_closed: bool,
    ) -> Result<Vec<ViolationInfo>> {
        let tx = self.tenant_tx(tenant).await?;
        let status = if include_closed {
            ""
        } else {
            " AND v.status = 'open'"
        };
        let (sql, id) = match initiative {
            Some(i) => (
                format!(
                    "SELECT v.* FROM violations v JOIN artifacts a
                     ON a.tenant_id = v.tenant_id AND a.id::text = v.details->>'artifact_id'
                     WHERE v.tenant_id = $1 AND a.initiative_id = $2{status}
                     ORDER BY v.created_at DESC LIMIT 100"
                ),
                i,
            ),
            None => (
                format!(
                    "SELECT v.* FROM violations v
                     WHERE v.tenant_id = $1 AND v.subject->>'id' = $2::text{status}
                     ORDER BY v.created_at DESC LIMIT 100"
                ),
                agent,
            ),
        };
        let rows = tx.all(&sql, vec![tenant.into(), id.into()]).await?;
        tx.rollback().await?;
        rows.iter()
            .map(|r| {
                Ok(ViolationInfo {
                    violation_id: r.try_get("", "id")?,
                    kind: r.try_get("", "kind")?,
                    severity: state(r, "severity")?,
                    subject: r.try_get("", "subject")?,
                    details: r.try_get("", "details")?,
                    status: state(r, "status")?,
                    created_at: r.try_get("", "created_at")?,
                })
            })
            .collect()
    }

    /// The state of a review, or of an action approval (the `review_id` of a
    /// PENDING_APPROVAL answer).
    pub async fn decision_state(self, tenant: Uuid, id: Uuid) -> Result<DecisionState> {
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                "SELECT 'review' AS kind, status FROM reviews WHERE tenant_id = $1 AND id = $2
                 UNION ALL
                 SELECT 'action_approval', status FROM action_approvals WHERE tenant_id = $1 AND id = $2",
                vec![tenant.into(), id.into()],
            )
            .await?
            .ok_or(StoreError::NotFound("review or approval"))?;
        tx.rollback().await?;
        let status: ReviewStatus = state(&row, "status")?;
        Ok(DecisionState {
            id,
            kind: row.try_get("", "kind")?,
            decided: status != ReviewStatus::Pending,
            status,
        })
    }
}

/// Filters for reading the ledger, newest first, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub kind: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub initiative: Option<String>,
    pub decision: Option<String>,
    /// Only records that concern this AI system: by its agents (now), about them, or about
    /// the system (`charter_record_concerns`, the rule evidence bundles use).
    pub system: Option<Uuid>,
    /// Only records made for this principal (`principal:<id>`, as in `on_behalf_of`).
    pub on_behalf_of: Option<String>,
    /// Only records about this resource (`type:id`).
    pub resource: Option<String>,
    /// Only records made at or after this time, and before `until`.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only records before this position (the previous page's `next_before_seq`).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerPage {
    /// Matching records, newest first.
    pub entries: Vec<LedgerLine>,
    /// Pass as `before_seq` for the next page; absent on the last page.
    pub next_before_seq: Option<i64>,
}

impl crate::handles::Engine<'_> {
    pub async fn query_ledger(self, tenant: Uuid, f: LedgerFilter) -> Result<LedgerPage> {
        let limit = f.limit.clamp(1, 200) as i64;
        let tx = self.tenant_tx(tenant).await?;
        if let Some(system) = f.system
            && !tx.exists("ai_systems", system).await?
        {
            return Err(StoreError::NotFound("AI system"));
        }
        let rows = tx
            .all(
                &format!(
                    "SELECT {LEDGER_LINE_COLUMNS} FROM ledger_records
                     WHERE tenant_id = $1 AND seq < COALESCE($2, 9223372036854775807)
                       AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR actor_id = $4)
                       AND ($5::text IS NULL OR action = $5) AND ($6::text IS NULL OR initiative = $6)
                       AND ($7::text IS NULL OR decision = $7)
                       AND ($10::text IS NULL OR on_behalf_of = $10)
                       AND ($11::text IS NULL OR resource = $11)
                       AND ($12::timestamptz IS NULL OR recorded_at >= $12)
                       AND ($13::timestamptz IS NULL OR recorded_at < $13)
                       AND ($9::uuid IS NULL OR charter_record_concerns(
                           actor_type, actor_id, resource, record,
                           (SELECT charter_system_agents($9)),
                           (SELECT charter_concern_resources(charter_system_agents($9), $9))))
                     ORDER BY seq DESC LIMIT $8"
                ),
                vec![
                    tenant.into(),
                    f.before_seq.into(),
                    f.kind.into(),
                    f.actor_id.into(),
                    f.action.into(),
                    f.initiative.into(),
                    f.decision.into(),
                    (limit + 1).into(),
                    f.system.into(),
                    f.on_behalf_of.into(),
                    f.resource.into(),
                    f.since.into(),
                    f.until.into(),
                ],
            )
            .await?;
        tx.rollback().await?;
        let mut entries: Vec<LedgerLine> = rows.iter().map(ledger_line).collect::<Result<_>>()?;
        let more = entries.len() as i64 > limit;
        entries.truncate(limit as usize);
        Ok(LedgerPage {
            next_before_seq: more.then(|| entries.last().map(|e| e.seq)).flatten(),
            entries,
        })
    }
}

/// Pending reviews (at most 50, oldest first) that `me` may decide under separation of
/// duties.
pub(crate) async fn decidable_reviews(tx: &TenantTx, me: Party) -> Result<Vec<ReviewInfo>> {
    let rows = tx
        .all(
            &format!(
                "SELECT {REVIEW_COLUMNS} FROM reviews r WHERE r.tenant_id = $1 AND r.status = 'pending'
                 ORDER BY r.created_at LIMIT 200"
            ),
            vec![tx.tenant_id().into()],
        )
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        let info = review(r)?;
        let separation = match info.separation.as_str() {
            "principal" => Separation::Principal,
            _ => Separation::Standard,
        };
        let graph = load_graph(tx, info.artifact_id, Some(me.actor())).await?;
        if graph.check_review(info.artifact_id, me, separation).is_ok() {
            out.push(info);
        }
        if out.len() == 50 {
            break;
        }
    }
    Ok(out)
}
