//! The decision, as a pure function: [`decide`] answers one request from the [`Facts`] the
//! store read for a run of requests, and [`Facts::apply`] accounts for its effects, so the
//! next request of the run sees them. No database, no clock: the store reads the facts
//! (one statement per run), calls these, and writes what [`Facts::changes`] lists.
//!
//! The checks, in order (the first that fails is the answer; `docs/concepts.md` states
//! them for users):
//! 1. the tenant's subscription allows actions (`subscription_inactive`) and its plan's
//!    decisions for the month are not used up (`plan_quota_exceeded`);
//! 2. the agent is not suspended (`agent_suspended`) and its breaker admits it
//!    (`breaker_open`; an open breaker past its cool-down turns half-open here);
//! 3. its scope permits the action on the resource (`out_of_scope`); under a task, the task
//!    is the agent's and every task up the chain is open (`invalid_request`), and every
//!    agent that delegated along the chain may take the action too (`out_of_scope`);
//! 4. every gate bound to the action is passed in the initiative (`gate_not_passed`), and
//!    an action that needs an approval has a valid one for these exact arguments, or waits
//!    for one (`PENDING_APPROVAL`);
//! 5. every budget the action counts against has room (`dispatch_limit`, then
//!    `budget_exceeded`; see [`super::budget`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::breaker::{Breaker, Transition};
use super::budget::{self, Amount, Budget, Holder, Link, Plan, Quantity};
use super::decision::{Decision, Reason};
use crate::billing::Subscription;
use crate::status::{AgentStatus, ReviewStatus, TaskStatus};

/// Who delegated a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delegator {
    Agent(Uuid),
    Principal(Uuid),
}

impl Delegator {
    pub fn agent(&self) -> Option<Uuid> {
        match self {
            Delegator::Agent(a) => Some(*a),
            Delegator::Principal(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentFacts {
    /// Its name, for policies that match on it.
    pub name: String,
    pub status: AgentStatus,
    pub responsible: Uuid,
    pub breaker: Breaker,
    /// Its scope's limits per cycle, what it used this cycle and what its open tasks reserve.
    pub budget: Budget,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskFacts {
    pub id: Uuid,
    pub parent: Option<Uuid>,
    pub delegator: Delegator,
    pub assignee: Uuid,
    pub status: TaskStatus,
    pub deadline: Option<DateTime<Utc>>,
    /// The task's own limits, what was used under it and what its open sub-tasks reserve.
    pub budget: Budget,
}

impl TaskFacts {
    /// Open, and not past its deadline (even before the worker marks it expired).
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.status == TaskStatus::Open && self.deadline.is_none_or(|d| d > now)
    }
}

/// An action approval that matches a request of the run (same agent, action, resource and
/// arguments' digest).
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalFacts {
    pub id: Uuid,
    pub agent: Uuid,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub digest: String,
    pub status: ReviewStatus,
    /// Uses left (`None`: unlimited).
    pub uses_left: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl ApprovalFacts {
    fn valid(&self, now: DateTime<Utc>) -> bool {
        self.status == ReviewStatus::Approved
            && self.uses_left.is_none_or(|u| u > 0)
            && self.expires_at.is_none_or(|e| e > now)
    }
}

/// Everything the checks of a run need, and what the run's decisions changed so far.
#[derive(Debug, Clone)]
pub struct Facts {
    pub now: DateTime<Utc>,
    pub subscription: Subscription,
    /// The plan's decisions this month, when it limits them.
    pub quota: Option<Quota>,
    pub tenant: Budget,
    pub agents: HashMap<Uuid, AgentFacts>,
    pub tasks: HashMap<Uuid, TaskFacts>,
    /// Newest first.
    pub approvals: Vec<ApprovalFacts>,
    changes: Changes,
}

/// What a run's decisions changed, for the store to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Added use per budget holder.
    pub used: HashMap<Holder, Amount>,
    /// Agents whose breaker changed (their new state is in the facts).
    pub breakers: HashSet<Uuid>,
    /// Approvals used once each time they appear.
    pub consumed: Vec<Uuid>,
    /// Approval requests opened.
    pub opened: Vec<ApprovalFacts>,
    /// Decisions that count towards the month's usage (all but those refused for the
    /// subscription or the quota itself).
    pub decisions: i64,
}

/// A plan's monthly decisions: how many it allows and how many are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: i64,
    pub used: i64,
}

/// One request, with what the store found about it alone.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub agent: Uuid,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub spend: i64,
    pub task: Option<Uuid>,
    /// The digest of the exact arguments (approvals are bound to it).
    pub args_digest: &'a str,
    /// Gates bound to this action that the initiative has not passed.
    pub missing_gates: u32,
    pub needs_approval: bool,
    /// The id an approval request opened for this request gets.
    pub new_approval: Uuid,
}

/// Whether an agent's scope (and the tenant's policies) permit an action on a resource.
pub trait Authority {
    fn permits(
        &self,
        agent: Uuid,
        name: &str,
        action: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> bool;
}

/// How a decision involves an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalUse {
    /// Allowed with this approval: one of its uses is spent.
    Consume(Uuid),
    /// Waiting for an approval request opened now.
    Open(Uuid),
}

/// A decision and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub decision: Decision,
    /// The breaker's transition at admission (recorded even when the action is refused).
    pub transition: Option<Transition>,
    pub breaker: Option<Breaker>,
    pub approval: Option<ApprovalUse>,
    /// Budgets an allowed action counts against.
    pub plan: Option<Plan>,
}

/// Why a request is not a decision at all (nothing is recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotDecided {
    #[error("no such agent")]
    UnknownAgent,
}

/// The longest chain of tasks followed (delegation depth is bounded well below it).
const MAX_CHAIN: usize = 16;

impl Facts {
    pub fn new(now: DateTime<Utc>, subscription: Subscription, tenant: Budget) -> Facts {
        Facts {
            now,
            subscription,
            quota: None,
            tenant,
            agents: HashMap::new(),
            tasks: HashMap::new(),
            approvals: Vec::new(),
            changes: Changes::default(),
        }
    }

    /// What the decisions applied so far changed.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// `task` and every task above it, nearest first; `None` when a link is missing or the
    /// chain loops.
    pub fn chain(&self, task: Uuid) -> Option<Vec<&TaskFacts>> {
        let mut out = Vec::new();
        let mut next = Some(task);
        while let Some(id) = next {
            if out.len() == MAX_CHAIN || out.iter().any(|t: &&TaskFacts| t.id == id) {
                return None;
            }
            let t = self.tasks.get(&id)?;
            out.push(t);
            next = t.parent;
        }
        Some(out)
    }

    fn budget(&self, h: Holder) -> Option<&Budget> {
        match h {
            Holder::Tenant => Some(&self.tenant),
            Holder::Agent(a) => self.agents.get(&a).map(|a| &a.budget),
            Holder::Task(t) => self.tasks.get(&t).map(|t| &t.budget),
        }
    }

    fn budget_mut(&mut self, h: Holder) -> Option<&mut Budget> {
        match h {
            Holder::Tenant => Some(&mut self.tenant),
            Holder::Agent(a) => self.agents.get_mut(&a).map(|a| &mut a.budget),
            Holder::Task(t) => self.tasks.get_mut(&t).map(|t| &mut t.budget),
        }
    }

    /// Accounts for `out`, the decision on `req`, so later requests of the run see it.
    pub fn apply(&mut self, req: &Request, out: &Outcome) {
        if !matches!(
            out.decision.reason(),
            Some(Reason::SubscriptionInactive | Reason::PlanQuotaExceeded)
        ) {
            self.changes.decisions += 1;
            if let Some(q) = &mut self.quota {
                q.used += 1;
            }
        }
        if let (Some(b), Some(a)) = (&out.breaker, self.agents.get_mut(&req.agent)) {
            a.breaker = b.clone();
            self.changes.breakers.insert(req.agent);
        }
        match out.approval {
            Some(ApprovalUse::Consume(id)) if out.decision.is_allowed() => {
                if let Some(a) = self.approvals.iter_mut().find(|a| a.id == id) {
                    a.uses_left = a.uses_left.map(|u| u - 1);
                }
                self.changes.consumed.push(id);
            }
            Some(ApprovalUse::Open(id)) => {
                let a = ApprovalFacts {
                    id,
                    agent: req.agent,
                    action: req.action.to_string(),
                    resource_type: req.resource_type.to_string(),
                    resource_id: req.resource_id.to_string(),
                    digest: req.args_digest.to_string(),
                    status: ReviewStatus::Pending,
                    uses_left: None,
                    expires_at: None,
                };
                self.approvals.insert(0, a.clone());
                self.changes.opened.push(a);
            }
            _ => {}
        }
        let Some(plan) = &out.plan else { return };
        let amount = Amount::action(req.spend);
        for h in &plan.used {
            if let Some(b) = self.budget_mut(*h) {
                b.used = b.used.plus(amount);
            }
            let u = self.changes.used.entry(*h).or_default();
            *u = u.plus(amount);
        }
        for (q, h) in &plan.released {
            if let Some(b) = self.budget_mut(*h) {
                b.reserved.take(*q, amount.get(*q));
            }
        }
    }
}

fn blocked(reason: Reason) -> Decision {
    Decision::Blocked { reason }
}

/// The decision on `req` (see the module's list of checks).
pub fn decide(
    facts: &Facts,
    authority: &impl Authority,
    req: &Request,
) -> Result<Outcome, NotDecided> {
    let agent = facts
        .agents
        .get(&req.agent)
        .ok_or(NotDecided::UnknownAgent)?;
    let mut breaker = agent.breaker.clone();
    let (admitted, transition) = breaker.admit(facts.now);
    let mut out = Outcome {
        decision: Decision::Allowed,
        transition,
        breaker: transition.map(|_| breaker),
        approval: None,
        plan: None,
    };
    out.decision = ladder(facts, authority, req, agent, admitted, &mut out);
    if !out.decision.is_allowed() {
        out.plan = None;
        if matches!(out.approval, Some(ApprovalUse::Consume(_))) {
            out.approval = None;
        }
    }
    Ok(out)
}

fn ladder(
    facts: &Facts,
    authority: &impl Authority,
    req: &Request,
    agent: &AgentFacts,
    admitted: bool,
    out: &mut Outcome,
) -> Decision {
    if !facts.subscription.allows_actions_at(facts.now) {
        return blocked(Reason::SubscriptionInactive);
    }
    if facts.quota.is_some_and(|q| q.used >= q.limit) {
        return blocked(Reason::PlanQuotaExceeded);
    }
    if agent.status == AgentStatus::Suspended {
        return blocked(Reason::AgentSuspended);
    }
    if !admitted {
        return blocked(Reason::BreakerOpen);
    }
    let permits = |id: Uuid, name: &str| {
        authority.permits(id, name, req.action, req.resource_type, req.resource_id)
    };
    if !permits(req.agent, &agent.name) {
        return blocked(Reason::OutOfScope);
    }
    let mut links = Vec::new();
    if let Some(task) = req.task {
        let Some(chain) = facts.chain(task) else {
            return blocked(Reason::InvalidRequest);
        };
        if chain[0].assignee != req.agent || chain.iter().any(|t| !t.is_open(facts.now)) {
            return blocked(Reason::InvalidRequest);
        }
        for t in &chain {
            if let Delegator::Agent(d) = t.delegator {
                // An agent no longer registered has no authority to pass down.
                let name = facts.agents.get(&d).map(|a| a.name.as_str());
                if !name.is_some_and(|n| permits(d, n)) {
                    return blocked(Reason::OutOfScope);
                }
            }
        }
        links = chain
            .iter()
            .map(|t| Link {
                task: t.id,
                delegator: t.delegator.agent(),
                limits: t.budget.limits,
            })
            .collect();
    }
    if req.missing_gates > 0 {
        return blocked(Reason::GateNotPassed);
    }
    if req.needs_approval {
        let matching = facts.approvals.iter().filter(|a| {
            a.agent == req.agent
                && a.action == req.action
                && a.resource_type == req.resource_type
                && a.resource_id == req.resource_id
                && a.digest == req.args_digest
                && a.status != ReviewStatus::Rejected
        });
        let mut pending = None;
        let mut valid = None;
        for a in matching {
            if a.valid(facts.now) {
                valid = Some(a.id);
                break;
            }
            if a.status == ReviewStatus::Pending {
                pending = pending.or(Some(a.id));
            }
        }
        match (valid, pending) {
            (Some(id), _) => out.approval = Some(ApprovalUse::Consume(id)),
            (None, Some(id)) => {
                return Decision::PendingApproval {
                    review_id: id.to_string(),
                };
            }
            (None, None) => {
                out.approval = Some(ApprovalUse::Open(req.new_approval));
                return Decision::PendingApproval {
                    review_id: req.new_approval.to_string(),
                };
            }
        }
    }
    let plan = budget::plan(req.agent, &links);
    let amount = Amount::action(req.spend);
    for (q, h) in &plan.checks {
        // A holder the facts do not know (an agent since removed) has no room to give.
        if !facts
            .budget(*h)
            .is_some_and(|b| b.admits(*q, amount.get(*q)))
        {
            return blocked(match q {
                Quantity::Dispatches => Reason::DispatchLimit,
                Quantity::Spend => Reason::BudgetExceeded,
            });
        }
    }
    out.plan = Some(plan);
    Decision::Allowed
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
