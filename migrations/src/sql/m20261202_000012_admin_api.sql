-- The REST admin API: tenant API tokens for automation, invitations, the violation
-- workflow's who-and-when, and the one cross-tenant question sign-up must ask.

-- Tokens for customers' automation: they act as the principal who created them, with at
-- most the roles given here (and never more than that principal holds at the time of use).
-- Shown once; only a SHA-256 hash is kept.
CREATE TABLE api_tokens (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    display_prefix text NOT NULL,
    token_hash     bytea NOT NULL CHECK (length(token_hash) = 32),
    roles          text[] NOT NULL
                   CHECK (cardinality(roles) > 0
                          AND roles <@ ARRAY['owner', 'admin', 'approver',
                                             'compliance_officer', 'viewer']),
    created_by     uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    last_used_at   timestamptz,
    revoked_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES principals (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (tenant_id, token_hash);
SELECT charter_isolate_by_tenant('api_tokens');
GRANT SELECT, INSERT, UPDATE ON api_tokens TO charter_app;

-- An invited principal sets a password with a one-time token (hash kept, with expiry).
ALTER TABLE principals
    ADD COLUMN invite_token_hash bytea CHECK (length(invite_token_hash) = 32),
    ADD COLUMN invite_expires_at timestamptz;

-- Violations move open → acknowledged → resolved; who moved them, and when.
ALTER TABLE violations
    ADD COLUMN acknowledged_by uuid,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN resolved_by     uuid,
    ADD COLUMN resolved_at     timestamptz,
    ADD COLUMN resolution      text;
CREATE INDEX violations_status ON violations (tenant_id, status, created_at DESC);

-- Sign-up: is this e-mail address already registered with some tenant? (One e-mail, one
-- sign-up; answers nothing but yes or no.)
GRANT SELECT (email) ON principals TO charter_platform;
CREATE FUNCTION charter_email_registered(p_email text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT EXISTS (SELECT 1 FROM public.principals p WHERE p.email = p_email) $$;
ALTER FUNCTION charter_email_registered(text) OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_email_registered(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_email_registered(text) TO charter_app;
CREATE INDEX principals_email ON principals (email);
