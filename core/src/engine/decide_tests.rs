//! The ladder of checks, without a database: the order of the checks, the chain rules and
//! the budget split, including a randomised run that tries to overspend a chain.

use std::collections::HashSet;

use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::engine::breaker::State;
use crate::engine::budget::Limits;
use crate::status::SubscriptionStatus;

/// Permits everything except what is listed as `(agent, resource_id)`.
#[derive(Default)]
struct Denies(HashSet<(Uuid, String)>);

impl Authority for Denies {
    fn permits(&self, agent: Uuid, _: &str, _: &str, _: &str, resource_id: &str) -> bool {
        !self.0.contains(&(agent, resource_id.to_string()))
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
}

fn spend_limit(l: i64) -> Limits {
    Limits {
        spend: Some(l),
        dispatches: None,
    }
}

fn agent_facts(limits: Limits) -> AgentFacts {
    AgentFacts {
        name: "agent".into(),
        status: AgentStatus::Active,
        responsible: Uuid::new_v4(),
        breaker: Breaker::new(3, Duration::seconds(60)),
        budget: Budget {
            limits,
            ..Budget::default()
        },
    }
}

struct World {
    facts: Facts,
    auth: Denies,
}

impl World {
    fn new() -> World {
        World {
            facts: Facts::new(now(), sub(SubscriptionStatus::Active), Budget::default()),
            auth: Denies::default(),
        }
    }

    fn agent(&mut self, limits: Limits) -> Uuid {
        let id = Uuid::new_v4();
        self.facts.agents.insert(id, agent_facts(limits));
        id
    }

    /// A task from `from` to `to`, reserving its limits in the delegator and the parent as
    /// the store's read would report them.
    fn task(&mut self, from: Delegator, to: Uuid, parent: Option<Uuid>, limits: Limits) -> Uuid {
        let id = Uuid::new_v4();
        let reservation = limits.reservation(Amount::default());
        if let Delegator::Agent(a) = from {
            let b = &mut self.facts.agents.get_mut(&a).unwrap().budget;
            b.reserved = b.reserved.plus(reservation);
        }
        if let Some(p) = parent {
            let b = &mut self.facts.tasks.get_mut(&p).unwrap().budget;
            b.reserved = b.reserved.plus(reservation);
        }
        self.facts.tasks.insert(
            id,
            TaskFacts {
                id,
                parent,
                delegator: from,
                assignee: to,
                status: TaskStatus::Open,
                deadline: None,
                budget: Budget {
                    limits,
                    ..Budget::default()
                },
            },
        );
        id
    }

    fn ask(&mut self, agent: Uuid, spend: i64, task: Option<Uuid>) -> Decision {
        self.ask_with(agent, spend, task, |_| {})
    }

    fn ask_with(
        &mut self,
        agent: Uuid,
        spend: i64,
        task: Option<Uuid>,
        edit: impl FnOnce(&mut Request),
    ) -> Decision {
        let mut req = Request {
            agent,
            action: "deploy",
            resource_type: "Service",
            resource_id: "payments-api",
            spend,
            task,
            args_digest: "sha256:00",
            missing_gates: 0,
            needs_approval: false,
            new_approval: Uuid::new_v4(),
        };
        edit(&mut req);
        let out = decide(&self.facts, &self.auth, &req).unwrap();
        self.facts.apply(&req, &out);
        out.decision
    }
}

fn sub(status: SubscriptionStatus) -> Subscription {
    Subscription {
        status,
        ..Subscription::unlimited()
    }
}

fn blocked(reason: Reason) -> Decision {
    Decision::Blocked { reason }
}

#[test]
fn the_first_failing_check_is_the_answer() {
    // Everything is wrong at first; fixing one thing at a time reveals the next check.
    let mut w = World::new();
    let a = w.agent(spend_limit(10));
    let other = w.agent(Limits::default());
    let t = w.task(Delegator::Agent(other), other, None, Limits::default());
    w.facts.subscription = sub(SubscriptionStatus::Canceled);
    w.facts.agents.get_mut(&a).unwrap().status = AgentStatus::Suspended;
    {
        let b = &mut w.facts.agents.get_mut(&a).unwrap().breaker;
        b.state = State::Open;
        b.opened_at = Some(now());
    }
    w.auth.0.insert((a, "payments-api".into()));
    let ask = |w: &mut World| {
        w.ask_with(a, 50, Some(t), |r| {
            r.missing_gates = 1;
            r.needs_approval = true;
        })
    };
    assert_eq!(ask(&mut w), blocked(Reason::SubscriptionInactive));
    // A trial is live until its end, to the millisecond.
    w.facts.subscription = sub(SubscriptionStatus::Trialing);
    w.facts.subscription.trial_ends_at = Some(now());
    assert_eq!(ask(&mut w), blocked(Reason::SubscriptionInactive));
    w.facts.subscription.trial_ends_at = Some(now() + chrono::Duration::milliseconds(1));
    w.facts.quota = Some(Quota { limit: 3, used: 3 });
    assert_eq!(ask(&mut w), blocked(Reason::PlanQuotaExceeded));
    w.facts.quota = None;
    assert_eq!(ask(&mut w), blocked(Reason::AgentSuspended));
    w.facts.agents.get_mut(&a).unwrap().status = AgentStatus::Active;
    assert_eq!(ask(&mut w), blocked(Reason::BreakerOpen));
    w.facts.agents.get_mut(&a).unwrap().breaker.state = State::Closed;
    assert_eq!(ask(&mut w), blocked(Reason::OutOfScope));
    w.auth.0.clear();
    // The task is another agent's.
    assert_eq!(ask(&mut w), blocked(Reason::InvalidRequest));
    w.facts.tasks.get_mut(&t).unwrap().assignee = a;
    assert_eq!(ask(&mut w), blocked(Reason::GateNotPassed));
    let d = w.ask_with(a, 50, Some(t), |r| r.needs_approval = true);
    assert!(matches!(d, Decision::PendingApproval { .. }), "{d:?}");
    assert_eq!(w.ask(a, 50, Some(t)), blocked(Reason::BudgetExceeded));
    assert_eq!(w.ask(a, 10, Some(t)), Decision::Allowed);
}

#[test]
fn a_cooled_breaker_admits_half_open_and_the_transition_is_kept_even_when_refused() {
    let mut w = World::new();
    let a = w.agent(spend_limit(0));
    {
        let b = &mut w.facts.agents.get_mut(&a).unwrap().breaker;
        b.state = State::Open;
        b.opened_at = Some(now() - Duration::seconds(61));
    }
    let req = Request {
        agent: a,
        action: "deploy",
        resource_type: "Service",
        resource_id: "x",
        spend: 5,
        task: None,
        args_digest: "d",
        missing_gates: 0,
        needs_approval: false,
        new_approval: Uuid::new_v4(),
    };
    let out = decide(&w.facts, &w.auth, &req).unwrap();
    assert_eq!(out.decision, blocked(Reason::BudgetExceeded));
    assert_eq!(out.transition.map(|t| t.to), Some(State::HalfOpen));
    assert!(out.plan.is_none());
    w.facts.apply(&req, &out);
    assert_eq!(w.facts.agents[&a].breaker.state, State::HalfOpen);
    assert!(w.facts.changes().breakers.contains(&a));
    assert!(w.facts.changes().used.is_empty());
}

#[test]
fn an_unknown_agent_is_not_a_decision() {
    let w = World::new();
    let req = Request {
        agent: Uuid::new_v4(),
        action: "a",
        resource_type: "T",
        resource_id: "r",
        spend: 0,
        task: None,
        args_digest: "d",
        missing_gates: 0,
        needs_approval: false,
        new_approval: Uuid::new_v4(),
    };
    assert_eq!(
        decide(&w.facts, &w.auth, &req).unwrap_err(),
        NotDecided::UnknownAgent
    );
}

#[test]
fn every_task_up_the_chain_must_be_open_and_every_delegator_permitted() {
    let mut w = World::new();
    let (a, b, c) = (
        w.agent(Limits::default()),
        w.agent(Limits::default()),
        w.agent(Limits::default()),
    );
    let t1 = w.task(Delegator::Agent(a), b, None, Limits::default());
    let t2 = w.task(Delegator::Agent(b), c, Some(t1), Limits::default());
    assert_eq!(w.ask(c, 0, Some(t2)), Decision::Allowed);
    // Only the assignee acts under a task.
    assert_eq!(w.ask(b, 0, Some(t2)), blocked(Reason::InvalidRequest));
    // An ended parent ends the authority of every task below it.
    for status in [
        TaskStatus::Expired,
        TaskStatus::Completed,
        TaskStatus::Failed,
    ] {
        w.facts.tasks.get_mut(&t1).unwrap().status = status;
        assert_eq!(w.ask(c, 0, Some(t2)), blocked(Reason::InvalidRequest));
    }
    w.facts.tasks.get_mut(&t1).unwrap().status = TaskStatus::Open;
    // So does a deadline passed before the worker marked the task expired.
    w.facts.tasks.get_mut(&t1).unwrap().deadline = Some(now());
    assert_eq!(w.ask(c, 0, Some(t2)), blocked(Reason::InvalidRequest));
    w.facts.tasks.get_mut(&t1).unwrap().deadline = Some(now() + Duration::seconds(1));
    assert_eq!(w.ask(c, 0, Some(t2)), Decision::Allowed);
    // Authority narrows: a delegator that may not take the action takes it from the chain.
    w.auth.0.insert((a, "payments-api".into()));
    assert_eq!(w.ask(c, 0, Some(t2)), blocked(Reason::OutOfScope));
    // ... but not from c acting on its own.
    assert_eq!(w.ask(c, 0, None), Decision::Allowed);
    // An unknown task, or a chain whose parent is missing, is no authority.
    assert_eq!(
        w.ask(c, 0, Some(Uuid::new_v4())),
        blocked(Reason::InvalidRequest)
    );
    w.facts.tasks.get_mut(&t2).unwrap().parent = Some(Uuid::new_v4());
    assert_eq!(w.ask(c, 0, Some(t2)), blocked(Reason::InvalidRequest));
}

#[test]
fn a_delegated_budget_is_split_from_the_delegators() {
    // A (1,000) delegates 300 to B; B spends 300; A's own 800 no longer fits.
    let mut w = World::new();
    let a = w.agent(spend_limit(1000));
    let b = w.agent(Limits::default());
    let t = w.task(Delegator::Agent(a), b, None, spend_limit(300));
    assert_eq!(w.facts.agents[&a].budget.left().spend, Some(700));
    assert_eq!(w.ask(b, 300, Some(t)), Decision::Allowed);
    assert_eq!(w.ask(b, 1, Some(t)), blocked(Reason::BudgetExceeded));
    assert_eq!(w.ask(a, 800, None), blocked(Reason::BudgetExceeded));
    assert_eq!(w.ask(a, 700, None), Decision::Allowed);
    assert_eq!(w.ask(a, 1, None), blocked(Reason::BudgetExceeded));
    let used = &w.facts.changes().used;
    assert_eq!(used[&Holder::Agent(a)].spend, 1000);
    assert_eq!(used[&Holder::Agent(b)].spend, 300);
    assert_eq!(used[&Holder::Task(t)].spend, 300);
    assert_eq!(used[&Holder::Tenant].spend, 1000);
}

#[test]
fn a_task_without_limits_spends_from_its_delegator() {
    let mut w = World::new();
    let a = w.agent(spend_limit(100));
    let b = w.agent(Limits::default());
    let t = w.task(Delegator::Agent(a), b, None, Limits::default());
    assert_eq!(w.ask(b, 60, Some(t)), Decision::Allowed);
    assert_eq!(w.ask(b, 41, Some(t)), blocked(Reason::BudgetExceeded));
    assert_eq!(w.ask(a, 41, None), blocked(Reason::BudgetExceeded));
    assert_eq!(w.ask(a, 40, None), Decision::Allowed);
}

#[test]
fn dispatch_limits_split_the_same_way() {
    let mut w = World::new();
    let dispatches = |n| Limits {
        spend: None,
        dispatches: Some(n),
    };
    let a = w.agent(dispatches(3));
    let b = w.agent(Limits::default());
    let t = w.task(Delegator::Agent(a), b, None, dispatches(2));
    assert_eq!(w.ask(a, 0, None), Decision::Allowed);
    assert_eq!(w.ask(a, 0, None), blocked(Reason::DispatchLimit));
    assert_eq!(w.ask(b, 0, Some(t)), Decision::Allowed);
    assert_eq!(w.ask(b, 0, Some(t)), Decision::Allowed);
    assert_eq!(w.ask(b, 0, Some(t)), blocked(Reason::DispatchLimit));
}

#[test]
fn the_tenant_limit_holds_over_every_agent() {
    let mut w = World::new();
    w.facts.tenant.limits = spend_limit(50);
    let a = w.agent(Limits::default());
    let b = w.agent(Limits::default());
    assert_eq!(w.ask(a, 30, None), Decision::Allowed);
    assert_eq!(w.ask(b, 30, None), blocked(Reason::BudgetExceeded));
    assert_eq!(w.ask(b, 20, None), Decision::Allowed);
}

#[test]
fn approvals_are_bound_used_up_and_reopened() {
    let mut w = World::new();
    let a = w.agent(Limits::default());
    let ask = |w: &mut World, digest: &'static str| {
        w.ask_with(a, 0, None, |r| {
            r.needs_approval = true;
            r.args_digest = digest;
        })
    };
    let Decision::PendingApproval { review_id } = ask(&mut w, "d1") else {
        panic!("expected a pending approval")
    };
    // Asking again waits for the same request.
    assert_eq!(
        ask(&mut w, "d1"),
        Decision::PendingApproval {
            review_id: review_id.clone()
        }
    );
    assert_eq!(w.facts.changes().opened.len(), 1);
    let id: Uuid = review_id.parse().unwrap();
    let ap = w.facts.approvals.iter_mut().find(|x| x.id == id).unwrap();
    ap.status = ReviewStatus::Approved;
    ap.uses_left = Some(1);
    // Other arguments are another request.
    assert!(matches!(
        ask(&mut w, "d2"),
        Decision::PendingApproval { review_id: r } if r != review_id
    ));
    assert_eq!(ask(&mut w, "d1"), Decision::Allowed);
    assert_eq!(w.facts.changes().consumed, vec![id]);
    // Used up: a new request is opened.
    assert!(matches!(
        ask(&mut w, "d1"),
        Decision::PendingApproval { review_id: r } if r != review_id
    ));
}

#[test]
fn an_approval_is_not_used_by_a_refused_action() {
    let mut w = World::new();
    let a = w.agent(spend_limit(5));
    w.facts.approvals.push(ApprovalFacts {
        id: Uuid::new_v4(),
        agent: a,
        action: "deploy".into(),
        resource_type: "Service".into(),
        resource_id: "payments-api".into(),
        digest: "sha256:00".into(),
        status: ReviewStatus::Approved,
        uses_left: Some(1),
        expires_at: Some(now() + Duration::seconds(5)),
    });
    let d = w.ask_with(a, 6, None, |r| r.needs_approval = true);
    assert_eq!(d, blocked(Reason::BudgetExceeded));
    assert!(w.facts.changes().consumed.is_empty());
    assert_eq!(w.facts.approvals[0].uses_left, Some(1));
    // Expired: waits for a new one.
    w.facts.approvals[0].expires_at = Some(now());
    let d = w.ask_with(a, 1, None, |r| r.needs_approval = true);
    assert!(matches!(d, Decision::PendingApproval { .. }));
}

/// A small deterministic generator (no dependency needed for this).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn no_sequence_of_actions_overspends_any_link_of_a_chain() {
    // A (1,000) → B (task 300) → C (task 100), every agent also spending on its own; B and
    // C also have limits of their own. Whatever the order, no budget is exceeded, and every
    // refusal is because some link had no room.
    for seed in 1..300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut w = World::new();
        let a = w.agent(spend_limit(1000));
        let b = w.agent(spend_limit(500));
        let c = w.agent(spend_limit(150));
        let t1 = w.task(Delegator::Agent(a), b, None, spend_limit(300));
        let t2 = w.task(Delegator::Agent(b), c, Some(t1), spend_limit(100));
        let (mut spent_a, mut spent_b, mut spent_c) = (0i64, 0i64, 0i64);
        let (mut under_t1, mut under_t2) = (0i64, 0i64);
        for _ in 0..60 {
            let amount = rng.below(120) as i64;
            let (who, task) = match rng.below(5) {
                0 => (a, None),
                1 => (b, None),
                2 => (b, Some(t1)),
                3 => (c, None),
                _ => (c, Some(t2)),
            };
            let d = w.ask(who, amount, task);
            if d.is_allowed() {
                match (who, task) {
                    (x, None) if x == a => spent_a += amount,
                    (x, None) if x == b => spent_b += amount,
                    (_, Some(t)) if t == t1 => under_t1 += amount,
                    (_, None) => spent_c += amount,
                    _ => under_t2 += amount,
                }
            } else {
                assert_eq!(d, blocked(Reason::BudgetExceeded));
            }
        }
        // Each link's total: what it did itself and everything done below it.
        assert!(under_t2 <= 100, "t2 {under_t2}");
        assert!(under_t1 + under_t2 <= 300, "t1 {under_t1} + {under_t2}");
        assert!(spent_c + under_t2 <= 150, "c");
        assert!(spent_b + under_t1 + under_t2 <= 500, "b");
        assert!(spent_a + 300.max(under_t1 + under_t2) <= 1000, "a");
        let used = &w.facts.changes().used;
        let got = |h| used.get(&h).map_or(0, |x: &Amount| x.spend);
        assert_eq!(got(Holder::Agent(a)), spent_a + under_t1 + under_t2);
        assert_eq!(got(Holder::Task(t1)), under_t1 + under_t2);
        assert_eq!(got(Holder::Task(t2)), under_t2);
    }
}

#[test]
fn the_monthly_quota_counts_the_run_and_not_its_own_refusals() {
    let mut w = World::new();
    let a = w.agent(Limits::default());
    w.facts.quota = Some(Quota { limit: 2, used: 1 });
    assert_eq!(w.ask(a, 0, None), Decision::Allowed);
    // The run's own decision used the last one.
    assert_eq!(w.ask(a, 0, None), blocked(Reason::PlanQuotaExceeded));
    assert_eq!(w.ask(a, 0, None), blocked(Reason::PlanQuotaExceeded));
    assert_eq!(w.facts.changes().decisions, 1);
    // Out-of-scope and other refusals are decisions, and count.
    w.facts.quota = None;
    w.auth.0.insert((a, "payments-api".into()));
    assert_eq!(w.ask(a, 0, None), blocked(Reason::OutOfScope));
    assert_eq!(w.facts.changes().decisions, 2);
}
