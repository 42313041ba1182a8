//! What agents and people read about work: an initiative with its gates and history, an
//! artifact's lineage, reviews, violations, a pending decision, ledger pages.

use charter_core::status::{ReviewStatus, Severity, TaskStatus, ViolationStatus};
use charter_store::engine::{views as store, workflows};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{all, words};

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
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

impl From<store::InitiativeView> for InitiativeView {
    fn from(v: store::InitiativeView) -> Self {
        InitiativeView {
            initiative_id: v.initiative_id,
            name: v.name,
            template: v.template,
            risk: v.risk,
            gates: v.gates.into(),
            gates_passed: v.gates_passed,
            scorecard: v.scorecard.into(),
            history: all(v.history),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema, ToSchema)]
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

impl From<store::Scorecard> for Scorecard {
    fn from(s: store::Scorecard) -> Self {
        Scorecard {
            artifacts: s.artifacts,
            reviews_pending: s.reviews_pending,
            reviews_approved: s.reviews_approved,
            reviews_rejected: s.reviews_rejected,
            evidence: s.evidence,
            open_violations: s.open_violations,
        }
    }
}

/// What stands between an initiative and its next stage.
#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
pub struct GateCheck {
    /// The initiative's current stage.
    pub stage: String,
    /// The stage promotion would move it to (`None` at the last stage).
    pub next_stage: Option<String>,
    /// The gates before the next stage that apply at the initiative's risk score.
    pub gates: Vec<GateStatus>,
    /// Whether `promote_gate` would move the initiative now.
    pub can_promote: bool,
}

impl From<workflows::GateCheck> for GateCheck {
    fn from(c: workflows::GateCheck) -> Self {
        GateCheck {
            stage: c.stage,
            next_stage: c.next_stage,
            gates: all(c.gates),
            can_promote: c.can_promote,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
pub struct GateStatus {
    /// The gate's name.
    pub name: String,
    /// Never skipped, whatever the risk score.
    pub mandatory: bool,
    /// Approvals the gate needs.
    pub approvals_required: u32,
    /// Whether only humans' approvals count.
    pub human_only: bool,
    /// Evidence kinds the gate needs.
    pub evidence_required: Vec<String>,
    /// Evidence kinds on record for it.
    pub evidence_present: Vec<String>,
    /// Whether everything is in.
    pub satisfied: bool,
    /// What is still missing, in words.
    pub missing: Vec<String>,
}

impl From<workflows::GateStatus> for GateStatus {
    fn from(g: workflows::GateStatus) -> Self {
        GateStatus {
            name: g.name,
            mandatory: g.mandatory,
            approvals_required: g.approvals_required,
            human_only: g.human_only,
            evidence_required: g.evidence_required,
            evidence_present: g.evidence_present,
            satisfied: g.satisfied,
            missing: g.missing,
        }
    }
}

/// One ledger record, summarised (the full record is in the ledger).
#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
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
    /// record (edited behind Charter's back). The fields shown are the signed record's.
    pub verified: bool,
    /// The body was removed by retention (past the tenant's retention, not held): seq,
    /// time, kind, actor, hash and signature remain and still verify; `verified` is false
    /// as there is no body left to check.
    pub pruned: bool,
}

impl From<store::LedgerLine> for LedgerLine {
    fn from(l: store::LedgerLine) -> Self {
        LedgerLine {
            seq: l.seq,
            recorded_at: l.recorded_at,
            kind: l.kind,
            actor_type: l.actor_type,
            actor_id: l.actor_id,
            on_behalf_of: l.on_behalf_of,
            action: l.action,
            resource: l.resource,
            gate: l.gate,
            decision: l.decision,
            reason: l.reason,
            record_hash: l.record_hash,
            verified: l.verified,
            pruned: l.pruned,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
pub struct LedgerPage {
    /// Matching records, newest first.
    pub entries: Vec<LedgerLine>,
    /// Pass as `before_seq` for the next page; absent on the last page.
    pub next_before_seq: Option<i64>,
}

impl From<store::LedgerPage> for LedgerPage {
    fn from(p: store::LedgerPage) -> Self {
        LedgerPage {
            entries: all(p.entries),
            next_before_seq: p.next_before_seq,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
pub struct ProvenanceView {
    /// The artifact asked about and everything it derives from, the artifact first.
    pub artifacts: Vec<ArtifactInfo>,
    /// The delegation chains the artifacts were produced under.
    pub tasks: Vec<TaskInfo>,
    /// Reviews of the artifact, with their verdicts.
    pub reviews: Vec<ReviewInfo>,
}

impl From<store::ProvenanceView> for ProvenanceView {
    fn from(p: store::ProvenanceView) -> Self {
        ProvenanceView {
            artifacts: all(p.artifacts),
            tasks: all(p.tasks),
            reviews: all(p.reviews),
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
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

impl From<store::ArtifactInfo> for ArtifactInfo {
    fn from(a: store::ArtifactInfo) -> Self {
        ArtifactInfo {
            artifact_id: a.artifact_id,
            kind: a.kind,
            digest: a.digest,
            uri: a.uri,
            producer_type: a.producer_type,
            producer_id: a.producer_id,
            producer_principal: a.producer_principal,
            derived_from: a.derived_from,
            task_id: a.task_id,
            initiative_id: a.initiative_id,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
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
    #[schemars(schema_with = "words::task_status::json")]
    #[schema(schema_with = words::task_status::openapi)]
    pub status: TaskStatus,
}

impl From<store::TaskInfo> for TaskInfo {
    fn from(t: store::TaskInfo) -> Self {
        TaskInfo {
            task_id: t.task_id,
            parent_id: t.parent_id,
            delegator_type: t.delegator_type,
            delegator_id: t.delegator_id,
            delegator_principal: t.delegator_principal,
            assignee_agent: t.assignee_agent,
            status: t.status,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
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
    #[schemars(schema_with = "words::review_status::json")]
    #[schema(schema_with = words::review_status::openapi)]
    pub status: ReviewStatus,
    /// Who asked for it, and when.
    pub requested_by: Uuid,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// Verdicts given: reviewer kind and id, `approve` or `reject`.
    pub verdicts: Vec<Value>,
}

impl From<store::ReviewInfo> for ReviewInfo {
    fn from(r: store::ReviewInfo) -> Self {
        ReviewInfo {
            review_id: r.review_id,
            artifact_id: r.artifact_id,
            digest: r.digest,
            gate: r.gate,
            separation: r.separation,
            status: r.status,
            requested_by: r.requested_by,
            created_at: r.created_at,
            verdicts: r.verdicts,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
pub struct ViolationInfo {
    /// The violation, its kind (e.g. `self_approval`) and severity.
    pub violation_id: Uuid,
    /// Its kind (e.g. `self_approval`).
    pub kind: String,
    /// `critical`, `high`, `medium` or `low`.
    #[schemars(schema_with = "words::severity::json")]
    #[schema(schema_with = words::severity::openapi)]
    pub severity: Severity,
    /// Who it concerns.
    pub subject: Value,
    /// What happened.
    pub details: Value,
    /// `open`, `acknowledged` or `resolved`.
    #[schemars(schema_with = "words::violation_status::json")]
    #[schema(schema_with = words::violation_status::openapi)]
    pub status: ViolationStatus,
    /// When it was found.
    pub created_at: DateTime<Utc>,
}

impl From<store::ViolationInfo> for ViolationInfo {
    fn from(v: store::ViolationInfo) -> Self {
        ViolationInfo {
            violation_id: v.violation_id,
            kind: v.kind,
            severity: v.severity,
            subject: v.subject,
            details: v.details,
            status: v.status,
            created_at: v.created_at,
        }
    }
}

/// Where a pending decision stands.
#[derive(Debug, Clone, Serialize, JsonSchema, ToSchema)]
pub struct DecisionState {
    /// The review or action approval waited on.
    pub id: Uuid,
    /// `review` (of an artifact) or `action_approval` (of an action's exact arguments).
    pub kind: String,
    /// `pending`, `approved` or `rejected`.
    #[schemars(schema_with = "words::review_status::json")]
    #[schema(schema_with = words::review_status::openapi)]
    pub status: ReviewStatus,
    /// Whether it is decided (call again while it is not).
    pub decided: bool,
}

impl From<store::DecisionState> for DecisionState {
    fn from(d: store::DecisionState) -> Self {
        DecisionState {
            id: d.id,
            kind: d.kind,
            status: d.status,
            decided: d.decided,
        }
    }
}
