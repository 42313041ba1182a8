//! Every operation of the OpenAPI document, with a plausible request for it: path
//! parameters filled from a set of ids, and a body that would be accepted where the ids
//! are the caller's own.

use serde_json::{Value, json};
use uuid::Uuid;

/// Ids to put in paths and bodies, by what they name.
#[derive(Clone, Debug)]
pub struct Ids {
    pub user: Uuid,
    pub agent: Uuid,
    pub key: Uuid,
    pub token: Uuid,
    pub initiative: Uuid,
    pub artifact: Uuid,
    pub review: Uuid,
    pub approval: Uuid,
    pub request: Uuid,
    pub violation: Uuid,
    pub audit: Uuid,
    pub webhook: Uuid,
    pub system: Uuid,
    pub export: Uuid,
    pub hold: Uuid,
    pub seq: u64,
}

impl Ids {
    /// Ids that exist nowhere.
    pub fn random() -> Ids {
        let r = Uuid::new_v4;
        Ids {
            user: r(),
            agent: r(),
            key: r(),
            token: r(),
            initiative: r(),
            artifact: r(),
            review: r(),
            approval: r(),
            request: r(),
            violation: r(),
            audit: r(),
            webhook: r(),
            system: r(),
            export: r(),
            hold: r(),
            seq: 1 << 40,
        }
    }
}

/// An operation: method and path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub method: String,
    pub path: String,
}

impl Op {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Public operations (no credentials).
    pub fn public(&self) -> bool {
        ["/api/v1/signup", "/api/v1/auth/", "/api/v1/invitations/"]
            .iter()
            .any(|p| self.path.starts_with(p))
    }

    pub fn has_params(&self) -> bool {
        self.path.contains('{')
    }

    /// The path with its parameters filled in.
    pub fn url(&self, ids: &Ids) -> String {
        let mut p = self.path.clone();
        for (name, value) in [
            ("{user_id}", ids.user.to_string()),
            ("{agent_id}", ids.agent.to_string()),
            ("{key_id}", ids.key.to_string()),
            ("{token_id}", ids.token.to_string()),
            ("{initiative_id}", ids.initiative.to_string()),
            ("{artifact_id}", ids.artifact.to_string()),
            ("{review_id}", ids.review.to_string()),
            ("{approval_id}", ids.approval.to_string()),
            ("{request_id}", ids.request.to_string()),
            ("{violation_id}", ids.violation.to_string()),
            ("{audit_id}", ids.audit.to_string()),
            ("{webhook_id}", ids.webhook.to_string()),
            ("{system_id}", ids.system.to_string()),
            ("{export_id}", ids.export.to_string()),
            ("{hold_id}", ids.hold.to_string()),
            ("{seq}", ids.seq.to_string()),
            ("{name}", "ci".to_string()),
        ] {
            p = p.replace(name, &value);
        }
        assert!(!p.contains('{'), "unfilled parameter in {p}");
        if self.path == "/api/v1/ledger/consistency" {
            p.push_str("?first=1&second=2");
        }
        p
    }

    /// A body for the operation (`None` for operations without one); `ids` go where the
    /// body names something.
    pub fn body(&self, ids: &Ids) -> Option<Value> {
        let unique = Uuid::new_v4().simple().to_string();
        let scope = json!({"grants": [{"actions": ["read"], "resource_type": "Service", "id_pattern": "*"}]});
        let b = match (self.method.as_str(), self.path.as_str()) {
            ("POST", "/api/v1/users") => {
                json!({"email": format!("u{unique}@x.example"), "roles": ["viewer"]})
            }
            ("PATCH", "/api/v1/users/{user_id}") => json!({"display_name": "Renamed"}),
            ("POST", "/api/v1/api-tokens") => json!({"name": "ci", "roles": ["viewer"]}),
            ("POST", "/api/v1/agents") => {
                json!({"name": format!("a-{unique}"), "responsible_principal_id": ids.user})
            }
            ("PUT", "/api/v1/agents/{agent_id}/scope") => scope,
            ("PUT", "/api/v1/agents/{agent_id}/breaker") => {
                json!({"threshold": 3, "cooldown_secs": 60})
            }
            ("POST", "/api/v1/agents/{agent_id}/keys") => json!({"label": "k"}),
            ("PUT", "/api/v1/policies") | ("POST", "/api/v1/policies/validate") => json!({
                "catalog": {"resource_types": ["Service"], "actions": [["read", []], ["deploy", []]]},
                "policies": "",
            }),
            ("POST", "/api/v1/simulate") => json!({
                "agent_id": ids.agent, "action": "read", "resource_type": "Service",
                "resource_id": "payments-api",
            }),
            ("PUT", "/api/v1/limits") => json!({"cycle_secs": 3600}),
            ("POST", "/api/v1/action-gates") => {
                json!({"action": "deploy", "resource_type": "Service", "gate": "release"})
            }
            ("POST", "/api/v1/approval-rules") => {
                json!({"action": "send", "resource_type": "Service"})
            }
            ("PUT", "/api/v1/workflow-templates/{name}") => json!({
                "name": "ci", "stages": ["build", "release"],
                "gates": [{"name": "release", "before_stage": "release", "approvals": 1}],
            }),
            ("POST", "/api/v1/initiatives") => {
                json!({"name": "Launch", "template": "startup", "risk": 10})
            }
            ("POST", "/api/v1/initiatives/{initiative_id}/evidence") => {
                json!({"gate": "release", "kind": "unit_test"})
            }
            ("POST", "/api/v1/artifacts") => json!({
                "kind": "changeset", "digest": "sha256:abc", "derived_from": [ids.artifact],
                "initiative_id": ids.initiative,
            }),
            ("POST", "/api/v1/reviews/{review_id}/verdict") => {
                json!({"verdict": "approve", "digest": "sha256:abc"})
            }
            ("POST", "/api/v1/action-approvals/{approval_id}/verdict")
            | ("POST", "/api/v1/scope-change-requests/{request_id}/verdict") => {
                json!({"verdict": "approve"})
            }
            ("POST", "/api/v1/webhooks") => json!({
                "url": "https://hooks.example.com/charter", "events": ["violation.found"],
            }),
            ("PATCH", "/api/v1/webhooks/{webhook_id}") => json!({"description": "renamed"}),
            ("POST", "/api/v1/ai-systems") => json!({
                "name": format!("System {unique}"), "intended_purpose": "Triage of support tickets",
                "provider": "Acme AI", "deployer": "Acme", "high_risk": false,
                "contact": "ai@acme.example", "agents": [ids.agent],
            }),
            ("PATCH", "/api/v1/ai-systems/{system_id}") => {
                json!({"contact": "office@acme.example"})
            }
            ("POST", "/api/v1/exports") => json!({
                "system_id": ids.system, "from": "2026-01-01", "to": "2026-12-31",
                "purpose": "operation_monitoring",
            }),
            ("PUT", "/api/v1/retention") => json!({"retention_days": 3653}),
            ("POST", "/api/v1/billing/checkout") => json!({"plan": "team"}),
            ("POST", "/api/v1/legal-holds") => {
                json!({"system_id": ids.system, "reason": "a matter"})
            }
            ("POST", "/api/v1/violations/{violation_id}/resolve") => {
                json!({"resolution": "handled"})
            }
            _ => return None,
        };
        Some(b)
    }
}

/// Every operation in the served OpenAPI document.
pub async fn operations(app: &charter_tests::TestApp) -> Vec<Op> {
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut ops = Vec::new();
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(op) = item.get(method) {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(
                    !id.is_empty() && operation_ids.insert(id.clone()),
                    "operationId {id:?} of {method} {path}"
                );
                ops.push(Op {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                });
            }
        }
    }
    assert!(ops.len() > 50, "only {} operations", ops.len());
    ops
}
