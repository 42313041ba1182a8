-- Budgets split down delegation chains (dispatches too), tasks belong to an initiative
-- (which closed tasks still count for separation of duties), and retries must be the same
-- request: each idempotency key is stored with the digest of the request it was first
-- used for.
ALTER TABLE tasks
    ADD COLUMN dispatch_limit bigint CHECK (dispatch_limit >= 0),
    ADD COLUMN dispatched     bigint NOT NULL DEFAULT 0 CHECK (dispatched >= 0),
    ADD COLUMN initiative_id  uuid,
    ADD COLUMN request_digest text;

-- What open tasks reserve is summed per delegator and per parent at every decision.
CREATE INDEX tasks_open_by_delegator ON tasks (tenant_id, delegator_id) WHERE status = 'open';
CREATE INDEX tasks_open_by_parent ON tasks (tenant_id, parent_id) WHERE status = 'open';
CREATE INDEX tasks_by_initiative ON tasks (tenant_id, initiative_id) WHERE initiative_id IS NOT NULL;

ALTER TABLE authorizations
    ADD COLUMN request_digest text,
    ADD COLUMN outcome_digest text,
    -- The task acted under: an outcome's spend correction follows the same chain.
    ADD COLUMN task_id uuid;

-- The initiative an action approval was requested in (separation of duties counts the
-- closed tasks of that initiative).
ALTER TABLE action_approvals
    ADD COLUMN initiative_id uuid;

-- The start of the budget cycle `p_now` falls in (cycles of `p_secs`, default a day).
CREATE FUNCTION charter_budget_cycle(p_now timestamptz, p_secs integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_timestamp(floor(extract(epoch FROM p_now) / COALESCE(p_secs, 86400))
                        * COALESCE(p_secs, 86400))
$$;

-- What the engine reads about an agent and a task, in one place for every query that
-- decides (the acting agent, and each agent and task up a delegation chain). Both run
-- with the caller's rights, so row-level security applies as to the tables beneath.
-- `r_*`: what the open tasks delegated from it reserve (unused limits, never below zero).
CREATE VIEW engine_agents WITH (security_invoker = true) AS
SELECT a.tenant_id, a.id, a.name, a.status, a.responsible_principal_id AS responsible,
       (s.scope->>'spend_limit')::bigint AS spend_limit,
       (s.scope->>'dispatch_limit')::bigint AS dispatch_limit,
       k.state, k.consecutive_failures, k.threshold, k.cooldown_secs, k.opened_at,
       COALESCE(r.spend, 0)::bigint AS r_spend, COALESCE(r.dispatches, 0)::bigint AS r_dispatches
FROM agents a
LEFT JOIN agent_scopes s ON s.tenant_id = a.tenant_id AND s.agent_id = a.id
LEFT JOIN breakers k ON k.tenant_id = a.tenant_id AND k.agent_id = a.id
LEFT JOIN LATERAL (
    SELECT sum(GREATEST(x.spend_limit - x.spent, 0)) AS spend,
           sum(GREATEST(x.dispatch_limit - x.dispatched, 0)) AS dispatches
    FROM tasks x
    WHERE x.tenant_id = a.tenant_id AND x.delegator_id = a.id AND x.status = 'open'
      AND (x.deadline IS NULL OR x.deadline > now())
) r ON true;

CREATE VIEW engine_tasks WITH (security_invoker = true) AS
SELECT t.tenant_id, t.id, t.parent_id, t.delegator_type, t.delegator_id, t.assignee_agent,
       t.initiative_id, t.status, t.deadline, t.spend_limit, t.dispatch_limit, t.spent, t.dispatched,
       COALESCE(r.spend, 0)::bigint AS r_spend, COALESCE(r.dispatches, 0)::bigint AS r_dispatches
FROM tasks t
LEFT JOIN LATERAL (
    SELECT sum(GREATEST(c.spend_limit - c.spent, 0)) AS spend,
           sum(GREATEST(c.dispatch_limit - c.dispatched, 0)) AS dispatches
    FROM tasks c
    WHERE c.tenant_id = t.tenant_id AND c.parent_id = t.id AND c.status = 'open'
      AND (c.deadline IS NULL OR c.deadline > now())
) r ON true;

GRANT SELECT ON engine_agents, engine_tasks TO charter_app;
