-- Foundation: tenants, principals, agents, agent API keys, tenant signing keys.
--
-- Isolation: every tenant-owned table leads its keys with tenant_id, has row-level security
-- ENABLED and FORCED, and one policy that compares tenant_id with the per-transaction
-- setting `charter.tenant_id` (set with SET LOCAL by the store's tenant transaction). With
-- the setting absent, charter_current_tenant() is NULL and every row is invisible.

CREATE FUNCTION charter_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('charter.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
    id                     uuid PRIMARY KEY,
    slug                   text NOT NULL UNIQUE
                           CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{1,38})[a-z0-9]$'),
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan                   text NOT NULL DEFAULT 'trial'
                           CHECK (plan IN ('trial', 'team', 'enterprise', 'unlimited')),
    trial_ends_at          timestamptz,
    subscription_status    text NOT NULL DEFAULT 'trialing'
                           CHECK (subscription_status IN
                               ('trialing', 'active', 'past_due', 'canceled', 'unpaid',
                                'incomplete', 'expired', 'none')),
    stripe_customer_id     text,
    stripe_subscription_id text,
    is_demo                boolean NOT NULL DEFAULT false,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE principals (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    email         text NOT NULL CHECK (email = lower(email) AND position('@' IN email) > 1),
    display_name  text NOT NULL DEFAULT '',
    password_hash text,
    roles         text[] NOT NULL
                  CHECK (cardinality(roles) > 0
                         AND roles <@ ARRAY['owner', 'admin', 'approver',
                                            'compliance_officer', 'viewer']),
    status        text NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'invited', 'disabled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE agents (
    tenant_id                uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                       uuid NOT NULL,
    name                     text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description              text NOT NULL DEFAULT '',
    status                   text NOT NULL DEFAULT 'active'
                             CHECK (status IN ('active', 'suspended', 'tripped')),
    responsible_principal_id uuid NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, responsible_principal_id) REFERENCES principals (tenant_id, id)
);

CREATE TABLE agent_api_keys (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    agent_id       uuid NOT NULL,
    display_prefix text NOT NULL,
    -- SHA-256 of the whole token; the token itself is shown once and never stored.
    token_hash     bytea NOT NULL CHECK (length(token_hash) = 32),
    label          text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     uuid,
    last_used_at   timestamptz,
    revoked_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE
);
-- Not UNIQUE on purpose: a unique index could not be distributed by tenant, and 256-bit
-- random tokens do not collide.
CREATE INDEX agent_api_keys_token_hash ON agent_api_keys (token_hash);

CREATE TABLE tenant_signing_keys (
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    key_id             text NOT NULL CHECK (key_id ~ '^[0-9a-f]{16}$'),
    algorithm          text NOT NULL DEFAULT 'ed25519' CHECK (algorithm = 'ed25519'),
    public_key         bytea NOT NULL CHECK (length(public_key) = 32),
    -- nonce ‖ AES-256-GCM(private key) under the master key, AAD binds tenant and key id.
    sealed_private_key bytea NOT NULL,
    master_key_fingerprint text NOT NULL,
    valid_from         timestamptz NOT NULL,
    valid_until        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key_id),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
-- At most one current key per tenant.
CREATE UNIQUE INDEX tenant_signing_keys_current
    ON tenant_signing_keys (tenant_id) WHERE valid_until IS NULL;

-- Row-level security: enabled and forced everywhere, with USING and WITH CHECK. One
-- helper does it for every tenant-owned table, in this and later migrations.
CREATE FUNCTION charter_isolate_by_tenant(p_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_table);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s
                        USING (tenant_id = charter_current_tenant())
                        WITH CHECK (tenant_id = charter_current_tenant())', p_table);
END $$;
REVOKE ALL ON FUNCTION charter_isolate_by_tenant(regclass) FROM PUBLIC;

-- `tenants` is keyed by its own id.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = charter_current_tenant())
    WITH CHECK (id = charter_current_tenant());

SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['principals', 'agents', 'agent_api_keys', 'tenant_signing_keys']::regclass[]) AS t;

-- The application role: data access only, and no DELETE where history matters.
GRANT SELECT, INSERT, UPDATE ON tenants TO charter_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON principals, agents, agent_api_keys TO charter_app;
GRANT SELECT, INSERT, UPDATE (valid_until) ON tenant_signing_keys TO charter_app;

-- Narrow cross-tenant functions. Each runs as charter_platform (BYPASSRLS), returns only
-- what its one caller needs, and is executable by charter_app alone.
GRANT SELECT ON tenants, agent_api_keys TO charter_platform;

-- Resolve /t/{slug}/… to a tenant before any tenant transaction exists.
CREATE FUNCTION charter_tenant_by_slug(p_slug text)
RETURNS TABLE (id uuid, slug text, name text, is_demo boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT t.id, t.slug, t.name, t.is_demo FROM public.tenants t WHERE t.slug = p_slug $$;

-- Find the tenant and agent of an API key from the SHA-256 of the presented token.
CREATE FUNCTION charter_api_key_lookup(p_token_hash bytea)
RETURNS TABLE (tenant_id uuid, key_id uuid, agent_id uuid, revoked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT k.tenant_id, k.id, k.agent_id, k.revoked_at IS NOT NULL
    FROM public.agent_api_keys k WHERE k.token_hash = p_token_hash
$$;

-- Whether a demo tenant exists (`charter up` creates one only once).
CREATE FUNCTION charter_demo_tenant()
RETURNS TABLE (id uuid, slug text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT t.id, t.slug FROM public.tenants t WHERE t.is_demo ORDER BY t.created_at LIMIT 1 $$;

DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['charter_tenant_by_slug(text)', 'charter_api_key_lookup(bytea)',
                             'charter_demo_tenant()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO charter_platform', f);
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO charter_app', f);
    END LOOP;
END $$;
