//! The provenance a separation-of-duties check reads: an artifact's lineage, the tasks it
//! was produced under with every delegation above them, and the delegation chains a
//! person or agent is in. Loaded in the caller's transaction.

use std::collections::HashMap;

use charter_core::engine::provenance::{ArtifactNode, Graph, Party, TaskNode};
use sea_orm::QueryResult;
use uuid::Uuid;

use crate::{Result, TenantTx};

fn party(r: &QueryResult, prefix: &str) -> Result<Party> {
    let t: String = r.try_get("", &format!("{prefix}_type"))?;
    let id: Uuid = r.try_get("", &format!("{prefix}_id"))?;
    let principal: Uuid = r.try_get("", &format!("{prefix}_principal"))?;
    Ok(if t == "agent" {
        Party::Agent {
            id,
            on_behalf_of: principal,
        }
    } else {
        Party::Principal { id }
    })
}

/// The provenance a review of `artifact` by `reviewer` needs (see
/// `charter_core::engine::provenance::Graph`); without a reviewer, the lineage alone.
pub(crate) async fn load_graph(
    tx: &TenantTx,
    artifact: Uuid,
    reviewer: Option<Uuid>,
) -> Result<Graph> {
    let lineage = "WITH RECURSIVE lineage(id) AS (
            SELECT $2::uuid
            UNION SELECT s.source_id FROM artifact_sources s JOIN lineage l ON s.artifact_id = l.id
            WHERE s.tenant_id = $1)";
    let mut graph = Graph::default();
    for r in tx
        .all(
            &format!(
                "{lineage} SELECT a.id, a.producer_type, a.producer_id, a.producer_principal, a.task_id
                 FROM artifacts a JOIN lineage l ON a.id = l.id WHERE a.tenant_id = $1"
            ),
            vec![tx.tenant_id().into(), artifact.into()],
        )
        .await?
    {
        let id: Uuid = r.try_get("", "id")?;
        graph.artifacts.insert(
            id,
            ArtifactNode { id, producer: party(&r, "producer")?, derived_from: Vec::new(), task: r.try_get("", "task_id")? },
        );
    }
    let mut edges: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for r in tx
        .all(
            &format!(
                "{lineage} SELECT s.artifact_id, s.source_id FROM artifact_sources s
                 JOIN lineage l ON s.artifact_id = l.id WHERE s.tenant_id = $1"
            ),
            vec![tx.tenant_id().into(), artifact.into()],
        )
        .await?
    {
        edges
            .entry(r.try_get("", "artifact_id")?)
            .or_default()
            .push(r.try_get("", "source_id")?);
    }
    for (id, sources) in edges {
        if let Some(node) = graph.artifacts.get_mut(&id) {
            node.derived_from = sources;
        }
    }
    for r in tx
        .all(
            &format!(
                "{lineage}, chain(id) AS (
                     SELECT a.task_id FROM artifacts a JOIN lineage l ON a.id = l.id
                     WHERE a.tenant_id = $1 AND a.task_id IS NOT NULL
                     UNION SELECT t.parent_id FROM tasks t JOIN chain c ON t.id = c.id
                     WHERE t.tenant_id = $1 AND t.parent_id IS NOT NULL)
                 SELECT {TASK_COLUMNS} FROM tasks t JOIN chain c ON t.id = c.id WHERE t.tenant_id = $1"
            ),
            vec![tx.tenant_id().into(), artifact.into()],
        )
        .await?
    {
        let t = task_node(&r)?;
        graph.tasks.insert(t.id, t);
    }
    graph.initiative = tx
        .one(
            "SELECT initiative_id FROM artifacts WHERE tenant_id = $1 AND id = $2",
            vec![tx.tenant_id().into(), artifact.into()],
        )
        .await?
        .map(|r| r.try_get::<Option<Uuid>>("", "initiative_id"))
        .transpose()?
        .flatten();
    if let Some(who) = reviewer {
        for t in chains_of(tx, who, graph.initiative).await? {
            graph.tasks.entry(t.id).or_insert(t);
        }
    }
    Ok(graph)
}

const TASK_COLUMNS: &str =
    "t.id, t.parent_id, t.delegator_type, t.delegator_id, t.delegator_principal,
    t.assignee_agent, t.status, t.initiative_id";

fn task_node(r: &QueryResult) -> Result<TaskNode> {
    Ok(TaskNode {
        id: r.try_get("", "id")?,
        delegator: party(r, "delegator")?,
        parent: r.try_get("", "parent_id")?,
        assignee: r.try_get("", "assignee_agent")?,
        status: crate::error::state(r, "status")?,
        initiative: r.try_get("", "initiative_id")?,
    })
}

/// Every task that counts for separation of duties (open, or of `initiative`) whose chain
/// involves `who` (as the assignee, or as a delegator anywhere above it), with every task
/// above those: the delegation chains `who` is in.
pub(crate) async fn chains_of(
    tx: &TenantTx,
    who: Uuid,
    initiative: Option<Uuid>,
) -> Result<Vec<TaskNode>> {
    let rows = tx
        .all(
            &format!(
                "WITH RECURSIVE counted AS (
                     SELECT id FROM tasks
                     WHERE tenant_id = $1 AND (status = 'open' OR ($3::uuid IS NOT NULL AND initiative_id = $3))
                 ), up(leaf, id, parent_id, lvl) AS (
                     SELECT c.id, t.id, t.parent_id, 0 FROM counted c JOIN tasks t ON t.tenant_id = $1 AND t.id = c.id
                     UNION ALL
                     SELECT u.leaf, t.id, t.parent_id, u.lvl + 1 FROM up u
                     JOIN tasks t ON t.tenant_id = $1 AND t.id = u.parent_id WHERE u.lvl < 16
                 ), mine AS (
                     SELECT DISTINCT u.leaf FROM up u JOIN tasks t ON t.tenant_id = $1 AND t.id = u.id
                     WHERE t.delegator_id = $2 OR (u.lvl = 0 AND t.assignee_agent = $2)
                 )
                 SELECT DISTINCT {TASK_COLUMNS} FROM up u JOIN mine m ON m.leaf = u.leaf
                 JOIN tasks t ON t.tenant_id = $1 AND t.id = u.id"
            ),
            vec![tx.tenant_id().into(), who.into(), initiative.into()],
        )
        .await?;
    rows.iter().map(task_node).collect()
}
