//! The demo tenant's example, so that a newcomer who logs in sees ALLOWED, BLOCKED and
//! PENDING_APPROVAL at once and can approve something in the first minute. Everything is
//! made through the store's ordinary operations, so it is in the ledger like real work:
//!
//! - an operations lead (an admin who does not log in) answers for two of the three agents, so the
//!   owner is outside their chains and may approve their work (separation of duties);
//! - `demo-agent` (the owner's) handles support tickets and deploys to staging;
//!   `billing-agent` refunds payments, each refund needing a person's approval;
//!   `research-agent` writes release notes in a `release` workflow whose `review` gate
//!   guards merging;
//! - a few decisions of each outcome, a pending action approval and a pending review.

use charter_core::engine::provenance::Separation;
use charter_core::engine::workflow::{Gate, Template};
use charter_core::policy::{Grant, Scope};
use charter_core::tenant::{Email, Role};
use serde_json::json;
use uuid::Uuid;

use crate::admin::users::NewUser;
use crate::engine::ActionRequest;
use crate::engine::reviews::NewArtifact;
use crate::{Result, StoreError};

fn grant(actions: &[&str], resource_type: &str, id_pattern: &str) -> Grant {
    Grant {
        actions: actions.iter().map(|a| a.to_string()).collect(),
        resource_type: resource_type.into(),
        id_pattern: id_pattern.into(),
    }
}

fn request(
    action: &str,
    resource_type: &str,
    id: &str,
    spend: i64,
    args: serde_json::Value,
) -> ActionRequest {
    ActionRequest {
        action: action.into(),
        resource_type: resource_type.into(),
        resource_id: id.into(),
        spend,
        idempotency_key: None,
        arguments: args,
        initiative: None,
        task: None,
    }
}

impl crate::handles::Admin<'_> {
    /// Seeds `tenant` (whose owner is `owner` and whose first agent is `support_agent`)
    /// with the example above.
    pub async fn seed_demo(self, tenant: Uuid, owner: Uuid, support_agent: Uuid) -> Result<()> {
        let invalid = |e: charter_core::tenant::NameError| StoreError::Invalid(e.to_string());
        let (lead, _) = self
            .add_user(
                tenant,
                owner,
                NewUser {
                    email: Email::parse("ops-lead@demo.localhost").map_err(invalid)?,
                    display_name: "Operations lead".into(),
                    roles: vec![Role::Admin],
                    // Active (agents need an active person to answer for them), with a
                    // password nobody is told: the demo logs in as the owner.
                    password_hash: Some(
                        crate::passwords::hash(
                            charter_core::password::generate()
                                .map_err(|e| StoreError::Internal(e.to_string()))?,
                        )
                        .await?,
                    ),
                },
            )
            .await?;
        let billing = self
            .create_agent(
                tenant,
                owner,
                "billing-agent".into(),
                "Issues refunds; every refund waits for a person's approval".into(),
                lead.id,
            )
            .await?
            .id;
        let research = self
            .create_agent(
                tenant,
                owner,
                "research-agent".into(),
                "Drafts release notes; merging them needs a reviewed artifact".into(),
                lead.id,
            )
            .await?
            .id;
        let engine = self.engine();
        let scopes = [
            (
                support_agent,
                vec![
                    grant(&["read", "update"], "Ticket", "*"),
                    grant(&["send"], "Message", "*"),
                    grant(&["deploy"], "Service", "staging-*"),
                ],
            ),
            (billing, vec![grant(&["read", "spend"], "Payment", "*")]),
            (
                research,
                vec![
                    grant(&["read", "merge"], "Repository", "docs"),
                    grant(&["create", "update"], "Document", "*"),
                ],
            ),
        ];
        for (agent, grants) in scopes {
            let scope = Scope {
                grants,
                may_direct: vec![],
                spend_limit: Some(100_000),
                dispatch_limit: None,
            };
            engine.set_scope(tenant, agent, scope, owner).await?;
        }
        engine
            .require_approval(
                tenant,
                owner,
                "spend".into(),
                "Payment".into(),
                Some(1),
                Some(86_400),
            )
            .await?;
        let template = Template {
            name: "release".into(),
            stages: vec!["draft".into(), "published".into()],
            gates: vec![Gate {
                name: "review".into(),
                before_stage: "published".into(),
                approvals: 1,
                approver_roles: vec![],
                human_only: true,
                evidence: vec![],
                mandatory: true,
                min_risk: 0,
                principal_separation: false,
            }],
        };
        engine.save_template(tenant, owner, template).await?;
        engine
            .bind_action_gate(
                tenant,
                owner,
                "merge".into(),
                "Repository".into(),
                "review".into(),
            )
            .await?;

        let decisions = [
            (
                support_agent,
                request(
                    "read",
                    "Ticket",
                    "T-1042",
                    0,
                    json!({"fields": ["subject", "history"]}),
                ),
            ),
            (
                support_agent,
                request(
                    "update",
                    "Ticket",
                    "T-1042",
                    0,
                    json!({"status": "resolved", "comment": "Refund requested for the duplicate charge."}),
                ),
            ),
            (
                support_agent,
                request(
                    "send",
                    "Message",
                    "customer-1042",
                    0,
                    json!({"channel": "email", "template": "refund-on-its-way"}),
                ),
            ),
            (
                support_agent,
                request(
                    "deploy",
                    "Service",
                    "staging-web",
                    0,
                    json!({"version": "2.4.0-rc1"}),
                ),
            ),
            (
                support_agent,
                request(
                    "deploy",
                    "Service",
                    "production-web",
                    0,
                    json!({"version": "2.4.0-rc1"}),
                ),
            ),
            (
                support_agent,
                request(
                    "delete",
                    "Database",
                    "customers",
                    0,
                    json!({"reason": "cleanup"}),
                ),
            ),
            (
                billing,
                request(
                    "spend",
                    "Payment",
                    "refund-1042",
                    4900,
                    json!({"amount": 4900, "currency": "EUR", "customer": "cus_1042", "reason": "duplicate charge"}),
                ),
            ),
        ];
        for (agent, req) in decisions {
            engine.authorize(tenant, agent, req).await?;
        }

        let writer = engine.agent_as_party(tenant, research).await?;
        let (initiative, _) = engine
            .create_initiative(
                tenant,
                writer,
                "Release notes 2.4".into(),
                "release".into(),
                30,
            )
            .await?;
        let (artifact, _) = engine
            .register_artifact(
                tenant,
                writer,
                NewArtifact {
                    kind: "document".into(),
                    digest: format!("sha256:{}", "3f".repeat(32)),
                    uri: "docs://release-notes/2.4.md".into(),
                    derived_from: vec![],
                    task: None,
                    initiative: Some(initiative),
                },
            )
            .await?;
        engine
            .request_review(
                tenant,
                writer,
                artifact,
                Some("review".into()),
                Separation::Standard,
            )
            .await?;
        let mut merge = request(
            "merge",
            "Repository",
            "docs",
            0,
            json!({"branch": "release-notes-2.4"}),
        );
        merge.initiative = Some(initiative);
        engine.authorize(tenant, research, merge).await?;
        Ok(())
    }
}
