-- Dashboard sessions, and indexes for the ledger explorer's filters.
--
-- Sessions: the browser holds only the token (an HttpOnly cookie); the server keeps its
-- hash, the person, the per-session CSRF token and both timeouts, so a session can be
-- ended at once (logout, a removed person) and never outlives its absolute end.
CREATE TABLE web_sessions (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    principal_id  uuid NOT NULL,
    token_hash    bytea NOT NULL CHECK (length(token_hash) = 32),
    csrf_token    text NOT NULL CHECK (length(csrf_token) = 64),
    started_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, principal_id) REFERENCES principals (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX web_sessions_hash ON web_sessions (tenant_id, token_hash);

SELECT charter_isolate_by_tenant('web_sessions');
GRANT SELECT, INSERT, UPDATE ON web_sessions TO charter_app;

-- The ledger explorer filters by resource ("which agent authorized that action on this
-- resource?"), decision and principal: without an index, a value with few records means
-- reading the whole log (seconds at a million records). Each is appended to at its right
-- edge, like the log itself.
CREATE INDEX ledger_records_resource ON ledger_records (tenant_id, resource, seq)
    WHERE resource IS NOT NULL;
CREATE INDEX ledger_records_decision ON ledger_records (tenant_id, decision, seq)
    WHERE decision IS NOT NULL;
CREATE INDEX ledger_records_on_behalf_of ON ledger_records (tenant_id, on_behalf_of, seq)
    WHERE on_behalf_of IS NOT NULL;

-- Sessions that ended, expired, or sat idle past any idle timeout (at most a day) are
-- deleted by the worker a day later; the ledger keeps their `session.started` and
-- `session.ended` records. Cross-tenant, so a narrow function of the platform role.
GRANT SELECT, DELETE ON web_sessions TO charter_platform;
CREATE FUNCTION charter_prune_web_sessions() RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    WITH gone AS (
        DELETE FROM public.web_sessions
        WHERE ended_at < now() - interval '1 day'
           OR expires_at < now() - interval '1 day'
           OR last_seen_at < now() - interval '2 days'
        RETURNING 1)
    SELECT count(*) FROM gone
$$;
ALTER FUNCTION charter_prune_web_sessions() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_prune_web_sessions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_prune_web_sessions() TO charter_app;
