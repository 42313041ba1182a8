-- Provenance: delegated tasks, artifacts and what they derive from, reviews bound to an
-- artifact's digest, and violations (a refused self-approval is one).

CREATE TABLE tasks (
    tenant_id           uuid NOT NULL,
    id                  uuid NOT NULL,
    parent_id           uuid,
    delegator_type      text NOT NULL CHECK (delegator_type IN ('agent', 'principal')),
    delegator_id        uuid NOT NULL,
    delegator_principal uuid NOT NULL,
    assignee_agent      uuid NOT NULL,
    depth               integer NOT NULL CHECK (depth >= 1),
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'failed', 'expired')),
    deadline            timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES tasks (tenant_id, id)
);

CREATE TABLE artifacts (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL,
    kind               text NOT NULL,
    digest             text NOT NULL,
    uri                text NOT NULL DEFAULT '',
    producer_type      text NOT NULL CHECK (producer_type IN ('agent', 'principal')),
    producer_id        uuid NOT NULL,
    producer_principal uuid NOT NULL,
    task_id            uuid,
    initiative_id      uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id)
);

CREATE TABLE artifact_sources (
    tenant_id   uuid NOT NULL,
    artifact_id uuid NOT NULL,
    source_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, artifact_id, source_id),
    FOREIGN KEY (tenant_id, artifact_id) REFERENCES artifacts (tenant_id, id),
    FOREIGN KEY (tenant_id, source_id) REFERENCES artifacts (tenant_id, id)
);

CREATE TABLE reviews (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    artifact_id  uuid NOT NULL,
    digest       text NOT NULL,
    gate         text,
    separation   text NOT NULL DEFAULT 'standard' CHECK (separation IN ('standard', 'principal')),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, artifact_id) REFERENCES artifacts (tenant_id, id)
);

CREATE TABLE review_verdicts (
    tenant_id          uuid NOT NULL,
    review_id          uuid NOT NULL,
    reviewer_type      text NOT NULL CHECK (reviewer_type IN ('agent', 'principal')),
    reviewer_id        uuid NOT NULL,
    reviewer_principal uuid NOT NULL,
    verdict            text NOT NULL CHECK (verdict IN ('approve', 'reject')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, review_id, reviewer_type, reviewer_id),
    FOREIGN KEY (tenant_id, review_id) REFERENCES reviews (tenant_id, id)
);

CREATE TABLE violations (
    tenant_id  uuid NOT NULL,
    id         uuid NOT NULL,
    kind       text NOT NULL,
    severity   text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    subject    jsonb NOT NULL,
    details    jsonb NOT NULL,
    status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['tasks', 'artifacts', 'artifact_sources', 'reviews', 'review_verdicts', 'violations']::regclass[]) AS t;

-- Artifacts, their sources and verdicts are never edited (a review is bound to a digest).
GRANT SELECT, INSERT ON artifacts, artifact_sources, review_verdicts TO charter_app;
GRANT SELECT, INSERT, UPDATE ON tasks, reviews, violations TO charter_app;
