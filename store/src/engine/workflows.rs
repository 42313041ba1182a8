//! Initiatives moving through workflow stages, past gates.
//!
//! An initiative keeps a snapshot of its template. Promotion to the next stage checks the
//! gates that apply at its risk score (mandatory ones always) against what is on record:
//! approved reviews at the gate for the initiative's artifacts (by humans, or by agents with
//! the `reviewer_agent` role) and evidence of the required kinds. A passed gate is stored;
//! actions bound to a gate (`bind_action_gate`) are BLOCKED(`gate_not_passed`) by
//! `authorize` until their initiative has passed it.

use charter_core::code::Code;
use charter_core::engine::provenance::Party;
use charter_core::engine::workflow::{Approval, Template, WorkflowError, presets, satisfied};
use charter_core::ledger::Entry;
use charter_core::tenant::{Acting, Role};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::require_roles;
use crate::ledger::Receipt;
use crate::{Result, StoreError, TenantTx, principals};

/// A tenant's template by name (its own first, then the presets).
async fn template(tx: &TenantTx, name: &str) -> Result<Template> {
    let row = tx
        .one(
            "SELECT template FROM workflow_templates WHERE tenant_id = $1 AND name = $2",
            vec![tx.tenant_id().into(), name.into()],
        )
        .await?;
    match row {
        Some(r) => serde_json::from_value(r.try_get("", "template")?)
            .map_err(|e| StoreError::Internal(format!("stored template: {e}"))),
        None => presets()
            .into_iter()
            .find(|t| t.name == name)
            .ok_or(StoreError::NotFound("workflow template")),
    }
}

impl crate::handles::Engine<'_> {
    /// Charter's presets and the tenant's own templates (a tenant template with a
    /// preset's name replaces that preset).
    pub async fn workflow_templates(self, tenant: Uuid) -> Result<(Vec<Template>, Vec<Template>)> {
        let tx = self.tenant_tx(tenant).await?;
        let rows = tx
            .all(
                "SELECT template FROM workflow_templates WHERE tenant_id = $1 ORDER BY name",
                vec![tenant.into()],
            )
            .await?;
        tx.rollback().await?;
        let own: Vec<Template> = rows
            .into_iter()
            .map(|r| {
                serde_json::from_value(r.try_get("", "template")?)
                    .map_err(|e| StoreError::Internal(format!("stored template: {e}")))
            })
            .collect::<Result<_>>()?;
        let presets = charter_core::engine::workflow::presets()
            .into_iter()
            .filter(|p| !own.iter().any(|t| t.name == p.name))
            .collect();
        Ok((presets, own))
    }

    /// Saves a tenant-defined template (a name of a preset overrides it for this tenant).
    pub async fn save_template(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        template: Template,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        template
            .validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, super::SCOPE_AUTHORITY).await?;
                    let value = serde_json::to_value(&template).map_err(|e| StoreError::Internal(e.to_string()))?;
                    tx.exec(
                        "INSERT INTO workflow_templates (tenant_id, name, template) VALUES ($1, $2, $3)
                         ON CONFLICT (tenant_id, name) DO UPDATE SET template = EXCLUDED.template, updated_at = now()",
                        vec![tx.tenant_id().into(), template.name.clone().into(), value.clone().into()],
                    )
                    .await?;
                    let e = Entry::new("template.saved", by.actor()).payload(json!({"template": value}));
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// Starts an initiative with a template (a tenant's or a preset) and a risk score.
    pub async fn create_initiative(
        self,
        tenant: Uuid,
        creator: Party,
        name: String,
        template_name: String,
        risk: u8,
    ) -> Result<(Uuid, Receipt)> {
        if risk > 100 {
            return Err(StoreError::Invalid("risk: 0 to 100".into()));
        }
        let name = charter_core::tenant::display_name(&name, 200)
            .map_err(|e| StoreError::Invalid(format!("name: {e}")))?;
        let id = Uuid::now_v7();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let t = template(tx, &template_name).await?;
                    t.validate().map_err(|e| StoreError::Invalid(e.to_string()))?;
                    let value = serde_json::to_value(&t).map_err(|e| StoreError::Internal(e.to_string()))?;
                    tx.exec(
                        "INSERT INTO initiatives (tenant_id, id, name, template, risk, stage, created_by_type, created_by_id)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        vec![
                            tx.tenant_id().into(),
                            id.into(),
                            name.clone().into(),
                            value.into(),
                            i16::from(risk).into(),
                            t.stages[0].clone().into(),
                            creator.kind().into(),
                            creator.actor().into(),
                        ],
                    )
                    .await?;
                    let gates: Vec<&str> = t.gates_for(risk).iter().map(|g| g.name.as_str()).collect();
                    let mut e = Entry::new("initiative.created", creator.ledger_actor()).payload(json!({
                        "initiative_id": id, "name": name, "template": t.name, "risk": risk,
                        "stage": t.stages[0], "gates": gates,
                    }));
                    e.initiative = Some(id.to_string());
                    Ok((e, ()))
                })
            })
            .await?;
        Ok((id, receipt))
    }

    /// Attaches evidence of `kind` to a gate of an initiative.
    pub async fn submit_evidence(
        self,
        tenant: Uuid,
        by: Party,
        initiative: Uuid,
        gate: String,
        kind: String,
        uri: String,
    ) -> Result<Receipt> {
        if gate.trim().is_empty() || kind.trim().is_empty() {
            return Err(StoreError::Invalid("gate, kind: required".into()));
        }
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    if !tx.exists("initiatives", initiative).await? {
                        return Err(StoreError::NotFound("initiative"));
                    }
                    let id = Uuid::now_v7();
                    tx.exec(
                        "INSERT INTO evidence (tenant_id, id, initiative_id, gate, kind, uri, submitted_by)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        vec![
                            tx.tenant_id().into(),
                            id.into(),
                            initiative.into(),
                            gate.clone().into(),
                            kind.clone().into(),
                            uri.clone().into(),
                            by.actor().into(),
                        ],
                    )
                    .await?;
                    let mut e = Entry::new("evidence.submitted", by.ledger_actor())
                        .payload(json!({"evidence_id": id, "kind": kind, "uri": uri}));
                    e.initiative = Some(initiative.to_string());
                    e.gate = Some(gate);
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }

    /// Moves the initiative to its next stage if every gate in front of it is satisfied;
    /// otherwise nothing moves and the error names what is missing. Both are recorded
    /// only when the move happens (a refusal changes no state).
    pub async fn promote(
        self,
        tenant: Uuid,
        by: Party,
        initiative: Uuid,
    ) -> Result<(String, Receipt)> {
        let (receipt, stage) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let check = check_gates_in(tx, initiative, true).await?;
                    let current = check.stage.clone();
                    let next = check
                        .next_stage
                        .clone()
                        .ok_or_else(|| StoreError::Invalid("the initiative is at the last stage".into()))?;
                    if let Some(g) = check.gates.iter().find(|g| !g.satisfied) {
                        return Err(StoreError::Refused(Code::GateNotPassed, format!(
                            "gate `{}` is not satisfied: {}",
                            g.name,
                            g.missing.join(", ")
                        )));
                    }
                    let passed: Vec<String> = check.gates.iter().map(|g| g.name.clone()).collect();
                    for g in &passed {
                        tx.exec(
                            "INSERT INTO gate_passes (tenant_id, initiative_id, gate) VALUES ($1, $2, $3)
                             ON CONFLICT DO NOTHING",
                            vec![tx.tenant_id().into(), initiative.into(), g.clone().into()],
                        )
                        .await?;
                    }
                    tx.exec(
                        "UPDATE initiatives SET stage = $3 WHERE tenant_id = $1 AND id = $2",
                        vec![tx.tenant_id().into(), initiative.into(), next.clone().into()],
                    )
                    .await?;
                    let mut e = Entry::new("initiative.promoted", by.ledger_actor())
                        .payload(json!({"from": current, "to": next, "gates_passed": passed}));
                    e.initiative = Some(initiative.to_string());
                    Ok((e, next))
                })
            })
            .await?;
        Ok((stage, receipt))
    }

    /// Makes `action` on `resource_type` require `gate` passed in the action's initiative.
    pub async fn bind_action_gate(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        action: String,
        resource_type: String,
        gate: String,
    ) -> Result<Receipt> {
        let by: Acting = by.into();
        let (receipt, ()) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    require_roles(tx, &by, super::SCOPE_AUTHORITY).await?;
                    tx.exec(
                        "INSERT INTO action_gates (tenant_id, action, resource_type, gate) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                        vec![tx.tenant_id().into(), action.clone().into(), resource_type.clone().into(), gate.clone().into()],
                    )
                    .await?;
                    let mut e = Entry::new("action_gate.bound", by.actor())
                        .payload(json!({"action": action, "resource_type": resource_type}));
                    e.gate = Some(gate);
                    Ok((e, ()))
                })
            })
            .await?;
        Ok(receipt)
    }
}

/// What stands between an initiative and its next stage.
#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
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

/// The gates before the initiative's next stage and how far each is; `lock` holds the
/// initiative row for a promotion.
pub(crate) async fn check_gates_in(
    tx: &TenantTx,
    initiative: Uuid,
    lock: bool,
) -> Result<GateCheck> {
    let row = tx
        .one(
            &format!(
                "SELECT template, risk, stage FROM initiatives WHERE tenant_id = $1 AND id = $2{}",
                if lock { " FOR UPDATE" } else { "" }
            ),
            vec![tx.tenant_id().into(), initiative.into()],
        )
        .await?
        .ok_or(StoreError::NotFound("initiative"))?;
    let t: Template = serde_json::from_value(row.try_get("", "template")?)
        .map_err(|e| StoreError::Internal(format!("stored template: {e}")))?;
    let risk = row.try_get::<i16>("", "risk")? as u8;
    let stage: String = row.try_get("", "stage")?;
    let (next, gates) = match t.next_gates(&stage, risk) {
        Ok((next, gates)) => (Some(next), gates),
        Err(WorkflowError::AtEnd) => (None, Vec::new()),
        Err(e) => return Err(StoreError::Invalid(e.to_string())),
    };
    let mut out = Vec::with_capacity(gates.len());
    for gate in gates {
        let approvals = gate_approvals(tx, initiative, &gate.name).await?;
        let evidence: Vec<String> = tx
            .all(
                "SELECT DISTINCT kind FROM evidence WHERE tenant_id = $1 AND initiative_id = $2 AND gate = $3
                 ORDER BY kind",
                vec![tx.tenant_id().into(), initiative.into(), gate.name.clone().into()],
            )
            .await?
            .iter()
            .map(|r| r.try_get("", "kind"))
            .collect::<std::result::Result<_, _>>()?;
        let missing = match satisfied(gate, &approvals, &evidence) {
            Ok(()) => Vec::new(),
            Err(WorkflowError::NotSatisfied { missing, .. }) => {
                missing.split(", ").map(String::from).collect()
            }
            Err(e) => vec![e.to_string()],
        };
        out.push(GateStatus {
            name: gate.name.clone(),
            mandatory: gate.mandatory,
            approvals_required: gate.approvals,
            human_only: gate.human_only,
            evidence_required: gate.evidence.clone(),
            evidence_present: evidence,
            satisfied: missing.is_empty(),
            missing,
        });
    }
    Ok(GateCheck {
        stage,
        can_promote: next.is_some() && out.iter().all(|g| g.satisfied),
        next_stage: next,
        gates: out,
    })
}

impl crate::handles::Engine<'_> {
    /// What stands between the initiative and its next stage (read-only).
    pub async fn check_gates(self, tenant: Uuid, initiative: Uuid) -> Result<GateCheck> {
        let tx = self.tenant_tx(tenant).await?;
        let check = check_gates_in(&tx, initiative, false).await?;
        tx.rollback().await?;
        Ok(check)
    }
}

/// Approvals on record at a gate for the initiative's artifacts, with the approvers'
/// roles (principals' own roles; agents count as `reviewer_agent`).
async fn gate_approvals(tx: &TenantTx, initiative: Uuid, gate: &str) -> Result<Vec<Approval>> {
    let rows = tx
        .all(
            "SELECT DISTINCT v.reviewer_type, v.reviewer_id FROM review_verdicts v
             JOIN reviews r ON r.tenant_id = v.tenant_id AND r.id = v.review_id
             JOIN artifacts a ON a.tenant_id = r.tenant_id AND a.id = r.artifact_id
             WHERE v.tenant_id = $1 AND a.initiative_id = $2 AND r.gate = $3 AND v.verdict = 'approve'",
            vec![tx.tenant_id().into(), initiative.into(), gate.into()],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get("", "reviewer_type")?;
        let id: Uuid = r.try_get("", "reviewer_id")?;
        out.push(if kind == "principal" {
            let p = principals::get(tx, id).await?;
            Approval {
                by_human: true,
                roles: p
                    .roles
                    .iter()
                    .map(|r: &Role| r.as_str().to_string())
                    .collect(),
            }
        } else {
            Approval {
                by_human: false,
                roles: vec!["reviewer_agent".into()],
            }
        });
    }
    Ok(out)
}
