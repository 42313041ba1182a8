//! Gates in the database: an action bound to a gate is blocked until the initiative has
//! passed it; promotion past an unsatisfied gate is refused and names what is missing; a
//! low risk score skips optional gates but never the mandatory release gate.

use charter_core::engine::decision::{Decision, Reason};
use charter_core::engine::provenance::{Party, Separation};
use charter_core::policy::{Grant, Scope};
use charter_core::tenant::Role;
use charter_store::engine::ActionRequest;
use charter_store::engine::reviews::{NewArtifact, agent_party};
use charter_tests::{add_agent, add_principal, query, store, tenant};
use serde_json::json;

#[tokio::test]
async fn deploy_is_blocked_until_the_release_gate_is_passed() {
    let store = store().await;
    let t = tenant(&store, "Gates").await;
    let bob = add_principal(&store, t.tenant_id, "bob@gates.example", Role::Approver).await;
    let reviewer = add_agent(&store, t.tenant_id, "reviewer", bob).await;
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let a1 = agent_party(&tx, t.agent_id).await.unwrap();
    let b1 = agent_party(&tx, reviewer).await.unwrap();
    tx.commit().await.unwrap();
    let scope = Scope {
        grants: vec![Grant {
            actions: vec!["deploy".into()],
            resource_type: "Service".into(),
            id_pattern: "*".into(),
        }],
        ..Scope::default()
    };
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope, t.owner_id)
        .await
        .unwrap();
    store
        .engine()
        .bind_action_gate(
            t.tenant_id,
            t.owner_id,
            "deploy".into(),
            "Service".into(),
            "release".into(),
        )
        .await
        .unwrap();
    let (initiative, _) = store
        .engine()
        .create_initiative(t.tenant_id, a1, "payments v2".into(), "startup".into(), 0)
        .await
        .unwrap();
    let deploy = || ActionRequest {
        action: "deploy".into(),
        resource_type: "Service".into(),
        resource_id: "payments-api".into(),
        spend: 0,
        idempotency_key: None,
        arguments: json!({}),
        initiative: Some(initiative),
        task: None,
    };
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy())
        .await
        .unwrap();
    assert_eq!(
        a.decision,
        Decision::Blocked {
            reason: Reason::GateNotPassed
        }
    );
    let mut no_initiative = deploy();
    no_initiative.initiative = None;
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, no_initiative)
        .await
        .unwrap();
    assert_eq!(
        a.decision,
        Decision::Blocked {
            reason: Reason::GateNotPassed
        }
    );

    // Risk 0 skips the optional design gate; the stages up to release need nothing.
    for expect in ["design", "implementation", "verification", "hardening"] {
        let (stage, _) = store
            .engine()
            .promote(t.tenant_id, a1, initiative)
            .await
            .unwrap();
        assert_eq!(stage, expect);
    }
    // The mandatory release gate is not skipped, and says what is missing.
    let err = store
        .engine()
        .promote(t.tenant_id, a1, initiative)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("gate_not_passed")
            && msg.contains("0 of 1 approvals")
            && msg.contains("evidence `unit_test`"),
        "{msg}"
    );

    // The work, a review by another principal's agent, and the evidence.
    let (artifact, _) = store
        .engine()
        .register_artifact(
            t.tenant_id,
            a1,
            NewArtifact {
                kind: "changeset".into(),
                digest: "sha256:r1".into(),
                uri: String::new(),
                derived_from: vec![],
                task: None,
                initiative: Some(initiative),
            },
        )
        .await
        .unwrap();
    let (review, _) = store
        .engine()
        .request_review(
            t.tenant_id,
            a1,
            artifact,
            Some("release".into()),
            Separation::Standard,
        )
        .await
        .unwrap();
    // The producer cannot approve its own work at the gate…
    let (own, _) = store
        .engine()
        .submit_verdict(t.tenant_id, a1, review, "sha256:r1".into(), true)
        .await
        .unwrap();
    assert!(matches!(
        own,
        charter_store::engine::reviews::VerdictOutcome::Refused { .. }
    ));
    let err = store
        .engine()
        .promote(t.tenant_id, a1, initiative)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("0 of 1 approvals"), "{err}");
    // …the reviewer agent can.
    store
        .engine()
        .submit_verdict(t.tenant_id, b1, review, "sha256:r1".into(), true)
        .await
        .unwrap();
    let err = store
        .engine()
        .promote(t.tenant_id, a1, initiative)
        .await
        .unwrap_err();
    assert!(
        !err.to_string().contains("approvals") && err.to_string().contains("unit_test"),
        "{err}"
    );
    store
        .engine()
        .submit_evidence(
            t.tenant_id,
            a1,
            initiative,
            "release".into(),
            "unit_test".into(),
            "ci://run/1".into(),
        )
        .await
        .unwrap();
    let (stage, _) = store
        .engine()
        .promote(t.tenant_id, Party::Principal { id: t.owner_id }, initiative)
        .await
        .unwrap();
    assert_eq!(stage, "release");
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy())
        .await
        .unwrap();
    assert!(a.decision.is_allowed(), "{a:?}");

    // The skipped and applied gates are on the record.
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT record FROM ledger_records WHERE kind = 'initiative.created'",
        vec![],
    )
    .await
    .unwrap();
    let rec: String = rows[0].try_get("", "record").unwrap();
    assert!(rec.contains("\"gates\":[\"release\"]"), "{rec}");
}
