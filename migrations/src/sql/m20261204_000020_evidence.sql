-- Article 12 evidence bundles, retention and legal holds.
--
-- Exports are made by the worker and kept in the database (in chunks), so any node can
-- serve the download. Retention removes the *bodies* of old records through one narrow
-- function (charter_ledger_prune); seq, time, kind, actor, hash, signature and key stay, and
-- so does the Merkle tree, so later records, proofs and bundles still verify.

-- Which records concern a set of agents (or an AI system made of them): the agent acted,
-- or the record is about the agent or the system (its resource), or its payload names the
-- agent (`agent_id`: action approvals, breaker resets, …). One definition, used by the
-- ledger filter `?system=`, by evidence bundles and by legal holds.
CREATE FUNCTION charter_record_concerns(p_actor_type text, p_actor_id text, p_resource text,
                                        p_record text, p_agents text[], p_resources text[])
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- Never NULL (a NULL resource or payload member means "no"), so NOT works.
    SELECT COALESCE((p_actor_type = 'agent' AND p_actor_id = ANY (p_agents))
        OR p_resource = ANY (p_resources)
        OR (p_record IS NOT NULL AND strpos(p_record, '"agent_id":"') > 0
            AND (p_record::jsonb #>> '{payload,agent_id}') = ANY (p_agents)), false)
$$;

-- The agents of a system as text, and the resources that name them or the system.
CREATE FUNCTION charter_system_agents(p_system uuid) RETURNS text[]
LANGUAGE sql STABLE
AS $$
    SELECT COALESCE(array_agg(agent_id::text ORDER BY agent_id), '{}')
    FROM ai_system_agents WHERE tenant_id = charter_current_tenant() AND system_id = p_system
$$;
CREATE FUNCTION charter_concern_resources(p_agents text[], p_system uuid) RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$
    SELECT COALESCE(array_agg('agent:' || a), '{}') ||
           CASE WHEN p_system IS NULL THEN '{}'::text[]
                ELSE ARRAY['ai_system:' || p_system::text] END
    FROM unnest(p_agents) a
$$;

-- Retention per tenant: never below six months (183 days); 10 years when unset.
CREATE TABLE ledger_retention (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE RESTRICT,
    retention_days integer NOT NULL CHECK (retention_days BETWEEN 183 AND 36525),
    updated_by     uuid NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
SELECT charter_isolate_by_tenant('ledger_retention');
GRANT SELECT, INSERT, UPDATE ON ledger_retention TO charter_app;

-- Legal holds: a system's records, or (system_id NULL) all of the tenant's, are kept
-- whatever the retention while the hold is active. Released holds stay as history.
CREATE TABLE legal_holds (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    id          uuid NOT NULL,
    system_id   uuid,
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    placed_by   uuid NOT NULL,
    placed_at   timestamptz NOT NULL DEFAULT now(),
    released_by uuid,
    released_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, system_id) REFERENCES ai_systems (tenant_id, id) ON DELETE RESTRICT,
    CHECK ((released_by IS NULL) = (released_at IS NULL))
);
SELECT charter_isolate_by_tenant('legal_holds');
GRANT SELECT, INSERT, UPDATE (released_by, released_at) ON legal_holds TO charter_app;

-- Exports: requested through the API (or the CLI, which writes directly), made by the
-- worker, downloaded from the chunks.
CREATE TABLE exports (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    id              uuid NOT NULL,
    requested_by    uuid NOT NULL,
    requested_actor jsonb NOT NULL,
    system_id       uuid,
    agents          uuid[] NOT NULL DEFAULT '{}',
    period_from     timestamptz NOT NULL,
    period_to       timestamptz NOT NULL,
    purpose         text NOT NULL
                    CHECK (purpose IN ('risk_situations', 'post_market_monitoring', 'operation_monitoring')),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed')),
    records_total   bigint,
    records_done    bigint NOT NULL DEFAULT 0,
    from_seq        bigint,
    to_seq          bigint,
    full_records    bigint,
    elided_records  bigint,
    manifest_sha256 text,
    size_bytes      bigint,
    error           text,
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    heartbeat_at    timestamptz,
    finished_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, system_id) REFERENCES ai_systems (tenant_id, id) ON DELETE RESTRICT,
    CHECK (period_from < period_to)
);
CREATE INDEX exports_open ON exports (status, created_at) WHERE status IN ('queued', 'running');
CREATE TABLE export_chunks (
    tenant_id uuid NOT NULL,
    export_id uuid NOT NULL,
    n         integer NOT NULL CHECK (n >= 0),
    data      bytea NOT NULL,
    PRIMARY KEY (tenant_id, export_id, n),
    FOREIGN KEY (tenant_id, export_id) REFERENCES exports (tenant_id, id) ON DELETE CASCADE
);
SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['exports', 'export_chunks']::regclass[]) AS t;
GRANT SELECT, INSERT, UPDATE ON exports TO charter_app;
GRANT SELECT, INSERT, DELETE ON export_chunks TO charter_app;

-- Exports waiting for a worker: queued, or running on a worker that stopped beating.
GRANT SELECT ON exports, ledger_retention, legal_holds, ledger_records TO charter_platform;
CREATE FUNCTION charter_exports_due(p_stale interval)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT e.tenant_id, e.id FROM public.exports e
    WHERE e.status = 'queued' OR (e.status = 'running' AND e.heartbeat_at < now() - p_stale)
    ORDER BY e.created_at LIMIT 16
$$;
ALTER FUNCTION charter_exports_due(interval) OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_exports_due(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_exports_due(interval) TO charter_app;

-- Record bodies may go; nothing else about a record changes.
ALTER TABLE ledger_records ALTER COLUMN record DROP NOT NULL;
ALTER TABLE ledger_records ADD COLUMN pruned_at timestamptz;
ALTER TABLE ledger_records ADD CONSTRAINT pruned_has_no_body
    CHECK ((record IS NULL) = (pruned_at IS NOT NULL));
CREATE INDEX ledger_records_unpruned ON ledger_records (tenant_id, recorded_at) WHERE record IS NOT NULL;

-- Tenants with record bodies older than their retention.
CREATE FUNCTION charter_retention_due()
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT t.id FROM public.tenants t
    LEFT JOIN public.ledger_retention r ON r.tenant_id = t.id
    WHERE EXISTS (SELECT 1 FROM public.ledger_records l
                  WHERE l.tenant_id = t.id AND l.record IS NOT NULL
                    AND l.recorded_at < now() - make_interval(days => COALESCE(r.retention_days, 3653)))
$$;
ALTER FUNCTION charter_retention_due() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_retention_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_retention_due() TO charter_app;

-- The append-only guard, with one exception: a pure pruning update made inside
-- charter_ledger_prune (which sets charter.ledger_prune for its own statement). charter_app
-- has no UPDATE on ledger_records at all; the exception only serves that function.
CREATE FUNCTION charter_ledger_records_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('charter.ledger_prune', true) = 'on'
       AND OLD.record IS NOT NULL AND NEW.record IS NULL AND NEW.pruned_at IS NOT NULL
       AND NEW.tenant_id = OLD.tenant_id AND NEW.seq = OLD.seq
       AND NEW.recorded_at = OLD.recorded_at AND NEW.kind = OLD.kind
       AND NEW.actor_type = OLD.actor_type AND NEW.actor_id = OLD.actor_id
       AND NEW.record_hash = OLD.record_hash AND NEW.signature = OLD.signature
       AND NEW.key_id = OLD.key_id
       AND NEW.on_behalf_of IS NULL AND NEW.action IS NULL AND NEW.resource IS NULL
       AND NEW.initiative IS NULL AND NEW.gate IS NULL AND NEW.decision IS NULL
       AND NEW.reason IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER append_only ON ledger_records;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON ledger_records
    FOR EACH ROW EXECUTE FUNCTION charter_ledger_records_guard();

-- Prunes the current tenant's record bodies older than its retention (at least 183
-- days, whatever the table says), except while a tenant-wide hold is active and except
-- records that concern a held system. Returns what it pruned.
CREATE FUNCTION charter_ledger_prune()
RETURNS TABLE (pruned bigint, first_seq bigint, last_seq bigint, cutoff timestamptz, retention_days integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    t uuid := charter_current_tenant();
    days integer;
    c timestamptz;
    held text[];
    held_resources text[];
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION 'charter_ledger_prune needs a tenant';
    END IF;
    -- Bundles being written hold this lock shared: a bundle sees a range either before
    -- or after a pruning, never half of one. Busy: prune at the next run.
    IF NOT pg_try_advisory_xact_lock(1128812626, hashtext(t::text)) THEN
        RETURN QUERY SELECT 0::bigint, NULL::bigint, NULL::bigint, NULL::timestamptz, NULL::integer;
        RETURN;
    END IF;
    SELECT GREATEST(COALESCE((SELECT r.retention_days FROM public.ledger_retention r
                              WHERE r.tenant_id = t), 3653), 183) INTO days;
    c := now() - make_interval(days => days);
    IF EXISTS (SELECT 1 FROM public.legal_holds h WHERE h.tenant_id = t
               AND h.system_id IS NULL AND h.released_at IS NULL) THEN
        RETURN QUERY SELECT 0::bigint, NULL::bigint, NULL::bigint, c, days;
        RETURN;
    END IF;
    SELECT COALESCE(array_agg(DISTINCT a.agent_id::text), '{}') INTO held
    FROM public.legal_holds h
    JOIN public.ai_system_agents a ON a.tenant_id = h.tenant_id AND a.system_id = h.system_id
    WHERE h.tenant_id = t AND h.released_at IS NULL;
    SELECT COALESCE(array_agg('ai_system:' || h.system_id::text), '{}') INTO held_resources
    FROM public.legal_holds h
    WHERE h.tenant_id = t AND h.released_at IS NULL AND h.system_id IS NOT NULL;
    held_resources := held_resources || public.charter_concern_resources(held, NULL);
    PERFORM set_config('charter.ledger_prune', 'on', true);
    RETURN QUERY
    WITH p AS (
        UPDATE public.ledger_records l
        SET record = NULL, pruned_at = now(), on_behalf_of = NULL, action = NULL,
            resource = NULL, initiative = NULL, gate = NULL, decision = NULL, reason = NULL
        WHERE l.tenant_id = t AND l.record IS NOT NULL AND l.recorded_at < c
          AND NOT public.charter_record_concerns(l.actor_type, l.actor_id, l.resource, l.record,
                                                 held, held_resources)
        RETURNING l.seq
    )
    SELECT count(*)::bigint, min(p.seq), max(p.seq), c, days FROM p;
    PERFORM set_config('charter.ledger_prune', 'off', true);
END $$;
-- Like every SECURITY DEFINER function, it runs as charter_platform, which may update
-- exactly the columns a pruning empties (and the guard above checks the shape of the
-- update); it touches the calling tenant's rows only.
GRANT SELECT ON ai_system_agents TO charter_platform;
GRANT UPDATE (record, pruned_at, on_behalf_of, action, resource, initiative, gate, decision, reason)
    ON ledger_records TO charter_platform;
ALTER FUNCTION charter_ledger_prune() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_ledger_prune() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_ledger_prune() TO charter_app;
