-- The signed ledger: records, stored Merkle nodes, checkpoints, and the per-tenant head that
-- serialises appends.
--
-- Append-only is enforced here, not only in code: charter_app has no UPDATE, DELETE or
-- TRUNCATE on the append-only tables, and triggers refuse UPDATE, DELETE and TRUNCATE for
-- every role (the owner included). Retention (docs/operations.md) is an operator procedure
-- that archives and verifies before it drops whole partitions, never row edits.

-- One row per tenant, locked FOR UPDATE by each append transaction.
CREATE TABLE ledger_heads (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE RESTRICT,
    tree_size  bigint NOT NULL DEFAULT 0 CHECK (tree_size >= 0),
    -- Hash of record tree_size - 1 (32 zero bytes while empty).
    last_hash  bytea NOT NULL CHECK (length(last_hash) = 32),
    -- The Merkle frontier of the tree: the hashes of the complete subtrees covering
    -- [0, tree_size), largest first, concatenated (one per set bit of tree_size). Kept here
    -- so an append reads the head in one round trip.
    frontier   bytea NOT NULL DEFAULT '\x' CHECK (length(frontier) % 32 = 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_records (
    tenant_id    uuid NOT NULL,
    seq          bigint NOT NULL CHECK (seq >= 0),
    recorded_at  timestamptz NOT NULL,
    kind         text NOT NULL,
    actor_type   text NOT NULL,
    actor_id     text NOT NULL,
    on_behalf_of text,
    action       text,
    resource     text,
    initiative   text,
    gate         text,
    decision     text,
    reason       text,
    -- The RFC 8785 canonical JSON exactly as hashed and signed.
    record       text NOT NULL,
    record_hash  bytea NOT NULL CHECK (length(record_hash) = 32),
    signature    bytea NOT NULL CHECK (length(signature) = 64),
    key_id       text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX ledger_records_kind ON ledger_records (tenant_id, kind, seq);
CREATE INDEX ledger_records_actor ON ledger_records (tenant_id, actor_id, seq);
CREATE INDEX ledger_records_action ON ledger_records (tenant_id, action, seq) WHERE action IS NOT NULL;
CREATE INDEX ledger_records_initiative ON ledger_records (tenant_id, initiative, seq) WHERE initiative IS NOT NULL;
CREATE INDEX ledger_records_time ON ledger_records (tenant_id, recorded_at);

-- Complete, aligned Merkle subtrees: level L, index i covers leaves [i·2^L, (i+1)·2^L).
CREATE TABLE ledger_nodes (
    tenant_id uuid NOT NULL,
    level     smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx       bigint NOT NULL CHECK (idx >= 0),
    hash      bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (tenant_id, level, idx)
);

CREATE TABLE ledger_checkpoints (
    tenant_id uuid NOT NULL,
    tree_size bigint NOT NULL CHECK (tree_size >= 0),
    root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
    -- The C2SP signed note, exactly as served.
    note      text NOT NULL,
    key_id    text NOT NULL,
    issued_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, tree_size)
);

-- Row-level security, as for every tenant-owned table.
SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['ledger_heads', 'ledger_records', 'ledger_nodes', 'ledger_checkpoints']::regclass[]) AS t;

-- Append-only, for everyone.
CREATE FUNCTION charter_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ledger_records', 'ledger_nodes', 'ledger_checkpoints']
    LOOP
        EXECUTE format('CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON %I
                            FOR EACH ROW EXECUTE FUNCTION charter_ledger_append_only()', t);
        EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON %I
                            FOR EACH STATEMENT EXECUTE FUNCTION charter_ledger_append_only()', t);
    END LOOP;
END $$;

-- The head only moves forward, and is never deleted.
CREATE FUNCTION charter_ledger_head_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a ledger head cannot be deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.tree_size < OLD.tree_size OR NEW.tenant_id <> OLD.tenant_id THEN
        RAISE EXCEPTION 'a ledger head only moves forward (% -> %)', OLD.tree_size, NEW.tree_size
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER forward_only BEFORE UPDATE OR DELETE ON ledger_heads
    FOR EACH ROW EXECUTE FUNCTION charter_ledger_head_forward();

GRANT SELECT, INSERT ON ledger_records, ledger_nodes, ledger_checkpoints TO charter_app;
GRANT SELECT, INSERT, UPDATE (tree_size, last_hash, frontier, updated_at) ON ledger_heads TO charter_app;

-- For the worker's checkpoint job: tenants whose log grew past their latest checkpoint and
-- whose latest checkpoint is older than the interval. Returns ids only.
GRANT SELECT ON ledger_heads, ledger_checkpoints TO charter_platform;
CREATE FUNCTION charter_ledger_checkpoint_due(p_interval interval)
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT h.tenant_id
    FROM public.ledger_heads h
    LEFT JOIN LATERAL (
        SELECT c.tree_size, c.issued_at FROM public.ledger_checkpoints c
        WHERE c.tenant_id = h.tenant_id ORDER BY c.tree_size DESC LIMIT 1
    ) c ON true
    WHERE h.tree_size > COALESCE(c.tree_size, 0)
      AND (c.issued_at IS NULL OR c.issued_at <= now() - p_interval)
$$;
ALTER FUNCTION charter_ledger_checkpoint_due(interval) OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_ledger_checkpoint_due(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_ledger_checkpoint_due(interval) TO charter_app;
