-- The enforcement engine's state: policies and scopes, breakers, budgets, authorizations,
-- and the notification outbox. Every change here is made in the same transaction as the
-- ledger record that describes it (the ledger writer's group commit).

-- A tenant's catalog (resource types, actions) and tenant-wide Cedar policies. `version`
-- increases on every change to it or to any agent scope, so a node can tell whether its
-- compiled policies are current with one read.
CREATE TABLE tenant_policy (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    version        bigint NOT NULL DEFAULT 1,
    catalog        jsonb,
    policies       text NOT NULL DEFAULT '',
    -- Tenant-wide limits per cycle (NULL: unlimited) and the cycle length.
    spend_limit    bigint CHECK (spend_limit >= 0),
    dispatch_limit bigint CHECK (dispatch_limit >= 0),
    cycle_secs     integer NOT NULL DEFAULT 86400 CHECK (cycle_secs > 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_scopes (
    tenant_id  uuid NOT NULL,
    agent_id   uuid NOT NULL,
    scope      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid,
    PRIMARY KEY (tenant_id, agent_id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE breakers (
    tenant_id            uuid NOT NULL,
    agent_id             uuid NOT NULL,
    state                text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    threshold            integer NOT NULL DEFAULT 3 CHECK (threshold >= 1),
    cooldown_secs        integer NOT NULL DEFAULT 300 CHECK (cooldown_secs >= 1),
    opened_at            timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);

-- Usage per subject ('tenant' or an agent id) and cycle.
CREATE TABLE budget_usage (
    tenant_id   uuid NOT NULL,
    subject     text NOT NULL,
    cycle_start timestamptz NOT NULL,
    spend       bigint NOT NULL DEFAULT 0 CHECK (spend >= 0),
    dispatches  bigint NOT NULL DEFAULT 0 CHECK (dispatches >= 0),
    PRIMARY KEY (tenant_id, subject, cycle_start)
);

CREATE TABLE authorizations (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    agent_id        uuid NOT NULL,
    action          text NOT NULL,
    resource_type   text NOT NULL,
    resource_id     text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('ALLOWED', 'BLOCKED', 'PENDING_APPROVAL')),
    reason          text,
    spend_reserved  bigint NOT NULL DEFAULT 0,
    cycle_start     timestamptz NOT NULL,
    idempotency_key text,
    -- The answer as given (with its receipt, stored right after the commit), replayed
    -- verbatim to a retry with the same idempotency key.
    response        jsonb,
    outcome         text CHECK (outcome IN ('success', 'failure')),
    outcome_spend   bigint,
    outcome_key     text,
    outcome_response jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX authorizations_idempotency
    ON authorizations (tenant_id, agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Outbox of notifications (delivered by the worker, which comes later); nothing is lost
-- because each row is written in the transaction of the event it reports.
CREATE TABLE notifications (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    principal_id uuid,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);

SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['agent_scopes', 'breakers', 'budget_usage', 'authorizations', 'notifications']::regclass[]) AS t;
SELECT charter_isolate_by_tenant('tenant_policy');

GRANT SELECT, INSERT, UPDATE ON tenant_policy, agent_scopes, breakers, budget_usage,
    authorizations, notifications TO charter_app;
GRANT DELETE ON agent_scopes TO charter_app;

-- An agent's request for more authority: it changes nothing until a principal with
-- authority approves it (agents never widen their own scope).
CREATE TABLE scope_change_requests (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    agent_id        uuid NOT NULL,
    requested_scope jsonb NOT NULL,
    reason          text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_by      uuid,
    decided_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
SELECT charter_isolate_by_tenant('scope_change_requests');
GRANT SELECT, INSERT, UPDATE ON scope_change_requests TO charter_app;
