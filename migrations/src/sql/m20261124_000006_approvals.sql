-- Approvals of actions: tenants say which actions on which resource types need a human's
-- approval; an approval is bound to the agent, the action, the resource and the canonical
-- digest of the exact arguments, and may be limited in uses and time. It is checked again
-- at the moment of dispatch (every authorize), and a use is consumed only by an ALLOWED.

CREATE TABLE action_approval_rules (
    tenant_id     uuid NOT NULL,
    action        text NOT NULL,
    resource_type text NOT NULL,
    max_uses      integer CHECK (max_uses >= 1),
    ttl_secs      integer CHECK (ttl_secs >= 1),
    PRIMARY KEY (tenant_id, action, resource_type)
);

CREATE TABLE action_approvals (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    agent_id      uuid NOT NULL,
    action        text NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    args_digest   text NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    uses_left     integer CHECK (uses_left >= 0),
    expires_at    timestamptz,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    decided_by    uuid,
    decided_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX action_approvals_lookup
    ON action_approvals (tenant_id, agent_id, action, resource_type, resource_id, args_digest);

SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['action_approval_rules', 'action_approvals']::regclass[]) AS t;
GRANT SELECT, INSERT, UPDATE, DELETE ON action_approval_rules TO charter_app;
GRANT SELECT, INSERT, UPDATE ON action_approvals TO charter_app;
