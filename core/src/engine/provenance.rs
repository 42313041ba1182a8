//! Provenance and separation of duties: who may approve an artifact.
//!
//! Always (no setting turns it off), a reviewer may not approve an artifact that they
//! produced, that derives — directly or through a chain — from something they produced, or
//! that was produced under a task they delegated, directly or further up the delegation
//! chain; nor may they approve it when they and a producer of it (or of anything it derives
//! from) are in one delegation chain, in either direction and at any depth — the producer
//! directed the reviewer, or the reviewer directed the producer, directly or through
//! others. So approval cannot be laundered through another agent. The chains that count
//! are those of every open task, of every task of the review's initiative (closed ones
//! too), and of every task a lineage artifact was produced under. Gates that require
//! principal separation (the regulated preset does) add: an agent reviewer must act for a
//! different principal than every producer in the lineage did, and a human reviewer must
//! not be one of those principals — so one person cannot approve their own work through
//! two agents, while a one-person team can still use reviewer agents at gates that allow it.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::status::TaskStatus;

/// Who acts: an agent (always on behalf of a principal) or a principal (a human).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    Agent { id: Uuid, on_behalf_of: Uuid },
    Principal { id: Uuid },
}

impl Party {
    /// The human this party answers to.
    pub fn principal(&self) -> Uuid {
        match self {
            Party::Agent { on_behalf_of, .. } => *on_behalf_of,
            Party::Principal { id } => *id,
        }
    }

    /// The acting identity (agent or principal id).
    pub fn actor(&self) -> Uuid {
        match self {
            Party::Agent { id, .. } | Party::Principal { id } => *id,
        }
    }

    /// `agent` or `principal`, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Party::Agent { .. } => "agent",
            Party::Principal { .. } => "principal",
        }
    }

    /// The actor of the ledger records this party's acts produce.
    pub fn ledger_actor(&self) -> crate::ledger::Actor {
        match self {
            Party::Agent { id, .. } => crate::ledger::Actor::agent(*id),
            Party::Principal { id } => crate::ledger::Actor::principal(*id),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ArtifactNode {
    pub id: Uuid,
    pub producer: Party,
    pub derived_from: Vec<Uuid>,
    /// The task under which it was produced, if any.
    pub task: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct TaskNode {
    pub id: Uuid,
    /// Who delegated the task.
    pub delegator: Party,
    /// The task this one was delegated under, if it is part of a chain.
    pub parent: Option<Uuid>,
    /// The agent directed.
    pub assignee: Uuid,
    pub status: TaskStatus,
    /// The initiative the task serves, if any.
    pub initiative: Option<Uuid>,
}

/// The part of the provenance graph a review needs (the store loads it): the artifact's
/// lineage, the tasks its lineage was produced under, and the delegation chains that
/// involve the reviewer (with every task above them).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub artifacts: HashMap<Uuid, ArtifactNode>,
    pub tasks: HashMap<Uuid, TaskNode>,
    /// The initiative the review belongs to: its closed tasks still count.
    pub initiative: Option<Uuid>,
}

/// A delegation chain that joins two parties: its tasks, from the root down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The other party in the chain (the producer, or the agent that asked).
    pub with: Uuid,
    pub tasks: Vec<Uuid>,
}

impl std::fmt::Display for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tasks: Vec<String> = self.tasks.iter().map(|t| t.to_string()).collect();
        write!(f, "{} (tasks {})", self.with, tasks.join(" → "))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separation {
    /// The architectural rule only.
    Standard,
    /// Also a different principal than every producer (gate requirement).
    Principal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelfApproval {
    #[error("the reviewer produced artifact {0}")]
    Produced(Uuid),
    #[error("the artifact derives from artifact {0}, which the reviewer produced")]
    DerivedFromOwn(Uuid),
    #[error("the reviewer delegated task {0}, under which this work was produced")]
    Delegated(Uuid),
    #[error("the reviewer acts for principal {0}, who is behind the producer of artifact {1}")]
    SamePrincipal(Uuid, Uuid),
    #[error("the reviewer and producer {0} are in one delegation chain")]
    InChain(Chain),
    #[error("artifact {0} is not in the provenance graph")]
    Unknown(Uuid),
}

impl Graph {
    /// The artifact and all it derives from (cycle-safe), nearest first.
    fn lineage(&self, artifact: Uuid) -> Result<Vec<&ArtifactNode>, SelfApproval> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut stack = vec![artifact];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let node = self.artifacts.get(&id).ok_or(SelfApproval::Unknown(id))?;
            out.push(node);
            stack.extend(node.derived_from.iter().rev().copied());
        }
        Ok(out)
    }

    /// Every delegator up the chain of `task` (cycle-safe).
    fn delegators(&self, task: Uuid) -> Vec<(Uuid, Party)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(task);
        while let Some(id) = next {
            if !seen.insert(id) {
                break;
            }
            match self.tasks.get(&id) {
                Some(t) => {
                    out.push((t.id, t.delegator));
                    next = t.parent;
                }
                None => break,
            }
        }
        out
    }

    /// `task` and every task above it, nearest first (cycle-safe; stops at a missing link).
    fn up(&self, task: Uuid) -> Vec<&TaskNode> {
        let mut out: Vec<&TaskNode> = Vec::new();
        let mut next = Some(task);
        while let Some(id) = next {
            if out.iter().any(|t| t.id == id) {
                break;
            }
            match self.tasks.get(&id) {
                Some(t) => {
                    out.push(t);
                    next = t.parent;
                }
                None => break,
            }
        }
        out
    }

    /// A chain that holds `who` and one of `others`, if any: a task that counts (open, of
    /// the graph's initiative, or in `also`) whose assignee and delegators up to the root
    /// include both. Deterministic: tasks are tried in id order.
    pub fn chain_between(&self, who: Uuid, others: &[Uuid], also: &HashSet<Uuid>) -> Option<Chain> {
        let mut ids: Vec<&Uuid> = self.tasks.keys().collect();
        ids.sort();
        for id in ids {
            let t = &self.tasks[id];
            let counts = t.status == TaskStatus::Open
                || (t.initiative.is_some() && t.initiative == self.initiative)
                || also.contains(&t.id);
            if !counts {
                continue;
            }
            let chain = self.up(t.id);
            let members: HashSet<Uuid> = std::iter::once(t.assignee)
                .chain(chain.iter().map(|c| c.delegator.actor()))
                .collect();
            if !members.contains(&who) {
                continue;
            }
            if let Some(with) = others.iter().find(|o| **o != who && members.contains(o)) {
                return Some(Chain {
                    with: *with,
                    tasks: chain.iter().rev().map(|c| c.id).collect(),
                });
            }
        }
        None
    }

    /// May `reviewer` approve `artifact`? The first reason it may not, if any.
    pub fn check_review(
        &self,
        artifact: Uuid,
        reviewer: Party,
        separation: Separation,
    ) -> Result<(), SelfApproval> {
        // A person answers for the agents acting on their behalf: a human reviewer never
        // approves what their own agents produced, whatever the review asked for.
        let separation = match reviewer {
            Party::Principal { .. } => Separation::Principal,
            Party::Agent { .. } => separation,
        };
        let lineage = self.lineage(artifact)?;
        for node in &lineage {
            if node.producer.actor() == reviewer.actor() {
                return Err(if node.id == artifact {
                    SelfApproval::Produced(node.id)
                } else {
                    SelfApproval::DerivedFromOwn(node.id)
                });
            }
        }
        for node in &lineage {
            if let Some(task) = node.task {
                for (task_id, delegator) in self.delegators(task) {
                    if delegator.actor() == reviewer.actor() {
                        return Err(SelfApproval::Delegated(task_id));
                    }
                }
            }
        }
        let producers: Vec<Uuid> = lineage.iter().map(|n| n.producer.actor()).collect();
        let produced_under: HashSet<Uuid> = lineage.iter().filter_map(|n| n.task).collect();
        if let Some(chain) = self.chain_between(reviewer.actor(), &producers, &produced_under) {
            return Err(SelfApproval::InChain(chain));
        }
        if separation == Separation::Principal {
            for node in &lineage {
                if node.producer.principal() == reviewer.principal() {
                    return Err(SelfApproval::SamePrincipal(reviewer.principal(), node.id));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct World {
        alice: Uuid,
        bob: Uuid,
        a1: Party,
        a2: Party,
        b1: Party,
        graph: Graph,
    }

    fn id() -> Uuid {
        Uuid::new_v4()
    }

    fn world() -> World {
        let (alice, bob) = (id(), id());
        let agent = |p| Party::Agent {
            id: id(),
            on_behalf_of: p,
        };
        World {
            alice,
            bob,
            a1: agent(alice),
            a2: agent(alice),
            b1: agent(bob),
            graph: Graph::default(),
        }
    }

    fn artifact(
        g: &mut Graph,
        producer: Party,
        derived_from: Vec<Uuid>,
        task: Option<Uuid>,
    ) -> Uuid {
        let a = id();
        g.artifacts.insert(
            a,
            ArtifactNode {
                id: a,
                producer,
                derived_from,
                task,
            },
        );
        a
    }

    fn task(g: &mut Graph, delegator: Party, parent: Option<Uuid>) -> Uuid {
        assign(
            g,
            delegator,
            Uuid::new_v4(),
            parent,
            TaskStatus::Completed,
            None,
        )
    }

    fn assign(
        g: &mut Graph,
        delegator: Party,
        assignee: Uuid,
        parent: Option<Uuid>,
        status: TaskStatus,
        initiative: Option<Uuid>,
    ) -> Uuid {
        let t = id();
        g.tasks.insert(
            t,
            TaskNode {
                id: t,
                delegator,
                parent,
                assignee,
                status,
                initiative,
            },
        );
        t
    }

    #[test]
    fn direct_and_derived_self_approval_are_refused() {
        let mut w = world();
        let base = artifact(&mut w.graph, w.a1, vec![], None);
        let derived = artifact(&mut w.graph, w.b1, vec![base], None);
        assert_eq!(
            w.graph.check_review(base, w.a1, Separation::Standard),
            Err(SelfApproval::Produced(base))
        );
        assert_eq!(
            w.graph.check_review(derived, w.a1, Separation::Standard),
            Err(SelfApproval::DerivedFromOwn(base))
        );
        // A legitimate second reviewer passes.
        assert_eq!(
            w.graph.check_review(base, w.b1, Separation::Principal),
            Ok(())
        );
    }

    #[test]
    fn approval_cannot_be_laundered_through_a_delegation_chain() {
        let mut w = world();
        // a1 delegates to a2, which delegates further to b1, which produces the artifact.
        let t1 = task(&mut w.graph, w.a1, None);
        let t2 = task(&mut w.graph, w.a2, Some(t1));
        let art = artifact(&mut w.graph, w.b1, vec![], Some(t2));
        assert_eq!(
            w.graph.check_review(art, w.a2, Separation::Standard),
            Err(SelfApproval::Delegated(t2))
        );
        assert_eq!(
            w.graph.check_review(art, w.a1, Separation::Standard),
            Err(SelfApproval::Delegated(t1)),
            "two levels up the chain"
        );
        let outsider = Party::Agent {
            id: id(),
            on_behalf_of: w.bob,
        };
        assert_eq!(
            w.graph.check_review(art, outsider, Separation::Standard),
            Ok(())
        );
    }

    #[test]
    fn principal_separation_is_a_gate_choice() {
        let mut w = world();
        let art = artifact(&mut w.graph, w.a1, vec![], None);
        // Another agent of the same principal: fine at a standard gate, refused where the
        // gate requires principal separation.
        assert_eq!(
            w.graph.check_review(art, w.a2, Separation::Standard),
            Ok(())
        );
        assert_eq!(
            w.graph.check_review(art, w.a2, Separation::Principal),
            Err(SelfApproval::SamePrincipal(w.alice, art))
        );
        // The human behind the producer answers for their agents: refused at any gate;
        // another human passes.
        let alice = Party::Principal { id: w.alice };
        assert_eq!(
            w.graph.check_review(art, alice, Separation::Standard),
            Err(SelfApproval::SamePrincipal(w.alice, art))
        );
        assert!(
            w.graph
                .check_review(art, alice, Separation::Principal)
                .is_err()
        );
        let bob = Party::Principal { id: w.bob };
        assert_eq!(
            w.graph.check_review(art, bob, Separation::Principal),
            Ok(())
        );
    }

    #[test]
    fn cycles_and_unknown_artifacts_do_not_hang_or_allow() {
        let mut w = world();
        let a = artifact(&mut w.graph, w.b1, vec![], None);
        let b = artifact(&mut w.graph, w.b1, vec![a], None);
        if let Some(n) = w.graph.artifacts.get_mut(&a) {
            n.derived_from.push(b);
        }
        assert_eq!(w.graph.check_review(b, w.a1, Separation::Standard), Ok(()));
        let missing = id();
        assert_eq!(
            w.graph.check_review(missing, w.a1, Separation::Standard),
            Err(SelfApproval::Unknown(missing))
        );
    }

    #[test]
    fn a_delegate_may_not_approve_its_delegators_work_at_any_depth() {
        let mut w = world();
        // a1 produced the artifact, then directed a2 (same person) and b1 (another person).
        let art = artifact(&mut w.graph, w.a1, vec![], None);
        let t1 = assign(
            &mut w.graph,
            w.a1,
            w.a2.actor(),
            None,
            TaskStatus::Open,
            None,
        );
        let err = w.graph.check_review(art, w.a2, Separation::Standard);
        assert_eq!(
            err,
            Err(SelfApproval::InChain(Chain {
                with: w.a1.actor(),
                tasks: vec![t1]
            }))
        );
        let t2 = assign(
            &mut w.graph,
            w.a1,
            w.b1.actor(),
            None,
            TaskStatus::Open,
            None,
        );
        assert!(matches!(
            w.graph.check_review(art, w.b1, Separation::Standard),
            Err(SelfApproval::InChain(Chain { tasks, .. })) if tasks == vec![t2]
        ));
        // Depth 2: b1 directs c, who then may not approve a1's work either.
        let c = Party::Agent {
            id: id(),
            on_behalf_of: w.bob,
        };
        let t3 = assign(
            &mut w.graph,
            w.b1,
            c.actor(),
            Some(t2),
            TaskStatus::Open,
            None,
        );
        assert!(matches!(
            w.graph.check_review(art, c, Separation::Standard),
            Err(SelfApproval::InChain(Chain { tasks, .. })) if tasks == vec![t2, t3]
        ));
        // The other direction: a reviewer who directed the producer, the work not produced
        // under that task.
        let other = artifact(&mut w.graph, c, vec![], None);
        assert!(matches!(
            w.graph.check_review(other, w.a1, Separation::Standard),
            Err(SelfApproval::InChain(Chain { with, .. })) if with == c.actor()
        ));
        // A person who directed the producer is in the chain too.
        let bob = Party::Principal { id: w.bob };
        let d = Party::Agent {
            id: id(),
            on_behalf_of: w.alice,
        };
        assign(&mut w.graph, bob, d.actor(), None, TaskStatus::Open, None);
        let ds = artifact(&mut w.graph, d, vec![], None);
        assert!(matches!(
            w.graph.check_review(ds, bob, Separation::Standard),
            Err(SelfApproval::InChain(_))
        ));
    }

    #[test]
    fn closed_tasks_count_only_within_the_initiative() {
        let mut w = world();
        let (here, elsewhere) = (id(), id());
        w.graph.initiative = Some(here);
        let art = artifact(&mut w.graph, w.a1, vec![], None);
        let t = assign(
            &mut w.graph,
            w.a1,
            w.b1.actor(),
            None,
            TaskStatus::Completed,
            Some(elsewhere),
        );
        // A finished task of another initiative no longer ties them.
        assert_eq!(
            w.graph.check_review(art, w.b1, Separation::Standard),
            Ok(())
        );
        w.graph.tasks.get_mut(&t).unwrap().initiative = Some(here);
        assert!(
            w.graph
                .check_review(art, w.b1, Separation::Standard)
                .is_err()
        );
        w.graph.tasks.get_mut(&t).unwrap().initiative = None;
        assert_eq!(
            w.graph.check_review(art, w.b1, Separation::Standard),
            Ok(())
        );
        w.graph.tasks.get_mut(&t).unwrap().status = TaskStatus::Open;
        assert!(
            w.graph
                .check_review(art, w.b1, Separation::Standard)
                .is_err()
        );
        // An outsider with no chain to the producer still approves.
        let outsider = Party::Agent {
            id: id(),
            on_behalf_of: w.bob,
        };
        assert_eq!(
            w.graph.check_review(art, outsider, Separation::Standard),
            Ok(())
        );
    }

    #[test]
    fn chain_between_names_the_other_party_and_the_tasks_root_first() {
        let mut g = Graph::default();
        let (p, a, b) = (id(), id(), id());
        let t1 = assign(
            &mut g,
            Party::Principal { id: p },
            a,
            None,
            TaskStatus::Open,
            None,
        );
        let t2 = assign(
            &mut g,
            Party::Agent {
                id: a,
                on_behalf_of: p,
            },
            b,
            Some(t1),
            TaskStatus::Open,
            None,
        );
        let none = HashSet::new();
        assert_eq!(
            g.chain_between(p, &[b], &none),
            Some(Chain {
                with: b,
                tasks: vec![t1, t2]
            })
        );
        assert_eq!(g.chain_between(id(), &[b], &none), None);
    }
}
