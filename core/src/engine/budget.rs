//! Budgets: spend and dispatches, and how they split down a delegation chain.
//!
//! The tenant and each agent may have limits per cycle (the agent's from its scope); each
//! delegated task may have limits of its own, over the task's life. What counts against a
//! limit is the *committed* amount: what was used, plus what is *reserved* — the unused
//! part of the limits of the open tasks delegated from it (`limit − used`, never below
//! zero). For a task, "used" includes everything done under its sub-tasks.
//!
//! - Delegating a task with a limit reserves it out of the delegator's room (and out of
//!   the parent task's, when delegated further): a task is never given more than its
//!   delegator has left.
//! - An action counts against the tenant, the acting agent, every task of the chain it
//!   acts under and every agent that delegated along that chain (each agent once).
//! - Where the action passes through a task with a limit, the room was set aside when the
//!   task was delegated: that reservation shrinks by what is used, so the delegator's and
//!   the parent task's committed amounts do not change and only the task's own limit is
//!   checked. A task without a limit (for a quantity) sets nothing aside: its delegator and
//!   its parent task must then have the room themselves.
//! - When a task closes, its reservation ends: what it did not use returns to its delegator.
//!
//! Each quantity (spend, dispatches) follows these rules on its own; dispatches are checked
//! first.

use std::collections::HashSet;

use uuid::Uuid;

/// The quantities budgets count, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantity {
    Dispatches,
    Spend,
}

impl Quantity {
    pub const ALL: [Quantity; 2] = [Quantity::Dispatches, Quantity::Spend];
}

/// An amount of each quantity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount {
    pub spend: i64,
    pub dispatches: i64,
}

impl Amount {
    /// One action of `spend`.
    pub fn action(spend: i64) -> Amount {
        Amount {
            spend,
            dispatches: 1,
        }
    }

    pub fn get(&self, q: Quantity) -> i64 {
        match q {
            Quantity::Spend => self.spend,
            Quantity::Dispatches => self.dispatches,
        }
    }

    fn slot(&mut self, q: Quantity) -> &mut i64 {
        match q {
            Quantity::Spend => &mut self.spend,
            Quantity::Dispatches => &mut self.dispatches,
        }
    }

    pub fn add(&mut self, q: Quantity, x: i64) {
        let s = self.slot(q);
        *s = s.saturating_add(x);
    }

    /// Takes `x` off, never below zero.
    pub fn take(&mut self, q: Quantity, x: i64) {
        let s = self.slot(q);
        *s = s.saturating_sub(x).max(0);
    }

    pub fn plus(mut self, other: Amount) -> Amount {
        for q in Quantity::ALL {
            self.add(q, other.get(q));
        }
        self
    }
}

/// Limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub spend: Option<i64>,
    pub dispatches: Option<i64>,
}

impl Limits {
    pub fn get(&self, q: Quantity) -> Option<i64> {
        match q {
            Quantity::Spend => self.spend,
            Quantity::Dispatches => self.dispatches,
        }
    }

    /// Whether `x` more of `q` fits on top of `committed`.
    pub fn admits(&self, q: Quantity, committed: Amount, x: i64) -> bool {
        self.get(q)
            .is_none_or(|l| x <= 0 || committed.get(q).saturating_add(x) <= l)
    }

    /// What is left after `committed` (`None`: unlimited), never below zero.
    pub fn left(&self, committed: Amount) -> Limits {
        let left = |q| {
            self.get(q)
                .map(|l: i64| l.saturating_sub(committed.get(q)).max(0))
        };
        Limits {
            spend: left(Quantity::Spend),
            dispatches: left(Quantity::Dispatches),
        }
    }

    /// What a task with these limits reserves once `used` of it is used.
    pub fn reservation(&self, used: Amount) -> Amount {
        let r = |q| {
            self.get(q)
                .map_or(0, |l: i64| l.saturating_sub(used.get(q)).max(0))
        };
        Amount {
            spend: r(Quantity::Spend),
            dispatches: r(Quantity::Dispatches),
        }
    }

    /// The first quantity for which a task with these limits does not fit in `room`
    /// (what its delegator has left). A task without a limit reserves nothing, so it
    /// always fits: its actions are checked against the delegator one by one instead.
    pub fn exceeds(&self, room: Limits) -> Option<Quantity> {
        Quantity::ALL
            .into_iter()
            .find(|&q| matches!((self.get(q), room.get(q)), (Some(t), Some(r)) if t > r))
    }

    /// The tighter of two limits, per quantity.
    pub fn min(self, other: Limits) -> Limits {
        let m = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        };
        Limits {
            spend: m(self.spend, other.spend),
            dispatches: m(self.dispatches, other.dispatches),
        }
    }
}

/// A budget holder as the checks see it: its limits, and what is committed against them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    pub limits: Limits,
    /// Used this cycle (an agent, the tenant) or over its life (a task).
    pub used: Amount,
    /// The unused part of the limits of the open tasks delegated from it.
    pub reserved: Amount,
}

impl Budget {
    pub fn committed(&self) -> Amount {
        self.used.plus(self.reserved)
    }

    pub fn admits(&self, q: Quantity, x: i64) -> bool {
        self.limits.admits(q, self.committed(), x)
    }

    pub fn left(&self) -> Limits {
        self.limits.left(self.committed())
    }
}

/// Who holds a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    Tenant,
    Agent(Uuid),
    Task(Uuid),
}

/// One task of a chain, as the budget sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub task: Uuid,
    /// The delegating agent (a person who delegates has no budget here).
    pub delegator: Option<Uuid>,
    pub limits: Limits,
}

/// What an action does to budgets: whose limits must admit it (per quantity, in order),
/// whose use grows by it, and which reservations shrink by it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub checks: Vec<(Quantity, Holder)>,
    pub used: Vec<Holder>,
    pub released: Vec<(Quantity, Holder)>,
}

/// The plan of an action by `actor` under `chain` (the task it acts under first, then its
/// parent, up to the root; empty for an action under no task).
pub fn plan(actor: Uuid, chain: &[Link]) -> Plan {
    let mut p = Plan::default();
    let mut agents = vec![actor];
    for link in chain {
        if let Some(d) = link.delegator
            && !agents.contains(&d)
        {
            agents.push(d);
        }
    }
    p.used.push(Holder::Tenant);
    p.used.extend(agents.iter().map(|a| Holder::Agent(*a)));
    p.used.extend(chain.iter().map(|l| Holder::Task(l.task)));
    for q in Quantity::ALL {
        let mut checks = vec![Holder::Tenant, Holder::Agent(actor)];
        for (i, link) in chain.iter().enumerate() {
            // The acting agent's own task always; a parent task unless the sub-task below
            // it reserved room for this quantity.
            let reserved_below = i > 0 && chain[i - 1].limits.get(q).is_some();
            if reserved_below {
                p.released.push((q, Holder::Task(link.task)));
            } else {
                checks.push(Holder::Task(link.task));
            }
            if let Some(d) = link.delegator {
                if link.limits.get(q).is_some() {
                    p.released.push((q, Holder::Agent(d)));
                } else {
                    checks.push(Holder::Agent(d));
                }
            }
        }
        let mut seen = HashSet::new();
        p.checks.extend(
            checks
                .into_iter()
                .filter(|h| seen.insert(*h))
                .map(|h| (q, h)),
        );
    }
    p
}

/// Who has too little left for a delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Giver {
    /// The delegating agent's own budget for the cycle.
    Agent,
    /// The task the delegation is made under.
    ParentTask,
}

/// A delegation that asks for more than its delegator has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    pub quantity: Quantity,
    pub asked: i64,
    pub left: i64,
    pub giver: Giver,
}

/// The limits a new task gets, or why it cannot: each limit asked for must fit in what the
/// delegating agent (`agent`, when an agent delegates) and the parent task (`parent`, when
/// delegated further) have left. A limit not asked for is the parent's remainder where the
/// parent has a limit (a sub-task never holds more than its parent), else none: the task
/// then reserves nothing and each action under it needs room in the delegator's budget.
pub fn delegate(
    asked: Limits,
    agent: Option<&Budget>,
    parent: Option<&Budget>,
) -> Result<Limits, Short> {
    let agent_left = agent.map(Budget::left).unwrap_or_default();
    let parent_left = parent.map(Budget::left).unwrap_or_default();
    let mut out = Limits::default();
    for q in Quantity::ALL {
        let given = match (asked.get(q), parent_left.get(q)) {
            (Some(x), _) => Some(x),
            (None, Some(p)) => Some(agent_left.get(q).map_or(p, |a| a.min(p))),
            (None, None) => None,
        };
        if let Some(x) = given {
            for (left, giver) in [
                (parent_left.get(q), Giver::ParentTask),
                (agent_left.get(q), Giver::Agent),
            ] {
                if let Some(left) = left
                    && x > left
                {
                    return Err(Short {
                        quantity: q,
                        asked: x,
                        left,
                        giver,
                    });
                }
            }
        }
        match q {
            Quantity::Spend => out.spend = given,
            Quantity::Dispatches => out.dispatches = given,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(l: i64) -> Limits {
        Limits {
            spend: Some(l),
            dispatches: None,
        }
    }

    #[test]
    fn limits_admit_what_fits() {
        let l = Limits {
            spend: Some(10),
            dispatches: Some(1),
        };
        let none = Amount::default();
        assert!(l.admits(Quantity::Spend, none, 10));
        assert!(!l.admits(Quantity::Spend, none, 11));
        assert!(!l.admits(Quantity::Dispatches, Amount::action(0), 1));
        // Nothing more always fits, even past the limit.
        assert!(l.admits(Quantity::Spend, Amount::action(50), 0));
        assert!(Limits::default().admits(Quantity::Spend, Amount::action(i64::MAX), i64::MAX));
    }

    #[test]
    fn reservations_and_room() {
        assert_eq!(spend(300).reservation(Amount::action(100)).spend, 200);
        assert_eq!(spend(300).reservation(Amount::action(400)).spend, 0);
        assert_eq!(
            Limits::default().reservation(Amount::action(5)),
            Amount::default()
        );
        let b = Budget {
            limits: spend(1000),
            used: Amount::action(100),
            reserved: Amount {
                spend: 300,
                dispatches: 0,
            },
        };
        assert_eq!(b.left().spend, Some(600));
        assert!(b.admits(Quantity::Spend, 600) && !b.admits(Quantity::Spend, 601));
        assert_eq!(spend(601).exceeds(b.left()), Some(Quantity::Spend));
        assert_eq!(spend(600).exceeds(b.left()), None);
        assert_eq!(Limits::default().exceeds(b.left()), None);
    }

    #[test]
    fn a_plan_checks_where_nothing_was_reserved() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let (t1, t2) = (Uuid::new_v4(), Uuid::new_v4());
        // a → b (t1, spend limit) → c (t2, no limits); c acts under t2.
        let chain = [
            Link {
                task: t2,
                delegator: Some(b),
                limits: Limits::default(),
            },
            Link {
                task: t1,
                delegator: Some(a),
                limits: spend(300),
            },
        ];
        let p = plan(c, &chain);
        let spend_checks: Vec<Holder> = p
            .checks
            .iter()
            .filter(|(q, _)| *q == Quantity::Spend)
            .map(|(_, h)| *h)
            .collect();
        // t2 reserved nothing in t1, so t1 and b must admit; t1 reserved in a.
        assert_eq!(
            spend_checks,
            [
                Holder::Tenant,
                Holder::Agent(c),
                Holder::Task(t2),
                Holder::Agent(b),
                Holder::Task(t1)
            ]
        );
        assert!(p.released.contains(&(Quantity::Spend, Holder::Agent(a))));
        // Dispatches: no task has a dispatch limit, so every delegator must admit.
        assert!(p.checks.contains(&(Quantity::Dispatches, Holder::Agent(a))));
        assert_eq!(
            p.used,
            [
                Holder::Tenant,
                Holder::Agent(c),
                Holder::Agent(b),
                Holder::Agent(a),
                Holder::Task(t2),
                Holder::Task(t1)
            ]
        );
    }

    #[test]
    fn a_delegation_fits_in_what_its_delegators_have_left() {
        let agent = Budget {
            limits: spend(1000),
            used: Amount::action(500),
            reserved: Amount {
                spend: 300,
                dispatches: 0,
            },
        };
        assert_eq!(delegate(spend(200), Some(&agent), None), Ok(spend(200)));
        assert_eq!(
            delegate(spend(2000), Some(&agent), None),
            Err(Short {
                quantity: Quantity::Spend,
                asked: 2000,
                left: 200,
                giver: Giver::Agent
            })
        );
        // Nothing asked, no parent: no limits (nothing reserved).
        assert_eq!(
            delegate(Limits::default(), Some(&agent), None),
            Ok(Limits::default())
        );
        let parent = Budget {
            limits: spend(100),
            used: Amount::action(40),
            reserved: Amount::default(),
        };
        // Nothing asked under a parent: the parent's remainder, within the agent's room.
        assert_eq!(
            delegate(Limits::default(), None, Some(&parent)),
            Ok(spend(60))
        );
        let poorer = Budget {
            limits: spend(50),
            ..Budget::default()
        };
        assert_eq!(
            delegate(Limits::default(), Some(&poorer), Some(&parent)),
            Ok(spend(50))
        );
        assert_eq!(
            delegate(spend(61), Some(&agent), Some(&parent)).map_err(|s| s.giver),
            Err(Giver::ParentTask)
        );
        let dispatches = Limits {
            spend: None,
            dispatches: Some(3),
        };
        let busy = Budget {
            limits: Limits {
                spend: None,
                dispatches: Some(2),
            },
            ..Budget::default()
        };
        assert_eq!(
            delegate(dispatches, Some(&busy), None).map_err(|s| s.quantity),
            Err(Quantity::Dispatches)
        );
    }

    #[test]
    fn an_agent_met_twice_is_charged_once() {
        let (a, c) = (Uuid::new_v4(), Uuid::new_v4());
        let chain = [
            Link {
                task: Uuid::new_v4(),
                delegator: Some(a),
                limits: spend(5),
            },
            Link {
                task: Uuid::new_v4(),
                delegator: Some(c),
                limits: spend(5),
            },
        ];
        let p = plan(c, &chain);
        assert_eq!(p.used.iter().filter(|h| **h == Holder::Agent(c)).count(), 1);
    }
}
