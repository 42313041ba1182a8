-- Refresh tokens of principals' sessions, stored only as hashes. Each use rotates the
-- token within its family; presenting a used token again (a stolen copy) revokes the
-- whole family.
CREATE TABLE refresh_tokens (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    family_id    uuid NOT NULL,
    principal_id uuid NOT NULL,
    token_hash   bytea NOT NULL CHECK (length(token_hash) = 32),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, principal_id) REFERENCES principals (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (tenant_id, token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);

SELECT charter_isolate_by_tenant('refresh_tokens');
GRANT SELECT, INSERT, UPDATE ON refresh_tokens TO charter_app;
