//! Authority only narrows: an agent cannot widen its own scope, delegation narrows down a
//! chain, approvals are bound to the exact arguments and used up, budgets split down a
//! chain, tasks close once and expire.

use super::*;

#[tokio::test]
async fn an_agent_cannot_widen_its_own_scope_only_a_principal_with_authority_can() {
    let store = store().await;
    let t = tenant(&store, "Widen").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    // A viewer exists in the tenant.
    let viewer = add_principal(
        &store,
        t.tenant_id,
        "viewer@widen.example",
        charter_core::tenant::Role::Viewer,
    )
    .await;

    let mut wider = scope(None, None);
    wider.grants[0].id_pattern = "*".into();
    let (request, receipt) = store
        .engine()
        .request_scope_change(
            t.tenant_id,
            t.agent_id,
            wider.clone(),
            "need billing too".into(),
        )
        .await
        .unwrap();
    // Asking changes nothing.
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("billing-api", 0))
        .await
        .unwrap();
    assert_eq!(a.decision, blocked(Reason::OutOfScope));
    // Neither a viewer's approval nor a viewer's direct edit goes through.
    let err = store
        .engine()
        .decide_scope_change(t.tenant_id, request, viewer, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Forbidden(_)),
        "{err}"
    );
    let err = store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, wider, viewer)
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Forbidden(_)),
        "{err}"
    );
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("billing-api", 0))
        .await
        .unwrap();
    assert_eq!(a.decision, blocked(Reason::OutOfScope));
    // The owner approves: now it is allowed, and both steps are records.
    let approved = store
        .engine()
        .decide_scope_change(t.tenant_id, request, t.owner_id, true)
        .await
        .unwrap();
    let a = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, deploy("billing-api", 0))
        .await
        .unwrap();
    assert!(a.decision.is_allowed());
    let again = store
        .engine()
        .decide_scope_change(t.tenant_id, request, t.owner_id, false)
        .await
        .unwrap_err();
    assert!(
        matches!(again, charter_store::StoreError::Conflict(_)),
        "{again}"
    );
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let asked = charter_store::ledger::read::record(&tx, receipt.seq)
        .await
        .unwrap();
    assert!(asked.body().contains("\"kind\":\"scope_change.requested\""));
    assert!(asked.body().contains(&format!(
        "\"actor\":{{\"id\":\"{}\",\"type\":\"agent\"}}",
        t.agent_id
    )));
    let ok = charter_store::ledger::read::record(&tx, approved.seq)
        .await
        .unwrap();
    assert!(ok.body().contains("\"kind\":\"scope_change.approved\""));
    assert!(ok.body().contains(&t.owner_id.to_string()));
}

#[tokio::test]
async fn delegation_only_narrows_authority_down_a_chain_of_three() {
    use charter_core::engine::provenance::Party;
    let store = store().await;
    let t = tenant(&store, "Delegation").await;
    let a2 = add_agent(&store, t.tenant_id, "agent-2", t.owner_id).await;
    let a3 = add_agent(&store, t.tenant_id, "agent-3", t.owner_id).await;
    let outsider = add_agent(&store, t.tenant_id, "outsider", t.owner_id).await;
    let grant = |pattern: &str| Grant {
        actions: vec!["deploy".into()],
        resource_type: "Service".into(),
        id_pattern: pattern.into(),
    };
    // a1: payments-*, may direct a2. a2: payments-api-* and billing-*, may direct a3.
    // a3: everything.
    let s1 = Scope {
        grants: vec![grant("payments-*")],
        may_direct: vec![a2.to_string()],
        ..Scope::default()
    };
    let s2 = Scope {
        grants: vec![grant("payments-api*"), grant("billing-*")],
        may_direct: vec![a3.to_string()],
        ..Scope::default()
    };
    let s3 = Scope {
        grants: vec![grant("*")],
        ..Scope::default()
    };
    for (agent, s) in [(t.agent_id, s1), (a2, s2), (a3, s3)] {
        store
            .engine()
            .set_scope(t.tenant_id, agent, s, t.owner_id)
            .await
            .unwrap();
    }
    let party = |id| Party::Agent {
        id,
        on_behalf_of: t.owner_id,
    };
    // Directing an agent the scope does not name is refused.
    let err = store
        .engine()
        .delegate_task(t.tenant_id, party(t.agent_id), outsider, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("out_of_scope"), "{err}");
    let (t1, _) = store
        .engine()
        .delegate_task(t.tenant_id, party(t.agent_id), a2, None)
        .await
        .unwrap();
    let (t2, _) = store
        .engine()
        .delegate_task(t.tenant_id, party(a2), a3, Some(t1))
        .await
        .unwrap();
    // Someone else's task cannot be delegated further.
    let err = store
        .engine()
        .delegate_task(t.tenant_id, party(t.agent_id), a2, Some(t2))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("task it holds"), "{err}");

    let under = |service: &str, task: Option<Uuid>| {
        let mut r = deploy(service, 0);
        r.task = task;
        r
    };
    // a3 on its own may deploy anything; under the chain only what a1 and a2 both allow.
    assert!(
        store
            .engine()
            .authorize(t.tenant_id, a3, under("billing-api", None))
            .await
            .unwrap()
            .decision
            .is_allowed()
    );
    for (service, allowed) in [
        ("payments-api-v2", true),
        ("payments-db", false),
        ("billing-api", false),
        ("other", false),
    ] {
        let d = store
            .engine()
            .authorize(t.tenant_id, a3, under(service, Some(t2)))
            .await
            .unwrap()
            .decision;
        assert_eq!(d.is_allowed(), allowed, "{service}: {d:?}");
        if !allowed {
            assert_eq!(d, blocked(Reason::OutOfScope));
        }
    }
    // Only the assignee may act under a task.
    let d = store
        .engine()
        .authorize(t.tenant_id, a2, under("payments-api-v2", Some(t2)))
        .await
        .unwrap()
        .decision;
    assert_eq!(d, blocked(Reason::InvalidRequest));
}

#[tokio::test]
async fn approvals_are_bound_to_the_exact_arguments_and_used_up() {
    let store = store().await;
    let t = tenant(&store, "Approvals").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    store
        .engine()
        .require_approval(
            t.tenant_id,
            t.owner_id,
            "deploy".into(),
            "Service".into(),
            Some(1),
            Some(3600),
        )
        .await
        .unwrap();
    let mut v1 = deploy("payments-api", 0);
    v1.arguments = json!({"version": "1.2.3", "region": "eu"});
    let first = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, v1.clone())
        .await
        .unwrap();
    let Decision::PendingApproval { review_id } = first.decision.clone() else {
        panic!("{first:?}")
    };
    assert_eq!(
        first.message.as_deref(),
        Some(Reason::ApprovalRequired.sentence())
    );
    // Asking again before the decision points at the same request.
    let again = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, v1.clone())
        .await
        .unwrap();
    assert_eq!(again.decision, first.decision);
    let approval: Uuid = review_id.parse().unwrap();
    store
        .engine()
        .decide_action_approval(t.tenant_id, approval, t.owner_id, true)
        .await
        .unwrap();
    // Other arguments are not covered.
    let mut v2 = v1.clone();
    v2.arguments = json!({"version": "6.6.6", "region": "eu"});
    let other = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, v2)
        .await
        .unwrap();
    assert!(
        matches!(other.decision, Decision::PendingApproval { ref review_id } if *review_id != approval.to_string())
    );
    // The same arguments, spelled differently, are; the single use is then spent.
    let mut same = v1.clone();
    same.arguments = json!({"region": "eu", "version": "1.2.3"});
    let ok = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, same)
        .await
        .unwrap();
    assert!(ok.decision.is_allowed(), "{ok:?}");
    let spent = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, v1)
        .await
        .unwrap();
    assert!(
        matches!(spent.decision, Decision::PendingApproval { .. }),
        "{spent:?}"
    );
    // Deciding twice is refused, and an agent's responsible principal needs a role.
    let err = store
        .engine()
        .decide_action_approval(t.tenant_id, approval, t.owner_id, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Conflict(_)),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_approval_no_longer_allows() {
    let store = store().await;
    let t = tenant(&store, "Expiry").await;
    store
        .engine()
        .set_scope(t.tenant_id, t.agent_id, scope(None, None), t.owner_id)
        .await
        .unwrap();
    store
        .engine()
        .require_approval(
            t.tenant_id,
            t.owner_id,
            "deploy".into(),
            "Service".into(),
            None,
            Some(1),
        )
        .await
        .unwrap();
    let req = deploy("payments-api", 0);
    let Decision::PendingApproval { review_id } = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, req.clone())
        .await
        .unwrap()
        .decision
    else {
        panic!("approval required")
    };
    store
        .engine()
        .decide_action_approval(t.tenant_id, review_id.parse().unwrap(), t.owner_id, true)
        .await
        .unwrap();
    // Unlimited uses while valid…
    for _ in 0..3 {
        assert!(
            store
                .engine()
                .authorize(t.tenant_id, t.agent_id, req.clone())
                .await
                .unwrap()
                .decision
                .is_allowed()
        );
    }
    // …and none after the time limit.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let d = store
        .engine()
        .authorize(t.tenant_id, t.agent_id, req)
        .await
        .unwrap()
        .decision;
    assert!(matches!(d, Decision::PendingApproval { .. }), "{d:?}");
}

#[tokio::test]
async fn budgets_split_down_a_chain_of_three() {
    use charter_core::engine::provenance::Party;
    let store = store().await;
    let t = tenant(&store, "TaskBudget").await;
    let a2 = add_agent(&store, t.tenant_id, "agent-2", t.owner_id).await;
    let a3 = add_agent(&store, t.tenant_id, "agent-3", t.owner_id).await;
    for (agent, directs) in [(t.agent_id, Some(a2)), (a2, Some(a3)), (a3, None)] {
        let mut s = scope(None, None);
        s.may_direct = directs.map(|d| vec![d.to_string()]).unwrap_or_default();
        store
            .engine()
            .set_scope(t.tenant_id, agent, s, t.owner_id)
            .await
            .unwrap();
    }
    let party = |id| Party::Agent {
        id,
        on_behalf_of: t.owner_id,
    };
    let owner = Party::Principal { id: t.owner_id };
    let (t1, _) = store
        .engine()
        .delegate_task_with_budget(t.tenant_id, owner, t.agent_id, None, Some(100))
        .await
        .unwrap();
    let err = store
        .engine()
        .delegate_task_with_budget(t.tenant_id, party(t.agent_id), a2, Some(t1), Some(150))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("exceeds the 100 the parent task has left"),
        "{err}"
    );
    let (t2, _) = store
        .engine()
        .delegate_task_with_budget(t.tenant_id, party(t.agent_id), a2, Some(t1), Some(60))
        .await
        .unwrap();
    // No limit given: the child gets what the parent has left.
    let (t3, _) = store
        .engine()
        .delegate_task_with_budget(t.tenant_id, party(a2), a3, Some(t2), None)
        .await
        .unwrap();
    let spend = |agent, task, amount| {
        let store = store.clone();
        async move {
            let mut r = deploy("payments-api", amount);
            r.task = Some(task);
            store
                .engine()
                .authorize(t.tenant_id, agent, r)
                .await
                .unwrap()
                .decision
        }
    };
    assert!(spend(a3, t3, 40).await.is_allowed());
    assert_eq!(
        spend(a3, t3, 40).await,
        blocked(Reason::BudgetExceeded),
        "60 - 40 leaves 20"
    );
    assert!(spend(a3, t3, 20).await.is_allowed());
    // The spend counted up the chain: t1 has 100 - 60 left.
    assert!(spend(t.agent_id, t1, 40).await.is_allowed());
    assert_eq!(
        spend(t.agent_id, t1, 1).await,
        blocked(Reason::BudgetExceeded)
    );
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT spend_limit, spent FROM tasks ORDER BY depth",
        vec![],
    )
    .await
    .unwrap();
    let got: Vec<(Option<i64>, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "spend_limit").unwrap(),
                r.try_get("", "spent").unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![(Some(100), 100), (Some(60), 60), (Some(60), 60)]);
}

#[tokio::test]
async fn tasks_close_once_by_their_assignee_and_expire_past_their_deadline() {
    use charter_core::engine::provenance::Party;
    let store = store().await;
    let t = tenant(&store, "Tasks").await;
    let a2 = add_agent(&store, t.tenant_id, "agent-2", t.owner_id).await;
    store
        .engine()
        .set_scope(t.tenant_id, a2, scope(None, None), t.owner_id)
        .await
        .unwrap();
    let owner = Party::Principal { id: t.owner_id };
    let (done, _) = store
        .engine()
        .delegate_task(t.tenant_id, owner, a2, None)
        .await
        .unwrap();
    let err = store
        .engine()
        .complete_task(t.tenant_id, t.agent_id, done, true, json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Forbidden(_)),
        "{err}"
    );
    store
        .engine()
        .complete_task(t.tenant_id, a2, done, true, json!({"pr": 42}))
        .await
        .unwrap();
    let err = store
        .engine()
        .complete_task(t.tenant_id, a2, done, false, json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, charter_store::StoreError::Conflict(_)),
        "{err}"
    );

    let (late, _) = store
        .engine()
        .delegate_task(t.tenant_id, owner, a2, None)
        .await
        .unwrap();
    store
        .engine()
        .set_task_deadline(
            t.tenant_id,
            late,
            chrono::Utc::now() - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    let summary = charter_worker::jobs::expire_tasks(store.clone())
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(summary.contains("tasks expired"), "{summary}");
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let rows = query(
        tx.raw(),
        "SELECT id, status FROM tasks ORDER BY created_at",
        vec![],
    )
    .await
    .unwrap();
    let statuses: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("", "status").unwrap())
        .collect();
    assert_eq!(statuses, ["completed", "expired"]);
    tx.rollback().await.unwrap();
    // Nothing may be done under an ended task.
    for task in [done, late] {
        let mut r = deploy("payments-api", 0);
        r.task = Some(task);
        let d = store
            .engine()
            .authorize(t.tenant_id, a2, r)
            .await
            .unwrap()
            .decision;
        assert_eq!(d, blocked(Reason::InvalidRequest));
    }
}
