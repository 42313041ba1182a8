-- The AI systems a tenant operates, in the EU AI Act's terms: what each is for, who
-- provides and who deploys it, whether it is high-risk and under which Annex III point,
-- who to ask, and which agents act for it (so decisions can be selected by system).
CREATE TABLE ai_systems (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    id               uuid NOT NULL,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    intended_purpose text NOT NULL CHECK (length(intended_purpose) BETWEEN 1 AND 2000),
    provider         text NOT NULL CHECK (length(provider) BETWEEN 1 AND 200),
    deployer         text NOT NULL CHECK (length(deployer) BETWEEN 1 AND 200),
    high_risk        boolean NOT NULL,
    annex_iii_point  text CHECK (annex_iii_point ~ '^[1-8](\([a-e]\))?$'),
    contact          text NOT NULL CHECK (length(contact) BETWEEN 1 AND 200),
    created_by       uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name),
    CHECK (annex_iii_point IS NULL OR high_risk)
);
SELECT charter_isolate_by_tenant('ai_systems');
GRANT SELECT, INSERT, UPDATE ON ai_systems TO charter_app;

CREATE TABLE ai_system_agents (
    tenant_id uuid NOT NULL,
    system_id uuid NOT NULL,
    agent_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, system_id, agent_id),
    FOREIGN KEY (tenant_id, system_id) REFERENCES ai_systems (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_system_agents_by_agent ON ai_system_agents (tenant_id, agent_id);
SELECT charter_isolate_by_tenant('ai_system_agents');
GRANT SELECT, INSERT, DELETE ON ai_system_agents TO charter_app;
