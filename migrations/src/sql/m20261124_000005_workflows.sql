-- Workflows: tenant templates (presets live in code), initiatives moving through stages,
-- evidence, gates passed, and the bindings that make an action require a gate.

CREATE TABLE workflow_templates (
    tenant_id  uuid NOT NULL,
    name       text NOT NULL,
    template   jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE initiatives (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    name            text NOT NULL,
    -- The template as it was when the initiative started: later edits do not move gates
    -- under running work.
    template        jsonb NOT NULL,
    risk            smallint NOT NULL CHECK (risk BETWEEN 0 AND 100),
    stage           text NOT NULL,
    created_by_type text NOT NULL,
    created_by_id   uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE evidence (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    initiative_id uuid NOT NULL,
    gate          text NOT NULL,
    kind          text NOT NULL,
    uri           text NOT NULL DEFAULT '',
    digest        text NOT NULL DEFAULT '',
    submitted_by  uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, initiative_id) REFERENCES initiatives (tenant_id, id)
);

CREATE TABLE gate_passes (
    tenant_id     uuid NOT NULL,
    initiative_id uuid NOT NULL,
    gate          text NOT NULL,
    passed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, initiative_id, gate),
    FOREIGN KEY (tenant_id, initiative_id) REFERENCES initiatives (tenant_id, id)
);

CREATE TABLE action_gates (
    tenant_id     uuid NOT NULL,
    action        text NOT NULL,
    resource_type text NOT NULL,
    gate          text NOT NULL,
    PRIMARY KEY (tenant_id, action, resource_type, gate)
);

SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['workflow_templates', 'initiatives', 'evidence', 'gate_passes', 'action_gates']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE ON workflow_templates, initiatives TO charter_app;
GRANT SELECT, INSERT ON evidence, gate_passes TO charter_app;
GRANT SELECT, INSERT, DELETE ON action_gates TO charter_app;
