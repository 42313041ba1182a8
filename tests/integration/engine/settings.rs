//! A tenant's own settings: Cedar policies and workflow templates are validated and apply
//! at once; limits and per-agent breaker thresholds.

use super::*;

#[tokio::test]
async fn tenant_policies_are_validated_and_forbid_rules_apply_at_once() {
    let store = store().await;
    let t = tenant(&store, "Policies").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    assert!(
        store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-core", 0))
            .await
            .unwrap()
            .decision
            .is_allowed()
    );
    let catalog = charter_core::policy::Catalog::default();
    let err = store
        .engine()
        .set_tenant_policies(
            t.tenant_id,
            t.owner_id,
            catalog.clone(),
            "permit (principal,\n  action == Charter::Action::\"fly\", resource);".into(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    store
        .engine().set_tenant_policies(
            t.tenant_id,
            t.owner_id,
            catalog,
            "forbid (principal, action == Charter::Action::\"deploy\", resource is Charter::Service)\n  when { resource.id == \"payments-core\" };".into(),
        )
        .await
        .unwrap();
    let d = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("payments-core", 0))
        .await
        .unwrap()
        .decision;
    assert_eq!(d, blocked(Reason::OutOfScope));
    assert!(
        store
            .engine()
            .authorize(t.tenant_id, t.agent_id, deploy("payments-api", 0))
            .await
            .unwrap()
            .decision
            .is_allowed()
    );
}

#[tokio::test]
async fn tenant_templates_are_validated_and_usable() {
    use charter_core::engine::provenance::Party;
    use charter_core::engine::workflow::{Gate, Template};
    let store = store().await;
    let t = tenant(&store, "Templates").await;
    let gate = Gate {
        name: "ship".into(),
        before_stage: "shipped".into(),
        approvals: 1,
        approver_roles: vec![],
        human_only: true,
        evidence: vec![],
        mandatory: true,
        min_risk: 0,
        principal_separation: false,
    };
    let bad = Template {
        name: "ours".into(),
        stages: vec!["only".into()],
        gates: vec![],
    };
    assert!(
        store
            .engine()
            .save_template(t.tenant_id, t.owner_id, bad)
            .await
            .is_err()
    );
    let ours = Template {
        name: "ours".into(),
        stages: vec!["draft".into(), "shipped".into()],
        gates: vec![gate],
    };
    store
        .engine()
        .save_template(t.tenant_id, t.owner_id, ours)
        .await
        .unwrap();
    let by = Party::Principal { id: t.owner_id };
    let (init, _) = store
        .engine()
        .create_initiative(t.tenant_id, by, "x".into(), "ours".into(), 10)
        .await
        .unwrap();
    let err = store
        .engine()
        .promote(t.tenant_id, by, init)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("0 of 1 approvals by humans"),
        "{err}"
    );
}

#[tokio::test]
async fn tenant_limits_and_per_agent_breaker_thresholds() {
    let store = store().await;
    let t = tenant(&store, "Limits").await;
    let a2 = add_agent(&store, t.tenant_id, "agent-2", t.owner_id).await;
    for agent in [t.agent_id, a2] {
        store
            .engine()
            .set_scope(t.tenant_id, agent, scope(None, None), t.owner_id)
            .await
            .unwrap();
    }
    // Three dispatches per cycle for the whole tenant, whichever agent asks.
    store
        .engine()
        .set_tenant_limits(t.tenant_id, t.owner_id, None, Some(3), 3600)
        .await
        .unwrap();
    let mut allowed = 0;
    for i in 0..6 {
        let agent = if i % 2 == 0 { t.agent_id } else { a2 };
        let d = store
            .engine()
            .authorize(t.tenant_id, agent, deploy("payments-api", 0))
            .await
            .unwrap()
            .decision;
        if d.is_allowed() {
            allowed += 1;
        } else {
            assert_eq!(d, blocked(Reason::DispatchLimit));
        }
    }
    assert_eq!(allowed, 3);
    // A threshold of 1 for agent-2 trips on its first failure.
    store
        .engine()
        .set_tenant_limits(t.tenant_id, t.owner_id, None, None, 3600)
        .await
        .unwrap();
    store
        .engine()
        .configure_breaker(t.tenant_id, a2, t.owner_id, 1, 60)
        .await
        .unwrap();
    let a = store
        .engine()
        .authorize(t.tenant_id, a2, deploy("payments-api", 0))
        .await
        .unwrap();
    store
        .engine()
        .report_outcome(t.tenant_id, a2, a.authorization_id, false, None, None)
        .await
        .unwrap();
    let d = store
        .engine()
        .authorize(t.tenant_id, a2, deploy("payments-api", 0))
        .await
        .unwrap()
        .decision;
    assert_eq!(d, blocked(Reason::BreakerOpen));
}
