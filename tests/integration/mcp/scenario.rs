//! The review-and-deploy scenario over MCP, end to end, over legacy sessions and over
//! stateless requests.

use super::*;

/// The end-to-end scenario: initiative, artifact, review, refused self-approval, a second
/// agent's approval, promotion, the guarded action ALLOWED with a verifiable receipt, an
/// out-of-scope action BLOCKED — and the reads and delegation tools around it.
async fn scenario(stateless: bool) {
    let app = spawn_app().await;
    let s = scenario_tenant(&app.store, "Scenario").await;
    let (slug, producer_key) = (s.t.slug.clone(), s.t.api_key.expose().to_string());
    let (mut producer, mut reviewer) = if stateless {
        (
            Client::stateless(&app, &slug, &producer_key),
            Client::stateless(&app, &slug, &s.reviewer_key),
        )
    } else {
        (
            Client::new(&app, &slug, &producer_key),
            Client::new(&app, &slug, &s.reviewer_key),
        )
    };
    producer.initialize().await;
    reviewer.initialize().await;
    let ok = |r: &Value| {
        assert_eq!(r["isError"], false, "{r}");
        r["structuredContent"].clone()
    };
    let init = ok(&producer
        .tool(
            "create_initiative",
            json!({"name": "payments v2", "template": SCENARIO_TEMPLATE, "risk": 50}),
        )
        .await);
    let initiative = init["initiative_id"].clone();
    // Not yet: the action is bound to the release gate.
    let deploy = json!({"action": "deploy", "resource_type": "Service", "resource_id": "payments-api",
                        "initiative": initiative, "spend": 1});
    let early = producer.tool("authorize_action", deploy.clone()).await;
    assert_eq!(
        early["structuredContent"]["reason"], "gate_not_passed",
        "{early}"
    );
    let digest = format!("sha256:{}", "ab".repeat(32));
    let artifact = ok(&producer
        .tool(
            "register_artifact",
            json!({"kind": "code", "digest": digest, "uri": "git://payments@v2", "initiative_id": initiative}),
        )
        .await)["artifact_id"]
        .clone();
    let review = ok(&producer
        .tool(
            "request_review",
            json!({"artifact_id": artifact, "gate": SCENARIO_GATE}),
        )
        .await)["review_id"]
        .clone();
    // Promotion is refused while the gate lacks its approval.
    let gates = ok(&producer
        .tool("check_gates", json!({"initiative_id": initiative}))
        .await);
    assert_eq!(gates["can_promote"], false);
    assert_eq!(gates["gates"][0]["missing"][0], "0 of 1 approvals");
    let refused = producer
        .tool("promote_gate", json!({"initiative_id": initiative}))
        .await;
    assert_eq!(refused["structuredContent"]["reason"], "gate_not_passed");
    // The reviewer is offered the review; the producer is not.
    let offered = ok(&reviewer.tool("list_review_requests", json!({})).await);
    assert!(
        offered["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["review_id"] == review)
    );
    let own = ok(&producer.tool("list_review_requests", json!({})).await);
    assert!(
        !own["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["review_id"] == review)
    );
    // Self-approval is refused, recorded, and shows up as a violation.
    let selfie = producer
        .tool(
            "submit_review",
            json!({"review_id": review, "digest": digest, "approve": true}),
        )
        .await;
    assert_eq!(selfie["isError"], true);
    assert_eq!(selfie["structuredContent"]["reason"], "self_approval");
    let v = ok(&producer.tool("list_violations", json!({})).await);
    assert_eq!(v["violations"][0]["kind"], "self_approval");
    let v = ok(&producer
        .tool("list_violations", json!({"initiative_id": initiative}))
        .await);
    assert_eq!(v["violations"].as_array().unwrap().len(), 1);
    let pending = ok(&producer
        .tool(
            "await_decision",
            json!({"review_id": review, "timeout_secs": 0}),
        )
        .await);
    assert_eq!(pending["decided"], false);
    // The second agent approves; the wait ends.
    let approved = ok(&reviewer
        .tool(
            "submit_review",
            json!({"review_id": review, "digest": digest, "approve": true}),
        )
        .await);
    assert_eq!(approved["status"], "approved");
    let decided = ok(&producer
        .tool(
            "await_decision",
            json!({"review_id": review, "timeout_secs": 5}),
        )
        .await);
    assert_eq!(
        (decided["decided"].clone(), decided["status"].clone()),
        (json!(true), json!("approved"))
    );
    let promoted = ok(&producer
        .tool("promote_gate", json!({"initiative_id": initiative}))
        .await);
    assert_eq!(promoted["stage"], "release");
    let view = ok(&producer
        .tool("get_initiative", json!({"initiative_id": initiative}))
        .await);
    assert_eq!(view["gates_passed"], json!([SCENARIO_GATE]));
    assert_eq!(view["scorecard"]["reviews_approved"], 1);
    assert!(view["history"].as_array().unwrap().len() >= 5);
    let lineage = ok(&producer
        .tool("get_provenance", json!({"artifact_id": artifact}))
        .await);
    assert_eq!(lineage["reviews"][0]["status"], "approved");
    // The guarded action is now allowed, with a receipt that verifies.
    let allowed = ok(&producer.tool("authorize_action", deploy).await);
    assert_eq!(allowed["decision"], "ALLOWED");
    let check = ok(&producer
        .tool(
            "verify_receipt",
            json!({"seq": allowed["seq"], "record_hash": allowed["record_hash"],
                   "signature": allowed["signature"], "key_id": allowed["key_id"]}),
        )
        .await);
    assert_eq!(check["valid"], true);
    let blocked = producer
        .tool(
            "authorize_action",
            json!({"action": "deploy", "resource_type": "Service", "resource_id": "billing-api"}),
        )
        .await;
    assert_eq!(blocked["isError"], true);
    assert_eq!(blocked["structuredContent"]["decision"], "BLOCKED");
    assert_eq!(blocked["structuredContent"]["reason"], "out_of_scope");
    // Delegation: idempotent, narrowed budget, closed by the assignee.
    let args = json!({"assignee_agent_id": s.reviewer_id, "spend_limit": 10, "deadline_secs": 3600,
                      "idempotency_key": "d-1"});
    let task = ok(&producer.tool("delegate_task", args.clone()).await);
    let again = ok(&producer.tool("delegate_task", args).await);
    assert_eq!(again["task_id"], task["task_id"]);
    assert_eq!(
        (again["replayed"].clone(), again["seq"].clone()),
        (json!(true), task["seq"].clone())
    );
    let ctx = ok(&reviewer.tool("get_context", json!({})).await);
    assert_eq!(ctx["open_tasks"][0]["task_id"], task["task_id"]);
    assert_eq!(ctx["open_tasks"][0]["spend_limit"], 10);
    let not_mine = producer
        .tool(
            "complete_task",
            json!({"task_id": task["task_id"], "success": true}),
        )
        .await;
    assert_eq!(not_mine["structuredContent"]["reason"], "forbidden");
    let closed = ok(&reviewer
        .tool(
            "complete_task",
            json!({"task_id": task["task_id"], "success": true, "result": {"ok": 1}}),
        )
        .await);
    assert_eq!(closed["status"], "completed");
    // The ledger tells the story, a page at a time.
    let page = ok(&producer
        .tool(
            "query_ledger",
            json!({"initiative_id": initiative, "limit": 3}),
        )
        .await);
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    let next = ok(&producer
        .tool(
            "query_ledger",
            json!({"initiative_id": initiative, "before_seq": page["next_before_seq"]}),
        )
        .await);
    assert!(next["entries"][0]["seq"].as_i64() < page["entries"][2]["seq"].as_i64());
    let decisions = ok(&producer
        .tool(
            "query_ledger",
            json!({"kind": "decision", "decision": "BLOCKED"}),
        )
        .await);
    assert_eq!(decisions["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_scenario_over_legacy_sessions() {
    scenario(false).await;
}

#[tokio::test]
async fn the_scenario_over_stateless_requests() {
    scenario(true).await;
}
