//! Budgets split down delegation chains, tried through the MCP endpoint and the REST API:
//! a task's limits are reserved out of its delegator's room, spend under it counts all the
//! way up, what a closed task did not use returns, and concurrent requests across a chain
//! never spend more than any link has.

use charter_core::policy::{Grant, Scope};
use charter_tests::mcp::{Client, refusal};
use charter_tests::rest::{call, login};
use charter_tests::{Provisioned, TestApp, add_agent, agent_key, spawn_app, tenant};
use futures::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

fn scope(spend: Option<i64>, dispatches: Option<i64>, directs: &[Uuid]) -> Scope {
    Scope {
        grants: vec![Grant {
            actions: vec!["deploy".into()],
            resource_type: "Service".into(),
            id_pattern: "payments-*".into(),
        }],
        may_direct: directs.iter().map(Uuid::to_string).collect(),
        spend_limit: spend,
        dispatch_limit: dispatches,
    }
}

fn deploy(spend: i64, task: Option<&str>) -> Value {
    json!({"action": "deploy", "resource_type": "Service", "resource_id": "payments-api",
           "spend": spend, "task": task})
}

/// The decision, or the refusal's reason.
fn outcome(r: &Value) -> String {
    match refusal(r) {
        Some(reason) => reason.to_string(),
        None => r["structuredContent"]["decision"]
            .as_str()
            .unwrap()
            .to_string(),
    }
}

struct Chain<'a> {
    app: &'a TestApp,
    t: Provisioned,
    keys: Vec<String>,
    agents: Vec<Uuid>,
}

impl<'a> Chain<'a> {
    /// Agents 0 → 1 → 2 …, each with `limits[i]` of its own and allowed to direct the next.
    async fn new(app: &'a TestApp, limits: &[(Option<i64>, Option<i64>)]) -> Chain<'a> {
        let t = tenant(&app.store, "Budget").await;
        let mut agents = vec![t.agent_id];
        for i in 1..limits.len() {
            agents
                .push(add_agent(&app.store, t.tenant_id, &format!("worker-{i}"), t.owner_id).await);
        }
        let mut keys = vec![t.api_key.expose().to_string()];
        for (i, (spend, dispatches)) in limits.iter().enumerate() {
            let next: Vec<Uuid> = agents.get(i + 1).copied().into_iter().collect();
            app.store
                .engine()
                .set_scope(
                    t.tenant_id,
                    agents[i],
                    scope(*spend, *dispatches, &next),
                    t.owner_id,
                )
                .await
                .unwrap();
            if i > 0 {
                keys.push(agent_key(&app.store, t.tenant_id, agents[i]).await);
            }
        }
        Chain {
            app,
            t,
            keys,
            agents,
        }
    }

    fn client(&self, i: usize) -> Client<'a> {
        Client::stateless(self.app, &self.t.slug, &self.keys[i])
    }

    async fn owner_token(&self) -> String {
        let t = &self.t;
        let s = login(self.app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
        s["access_token"].as_str().unwrap().to_string()
    }

    async fn ask(&self, i: usize, spend: i64, task: Option<&str>) -> String {
        outcome(
            &self
                .client(i)
                .tool("authorize_action", deploy(spend, task))
                .await,
        )
    }

    async fn delegate(&self, from: usize, args: Value) -> Value {
        let mut args = args;
        args["assignee_agent_id"] = json!(self.agents[from + 1]);
        self.client(from).tool("delegate_task", args).await
    }
}

fn task_id(r: &Value) -> String {
    assert_eq!(r["isError"], false, "{r}");
    r["structuredContent"]["task_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_delegated_budget_is_split_from_its_delegator() {
    let app = spawn_app().await;
    let c = Chain::new(&app, &[(Some(1000), None), (None, None)]).await;
    let t1 = task_id(&c.delegate(0, json!({"spend_limit": 300})).await);
    assert_eq!(c.ask(1, 300, Some(&t1)).await, "ALLOWED");
    assert_eq!(c.ask(1, 1, Some(&t1)).await, "budget_exceeded");
    // The delegator's own room is what it has not given away: 1,000 − 300.
    assert_eq!(c.ask(0, 800, None).await, "budget_exceeded");
    assert_eq!(c.ask(0, 700, None).await, "ALLOWED");
    assert_eq!(c.ask(0, 1, None).await, "budget_exceeded");
}

#[tokio::test]
async fn a_task_is_never_given_more_than_its_delegator_has_left() {
    let app = spawn_app().await;
    let c = Chain::new(&app, &[(Some(1000), None), (None, None)]).await;
    let r = c.delegate(0, json!({"spend_limit": 2000})).await;
    assert_eq!(refusal(&r), Some("budget_exceeded"), "{r}");
    let message = r["structuredContent"]["message"].as_str().unwrap();
    assert!(message.contains("exceeds the 1000"), "{message}");
    // Nothing was reserved: the whole budget is still there.
    assert_eq!(c.ask(0, 1000, None).await, "ALLOWED");
    let r = c.delegate(0, json!({"spend_limit": 1})).await;
    assert_eq!(refusal(&r), Some("budget_exceeded"), "{r}");
}

#[tokio::test]
async fn what_a_closed_task_did_not_use_returns_to_its_delegator() {
    let app = spawn_app().await;
    let c = Chain::new(&app, &[(Some(1000), None), (None, None)]).await;
    let t1 = task_id(&c.delegate(0, json!({"spend_limit": 300})).await);
    assert_eq!(c.ask(1, 100, Some(&t1)).await, "ALLOWED");
    assert_eq!(c.ask(0, 800, None).await, "budget_exceeded");
    let done = c
        .client(1)
        .tool(
            "complete_task",
            json!({"task_id": t1, "success": true, "result": {}}),
        )
        .await;
    assert_eq!(done["isError"], false, "{done}");
    // 1,000 − the 100 used under the task.
    assert_eq!(c.ask(0, 901, None).await, "budget_exceeded");
    assert_eq!(c.ask(0, 900, None).await, "ALLOWED");
}

#[tokio::test]
async fn dispatch_limits_split_the_same_way_and_the_rest_api_agrees() {
    let app = spawn_app().await;
    let c = Chain::new(&app, &[(None, Some(3)), (None, None)]).await;
    let r = c.delegate(0, json!({"dispatch_limit": 4})).await;
    assert_eq!(refusal(&r), Some("dispatch_limit"), "{r}");
    let t1 = task_id(&c.delegate(0, json!({"dispatch_limit": 2})).await);
    assert_eq!(c.ask(0, 0, None).await, "ALLOWED");
    assert_eq!(c.ask(0, 0, None).await, "dispatch_limit");
    assert_eq!(c.ask(1, 0, Some(&t1)).await, "ALLOWED");
    assert_eq!(c.ask(1, 0, Some(&t1)).await, "ALLOWED");
    assert_eq!(c.ask(1, 0, Some(&t1)).await, "dispatch_limit");
    // The REST simulator makes the engine's own decision.
    let owner = c.owner_token().await;
    let mut ask = deploy(0, None);
    ask["agent_id"] = json!(c.agents[0]);
    let sim = call(&app, Some(&owner), "POST", "/api/v1/simulate", Some(ask)).await;
    assert_eq!(sim.body["decision"], "BLOCKED", "{:?}", sim.body);
    assert_eq!(sim.body["reason"], "dispatch_limit");
}

#[tokio::test]
async fn concurrent_requests_across_a_chain_never_overspend_any_link() {
    let app = spawn_app().await;
    // A (1,000) → B (task of 300) → C (task of 100); each agent's own limit is no tighter.
    let c = Chain::new(
        &app,
        &[(Some(1000), None), (Some(1000), None), (Some(1000), None)],
    )
    .await;
    let t1 = task_id(&c.delegate(0, json!({"spend_limit": 300})).await);
    let t2 = task_id(
        &c.delegate(1, json!({"spend_limit": 100, "parent_task_id": t1}))
            .await,
    );
    // 60 requests of 50 at once, 20 per agent: A has 700 of its own (14), B 200 under its
    // task once C's 100 is set aside (4), C 100 (2).
    let asks = (0..60).map(|n| {
        let (who, task) = match n % 3 {
            0 => (0, None),
            1 => (1, Some(t1.clone())),
            _ => (2, Some(t2.clone())),
        };
        let c = &c;
        async move { (who, c.ask(who, 50, task.as_deref()).await) }
    });
    let results = join_all(asks).await;
    let allowed = |who| {
        results
            .iter()
            .filter(|(w, d)| *w == who && d == "ALLOWED")
            .count()
    };
    assert_eq!(
        (allowed(0), allowed(1), allowed(2)),
        (14, 4, 2),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|(_, d)| d == "ALLOWED" || d == "budget_exceeded"),
        "{results:?}"
    );
    // The store agrees: each task's spend, and A's use this cycle (everything).
    let tx = app.store.tenant_tx(c.t.tenant_id).await.unwrap();
    let rows = charter_tests::query(
        tx.raw(),
        "SELECT (SELECT spent FROM tasks WHERE id = $1::uuid) AS t1,
                (SELECT spent FROM tasks WHERE id = $2::uuid) AS t2,
                (SELECT sum(spend)::bigint FROM budget_usage WHERE subject = $3) AS a",
        vec![t1.into(), t2.into(), c.agents[0].to_string().into()],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let get = |k| {
        rows[0]
            .try_get::<Option<i64>>("", k)
            .unwrap()
            .unwrap_or_default()
    };
    assert_eq!((get("t1"), get("t2"), get("a")), (300, 100, 1000));
}
