-- The worker's jobs: the last run of each (a platform table: job names and counts, no
-- tenant data), the forensic scanner's place in each tenant's log, and violations found
-- by the scanner, deduplicated by a stable key per rule and subject.

CREATE TABLE job_runs (
    job          text PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('ok', 'failed')),
    summary      text NOT NULL,
    duration_ms  bigint NOT NULL,
    runs         bigint NOT NULL DEFAULT 1,
    failures     bigint NOT NULL DEFAULT 0
);
GRANT SELECT, INSERT, UPDATE ON job_runs TO charter_app;

-- Where the scanner stands in a tenant's log: the next record to read, the hash of the
-- one before it and the Merkle frontier of the records read so far (tree_size leaves: one
-- 32-byte hash per set bit of tree_size, largest subtree first; tree_size differs from
-- next_seq only when rows are missing), so an incremental scan reads only what is new and
-- still checks chain, tree and checkpoints.
CREATE TABLE scan_state (
    tenant_id       uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE RESTRICT,
    next_seq        bigint NOT NULL DEFAULT 0 CHECK (next_seq >= 0),
    prev_hash       bytea NOT NULL CHECK (length(prev_hash) = 32),
    tree_size       bigint NOT NULL DEFAULT 0 CHECK (tree_size >= 0),
    frontier        bytea NOT NULL DEFAULT '\x' CHECK (length(frontier) % 32 = 0),
    scanned_at      timestamptz,
    full_scanned_at timestamptz
);
SELECT charter_isolate_by_tenant('scan_state');
GRANT SELECT, INSERT, UPDATE ON scan_state TO charter_app;

ALTER TABLE violations
    ADD COLUMN rule_version integer,
    ADD COLUMN dedup_key    text,
    ADD COLUMN last_seen_at timestamptz,
    ADD COLUMN occurrences  integer NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX violations_dedup ON violations (tenant_id, dedup_key) WHERE dedup_key IS NOT NULL;

-- Every tenant with a log, and when its last full pass was (each scan also looks at
-- tables, e.g. for work open past its deadline, so a quiet log is still scanned).
CREATE FUNCTION charter_scan_tenants()
RETURNS TABLE (tenant_id uuid, full_scanned_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT h.tenant_id, s.full_scanned_at
    FROM public.ledger_heads h
    LEFT JOIN public.scan_state s ON s.tenant_id = h.tenant_id
$$;
ALTER FUNCTION charter_scan_tenants() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_scan_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_scan_tenants() TO charter_app;

-- The daily self-audit: a signed summary per tenant (its SHA-256 is in the ledger record).
CREATE TABLE self_audits (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    id         uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    report     jsonb NOT NULL,
    sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    seq        bigint,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX self_audits_time ON self_audits (tenant_id, created_at);
SELECT charter_isolate_by_tenant('self_audits');
GRANT SELECT, INSERT ON self_audits TO charter_app;
-- The record's seq is known once the record is written.
GRANT UPDATE (seq) ON self_audits TO charter_app;

-- What the cross-tenant functions below read (counts and ids, nothing else leaves them).
GRANT SELECT ON scan_state, self_audits, breakers, violations TO charter_platform;

-- Every tenant with a log, and when its last self-audit was.
CREATE FUNCTION charter_self_audit_tenants()
RETURNS TABLE (tenant_id uuid, last_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT h.tenant_id, (SELECT max(a.created_at) FROM public.self_audits a WHERE a.tenant_id = h.tenant_id)
    FROM public.ledger_heads h
$$;
ALTER FUNCTION charter_self_audit_tenants() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_self_audit_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_self_audit_tenants() TO charter_app;

-- Open breakers whose cool-down has passed: the worker turns them half-open (otherwise
-- that happens only at the agent's next request, and the state shown would be stale).
CREATE FUNCTION charter_breakers_cooled()
RETURNS TABLE (tenant_id uuid, agent_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT b.tenant_id, b.agent_id FROM public.breakers b
    WHERE b.state = 'open' AND b.opened_at + make_interval(secs => b.cooldown_secs) <= now()
$$;
ALTER FUNCTION charter_breakers_cooled() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_breakers_cooled() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_breakers_cooled() TO charter_app;

-- Budget cycles whose usage is on record (`budget.cycle_closed`), so each is closed once.
CREATE TABLE budget_cycles_closed (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    cycle_start timestamptz NOT NULL,
    closed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, cycle_start)
);
SELECT charter_isolate_by_tenant('budget_cycles_closed');
GRANT SELECT, INSERT ON budget_cycles_closed TO charter_app;
GRANT SELECT ON budget_usage, tenant_policy, budget_cycles_closed TO charter_platform;

-- Budget cycles of the last week that have ended, had usage and are not closed yet.
CREATE FUNCTION charter_cycles_due()
RETURNS TABLE (tenant_id uuid, cycle_start timestamptz, cycle_secs integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT DISTINCT u.tenant_id, u.cycle_start, COALESCE(p.cycle_secs, 86400)
    FROM public.budget_usage u
    LEFT JOIN public.tenant_policy p ON p.tenant_id = u.tenant_id
    WHERE u.cycle_start > now() - interval '8 days'
      AND u.cycle_start + make_interval(secs => COALESCE(p.cycle_secs, 86400)) <= now()
      AND NOT EXISTS (SELECT 1 FROM public.budget_cycles_closed c
                      WHERE c.tenant_id = u.tenant_id AND c.cycle_start = u.cycle_start)
$$;
ALTER FUNCTION charter_cycles_due() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_cycles_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_cycles_due() TO charter_app;

-- Scanner findings across tenants, by rule and severity, for /metrics (counts only).
CREATE FUNCTION charter_scanner_findings()
RETURNS TABLE (rule text, severity text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT kind, severity, count(*) FROM public.violations
    WHERE dedup_key IS NOT NULL GROUP BY kind, severity
$$;
ALTER FUNCTION charter_scanner_findings() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_scanner_findings() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_scanner_findings() TO charter_app;
